"""The task protocol of every registered id (envs.base): a plain ``gymnasium.make`` env is a task distribution.

With no task fixed each reset draws a task with the env's seeded ``np_random``; ``set_task`` / ``env.task = t`` /
``reset(options={"task": t})`` fix one until changed; ``None`` goes back to drawing; unknown reset options are
refused; per-env tasks work through Gymnasium's own ``SyncVectorEnv`` / ``AsyncVectorEnv``; ``gymnasium.make_vec``
autoresets as Gymnasium's ``SyncVectorEnv`` over the single env does (``NEXT_STEP``).
(``check_env`` of Gymnasium and SB3 on every id: ``test_env_registry.py``.)
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede the first `import mujoco`

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv  # noqa: E402

import envs  # noqa: E402
from envs.nav2d import GoalTask  # noqa: E402

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


# ------------------------------------------------------------------------ make_vec follows Gymnasium's autoreset
def _close(ours, theirs, env_id: str, what: str) -> None:
    if env_id.startswith("MetaNav2D"):  # the same float64 maths on (B, 2) and (1, 2) arrays: bit-identical
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed-tasks", "drawn-tasks"])
@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_autoresets_next_step_like_sync_vector_env(env_id: str, fixed: bool) -> None:
    batch, horizon, seed, steps = 3, 7, 12, 24
    vec = gym.make_vec(env_id, num_envs=batch, max_episode_steps=horizon)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    ref = SyncVectorEnv([lambda: gym.make(env_id, max_episode_steps=horizon) for _ in range(batch)])
    assert ref.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    if env_id.startswith("MetaNav2D"):  # sub-env 0 reaches its goal in one step: termination resets too
        tasks = [GoalTask(goal=(0.1, 0.0)), GoalTask(goal=(0.3, 0.3)), GoalTask(goal=(-0.2, 0.4))]
    else:
        tasks = vec.unwrapped.sample_tasks(batch, rng=3)
    if fixed:
        vec.unwrapped.set_tasks(tasks)
        ref.set_attr("task", tasks)
    obs, _ = vec.reset(seed=seed)
    ref_obs, _ = ref.reset(seed=seed)
    _close(obs, ref_obs, env_id, "reset")
    rng = np.random.default_rng(0)
    resets = 0
    for t in range(steps):
        actions = rng.uniform(-1, 1, size=vec.action_space.shape).astype(np.float32)
        actions = np.clip(actions, vec.single_action_space.low, vec.single_action_space.high)
        if env_id.startswith("MetaNav2D"):
            actions[0] = (0.1, 0.0)
        obs, rew, term, trunc, info = vec.step(actions)
        ref_obs, ref_rew, ref_term, ref_trunc, ref_info = ref.step(actions)
        _close(obs, ref_obs, env_id, f"obs at step {t}")
        _close(rew, ref_rew, env_id, f"reward at step {t}")
        np.testing.assert_array_equal(term, ref_term, err_msg=f"terminated at step {t}")
        np.testing.assert_array_equal(trunc, ref_trunc, err_msg=f"truncated at step {t}")
        for key, value in ref_info.items():
            assert key in info, (key, t)
            if key.startswith("_"):
                np.testing.assert_array_equal(info[key], value, err_msg=f"info {key} at step {t}")
            else:
                mask = ref_info[f"_{key}"]
                _close(np.asarray(info[key])[mask], np.asarray(value)[mask], env_id, f"info {key} at step {t}")
        assert tuple(vec.unwrapped.tasks) == tuple(ref.get_attr("task")), t
        resets += int(np.sum(rew == 0.0))
    assert trunc.any() or term.any() or resets  # the horizon of 7 forces resets within 24 steps
    if env_id.startswith("MetaNav2D"):
        assert term[0] or trunc[0] or obs[0].tolist() == [0.0, 0.0]  # sub-env 0 cycles: terminate, reset, ...
    if not fixed:  # tasks were redrawn at the autoresets, with each sub-env's own generator
        assert len(set(vec.unwrapped.tasks)) > 1 or env_id.endswith("Dir-v0")
    vec.close()
    ref.close()


def test_samplers_ask_for_the_disabled_form() -> None:
    from metarl.rl.sampler import _make_vector_env

    vec = _make_vector_env("MetaNav2D-v0", 2, None)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    vec.close()
    with pytest.raises(ValueError, match="SAME_STEP|SameStep"):
        gym.make_vec("MetaNav2D-v0", num_envs=2, autoreset_mode=AutoresetMode.SAME_STEP)


def test_sb3_ppo_on_a_plain_make_env_sees_a_new_task_every_episode(tmp_path) -> None:
    """examples/ppo_on_task_distribution.py: PPO knows nothing of tasks, yet each of its episodes has its own."""
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "ppo_on_task_distribution.py"
    spec = importlib.util.spec_from_file_location("example_ppo_on_task_distribution", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    summary = module.main(module.Args(steps=1024, seed=3, out=tmp_path / "episodes.json"))
    tasks = [e["task"] for e in summary["episode_log"]]
    assert len(tasks) == 1024 // 200  # 200-step episodes, PPO's one rollout of 1024 steps
    assert summary["distinct_tasks"] == len(tasks), tasks
    assert all(0.0 <= t <= 2.0 for t in tasks), tasks  # the paper's goal velocities, U[0, 2]
    assert (tmp_path / "episodes.json").is_file()
