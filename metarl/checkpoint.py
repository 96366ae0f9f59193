"""Checkpoints: atomic ``torch.save`` of plain state, safe loading, and a last/best manager.

A checkpoint is a dict of plain data — tensors, numbers, strings, bytes, ``None`` and dicts/lists/tuples of
them — so it loads with ``torch.load(weights_only=True)`` (no pickled code runs on load). Typical keys:

=============  =================================================================================
``params``     ``{name: tensor}`` policy/model parameters
``config``     the run's config dataclass (converted to a dict on save)
``optimizer``  ``optimizer.state_dict()`` (TRPO has none; Adam for supervised MAML)
``rng``        :func:`metarl.seeding.capture_rng_state` / ``RNGStreams.state_dict()``
``iteration``  the last completed iteration (resume starts at ``iteration + 1``)
``metrics``    the last metrics dict
=============  =================================================================================

:func:`save_checkpoint` converts on the way in (dataclass → dict, numpy array → tensor, numpy scalar →
python number, ``Path`` → str, Enum → its value) and rejects anything else with a ``TypeError`` naming the
key, so a bad state fails when saved, not when a crashed run is resumed. It also adds the reserved keys
:data:`RESERVED_KEYS` (``format``, ``format_version``, ``kind``, ``saved_at``, ``versions``, ``sha256``).

Writes are atomic (:func:`metarl.atomic.atomic_write`): the file is written to a temporary file in the same
directory, flushed, fsynced and renamed over the target with :func:`os.replace`, so a crash at any moment
leaves either the old or the new checkpoint, never a partial one; a failed write (e.g. a full disk) raises an
``OSError`` naming the checkpoint and leaves the old one in place.

Integrity (format version 2): the reserved key ``sha256`` holds a SHA-256 digest of everything else in the state —
every tensor's dtype, shape and bytes, every number, string and container, in order — so it does not depend on how
torch lays the file out; :func:`load_checkpoint` recomputes it and refuses a file whose content no longer matches
(a flipped bit in a tensor, which torch itself would load silently), naming the file. Version-1 files (written
before the digest existed) still load, unchecked; :func:`add_checksum` rewrites one as version 2 with the same
content.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import hashlib
import math
import os
import pickle
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import torch

from metarl.atomic import atomic_write

__all__ = [
    "FORMAT_NAME",
    "DIGEST_KEY",
    "FORMAT_VERSION",
    "RESERVED_KEYS",
    "CheckpointError",
    "CheckpointManager",
    "add_checksum",
    "state_digest",
    "load_checkpoint",
    "save_checkpoint",
    "to_checkpoint_state",
]

#: Value of the ``format`` key that marks a file as a metarl checkpoint.
FORMAT_NAME = "metarl.checkpoint"
#: Current layout version; bumped when the layout changes incompatibly. Files with a higher version are refused.
#: 1: no digest; 2: the ``sha256`` digest of the content.
FORMAT_VERSION = 2
#: Keys added by :func:`save_checkpoint`; a state may carry ``kind`` itself, the others are set on save.
RESERVED_KEYS = ("format", "format_version", "kind", "saved_at", "versions", "sha256")
#: the key of the content digest (format version >= 2)
DIGEST_KEY = "sha256"

PathLike = str | os.PathLike[str]
_LEAF_TYPES = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device)


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be used (corrupt, truncated, not a checkpoint, wrong kind).

    :ivar path: the offending file.
    """

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"checkpoint {self.path}: {problem}")


