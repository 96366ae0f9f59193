"""Success next to return, and held-out task sets (issue 34): an env whose step info has a numeric ``success`` flag
(Meta-World's rule: an episode succeeds if the flag is 1 at any real step) gets ``BatchEpisodes.success`` through
every sampler backend, ``success_rate`` in the evaluation JSON and success columns in training's progress.csv; an
env with ``sample_test_tasks`` is evaluated on its held-out set, and envs without either are unchanged.

Known answers come from ``tests.task_envs:PointReach-v0``: x' = x + 0.1 a from x = 0, success when |x - goal| < 0.03.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import metarl  # noqa: F401  (registers the env ids)
from agents.evaluation import EvaluationConfig, evaluate_adaptation, held_out_tasks
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import TrainingConfig, train
from envs import AsyncTaskVectorEnv, SyncTaskVectorEnv
from envs.base import sample_held_out_tasks
from metarl.logger import read_csv
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import PolicyRollouts, collect_episodes, make_stepper, success_flags
from metarl.stats import mean_ci
from tests.task_envs import ENV_ID, REACH_HORIZON, REACH_ID, TEST_GOALS, GoalTask1D

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# three tasks x two rollouts, each copy pushed with its own constant action (x moves 0.1 a per step)
GOALS = [GoalTask1D(0.36), GoalTask1D(-0.36), GoalTask1D(0.54)]
ACTIONS = torch.tensor([[0.9, -0.9], [0.9, -0.45], [0.45, -0.45]], dtype=torch.float64)
# 0.09 t hits 0.36 at t = 4; -0.045 t hits -0.36 at t = 8; 0.045 t hits 0.54 at t = 12; the others never come near
EXPECTED_SUCCESS = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
# |x| > 1 ends an episode: at t = 12 moving 0.09 per step, at t = 23 moving 0.045
EXPECTED_LENGTHS = [[12, 12], [12, 23], [23, 23]]


def _constant_actions(obs: torch.Tensor) -> torch.Tensor:
    return ACTIONS.to(obs.dtype).unsqueeze(-1)


def _reach_known_answer(sampler: str, workers: int) -> BatchEpisodes:
    stepper = make_stepper(REACH_ID, 6, workers=workers, sampler=sampler)
    try:
        return collect_episodes(stepper, GOALS, 2, _constant_actions, horizon=REACH_HORIZON, seed=0)
    finally:
        stepper.close()


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "2-worker-processes"])
def test_success_is_one_if_the_flag_was_one_at_any_real_step(workers):
    # with 2 workers, the slice of copies 0-2 is all done from t = 13 on and reports no flag while 3-5 still run
    episodes = _reach_known_answer("process", workers)
    assert episodes.lengths.tolist() == EXPECTED_LENGTHS and episodes.horizon == 23
    assert episodes.success.tolist() == EXPECTED_SUCCESS
    assert episodes.success_rates().tolist() == [0.5, 0.5, 0.5]


def test_success_through_ray_actors():
    """sampler='ray' on a local Ray instance: the same flags as the in-process sampler."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})  # the actors import tests.task_envs
    try:
        episodes = _reach_known_answer("ray", 2)
    finally:
        ray.shutdown()
    assert episodes.success.tolist() == EXPECTED_SUCCESS and episodes.lengths.tolist() == EXPECTED_LENGTHS


class ScriptedStepper:
    """A one-task, three-rollout :class:`~metarl.rl.sampler.VectorStepper` replaying given done and success flags."""

    num_envs, observation_dim = 3, 1
    action_low, action_high = np.array([-1.0]), np.array([1.0])

    def __init__(self, done: list[list[bool]], success: list[list[float] | None]) -> None:
        self.done, self.success, self.t = done, success, 0

    def set_tasks(self, tasks: list) -> None:
        pass

    def reset(self, seed: int) -> np.ndarray:
        self.t = 0
        return np.zeros((3, 1))

    def step(self, actions: np.ndarray) -> tuple:
        flags = self.success[self.t]
        out = np.zeros((3, 1)), np.ones(3), np.array(self.done[self.t]), None if flags is None else np.array(flags)
        self.t += 1
        return out

    def close(self) -> None:
        pass


