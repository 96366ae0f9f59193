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

Meta-World ML1 (optional extra ``metarl[metaworld]``, :mod:`envs.metaworld_ml1`): ``MetaWorldML1-reach-v3``,
``MetaWorldML1-push-v3`` and ``MetaWorldML1-pick-place-v3`` are always registered (string entry points, so
registering imports nothing); making one without ``metaworld`` installed raises an ``ImportError`` that says
``pip install "metarl[metaworld]"``.  They have no native batched form and are not in :data:`ENV_IDS` (the ids
with one); they are listed in :data:`METAWORLD_ENV_IDS`.
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

#: (id, Meta-World ML1 task name, horizon) of the optional Meta-World extra: the three ML1 tasks of Yu et al. 2019
#: (section 4.3); the horizon is Meta-World's ``max_path_length``, 500, also the MAML ML1 path length of Yu et al.
#: (arXiv:1910.10897v2, App. D.7, Table 9).  Any other of the 50 task names: ``MetaWorldML1Env(env_name=...)``.
METAWORLD_ENV_SPECS: tuple[tuple[str, str, int], ...] = (
    ("MetaWorldML1-reach-v3", "reach-v3", 500),
    ("MetaWorldML1-push-v3", "push-v3", 500),
    ("MetaWorldML1-pick-place-v3", "pick-place-v3", 500),
)
METAWORLD_ENV_IDS: tuple[str, ...] = tuple(spec[0] for spec in METAWORLD_ENV_SPECS)

for _env_id, _entry, _vector_entry, _horizon in ENV_SPECS:
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point=_entry,
            vector_entry_point=_vector_entry,
            max_episode_steps=_horizon,
        )

for _env_id, _task_name, _horizon in METAWORLD_ENV_SPECS:
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="envs.metaworld_ml1:MetaWorldML1Env",
            kwargs={"env_name": _task_name},
            max_episode_steps=_horizon,
        )

__all__ = [
    "ENV_IDS",
    "ENV_SPECS",
    "METAWORLD_ENV_IDS",
    "METAWORLD_ENV_SPECS",
    "TASK_PROTOCOL",
    "AsyncTaskVectorEnv",
    "SyncTaskVectorEnv",
    "TaskProtocolError",
    "env_spec",
    "make_task_vector_env",
    "missing_task_protocol",
    "require_task_protocol",
]
