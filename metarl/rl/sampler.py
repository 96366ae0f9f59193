"""Samplers: collect padded episodes for a whole meta-batch through the batched envs.

MAML-RL's cost is dominated by sampling (MAML paper App. A.2: 20-40 tasks x 20 rollouts x 100-200 steps, twice per
meta-iteration).  A meta-batch of ``N`` tasks x ``R`` rollouts is simulated as ONE vectorized env of ``N*R`` copies
(copy ``i*R + r`` runs task ``i``), and the policy runs ONE batched forward per time step for all of them
(with per-task parameters after adaptation).  The result is a :class:`~metarl.rl.episodes.BatchEpisodes` laid out
``[T, N, R, ...]`` with masks for padded steps.

Two backends share that loop:

- :class:`LocalVectorStepper` — one process, one batched env (the default).
- :class:`MultiprocessVectorStepper` — ``W`` worker processes, each owning a vectorized env over a contiguous
  slice of the copies; the parent runs the policy and exchanges only observations/actions (policy parameters are
  never sent to workers, so nothing is re-pickled per call).  Works under the ``spawn`` start method.

The batched env is the id's native form (``gymnasium.make_vec``, e.g. :class:`envs.vector_base.TaskVectorEnv`)
when it registers one, else :class:`envs.SyncTaskVectorEnv` over copies of its single env, so any env with the
task protocol (:mod:`envs.protocol`: ``sample_tasks``, ``set_task``, ``task``) can be sampled; an env without it
is refused with :class:`envs.TaskProtocolError` when the stepper is built (in the parent, before any worker starts).

Sub-env ``j`` of a call seeded with ``seed`` is reset with ``seed + j`` whatever the number of workers, so 1 and W
workers give identical episodes.

Success: an env whose step ``info`` has a numeric ``"success"`` flag (Meta-World's per-step flag, Yu et al. 2019,
arXiv:1910.10897) gets it carried from every backend into :attr:`BatchEpisodes.success
<metarl.rl.episodes.BatchEpisodes.success>`: an episode succeeds if the flag is 1 at any real step (Meta-World's
rule).  Envs without the key pay one dict lookup per step.  Held-out tasks: the steppers' ``sample_held_out_tasks``
is :func:`envs.base.sample_held_out_tasks` on their env (its ``sample_test_tasks`` when it has a held-out set).

Extension points: ``env_wrappers`` (callables ``VectorEnv -> VectorEnv`` applied in order to every batched env the
samplers build, in workers too, so they must be picklable: module-level classes or functions), e.g. a Gymnasium
action or observation wrapper; and :class:`StageSampler`, which decides how the episodes of one sampling stage are
gathered from rounds of rollouts (the default :class:`FixedEpisodes`: one round, ``rollouts_per_task`` episodes
per task).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium
import numpy as np
import torch

from envs import env_spec, make_task_vector_env
from envs.base import sample_held_out_tasks
from envs.worker import WorkerDied, WorkerPool, slice_bounds
from metarl.maml import Params
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.policy import GaussianMLPPolicy, env_actions, sample_action

__all__ = [
    "SAMPLERS",
    "EnvWrapper",
    "SamplerWorkerError",
    "FixedEpisodes",
    "LocalVectorStepper",
    "MultiprocessVectorStepper",
    "PolicyRollouts",
    "RayVectorStepper",
    "SamplerTimes",
    "StageSampler",
    "SUCCESS_KEY",
    "VectorStepper",
    "collect_episodes",
    "make_stepper",
    "success_flags",
]

#: at most this many worker processes per CPU core of the machine (more only adds process start-up and memory)
MAX_WORKERS_PER_CORE = 4


class SamplerWorkerError(RuntimeError):
    """A sampler worker process died (killed, out of memory, a crash in the simulator) or reported an error."""


def _died_message(exc: WorkerDied, command: str) -> str:
    return (f"sampler worker {exc.worker} (pid {exc.pid}) {exc.how} during '{command}'; the sampling stage cannot "
            "finish (out of memory? killed? run again, or with fewer --workers)")


#: the step-info key of a per-step success flag (Meta-World's ``info["success"]``)
SUCCESS_KEY = "success"
#: act_fn(observations [N, R, obs_dim] float tensor) -> actions [N, R, act_dim] tensor (unclipped policy samples)
ActFn = Callable[[torch.Tensor], torch.Tensor]
#: wraps a batched env (e.g. ``gymnasium.vector.VectorActionWrapper`` subclasses); must be picklable
EnvWrapper = Callable[[gymnasium.vector.VectorEnv], gymnasium.vector.VectorEnv]


class VectorStepper(Protocol):
    """What :func:`collect_episodes` needs from a batched simulator."""

    num_envs: int
    observation_dim: int
    action_low: np.ndarray
    action_high: np.ndarray

    def set_tasks(self, tasks: Sequence[Any]) -> None: ...

    def reset(self, seed: int) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Returns (observations, rewards, done, success) with ``done = terminated | truncated`` and ``success``
        the per-copy flags of :func:`success_flags` (``None`` when no copy reported one)."""
        ...

    def close(self) -> None: ...


