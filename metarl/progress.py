"""Progress bars for long loops that stay out of CI logs.

:func:`progress` is a thin wrapper around :class:`tqdm.tqdm`. The bar is shown only when it writes to a
terminal; it is disabled when the output is not a TTY (CI, ``> log.txt``) or when the environment variable
``METARL_NO_PROGRESS`` is set to a true value (``1``, ``true``, ``yes``, ``on``). An explicit
``disable=True/False`` overrides both.

>>> for it in progress(range(500), desc="meta-iterations"):   # doctest: +SKIP
...     ...
>>> with progress(total=40, desc="eval tasks") as bar:        # doctest: +SKIP
...     bar.update()
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

__all__ = ["ENV_VAR", "progress", "progress_enabled"]

#: Environment variable that turns every metarl progress bar off.
ENV_VAR = "METARL_NO_PROGRESS"
_TRUE = frozenset({"1", "true", "yes", "on"})

T = TypeVar("T")


def progress_enabled(file: TextIO | None = None) -> bool:
    """Whether bars should be shown: ``METARL_NO_PROGRESS`` is not set to a true value and ``file``
    (default ``sys.stderr``) is a terminal."""
    if os.environ.get(ENV_VAR, "").strip().lower() in _TRUE:
        return False
    stream = file if file is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed stream
        return False


def progress(
    iterable: Iterable[T] | int | None = None,
    desc: str | None = None,
    *,
    total: int | None = None,
    disable: bool | None = None,
    file: TextIO | None = None,
    **kwargs: Any,
) -> tqdm:
    """A tqdm bar over ``iterable`` (or ``range(iterable)`` if it is an int), or a manual bar of ``total``.

    :param iterable: what to iterate; an int ``n`` means ``range(n)``; ``None`` for a manual bar
        (``bar.update(k)``).
    :param desc: label shown before the bar.
    :param total: number of items (inferred from ``len(iterable)`` when possible).
    :param disable: ``None`` = automatic (see :func:`progress_enabled`); ``True``/``False`` force it.
    :param file: stream to write to (default ``sys.stderr``).
    :param kwargs: passed to :class:`tqdm.tqdm` (e.g. ``leave=False``, ``unit="it"``).
    """
    if isinstance(iterable, bool):
        raise TypeError("progress() got a bool; pass an iterable, an int or total=")
    if isinstance(iterable, int):
        if iterable < 0:
            raise ValueError(f"progress({iterable}): a count must be >= 0")
        iterable = range(iterable)
    if disable is None:
        disable = not progress_enabled(file)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, disable=disable, file=file, **kwargs)
