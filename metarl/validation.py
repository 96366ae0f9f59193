"""Checks of config fields shared by the learners' config dataclasses: errors name the field and the bad value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["check_fields", "is_int", "is_positive"]


def is_int(value: Any, minimum: int) -> bool:
    """``value`` is an int (not a bool) ``>= minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def is_positive(value: Any) -> bool:
    """``value`` is a finite real number (not a bool) ``> 0``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_fields(owner: str, checks: Mapping[str, tuple[bool, str]], obj: Any) -> None:
    """Raise ``ValueError("<owner>.<field> must be <expected>; got <value>")`` for the first failed check.

    :param checks: ``{field: (ok, expected)}``, e.g. ``{"steps": (is_int(cfg.steps, 1), "an int >= 1")}``.
    """
    for name, (ok, expected) in checks.items():
        if not ok:
            raise ValueError(f"{owner}.{name} must be {expected}; got {getattr(obj, name)!r}")
