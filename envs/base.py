"""The task API shared by every metarl environment.

A *task distribution* env (MAML paper, Finn et al. 2017, section 2.1: "a distribution over tasks p(T)") is an
ordinary ``gymnasium.Env`` whose dynamics or reward depend on a task that stays fixed across resets until it is
set again.  Every env in :mod:`envs` offers:

- ``sample_tasks(n, rng=None) -> list[Task]`` — draws ``n`` tasks with a seeded ``numpy.random.Generator``
  (``rng`` may be a ``Generator``, an ``int`` seed or ``None``; ``None`` uses the env's own ``np_random``);
  never the global ``np.random`` state.
- ``set_task(task)`` / ``env.task`` — validate and install a task.
- ``reset(seed=..., options={"task": task})`` — install a task as part of a reset.
- ``task=`` constructor kwarg — so ``EzPickle``/``copy.deepcopy`` keep the task.
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
