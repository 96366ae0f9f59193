"""The batched form shared by every metarl environment: :class:`TaskVectorEnv`.

Sampling dominates the cost of MAML-RL (Finn et al. 2017, Alg. 3 samples ``meta_batch x fast_batch`` rollouts
twice per meta-iteration), so every env in :mod:`envs` has a vectorized twin that steps ``B`` copies, each with
its own task, in one call.  :class:`TaskVectorEnv` holds everything those twins have in common, so a subclass
only writes the physics:

- batched spaces, ``num_envs``, ``metadata["autoreset_mode"]``: Gymnasium 1.x's ``AutoresetMode.NEXT_STEP`` by
  default (as ``SyncVectorEnv`` over the single env), ``AutoresetMode.DISABLED`` on request
  (``autoreset_mode=`` kwarg, e.g. ``gymnasium.make_vec(id, num_envs=B, autoreset_mode=AutoresetMode.DISABLED)``,
  which the MAML samplers use);
- a per-env task list: :meth:`~TaskVectorEnv.set_tasks`, ``set_attr("task", ...)``, ``call("set_task", ...)``,
  ``get_attr("task")``, ``reset(options={"tasks": [...]})``, every task validated by the same code as the
  single env;
- one ``numpy.random.Generator`` per sub-env: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` exactly as a
  single env's ``reset(seed=s + i)`` would, so ``B`` single envs and one vector env produce the same data;
- per-env elapsed-step counters and truncation at ``max_episode_steps`` (``gymnasium.make_vec`` passes the
  registered horizon);
- with ``NEXT_STEP``, the step after a sub-env terminated or truncated resets it (reward ``0.0``, both flags
  ``False``, the reset observation) and ignores its action, exactly like Gymnasium's ``SyncVectorEnv``;
- with ``DISABLED``, "done stays done": once a sub-env terminates or truncates, later :meth:`~TaskVectorEnv.step`
  calls leave its state frozen, return its last observation, reward ``0.0`` and its done flags still ``True``
  until it is reset (a full :meth:`~TaskVectorEnv.reset`, or ``reset(options={"reset_mask": mask})`` for some
  sub-envs).  MAML batches are padded episodes with masks, so finished rows simply repeat until the batch is
  complete;
- batched action validation (shape ``(B, *action_shape)``, finite) with errors naming the env.

A subclass implements (see each method's docstring for the exact contract)::

    env_id: ClassVar[str]                                   # e.g. "MetaNav2D-v0", used in error messages
    def validate_task(self, task) -> Task                   # TypeError / ValueError, shared with the single env
    def _sample_tasks(self, n, rng) -> list[Task]           # the task distribution, shared with the single env
    def task_vector(self, task) -> np.ndarray               # float32 task parameters, shared with the single env
    def _reset_envs(self, indices) -> (obs_rows, info)      # start state of sub-envs `indices`
    def _step_envs(self, actions, active) -> (obs, reward, terminated, info)   # advance the `active` sub-envs
    def _render_env(self, index) -> np.ndarray              # only if "rgb_array" is in metadata["render_modes"]
    def _on_tasks_changed(self, indices) -> None            # optional: refresh per-env task arrays

and passes its single-env spaces to ``TaskVectorEnv.__init__``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import error, spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.base import as_generator, can_render, check_actions, check_int

__all__ = [
    "RESET_OPTION_KEYS",
    "TaskVectorEnv",
    "check_autoreset_mode",
    "check_task_count",
    "parse_reset_options",
    "seed_list",
]

#: ``reset(options=...)`` keys understood by every :class:`TaskVectorEnv`.
RESET_OPTION_KEYS = frozenset({"task", "tasks", "reset_mask"})
#: attribute names whose value differs per sub-env (see :meth:`TaskVectorEnv.get_attr`)
_PER_ENV_ATTRS = frozenset({"task", "elapsed_steps", "np_random", "observation_space", "action_space"})


class TaskVectorEnv(VectorEnv):
    """Base class of the batched task-distribution envs: ``B`` sub-envs, each with its own task.

    ## Description
    Steps ``num_envs`` copies of one environment in a single call.  Sub-env ``i`` behaves exactly like the single
    env created with the same task, reset with seed ``seed + i`` and given the same actions, until its episode
    ends; after that its rows are frozen (see "Episode End").

    ## Action Space
    ``batch_space(single_action_space, num_envs)``: actions have shape ``(num_envs, *single_action_space.shape)``
    and must be finite (``ValueError`` otherwise).

    ## Observation Space
    ``batch_space(single_observation_space, num_envs)``.

    ## Rewards
    Per sub-env, the single env's reward; ``0.0`` for a sub-env whose episode has already ended (``DISABLED``) or
    that is being autoreset (``NEXT_STEP``).

    ## Starting State
    ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (a list of ``num_envs`` seeds is also accepted) and
    resets all sub-envs; ``reset(options={"reset_mask": mask})`` resets only the sub-envs where ``mask`` is
    ``True``.  ``options={"tasks": [t_0, ..., t_{B-1}]}`` installs per-env tasks (``None`` entries keep the current
    task), ``options={"task": t}`` one task for every reset sub-env; installed tasks are *fixed* until changed.  A
    sub-env with no fixed task draws a new one from the task distribution with its own generator at each of its
    resets, exactly as the single env does (the task protocol of :mod:`envs.base`); ``set_task(None)`` /
    ``set_attr("task", None)`` put every sub-env back to drawing.

    ## Episode End
    - Termination: the single env's termination condition, per sub-env.
    - Truncation: a sub-env is truncated once it has taken ``max_episode_steps`` steps since its reset
      (``None``: never), like ``gymnasium.wrappers.TimeLimit``; both flags may be ``True`` on the same step.
    - Autoreset ``NEXT_STEP`` (default, ``metadata["autoreset_mode"]``): the step after a sub-env finished resets
      it instead of stepping it (its action is ignored): the reset observation, reward ``0.0``, both flags
      ``False``, its reset info; a sub-env with no fixed task draws a new one, as the single env's reset does.
      This is what Gymnasium's ``SyncVectorEnv`` over the single env returns, step by step.
    - Autoreset ``DISABLED`` (``autoreset_mode=AutoresetMode.DISABLED``): done stays done.  After a sub-env
      terminated or truncated, later steps leave its state and step counter unchanged and return its last
      observation, reward ``0.0``, and its ``terminated`` / ``truncated`` flags as they were when it finished, until
      that sub-env is reset.

    Infos follow Gymnasium's vector convention: every key ``k`` comes with a boolean mask ``"_k"`` that is
    ``True`` for the sub-envs that produced a value this call (the active ones on a step, the reset ones on a
    reset); reward terms (keys starting with ``"reward"``) are ``0.0`` for finished sub-envs.

    ## Arguments
    - ``num_envs`` (int): number of sub-envs ``B`` (>= 1).
    - ``single_observation_space`` / ``single_action_space`` (``gymnasium.spaces.Box``): the single env's spaces.
    - ``max_episode_steps`` (int | None, default ``None``): truncation horizon per sub-env; ``gymnasium.make_vec``
      passes the registered horizon.
    - ``render_mode`` (str | None, default ``None``): ``"rgb_array"`` makes :meth:`render` return one frame per
      sub-env.
    - ``tasks`` (sequence of tasks | None): initial per-env tasks (validated).
    - ``autoreset_mode`` (``AutoresetMode`` or its string value, default ``NEXT_STEP``): ``NEXT_STEP`` or
      ``DISABLED`` (``SAME_STEP`` is not supported: ``ValueError``).

    ## Version History
    - v0: initial version (autoreset ``NEXT_STEP`` by default; ``DISABLED`` on request).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    #: registered id of the env, used to name it in error messages
    env_id: ClassVar[str] = "TaskVectorEnv"

    def __init__(
        self,
        num_envs: int,
        single_observation_space: spaces.Space,
        single_action_space: spaces.Space,
        *,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        tasks: Sequence[Any] | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        check_int("num_envs", num_envs, 1)
        if max_episode_steps is not None:
            if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)):
                raise TypeError(
                    f"max_episode_steps must be an int or None, got {type(max_episode_steps).__name__}: "
                    f"{max_episode_steps!r}"
                )
            if max_episode_steps < 1:
                raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        self.autoreset_mode = check_autoreset_mode(autoreset_mode, self.env_id)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        if render_mode is not None and render_mode not in self.metadata.get("render_modes", []):
            raise ValueError(
                f"render_mode must be None or one of {self.metadata.get('render_modes', [])} for {self.env_id}, "
                f"got {render_mode!r}"
            )
        self.num_envs = int(num_envs)
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.render_mode = render_mode
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self._action_shape = (self.num_envs, *single_action_space.shape)

        self._tasks: list[Any] = [None] * self.num_envs
        self._task_fixed = np.zeros(self.num_envs, dtype=bool)
        self._task_vectors: np.ndarray | None = None
        # one generator per sub-env, as B single envs would each own one (unseeded until reset(seed=...))
        self._env_rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)
        self._last_obs: np.ndarray | None = None
        self._needs_reset = True
        if tasks is not None:
            self.set_tasks(tasks)

    # ------------------------------------------------------------------ subclass contract
    def validate_task(self, task: Any) -> Any:
        """Return ``task`` if it belongs to this env's task distribution's support.

        Must raise ``TypeError`` for a task of the wrong type and ``ValueError`` (naming the field and value) for
        one outside the support; must be the same code the single env uses.
        """
        raise NotImplementedError

    def _sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` tasks with ``rng`` (the same code as the single env's ``sample_tasks``)."""
        raise NotImplementedError

    def task_vector(self, task: Any) -> np.ndarray:
        """The parameters of ``task`` as a 1-D float32 array (the same code as the single env)."""
        raise NotImplementedError

    def _reset_envs(self, indices: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Put the sub-envs ``indices`` (sorted int array) in their starting state.

        Their tasks are already installed (``self.tasks``); start-state noise must be drawn from
        ``self.env_rngs[i]`` in the order the single env draws it.  Returns their observations, shape
        ``(len(indices), *single_observation_space.shape)``, and an info dict of arrays with first dimension
        ``len(indices)`` (no ``"_k"`` masks; the base class adds them).
        """
        raise NotImplementedError

    def _step_envs(
        self, actions: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Advance the sub-envs where ``active`` is ``True`` by one step.

        ``actions`` is validated float64 of shape ``(B, *action_shape)``; ``active`` a bool array ``(B,)``.
        Sub-envs where ``active`` is ``False`` must be left unchanged.  Returns ``(obs, reward, terminated, info)``
        with first dimension ``B``; rows of inactive sub-envs are ignored (the base class fills in the frozen
        values).  ``info`` holds arrays of shape ``(B,)`` without ``"_k"`` masks.
        """
        raise NotImplementedError

    def _render_env(self, index: int) -> np.ndarray:
        """An ``HxWx3`` uint8 frame of sub-env ``index`` (needed when ``"rgb_array"`` is a render mode)."""
        raise NotImplementedError

    def _on_tasks_changed(self, indices: np.ndarray) -> None:
        """Hook called after the tasks of sub-envs ``indices`` changed (e.g. to refresh a goal array)."""

    # ------------------------------------------------------------------ tasks
    @property
    def tasks(self) -> tuple[Any, ...]:
        """The current task of every sub-env (``None`` for a sub-env that has none yet)."""
        return tuple(self._tasks)

    @property
    def env_rngs(self) -> tuple[np.random.Generator, ...]:
        """The random generator of every sub-env (sub-env ``i`` is seeded with ``seed + i`` by ``reset``)."""
        return tuple(self._env_rngs)

    @property
    def elapsed_steps(self) -> np.ndarray:
        """Steps taken by every sub-env since its last reset (a copy)."""
        return self._elapsed.copy()

    def sample_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[Any]:
        """Draw ``n`` tasks from the task distribution.

        ``rng`` may be a ``numpy.random.Generator``, an ``int`` seed, or ``None`` for the vector env's own
        ``np_random`` (seeded by ``reset(seed=...)``).  With the same ``rng`` this returns the same tasks as the
        single env's ``sample_tasks``.
        """
        return self._sample_tasks(check_task_count(n), as_generator(rng, self.np_random))

    def set_tasks(self, tasks: Sequence[Any]) -> None:
        """Install one task per sub-env (validated); takes effect from the next step.

        ``tasks`` must be a list or tuple of length ``num_envs``; ``None`` entries keep that sub-env's task.
        """
        if not isinstance(tasks, (list, tuple)):
            raise TypeError(
                f"tasks must be a list or tuple of {self.num_envs} tasks for {self.env_id}, got "
                f"{type(tasks).__name__}: {tasks!r}"
            )
        if len(tasks) != self.num_envs:
            raise ValueError(
                f"tasks has {len(tasks)} entries, expected num_envs={self.num_envs} for {self.env_id}"
            )
        indices = [i for i, task in enumerate(tasks) if task is not None]
        validated = [self.validate_task(tasks[i]) for i in indices]  # validate all before changing any
        self._install_tasks(np.asarray(indices, dtype=np.intp), validated)

    def set_task(self, task: Any) -> None:
        """Fix the same ``task`` in every sub-env (Gymnasium's ``call("set_task", task)`` semantics); ``None``
        puts every sub-env back to drawing a task at each reset."""
        if task is None:
            self._task_fixed[:] = False
            return
        task = self.validate_task(task)
        self._install_tasks(np.arange(self.num_envs), [task] * self.num_envs)

    def task_vectors(self) -> np.ndarray:
        """``task_vector`` of every sub-env's task stacked into a read-only ``(B, task_dim)`` float32 array."""
        if self._task_vectors is None:
            missing = [i for i, task in enumerate(self._tasks) if task is None]
            if missing:
                raise RuntimeError(
                    f"sub-envs {missing} of {self.env_id} have no task yet; call reset() or set_tasks() first"
                )
            matrix = np.stack([np.asarray(self.task_vector(task), dtype=np.float32) for task in self._tasks])
            matrix.flags.writeable = False
            self._task_vectors = matrix
        return self._task_vectors

    def _install_tasks(self, indices: np.ndarray, tasks: Sequence[Any]) -> None:
        if len(indices) == 0:
            return
        for i, task in zip(indices, tasks):
            self._tasks[int(i)] = task
        self._task_fixed[np.asarray(indices, dtype=np.intp)] = True
        self._task_vectors = None
        self._on_tasks_changed(np.asarray(indices, dtype=np.intp))

    # ------------------------------------------------------------------ Gymnasium vector API
    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-envs (or those in ``options["reset_mask"]``); see the class docstring."""
        mask, new_tasks = parse_reset_options(
            options, self.num_envs, self.env_id, self.validate_task, first_reset=self._needs_reset
        )
        indices = np.flatnonzero(mask)
        seeds = seed_list(seed, self.num_envs, self.env_id)

        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            super().reset(seed=int(seed))  # the vector env's own np_random (used by sample_tasks(rng=None))
        for i in indices:
            if seeds[i] is not None:
                self._env_rngs[i] = seeding.np_random(seeds[i])[0]

        changed = [i for i in indices if new_tasks[i] is not None]
        self._install_tasks(np.asarray(changed, dtype=np.intp), [new_tasks[i] for i in changed])
        self._draw_unfixed_tasks(indices)

        obs_rows, info_rows = self._reset_envs(indices)
        if mask.all():
            obs = np.array(obs_rows, copy=True)
        else:  # partial reset: the other sub-envs keep their current observation
            obs = self._last_obs.copy()
            obs[indices] = obs_rows
        self._elapsed[indices] = 0
        self._terminated[indices] = False
        self._truncated[indices] = False
        self._last_obs = obs
        self._needs_reset = False
        return obs.copy(), self._scatter_info(info_rows, indices, mask)

    def _draw_unfixed_tasks(self, indices: np.ndarray) -> None:
        """A sub-env of ``indices`` with no fixed task draws one with its own generator, exactly as the single env
        does on reset."""
        missing = [i for i in indices if not self._task_fixed[i]]
        for i in missing:
            self._tasks[i] = self._sample_tasks(1, self._env_rngs[i])[0]
        if missing:
            self._task_vectors = None
            self._on_tasks_changed(np.asarray(missing, dtype=np.intp))

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every unfinished sub-env; finished ones are reset (``NEXT_STEP``) or stay frozen (``DISABLED``)."""
        if self._needs_reset:
            raise error.ResetNeeded(f"Cannot call {self.env_id} step() before reset()")
        actions = check_actions(actions, self._action_shape, self.env_id)
        finished = self._terminated | self._truncated
        if self.autoreset_mode == AutoresetMode.NEXT_STEP and finished.any():
            return self._autoreset_step(actions, finished)
        active = ~finished
        obs, reward, terminated, info = self._step_envs(actions, active)
        obs = np.asarray(obs)
        reward = np.asarray(reward, dtype=np.float64)
        terminated = np.asarray(terminated, dtype=bool)
        all_active = not finished.any()
        if not all_active:
            obs = obs.copy()
            obs[finished] = self._last_obs[finished]
            reward = np.where(active, reward, 0.0)
            terminated = np.where(active, terminated, self._terminated)
            for key, value in info.items():
                if key.startswith("reward"):
                    info[key] = np.where(active, value, 0.0)
        self._elapsed += active  # bool adds 0/1: finished sub-envs keep their count
        truncated = self._truncated.copy()
        if self.max_episode_steps is not None:
            truncated |= active & (self._elapsed >= self.max_episode_steps)
        self._terminated = terminated.copy()
        self._truncated = truncated.copy()
        self._last_obs = obs
        infos: dict[str, Any] = {}
        for key, value in info.items():
            infos[key] = value
            infos[f"_{key}"] = active.copy()
        return obs.copy(), reward, terminated, truncated, infos

    def _autoreset_step(
        self, actions: np.ndarray, finished: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """``NEXT_STEP``: reset the ``finished`` sub-envs (their actions are ignored) and step the others, as
        ``SyncVectorEnv`` does: reset rows get the reset observation and info, reward ``0.0``, flags ``False``."""
        indices = np.flatnonzero(finished)
        self._draw_unfixed_tasks(indices)
        reset_obs, reset_info = self._reset_envs(indices)
        active = ~finished
        obs, reward, terminated, info = self._step_envs(actions, active)
        obs = np.array(obs, copy=True)
        obs[indices] = reset_obs
        reward = np.where(active, np.asarray(reward, dtype=np.float64), 0.0)
        terminated = active & np.asarray(terminated, dtype=bool)
        self._elapsed[indices] = 0
        self._elapsed += active
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = active & (self._elapsed >= self.max_episode_steps)
        self._terminated = terminated.copy()
        self._truncated = truncated.copy()
        self._last_obs = obs
        infos: dict[str, Any] = {}
        for key, value in info.items():
            value = np.asarray(value)
            infos[key] = np.where(active.reshape(-1, *([1] * (value.ndim - 1))), value, np.zeros_like(value))
            infos[f"_{key}"] = active.copy()
        for key, rows in reset_info.items():
            rows = np.asarray(rows)
            if key in infos:
                full = np.asarray(infos[key]).copy()
                mask = infos[f"_{key}"] | finished
            else:
                full = np.zeros((self.num_envs, *rows.shape[1:]), dtype=rows.dtype)
                mask = finished.copy()
            full[indices] = rows
            infos[key] = full
            infos[f"_{key}"] = mask
        return obs.copy(), reward, terminated, truncated, infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One frame per sub-env when ``render_mode="rgb_array"``; ``None`` (with a warning) without a mode."""
        if not can_render(self, "gymnasium.make_vec"):
            return None
        return tuple(self._render_env(i) for i in range(self.num_envs))

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Per-env attribute values, as ``SyncVectorEnv.get_attr`` returns them.

        ``"task"`` gives each sub-env's task, ``"elapsed_steps"`` its step count, ``"np_random"`` its generator,
        ``"observation_space"`` / ``"action_space"`` the single-env spaces; any other non-callable attribute
        is shared by all sub-envs and repeated; a method name is forwarded to :meth:`call`.
        """
        per_env = {
            "task": lambda: tuple(self._tasks),
            "elapsed_steps": lambda: tuple(int(k) for k in self._elapsed),
            "np_random": lambda: tuple(self._env_rngs),
            "observation_space": lambda: (self.single_observation_space,) * self.num_envs,
            "action_space": lambda: (self.single_action_space,) * self.num_envs,
        }
        if name in per_env:
            return per_env[name]()
        if name.startswith("_") or not hasattr(self, name):
            raise AttributeError(f"{self.env_id} has no public attribute {name!r}")
        value = getattr(self, name)
        if callable(value):
            return self.call(name)
        return (value,) * self.num_envs

    def set_attr(self, name: str, values: Any) -> None:
        """Set a per-env attribute: ``"task"`` with a list/tuple of ``num_envs`` tasks, or one task for all
        (``None``: back to drawing)."""
        if name != "task":
            raise AttributeError(
                f"{self.env_id}.set_attr supports only 'task' (per-env tasks), got {name!r}; other settings are "
                "constructor arguments"
            )
        if isinstance(values, (list, tuple)):
            self.set_tasks(values)
        else:
            self.set_task(values)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call a sub-env method on every sub-env and return the per-env results, like ``SyncVectorEnv.call``.

        Supported: ``"set_task"`` (one task for all, or a list/tuple of ``num_envs`` tasks, one per sub-env),
        ``"sample_tasks"`` (each sub-env draws with its own generator, as ``B`` single envs would, unless
        ``rng`` is given), ``"task_vector"``, ``"render"``, and attribute names accepted by :meth:`get_attr`.
        """
        if name == "set_task":
            if len(args) + len(kwargs) != 1 or set(kwargs) - {"task"}:
                raise TypeError(
                    f"call('set_task', task) takes exactly one task argument, got {args!r} {kwargs!r}"
                )
            value = args[0] if args else kwargs["task"]
            self.set_attr("task", value)
            return (None,) * self.num_envs
        if name == "sample_tasks":
            if "rng" in kwargs or len(args) > 1:
                return tuple(self.sample_tasks(*args, **kwargs) for _ in range(self.num_envs))
            return tuple(
                self.sample_tasks(*args, rng=self._env_rngs[i], **kwargs) for i in range(self.num_envs)
            )
        if name == "task_vector":
            result = self.task_vector(*args, **kwargs)
            return tuple(result.copy() for _ in range(self.num_envs))
        if name == "render":
            frames = self.render()
            return (None,) * self.num_envs if frames is None else frames
        if name in _PER_ENV_ATTRS or (
            not name.startswith("_") and hasattr(self, name) and not callable(getattr(self, name))
        ):
            return self.get_attr(name)
        raise AttributeError(
            f"{self.env_id}.call does not support {name!r}; supported: 'set_task', 'sample_tasks', "
            "'task_vector', 'render' and attribute names"
        )

    # ------------------------------------------------------------------ helpers
    def _scatter_info(
        self, rows: dict[str, np.ndarray], indices: np.ndarray, mask: np.ndarray
    ) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        for key, value in rows.items():
            value = np.asarray(value)
            full = np.zeros((self.num_envs, *value.shape[1:]), dtype=value.dtype)
            full[indices] = value
            infos[key] = full
            infos[f"_{key}"] = mask.copy()
        return infos

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs})"


def check_autoreset_mode(mode: Any, env_id: str) -> AutoresetMode:
    """``mode`` as an ``AutoresetMode`` (its string value is accepted); only ``NEXT_STEP`` and ``DISABLED``."""
    try:
        mode = AutoresetMode(mode)
    except ValueError:
        raise ValueError(
            f"autoreset_mode must be an AutoresetMode (NEXT_STEP or DISABLED) for {env_id}, got {mode!r}"
        ) from None
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
        raise ValueError(f"autoreset_mode {mode} is not supported by {env_id}; use NEXT_STEP or DISABLED")
    return mode


def check_task_count(n: Any) -> int:
    """Validate the ``n`` of ``sample_tasks(n, ...)``: a non-negative int (``TypeError`` / ``ValueError``)."""
    return check_int("n (number of tasks)", n, 0)


def parse_reset_options(
    options: dict[str, Any] | None,
    num_envs: int,
    env_id: str,
    validate_task: Callable[[Any], Any],
    *,
    first_reset: bool = False,
) -> tuple[np.ndarray, list[Any]]:
    """The ``reset(options=...)`` of a batched env (keys :data:`RESET_OPTION_KEYS`), checked before any state
    changes: the bool mask of the sub-envs to reset (``options["reset_mask"]``, default all) and, per sub-env,
    the task to install (``options["task"]`` for every reset sub-env, or ``options["tasks"]`` one per sub-env;
    ``None`` = keep), each passed through ``validate_task``.

    :param first_reset: the env has never been reset, so every sub-env must be (``ResetNeeded`` otherwise).
    :raises ValueError: naming an unknown key, a bad mask, both ``task`` and ``tasks``, a task list of the wrong
        length or a task for a sub-env that is not reset.
    """
    options = {} if options is None else dict(options)
    unknown = set(options) - RESET_OPTION_KEYS
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {sorted(unknown)} for {env_id}; expected keys among {sorted(RESET_OPTION_KEYS)}"
        )
    mask = _reset_mask(options.get("reset_mask"), num_envs, env_id)
    if first_reset and not mask.all():
        raise error.ResetNeeded(f"{env_id}: the first reset must reset every sub-env (no reset_mask)")
    if "task" in options and "tasks" in options:
        raise ValueError(f"pass either options['task'] or options['tasks'] to {env_id}, not both")
    new_tasks: list[Any] = [None] * num_envs
    if options.get("task") is not None:
        task = validate_task(options["task"])
        for i in np.flatnonzero(mask):
            new_tasks[i] = task
    elif options.get("tasks") is not None:
        given = options["tasks"]
        if not isinstance(given, (list, tuple)) or len(given) != num_envs:
            raise ValueError(
                f"options['tasks'] must be a list or tuple of num_envs={num_envs} tasks for {env_id}, got {given!r}"
            )
        for i, task in enumerate(given):
            if task is None:
                continue
            if not mask[i]:
                raise ValueError(
                    f"options['tasks'][{i}] is set but sub-env {i} is not in reset_mask for {env_id}; "
                    "use set_tasks() to change the task of a running sub-env"
                )
            new_tasks[i] = validate_task(task)
    return mask, new_tasks


def _reset_mask(reset_mask: Any, num_envs: int, env_id: str) -> np.ndarray:
    if reset_mask is None:
        return np.ones(num_envs, dtype=bool)
    mask = np.asarray(reset_mask)
    if mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ValueError(
            f"options['reset_mask'] must be a bool array of shape ({num_envs},) for {env_id}, got "
            f"dtype {mask.dtype} and shape {mask.shape}"
        )
    if not mask.any():
        raise ValueError(f"options['reset_mask'] selects no sub-env of {env_id}")
    return mask.copy()


def seed_list(seed: int | Sequence[int | None] | None, num_envs: int, env_id: str) -> list[int | None]:
    """Per-sub-env reset seeds of a batched env's ``reset(seed=...)``: an int ``s`` gives ``s + i`` to sub-env
    ``i`` (as ``i`` single envs reset with ``seed=s + i``), a list gives one seed (or ``None``) per sub-env."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        return [int(seed) + i for i in range(num_envs)]
    if isinstance(seed, (list, tuple)) and len(seed) == num_envs:
        return [None if s is None else int(s) for s in seed]
    raise TypeError(
        f"seed must be None, an int, or a list of num_envs={num_envs} ints/None for {env_id}, got {seed!r}"
    )
