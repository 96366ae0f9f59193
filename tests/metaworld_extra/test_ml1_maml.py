"""MAML-TRPO on Meta-World ML1 (issue 34): held-out test variations in evaluation, Meta-World's success flag through
the samplers into the evaluation JSON and progress.csv, rendering, and the pieces of reproductions/metaworld2019.

Needs ``metarl[metaworld]`` (``make test-metaworld``); see this folder's conftest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco

import gymnasium as gym  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import metarl  # noqa: E402, F401  (registers the env ids)
from agents.cli import evaluate_main  # noqa: E402
from agents.evaluation import EvaluationConfig, held_out_tasks  # noqa: E402
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from agents.rendering import render_adaptation  # noqa: E402
from agents.training import TrainingConfig, train  # noqa: E402
from metarl.logger import read_csv  # noqa: E402
from metarl.rl.sampler import PolicyRollouts, collect_episodes, make_stepper  # noqa: E402
from reproductions.metaworld2019.train import Args, write_result  # noqa: E402

REACH = "MetaWorldML1-reach-v3"
TINY = {"env_id": REACH, "meta_batch_size": 2, "fast_batch_size": 2, "hidden_sizes": (8,), "seed": 1}
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore:.*maximum and minimum values are equal.*"),
]


def _evaluation_tasks(num_tasks: int, workers: int) -> list:
    """The evaluation's held-out tasks, drawn through a sampler of ``workers`` processes (2 env copies)."""
    rollouts = PolicyRollouts(REACH, 2, 1, workers=workers)
    try:
        return held_out_tasks(rollouts, EvaluationConfig(num_tasks=num_tasks))
    finally:
        rollouts.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluation_draws_the_held_out_test_variations(workers):
    tasks = _evaluation_tasks(50, workers)
    assert sorted(tasks, key=lambda t: t.index) == list(gym.make(REACH).unwrapped.test_tasks)  # each of the 50 once
    assert tasks[:3] == _evaluation_tasks(3, 1)  # a shorter evaluation takes the first of the same draw


def _reach_then_idle(goals: torch.Tensor):
    """act_fn: rollout 0 of every task drives the hand to its goal (a proportional controller), rollout 1 stays."""

    def act(obs: torch.Tensor) -> torch.Tensor:
        actions = torch.zeros(*obs.shape[:2], 4, dtype=obs.dtype)
        actions[:, 0, :3] = (10.0 * (goals.to(obs.dtype) - obs[:, 0, :3])).clamp(-1.0, 1.0)
        return actions

    return act


@pytest.mark.parametrize("workers", [1, 2])
def test_success_flags_reach_the_episodes(workers):
    env = gym.make(REACH).unwrapped
    tasks = env.sample_test_tasks(2, rng=4)
    goals = torch.tensor([task.rand_vec[3:] for task in tasks])
    stepper = make_stepper(REACH, 4, workers=workers)
    try:
        episodes = collect_episodes(stepper, tasks, 2, _reach_then_idle(goals), horizon=120, seed=0)
    finally:
        stepper.close()
    # the start pose is more than 5 cm from every goal: the idle rollouts never succeed
    assert episodes.success.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert episodes.success_rates().tolist() == [0.5, 0.5]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny MAML-TRPO iteration on reach-v3 (last.pt, best.pt, progress.csv)."""
    run_dir = tmp_path_factory.mktemp("ml1") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    agent = MAMLTRPO(MAMLTRPOConfig(**TINY))
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir), iterations=1, tensorboard=False, progress=False))
    finally:
        agent.close()
        torch.set_num_threads(threads)
    return run_dir


def test_training_logs_success_and_the_driver_writes_the_evaluation(tiny_run, tmp_path, capsys):
    progress = read_csv(tiny_run / "progress.csv")
    for key in ("train/success_before_adapt", "train/success_after_adapt"):
        assert len(progress[key]) == 1 and 0.0 <= progress[key][0] <= 1.0
    curve = evaluate_main(["--checkpoint", str(tiny_run / "best.pt"), "--out", str(tmp_path / "evaluation.json"),
                           "--eval-tasks", "2", "--eval-rollouts", "2", "--eval-steps", "1"])
    assert "success rate" in capsys.readouterr().out
    assert len(curve["success_rate"]) == len(curve["success_ci95"]) == 2
    assert all(task["split"] == "test" for task in curve["tasks"])
    args = Args(name="tiny", run_dir=tiny_run, out_dir=tmp_path, checkpoint="last.pt")
    write_result(args, tiny_run, curve)
    result = json.loads((tmp_path / "tiny.json").read_text())
    assert result["success_rate"] == curve["success_rate"] and result["evaluated_iteration"] == 1
    assert set(result["training_curve"]) >= {"step", "success_before_adapt", "success_after_adapt"}
    assert result["settings"]["meta_batch_size"] == {"value": 20, "source": "Table 9, ML1: meta-batch size 20"}


def test_render_adaptation_on_a_test_variation(tiny_run, tmp_path):
    paths = render_adaptation(tiny_run / "last.pt", tmp_path, steps=1, rollouts=2, width=48, height=32,
                              max_steps=4, show_progress=False)
    assert [p.name for p in paths] == ["step0.mp4", "step1.mp4", "adaptation_tiled.mp4", "summary.json"]
    summary = json.loads(paths[-1].read_text())
    assert summary["task"]["split"] == "test" and summary["clip_lengths"] == [4, 4]
    assert len(summary["clip_success"]) == 2 and all(isinstance(s, bool) for s in summary["clip_success"])
