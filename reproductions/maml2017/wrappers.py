"""Gymnasium wrappers that give the library's envs the interface of the original MAML code's rllab envs.

Both are handed to the library as ``env_wrappers`` (:class:`agents.maml_trpo.Extensions`): factories that wrap a
batched env (the samplers) or a single env (rendering) alike.

* :func:`rescale_actions` — rllab's ``normalize`` wrapper, under which every MAML experiment ran
  (``TfEnv(normalize(env))``): the policy acts in [-1, 1] and the env receives
  ``clip(low + (a + 1) / 2 · (high − low), low, high)``.  For MetaNav2D (bounds ±0.1) it scales by 0.1; for the
  MuJoCo robots (bounds ±1) it changes nothing.
* :func:`torso_center_of_mass` — rllab's half-cheetah observation appends the robot's centre of mass
  ``get_body_com("torso")`` (the torso's subtree centre of mass, i.e. the whole robot's) to Gymnasium's
  ``[qpos[1:], qvel]``: 17 + 3 = 20 values.  The kinematics and centres of mass are refreshed after every step
  (``mj_kinematics`` + ``mj_comPos``), since after ``mj_step`` MuJoCo's ``subtree_com`` still describes the state
  before the integration.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

__all__ = ["rescale_actions", "torso_center_of_mass"]


def _rescale(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.clip(low + (np.asarray(actions) + 1.0) * 0.5 * (high - low), low, high)


def _unit_box(box: spaces.Box) -> spaces.Box:
    return spaces.Box(low=-1.0, high=1.0, shape=box.shape, dtype=box.dtype)


class RescaledActions(gymnasium.ActionWrapper):
    """A single env whose actions in [-1, 1] are mapped linearly onto its action box (rllab's ``normalize``)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._low = np.asarray(env.action_space.low, dtype=np.float64)
        self._high = np.asarray(env.action_space.high, dtype=np.float64)
        self.action_space = _unit_box(env.action_space)

    def action(self, action: Any) -> np.ndarray:
        return _rescale(action, self._low, self._high).astype(self.env.action_space.dtype)


class RescaledVectorActions(gymnasium.vector.VectorActionWrapper):
    """:class:`RescaledActions` for a batched env (every sub-env's actions mapped alike)."""

    def __init__(self, env: gymnasium.vector.VectorEnv) -> None:
        super().__init__(env)
        self._low = np.asarray(env.single_action_space.low, dtype=np.float64)
        self._high = np.asarray(env.single_action_space.high, dtype=np.float64)
        self.single_action_space = _unit_box(env.single_action_space)
        self.action_space = batch_space(self.single_action_space, env.num_envs)

    def actions(self, actions: Any) -> np.ndarray:
        return _rescale(actions, self._low, self._high)


def _torso_com(model: mujoco.MjModel, data: mujoco.MjData, torso: int) -> np.ndarray:
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    return np.array(data.subtree_com[torso], dtype=np.float64)


def _with_com_space(box: spaces.Box) -> spaces.Box:
    return spaces.Box(low=-np.inf, high=np.inf, shape=(box.shape[0] + 3,), dtype=np.float64)


class TorsoCenterOfMass(gymnasium.ObservationWrapper):
    """A single MuJoCo env whose observation ends with the torso's subtree centre of mass (x, y, z)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._torso = env.unwrapped.model.body("torso").id
        self.observation_space = _with_com_space(env.observation_space)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        base = self.env.unwrapped
        return np.concatenate((observation, _torso_com(base.model, base.data, self._torso)))


class TorsoCenterOfMassVector(gymnasium.vector.VectorObservationWrapper):
    """:class:`TorsoCenterOfMass` for a batched MuJoCo env (one ``MjData`` per sub-env)."""

    def __init__(self, env: gymnasium.vector.VectorEnv) -> None:
        super().__init__(env)
        base = env.unwrapped
        self._torso = base.model.body("torso").id
        self.single_observation_space = _with_com_space(env.single_observation_space)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: np.ndarray) -> np.ndarray:
        base = self.env.unwrapped
        com = np.stack([_torso_com(base.model, data, self._torso) for data in base.datas])
        return np.concatenate((observations, com), axis=1)


def rescale_actions(env: Any) -> Any:
    """Wrap ``env`` (single or batched) with rllab's action map (module docstring)."""
    if isinstance(env, gymnasium.vector.VectorEnv):
        return RescaledVectorActions(env)
    return RescaledActions(env)


def torso_center_of_mass(env: Any) -> Any:
    """Wrap the MuJoCo ``env`` (single or batched) so its observation ends with the torso's centre of mass."""
    if isinstance(env, gymnasium.vector.VectorEnv):
        return TorsoCenterOfMassVector(env)
    return TorsoCenterOfMass(env)
