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

Tasks are small frozen dataclasses defined next to the env that uses them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


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