def test_padded_steps_and_flags_below_one_do_not_count():
    done = [[False, False, False], [False, True, False], [False, True, False], [True, True, True]]
    success = [None,               # t = 0: no copy reports a flag
               [1.0, 0.0, 0.0],    # copy 0 succeeds once, then fails: still a success
               [0.0, 1.0, 0.0],    # copy 1 ended at t = 1: a flag on its padding does not count
               [0.0, 1.0, 0.5]]    # copy 2: 0.5 is not 1
    stepper = ScriptedStepper(done, success)
    episodes = collect_episodes(stepper, ["task"], 3, lambda obs: torch.zeros(1, 3, 1), horizon=4, seed=0)
    assert episodes.success.tolist() == [[1.0, 0.0, 0.0]] and episodes.lengths.tolist() == [[4, 2, 4]]
    silent = ScriptedStepper(done, [None] * 4)
    assert collect_episodes(silent, ["task"], 3, lambda obs: torch.zeros(1, 3, 1), 4, 0).success is None


def test_success_flags_of_a_vector_info():
    assert success_flags({"speed_error": np.ones(2)}, 2, "X-v0") is None
    flags = success_flags({"success": np.array([1.0, 1.0, 0.0]), "_success": np.array([True, False, True])}, 3, "X")
    assert flags.tolist() == [1.0, 0.0, 0.0]
    assert success_flags({"success": np.array([True, False])}, 2, "X").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"""info\["success"\] of 'X-v0' must be 3 numbers"""):
        success_flags({"success": np.array([1.0, 0.0])}, 3, "X-v0")
    with pytest.raises(ValueError, match="must be 2 numbers"):
        success_flags({"success": np.array(["yes", "no"], dtype=object)}, 2, "X-v0")
    with pytest.raises(ValueError, match="must be finite"):
        success_flags({"success": np.array([np.nan, 0.0])}, 2, "X-v0")


def test_batch_episodes_success_is_checked_and_follows_tasks_and_dtype():
    t, n, r = 3, 2, 2
    mask = torch.ones(t, n, r)
    mask[:, 1, 1] = 0.0  # an empty episode (as sample-budget packing leaves): not in the rate
    fields = (torch.zeros(t, n, r, 1), torch.zeros(t, n, r, 1), torch.zeros(t, n, r), mask)
    success = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    episodes = BatchEpisodes(*fields, success)
    assert episodes.success_rates().tolist() == [0.5, 1.0]
    assert BatchEpisodes(*fields).success is None and BatchEpisodes(*fields).success_rates() is None
    assert episodes.task(1).success.tolist() == [[1.0, 0.0]]
    assert episodes.select_tasks(torch.tensor([1, 0])).success.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert episodes.to(torch.float64).success.dtype == torch.float64
    with pytest.raises(ValueError, match=r"success must have shape \[N, R\] = \(2, 2\); got \(2, 3\)"):
        BatchEpisodes(*fields, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="only 0 and 1"):
        BatchEpisodes(*fields, torch.full((2, 2), 0.5))
    with pytest.raises(TypeError, match="success has dtype torch.float64"):
        BatchEpisodes(*fields, torch.zeros(2, 2, dtype=torch.float64))


# ------------------------------------------------------------------------------------------- held-out tasks
@pytest.mark.parametrize("form", ["sync", "async"])
def test_the_adapter_has_sample_test_tasks_exactly_when_its_single_env_has_it(form):
    make = (lambda env_id: SyncTaskVectorEnv(env_id, 2)) if form == "sync" else (
        lambda env_id: AsyncTaskVectorEnv(env_id, 2, workers=2))
    reach, speed = make(REACH_ID), make(ENV_ID)
    try:
        single = gymnasium.make(REACH_ID).unwrapped
        drawn = reach.sample_test_tasks(4, rng=np.random.default_rng(3))
        assert drawn == single.sample_test_tasks(4, rng=np.random.default_rng(3))
        assert sample_held_out_tasks(reach, 4, 3) == drawn and {t.goal for t in drawn} <= set(TEST_GOALS)
        reach.reset(seed=0, options={"tasks": drawn[:2]})  # the copies accept held-out tasks
        assert reach.tasks == tuple(drawn[:2])
        assert not hasattr(speed, "sample_test_tasks")
        with pytest.raises(AttributeError, match="has no held-out task set"):
            speed.sample_test_tasks(1)
        assert sample_held_out_tasks(speed, 4, 3) == speed.sample_tasks(4, rng=3)  # fresh draws instead
    finally:
        reach.close()
        speed.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_held_out_tasks_come_from_the_held_out_set_with_the_evaluation_seed(workers):
    rollouts = PolicyRollouts(REACH_ID, 6, 1, workers=workers)
    try:
        tasks = held_out_tasks(rollouts, EvaluationConfig(num_tasks=6))
    finally:
        rollouts.close()
    rng = np.random.default_rng(np.random.SeedSequence(EvaluationConfig.seed).spawn(1)[0])
    assert tasks == gymnasium.make(REACH_ID).unwrapped.sample_test_tasks(6, rng)
    assert sorted(t.goal for t in tasks) == sorted(TEST_GOALS)


