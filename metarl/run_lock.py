"""One writer per run directory: an exclusive lock held for a training run's whole life.

Two trainings writing into one folder (or a ``--resume`` started while the first run still writes) would
interleave their ``progress.csv`` rows and overwrite each other's ``last.pt``.  :class:`RunLock` prevents that
with ``fcntl.flock`` on ``run_dir/run.lock`` — the POSIX advisory lock the kernel drops by itself when the
holding process ends in any way (exit, exception, ``kill -9``, power loss), so a lock can never outlive its
holder.  The file also records who holds it (pid, host, start time, command line): a second writer is refused
with a :class:`RunLockError` naming the holder's pid, and a record left by a holder that died without releasing
(the kernel freed its lock, the record stayed) is reported when the next run takes the lock over.

::

    with RunLock("runs/nav"):          # RunLockError if another process holds it
        train(...)

The lock is re-entrant within a process (``train()`` takes it, and so does ``metarl-train`` around training plus
evaluation), and the file is never deleted (deleting a lock file races with a process that has just opened it).
``flock`` works on local filesystems and on NFSv4 (where Linux maps it to a byte-range lock); on a platform
without ``fcntl`` (Windows) the lock is a no-op and says so once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunLock", "RunLockError", "lock_holder"]

#: File name of the lock inside the run directory.
LOCK_NAME = "run.lock"
_log = logging.getLogger(__name__)
#: locks this process holds: resolved lock path -> [file descriptor, re-entry count]
_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()
_no_fcntl_said = False


class RunLockError(RuntimeError):
    """Another process holds the lock of a run directory.

    :ivar run_dir: the directory.
    :ivar holder: the holder's record (``pid``, ``host``, ``started``, ``argv``), or ``None`` if it had not written
        it yet.
    """

    def __init__(self, run_dir: Path, holder: dict[str, Any] | None) -> None:
        self.run_dir = run_dir
        self.holder = holder
        if holder:
            who = f"pid {holder.get('pid')} on {holder.get('host', '?')} (since {holder.get('started', '?')})"
        else:
            who = "another process (it has not written its pid yet)"
        super().__init__(
            f"run directory {run_dir} is in use by {who}: another run writes there; wait for it to end "
            "or choose another run directory"
        )


def lock_holder(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record in ``run_dir/run.lock``: the current holder's, or that of a holder that died without releasing
    (``None`` when the file is absent, empty or unreadable)."""
    try:
        return _parse_record((Path(run_dir) / LOCK_NAME).read_bytes())
    except OSError:
        return None


def _parse_record(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """The exclusive lock of ``run_dir`` (see the module docstring); a context manager.

    :ivar previous_holder: after :meth:`acquire`, the record of a holder that ended without releasing the lock
        (killed or crashed), whose lock this one took over; ``None`` otherwise.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.previous_holder: dict[str, Any] | None = None
        self._key: Path | None = None

    def acquire(self) -> RunLock:
        """Take the lock (creating ``run_dir`` if needed), or raise :class:`RunLockError` naming the holder."""
        global _no_fcntl_said
        if self._key is not None:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        with _held_guard:
            if key in _held:  # this process holds it already (re-entry)
                _held[key][1] += 1
                self._key = key
                return self
            if fcntl is None:
                if not _no_fcntl_said:
                    _no_fcntl_said = True
                    _log.warning("run directories are not locked on this platform (no fcntl)")
                _held[key] = [-1, 1]
                self._key = key
                return self
            fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _parse_record(os.pread(fd, 1 << 16, 0))
                os.close(fd)
                raise RunLockError(self.run_dir, holder) from None
            except BaseException:
                os.close(fd)
                raise
            previous = _parse_record(os.pread(fd, 1 << 16, 0))
            record = {"pid": os.getpid(), "host": socket.gethostname(),
                      "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
            _held[key] = [fd, 1]
            self._key = key
        if previous is not None and previous.get("pid") != os.getpid():
            self.previous_holder = previous
            state = "still running but not holding it" if _pid_alive(previous.get("pid")) else "no longer running"
            _log.warning("took over the lock of %s left by pid %s (started %s, %s): that run ended without "
                         "releasing it (killed or crashed)", self.run_dir, previous.get("pid"),
                         previous.get("started", "?"), state)
        return self

    def release(self) -> None:
        """Give the lock up (the last release of a re-entered lock clears the record and unlocks)."""
        if self._key is None:
            return
        with _held_guard:
            entry = _held[self._key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[self._key]
                fd = entry[0]
                if fd >= 0:
                    os.ftruncate(fd, 0)  # an empty record: released cleanly
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
        self._key = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._key is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.run_dir)!r}, held={self.held})"
