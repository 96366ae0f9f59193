"""Task-distribution environments for meta-RL, registered with Gymnasium.

Importing this package registers every id below with string entry points, so nothing heavy (MuJoCo) is
imported until an env is made.  ``gymnasium.make("envs:MetaCheetahVel-v0")`` works with no prior import;
``import metarl`` also registers them.  ``gymnasium.make_vec(id, num_envs=B)`` returns the batched form, which
autoresets as Gymnasium 1.x vector envs do (``AutoresetMode.NEXT_STEP``, in ``metadata["autoreset_mode"]``);
``make_vec(id, num_envs=B, autoreset_mode=AutoresetMode.DISABLED)`` gives the done-stays-done form the MAML
samplers use.

Task protocol (the same on every id; details in :mod:`envs.base`): a plain ``gymnasium.make(id)`` env is a task
*distribution*: with no task fixed, each ``reset()`` draws a new task with the env's seeded ``np_random``
(``reset(seed=s)`` makes the draws reproducible).  ``set_task(t)``, ``env.task = t``,
``reset(options={"task": t})`` or the ``task=`` kwarg fix a task until changed; ``set_task(None)`` or
``reset(options={"task": None})`` go back to drawing.  Unknown reset option keys raise ``ValueError``.  Through
Gymnasium's vector envs, ``set_attr("task", [...])`` and ``call("set_task", t)`` set per-env tasks.

Your own task distribution: any id whose single env has ``sample_tasks(n, rng=None)``, ``set_task(task)`` and
``task`` (:mod:`envs.protocol`) is batched by :func:`make_task_vector_env` — natively when the id registers a
``vector_entry_point``, else by :class:`SyncTaskVectorEnv` / :class:`AsyncTaskVectorEnv` over copies of the
single env (:mod:`envs.task_vector_adapter`).
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from envs.protocol import (
    TASK_PROTOCOL,
    TaskProtocolError,
    env_spec,
    missing_task_protocol,
    require_task_protocol,
)
from envs.task_vector_adapter import AsyncTaskVectorEnv, SyncTaskVectorEnv, make_task_vector_env

#: (id, module:class of the single env, module:class of the batched env, horizon)
ENV_SPECS: tuple[tuple[str, str, str, int], ...] = (
    ("MetaNav2D-v0", "envs.nav2d:MetaNav2DEnv", "envs.nav2d:MetaNav2DVectorEnv", 100),
    ("MetaNav2DFamily-v0", "envs.nav2d:MetaNav2DFamilyEnv", "envs.nav2d:MetaNav2DFamilyVectorEnv", 100),
    ("MetaCheetahVel-v0", "envs.half_cheetah:MetaCheetahVelEnv", "envs.half_cheetah:MetaCheetahVelVectorEnv", 200),
    ("MetaCheetahDir-v0", "envs.half_cheetah:MetaCheetahDirEnv", "envs.half_cheetah:MetaCheetahDirVectorEnv", 200),
    ("MetaAntVel-v0", "envs.ant:MetaAntVelEnv", "envs.ant:MetaAntVelVectorEnv", 200),
    ("MetaAntDir-v0", "envs.ant:MetaAntDirEnv", "envs.ant:MetaAntDirVectorEnv", 200),
)

ENV_IDS: tuple[str, ...] = tuple(spec[0] for spec in ENV_SPECS)

for _env_id, _entry, _vector_entry, _horizon in ENV_SPECS:
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point=_entry,
            vector_entry_point=_vector_entry,
            max_episode_steps=_horizon,
        )

__all__ = [
    "ENV_IDS",
    "ENV_SPECS",
    "TASK_PROTOCOL",
    "AsyncTaskVectorEnv",
    "SyncTaskVectorEnv",
    "TaskProtocolError",
    "env_spec",
    "make_task_vector_env",
    "missing_task_protocol",
    "require_task_protocol",
]