def success_flags(infos: dict[str, Any], num_envs: int, env_id: str) -> np.ndarray | None:
    """The per-copy success flags of one step of a batched env: ``infos["success"]`` as float64 ``[num_envs]``,
    0 where ``infos["_success"]`` (Gymnasium's vector-info mask) says a copy reported none; ``None`` when no copy
    reported one.

    :raises ValueError: naming the env when the flags are not ``num_envs`` finite numbers (bools count as 0/1).
    """
    values = infos.get(SUCCESS_KEY)
    if values is None:
        return None
    flags = np.asarray(values)
    if flags.shape != (num_envs,) or not (np.issubdtype(flags.dtype, np.number) or flags.dtype == np.bool_):
        raise ValueError(f'info["{SUCCESS_KEY}"] of {env_id!r} must be {num_envs} numbers (one success flag per '
                         f"copy), got {values!r}")
    flags = flags.astype(np.float64)
    present = infos.get(f"_{SUCCESS_KEY}")
    if present is not None:
        flags = np.where(present, flags, 0.0)
    if not np.all(np.isfinite(flags)):
        raise ValueError(f'info["{SUCCESS_KEY}"] of {env_id!r} must be finite, got {values!r}')
    return flags


def _make_vector_env(
    env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None, env_wrappers: Sequence[EnvWrapper] = ()
) -> gymnasium.vector.VectorEnv:
    """The batched env of ``num_envs`` copies (:func:`envs.make_task_vector_env`): the id's native batched form
    when it registers one, else the library's adapter over copies of its single env; done stays done (MAML batches
    are padded episodes with masks).  Raises :class:`envs.TaskProtocolError` naming what the env lacks."""
    import metarl  # noqa: F401  (registers the env ids in a fresh worker process)

    env = make_task_vector_env(env_id, num_envs, env_kwargs)
    for wrap in env_wrappers:
        env = wrap(env)
    return env


