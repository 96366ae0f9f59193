"""benchmarks/bench_maml_trpo_speed.py: one row per setting, each row naming the settings the agent really ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from benchmarks.bench_maml_trpo_speed import main  # noqa: E402

# times real meta-iterations of the paper's MetaNav2D config (~10 s): run by `make bench`, which also runs the benchmark
pytestmark = pytest.mark.slow


def test_rows_cover_each_setting_and_record_what_the_agent_used(tmp_path):
    out = tmp_path / "speed.json"
    report = main(["--hvp", "fd-forward", "gn", "--workers", "1", "--iterations", "1",
                   "--warmup", "0", "--out", str(out)])
    rows = report["results"]
    assert [r["hvp"] for r in rows] == ["fd-forward", "gn"] and all(r["workers"] == 1 for r in rows), rows
    for row in rows:
        # the phases are parts of the iteration, so none can exceed it
        assert 0 < row["meta_step"] < row["iteration"], row
        assert 0 < row["sampling"] < row["iteration"], row
    assert json.loads(out.read_text())["results"] == rows
