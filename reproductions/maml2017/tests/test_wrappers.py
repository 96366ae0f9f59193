"""The Gymnasium wrappers that give the library's envs the original code's rllab interface
(reproductions.maml2017.wrappers): the torso's centre of mass in the observation and rllab's action map."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import metarl  # noqa: F401  (registers the env ids)
from envs.nav2d import GoalTask
from metarl.rl.sampler import LocalVectorStepper, MultiprocessVectorStepper, collect_episodes
from reproductions.maml2017.wrappers import (
    RescaledActions,
    RescaledVectorActions,
    TorsoCenterOfMass,
    TorsoCenterOfMassVector,
    rescale_actions,
    torso_center_of_mass,
)


def _subtree_com(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, root: int) -> np.ndarray:
    """The known answer: Σ mass · xipos / Σ mass over the bodies of ``root``'s subtree, from a fresh MjData put in
    the state (qpos, qvel) by mj_forward."""
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = qpos, qvel
    mujoco.mj_forward(model, data)
    subtree = [b for b in range(model.nbody) if b == root or _descends(model, b, root)]
    mass = model.body_mass[subtree]
    return (mass[:, None] * data.xipos[subtree]).sum(axis=0) / mass.sum()


def _descends(model: mujoco.MjModel, body: int, root: int) -> bool:
    while body != 0:
        body = int(model.body_parentid[body])
        if body == root:
            return True
    return False


@pytest.mark.parametrize("env_id", ["MetaCheetahDir-v0", "MetaCheetahVel-v0"])
def test_single_env_appends_the_torso_subtrees_centre_of_mass(env_id):
    """20 values: Gymnasium's 17 unchanged, then the mass-weighted mean of the torso subtree's body positions in
    the state just reached (mj_step alone would leave the pre-step value)."""
    env = torso_center_of_mass(gym.make(env_id, frame_skip=1))
    plain = gym.make(env_id, frame_skip=1)
    assert isinstance(env, TorsoCenterOfMass) and env.observation_space.shape == (20,)
    base = env.unwrapped
    torso = base.model.body("torso").id
    assert torso == 1 and sorted(b for b in range(base.model.nbody) if _descends(base.model, b, torso)) == list(
        range(2, base.model.nbody))  # the torso's subtree is the whole robot
    obs, _ = env.reset(seed=3)
    plain_obs, _ = plain.reset(seed=3)
    rng = np.random.default_rng(0)
    for step in range(30):
        np.testing.assert_array_equal(obs[:17], plain_obs)  # appended columns; the dynamics are unchanged
        expected = _subtree_com(base.model, base.data.qpos, base.data.qvel, torso)
        np.testing.assert_allclose(obs[17:], expected, rtol=0, atol=1e-12, err_msg=f"step {step}")
        action = rng.uniform(-1, 1, 6).astype(np.float32)
        obs, *_ = env.step(action)
        plain_obs, *_ = plain.step(action)
    assert obs[17] != 0.0 and obs[18] == 0.0  # moved along x; the planar robot stays at y = 0
    check_env(env.unwrapped, skip_render_check=True)
    env.close()
    plain.close()


def test_vector_env_equals_single_wrapped_envs_step_by_step():
    num_envs, seed = 3, 5
    vec = torso_center_of_mass(gym.make_vec("MetaCheetahVel-v0", num_envs=num_envs, frame_skip=1))
    singles = [torso_center_of_mass(gym.make("MetaCheetahVel-v0", frame_skip=1)) for _ in range(num_envs)]
    assert isinstance(vec, TorsoCenterOfMassVector)
    assert vec.single_observation_space.shape == (20,) and vec.observation_space.shape == (num_envs, 20)
    tasks = vec.unwrapped.sample_tasks(num_envs, rng=seed)
    obs, _ = vec.reset(seed=seed, options={"tasks": tasks})
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset(seed=seed + i, options={"task": tasks[i]})[0])
    rng = np.random.default_rng(seed)
    for step in range(25):
        actions = rng.uniform(-1.2, 1.2, size=(num_envs, 6)).astype(np.float32)
        obs, reward, *_ = vec.step(actions)
        for i, env in enumerate(singles):
            single_obs, single_reward, *_ = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs, err_msg=f"step {step}, env {i}")
            assert reward[i] == single_reward
        base = vec.unwrapped
        for i, data in enumerate(base.datas):  # and each row is its own robot's known answer
            np.testing.assert_allclose(obs[i, 17:], _subtree_com(base.model, data.qpos, data.qvel, 1), atol=1e-12)
    vec.close()
    for env in singles:
        env.close()


class _Box(gym.Env):
    """A one-step env with an asymmetric action box that returns the action it received as its observation."""

    def __init__(self) -> None:
        self.action_space = spaces.Box(np.array([0.0, -1.0, 2.0]), np.array([2.0, 3.0, 4.0]), dtype=np.float64)
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3), {}

    def step(self, action):
        return np.asarray(action, dtype=np.float64), 0.0, True, False, {}


def test_rescale_maps_minus_one_one_onto_the_box_and_clips():
    """rllab's normalize: clip(low + (a + 1)/2 (high − low), low, high); the policy's box becomes [-1, 1]."""
    env = rescale_actions(_Box())
    assert isinstance(env, RescaledActions)
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    env.reset(seed=0)
    np.testing.assert_allclose(env.step(np.array([-1.0, -1.0, -1.0]))[0], [0.0, -1.0, 2.0])
    np.testing.assert_allclose(env.step(np.array([1.0, 1.0, 1.0]))[0], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(env.step(np.array([0.0, 0.5, -0.5]))[0], [1.0, 2.0, 2.5])
    np.testing.assert_allclose(env.step(np.array([3.0, -7.0, 1.5]))[0], [2.0, -1.0, 4.0])  # clipped to the box
    nav = rescale_actions(gym.make("MetaNav2D-v0"))  # bounds ±0.1: a scale by 0.1
    np.testing.assert_allclose(nav.action(np.array([-1.0, 1.0])), [-0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(nav.action(np.array([3.0, -0.05])), [0.1, -0.005], rtol=1e-6)


def test_vector_rescale_maps_every_sub_env_alike():
    vec = rescale_actions(gym.make_vec("MetaNav2D-v0", num_envs=2))
    assert isinstance(vec, RescaledVectorActions)
    assert vec.single_action_space.shape == (2,) and np.all(vec.single_action_space.high == 1)
    assert vec.action_space.shape == (2, 2)
    np.testing.assert_allclose(vec.actions(np.array([[-1.0, 1.0], [0.5, 3.0]])), [[-0.1, 0.1], [0.05, 0.1]],
                               rtol=1e-6)
    vec.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_rescaled_rollouts_move_a_tenth_of_the_action_on_metanav2d(workers):
    """Through the samplers (in-process and in worker processes): a policy action of 0.5 moves the point by 0.05
    per step, and the action is stored as sampled."""
    if workers == 1:
        stepper = LocalVectorStepper("MetaNav2D-v0", num_envs=2, env_wrappers=(rescale_actions,))
    else:
        stepper = MultiprocessVectorStepper("MetaNav2D-v0", num_envs=2, workers=2, env_wrappers=(rescale_actions,))
    try:
        np.testing.assert_array_equal(stepper.action_high, [1.0, 1.0])
        episodes = collect_episodes(stepper, [GoalTask((0.5, 0.5))], 2, lambda obs: torch.full((1, 2, 2), 0.5),
                                    horizon=4, seed=0)
    finally:
        stepper.close()
    assert torch.all(episodes.actions == 0.5)
    torch.testing.assert_close(episodes.observations[3, 0], torch.full((2, 2), 0.15))
