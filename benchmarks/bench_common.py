"""What the benchmark scripts share: the machine description of their reports and reading an earlier report.

Each training benchmark trains resumable runs under ``--run-dir`` and writes one JSON report (and a PNG beside it)
to ``--out``; the report's ``machine`` entry says where the numbers were measured.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

import metarl


def machine_info() -> dict[str, Any]:
    """CPU count, torch threads and library versions of this process, for a report's ``machine`` entry."""
    return {
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "torch": torch.__version__, "numpy": np.__version__, "metarl": metarl.__version__,
        "processor": platform.processor() or platform.machine(),
    }


def load_earlier_report(out: Path, config: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """The report an earlier run wrote to ``out``, for ``--update`` (rerun part of a benchmark, keep the rest).

    :param config: this run's settings (as in the report's ``config``); the earlier report must have been
        written with the same values except the keys in ``ignore``, or its numbers would not be comparable.
    :raises FileNotFoundError: if there is no earlier report.
    :raises ValueError: naming the settings that differ.
    """
    if not out.exists():
        raise FileNotFoundError(f"--update: {out} does not exist; run without --update first")
    earlier = json.loads(out.read_text())
    ours = {k: v for k, v in config.items() if k not in ignore}
    theirs = {k: v for k, v in earlier.get("config", {}).items() if k not in ignore}
    differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if differing:
        raise ValueError(f"--update: {out} was written with other settings: {', '.join(differing)}")
    return earlier
