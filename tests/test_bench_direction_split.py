"""benchmarks/bench_direction_split.py: half-cheetah direction curves split by direction, and the correlation of the
pre-update direction gap with the step-1 return over runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from benchmarks.bench_direction_split import (  # noqa: E402
    correlations,
    group_means,
    initial_direction_gap,
    main,
    run_row,
    split_by_direction,
    training_direction_gap,
)


def _curve(per_task: list[list[float]], directions: list[int]) -> dict:
    per_task_arr = np.asarray(per_task)
    return {"mean": per_task_arr.mean(axis=1).tolist(), "ci95": [0.0] * len(per_task), "per_task": per_task,
            "tasks": [{"direction": d} for d in directions]}


def test_split_means_each_direction_over_its_own_tasks():
    # steps x tasks; tasks 0 and 2 run forward, 1 and 3 backward
    curve = _curve([[-80.0, 0.0, -60.0, 10.0], [10.0, 150.0, 30.0, 130.0]], [1, -1, 1, -1])
    split = split_by_direction(curve)
    assert split["forward"]["num_tasks"] == 2 and split["backward"]["num_tasks"] == 2
    np.testing.assert_allclose(split["forward"]["mean"], [-70.0, 20.0])
    np.testing.assert_allclose(split["backward"]["mean"], [5.0, 140.0])
    half = stats.t.ppf(0.975, 1) * np.std([-80.0, -60.0], ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(split["forward"]["ci95"][0], half)
    row = run_row("x", curve, "x.pt")
    assert row["direction_gap_step0"] == pytest.approx(75.0)  # backward − forward before adaptation
    assert row["weaker_direction_step1"] == pytest.approx(20.0)


def test_split_refuses_tasks_without_both_directions():
    with pytest.raises(ValueError, match="no backward task"):
        split_by_direction(_curve([[1.0, 2.0]], [1, 1]))
    with pytest.raises(ValueError, match="direction of \\+1 or -1"):
        split_by_direction({"per_task": [[1.0]], "tasks": [{"velocity": 1.0}]})


def test_correlations_are_those_of_the_signed_and_absolute_gap_with_the_step1_mean():
    gaps, step1 = [80.0, -10.0, 40.0, -60.0], [70.0, 300.0, 200.0, 120.0]
    rows = [{"direction_gap_step0": g, "mean": [0.0, m]} for g, m in zip(gaps, step1)]
    out = correlations(rows)
    assert out["num_runs"] == 4
    assert out["signed_gap"]["pearson_r"] == pytest.approx(stats.pearsonr(gaps, step1).statistic)
    assert out["signed_gap"]["spearman_rho"] == pytest.approx(stats.spearmanr(gaps, step1).statistic)
    # |gap| 80, 10, 40, 60 against 70, 300, 200, 120: larger lean, lower step-1 return, in rank order
    assert out["absolute_gap"]["spearman_rho"] == pytest.approx(-1.0)
    assert out["absolute_gap"]["pearson_r"] == pytest.approx(stats.pearsonr(np.abs(gaps), step1).statistic)
    short = correlations(rows[:2])  # fewer than 3 runs: undefined
    assert short["signed_gap"] is None and short["absolute_gap"] is None


def test_main_evaluates_a_committed_checkpoint_on_the_evaluate_tasks(tmp_path):
    out = tmp_path / "split.json"
    report = main(["--checkpoint", f"fd4={ROOT / 'checkpoints' / 'maml_cheetah_dir_fd_forward_seed4.pt'}",
                   "--tasks", "6", "--steps", "1", "--no-initial", "--out", str(out)])
    assert json.loads(out.read_text())["runs"][0]["label"] == "fd4"
    row = report["runs"][0]
    assert row["forward"]["num_tasks"] + row["backward"]["num_tasks"] == 6
    assert len(row["mean"]) == 2 and "weaker_direction_step1" in row
    assert "initial_direction_gap" not in row and "initial_gap_vs_step1" not in report
    with pytest.raises(SystemExit):
        main(["--checkpoint", f"nav={ROOT / 'checkpoints' / 'maml_nav2d.pt'}", "--out", str(out)])


def test_initial_gap_is_that_of_the_first_training_iteration():
    """The gap rebuilt from a config is the backward − forward training return its run logs at iteration 1."""
    config = MAMLTRPOConfig(env_id="MetaCheetahDir-v0", meta_batch_size=6, fast_batch_size=2, hidden_sizes=(8, 8),
                            seed=3, workers=2)
    gaps = initial_direction_gap(config)
    agent = MAMLTRPO(config)
    metrics = agent.step()
    agent.close()
    for when in ("before", "after"):
        logged = metrics[f"train/return_{when}_adapt_backward"] - metrics[f"train/return_{when}_adapt_forward"]
        assert gaps[when] == pytest.approx(logged, rel=1e-6), when


def test_training_gap_averages_the_logged_lean_over_its_window():
    steps = list(range(1, 41))
    forward = [float(step) for step in steps]
    backward = [float(step) + (100.0 if 21 <= step <= 30 else -500.0) for step in steps]  # only the window counts
    backward[24] = None  # iteration 25 not logged: left out, not counted as zero
    result = {"training_curve": {"step": steps, "return_before_adapt_forward": forward,
                                 "return_before_adapt_backward": backward}}
    assert training_direction_gap(result) == pytest.approx(100.0)
    assert training_direction_gap(result, (1, 2)) == pytest.approx(-500.0)
    assert training_direction_gap(result, (50, 60)) is None  # no logged iteration in the window
    # runs from before the per-direction logs, and results without a training curve
    assert training_direction_gap({"training_curve": {"step": steps, "return_before_adapt": forward}}) is None
    assert training_direction_gap({}) is None


def test_correlations_skip_runs_without_the_gap():
    rows = [{"direction_gap_step0": 0.0, "training_direction_gap": g, "mean": [0.0, m]}
            for g, m in ((10.0, 300.0), (None, 50.0), (50.0, 200.0), (90.0, 100.0))]
    out = correlations(rows, "training_direction_gap")
    assert out["num_runs"] == 3
    assert out["signed_gap"]["spearman_rho"] == pytest.approx(-1.0)


def test_group_means_average_the_seeds_of_each_label_group():
    def row(label: str, mean: list[float], fwd: list[float], bwd: list[float]) -> dict:
        return {"label": label, "mean": mean, "forward": {"mean": fwd}, "backward": {"mean": bwd}}

    rows = [row("gn_seed1", [-40.0, 100.0], [-50.0, 50.0], [-30.0, 150.0]),
            row("gn_seed2", [-44.0, 300.0], [-54.0, 310.0], [-34.0, 290.0]),
            row("fd_central_seed1", [-45.0, 130.0], [-60.0, 60.0], [-30.0, 200.0]),  # alone in its group: left out
            row("custom", [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])]  # no _seed suffix: no group
    groups = group_means(rows)
    assert list(groups) == ["gn"] and groups["gn"]["runs"] == ["gn_seed1", "gn_seed2"]
    assert groups["gn"]["mean"] == pytest.approx([-42.0, 200.0])
    assert groups["gn"]["forward"] == pytest.approx([-52.0, 180.0]) and groups["gn"]["backward"][1] == pytest.approx(220.0)
    assert groups["gn"]["ci95"][1] == pytest.approx(stats.t.ppf(0.975, 1) * np.std([100.0, 300.0], ddof=1) / np.sqrt(2))
