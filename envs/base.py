"""The task API shared by every metarl environment.

A *task distribution* env (MAML paper, Finn et al. 2017, section 2.1: "a distribution over tasks p(T)") is an
ordinary ``gymnasium.Env`` whose dynamics or reward depend on a task.  The task protocol, the same for every env
in :mod:`envs`:

- A plain ``gymnasium.make(id)`` env *is* the task distribution: with no task fixed, every ``reset()`` draws a
  new task from the distribution with the env's seeded ``np_random`` (so ``reset(seed=s)`` makes the sequence of
  tasks reproducible), and plain Gymnasium / Stable-Baselines3 training sees many tasks.
- ``set_task(task)``, ``env.task = task`` or ``reset(options={"task": task})`` validate a task and *fix* it: it
  stays across resets until changed.  ``set_task(None)``, ``env.task = None`` or ``reset(options={"task": None})``
  go back to drawing (``reset(options={"task": None})`` draws at once).  ``env.task`` reads the task of the
  current episode (or the fixed one); ``is_task_fixed`` says which mode the env is in.
- ``reset`` accepts only the option key ``"task"``; any other key raises ``ValueError`` naming it.
- ``sample_tasks(n, rng=None) -> list[Task]`` — draws ``n`` tasks with a seeded ``numpy.random.Generator``
  (``rng`` may be a ``Generator``, an ``int`` seed or ``None``; ``None`` uses the env's own ``np_random``);
  never the global ``np.random`` state.
- ``task=`` constructor kwarg — fixes a task; ``EzPickle``/``copy.deepcopy`` keep a fixed task.
- Through Gymnasium's vector envs (``SyncVectorEnv`` / ``AsyncVectorEnv`` over single envs, and the batched forms
  of ``gymnasium.make_vec``): ``set_attr("task", [t_0, ...])`` and ``call("set_task", t)`` fix per-env tasks.
- ``task_vector(task) -> np.ndarray`` — the task parameters as float32 numbers (used by
  :class:`envs.wrappers.TaskInObservation` for oracle policies).
- Optional, ``sample_test_tasks(n, rng=None) -> list[Task]`` — for a benchmark that fixes a separate set of
  held-out tasks (Meta-World ML1: 50 train and 50 test variations), draws ``n`` of them; ``sample_tasks`` then draws
  only meta-training tasks and ``set_task`` accepts both.  An env without it has one task distribution, and
  held-out tasks are fresh draws from ``sample_tasks`` with the evaluation's own seeded generator.
  :func:`sample_held_out_tasks` picks the right one, so evaluation code needs one call for both kinds.
- Optional, ``task.describe() -> str`` — a short caption of the task (``"goal velocity 1.27 m/s"``), written on
  rendered frames by :func:`agents.render_adaptation`; :func:`describe_task` falls back to a shortened ``repr``.

Tasks are small frozen dataclasses defined next to the env that uses them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import error, logger


@runtime_checkable
class Task(Protocol):
    """Marker protocol: a task is a frozen dataclass of numbers."""


def as_generator(rng: np.random.Generator | int | None, fallback: np.random.Generator) -> np.random.Generator:
    """Return ``rng`` as a ``numpy.random.Generator``: a Generator is used as is, an int seeds a new one,
    ``None`` gives ``fallback`` (normally the env's ``np_random``)."""
    if rng is None:
        return fallback
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def sample_held_out_tasks(env: Any, n: int, rng: np.random.Generator | int) -> list[Any]:
    """``n`` evaluation tasks of ``env`` (a single env, a wrapper of one, or a vector env): its held-out set through
    ``sample_test_tasks(n, rng)`` when the env has one, else ``sample_tasks(n, rng)`` (a distribution with no fixed
    test set, where seeded fresh draws are the held-out tasks).  ``rng`` is required: evaluation tasks must not
    come from, or disturb, the env's own ``np_random``."""
    if rng is None:
        raise TypeError("rng must be a numpy.random.Generator or an int seed for held-out tasks, got None")
    unwrapped = getattr(env, "unwrapped", env)
    sampler = getattr(unwrapped, "sample_test_tasks", None)
    if sampler is None:
        sampler = unwrapped.sample_tasks
    return list(sampler(n, rng))


def can_render(env: Any, make: str = "gymnasium.make") -> bool:
    """The checks every env's ``render()`` starts with: ``False`` (after Gymnasium's warning) when the env has no
    render mode, ``error.ResetNeeded`` before the first reset, else ``True``.  ``make`` names the constructor the
    warning points to (``gymnasium.make_vec`` for batched forms)."""
    if env.render_mode is None:
        logger.warn(f"You are calling render() on {env.env_id} without a render mode; pass "
                    f'render_mode="rgb_array" to {make}.')
        return False
    if env._needs_reset:
        raise error.ResetNeeded(f"Cannot call {env.env_id} render() before reset()")
    return True


def describe_task(task: Any, max_chars: int = 48) -> str:
    """A one-line caption of ``task`` for rendered frames: ``task.describe()`` when the task defines it, else its
    ``repr`` cut to ``max_chars`` characters (ending in ``...``)."""
    describe = getattr(task, "describe", None)
    text = str(describe()) if callable(describe) else repr(task)
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


class FixableTaskMixin:
    """The task state of a single env under the protocol: :attr:`task`, :attr:`is_task_fixed`, :meth:`set_task`.

    The env class sets ``env_id``, initialises ``self._task`` (``None`` or a task) and ``self._task_fixed``
    (``False``), is a ``gymnasium.utils.EzPickle`` (so a fixed task survives pickling and ``copy.deepcopy``), and
    provides ``validate_task(task) -> task`` (``TypeError`` / ``ValueError``) and ``_install_task(task)``, which
    makes ``task`` current: stores it in ``self._task`` and updates whatever the dynamics read.  Its ``reset``
    draws a task when :attr:`is_task_fixed` is ``False``.
    """

    _task: Any
    _task_fixed: bool

    @property
    def task(self) -> Any:
        """The current task: the fixed one, or the one drawn for this episode (before the first reset of an env
        with no fixed task, the env's initial value: ``None`` or a documented default).  Assigning calls
        :meth:`set_task`."""
        return self._task

    @task.setter
    def task(self, task: Any) -> None:
        self.set_task(task)

    @property
    def is_task_fixed(self) -> bool:
        """``True`` when a task is fixed; ``False`` when each reset draws one."""
        return self._task_fixed

    def set_task(self, task: Any) -> None:
        """Validate and fix ``task``: it stays across resets until changed.  ``None`` goes back to drawing a task
        at every reset (the current episode keeps its task)."""
        if task is None:
            self._task_fixed = False
        else:
            self._install_task(self.validate_task(task))
            self._task_fixed = True
        # EzPickle rebuilds copies and pickles from the constructor kwargs: keep a fixed task there
        ez_kwargs = getattr(self, "_ezpickle_kwargs", None)
        if ez_kwargs is not None:
            ez_kwargs["task"] = self._task if self._task_fixed else None


#: ``reset(options=...)`` keys understood by every single env.
RESET_OPTION_KEYS = frozenset({"task"})

#: returned by :func:`task_option` when ``options`` has no ``"task"`` key
NO_TASK_OPTION: Any = object()


def task_option(options: dict[str, Any] | None, env_id: str) -> Any:
    """The ``"task"`` entry of a single env's reset ``options`` (``None`` means "back to drawing"), or
    :data:`NO_TASK_OPTION` when there is none; ``ValueError`` naming any other key."""
    if options is None:
        return NO_TASK_OPTION
    unknown = set(options) - RESET_OPTION_KEYS
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {sorted(unknown)} for {env_id}; expected keys among {sorted(RESET_OPTION_KEYS)}"
        )
    return options.get("task", NO_TASK_OPTION)


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int; ``TypeError`` unless an integer (not a bool), ``ValueError`` if below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_task_type(task: Any, expected: type, env_id: str) -> None:
    """Raise a ``TypeError`` naming the env when ``task`` is not an instance of ``expected``."""
    if not isinstance(task, expected):
        raise TypeError(
            f"task must be a {expected.__name__} for {env_id}, got {type(task).__name__}: {task!r}"
        )


def check_actions(actions: np.ndarray, shape: tuple[int, ...], env_id: str) -> np.ndarray:
    """Validate a batch of actions (or one action): exact shape and finite values.

    Returns the actions as float64.  Raises ``ValueError`` naming the bad field and value.
    """
    arr = np.asarray(actions, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"action has shape {arr.shape}, expected {shape} for {env_id}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"action contains a non-finite value ({bad}) for {env_id}")
    return arr
