"""Samplers: batched episode collection, masks, the multi-process backend (spawn) and seeding."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

import metarl  # noqa: F401
from envs.nav2d import GoalTask
from metarl.rl.policy import env_actions
from metarl.rl.sampler import (
    LocalVectorStepper,
    MultiprocessVectorStepper,
    PolicyRollouts,
    RayVectorStepper,
    collect_episodes,
    make_stepper,
)


def towards_goal(goals: np.ndarray, speed: float):
    """A scripted act_fn for MetaNav2D: move towards each copy's goal at ``speed`` (then overshoot clipping)."""

    def act(obs: torch.Tensor) -> torch.Tensor:
        direction = torch.as_tensor(goals, dtype=obs.dtype)[:, None, :] - obs
        return speed * direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-9)

    return act


def test_collect_episodes_layout_masks_and_rewards():
    tasks = [GoalTask((0.05, 0.0)), GoalTask((0.4, -0.3))]
    stepper = LocalVectorStepper("MetaNav2D-v0", num_envs=2 * 3)
    goals = np.array([t.goal for t in tasks])
    episodes = collect_episodes(stepper, tasks, 3, towards_goal(goals, 0.05), horizon=100, seed=0)
    stepper.close()
    assert episodes.observations.shape[1:] == (2, 3, 2)
    # task 0: the goal 0.05 away is reached in one step of 0.05 -> terminal at t=0, padding after
    assert torch.all(episodes.mask[0, 0] == 1) and torch.all(episodes.mask[1:, 0] == 0)
    torch.testing.assert_close(episodes.rewards[0, 0], torch.zeros(3), atol=1e-6, rtol=0)
    # task 1: 0.5 away at 0.05 per step -> 10 real steps, reward -(distance after the step)
    lengths = episodes.mask[:, 1].sum(0)
    assert torch.all(lengths == 10)
    expected = -torch.tensor([0.5 - 0.05 * (t + 1) for t in range(10)], dtype=torch.float32)
    torch.testing.assert_close(episodes.rewards[:10, 1, 0], expected, atol=1e-5, rtol=0)
    assert torch.all(episodes.rewards[10:, 1] == 0)
    # the horizon is cut at the last step any episode was alive
    assert episodes.horizon == 10


def test_actions_are_stored_raw_and_clipped_for_the_env():
    stepper = LocalVectorStepper("MetaNav2D-v0", num_envs=1)
    episodes = collect_episodes(
        stepper, [GoalTask((0.5, 0.5))], 1, lambda obs: torch.full((1, 1, 2), 3.0), horizon=4, seed=0
    )
    stepper.close()
    assert torch.all(episodes.actions == 3.0)  # the policy's sample, for its log-probability
    torch.testing.assert_close(episodes.observations[3, 0, 0], torch.tensor([0.3, 0.3]))  # moved 0.1 per step


class _HalvedActions(gymnasium.vector.VectorActionWrapper):
    """Test wrapper: the policy acts on a box twice the env's, the env receives half the action."""

    def __init__(self, env: gymnasium.vector.VectorEnv) -> None:
        super().__init__(env)
        inner = env.single_action_space
        self.single_action_space = spaces.Box(2 * inner.low, 2 * inner.high, inner.shape, inner.dtype)
        self.action_space = batch_space(self.single_action_space, env.num_envs)

    def actions(self, actions: np.ndarray) -> np.ndarray:
        return 0.5 * np.asarray(actions)


class _WithOne(gymnasium.vector.VectorObservationWrapper):
    """Test wrapper: a constant 1 appended to every observation."""

    def __init__(self, env: gymnasium.vector.VectorEnv) -> None:
        super().__init__(env)
        inner = env.single_observation_space
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (inner.shape[0] + 1,), np.float64)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: np.ndarray) -> np.ndarray:
        return np.concatenate((observations, np.ones((len(observations), 1))), axis=1)


def halve_actions(env: gymnasium.vector.VectorEnv) -> gymnasium.vector.VectorEnv:
    return _HalvedActions(env)


def append_one(env: gymnasium.vector.VectorEnv) -> gymnasium.vector.VectorEnv:
    return _WithOne(env)