# ------------------------------------------------------------------------------------------ conversion
def to_checkpoint_state(value: Any, *, where: str = "state") -> Any:
    """Convert ``value`` to data that ``torch.load(weights_only=True)`` can read back.

    Mappings become plain dicts (keys converted too), lists/tuples keep their type, dataclass instances
    become dicts of their fields, numpy arrays become tensors, numpy scalars python numbers, paths strings,
    enums their values; tensors are detached (and copied when they view a larger storage, so a slice does not
    drag its whole base tensor into the file).

    :param where: the position of ``value`` inside the state, used in error messages.
    :raises TypeError: naming the position of the first unsupported object (e.g. a numpy Generator:
        store :func:`metarl.seeding.generator_state` instead).
    """
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.layout == torch.strided and tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
            tensor = tensor.clone()
        return tensor
    if type(value) in _LEAF_TYPES:
        return value
    if isinstance(value, enum.Enum):
        return to_checkpoint_state(value.value, where=where)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, _LEAF_TYPES):  # subclasses (e.g. torch's TorchVersion str) are not safe to unpickle
        for base in (bool, int, float, complex, str, bytes):
            if isinstance(value, base):
                return base(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object or not (value.dtype.isnative or value.dtype.byteorder == "|"):
            raise TypeError(f"{where}: numpy array of dtype {value.dtype} cannot be stored; use a numeric dtype")
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_checkpoint_state(getattr(value, f.name), where=f"{where}.{f.name}")
                for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            plain_key = to_checkpoint_state(key, where=f"{where} key {key!r}")
            out[plain_key] = to_checkpoint_state(item, where=f"{where}[{key!r}]")
        return out
    if isinstance(value, tuple) and not hasattr(value, "_fields"):  # namedtuples are classes: unsafe to unpickle
        return tuple(to_checkpoint_state(v, where=f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, list):
        return [to_checkpoint_state(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
    hint = ""
    if isinstance(value, (np.random.Generator, torch.Generator)):
        hint = " (store metarl.seeding.generator_state(gen) instead)"
    elif isinstance(value, torch.nn.Module):
        hint = " (store module.state_dict() instead)"
    elif isinstance(value, torch.optim.Optimizer):
        hint = " (store optimizer.state_dict() instead)"
    elif hasattr(value, "_fields"):
        hint = " (store namedtuple._asdict() instead)"
    raise TypeError(
        f"{where}: cannot store a {type(value).__module__}.{type(value).__qualname__} in a checkpoint{hint}; "
        "checkpoints hold tensors, numbers, strings, bytes, None and dicts/lists/tuples of them"
    )


def save_checkpoint(path: PathLike, state: Mapping[str, Any], *, kind: str | None = None) -> None:
    """Atomically write ``state`` to ``path`` (parent directories are created).

    :param path: target file, conventionally ``*.pt``.
    :param state: the checkpoint contents (see the module docstring for the usual keys); converted with
        :func:`to_checkpoint_state`. Its keys must be strings.
    :param kind: what the checkpoint holds, e.g. ``"maml_trpo"``; checked by ``load_checkpoint(expected_kind=)``.
        May instead be given as ``state["kind"]``; one of the two is required and they must agree.
    :raises TypeError: if ``state`` holds an object that cannot be stored (the message names its key).
    :raises ValueError: if ``kind`` is missing/empty/inconsistent or ``state`` sets another reserved key.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    bad_keys = [k for k in state if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"state keys must be strings, got {bad_keys!r}")
    clash = [k for k in RESERVED_KEYS if k in state and k != "kind"]
    if clash:
        raise ValueError(f"state sets reserved key(s) {clash}; they are written by save_checkpoint")
    state_kind = state.get("kind")
    if kind is not None and state_kind is not None and kind != state_kind:
        raise ValueError(f"kind={kind!r} disagrees with state['kind']={state_kind!r}")
    kind = kind if kind is not None else state_kind
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"a checkpoint needs a non-empty string kind (e.g. 'maml_trpo'), got {kind!r}")

    payload: dict[str, Any] = {
        k: to_checkpoint_state(v, where=f"state[{k!r}]") for k, v in state.items() if k != "kind"
    }
    payload.update(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        kind=kind,
        saved_at=time.time(),
        versions={"metarl": _metarl_version(), "torch": str(torch.__version__), "numpy": str(np.__version__)},
    )
    _write(path, payload)


def _write(path: PathLike, payload: dict[str, Any]) -> None:
    """Add the digest to ``payload`` (a complete version-2 state) and write it atomically."""
    payload[DIGEST_KEY] = state_digest(payload)
    atomic_write(path, lambda f: torch.save(payload, f))


def state_digest(state: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of a checkpoint state's content, its ``sha256`` key excluded: each value's type tag and
    data in order (tensors: dtype, shape and element bytes; floats exactly, by ``float.hex``), so the same content
    gives the same digest whatever the file layout, torch version or storage sharing."""
    digest = hashlib.sha256()

    def feed(tag: bytes, data: bytes = b"") -> None:
        digest.update(tag + len(data).to_bytes(8, "little") + data)

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            feed(b"T", f"{value.dtype}{tuple(value.shape)}".encode())
            feed(b"D", flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(value, Mapping):
            feed(b"M", str(len(value)).encode())
            for key, item in value.items():
                visit(key)
                visit(item)
        elif isinstance(value, (list, tuple)):
            feed(b"L" if isinstance(value, list) else b"U", str(len(value)).encode())
            for item in value:
                visit(item)
        elif isinstance(value, bool) or value is None:
            feed(b"B", repr(value).encode())
        elif isinstance(value, float):
            feed(b"F", value.hex().encode())
        elif isinstance(value, bytes):
            feed(b"Y", value)
        else:  # int, complex, str, torch.dtype, torch.device
            feed(type(value).__name__.encode()[:1].upper(), str(value).encode())

    visit({k: v for k, v in state.items() if k != DIGEST_KEY})
    return digest.hexdigest()


def add_checksum(path: PathLike, out: PathLike | None = None) -> bool:
    """Rewrite a version-1 checkpoint (no digest) as version 2 with the same content plus its digest, atomically;
    a file that has a digest already is verified and left as it is (or copied to ``out``).

    :param path: the checkpoint.
    :param out: where to write (default: ``path`` itself).
    :return: whether a digest was added.
    :raises CheckpointError: if ``path`` is not a readable metarl checkpoint (or fails its digest).
    """
    state = load_checkpoint(path)
    target = Path(out) if out is not None else Path(path)
    if state["format_version"] >= 2:
        if target != Path(path):
            atomic_write(target, Path(path).read_bytes())
        return False
    _write(target, {**state, "format_version": FORMAT_VERSION})
    return True


def _metarl_version() -> str:
    try:
        from importlib.metadata import version

        return version("metarl")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


# --------------------------------------------------------------------------------------------- loading
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def load_checkpoint(
    path: PathLike,
    expected_kind: str | None = None,
    *,
    map_location: str | torch.device | None = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, with ``torch.load(weights_only=True)``.

    :param path: the checkpoint file.
    :param expected_kind: if given, the checkpoint's ``kind`` must equal it.
    :param map_location: passed to :func:`torch.load`; CPU by default.
    :return: the saved state, including the reserved keys (``kind``, ``format_version``, ``saved_at``, ...).
    :raises FileNotFoundError: if ``path`` does not exist (the message names it).
    :raises CheckpointError: if the file is empty, truncated, corrupt, fails its SHA-256 check, is not a metarl
        checkpoint, holds objects that are unsafe to unpickle, was written by a newer format version, or holds
        another kind.
    """
    path = Path(path)
    if not path.exists():
        hint = "checkpoint file not found"
        if path.parent.is_dir():
            siblings = sorted(p.name for p in path.parent.glob("*.pt"))
            hint += f" (its directory holds: {', '.join(siblings)})" if siblings else " (its directory holds no *.pt files)"
        raise FileNotFoundError(errno.ENOENT, hint, str(path))
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "is empty (0 bytes) — probably an interrupted copy")
    state = _check_state(path, _read_weights_only(path, map_location), expected_kind)
    if state["format_version"] >= 2:
        stored = state.get(DIGEST_KEY)
        if not isinstance(stored, str):
            raise CheckpointError(path, f"has no {DIGEST_KEY!r} digest, which its format version 2 requires: the file "
                                  "was changed or damaged after it was written")
        computed = state_digest(state)
        if computed != stored:
            raise CheckpointError(
                path, f"fails its SHA-256 check (stored {stored[:12]}..., computed {computed[:12]}...): the file was "
                "changed or damaged after it was written (use best.pt or an earlier copy)"
            )
    return state


def _read_weights_only(path: Path, map_location: str | torch.device | None) -> Any:
    """``torch.load(path, weights_only=True)``, its errors as :class:`CheckpointError`."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            detail = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln), "")
            detail = detail.split(" was not an allowed global")[0].replace("WeightsUnpickler error: ", "")
            raise CheckpointError(
                path,
                "holds objects that are not safe to unpickle (torch.load(weights_only=True) refused it"
                + (f": {detail}" if detail else "")
                + "); metarl checkpoints hold only tensors and plain containers, so this file was written by "
                "something else",
            ) from exc
        raise CheckpointError(path, f"is corrupt ({_first_line(exc)})") from exc
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # torch raises RuntimeError/EOFError/KeyError/... for damaged archives
        raise CheckpointError(path, f"is truncated or corrupt and cannot be read ({_first_line(exc)})") from exc


def _check_state(path: Path, obj: Any, expected_kind: str | None) -> dict[str, Any]:
    """``obj`` (a loaded state) if it is a metarl checkpoint of an accepted version and of ``expected_kind``."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        found = f"a dict with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(path, f"is a torch file but not a metarl checkpoint (it holds {found})")
    version = obj.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path, f"was written by a newer metarl (format_version {version}; this version reads up to {FORMAT_VERSION})"
        )
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise CheckpointError(path, f"has an invalid kind {kind!r}")
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(path, f"holds a {kind!r} checkpoint, expected {expected_kind!r}")
    return obj


# --------------------------------------------------------------------------------------------- manager
class CheckpointManager:
    """Keeps ``last.pt`` (every save) and ``best.pt`` (when the tracked metric improves) in ``run_dir``.

    The paper keeps the best checkpoint of a run; this writes ``last.pt`` on every :meth:`save` and copies
    it to ``best.pt`` when the metric beats every earlier value. Both writes are atomic.

    The metric of each save comes from ``save(state, metric=...)``, else ``state["metrics"][keep_best_by]``,
    else ``state[keep_best_by]``. It is recorded in the file as ``state["checkpoint_metric"] =
    {"name", "mode", "value"}``; a manager learns the best value so far from an existing ``best.pt``, so a
    resumed run (or any later run in the same directory) only replaces ``best.pt`` with a better checkpoint.
    A NaN metric never counts as an improvement.

    A resumable training loop::

        ckpt = CheckpointManager(run_dir, keep_best_by="eval/return_after_adapt", kind="maml_trpo")
        state = ckpt.resume()                      # None for a fresh run
        start = 0 if state is None else state["iteration"] + 1
        # ... restore params / optimizer / streams.load_state_dict(state["rng"]) from state ...
        with Logger(run_dir, purge_step=start) as logger:
            for it in range(start, n_iterations):
                metrics = agent.step()
                logger.log(it, metrics)
                ckpt.save({"params": agent.params, "config": cfg, "rng": streams.state_dict(),
                           "iteration": it, "metrics": metrics})

    :param run_dir: directory of the run (created on first save).
    :param keep_best_by: name of the metric to track, or ``None`` to write only ``last.pt``.
    :param mode: ``"max"`` (returns) or ``"min"`` (losses).
    :param kind: checkpoint kind passed to :func:`save_checkpoint` and checked on load; if ``None`` the
        state must carry ``"kind"`` and loads are not kind-checked.
    """

    LAST_NAME = "last.pt"
    BEST_NAME = "best.pt"

    def __init__(
        self,
        run_dir: PathLike,
        keep_best_by: str | None = "metric",
        *,
        mode: Literal["max", "min"] = "max",
        kind: str | None = None,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if keep_best_by is not None and (not isinstance(keep_best_by, str) or not keep_best_by):
            raise ValueError(f"keep_best_by must be a non-empty metric name or None, got {keep_best_by!r}")
        self.run_dir = Path(run_dir)
        self.keep_best_by = keep_best_by
        self.mode = mode
        self.kind = kind
        self._best: float | None = None
        self._best_known = False

    @property
    def last_path(self) -> Path:
        """``run_dir / "last.pt"``."""
        return self.run_dir / self.LAST_NAME

    @property
    def best_path(self) -> Path:
        """``run_dir / "best.pt"``."""
        return self.run_dir / self.BEST_NAME

    @property
    def best_value(self) -> float | None:
        """The best metric value so far (read from an existing ``best.pt`` on first use), or ``None``."""
        self._load_best_value()
        return self._best

    def _load_best_value(self) -> None:
        if self._best_known:
            return
        if self.keep_best_by is not None and self.best_path.exists():
            record = load_checkpoint(self.best_path, self.kind).get("checkpoint_metric")
            if not isinstance(record, dict) or "value" not in record:
                raise CheckpointError(self.best_path, "has no 'checkpoint_metric' record, so it was not written by "
                                      "CheckpointManager; move it away or use another run_dir")
            if record.get("name") != self.keep_best_by or record.get("mode") != self.mode:
                raise CheckpointError(
                    self.best_path,
                    f"was kept by {record.get('mode')} {record.get('name')!r}, this manager keeps the "
                    f"{self.mode} {self.keep_best_by!r}; use another run_dir or the same keep_best_by/mode",
                )
            self._best = float(record["value"])
        self._best_known = True

    def _metric_of(self, state: Mapping[str, Any], metric: float | None) -> float:
        key = self.keep_best_by
        if metric is None:
            metrics = state.get("metrics")
            if isinstance(metrics, Mapping) and key in metrics:
                metric = metrics[key]
            elif key in state:
                metric = state[key]
            else:
                have = sorted(metrics) if isinstance(metrics, Mapping) else []
                raise ValueError(
                    f"metric {key!r} not found: pass save(state, metric=...) or put it in state['metrics'] "
                    f"(which has {have}) or state"
                )
        try:
            return float(metric)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metric {key!r} must be a real number, got {type(metric).__name__} {metric!r}") from exc

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self._best is None:
            return True
        return value > self._best if self.mode == "max" else value < self._best

    def save(self, state: Mapping[str, Any], metric: float | None = None) -> bool:
        """Write ``last.pt``; also ``best.pt`` if the metric improved.

        :param state: checkpoint contents (see :func:`save_checkpoint`).
        :param metric: the tracked metric's value for this state (else looked up in ``state``).
        :return: ``True`` if ``best.pt`` was updated.
        """
        to_save = dict(state)
        value = None
        if self.keep_best_by is not None:
            self._load_best_value()
            value = self._metric_of(state, metric)
            to_save["checkpoint_metric"] = {"name": self.keep_best_by, "mode": self.mode, "value": value}
        save_checkpoint(self.last_path, to_save, kind=self.kind)
        if value is None or not self._improves(value):
            return False

        def copy_last(dst: IO[bytes]) -> None:
            with open(self.last_path, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)

        atomic_write(self.best_path, copy_last)
        self._best = value
        return True

    def resume(self, expected_kind: str | None = None) -> dict[str, Any] | None:
        """The state in ``last.pt``, or ``None`` if there is none yet (a fresh run).

        :raises CheckpointError: if ``last.pt`` exists but is unusable — a resume never silently starts over.
        """
        if not self.last_path.exists():
            return None
        return load_checkpoint(self.last_path, expected_kind if expected_kind is not None else self.kind)

    def load_best(self, expected_kind: str | None = None) -> dict[str, Any] | None:
        """The state in ``best.pt``, or ``None`` if no checkpoint improved the metric yet."""
        if not self.best_path.exists():
            return None
        return load_checkpoint(self.best_path, expected_kind if expected_kind is not None else self.kind)

    def __repr__(self) -> str:
        return (f"CheckpointManager(run_dir={str(self.run_dir)!r}, keep_best_by={self.keep_best_by!r}, "
                f"mode={self.mode!r}, kind={self.kind!r})")
