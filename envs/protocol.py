"""What the library asks of a task-distribution env, built in or a user's: the task protocol and its check.

MAML (Finn et al. 2017, section 2.1) meta-learns over "a distribution over tasks p(T)".  An env is such a
distribution for metarl when its SINGLE env (``gymnasium.make(env_id).unwrapped``) has

- ``sample_tasks(n, rng=None) -> list`` — ``n`` tasks drawn with ``rng`` (a ``numpy.random.Generator``);
- ``set_task(task)`` — fix the task of the following episodes (from the next ``reset``);
- ``task`` — the current task (an attribute or a property).

That is all MAML-TRPO, the evaluation and the rendering need: an env without a native batched form is batched
by :func:`envs.task_vector_adapter.make_task_vector_env`.  :func:`require_task_protocol` raises
:class:`TaskProtocolError` (a ``ValueError``) naming what is missing; :func:`env_spec` resolves an id, including
Gymnasium's ``"module:Id"`` spelling (the module is imported, which registers the id).
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium
from gymnasium.envs.registration import EnvSpec

__all__ = ["TASK_PROTOCOL", "TaskProtocolError", "env_spec", "missing_task_protocol", "require_task_protocol"]

#: the names a single env must have: two methods, then the ``task`` attribute
TASK_PROTOCOL: tuple[str, ...] = ("sample_tasks", "set_task", "task")
#: where a user reads how to write such an env
_SEE = "see README 'Your own task distribution'"


class TaskProtocolError(ValueError):
    """An env lacks the task protocol (:data:`TASK_PROTOCOL`); the message names the missing names."""


def missing_task_protocol(env: Any) -> list[str]:
    """The names of :data:`TASK_PROTOCOL` that ``env`` (a single env; its ``unwrapped`` is inspected) lacks.

    Methods must be callable; ``task`` is looked up with ``dir`` so that a property which cannot be read before
    the first reset still counts.
    """
    env = getattr(env, "unwrapped", env)
    missing = [name for name in TASK_PROTOCOL[:2] if not callable(getattr(env, name, None))]
    if "task" not in dir(env):
        missing.append("task")
    return missing


def require_task_protocol(env: Any, env_id: str) -> None:
    """Raise :class:`TaskProtocolError` if the single env ``env`` of ``env_id`` lacks part of the task protocol,
    e.g. ``env 'CartPole-v1' does not implement the task protocol: missing sample_tasks, set_task, task; ...``."""
    missing = missing_task_protocol(env)
    if missing:
        raise TaskProtocolError(
            f"env {env_id!r} does not implement the task protocol: missing {', '.join(missing)}; {_SEE}"
        )


def env_spec(env_id: str) -> EnvSpec:
    """The registered :class:`~gymnasium.envs.registration.EnvSpec` of ``env_id``; ``"module:Id"`` imports
    ``module`` first (as ``gymnasium.make`` does).

    :raises ValueError: naming the id when the module cannot be imported or the id is not registered.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty str, got {env_id!r}")
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"env_id {env_id!r}: cannot import module {module!r} ({exc})") from None
    spec = gymnasium.registry.get(name)
    if spec is None:
        hint = "" if module else " (import the module that registers it, or write it as 'module:Id')"
        raise ValueError(f"env_id {env_id!r} is not a registered Gymnasium env id{hint}")
    return spec
