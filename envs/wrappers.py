"""Wrappers for task-distribution envs: the oracle's task-in-observation.

The *oracle* baseline of MAML (Finn et al. 2017, section 5.3: "an oracle policy that receives the parameters of
the task as input") sees the task parameters.  :class:`TaskInObservation` appends ``env.unwrapped.task_vector(task)``
to every observation of a single env, :class:`TaskInObservationVector` does the same for a
:class:`envs.vector_base.TaskVectorEnv` or a :func:`envs.make_task_vector_env` adapter (per sub-env task).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

__all__ = ["TaskInObservation", "TaskInObservationVector"]


def _task_bounds(env: Any, obs_space: spaces.Space, owner: str) -> tuple[NDArray[Any], NDArray[Any]]:
    """Bounds of ``task_vector``: the env's ``task_space`` when it has one, else ``(-inf, inf)``."""
    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise TypeError(f"{owner} needs a 1-D Box observation space, got {obs_space!r}")
    if not callable(getattr(env, "task_vector", None)):
        raise TypeError(f"{owner} needs an env with a task_vector(task) method, got {type(env).__name__}")
    task_space = getattr(env, "task_space", None)
    if isinstance(task_space, spaces.Box):
        if len(task_space.shape) != 1:
            raise TypeError(f"{owner} needs a 1-D Box task_space, got {task_space!r}")
        return task_space.low, task_space.high
    # no declared support: infer the size from one task drawn with a private generator (the env's own
    # np_random is left untouched) and leave the bounds open
    size = np.asarray(env.task_vector(env.sample_tasks(1, rng=0)[0])).shape[0]
    return np.full(size, -np.inf), np.full(size, np.inf)


class TaskInObservation(
    gym.ObservationWrapper[NDArray[Any], Any, NDArray[Any]], gym.utils.RecordConstructorArgs
):
    """Append the current task's parameters to the observation (the MAML paper's oracle input).

    The new observation is ``concat(obs, env.unwrapped.task_vector(env.unwrapped.task))`` in the dtype of the
    wrapped observation space; its bounds are the wrapped bounds followed by ``env.unwrapped.task_space``
    (``(-inf, inf)`` when the env declares no ``task_space``).  Task changes through ``set_task`` or
    ``reset(options={"task": ...})`` show up in the next observation.

    Example::

        env = TaskInObservation(gymnasium.make("MetaNav2D-v0"))
        obs, _ = env.reset(seed=0, options={"task": GoalTask(goal=(0.1, -0.2))})
        # obs = [x, y, 0.1, -0.2]
    """

    def __init__(self, env: gym.Env[NDArray[Any], Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        obs_space = env.observation_space
        low, high = _task_bounds(env.unwrapped, obs_space, type(self).__name__)
        assert isinstance(obs_space, spaces.Box)
        self._dtype = obs_space.dtype
        self.observation_space = spaces.Box(
            low=np.concatenate([obs_space.low, low.astype(self._dtype)]),
            high=np.concatenate([obs_space.high, high.astype(self._dtype)]),
            dtype=self._dtype,
        )

    def observation(self, observation: NDArray[Any]) -> NDArray[Any]:
        """``concat(observation, task_vector(task))``."""
        unwrapped = self.env.unwrapped
        task = unwrapped.task  # type: ignore[attr-defined]
        if task is None:
            raise RuntimeError(f"{type(unwrapped).__name__} has no task; reset it or call set_task first")
        vector = np.asarray(unwrapped.task_vector(task), dtype=self._dtype)  # type: ignore[attr-defined]
        return np.concatenate([np.asarray(observation, dtype=self._dtype), vector])


class TaskInObservationVector(VectorObservationWrapper):
    """Batched :class:`TaskInObservation` for a :class:`envs.vector_base.TaskVectorEnv` or the library's adapter
    (:class:`envs.SyncTaskVectorEnv` / :class:`envs.AsyncTaskVectorEnv`) of an env with ``task_vector``.

    Row ``i`` of the observation becomes ``concat(obs_i, task_vector(task_i))``; the single observation space is
    extended as in :class:`TaskInObservation` and batched to ``num_envs`` rows.
    """

    def __init__(self, env: VectorEnv) -> None:
        if not callable(getattr(env.unwrapped, "task_vectors", None)):
            raise TypeError(
                f"TaskInObservationVector needs a batched task env with task_vectors() (a TaskVectorEnv, or "
                f"envs.make_task_vector_env of an env with task_vector), got {type(env.unwrapped).__name__}"
            )
        super().__init__(env)
        single = env.single_observation_space
        low, high = _task_bounds(env.unwrapped, single, type(self).__name__)
        assert isinstance(single, spaces.Box)
        self._dtype = single.dtype
        self.single_observation_space = spaces.Box(
            low=np.concatenate([single.low, low.astype(self._dtype)]),
            high=np.concatenate([single.high, high.astype(self._dtype)]),
            dtype=self._dtype,
        )
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: NDArray[Any]) -> NDArray[Any]:
        """``concat(observations, task_vectors)`` along the last axis."""
        vectors = self.env.unwrapped.task_vectors().astype(self._dtype)  # type: ignore[attr-defined]
        return np.concatenate([np.asarray(observations, dtype=self._dtype), vectors], axis=1)

    # Gymnasium's VectorWrapper does not forward these; tasks are set through the wrapper as on the env itself.
    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Forward to the wrapped env's ``get_attr`` (e.g. ``get_attr("task")``)."""
        return self.env.get_attr(name)  # type: ignore[attr-defined]

    def set_attr(self, name: str, values: Any) -> None:
        """Forward to the wrapped env's ``set_attr`` (e.g. ``set_attr("task", tasks)``)."""
        self.env.set_attr(name, values)  # type: ignore[attr-defined]

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Forward to the wrapped env's ``call`` (e.g. ``call("set_task", task)``)."""
        return self.env.call(name, *args, **kwargs)  # type: ignore[attr-defined]
