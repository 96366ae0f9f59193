"""Batch any single task-distribution env: the library's generic form of :class:`envs.vector_base.TaskVectorEnv`.

MAML-RL samples ``meta_batch x fast_batch`` rollouts per stage (Finn et al. 2017, Alg. 3; App. A.2: 20-40 tasks
x 20 rollouts), so the samplers step one batched env whose sub-envs each run a task, with "done stays done"
padding.  The built-in envs have a native batched form; a user writes only the single env (the task protocol of
:mod:`envs.protocol`), and this module batches ``N`` copies of it with the same interface:

- :class:`SyncTaskVectorEnv` — the copies in this process, stepped one after the other;
- :class:`AsyncTaskVectorEnv` — the copies split into contiguous slices over worker processes (``spawn``), each
  slice stepped in its worker; the tasks are drawn in the parent, the workers only simulate.

Both behave exactly like ``N`` single envs ``gymnasium.make(env_id, **env_kwargs)`` (so truncation comes from the
registered ``max_episode_steps``): ``reset(seed=s)`` resets sub-env ``i`` with ``seed=s + i``; ``set_tasks``
calls each copy's ``set_task``; autoreset is ``DISABLED`` — once a sub-env terminates or truncates it is no
longer stepped, and later steps return its last observation, reward ``0.0`` and its flags as they were, until it
is reset.  :func:`make_task_vector_env` picks the native form when the id registers one, else an adapter.

Example::

    vec = make_task_vector_env("mypackage.point:PointGoal-v0", num_envs=400)    # SyncTaskVectorEnv
    vec.set_tasks(vec.sample_tasks(400, rng=np.random.default_rng(0)))
    obs, info = vec.reset(seed=0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import gymnasium
import numpy as np
from gymnasium import error, spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.base import as_generator, check_actions, check_int
from envs.protocol import TaskProtocolError, env_spec, require_task_protocol
from envs.vector_base import check_task_count, parse_reset_options, seed_list
from envs.worker import WorkerPool, slice_bounds

__all__ = ["VECTORIZATION_MODES", "AsyncTaskVectorEnv", "SyncTaskVectorEnv", "make_task_vector_env"]

#: the ``vectorization`` choices of :func:`make_task_vector_env`
VECTORIZATION_MODES: tuple[str, ...] = ("auto", "native", "sync", "async")


def _make_single(env_id: str, env_kwargs: dict[str, Any], render_mode: str | None) -> gymnasium.Env:
    """``gymnasium.make(env_id, **env_kwargs)``, with ``render_mode`` only when one is asked for (a user's env
    need not take the argument)."""
    if render_mode is not None:
        env_kwargs = {**env_kwargs, "render_mode": render_mode}
    return gymnasium.make(env_id, **env_kwargs)


class _SingleEnvs:
    """The copies of one process: ``count`` single envs ``gymnasium.make(env_id, **env_kwargs)``.

    Every method takes local indices (sorted) and returns per-index rows, so a slice of them can live in a worker.
    """

    def __init__(
        self,
        env_id: str,
        count: int,
        env_kwargs: dict[str, Any],
        render_mode: str | None,
        first: gymnasium.Env | None = None,
    ) -> None:
        made = [first] if first is not None else []
        self.envs = made + [_make_single(env_id, env_kwargs, render_mode) for _ in range(count - len(made))]

    def reset_envs(self, indices: Sequence[int], seeds: Sequence[int | None]) -> tuple[np.ndarray, list[dict]]:
        rows = [self.envs[i].reset(seed=s) for i, s in zip(indices, seeds)]
        return np.stack([obs for obs, _ in rows]), [info for _, info in rows]

    def step_envs(
        self, indices: Sequence[int], actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        rows = [self.envs[i].step(a) for i, a in zip(indices, actions)]
        obs, rewards, terminated, truncated, infos = zip(*rows)
        flags = np.asarray(terminated, bool), np.asarray(truncated, bool)
        return np.stack(obs), np.asarray(rewards, np.float64), *flags, list(infos)

    def set_tasks(self, indices: Sequence[int], tasks: Sequence[Any]) -> None:
        for i, task in zip(indices, tasks):
            self.envs[i].unwrapped.set_task(task)

    def call(self, name: str, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        out = []
        for env in self.envs:
            value = env.get_wrapper_attr(name)
            out.append(value(*args, **kwargs) if callable(value) else value)
        return out

    def set_attr(self, name: str, values: Sequence[Any]) -> None:
        for env, value in zip(self.envs, values):
            env.set_wrapper_attr(name, value)

    def close(self) -> None:
        for env in self.envs:
            env.close()


class _TaskVectorAdapter(VectorEnv):
    """The bookkeeping of both adapters: spaces, tasks, seeds, done-stays-done, infos; subclasses move the
    per-copy work (``_reset_envs``, ``_step_envs``, ``_set_env_tasks``, ``_call_envs``, ``_set_env_attr``) to
    where the copies live, and give ``_local``: a single env in this process for drawing tasks."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "autoreset_mode": AutoresetMode.DISABLED}
    _local: gymnasium.Env

    def _setup(self, env_id: str, num_envs: int, render_mode: str | None) -> None:
        """Spaces and state from ``self._local``, once it exists; checks the task protocol and Box spaces."""
        require_task_protocol(self._local, env_id)
        for role, space in (("observation", self._local.observation_space), ("action", self._local.action_space)):
            if not isinstance(space, spaces.Box):
                raise ValueError(f"{type(self).__name__} batches Box observation and action spaces; {env_id!r} has "
                                f"the {role} space {space!r}")
        self.env_id = env_id
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.autoreset_mode = AutoresetMode.DISABLED
        self.metadata = {**self._local.metadata, "autoreset_mode": AutoresetMode.DISABLED}
        spec = self._local.spec
        self.max_episode_steps = None if spec is None else spec.max_episode_steps
        self.single_observation_space = self._local.observation_space
        self.single_action_space = self._local.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._action_shape = (num_envs, *self.single_action_space.shape)
        self._terminated = np.zeros(num_envs, dtype=bool)
        self._truncated = np.zeros(num_envs, dtype=bool)
        self._last_obs: np.ndarray | None = None

    # ------------------------------------------------------------------ where the copies live
    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> tuple[np.ndarray, list[dict]]:
        raise NotImplementedError

    def _step_envs(
        self, indices: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        raise NotImplementedError

    def _set_env_tasks(self, indices: np.ndarray, tasks: list[Any]) -> None:
        raise NotImplementedError

    def _call_envs(self, name: str, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def _set_env_attr(self, name: str, values: list[Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ tasks
    def sample_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[Any]:
        """``n`` tasks from the single env's ``sample_tasks`` with ``rng`` (``None``: this env's own
        ``np_random``, seeded by ``reset(seed=...)``); the copies' generators are not touched."""
        return list(self._local.unwrapped.sample_tasks(check_task_count(n), rng=as_generator(rng, self.np_random)))

    @property
    def sample_test_tasks(self) -> Callable[..., list[Any]]:
        """The single env's optional held-out task set (:mod:`envs.base`): ``sample_test_tasks(n, rng=None)`` draws
        ``n`` of its test tasks in this process, like :meth:`sample_tasks`.  The adapter has this method exactly
        when its single env has it (an ``AttributeError`` otherwise, so ``hasattr`` and
        :func:`envs.base.sample_held_out_tasks` see the single env's protocol)."""
        single = getattr(self._local.unwrapped, "sample_test_tasks", None)
        if not callable(single):
            raise AttributeError(f"env {self.env_id!r} has no held-out task set (its single env has no "
                                 "sample_test_tasks)")

        def sample_test_tasks(n: int, rng: np.random.Generator | int | None = None) -> list[Any]:
            return list(single(check_task_count(n), rng=as_generator(rng, self.np_random)))

        return sample_test_tasks

    def set_tasks(self, tasks: Sequence[Any]) -> None:
        """Call ``set_task(tasks[i])`` on copy ``i`` (``None`` entries keep that copy's task); each copy's
        ``set_task`` validates its task."""
        if not isinstance(tasks, (list, tuple)):
            raise TypeError(f"tasks must be a list or tuple of {self.num_envs} tasks for {self.env_id}, got "
                            f"{type(tasks).__name__}: {tasks!r}")
        if len(tasks) != self.num_envs:
            raise ValueError(f"tasks has {len(tasks)} entries, expected num_envs={self.num_envs} for {self.env_id}")
        indices = np.asarray([i for i, task in enumerate(tasks) if task is not None], dtype=np.intp)
        if indices.size:
            self._set_env_tasks(indices, [tasks[i] for i in indices])

    def set_task(self, task: Any) -> None:
        """``set_task(task)`` on every copy (``None`` too: what it means is the single env's business)."""
        self._set_env_tasks(np.arange(self.num_envs), [task] * self.num_envs)

    @property
    def tasks(self) -> tuple[Any, ...]:
        """The ``task`` of every copy."""
        return tuple(self._call_envs("task", (), {}))

    @property
    def task_space(self) -> spaces.Space | None:
        """The single env's ``task_space`` if it declares one."""
        return getattr(self._local.unwrapped, "task_space", None)

    def task_vector(self, task: Any) -> np.ndarray:
        """The single env's ``task_vector(task)`` (optional in the protocol; needed by oracle policies)."""
        vector = getattr(self._local.unwrapped, "task_vector", None)
        if not callable(vector):
            raise AttributeError(f"env {self.env_id!r} has no task_vector(task) method")
        return np.asarray(vector(task), dtype=np.float32)

    def task_vectors(self) -> np.ndarray:
        """``task_vector`` of every copy's task, ``(num_envs, task_dim)`` float32."""
        return np.stack([self.task_vector(task) for task in self.tasks])

    # ------------------------------------------------------------------ Gymnasium vector API
    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy (or those of ``options["reset_mask"]``), copy ``i`` with ``seed + i``;
        ``options["task"]`` / ``options["tasks"]`` install tasks first (as :class:`~envs.vector_base.TaskVectorEnv`)."""
        mask, new_tasks = parse_reset_options(
            options, self.num_envs, self.env_id, lambda task: task, first_reset=self._last_obs is None
        )
        seeds = seed_list(seed, self.num_envs, self.env_id)
        self.set_tasks(new_tasks)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            super().reset(seed=int(seed))  # this env's own np_random, for sample_tasks(rng=None)
        indices = np.flatnonzero(mask)
        rows, env_infos = self._reset_envs(indices, [seeds[i] for i in indices])
        if self._last_obs is None:
            self._last_obs = np.zeros(self.observation_space.shape, dtype=self.single_observation_space.dtype)
        self._last_obs[indices] = rows
        self._terminated[indices] = False
        self._truncated[indices] = False
        return self._last_obs.copy(), self._gather_infos(indices, env_infos)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step the copies still running; finished ones stay frozen (last observation, reward 0, same flags)."""
        if self._last_obs is None:
            raise error.ResetNeeded(f"Cannot call step() on the batched {self.env_id} before reset()")
        actions = check_actions(actions, self._action_shape, self.env_id).astype(self.single_action_space.dtype)
        active = np.flatnonzero(~(self._terminated | self._truncated))
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        env_infos: list[dict] = []
        if active.size:
            obs, reward, terminated, truncated, env_infos = self._step_envs(active, actions[active])
            self._last_obs[active] = obs
            rewards[active] = reward
            self._terminated[active] = terminated
            self._truncated[active] = truncated
        infos = self._gather_infos(active, env_infos)
        return self._last_obs.copy(), rewards, self._terminated.copy(), self._truncated.copy(), infos

    def _gather_infos(self, indices: np.ndarray, env_infos: list[dict]) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        for i, info in zip(indices, env_infos):
            infos = self._add_info(infos, info, int(i))
        return infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Every copy's ``render()`` (made with this env's ``render_mode``)."""
        return None if self.render_mode is None else tuple(self._call_envs("render", (), {}))

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` (or read attribute ``name``) of every copy, like ``SyncVectorEnv.call``."""
        return tuple(self._call_envs(name, args, kwargs))

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every copy (through Gymnasium's wrappers)."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set attribute ``name`` on every copy (a list/tuple: one value per copy); ``"task"`` goes through
        :meth:`set_tasks` / :meth:`set_task`."""
        if name == "task":
            self.set_tasks(values) if isinstance(values, (list, tuple)) else self.set_task(values)
            return
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr({name!r}) got {len(values)} values for num_envs={self.num_envs}")
        self._set_env_attr(name, list(values))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs})"


class SyncTaskVectorEnv(_TaskVectorAdapter):
    """``num_envs`` copies of a single task-distribution env in this process, batched as a
    :class:`~envs.vector_base.TaskVectorEnv` (``sample_tasks``, ``set_tasks``, done stays done, sub-env ``i``
    reset with ``seed + i``, truncation at the registered ``max_episode_steps``); see the module docstring.

    :param env_id: a Gymnasium id (``"module:Id"`` imports ``module``) whose single env has the task protocol.
    :param num_envs: number of copies (>= 1).
    :param env_kwargs: keyword arguments of ``gymnasium.make`` for every copy.
    :param render_mode: the copies' render mode (``render()`` returns one frame per copy).
    :raises envs.protocol.TaskProtocolError: naming what the single env lacks.
    """

    def __init__(
        self, env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None, render_mode: str | None = None
    ) -> None:
        num_envs = check_int("num_envs", num_envs, 1)
        env_kwargs = dict(env_kwargs or {})
        self._local = _make_single(env_id, env_kwargs, render_mode)
        try:
            self._setup(env_id, num_envs, render_mode)  # protocol and spaces checked on the first copy only
        except Exception:
            self._local.close()
            raise
        self._envs = _SingleEnvs(env_id, num_envs, env_kwargs, render_mode, first=self._local)

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> tuple[np.ndarray, list[dict]]:
        return self._envs.reset_envs(indices, seeds)

    def _step_envs(
        self, indices: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        return self._envs.step_envs(indices, actions)

    def _set_env_tasks(self, indices: np.ndarray, tasks: list[Any]) -> None:
        self._envs.set_tasks(indices, tasks)

    def _call_envs(self, name: str, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        return self._envs.call(name, args, kwargs)

    def _set_env_attr(self, name: str, values: list[Any]) -> None:
        self._envs.set_attr(name, values)

    def close_extras(self, **kwargs: Any) -> None:
        self._envs.close()


class AsyncTaskVectorEnv(_TaskVectorAdapter):
    """:class:`SyncTaskVectorEnv` over worker processes: the ``num_envs`` copies are split into ``workers``
    contiguous slices, each made and stepped in its own process (start method ``spawn`` by default, safe with
    torch and MuJoCo); only actions, observations, rewards, flags, infos and tasks cross the pipes.  A single env
    in the parent draws the tasks (``sample_tasks``) and gives the spaces.  Results equal those of
    :class:`SyncTaskVectorEnv` whatever ``workers`` is.

    The worker processes make the env by id, so the id must be registered there too: use ``"module:Id"`` (or
    register it at the top level of the main script, which ``spawn`` re-imports).

    :param workers: processes (default: one per CPU core, at most ``num_envs``).
    :param start_method: ``multiprocessing`` start method.
    Other parameters as :class:`SyncTaskVectorEnv`.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        env_kwargs: dict[str, Any] | None = None,
        render_mode: str | None = None,
        *,
        workers: int | None = None,
        start_method: str = "spawn",
    ) -> None:
        num_envs = check_int("num_envs", num_envs, 1)
        workers = min(num_envs, os.cpu_count() or 1) if workers is None else check_int("workers", workers, 1)
        if workers > num_envs:
            raise ValueError(f"workers ({workers}) must be <= num_envs ({num_envs})")
        env_kwargs = dict(env_kwargs or {})
        self._pool: WorkerPool | None = None
        self._local = _make_single(env_id, env_kwargs, render_mode)
        try:
            self._setup(env_id, num_envs, render_mode)  # protocol and spaces checked before any process starts
            self._bounds = slice_bounds(num_envs, workers)
            self._pool = WorkerPool(
                _SingleEnvs,
                [(env_id, stop - start, env_kwargs, render_mode) for start, stop in self._bounds],
                start_method,
            )
        except Exception:
            self._local.close()
            raise

    def _request(self, calls: Sequence[tuple[int, str, tuple]]) -> list[Any]:
        """The workers' results, in order; the first worker error is raised here as it was raised there."""
        assert self._pool is not None, "closed"
        answers = self._pool.request(calls)
        for status, payload in answers:
            if status == "error":
                raise payload
        return [payload for _, payload in answers]

    def _scatter(self, method: str, indices: np.ndarray, *rows: Sequence[Any]) -> list[Any]:
        """Run ``method(local indices, *rows)`` in every worker that holds some of ``indices`` (sorted); the
        results in worker order, i.e. in the order of ``indices``."""
        calls = []
        for w, (start, stop) in enumerate(self._bounds):
            chosen = (indices >= start) & (indices < stop)
            if chosen.any():
                calls.append((w, method, (indices[chosen] - start, *[_take(r, chosen) for r in rows])))
        return self._request(calls)

    def _reset_envs(self, indices: np.ndarray, seeds: list[int | None]) -> tuple[np.ndarray, list[dict]]:
        parts = self._scatter("reset_envs", indices, seeds)
        return np.concatenate([obs for obs, _ in parts]), [info for _, infos in parts for info in infos]

    def _step_envs(
        self, indices: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        parts = self._scatter("step_envs", indices, actions)
        arrays = [np.concatenate([part[k] for part in parts]) for k in range(4)]
        return arrays[0], arrays[1], arrays[2], arrays[3], [info for part in parts for info in part[4]]

    def _set_env_tasks(self, indices: np.ndarray, tasks: list[Any]) -> None:
        self._scatter("set_tasks", indices, tasks)

    def _call_envs(self, name: str, args: tuple, kwargs: dict[str, Any]) -> list[Any]:
        parts = self._request([(w, "call", (name, args, kwargs)) for w in range(len(self._bounds))])
        return [value for part in parts for value in part]

    def _set_env_attr(self, name: str, values: list[Any]) -> None:
        self._request([(w, "set_attr", (name, values[a:b])) for w, (a, b) in enumerate(self._bounds)])

    def close_extras(self, **kwargs: Any) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._local.close()

    def __del__(self) -> None:  # best effort; close() is the contract
        if getattr(self, "_pool", None) is not None:
            self.close()


def _take(rows: Sequence[Any], chosen: np.ndarray) -> Any:
    return rows[chosen] if isinstance(rows, np.ndarray) else [row for row, keep in zip(rows, chosen) if keep]


def make_task_vector_env(
    env_id: str,
    num_envs: int,
    env_kwargs: dict[str, Any] | None = None,
    *,
    vectorization: Literal["auto", "native", "sync", "async"] = "auto",
    workers: int | None = None,
    render_mode: str | None = None,
) -> VectorEnv:
    """``num_envs`` copies of the task-distribution env ``env_id`` as one batched env with done-stays-done
    semantics, the form the MAML samplers step.

    :param env_id: a Gymnasium id; ``"module:Id"`` imports ``module`` first (which registers the id).
    :param vectorization: ``"native"`` — the id's registered batched form, ``gymnasium.make_vec(env_id,
        num_envs, autoreset_mode=AutoresetMode.DISABLED)`` (a :class:`~envs.vector_base.TaskVectorEnv` for the
        built-in ids); ``"sync"`` — :class:`SyncTaskVectorEnv`; ``"async"`` — :class:`AsyncTaskVectorEnv` with
        ``workers`` processes; ``"auto"`` — native when the id registers a ``vector_entry_point``, else sync.
    :raises envs.protocol.TaskProtocolError: (a ``ValueError``) naming what the single env, or the native batched
        form, lacks.
    :raises ValueError: naming a bad ``vectorization`` or an unknown id.
    """
    if vectorization not in VECTORIZATION_MODES:
        raise ValueError(f"vectorization must be one of {VECTORIZATION_MODES}, got {vectorization!r}")
    env_kwargs = dict(env_kwargs or {})
    spec = env_spec(env_id)
    if vectorization == "auto":
        vectorization = "native" if spec.vector_entry_point is not None else "sync"
    if vectorization == "sync":
        return SyncTaskVectorEnv(env_id, num_envs, env_kwargs, render_mode)
    if vectorization == "async":
        return AsyncTaskVectorEnv(env_id, num_envs, env_kwargs, render_mode, workers=workers)
    if spec.vector_entry_point is None:
        raise ValueError(f"env {env_id!r} registers no vector_entry_point (no native batched form); "
                         "use vectorization='sync' or 'async'")
    single = gymnasium.make(env_id, **env_kwargs)
    try:
        require_task_protocol(single, env_id)
    finally:
        single.close()
    kwargs = {"autoreset_mode": AutoresetMode.DISABLED, **env_kwargs}
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = gymnasium.make_vec(env_id, num_envs=num_envs, **kwargs)
    missing = [name for name in ("sample_tasks", "set_tasks") if not callable(getattr(env.unwrapped, name, None))]
    if env.metadata.get("autoreset_mode") != AutoresetMode.DISABLED:
        missing.append("autoreset_mode=AutoresetMode.DISABLED")
    if missing:
        env.close()
        raise TaskProtocolError(
            f"the native batched form of {env_id!r} (its vector_entry_point) lacks {', '.join(missing)}; implement "
            "them (see envs.vector_base.TaskVectorEnv) or register the id without vector_entry_point"
        )
    return env
