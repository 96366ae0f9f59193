"""Smoke test of the meta-augmentation reproduction (reproductions/meta_augmentation/): its benchmark end to end
with a tiny budget (NME sinusoid and label schemes on a 50-class Glyphs subset), in-process.  The full tests of the reproduction run with
``python -m pytest reproductions/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # reproductions/ is not installed: import it from the checkout

import reproductions.meta_augmentation.bench_meta_augmentation as bench  # noqa: E402


def test_meta_augmentation_benchmark(tmp_path):
    out = tmp_path / "meta_augmentation.json"
    glyphs = ["--labels.glyphs-max-classes", "50", "--labels.cache-dir", str(tmp_path / "glyphs_cache")]
    report = bench.main([
        "--no-progress", "--run-dir", str(tmp_path / "runs"), "--out", str(out),
        "--sinusoid.seeds", "0", "--sinusoid.methods", "maml", "maml_aug", "--sinusoid.iterations", "2",
        "--sinusoid.val-every", "1", "--sinusoid.eval-tasks", "3", "--sinusoid.val-tasks", "2",
        "--sinusoid.eval-steps", "1", "--sinusoid.log-every", "1", "--sinusoid.hidden-sizes", "4",
        *glyphs, "--labels.val-every", "0", "--labels.schemes", "intrashuffle", "intershuffle",
        "--labels.iterations", "1", "--labels.width", "4", "--labels.meta-batch-size", "2",
        "--labels.eval-tasks", "4", "--labels.log-every", "1",
    ])
    assert json.loads(out.read_text()) == report and out.with_suffix(".png").stat().st_size > 0
    assert set(report["sinusoid"]["summary"]) == {"maml", "maml_aug"}
    assert set(report["sinusoid_direction"]) == {"final", "best_val"}
    assert set(report["labels"]["summary"]) == {"intrashuffle", "intershuffle"}