def test_env_actions_only_clip():
    low, high = np.array([-0.1, -0.1]), np.array([0.1, 0.1])
    np.testing.assert_allclose(env_actions(np.array([3.0, -0.05]), low, high), [0.1, -0.05])
    np.testing.assert_allclose(env_actions(np.array([[-1.0, 1.0], [0.5, 0.0]]), low, high), [[-0.1, 0.1], [0.1, 0.0]])
    with pytest.raises(TypeError):
        env_actions(np.zeros(2), low, high, "rescale")  # type: ignore[call-arg]  # a map is an env wrapper now
    with pytest.raises(TypeError, match="action_scaling"):
        collect_episodes(LocalVectorStepper("MetaNav2D-v0", 1), [GoalTask((0.5, 0.5))], 1,
                         lambda obs: torch.zeros(1, 1, 2), horizon=2, seed=0, action_scaling="rescale")


def test_env_wrappers_wrap_the_batched_env_in_order():
    """The steppers see the wrapped spaces (clipping to the wrapper's action box) and the env the wrapped actions;
    the actions are stored as the policy sampled them."""
    plain = LocalVectorStepper("MetaNav2D-v0", num_envs=1)
    stepper = LocalVectorStepper("MetaNav2D-v0", num_envs=1, env_wrappers=(halve_actions, append_one))
    assert isinstance(stepper.env, _WithOne) and isinstance(stepper.env.env, _HalvedActions)  # first wraps first
    np.testing.assert_allclose(stepper.action_low, 2 * plain.action_low, rtol=1e-6)
    np.testing.assert_allclose(stepper.action_high, [0.2, 0.2], rtol=1e-6)
    assert (stepper.observation_dim, plain.observation_dim) == (3, 2)
    episodes = collect_episodes(stepper, [GoalTask((0.5, 0.5))], 1, lambda obs: torch.full((1, 1, 2), 0.15),
                                horizon=4, seed=0)
    plain.close()
    stepper.close()
    assert torch.all(episodes.actions == 0.15)  # stored as sampled
    torch.testing.assert_close(episodes.observations[3, 0, 0], torch.tensor([0.225, 0.225, 1.0]))  # 0.075 a step