def test_held_out_tasks_of_envs_without_a_test_set_are_unchanged():
    """The 40 MetaNav2D tasks every comparison was evaluated on (written before held-out sets existed)."""
    stored = json.loads((ROOT / "reproductions/maml2017/results/compare_nav2d.json").read_text())["tasks"]
    rollouts = PolicyRollouts("MetaNav2D-v0", 40, 1)
    try:
        tasks = held_out_tasks(rollouts, EvaluationConfig(num_tasks=40))
    finally:
        rollouts.close()
    assert [list(t.goal) for t in tasks] == [t["goal"] for t in stored]


# --------------------------------------------------------------------------------------- evaluation, training
def _always_right() -> GaussianMLPPolicy:
    """Mean action 10 (clipped to 1 by the sampler) whatever the observation, std 1: x = 0.1 t almost surely."""
    policy = GaussianMLPPolicy(1, 1, hidden_sizes=(4,)).to(torch.float64)
    with torch.no_grad():
        for param in policy.parameters():
            param.zero_()
        policy.layers[-1].bias.fill_(10.0)
    return policy


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluation_reports_success_rate_with_its_confidence_interval(workers):
    config = EvaluationConfig(num_tasks=6, num_steps=2, rollouts_per_task=3, workers=workers)
    curve = evaluate_adaptation(_always_right(), REACH_ID, config, show_progress=False)
    goals = [task["goal"] for task in curve["tasks"]]
    assert sorted(goals) == sorted(TEST_GOALS)  # the held-out set, each goal once
    # x = 0.1 t passes 0.2, 0.4 and 0.7 exactly; 0.15 is 0.05 from its nearest position; negative goals never
    expected = [float(g in (0.2, 0.4, 0.7)) for g in goals]
    assert curve["per_task_success"] == [expected] * 3
    assert curve["success_rate"] == [0.5] * 3
    assert curve["success_ci95"] == [pytest.approx(mean_ci(np.asarray(expected))[1])] * 3
    assert list(curve)[:7] == ["env_id", "steps", "mean", "ci95", "per_task", "success_rate", "success_ci95"]


def test_envs_without_success_keep_their_curve_and_metrics():
    curve = evaluate_adaptation(_nav_policy(), "MetaNav2D-v0", EvaluationConfig(num_tasks=2, num_steps=1,
                                rollouts_per_task=2), show_progress=False)
    assert list(curve) == ["env_id", "steps", "mean", "ci95", "per_task", "tasks", "config"]
    agent = MAMLTRPO(MAMLTRPOConfig(env_id=ENV_ID, meta_batch_size=2, fast_batch_size=2, hidden_sizes=(4,)))
    try:
        assert not [key for key in agent.step() if "success" in key]
    finally:
        agent.close()


def _nav_policy() -> GaussianMLPPolicy:
    return GaussianMLPPolicy(2, 2, hidden_sizes=(4,))


def test_training_logs_success_columns_reproducibly(tmp_path):
    config = MAMLTRPOConfig(env_id=REACH_ID, meta_batch_size=3, fast_batch_size=2, hidden_sizes=(4,), seed=3)
    runs = []
    for name in ("a", "b"):
        agent = MAMLTRPO(config)
        try:
            train(agent, TrainingConfig(run_dir=str(tmp_path / name), iterations=2, tensorboard=False,
                                        progress=False))
        finally:
            agent.close()
        runs.append(read_csv(tmp_path / name / "progress.csv"))
    first, second = runs
    for key in ("train/success_before_adapt", "train/success_after_adapt"):
        assert len(first[key]) == 2 and all(0.0 <= value <= 1.0 for value in first[key]), first[key]
        assert first[key] == second[key]  # same seed, same result
    # a meta-batch of train goals U(-0.5, 0.5) and a near-random policy: some episodes pass their goal
    assert max(first["train/success_before_adapt"] + first["train/success_after_adapt"]) > 0.0
