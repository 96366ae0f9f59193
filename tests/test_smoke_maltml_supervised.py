"""Smoke test of the MALTML reproduction (reproductions/maltml/): the sinusoid-family benchmark end to end with a
tiny budget, in-process.  The full tests of the reproduction run with ``python -m pytest reproductions/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # reproductions/ is not installed: import it from the checkout

import reproductions.maltml.bench_maltml_sinusoid as bench  # noqa: E402

TINY = ["--no-progress", "--iterations", "2", "--seeds", "0", "--methods", "maltml_fo", "maml", "--maml-inner-lrs",
        "0.01", "--hidden-sizes", "4", "--n-families", "2", "--n-tasks", "2", "--maml-meta-batch-size", "4",
        "--eval-families", "3", "--val-families", "2", "--eval-goal-query", "5", "--eval-steps", "1",
        "--tune-family-lrs", "0.01", "--tune-goal-lrs", "0.001", "0.01"]


def test_maltml_sinusoid_benchmark_runs_and_writes_its_report(tmp_path, capsys):
    out = tmp_path / "maltml_sinusoid.json"
    report = bench.main([*TINY, "--run-dir", str(tmp_path / "runs"), "--out", str(out)])
    written = json.loads(out.read_text())
    assert set(written["runs"]) == {"maltml_fo", "maml_lr0.01"} and written["claim"] == report["claim"]
    assert set(report["claim"]) == {"maltml_fo - maml_lr0.01 (as_trained)", "maltml_fo - maml_lr0.01 (tuned)"}
    assert len(written["runs"]["maltml_fo"]["tuned"]["loss_mean"]) == 2
    assert out.with_suffix(".png").stat().st_size > 0 and "wrote" in capsys.readouterr().out