class _Padded(torch.nn.Module):
    """A policy of [observation, 1] for the unwrapped env."""

    def __init__(self, policy: torch.nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward_batched(self, obs, params):
        return self.policy.forward_batched(torch.cat((obs, torch.ones_like(obs[..., :1])), -1), params)


def test_env_wrappers_reach_the_workers():
    """A picklable wrapper is applied in every worker (and to the space probe): two workers give the very episodes
    of the in-process stepper with the same wrappers, which differ from the unwrapped env's."""
    from agents.maml_trpo import MAMLTRPOConfig, make_policy
    from metarl.maml import stack_params

    wrappers = (halve_actions, append_one)
    results = []
    for workers, env_wrappers in ((1, wrappers), (2, wrappers), (1, ())):
        rollouts = PolicyRollouts("MetaNav2D-v0", num_tasks=3, rollouts_per_task=2, workers=workers,
                                  env_wrappers=env_wrappers)
        if workers == 2:
            assert isinstance(rollouts.stepper, MultiprocessVectorStepper)
            assert rollouts.stepper.env_wrappers == wrappers
        assert rollouts.observation_dim == (3 if env_wrappers else 2)
        np.testing.assert_allclose(rollouts.stepper.action_high, [0.2, 0.2] if env_wrappers else [0.1, 0.1],
                                   rtol=1e-6)
        policy = make_policy(3, rollouts.action_dim, MAMLTRPOConfig(hidden_sizes=(8,)), seed=0)
        tasks = rollouts.sample_tasks(3, np.random.default_rng(0))
        stacked = stack_params({k: v.detach() for k, v in policy.named_params().items()}, 3)
        if not env_wrappers:  # the same policy on the plain observation with a 1 appended
            policy = _Padded(policy)
        episodes = rollouts.sample(policy, stacked, tasks, seed=7, noise=torch.Generator().manual_seed(0))
        rollouts.close()
        results.append(episodes)
    local, parallel, unwrapped = results
    for name in ("observations", "actions", "rewards", "mask"):
        assert torch.equal(getattr(local, name), getattr(parallel, name)), name
    assert not torch.equal(local.observations[..., :2], unwrapped.observations)


def test_task_count_mismatch_is_an_error():
    stepper = LocalVectorStepper("MetaNav2D-v0", num_envs=4)
    with pytest.raises(ValueError, match="4"):
        collect_episodes(stepper, [GoalTask((0.1, 0.1))], 3, lambda o: torch.zeros(1, 3, 2), 5, 0)
    stepper.close()


@pytest.mark.parametrize("env_id", ["MetaNav2D-v0", "MetaCheetahVel-v0"])
def test_multiprocess_spawn_sampler_equals_local(env_id):
    """Two spawned workers, each owning a slice of the batched env, give the very same episodes."""
    from agents.maml_trpo import MAMLTRPOConfig, make_policy
    from metarl.maml import stack_params

    results = []
    for workers in (1, 2):
        rollouts = PolicyRollouts(env_id, num_tasks=3, rollouts_per_task=2, workers=workers)
        if workers == 2:
            assert isinstance(rollouts.stepper, MultiprocessVectorStepper)
        config = MAMLTRPOConfig(env_id=env_id, hidden_sizes=(8,))
        policy = make_policy(rollouts.observation_dim, rollouts.action_dim, config, seed=0)
        tasks = rollouts.sample_tasks(3, np.random.default_rng(0))
        stacked = stack_params({k: v.detach() for k, v in policy.named_params().items()}, 3)
        rollouts.horizon = 30  # keep the MuJoCo case short
        episodes = rollouts.sample(policy, stacked, tasks, seed=7, noise=torch.Generator().manual_seed(0))
        rollouts.close()
        results.append(episodes)
    local, parallel = results
    for name in ("observations", "actions", "rewards", "mask"):
        assert torch.equal(getattr(local, name), getattr(parallel, name)), name


def test_ray_sampler_equals_local_on_a_local_ray_instance():
    """sampler='ray': two Ray actors, each owning a slice of the batched env, give the very same episodes as
    the in-process sampler; bad commands and a bad backend name are reported."""
    import ray

    from agents.maml_trpo import MAMLTRPOConfig, make_policy
    from metarl.maml import stack_params

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        results = []
        for sampler, workers in (("process", 1), ("ray", 2)):
            rollouts = PolicyRollouts("MetaNav2D-v0", num_tasks=3, rollouts_per_task=2, workers=workers,
                                      sampler=sampler)
            config = MAMLTRPOConfig(hidden_sizes=(8,))
            policy = make_policy(rollouts.observation_dim, rollouts.action_dim, config, seed=0)
            tasks = rollouts.sample_tasks(3, np.random.default_rng(0))
            stacked = stack_params({k: v.detach() for k, v in policy.named_params().items()}, 3)
            episodes = rollouts.sample(policy, stacked, tasks, seed=7, noise=torch.Generator().manual_seed(0))
            if sampler == "ray":
                assert isinstance(rollouts.stepper, RayVectorStepper)
                with pytest.raises(RuntimeError, match="unknown command 'jump'"):
                    rollouts.stepper._broadcast("jump", [None, None])
            rollouts.close()
            results.append(episodes)
        local, remote = results
        for name in ("observations", "actions", "rewards", "mask"):
            assert torch.equal(getattr(local, name), getattr(remote, name)), name
    finally:
        ray.shutdown()
    with pytest.raises(ValueError, match="'dask'"):
        make_stepper("MetaNav2D-v0", 2, sampler="dask")


def test_worker_errors_reach_the_parent():
    stepper = MultiprocessVectorStepper("MetaNav2D-v0", num_envs=2, workers=2)
    try:
        with pytest.raises(RuntimeError, match=r"sampler worker \d \(pid \d+\) failed during .set_tasks."):
            stepper.set_tasks(["not a task", "still not"])
    finally:
        stepper.close()


def test_bad_worker_counts():
    with pytest.raises(ValueError, match="workers"):
        MultiprocessVectorStepper("MetaNav2D-v0", num_envs=2, workers=0)
    with pytest.raises(ValueError, match="workers"):
        MultiprocessVectorStepper("MetaNav2D-v0", num_envs=1, workers=2)
