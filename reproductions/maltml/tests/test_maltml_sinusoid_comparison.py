"""The MALTML sinusoid-family comparison (reproductions/maltml): seed aggregation, the paired claim test, the
benchmark script (tiny budgets, resume, merging seeds trained separately) and the nav2d benchmark's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproductions.cli import flag_help
from reproductions.maltml.sinusoid_comparison import (
    MALTMLSinusoidComparisonConfig,
    paired_difference,
    summarize_family_runs,
)

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "reproductions" / "maltml" / "bench_maltml_sinusoid.py"


def test_paired_difference_detects_a_lower_error():
    a = {"0": {"tuned": {"loss_per_family": [[1.0, 0.5], [1.2, 0.6], [0.9, 0.4]]}}}
    b = {"0": {"tuned": {"loss_per_family": [[1.1, 0.9], [1.3, 1.0], [1.0, 0.8]]}}}
    out = paired_difference(a, b, "tuned")
    assert out["difference_mean"] == pytest.approx([-0.1, -0.4])
    assert out["significantly_lower"] == [True, True] and out["ci_over"] == "families"


# ============================================================================ scripts
def run_script(path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.mark.parametrize("script", ["reproductions/maltml/bench_maltml_sinusoid.py",
                                    "reproductions/maltml/bench_maltml_nav2d.py"])
def test_help_explains_every_option(script):
    result = run_script(ROOT / script, "--help")
    assert result.returncode == 0, result.stderr
    flags = flag_help(result.stdout)
    assert len(flags) >= 15 and all(flags.values()), flags


TINY = ["--iterations", "3", "--hidden-sizes", "8", "--eval-families", "4", "--val-families", "3",
        "--eval-goal-query", "10", "--eval-steps", "2", "--tune-family-lrs", "0.01", "0.1",
        "--tune-goal-lrs", "0.001", "0.01", "--n-families", "2", "--maml-meta-batch-size", "4"]


def test_benchmark_runs_with_a_tiny_budget_and_resumes(tmp_path):
    run_dir, out = tmp_path / "run", tmp_path / "maltml_sinusoid.json"
    result = run_script(BENCH, "--no-progress", "--seeds", "0", "--run-dir", str(run_dir), "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"maltml", "maltml_fo", "maml_lr0.001", "maml_lr0.01", "oracle"}
    maltml = report["runs"]["maltml"]["seeds"]["0"]
    assert maltml["iterations"] == 3 and len(maltml["tuned"]["loss_mean"]) == 3
    assert "loss_per_family" not in maltml["tuned"]  # the compact report; the full one is in the run dir
    assert maltml["tuning"]["family_lr"] in (0.01, 0.1) and isinstance(maltml["tuning"]["at_grid_edge"], list)
    assert report["maml_tuned"] in ("maml_lr0.001", "maml_lr0.01")
    assert any(key.startswith("maltml - maml_lr") for key in report["claim"])
    assert out.with_suffix(".png").stat().st_size > 0
    assert (run_dir / "seed0" / "maltml" / "last.pt").exists()
    assert (run_dir / "maltml_sinusoid_full.json").exists()
    # a second invocation resumes (finished runs are only re-evaluated, to the same numbers)
    again = run_script(BENCH, "--no-progress", "--seeds", "0", "--run-dir", str(run_dir), "--out", str(out), *TINY)
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["claim"] == report["claim"]


def test_comparison_config_rejects_tuning_on_test_families():
    with pytest.raises(ValueError, match="val_seed"):
        MALTMLSinusoidComparisonConfig(val_seed=1, eval_seed=1)
    assert MALTMLSinusoidComparisonConfig(methods=("maml",), maml_inner_lrs=(0.001, 0.01)).run_names() == [
        "maml_lr0.001", "maml_lr0.01"]


def test_benchmark_merges_seeds_trained_separately(tmp_path):
    """Seeds trained by separate invocations merge into the report of one joint invocation (no re-training)."""
    bench = [str(BENCH), "--no-progress", *TINY,
             "--methods", "maltml", "maml", "--maml-inner-lrs", "0.01"]
    outs = {}
    for seeds in (["0"], ["1"], ["0", "1"]):
        name = "_".join(seeds)
        out = tmp_path / f"seeds{name}.json"
        result = run_script(Path(bench[0]), *bench[1:], "--seeds", *seeds, "--run-dir", str(tmp_path / name),
                            "--out", str(out))
        assert result.returncode == 0, result.stderr
        outs[name] = out
    merged_out = tmp_path / "merged.json"
    full = {name: tmp_path / name / "maltml_sinusoid_full.json" for name in outs}
    result = run_script(Path(bench[0]), "--merge", str(full["0"]), str(full["1"]), "--out", str(merged_out),
                        "--run-dir", str(tmp_path / "unused"))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "unused" / "seed0").exists()  # nothing trained
    merged, joint = json.loads(merged_out.read_text()), json.loads(outs["0_1"].read_text())
    assert merged["config"] == joint["config"] and merged["config"]["seeds"] == [0, 1]
    for key in ("claim", "maml_tuned", "maml_validation_scores", "eval_set", "val_set"):
        assert merged[key] == joint[key], key
    for name, run in joint["runs"].items():
        assert list(merged["runs"][name]["seeds"]) == ["0", "1"]
        for key in ("as_trained", "tuned"):
            assert merged["runs"][name][key] == run[key], (name, key)
    again = run_script(Path(bench[0]), "--merge", str(full["0"]), str(full["0_1"]), "--out", str(merged_out))
    assert again.returncode != 0 and "seed 0" in again.stderr  # a seed in two reports is refused


def _fake_seed_entry(level: float, score: float) -> dict:
    """A per-seed entry as _run_one returns it: curves over 2 families and steps 0..1."""
    curve = {"steps": [0, 1], "loss_mean": [level, level / 2], "loss_ci95": [0.1, 0.1],
             "loss_without_meta_update_mean": [2 * level, level], "loss_without_meta_update_ci95": [0.1, 0.1],
             "loss_per_family": [[level, level / 2], [level, level / 2]]}
    return {"train_seconds": 1.0, "iterations": 5, "as_trained": curve, "tuned": curve,
            "tuning": {"validation_score": score}}


def test_diverged_seeds_are_reported_and_left_out_of_the_aggregates():
    runs = {
        "maltml_fo": {"seeds": {"0": _fake_seed_entry(1.0, 1.0), "1": _fake_seed_entry(3.0, 1.0),
                                "2": {"diverged": "MALTML first-order update is not finite at iteration 7"}}},
        "maml_lr0.01": {"seeds": {s: _fake_seed_entry(2.0, 2.0) for s in ("0", "1", "2")}},
        "maltml": {"seeds": {"0": {"diverged": "not finite"}}},
    }
    report = summarize_family_runs({"seeds": [0, 1, 2]}, runs)
    fo = report["runs"]["maltml_fo"]
    assert fo["diverged_seeds"] == [2] and fo["tuned"]["seeds"] == [0, 1]
    assert fo["tuned"]["loss_mean"] == pytest.approx([2.0, 1.0])  # mean of seeds 0 and 1 only
    assert report["runs"]["maltml"]["tuned"] is None and report["runs"]["maltml"]["diverged_seeds"] == [0]
    claim = report["claim"]["maltml_fo - maml_lr0.01 (tuned)"]
    assert claim["seeds"] == [0, 1] and claim["difference_mean"] == pytest.approx([0.0, 0.0])
    assert not any(key.startswith("maltml -") for key in report["claim"])  # no finished seed, no claim
    assert report["maml_tuned"] == "maml_lr0.01"


def test_nav2d_benchmark_runs_with_a_tiny_budget(tmp_path):
    """MALTML-RL vs MAML-TRPO on MetaNav2DFamily-v0, one iteration each (about half a minute)."""
    out = tmp_path / "maltml_nav2d.json"
    result = run_script(ROOT / "reproductions" / "maltml" / "bench_maltml_nav2d.py", "--run-dir", str(tmp_path / "runs"),
                        "--out", str(out), "--maml-iterations", "1", "--maltml-iterations", "1", "--eval-families", "2",
                        "--tasks-per-family", "2", "--family-batch-size", "2", "--family-steps", "2",
                        "--tune-family-lrs", "0.1", "--tune-family-steps", "1")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"maltml", "maml_trpo"}
    assert report["budget"]["maltml_iterations"] == 1 and "holds" in report["claim"]
    assert out.with_suffix(".png").stat().st_size > 0
