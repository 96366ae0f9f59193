"""The task protocol of every registered id (envs.base): a plain ``gymnasium.make`` env is a task distribution.

With no task fixed each reset draws a task with the env's seeded ``np_random``; ``set_task`` / ``env.task = t`` /
``reset(options={"task": t})`` fix one until changed; ``None`` goes back to drawing; unknown reset options are
refused; per-env tasks work through Gymnasium's own ``SyncVectorEnv`` / ``AsyncVectorEnv``.
(``check_env`` of Gymnasium and SB3 on every id: ``test_env_registry.py``.)
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede the first `import mujoco`

import gymnasium as gym  # noqa: E402
import pytest  # noqa: E402
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv  # noqa: E402

import envs  # noqa: E402

IDS = envs.ENV_IDS
NAV_AND_MUJOCO = ("MetaNav2D-v0", "MetaCheetahVel-v0", "MetaAntDir-v0")


def _tasks_over_resets(env: gym.Env, n: int, seed: int) -> list:
    env.reset(seed=seed)
    tasks = [env.unwrapped.task]
    for _ in range(n - 1):
        env.reset()
        tasks.append(env.unwrapped.task)
    return tasks


@pytest.mark.parametrize("env_id", IDS)
def test_plain_make_draws_a_task_per_reset_reproducibly(env_id: str) -> None:
    env = gym.make(env_id)
    assert not env.unwrapped.is_task_fixed
    tasks = _tasks_over_resets(env, 12, seed=3)
    assert len(set(tasks)) > 1  # direction tasks: all equal with p = 2^-11 (and the seed is fixed)
    assert _tasks_over_resets(gym.make(env_id), 12, seed=3) == tasks
    assert _tasks_over_resets(gym.make(env_id), 12, seed=4) != tasks
    # the drawn task is the one installed: it matches sample_tasks with the same seeded stream
    env.reset(seed=9)
    again = gym.make(env_id)
    again.reset(seed=9)
    assert env.unwrapped.task == again.unwrapped.task
    env.close()
    again.close()


@pytest.mark.parametrize("env_id", IDS)
def test_fixed_task_stays_and_none_goes_back_to_drawing(env_id: str) -> None:
    env = gym.make(env_id)
    t0, t1 = env.unwrapped.sample_tasks(2, rng=1)
    env.unwrapped.set_task(t0)
    assert env.unwrapped.is_task_fixed
    assert _tasks_over_resets(env, 4, seed=0) == [t0] * 4
    env.reset(options={"task": t1})
    assert _tasks_over_resets(env, 3, seed=1) == [t1] * 3
    env.unwrapped.task = t0  # the property has a setter, the same on every env
    assert _tasks_over_resets(env, 3, seed=2) == [t0] * 3
    assert env.get_wrapper_attr("task") == t0

    env.unwrapped.set_task(None)  # back to drawing; the current episode keeps its task
    assert not env.unwrapped.is_task_fixed and env.unwrapped.task == t0
    assert _tasks_over_resets(env, 6, seed=3) == _tasks_over_resets(gym.make(env_id), 6, seed=3)

    env.unwrapped.task = t1
    env.reset(seed=3, options={"task": None})  # back to drawing, drawn at once
    assert not env.unwrapped.is_task_fixed
    fresh = gym.make(env_id)
    fresh.reset(seed=3)
    assert env.unwrapped.task == fresh.unwrapped.task
    env.close()
    fresh.close()


@pytest.mark.parametrize("env_id", IDS)
def test_constructor_task_is_fixed(env_id: str) -> None:
    probe = gym.make(env_id)
    task = probe.unwrapped.sample_tasks(1, rng=2)[0]
    env = gym.make(env_id, task=task)
    assert env.unwrapped.is_task_fixed and _tasks_over_resets(env, 3, seed=5) == [task] * 3
    probe.close()
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_unknown_reset_option_is_refused_naming_it(env_id: str) -> None:
    env = gym.make(env_id)
    task = env.unwrapped.sample_tasks(1, rng=0)[0]
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['tsk'\]"):
        env.reset(seed=0, options={"tsk": task})
    vec = gym.make_vec(env_id, num_envs=2)
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['tsk'\]"):
        vec.reset(seed=0, options={"tsk": task})
    env.close()
    vec.close()


@pytest.mark.parametrize("vector_cls", [SyncVectorEnv, AsyncVectorEnv], ids=["sync", "async"])
@pytest.mark.parametrize("env_id", NAV_AND_MUJOCO)
def test_tasks_through_gymnasium_vector_envs(env_id: str, vector_cls: type) -> None:
    vec = vector_cls([lambda: gym.make(env_id) for _ in range(2)])
    try:
        tasks = gym.make(env_id).unwrapped.sample_tasks(4, rng=11)
        vec.set_attr("task", [tasks[0], tasks[1]])
        vec.reset(seed=0)
        vec.reset(seed=1)
        assert tuple(vec.get_attr("task")) == (tasks[0], tasks[1])
        vec.call("set_task", tasks[2])
        vec.reset(seed=2)
        assert tuple(vec.get_attr("task")) == (tasks[2], tasks[2])
        vec.set_attr("task", [tasks[3], None])  # sub-env 1 goes back to drawing
        vec.reset(seed=3)
        drawn = gym.make(env_id)
        drawn.reset(seed=4)  # SyncVectorEnv/AsyncVectorEnv seed sub-env i with seed + i
        assert tuple(vec.get_attr("task")) == (tasks[3], drawn.unwrapped.task)
        assert tuple(vec.get_attr("is_task_fixed")) == (True, False)
    finally:
        vec.close()
