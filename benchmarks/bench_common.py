"""What the training benchmarks share: the run-folder options and the machine description of their reports.

Each benchmark script trains resumable runs under ``--run-dir`` and writes one JSON report (and a PNG beside it)
to ``--out``; the report's ``machine`` entry says where the numbers were measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

import metarl


def add_run_arguments(parser: argparse.ArgumentParser, default_run_dir: Path, default_out: Path,
                      run_dir_help: str) -> None:
    """Add ``--run-dir``, ``--out``, ``--fresh`` and ``--threads`` (the options every training benchmark has)."""
    parser.add_argument("--run-dir", default=str(default_run_dir), help=run_dir_help)
    parser.add_argument("--out", default=str(default_out), help="output JSON (the PNG goes beside it)")
    parser.add_argument("--fresh", action="store_true",
                        help="refuse to resume: fail if --run-dir already holds checkpoints")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")


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
