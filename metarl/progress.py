"""Progress of long loops: a tqdm bar in a terminal, one log line every N items otherwise.

:func:`progress` decides where progress goes from the stream it would draw on (default ``sys.stderr``):

* a terminal: a :class:`tqdm.tqdm` bar;
* anything else (CI, ``make demo > log 2>&1``, a notebook's captured stderr): a :class:`LogProgress`, which
  writes one line every ``every`` items and one at the end through :mod:`logging` (logger
  ``"metarl.progress"``, level INFO), e.g. ``meta-iterations: 40/500 (8%) 6.1 s/it, eta 46 min | after=-12.3``.
  When the program has configured no logging at all, the line is written to the stream instead, so it is
  never lost; otherwise the program's handlers decide. The logger's level is INFO unless the program set
  one (``logging.getLogger("metarl.progress").setLevel(logging.WARNING)`` silences the lines). An open
  :class:`metarl.logger.Logger` also appends them to its run's ``train.log``;
* nowhere when the environment variable ``METARL_NO_PROGRESS`` is true (``1``, ``true``, ``yes``, ``on``).

``disable=True`` turns a loop's progress off, ``disable=False`` forces a bar even off a terminal.

How often a line is written: every ``every`` items, default :func:`default_every` — about 20 lines per loop
(``ceil(total / 20)``: every item for loops of up to 20 items, every 25th of 500), every 10th item when the
total is unknown. ``METARL_PROGRESS_EVERY=N`` sets ``N`` for every loop whose caller did not pass ``every``.

>>> for it in progress(range(500), desc="meta-iterations"):   # doctest: +SKIP
...     ...
>>> with progress(total=40, desc="eval tasks") as bar:        # doctest: +SKIP
...     bar.update()
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, Literal, TextIO, TypeVar

from tqdm import tqdm

__all__ = [
    "ENV_VAR",
    "EVERY_ENV_VAR",
    "LINES_PER_LOOP",
    "LOGGER_NAME",
    "LogProgress",
    "default_every",
    "progress",
    "progress_enabled",
    "progress_mode",
]

#: Environment variable that turns every metarl progress output off.
ENV_VAR = "METARL_NO_PROGRESS"
#: Environment variable with the number of items between two progress lines (off a terminal).
EVERY_ENV_VAR = "METARL_PROGRESS_EVERY"
#: Name of the :mod:`logging` logger the progress lines go to.
LOGGER_NAME = "metarl.progress"
#: Lines per loop of known length when ``every`` is not given (plus the final one).
LINES_PER_LOOP = 20
#: Items between lines when the loop's length is unknown.
EVERY_UNKNOWN_TOTAL = 10
_TRUE = frozenset({"1", "true", "yes", "on"})

T = TypeVar("T")
_now = time.perf_counter  # the clock of rates and ETAs (replaceable in tests)
_log = logging.getLogger(LOGGER_NAME)
if _log.level == logging.NOTSET:
    # progress lines are INFO records meant to be seen, even when the program's logging shows only warnings;
    # ``logging.getLogger("metarl.progress").setLevel(logging.WARNING)`` silences them
    _log.setLevel(logging.INFO)


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed stream
        return False


def progress_mode(file: TextIO | None = None) -> Literal["bar", "log", "off"]:
    """Where automatic progress goes: ``"off"`` if ``METARL_NO_PROGRESS`` is true, ``"bar"`` if ``file``
    (default ``sys.stderr``) is a terminal, else ``"log"``."""
    if os.environ.get(ENV_VAR, "").strip().lower() in _TRUE:
        return "off"
    return "bar" if _is_tty(file if file is not None else sys.stderr) else "log"


def progress_enabled(file: TextIO | None = None) -> bool:
    """Whether a tqdm bar is shown: ``METARL_NO_PROGRESS`` is not true and ``file`` (default ``sys.stderr``)
    is a terminal (see :func:`progress_mode`)."""
    return progress_mode(file) == "bar"


def default_every(total: int | None) -> int:
    """Items between two progress lines: ``METARL_PROGRESS_EVERY`` if set, else ``ceil(total / 20)`` (at least
    1), else 10 when ``total`` is unknown.

    :raises ValueError: if ``METARL_PROGRESS_EVERY`` is not a positive integer.
    """
    value = os.environ.get(EVERY_ENV_VAR, "").strip()
    if value:
        try:
            every = int(value)
        except ValueError:
            every = 0
        if every < 1:
            raise ValueError(f"{EVERY_ENV_VAR}={value!r}: must be a positive integer (items between lines)")
        return every
    if total is None or total <= 0:
        return EVERY_UNKNOWN_TOTAL
    return max(1, math.ceil(total / LINES_PER_LOOP))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _has_program_handlers(logger: logging.Logger) -> bool:
    """Like ``logger.hasHandlers()``, but not counting the run logs :class:`metarl.logger.Logger` attaches
    (their lines must still reach the terminal or the program's own log)."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(not getattr(h, "metarl_run_log", False) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


class LogProgress(Generic[T]):
    """Progress as log lines: the subset of tqdm's interface metarl uses (iteration, ``update``,
    ``set_postfix``, ``set_description``, ``close``, ``with``), writing one line every ``every`` items and one
    when the loop ends.

    :param iterable: what to iterate (``None`` for a manual counter driven by :meth:`update`).
    :param desc: label at the start of each line.
    :param total: number of items (default ``len(iterable)`` when it has one).
    :param every: items between lines (default :func:`default_every`).
    :param initial: items already done (a resumed loop); rates and ETA count from here.
    :param unit: what an item is (``"it"``, ``"step"``), used in the rate.
    :param file: where lines go when the program has configured no logging (default ``sys.stderr``).
    :param logger: the logger (default ``logging.getLogger("metarl.progress")``).
    """

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        desc: str | None = None,
        total: int | None = None,
        *,
        every: int | None = None,
        initial: int = 0,
        unit: str = "it",
        file: TextIO | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        if every is None:
            every = default_every(total)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.iterable = iterable
        self.desc = desc or ""
        self.total = total
        self.every = every
        self.n = initial
        self.unit = unit
        self.file = file
        self.logger = logger if logger is not None else _log
        self.postfix = ""
        self._initial = initial
        self._last_logged = initial
        self._start = _now()
        self._closed = False

    # ------------------------------------------------------------------------------------ tqdm interface
    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("this progress counter has no iterable; call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update(1)  # counted once the loop body is done, as tqdm does
        finally:
            self.close()

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("progress of unknown total has no len()")
        return self.total

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done; writes a line when a multiple of ``every`` is passed."""
        before = self.n
        self.n += n
        if self.n // self.every > before // self.every and not self._closed:
            self._emit()

    def set_postfix(self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """Extra ``key=value`` fields shown at the end of the next lines (as tqdm's ``set_postfix``)."""
        fields = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in fields.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        """No-op (lines are written on their own schedule)."""

    def close(self) -> None:
        """Write the final line (unless the last one already showed this count); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.n != self._last_logged:
            self._emit()

    def __enter__(self) -> LogProgress[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------------------------------- output
    def format_line(self) -> str:
        """The line for the current count, e.g. ``meta-iterations: 40/500 (8%) 6.1 s/it, eta 46 min``."""
        elapsed = _now() - self._start
        done = self.n - self._initial
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            count = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f}%)"
        else:
            count = f"{self.n} {self.unit}"
        parts = [head + count]
        if done > 0 and elapsed > 0:
            per_item = elapsed / done
            if per_item >= 1:
                rate = f"{per_item:.1f} s/{self.unit}"
            else:
                rate = f"{1 / per_item:.{1 if per_item > 0.01 else 0}f} {self.unit}/s"
            if self.total and self.n < self.total:
                rate += f", eta {_duration(per_item * (self.total - self.n))}"
            else:
                rate += f", {_duration(elapsed)} in all"
            parts.append(rate)
        line = " ".join(parts)
        return f"{line} | {self.postfix}" if self.postfix else line

    def _emit(self) -> None:
        self._last_logged = self.n
        line = self.format_line()
        self.logger.info(line)  # the program's handlers, and the run's train.log (metarl.logger.Logger)
        if not _has_program_handlers(self.logger):  # no logging configured: the stream, so the line is not lost
            print(line, file=self.file if self.file is not None else sys.stderr, flush=True)

    def __repr__(self) -> str:
        return f"LogProgress({self.format_line()!r}, every={self.every})"


def progress(
    iterable: Iterable[T] | int | None = None,
    desc: str | None = None,
    *,
    total: int | None = None,
    disable: bool | None = None,
    file: TextIO | None = None,
    every: int | None = None,
    **kwargs: Any,
) -> tqdm | LogProgress[T]:
    """Progress over ``iterable`` (or ``range(iterable)`` if it is an int), or a manual counter of ``total``.

    :param iterable: what to iterate; an int ``n`` means ``range(n)``; ``None`` for a manual counter
        (``bar.update(k)``).
    :param desc: label shown before the bar / at the start of each line.
    :param total: number of items (inferred from ``len(iterable)`` when possible).
    :param disable: ``None`` = automatic (see :func:`progress_mode`); ``True`` = nothing; ``False`` = a tqdm
        bar even off a terminal.
    :param file: stream to draw on (default ``sys.stderr``); decides bar or lines.
    :param every: off a terminal, items between two lines (default :func:`default_every`).
    :param kwargs: passed to :class:`tqdm.tqdm` (e.g. ``leave=False``, ``unit="step"``, ``initial=k``);
        ``initial`` and ``unit`` are also used by the log lines.
    :return: a :class:`tqdm.tqdm` (shown or disabled) or a :class:`LogProgress`; both iterate like the
        iterable and have ``update``, ``set_postfix``, ``close`` and ``with``.
    """
    if isinstance(iterable, bool):
        raise TypeError("progress() got a bool; pass an iterable, an int or total=")
    if isinstance(iterable, int):
        if iterable < 0:
            raise ValueError(f"progress({iterable}): a count must be >= 0")
        iterable = range(iterable)
    mode = progress_mode(file) if disable is None else ("off" if disable else "bar")
    if mode == "log":
        return LogProgress(iterable, desc, total, every=every, initial=int(kwargs.get("initial", 0)),
                           unit=str(kwargs.get("unit", "it")), file=file)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, disable=mode == "off", file=file, **kwargs)
