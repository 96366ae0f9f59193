"""Smoke test of the MAML paper's supervised reproduction (reproductions/maml2017/supervised/): every driver end to
end with a tiny budget, in-process.  The full tests of the reproduction run with ``python -m pytest reproductions/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # reproductions/ is not installed: import it from the checkout

import reproductions.maml2017.supervised.bench_glyphs as bench_glyphs  # noqa: E402
import reproductions.maml2017.supervised.bench_sinusoid as bench_sinusoid  # noqa: E402
import reproductions.maml2017.supervised.bench_sinusoid_seeds as bench_sinusoid_seeds  # noqa: E402
import reproductions.maml2017.supervised.run_fewshot as run_fewshot  # noqa: E402
from reproductions.maml2017.supervised.bench_sinusoid import RESULTS  # noqa: E402

SINUSOID = ["--iterations", "2", "--eval-tasks", "3", "--eval-query", "4", "--eval-steps", "1", "--eval-k-shots", "5",
            "--tune-tasks", "2", "--tune-candidates", "0.01", "--hidden-sizes", "4"]
FEWSHOT = ["--width", "4", "--meta-batch-size", "2", "--eval-tasks", "4", "--iterations", "1", "--val-every", "0",
           "--log-every", "1", "--no-progress"]


def test_results_go_to_the_reproduction_folder():
    assert RESULTS.parts[-3:] == ("reproductions", "maml2017", "results")


def test_sinusoid_benchmarks(tmp_path):
    out = tmp_path / "sinusoid.json"
    report = bench_sinusoid.main([*SINUSOID, "--methods", "maml", "multitask_none", "--multitask-models", "2",
                                  "--multitask-steps", "2", "--run-dir", str(tmp_path / "a"), "--out", str(out)])
    assert json.loads(out.read_text())["methods"].keys() == {"maml", "multitask_none"}
    assert report["paper_table2_5shot"]["maml"]["paper"] == [0.67]
    seeds = bench_sinusoid_seeds.main([*SINUSOID, "--seeds", "0", "1", "--no-progress", "--run-dir",
                                       str(tmp_path / "b"), "--out", str(tmp_path / "seeds.json")])
    assert seeds["methods"]["maml"]["over_seeds"]["5"]["n_seeds"] == 2


@pytest.fixture(scope="module")
def glyphs(tmp_path_factory) -> list[str]:
    """A 50-class Glyphs subset (35 train / 5 val / 10 test classes) rendered once into a private cache."""
    return ["--glyphs-max-classes", "50", "--cache-dir", str(tmp_path_factory.mktemp("glyphs_cache"))]


def test_glyphs_benchmark_and_fewshot_run(tmp_path, glyphs):
    out = tmp_path / "glyphs.json"
    report = bench_glyphs.main([*glyphs, *FEWSHOT, "--settings", "5way_1shot", "--methods", "fomaml",
                                "--run-dir", str(tmp_path / "runs"), "--out", str(out)])
    assert set(report["settings"]["5way_1shot"]["methods"]) == {"fomaml", "pixel_1nn"}
    assert out.with_suffix(".png").stat().st_size > 0
    result = run_fewshot.main([*glyphs, *FEWSHOT, "--first-order", "--run-dir", str(tmp_path / "one")])
    assert result["iterations"] == 1 and (tmp_path / "one" / "result.png").stat().st_size > 0