def _box_bounds(env: gymnasium.vector.VectorEnv, env_id: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(action low, action high, observation size) of a batched env; ``ValueError`` unless both spaces are Box
    (the Gaussian MLP policy's)."""
    obs_space, act_space = env.single_observation_space, env.single_action_space
    if not (isinstance(obs_space, gymnasium.spaces.Box) and isinstance(act_space, gymnasium.spaces.Box)):
        raise ValueError(f"the Gaussian policy needs Box observation and action spaces; {env_id!r} has "
                        f"{obs_space!r} and {act_space!r}")
    low = np.asarray(act_space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(act_space.high, dtype=np.float64).reshape(-1)
    return low, high, int(np.prod(obs_space.shape))


class LocalVectorStepper:
    """A batched env in this process (the default sampler backend)."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        env_kwargs: dict[str, Any] | None = None,
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.env_id = env_id
        self.num_envs = num_envs
        self.env = _make_vector_env(env_id, num_envs, env_kwargs, env_wrappers)
        self.action_low, self.action_high, self.observation_dim = _box_bounds(self.env, env_id)
        self.action_dim = self.action_low.shape[0]
        self.max_episode_steps = _registered_horizon(env_id)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        return list(self.env.unwrapped.sample_tasks(n, rng=rng))

    def sample_held_out_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` evaluation tasks: the env's held-out set (``sample_test_tasks``) if it has one, else
        :meth:`sample_tasks` (:func:`envs.base.sample_held_out_tasks`)."""
        return sample_held_out_tasks(self.env, n, rng)

    def set_tasks(self, tasks: Sequence[Any]) -> None:
        self.env.unwrapped.set_tasks(list(tasks))

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.env.reset(seed=seed)
        return np.asarray(obs)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        success = success_flags(infos, self.num_envs, self.env_id)
        return np.asarray(obs), np.asarray(rewards), np.logical_or(terminated, truncated), success

    def close(self) -> None:
        self.env.close()


def _registered_horizon(env_id: str) -> int | None:
    return env_spec(env_id).max_episode_steps


class _SlicedVectorStepper:
    """``num_envs`` copies split into contiguous slices, each stepped by a remote worker that owns a vectorized
    env (a :class:`LocalVectorStepper`).  The parent keeps the policy; per time step it sends each worker its slice
    of the actions and gathers the observations, so the slices' physics runs in parallel.  Subclasses provide the
    transport (:meth:`_broadcast`) and ``close``."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        workers: int,
        env_kwargs: dict[str, Any] | None,
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if num_envs < workers:
            raise ValueError(f"workers = {workers} is more than the {num_envs} env copies stepped at once "
                             "(tasks x rollouts per task): each worker steps a share of them")
        self.env_id = env_id
        self.num_envs = num_envs
        self._slices = [slice(a, b) for a, b in slice_bounds(num_envs, workers)]
        # Spaces and task sampling come from a cheap local one-copy env, wrapped alike (no simulation happens here).
        self.env_wrappers = tuple(env_wrappers)
        probe = _make_vector_env(env_id, 1, env_kwargs, self.env_wrappers)
        self.action_low, self.action_high, self.observation_dim = _box_bounds(probe, env_id)
        self.action_dim = self.action_low.shape[0]
        self.max_episode_steps = _registered_horizon(env_id)
        self._probe = probe.unwrapped

    def _broadcast(self, command: str, payloads: Sequence[Any]) -> list[Any]:
        """Run ``command`` ('step', 'reset', 'set_tasks') on every worker with its payload; results in order."""
        raise NotImplementedError

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        return list(self._probe.sample_tasks(n, rng=rng))

    def sample_held_out_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """As :meth:`LocalVectorStepper.sample_held_out_tasks`, drawn in this process from the one-copy probe env."""
        return sample_held_out_tasks(self._probe, n, rng)

    def set_tasks(self, tasks: Sequence[Any]) -> None:
        tasks = list(tasks)
        if len(tasks) != self.num_envs:
            raise ValueError(f"got {len(tasks)} tasks for {self.num_envs} envs")
        self._broadcast("set_tasks", [tasks[sl] for sl in self._slices])

    def reset(self, seed: int) -> np.ndarray:
        return np.concatenate(self._broadcast("reset", [seed] * len(self._slices)), axis=0)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        results = self._broadcast("step", [actions[sl] for sl in self._slices])
        obs, rewards, done, success = zip(*results)
        if all(flags is None for flags in success):
            merged = None
        else:  # a slice whose copies reported no flag (e.g. all already done) counts as 0
            merged = np.concatenate([np.zeros(sl.stop - sl.start) if flags is None else flags
                                     for sl, flags in zip(self._slices, success)])
        return np.concatenate(obs), np.concatenate(rewards), np.concatenate(done), merged


class MultiprocessVectorStepper(_SlicedVectorStepper):
    """Splits ``num_envs`` copies over ``workers`` processes on this machine, each stepping its own vectorized env
    (pipes carry only actions and observations; the policy never leaves the parent).  Uses the ``spawn`` start
    method by default (safe with torch and MuJoCo; ``fork`` also works).
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        workers: int,
        env_kwargs: dict[str, Any] | None = None,
        start_method: str = "spawn",
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        cores = os.cpu_count() or 1
        if workers > MAX_WORKERS_PER_CORE * cores:
            raise ValueError(f"workers = {workers} is more than {MAX_WORKERS_PER_CORE} x the {cores} CPU cores of this "
                             f"machine: use at most {MAX_WORKERS_PER_CORE * cores} sampler processes (one per core "
                             "is fastest)")
        super().__init__(env_id, num_envs, workers, env_kwargs, env_wrappers)
        try:
            self._pool: WorkerPool | None = WorkerPool(
                _EnvSlice,
                [(env_id, sl.stop - sl.start, env_kwargs, sl.start, self.env_wrappers) for sl in self._slices],
                start_method,
            )
        except WorkerDied as exc:
            raise SamplerWorkerError(_died_message(exc, "start")) from None
        except Exception as exc:
            raise SamplerWorkerError(f"sampler worker failed to start: {type(exc).__name__}: {exc}") from exc

    def _broadcast(self, command: str, payloads: Sequence[Any]) -> list[Any]:
        assert self._pool is not None, "closed"
        try:
            answers = self._pool.request([(w, "run", (command, p)) for w, p in enumerate(payloads)])
        except WorkerDied as exc:
            raise SamplerWorkerError(_died_message(exc, command)) from None
        for index, (status, payload) in enumerate(answers):
            if status == "error":
                raise SamplerWorkerError(f"sampler worker {index} (pid {self._pool.procs[index].pid}) failed during "
                                         f"'{command}': {type(payload).__name__}: {payload}")
        return [payload for _, payload in answers]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __del__(self) -> None:  # best effort; close() is the contract
        if getattr(self, "_pool", None) is not None:
            self.close()


class _EnvSlice:
    """The body of a worker process (:func:`envs.worker.serve`) or a Ray actor: one :class:`LocalVectorStepper`
    over copies ``offset ..`` of the batch, so copy ``j`` is reset with ``seed + j`` whatever the slicing."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        env_kwargs: dict[str, Any] | None,
        offset: int,
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        torch.set_num_threads(1)
        self.offset = offset
        self.stepper = LocalVectorStepper(env_id, num_envs, env_kwargs, env_wrappers)

    def run(self, command: str, payload: Any) -> Any:
        if command == "step":
            return self.stepper.step(payload)
        if command == "reset":
            return self.stepper.reset(payload + self.offset)
        if command == "set_tasks":
            return self.stepper.set_tasks(payload)
        raise ValueError(f"unknown command {command!r}")

    def close(self) -> None:
        self.stepper.close()


class RayVectorStepper(_SlicedVectorStepper):
    """Splits ``num_envs`` copies over ``workers`` Ray actors (``sampler="ray"``): the same interface and results
    as :class:`MultiprocessVectorStepper`, for users whose simulation outgrows one machine.

    Connects to the Ray cluster that is already initialised, or calls ``ray.init()`` (which joins the cluster of
    ``RAY_ADDRESS`` if set, else starts a local instance).  Each actor reserves ``cpus_per_worker`` CPUs, so Ray
    places them where cores are free.  Needs the optional ``ray`` package (``pip install "metarl[ray]"``).
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        workers: int,
        env_kwargs: dict[str, Any] | None = None,
        cpus_per_worker: float = 1.0,
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ImportError('sampler="ray" needs the ray package: pip install "metarl[ray]"') from exc
        super().__init__(env_id, num_envs, workers, env_kwargs, env_wrappers)
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        self._ray = ray
        actor_class = ray.remote(num_cpus=cpus_per_worker)(_EnvSlice)
        self._actors = [
            actor_class.remote(env_id, sl.stop - sl.start, env_kwargs, sl.start, self.env_wrappers)
            for sl in self._slices
        ]

    def _broadcast(self, command: str, payloads: Sequence[Any]) -> list[Any]:
        try:
            return self._ray.get([actor.run.remote(command, p) for actor, p in zip(self._actors, payloads)])
        except self._ray.exceptions.RayError as exc:
            raise RuntimeError(f"sampler worker failed: {exc}") from exc

    def close(self) -> None:
        if not getattr(self, "_actors", None):
            return
        try:
            self._ray.get([actor.close.remote() for actor in self._actors])
        except self._ray.exceptions.RayError:
            pass
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []


#: Sampler backends of :func:`make_stepper` (``MAMLTRPOConfig.sampler``).
SAMPLERS: tuple[str, ...] = ("process", "ray")


def make_stepper(
    env_id: str,
    num_envs: int,
    workers: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    sampler: str = "process",
    env_wrappers: Sequence[EnvWrapper] = (),
) -> LocalVectorStepper | MultiprocessVectorStepper | RayVectorStepper:
    """The batched simulator of ``sampler``: ``"process"`` — this process for ``workers == 1``, else that many
    worker processes; ``"ray"`` — ``workers`` Ray actors (:class:`RayVectorStepper`).  ``env_wrappers`` wrap every
    batched env it builds, in order."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}; got {sampler!r}")
    if sampler == "ray":
        return RayVectorStepper(env_id, num_envs, workers, env_kwargs, env_wrappers=env_wrappers)
    if workers == 1:
        return LocalVectorStepper(env_id, num_envs, env_kwargs, env_wrappers)
    return MultiprocessVectorStepper(env_id, num_envs, workers, env_kwargs, env_wrappers=env_wrappers)


@dataclass
class SamplerTimes:
    """Wall-clock split of one :func:`collect_episodes` call (seconds)."""

    env: float = 0.0
    policy: float = 0.0


def collect_episodes(
    stepper: VectorStepper,
    tasks: Sequence[Any],
    rollouts_per_task: int,
    act_fn: ActFn,
    horizon: int,
    seed: int,
    dtype: torch.dtype = torch.float32,
    times: SamplerTimes | None = None,
) -> BatchEpisodes:
    """Roll out ``rollouts_per_task`` episodes of every task in one batched loop.

    :param stepper: batched simulator with ``len(tasks) * rollouts_per_task`` copies.
    :param tasks: the ``N`` tasks; copy ``i*R + r`` runs task ``i``.
    :param act_fn: maps observations ``[N, R, obs_dim]`` to actions ``[N, R, act_dim]`` (one batched policy
        forward per time step).  Actions are stored as sampled; the env receives them clipped to its action
        space (:func:`~metarl.rl.policy.env_actions`; another map is an action wrapper of the env).
    :param horizon: maximum episode length ``T`` (the registered ``max_episode_steps``).
    :param seed: copy ``j`` is reset with ``seed + j``.
    :returns: padded episodes ``[T, N, R, ...]``; ``mask`` is 1 on real steps (the terminal step included);
        ``success`` ``[N, R]`` when the env reported a success flag (1 if it was 1 at any real step), else None.
    """
    import time

    n_tasks, n_roll = len(tasks), rollouts_per_task
    num_envs = n_tasks * n_roll
    if num_envs != stepper.num_envs:
        raise ValueError(
            f"{n_tasks} tasks x {n_roll} rollouts = {num_envs} envs, but the stepper has {stepper.num_envs}"
        )
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    stepper.set_tasks([task for task in tasks for _ in range(n_roll)])
    obs = stepper.reset(seed)
    obs_dim = stepper.observation_dim
    act_dim = stepper.action_low.shape[0]
    observations = np.zeros((horizon, num_envs, obs_dim), dtype=np.float64)
    actions = np.zeros((horizon, num_envs, act_dim), dtype=np.float64)
    rewards = np.zeros((horizon, num_envs), dtype=np.float64)
    mask = np.zeros((horizon, num_envs), dtype=np.float64)
    alive = np.ones(num_envs, dtype=bool)
    succeeded: np.ndarray | None = None  # [num_envs] bool, from the first step that reports a success flag
    for t in range(horizon):
        t0 = time.perf_counter()
        observations[t] = obs.reshape(num_envs, obs_dim)
        with torch.no_grad():
            obs_tensor = torch.as_tensor(observations[t], dtype=dtype).view(n_tasks, n_roll, obs_dim)
            action = act_fn(obs_tensor).reshape(num_envs, act_dim).to(torch.float64).numpy()
        t1 = time.perf_counter()
        actions[t] = action
        obs, reward, done, success = stepper.step(env_actions(action, stepper.action_low, stepper.action_high))
        mask[t] = alive
        rewards[t] = np.where(alive, reward, 0.0)
        if success is not None:  # Meta-World's rule: the flag is 1 at some real step
            succeeded = np.zeros(num_envs, dtype=bool) if succeeded is None else succeeded
            succeeded |= alive & (success >= 1.0)
        alive &= ~np.asarray(done, dtype=bool)
        if times is not None:
            times.policy += t1 - t0
            times.env += time.perf_counter() - t1
        if not alive.any():
            horizon = t + 1
            break
    shape = (horizon, n_tasks, n_roll)
    return BatchEpisodes.from_numpy(
        observations=observations[:horizon].reshape(*shape, obs_dim),
        actions=actions[:horizon].reshape(*shape, act_dim),
        rewards=rewards[:horizon].reshape(shape),
        mask=mask[:horizon].reshape(shape),
        success=None if succeeded is None else succeeded.reshape(n_tasks, n_roll),
        dtype=dtype,
    )


class PolicyRollouts:
    """Samples a meta-batch of episodes with per-task policy parameters (one batched forward per step).

    Owns the batched simulator and the action-noise generator; used by training and by evaluation.
    """

    def __init__(
        self,
        env_id: str,
        num_tasks: int,
        rollouts_per_task: int,
        workers: int = 1,
        env_kwargs: dict[str, Any] | None = None,
        dtype: torch.dtype = torch.float32,
        sampler: str = "process",
        env_wrappers: Sequence[EnvWrapper] = (),
    ) -> None:
        self.env_id = env_id
        self.num_tasks = num_tasks
        self.rollouts_per_task = rollouts_per_task
        self.dtype = dtype
        self.stepper = make_stepper(
            env_id, num_tasks * rollouts_per_task, workers, env_kwargs, sampler, env_wrappers=env_wrappers
        )
        horizon = self.stepper.max_episode_steps
        if horizon is None:
            raise ValueError(f"{env_id} has no max_episode_steps; MAML needs a finite horizon")
        self.horizon = int(horizon)
        self.times = SamplerTimes()

    @property
    def observation_dim(self) -> int:
        return self.stepper.observation_dim

    @property
    def action_dim(self) -> int:
        return int(self.stepper.action_low.shape[0])

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        return self.stepper.sample_tasks(n, rng)

    def sample_held_out_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """``n`` evaluation tasks: the env's held-out set when it has one (``sample_test_tasks``), else
        :meth:`sample_tasks` with the same ``rng`` (:func:`envs.base.sample_held_out_tasks`)."""
        return self.stepper.sample_held_out_tasks(n, rng)

    def sample(
        self,
        policy: GaussianMLPPolicy,
        stacked_params: Params,
        tasks: Sequence[Any],
        seed: int,
        noise: torch.Generator,
    ) -> BatchEpisodes:
        """Roll out every task with its own parameters (leading task dim of ``stacked_params``)."""
        params = {k: v.detach() for k, v in stacked_params.items()}

        def act(obs: torch.Tensor) -> torch.Tensor:
            return sample_action(policy.forward_batched(obs, params), noise)

        return collect_episodes(
            self.stepper, tasks, self.rollouts_per_task, act, self.horizon, seed, self.dtype, self.times
        )

    def close(self) -> None:
        self.stepper.close()


class StageSampler(Protocol):
    """How the episodes of one sampling stage (the rollouts of an inner step, or the post-update rollouts) are
    gathered, and what the losses see of them — the extension point for collection schemes other than "R episodes
    per task" (e.g. a budget of samples, as the original MAML code's rllab sampler; see reproductions/maml2017).
    """

    def collect(self, sample_round: Callable[[], BatchEpisodes], rollouts: PolicyRollouts) -> BatchEpisodes:
        """The stage's episodes, from as many calls of ``sample_round`` as needed (each call rolls out
        ``rollouts.rollouts_per_task`` fresh episodes of every task, ``[T, N, R]``, with a new reset seed)."""
        ...

    def for_losses(self, episodes: BatchEpisodes, advantages: torch.Tensor) -> tuple[BatchEpisodes, torch.Tensor]:
        """The episodes and advantages the policy-gradient losses, the KL and the Fisher-vector products are
        computed on (called after the baseline fit and GAE)."""
        ...


class FixedEpisodes:
    """The default :class:`StageSampler`: one round of ``rollouts_per_task`` episodes per task (MAML paper, App. A.2:
    "20 trajectories per task"), used as they are by the losses."""

    def collect(self, sample_round: Callable[[], BatchEpisodes], rollouts: PolicyRollouts) -> BatchEpisodes:
        return sample_round()

    def for_losses(self, episodes: BatchEpisodes, advantages: torch.Tensor) -> tuple[BatchEpisodes, torch.Tensor]:
        return episodes, advantages
