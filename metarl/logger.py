"""Run logging: ``progress.csv`` plus TensorBoard scalars, flushed on every call, and ``train.log``.

Keys are namespaced like cleanrl's (``train/return_after_adapt``, ``trpo/kl``, ``time/sample_s``); the agent's
``step()`` returns a metrics dict and the caller logs it::

    with Logger("runs/nav_seed0") as logger:
        for it in range(n_iterations):
            logger.log(it, agent.step())

CSV layout: columns ``step``, ``wall_time`` (unix seconds), then every metric key in order of first appearance.
When a new key appears the file is **rewritten** (atomically: :func:`metarl.atomic.atomic_write`) with the wider header,
earlier rows getting empty cells for it; rows are otherwise appended. Rewrites are rare (a run's key set
settles after the first iterations), so the file is always one well-formed CSV that pandas and
:func:`read_csv` read directly. Every row is flushed to the OS as soon as it is written, so a crash of the
training process loses nothing already logged (pass ``fsync=True`` to survive power loss as well).

TensorBoard is optional (``pip install metarl[tensorboard]``): without it the Logger says once, through
:mod:`logging` (logger ``"metarl.logger"``, a warning), that TensorBoard output is off and why, and writes the CSV
alone.

``train.log``: while a Logger is open, the records of metarl's loggers at INFO and above — the progress lines
of :mod:`metarl.progress` (off a terminal) and warnings — are appended to ``run_dir/train.log`` too, so a run's
folder holds its own log (``train_log=False`` turns it off). Every Logger open at the time receives them.

Resuming: a ``Logger`` on an existing run directory appends to its ``progress.csv``. Pass
``purge_step=k`` when resuming from a checkpoint taken at step ``k - 1``: rows with ``step >= k`` (logged after
that checkpoint, and about to be logged again) are dropped from the CSV and TensorBoard hides its own events
from those steps (``SummaryWriter(purge_step=k)``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import numbers
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from metarl.atomic import atomic_write
from metarl.checkpoint import to_checkpoint_state

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["CSV_NAME", "LOG_NAME", "Logger", "read_csv"]

#: File name of the CSV inside the run directory.
CSV_NAME = "progress.csv"
#: File name of the run's log (metarl's log records while the Logger is open).
LOG_NAME = "train.log"
#: The extra that installs TensorBoard.
TENSORBOARD_EXTRA = "metarl[tensorboard]"
_log = logging.getLogger(__name__)
_tensorboard_off_said = False


def _summary_writer_class() -> type[SummaryWriter] | None:
    """``torch.utils.tensorboard.SummaryWriter``, or ``None`` (said once per process) when TensorBoard is
    not installed."""
    global _tensorboard_off_said
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        if not _tensorboard_off_said:
            _tensorboard_off_said = True
            _log.warning("TensorBoard output is off: %s (pip install '%s'); progress.csv is still written",
                         exc, TENSORBOARD_EXTRA)
        return None
    return SummaryWriter
_FIXED_COLUMNS = ("step", "wall_time")


def _to_float(key: str, value: Any) -> float:
    """A metric value as float; numbers, numpy scalars and one-element arrays/tensors are accepted."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else size if isinstance(size, int) else None
    if count == 1 and hasattr(value, "item"):
        item = value.item()
        if isinstance(item, numbers.Real):
            return float(item)
    raise TypeError(
        f"metric {key!r} must be a real number (or a one-element array/tensor), got {type(value).__name__} "
        f"{value!r:.80}"
    )


