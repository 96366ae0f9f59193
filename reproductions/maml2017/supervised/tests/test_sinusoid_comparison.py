"""The MAML paper's sinusoid experiment (reproductions/maml2017/supervised): the App. C.1 multi-task baselines,
the comparison runner and its plots, and the benchmark scripts with tiny budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import reproductions.maml2017.supervised.multitask as multitask
from metarl.supervised import SinusoidTasks
from reproductions.cli import flag_help
from reproductions.maml2017.supervised.multitask import (
    MultiTaskConfig,
    multitask_group_bounds,
    train_multitask_average,
)
from reproductions.maml2017.supervised.sinusoid_comparison import (
    SinusoidComparisonConfig,
    plot_sinusoid_curves,
    plot_sinusoid_fits,
    run_sinusoid_comparison,
)

ROOT = Path(__file__).resolve().parents[4]
BENCH = ROOT / "reproductions" / "maml2017" / "supervised"
torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (MultiTaskConfig, {"regularization": "l1"}, "regularization"),
        (SinusoidComparisonConfig, {"methods": ("maml", "reptile")}, "methods"),
        (SinusoidComparisonConfig, {"tune_seed": 1, "eval_seed": 1}, "tune_seed"),
    ],
)
def test_bad_values_name_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field}"):
        cls(**kwargs)


def test_paper_defaults():
    assert MultiTaskConfig().n_models == 500
    assert SinusoidComparisonConfig().eval_tasks == 600 and SinusoidComparisonConfig().iterations == 70_000


# ======================================================================= App. C.1 multi-task baselines
def test_multitask_average_and_resume(tmp_path, monkeypatch):
    config = MultiTaskConfig(n_models=4, group_size=2, train_steps=5, batch_points=8, hidden_sizes=(4,),
                             regularization="mean", reg_strength=0.1)
    uninterrupted = train_multitask_average(config, progress_bar=False)
    assert len(uninterrupted.task_mse) == 4 and uninterrupted.reg_strength == 0.1
    assert tuple(uninterrupted.mean_params["0.weight"].shape) == (4, 1)

    real = multitask._train_group
    calls = []

    def crash_on_second_group(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(multitask, "_train_group", crash_on_second_group)
    with pytest.raises(KeyboardInterrupt):
        train_multitask_average(config, run_dir=tmp_path, progress_bar=False)
    monkeypatch.setattr(multitask, "_train_group", real)
    resumed = train_multitask_average(config, run_dir=tmp_path, resume=True, progress_bar=False)
    for k, v in uninterrupted.mean_params.items():
        torch.testing.assert_close(resumed.mean_params[k], v)
    assert resumed.task_mse == pytest.approx(uninterrupted.task_mse)
    curve = resumed.regressor().evaluate(SinusoidTasks().evaluation_set(3, 5, 5).batch(5), steps=1)
    assert curve.loss.shape == (3, 2)

def test_multitask_mean_groups_start_sequential_then_double():
    mean = MultiTaskConfig(n_models=40, group_size=8, regularization="mean")
    assert multitask_group_bounds(mean) == [(0, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 24), (24, 32),
                                            (32, 40)]
    flat = replace(mean, regularization="none", n_models=20)
    assert multitask_group_bounds(flat) == [(0, 8), (8, 16), (16, 20)]

def test_multitask_regularization_strength_is_calibrated():
    config = MultiTaskConfig(n_models=2, group_size=2, train_steps=3, batch_points=8, hidden_sizes=(4,),
                             regularization="l2", reg_grid=(1.0, 1e-3), probe_models=2, max_task_mse=100.0)
    result = train_multitask_average(config, progress_bar=False)
    assert result.reg_strength == 1.0 and list(result.calibration) == [1.0]  # the largest λ that still fits
    assert result.calibration_met is True
    strict = train_multitask_average(replace(config, max_task_mse=1e-9), progress_bar=False)
    assert strict.calibration_met is False and strict.reg_strength == 1e-3  # none fits: the smallest λ


# ========================================================================================== scripts
def run_script(path: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.mark.parametrize("script", ["reproductions/maml2017/supervised/bench_sinusoid.py",
                                    "reproductions/maml2017/supervised/bench_sinusoid_seeds.py"])
def test_help_explains_every_option(script):
    result = run_script(ROOT / script, "--help")
    assert result.returncode == 0, result.stderr
    flags = flag_help(result.stdout)
    assert len(flags) >= 15 and all(flags.values()), flags


def test_sinusoid_comparison_smoke_plots_and_refuses_to_overwrite(tmp_path):
    config = SinusoidComparisonConfig(iterations=4, eval_tasks=4, eval_query=5, eval_steps=2, eval_k_shots=(2, 3),
                                      tune_tasks=3, checkpoint_every=2)
    report = run_sinusoid_comparison(config, tmp_path, progress_bar=False, log=lambda _: None)
    agents, eval_set = report.pop("_agents"), report.pop("_eval_set")
    json.dumps(report)  # JSON-ready once the agents are popped
    assert set(report["methods"]) == {"maml", "fomaml", "pretrained", "oracle"}
    curve = report["methods"]["maml"]["curves"]["2"]
    assert curve["steps"] == [0, 1, 2] and curve["n_tasks"] == 4
    assert report["methods"]["maml"]["step_size"]["2"] == 0.01
    assert report["methods"]["pretrained"]["step_size"]["2"] in config.tune_candidates
    assert plot_sinusoid_curves(report["methods"], tmp_path / "curves.png").stat().st_size > 0
    fitted = {name: agents[name] for name in ("maml", "pretrained")}
    assert plot_sinusoid_fits(fitted, eval_set, tmp_path / "fits.png", k_shot=2, steps=(0, 1, 2)).stat().st_size > 0
    assert (tmp_path / "maml" / "last.pt").exists()
    # a second run of a finished training without resume refuses to overwrite it
    with pytest.raises(FileExistsError, match="resume"):
        run_sinusoid_comparison(SinusoidComparisonConfig(iterations=4, methods=("maml",), eval_tasks=4), tmp_path,
                                progress_bar=False, log=lambda _: None)


def test_bench_sinusoid_seeds_reports_every_seed_and_the_mean_over_seeds(tmp_path):
    out = tmp_path / "seeds.json"
    result = run_script(BENCH / "bench_sinusoid_seeds.py", "--seeds", "0", "3", "--iterations", "3",
                        "--eval-tasks", "3", "--eval-query", "4", "--eval-steps", "5", "--eval-k-shots", "5",
                        "--tune-tasks", "2", "--hidden-sizes", "4", "--run-dir", str(tmp_path / "runs"),
                        "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    maml = report["methods"]["maml"]
    assert report["seeds"] == [0, 3] and set(maml["per_seed"]) == {"0", "3"}
    curves = [maml["per_seed"][s]["5"] for s in ("0", "3")]
    assert curves[0] != curves[1]  # the seeds train different networks
    over = maml["over_seeds"]["5"]
    assert over["n_seeds"] == 2 and len(over["mean"]) == 6
    assert over["mean"][5] == pytest.approx((curves[0][5] + curves[1][5]) / 2)
    row = maml["paper_table2_5shot"]
    assert row["steps"] == [1, 5] and row["paper"] == [0.67, 0.38]
    assert row["at_or_below_paper"] == [o <= p for o, p in zip(row["ours"], row["paper"])]
    bad = run_script(BENCH / "bench_sinusoid_seeds.py", "--seeds", "1", "1", "--out", str(out))
    assert bad.returncode != 0 and "--seeds" in bad.stderr


def test_bench_sinusoid_update_reruns_some_methods_and_keeps_the_others(tmp_path):
    common = ["--iterations", "3", "--eval-tasks", "3", "--eval-query", "4", "--eval-steps", "1",
              "--eval-k-shots", "5", "--tune-tasks", "2", "--multitask-models", "2", "--multitask-steps", "2",
              "--hidden-sizes", "4", "--out", str(tmp_path / "sin.json")]
    first = run_script(BENCH / "bench_sinusoid.py", *common, "--run-dir", str(tmp_path / "a"),
                       "--methods", "maml", "multitask_mean")
    assert first.returncode == 0, first.stderr
    earlier = json.loads((tmp_path / "sin.json").read_text())
    update = run_script(BENCH / "bench_sinusoid.py", *common, "--run-dir", str(tmp_path / "b"),
                        "--methods", "multitask_mean", "--update")
    assert update.returncode == 0, update.stderr
    report = json.loads((tmp_path / "sin.json").read_text())
    assert report["config"]["methods"] == ["maml", "multitask_mean"]
    assert report["methods"]["maml"] == earlier["methods"]["maml"]  # kept as it was
    assert report["wall_clock_seconds"]["kept_from_earlier_run"] == ["maml"]
    assert "multitask_mean" in report["paper_table2_5shot"] and "maml" in report["paper_table2_5shot"]
    other = run_script(BENCH / "bench_sinusoid.py", *common, "--run-dir", str(tmp_path / "c"),
                       "--methods", "multitask_mean", "--update", "--eval-seed", "7")
    assert other.returncode != 0 and "eval_seed" in other.stderr  # different settings are not mixed
