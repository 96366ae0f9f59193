"""Atomic file writes: the one helper every metarl writer uses (checkpoints, JSON results, the run CSV, videos,
caches).

A write goes to a temporary file in the target's own folder (so the final rename never crosses a filesystem),
is flushed and ``fsync``'d, gets mode ``0644`` (``mkstemp`` creates ``0600``; results and checkpoints are meant to
be read by others) and is renamed onto the target with :func:`os.replace`, which is atomic on POSIX and Windows.
The folder is then ``fsync``'d (best effort) so the rename itself survives a power loss. A reader therefore
sees either the old file or the new one, never a partial one. On any failure — an exception in the caller's
writer, a full disk, ``KeyboardInterrupt`` — the temporary file is removed, the target is left as it was, and
the error names the target file.

>>> atomic_write("results/eval.json", '{"mean": -7.8}\\n')                      # doctest: +SKIP
>>> atomic_write("model.pt", lambda f: torch.save(state, f))                   # doctest: +SKIP
>>> with atomic_path("clip.mp4", suffix=".partial.mp4") as tmp:                # doctest: +SKIP
...     writer_that_wants_a_path(tmp)

A process killed in the middle of a write (``kill -9``, power loss) cannot remove its temporary file: the target is
intact, but a ``.<target>.<random>.tmp`` file stays behind. :func:`remove_stale_temp_files` deletes those in a
folder; the training loop calls it when a run starts in a folder it holds the lock of (no writer is active there).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["FILE_MODE", "atomic_path", "atomic_write", "remove_stale_temp_files"]

#: Permissions of every file written here (``rw-r--r--``).
FILE_MODE = 0o644

PathLike = str | os.PathLike[str]
#: names of the temporary files of :func:`atomic_path` with the default suffix: ``.<target>.<mkstemp's 8 chars>.tmp``
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def _fsync_dir(directory: Path) -> None:
    """Persist a rename in ``directory`` (best effort: not every OS/filesystem supports it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _name_target(exc: BaseException, target: Path) -> BaseException:
    """``exc``, made to name ``target``: an ``OSError`` of the same class whose filename is the target (its
    message then reads ``[Errno 28] No space left on device: 'target' (temp file '.target.x.tmp')``), any other
    exception with a note ``while writing 'target' atomically``."""
    if isinstance(exc, OSError) and exc.errno is not None:
        temp_name = Path(exc.filename).name if exc.filename else None
        detail = f"{exc.strerror} (temp file {temp_name!r})" if temp_name and temp_name != target.name else exc.strerror
        try:
            named = type(exc)(exc.errno, detail, str(target))
        except TypeError:  # an OSError subclass with another constructor
            named = None
        if named is not None:
            named.__cause__ = exc
            return named
    add_note = getattr(exc, "add_note", None)  # Python >= 3.11
    if callable(add_note):
        add_note(f"while writing {str(target)!r} atomically (the target is unchanged)")
    return exc


@contextmanager
def atomic_path(path: PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; renamed onto ``path`` when the block ends without error.

    For writers that want a file *name* (e.g. an ffmpeg encoder) rather than an open file; otherwise use
    :func:`atomic_write`. The temp file exists (empty) when the block starts; parent folders are created.

    :param path: the target file.
    :param suffix: the temp file's suffix (e.g. ``".partial.mp4"`` when the writer picks a format from it).
    :raises OSError: if the temp file cannot be created, synced or renamed (naming ``path``); an exception
        raised inside the block propagates (with a note naming ``path``). Either way the temp file is gone and
        ``path`` is untouched.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise _name_target(exc, target) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        named = _name_target(exc, target)
        if named is exc:
            raise
        raise named from exc
    _fsync_dir(target.parent)


def atomic_write(
    path: PathLike, data: bytes | str | Callable[[IO[bytes]], object], *, encoding: str = "utf-8"
) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring).

    :param path: the target file; parent folders are created.
    :param data: the bytes, the text (encoded with ``encoding``), or a function that writes into the binary
        file object it is given (e.g. ``lambda f: torch.save(state, f)``).
    :param encoding: the encoding of ``data`` when it is a ``str``.
    :return: ``path`` as a :class:`~pathlib.Path`.
    :raises TypeError: if ``data`` is none of the three.
    :raises OSError: naming ``path``, if the write fails; ``path`` then still holds its old content (or does
        not exist) and no temp file is left behind.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    if not isinstance(data, (bytes, bytearray, memoryview)) and not callable(data):
        raise TypeError(f"data must be bytes, str or a function writing to a binary file, got {type(data).__name__}")
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data)
    return target


def remove_stale_temp_files(directory: PathLike) -> list[Path]:
    """Delete the temporary files that interrupted :func:`atomic_write` calls left in ``directory`` (not its
    sub-folders): files named ``.<target>.<8 random characters>.tmp``.

    Call it only while no other process writes into ``directory`` (e.g. holding its
    :class:`~metarl.run_lock.RunLock`): a live writer's temporary file matches the same pattern.

    :return: the removed files (none if ``directory`` does not exist).
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if _TEMP_NAME.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
