"""The domain-dependent defaults of the MAML paper's RL experiments (agents.paper_settings) and how the
evaluation takes an explicit held-out task list (the original code's test goals live in
reproductions/maml2017/original_tasks.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import agents.paper_settings as paper_settings  # noqa: E402
from agents.evaluation import EvaluationConfig, evaluate_adaptation, held_out_tasks  # noqa: E402
from agents.maml_trpo import MAMLTRPOConfig, build_policy  # noqa: E402
from envs.nav2d import GoalTask  # noqa: E402
from metarl.rl.sampler import PolicyRollouts  # noqa: E402

ALL_ENVS = ("MetaNav2D-v0", "MetaCheetahVel-v0", "MetaCheetahDir-v0", "MetaAntVel-v0", "MetaAntDir-v0")


def test_batch_sizes_of_section_5_3_and_app_a2():
    assert paper_settings.LOCOMOTION_ENVS == ALL_ENVS[1:]
    assert [paper_settings.meta_batch_size(e) for e in ALL_ENVS] == [20, 40, 40, 40, 40]
    assert [paper_settings.fast_batch_size(e) for e in ALL_ENVS] == [20, 20, 20, 20, 40]
    assert [paper_settings.eval_rollouts(e) for e in ALL_ENVS] == [40, 20, 20, 20, 20]
    config = MAMLTRPOConfig(env_id="MetaAntDir-v0")
    assert (config.meta_batch_size, config.fast_batch_size) == (40, 40)  # None takes the paper's value
    assert not hasattr(paper_settings, "original_test_tasks")  # moved to reproductions/maml2017


def test_paper_curves_for_plots():
    """The published MAML-TRPO returns after 0..3 steps (Figs. 4-5), for the five envs the paper ran."""
    assert set(paper_settings.PAPER_MAML_CURVES) == set(ALL_ENVS)
    assert paper_settings.paper_curve("MetaNav2D-v0") == [-40.4, -11.7, -3.3, -3.2]
    assert paper_settings.paper_curve("MetaCheetahDir-v0")[1] == 293.2
    assert paper_settings.paper_curve("MetaNav2DFamily-v0") is None
    curve = paper_settings.paper_curve("MetaAntVel-v0")
    curve.append(0.0)  # a copy: the table is untouched
    assert len(paper_settings.paper_curve("MetaAntVel-v0")) == 4


def test_evaluation_takes_an_explicit_task_list():
    """``tasks=`` replaces the seed's draw: task i runs in slot i with the slot's resets and noise, so changing the
    second task leaves the first task's returns as they were and changes the second's; the wrong number of tasks
    is refused."""
    policy = build_policy(2, 2, hidden_sizes=(8,), init_log_std=0.0, dtype=torch.float32, seed=0)
    config = EvaluationConfig(num_tasks=2, num_steps=0, rollouts_per_task=2)
    a, b = GoalTask(goal=(0.3, -0.2)), GoalTask(goal=(-0.4, 0.4))
    rollouts = PolicyRollouts("MetaNav2D-v0", 2, 1)
    try:
        sampled = held_out_tasks(rollouts, config)
    finally:
        rollouts.close()
    assert sampled != [a, b]

    def returns(tasks):
        return evaluate_adaptation(policy, "MetaNav2D-v0", config, tasks=tasks, show_progress=False)["per_task"][0]

    same, other = returns([a, a]), returns([a, b])
    assert same[0] == other[0] and same[1] != other[1]
    drawn = evaluate_adaptation(policy, "MetaNav2D-v0", config, show_progress=False)["per_task"][0]
    assert drawn == returns(sampled) and drawn != other
    with pytest.raises(ValueError, match="got 1 tasks, EvaluationConfig.num_tasks is 2"):
        evaluate_adaptation(policy, "MetaNav2D-v0", config, tasks=[a], show_progress=False)