class Logger:
    """Writes metrics to ``run_dir/progress.csv`` and TensorBoard event files in ``run_dir``.

    :param run_dir: the run's directory (created if needed).
    :param use_tensorboard: also write TensorBoard scalars (``torch.utils.tensorboard.SummaryWriter``) when
        TensorBoard is installed (see the module docstring); :attr:`tensorboard` says whether it is written.
    :param purge_step: when resuming, drop CSV rows (and hide TensorBoard events) with ``step >= purge_step``.
    :param fsync: ``os.fsync`` the CSV after every row (survives power loss; slower).
    :param train_log: append metarl's log records to ``run_dir/train.log`` while the Logger is open.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        use_tensorboard: bool = True,
        *,
        purge_step: int | None = None,
        fsync: bool = False,
        train_log: bool = True,
    ) -> None:
        if purge_step is not None and (isinstance(purge_step, bool) or not isinstance(purge_step, int)):
            raise TypeError(f"purge_step must be an int or None, got {purge_step!r}")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / CSV_NAME
        self._fsync = fsync
        self._closed = False
        self._columns: list[str] = list(_FIXED_COLUMNS)
        self._load_existing(purge_step)
        self._file = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if self._file.tell() == 0:
            self._write_row(self._columns)
        self._writer: SummaryWriter | None = None
        writer_class = _summary_writer_class() if use_tensorboard else None
        if writer_class is not None:
            self._writer = writer_class(log_dir=str(self.run_dir), purge_step=purge_step)
        self._log_handler: logging.Handler | None = None
        if train_log:
            self._log_handler = logging.FileHandler(self.run_dir / LOG_NAME, encoding="utf-8")
            self._log_handler.setLevel(logging.INFO)
            self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
            self._log_handler.metarl_run_log = True  # type: ignore[attr-defined]  (see metarl.progress)
            logging.getLogger("metarl").addHandler(self._log_handler)

    # ------------------------------------------------------------------------------------- CSV helpers
    def _load_existing(self, purge_step: int | None) -> None:
        """Adopt the header of an existing CSV; drop purged rows and a torn last line."""
        if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
            return
        text = self.csv_path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        rewrite = False
        if lines and not lines[-1].endswith("\n"):
            warnings.warn(f"{self.csv_path}: dropping an incomplete last line (interrupted write): {lines[-1]!r:.120}",
                          stacklevel=3)
            lines = lines[:-1]
            rewrite = True
        rows = list(csv.reader(lines))
        if not rows:  # only a torn header line: start the file afresh
            self._rewrite(self._columns, [])
            return
        header = rows[0]
        if header[: len(_FIXED_COLUMNS)] != list(_FIXED_COLUMNS):
            raise ValueError(
                f"{self.csv_path} exists but is not a metarl progress CSV (header starts {header[:3]}); "
                "use another run_dir"
            )
        body = rows[1:]
        if purge_step is not None:
            kept = [r for r in body if not (r and int(float(r[0])) >= purge_step)]
            rewrite = rewrite or len(kept) != len(body)
            body = kept
        self._columns = header
        if rewrite:
            self._rewrite(header, body)

    def _rewrite(self, header: list[str], body: list[list[str]]) -> None:
        """Atomically replace the CSV with ``header`` + ``body`` (rows padded to the header's width)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for row in body:
            writer.writerow(list(row) + [""] * (len(header) - len(row)))
        atomic_write(self.csv_path, buf.getvalue())

    def _write_row(self, row: list[str]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        self._file.write(buf.getvalue())
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def _add_columns(self, new_keys: list[str]) -> None:
        """Widen the header: close the file, rewrite it with the new columns, reopen for appending."""
        self._file.close()
        with open(self.csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        self._columns = self._columns + new_keys
        self._rewrite(self._columns, rows[1:])
        self._file = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115

    # ---------------------------------------------------------------------------------------- public API
    @property
    def tensorboard(self) -> bool:
        """Whether TensorBoard scalars are written (asked for and installed)."""
        return self._writer is not None

    @property
    def columns(self) -> list[str]:
        """The CSV header: ``step``, ``wall_time``, then the metric keys in order of first appearance."""
        return list(self._columns)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Write one row: ``metrics`` at ``step``, to the CSV and TensorBoard, then flush both.

        :param step: the x-axis value (e.g. meta-iteration), an int >= 0.
        :param metrics: ``{key: value}``; keys are non-empty strings other than ``step``/``wall_time``; values
            are real numbers (python/numpy scalars, one-element tensors/arrays). NaN and inf are written as is.
        :raises TypeError / ValueError: naming the offending key or value; nothing is written in that case.
        :raises RuntimeError: if the logger is closed.
        """
        if self._closed:
            raise RuntimeError(f"Logger for {self.run_dir} is closed")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step must be an int >= 0, got {step!r}")
        values: dict[str, float] = {}
        for key, value in metrics.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"metric keys must be non-empty strings, got {key!r}")
            if key in _FIXED_COLUMNS:
                raise ValueError(f"metric key {key!r} is reserved for the CSV's own column")
            values[key] = _to_float(key, value)
        now = time.time()
        new_keys = [k for k in values if k not in self._columns]
        if new_keys:
            self._add_columns(new_keys)
        cells = {"step": str(int(step)), "wall_time": f"{now:.3f}"}
        cells.update({k: repr(v) for k, v in values.items()})
        self._write_row([cells.get(col, "") for col in self._columns])
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(key, value, global_step=int(step), walltime=now)
            self._writer.flush()

    def log_config(self, config: Any, name: str = "config") -> Path:
        """Write a config (dataclass or dict) to ``run_dir/<name>.json`` and as TensorBoard text.

        :return: the JSON file's path.
        """
        plain = to_checkpoint_state(config, where=name)
        text = json.dumps(plain, indent=2, sort_keys=False, default=str)
        path = self.run_dir / f"{name}.json"
        atomic_write(path, text + "\n")
        if self._writer is not None and not self._closed:
            self._writer.add_text(name, f"```\n{text}\n```", global_step=0)
            self._writer.flush()
        return path

    def close(self) -> None:
        """Flush and close the CSV and TensorBoard writer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._file.close()
        if self._writer is not None:
            self._writer.close()
        if self._log_handler is not None:
            logging.getLogger("metarl").removeHandler(self._log_handler)
            self._log_handler.close()

    def __enter__(self) -> Logger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # last resort only; call close() or use ``with``
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"Logger(run_dir={str(self.run_dir)!r}, columns={len(self._columns)})"


def read_csv(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Read a ``progress.csv`` into ``{column: values}``.

    ``step`` values are ints; every other column is floats, with ``nan`` where a row has no value (the key
    first appeared later, or was not logged at that step).

    :param path: the CSV file, or a run directory containing ``progress.csv``.
    :raises FileNotFoundError: if it does not exist.
    :raises ValueError: if a cell is not a number (naming the row and column).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CSV_NAME
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header = rows[0]
    out: dict[str, list[Any]] = {col: [] for col in header}
    for line_no, row in enumerate(rows[1:], start=2):
        row = row + [""] * (len(header) - len(row))
        for col, cell in zip(header, row):
            try:
                if col == "step":
                    out[col].append(int(float(cell)))
                else:
                    out[col].append(float(cell) if cell != "" else math.nan)
            except ValueError:
                raise ValueError(f"{path}, line {line_no}, column {col!r}: {cell!r} is not a number") from None
    return out
