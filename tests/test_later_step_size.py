"""agents/later_step_size.py and benchmarks/bench_later_step_size.py: the later adaptation step size is chosen on
validation tasks only, by the mean return over steps 2..N, and the benchmark reports it next to the paper's halving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import metarl  # noqa: E402,F401
from agents import later_step_size  # noqa: E402
from agents.evaluation import EvaluationConfig, evaluate_adaptation  # noqa: E402
from agents.later_step_size import later_step_sizes, select_later_step_size, validation_score  # noqa: E402
from agents.training import load_policy  # noqa: E402
from benchmarks.bench_later_step_size import main  # noqa: E402

NAV_CHECKPOINT = ROOT / "checkpoints" / "maml_nav2d_original_code_fd_maml_eps_seed1.pt"


def test_score_is_the_mean_over_steps_two_and_later():
    assert validation_score({"mean": [-40.0, -12.0, -4.0, -2.0]}) == pytest.approx(-3.0)
    with pytest.raises(ValueError, match="steps 0..2"):
        validation_score({"mean": [-40.0, -12.0]})


def test_sizes_keep_the_first_step_and_scale_the_later_ones():
    assert later_step_sizes(0.5, 0.25) == (0.5, 0.125)


def test_choice_sees_only_validation_tasks_and_keeps_the_best_later_factor(monkeypatch):
    seen: list[EvaluationConfig] = []
    # fake curves: step 1 does not depend on the later size; steps 2-3 are best at a later size of 0.1
    def fake_evaluate(policy, env_id, config, show_progress=True):
        seen.append(config)
        later = config.step_sizes[1]
        return {"mean": [-40.0, -12.0, -3.0 - 50 * abs(later - 0.1), -2.0 - 50 * abs(later - 0.1)],
                "ci95": [1.0] * 4}

    monkeypatch.setattr(later_step_size, "evaluate_adaptation", fake_evaluate)
    test = EvaluationConfig(seed=12345, step_sizes=(0.4, 0.2), task_set="original")
    out = select_later_step_size(None, "MetaNav2D-v0", test, 0.4, factors=(1.0, 0.5, 0.25, 0.125), validation_seed=7)
    assert out["factor"] == 0.25 and out["step_sizes"] == [0.4, 0.1]
    assert [c["factor"] for c in out["candidates"]] == [1.0, 0.5, 0.25, 0.125]
    assert [c["score"] for c in out["candidates"]] == pytest.approx([-17.5, -7.5, -2.5, -5.0])
    # every candidate ran on the validation seed's sampled tasks, with its own sizes, never on the test tasks
    assert all(c.seed == 7 and c.task_set == "sampled" for c in seen)
    assert [c.step_sizes for c in seen] == [(0.4, 0.4), (0.4, 0.2), (0.4, 0.1), (0.4, 0.05)]


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_seed": 12345}, "test evaluation's seed"),
    ({"factors": ()}, "factors must be non-empty"),
    ({"factors": (0.5, 0.0)}, "factors must be non-empty and > 0"),
    ({"first_step_size": 0.0}, "first_step_size must be > 0"),
])
def test_refuses_choices_that_would_see_the_test_tasks_or_make_no_sense(kwargs, message):
    args = {"first_step_size": 0.5, **kwargs}
    with pytest.raises(ValueError, match=message):
        select_later_step_size(None, "MetaNav2D-v0", EvaluationConfig(seed=12345), **args)


def test_refuses_an_evaluation_without_a_later_step():
    with pytest.raises(ValueError, match="num_steps is 1"):
        select_later_step_size(None, "MetaNav2D-v0", EvaluationConfig(num_steps=1), 0.5)


def test_candidate_curves_are_real_evaluations_on_the_validation_seed():
    policy, config = load_policy(NAV_CHECKPOINT)
    test = EvaluationConfig(num_tasks=3, num_steps=2, rollouts_per_task=4, batch=config.batch)
    out = select_later_step_size(policy, config.env_id, test, config.fast_lr, factors=(0.5, 0.25), validation_seed=99)
    again = evaluate_adaptation(policy, config.env_id, EvaluationConfig(
        num_tasks=3, num_steps=2, rollouts_per_task=4, batch=config.batch, seed=99,
        step_sizes=(config.fast_lr, 0.25 * config.fast_lr)), show_progress=False)
    np.testing.assert_allclose(out["candidates"][1]["mean"], again["mean"])
    assert out["factor"] == max(out["candidates"], key=lambda c: c["score"])["factor"]


def test_bench_reports_the_halving_and_the_chosen_size_on_both_task_sets(tmp_path):
    out = tmp_path / "later.json"
    report = main(["--checkpoint", f"s1={NAV_CHECKPOINT}", "--tasks", "2", "--steps", "2",
                   "--factors", "0.5", "0.25", "--out", str(out)])
    (row,) = report["runs"]
    alpha = row["fast_lr"]
    assert row["paper_halving_sampled"]["step_sizes"] == [alpha, 0.5 * alpha]
    assert row["chosen_original"]["step_sizes"] == [alpha, row["selection"]["factor"] * alpha]
    assert all(len(row[k]["mean"]) == 3 for k in ("paper_halving_sampled", "chosen_sampled",
                                                  "paper_halving_original", "chosen_original"))
    assert json.loads(out.read_text())["runs"][0]["selection"] == row["selection"]


def test_bench_refuses_a_validation_seed_equal_to_the_test_seed(tmp_path):
    with pytest.raises(SystemExit):
        main(["--seed", "5", "--validation-seed", "5", "--out", str(tmp_path / "x.json")])


def test_evaluate_script_chooses_and_uses_the_later_step_size(tmp_path):
    out = tmp_path / "eval.json"
    cmd = [sys.executable, str(ROOT / "examples" / "evaluate.py"), "--checkpoint", str(NAV_CHECKPOINT),
           "--steps", "2", "--tasks", "2", "--rollouts", "2", "--step-sizes", "0.5", "0.25",
           "--choose-later-step-size", "0.5", "0.125", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "METARL_NO_PROGRESS": "1"})
    assert result.returncode == 0, result.stderr
    curve = json.loads(out.read_text())
    chosen = curve["later_step_size"]
    assert [c["factor"] for c in chosen["candidates"]] == [0.5, 0.125]
    assert curve["config"]["step_sizes"] == [0.5, 0.5 * chosen["factor"]]

    same_seed = subprocess.run([*cmd[:-2], "--validation-seed", "12345", "--out", str(out)],
                               capture_output=True, text=True, env={**os.environ, "METARL_NO_PROGRESS": "1"})
    assert same_seed.returncode == 2 and "test evaluation's seed" in same_seed.stderr
