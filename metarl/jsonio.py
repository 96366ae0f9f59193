"""Strict, atomic JSON for results files (benchmarks, evaluations)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from metarl.atomic import atomic_write

__all__ = ["json_ready", "write_json"]


def json_ready(value: Any) -> Any:
    """Plain JSON data: tuples → lists, dataclasses → dicts, numpy arrays and scalars → lists and numbers,
    non-finite floats → None (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_ready(dataclasses.asdict(value))
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented strict JSON, atomically (:func:`metarl.atomic.atomic_write`).

    :raises TypeError: if ``data`` holds something JSON cannot represent (``path`` is then unchanged).
    """
    text = json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, text)
