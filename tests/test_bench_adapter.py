"""benchmarks/bench_adapter.py: every batched form measured, and the adapter's MAML-TRPO data equal to the native's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from benchmarks.bench_adapter import main  # noqa: E402

# spawns worker processes and times meta-iterations (~30 s): run by `make bench`, which also runs the benchmark
pytestmark = pytest.mark.slow


def test_rates_of_every_form_and_the_same_returns_through_the_adapter(tmp_path):
    out = tmp_path / "adapter.json"
    report = main(["--tasks", "2", "--rollouts", "2", "--rounds", "1", "--iterations", "1", "--warmup", "0",
                   "--note", "test", "--out", str(out)])
    assert set(report["env_steps"]["methods"]) == {"native", "sync", "async", "gymnasium_sync"}
    assert all(m["steps_per_s"] > 0 for m in report["env_steps"]["methods"].values())
    rows = {(row["form"], row["workers"]): row for row in report["maml"]}
    assert set(rows) == {("native", 1), ("native", 2), ("adapter", 1), ("adapter", 2)}
    returns = {key: row["return_before_adapt"] for key, row in rows.items()}
    assert len({tuple(r) for r in returns.values()}) == 1, returns  # the adapter changes the speed, not the data
    assert json.loads(out.read_text())["machine"]["note"] == "test"
