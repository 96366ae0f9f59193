"""Meta-World ML1 through the task protocol (``envs.metaworld_ml1``): Gymnasium/SB3 checkers, train and test
variations, seeding, the goal of a task, success in ``info``, horizon, bad inputs, rendering.

Needs ``metarl[metaworld]`` (``make test-metaworld``); see this folder's conftest.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gymnasium.utils.env_checker import check_env, data_equivalence  # noqa: E402
from gymnasium.vector import SyncVectorEnv  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

import envs  # noqa: E402
from envs.base import describe_task, sample_held_out_tasks  # noqa: E402
from envs.metaworld_ml1 import MetaWorldML1Env, ML1Task  # noqa: E402
from envs.wrappers import TaskInObservation  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REACH = "MetaWorldML1-reach-v3"
# warnings the checkers emit for Meta-World's spaces by design (unbounded object coordinates, the 3 hidden goal
# values whose bounds are both 0)
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*infinity.*"),
    pytest.mark.filterwarnings("ignore:.*different from the unwrapped version.*"),
    pytest.mark.filterwarnings("ignore:.*maximum and minimum values are equal.*"),
]


def _reach_goal(env: gym.Env, goal: np.ndarray, steps: int = 150) -> tuple[list[float], list[float]]:
    """Drive the hand to ``goal`` with a proportional controller; (success flags, obj_to_target) per step."""
    obs = env.unwrapped.metaworld_env._get_obs()
    success, distance = [], []
    for _ in range(steps):
        action = np.zeros(4, dtype=np.float32)
        action[:3] = np.clip(10.0 * (goal - obs[:3]), -1.0, 1.0)
        obs, _, terminated, truncated, info = env.step(action)
        assert not terminated and not truncated
        success.append(info["success"])
        distance.append(info["obj_to_target"])
    return success, distance


# ----------------------------------------------------------------------------------------------- API checkers
@pytest.mark.parametrize("env_id", envs.METAWORLD_ENV_IDS)
def test_gymnasium_and_sb3_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped)  # includes rendering rgb_array through env.spec.make(render_mode=...)
    sb3_check_env(env, warn=True, skip_render_check=True)
    env.close()


def test_spaces_horizon_and_success_info() -> None:
    from metaworld.sawyer_xyz_env import SawyerXYZEnv

    env = gym.make(REACH)
    assert env.spec.max_episode_steps == SawyerXYZEnv.max_path_length == 500
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    assert env.observation_space.shape == (39,) and env.observation_space.dtype == np.float64
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    np.testing.assert_array_equal(obs[-3:], 0.0)  # ML1 hides the goal
    rng = np.random.default_rng(0)
    for t in range(1, 501):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
        assert not terminated and truncated == (t == 500), t
    assert obs in env.observation_space and 0.0 <= reward <= 10.0
    assert set(info) >= {"success", "near_object", "grasp_success", "obj_to_target", "unscaled_reward"}
    assert all(type(value) is float for value in info.values())
    # the env itself never truncates: a longer TimeLimit runs past Meta-World's own 500
    long = gym.make(REACH, max_episode_steps=503)
    long.reset(seed=0)
    flags = [long.step(np.zeros(4, dtype=np.float32))[3] for _ in range(503)]
    assert flags == [False] * 502 + [True]


# ----------------------------------------------------------------------------------------- tasks and goals
def test_a_task_puts_the_object_and_goal_where_its_rand_vec_says_and_success_is_reported() -> None:
    env = gym.make(REACH)
    train, test = env.unwrapped.sample_tasks(2, rng=0)[0], env.unwrapped.sample_test_tasks(1, rng=0)[0]
    for task in (train, test):
        obs, _ = env.reset(seed=1, options={"task": task})
        np.testing.assert_allclose(obs[4:7], task.rand_vec[:3], atol=1e-6)  # reach-v3: the object sits there
        success, distance = _reach_goal(env, np.asarray(task.rand_vec[3:]))
        assert success[0] == 0.0 and success[-1] == 1.0, (task, distance[-1])
        assert distance[-1] <= 0.05
    # the same motion aimed at another variation's goal fails on this one
    env.reset(seed=1, options={"task": train})
    success, _ = _reach_goal(env, np.asarray(test.rand_vec[3:]))
    assert max(success) == 0.0


def test_train_and_test_variations() -> None:
    env = gym.make(REACH).unwrapped
    train, test = env.train_tasks, env.test_tasks
    assert len(train) == len(test) == 50
    assert [t.index for t in train] == list(range(50)) and {t.split for t in train} == {"train"}
    assert {t.split for t in test} == {"test"}
    assert not {t.rand_vec for t in train} & {t.rand_vec for t in test}  # held out: no shared positions
    low, high = env.task_space.low, env.task_space.high
    assert all(np.all((low <= env.task_vector(t)) & (env.task_vector(t) <= high)) for t in train + test)
    # up to 50 draws are distinct; then a new permutation starts
    assert sorted(env.sample_tasks(50, rng=3), key=lambda t: t.index) == list(train)
    drawn = env.sample_test_tasks(60, rng=3)
    assert len(set(drawn[:50])) == 50 and set(drawn) <= set(test)
    assert env.sample_tasks(5, rng=3) == env.sample_tasks(5, rng=np.random.default_rng(3))
    assert env.sample_tasks(0) == []
    # evaluation's helper takes the held-out set
    assert sample_held_out_tasks(gym.make(REACH), 7, 11) == env.sample_test_tasks(7, rng=11)
    assert describe_task(test[7]) == "reach-v3, test variation 7"  # the caption of rendered frames


def test_benchmark_seed_chooses_the_variations_the_same_in_every_process() -> None:
    env = gym.make(REACH).unwrapped
    other = gym.make(REACH, benchmark_seed=1).unwrapped
    assert other.train_tasks != env.train_tasks
    assert other.train_tasks == tuple(
        ML1Task("reach-v3", "train", t.index, t.rand_vec) for t in env.test_tasks
    )  # Meta-World draws test variations with seed + 1
    result = subprocess.run(
        [sys.executable, "-c", "import gymnasium as gym, envs; print(gym.make('MetaWorldML1-reach-v3').unwrapped"
         ".test_tasks[7].rand_vec)"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(env.test_tasks[7].rand_vec)
    state = np.random.get_state()[1].copy()
    gym.make(REACH, benchmark_seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global NumPy state is left alone


# ------------------------------------------------------------------------------------------ task protocol
def _tasks_over_resets(env: gym.Env, n: int, seed: int) -> list[ML1Task]:
    """The tasks of ``n`` consecutive resets, the first one seeded."""
    tasks = []
    for s in [seed] + [None] * (n - 1):
        env.reset(seed=s)
        tasks.append(env.unwrapped.task)
    return tasks


def test_plain_make_draws_a_train_variation_per_reset_reproducibly() -> None:
    env = gym.make(REACH)
    assert not env.unwrapped.is_task_fixed and env.unwrapped.task is None
    tasks = _tasks_over_resets(env, 8, seed=3)
    assert len(set(tasks)) > 1 and all(t.split == "train" for t in tasks)
    assert _tasks_over_resets(gym.make(REACH), 8, seed=3) == tasks
    assert _tasks_over_resets(gym.make(REACH), 8, seed=4) != tasks
    # same seed, same actions: identical rollouts; the seed draws the task, so another seed differs
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 4)).astype(np.float32)

    def rollout(seed: int) -> list:
        e = gym.make(REACH)
        out = [e.reset(seed=seed)]
        return out + [e.step(a) for a in actions]

    assert data_equivalence(rollout(5), rollout(5), exact=True)
    assert not data_equivalence(rollout(5), rollout(6))


def test_fixed_task_stays_none_goes_back_and_unknown_options_are_refused() -> None:
    env = gym.make(REACH)
    train, test = env.unwrapped.sample_tasks(1, rng=1)[0], env.unwrapped.sample_test_tasks(1, rng=1)[0]
    env.unwrapped.set_task(test)  # held-out variations can be fixed too
    assert env.unwrapped.is_task_fixed and _tasks_over_resets(env, 3, seed=0) == [test] * 3
    env.reset(options={"task": train})
    assert _tasks_over_resets(env, 3, seed=1) == [train] * 3
    env.unwrapped.task = test
    assert env.get_wrapper_attr("task") == test
    env.unwrapped.set_task(None)
    assert not env.unwrapped.is_task_fixed and env.unwrapped.task == test  # the episode keeps its task
    assert _tasks_over_resets(env, 4, seed=3) == _tasks_over_resets(gym.make(REACH), 4, seed=3)
    env.reset(seed=3, options={"task": None})
    fresh = gym.make(REACH)
    fresh.reset(seed=3)
    assert env.unwrapped.task == fresh.unwrapped.task
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['goal'\]"):
        env.reset(options={"goal": train})
    fixed = gym.make(REACH, task=test)
    assert fixed.unwrapped.is_task_fixed and _tasks_over_resets(fixed, 2, seed=9) == [test] * 2
    clone = copy.deepcopy(fixed.unwrapped)  # EzPickle rebuilds it with the fixed task
    assert clone.is_task_fixed and clone.task == test


def test_tasks_through_a_gymnasium_vector_env() -> None:
    vec = SyncVectorEnv([lambda: gym.make(REACH) for _ in range(2)])
    a, b = gym.make(REACH).unwrapped.sample_test_tasks(2, rng=5)
    vec.set_attr("task", [a, b])
    vec.reset(seed=0)
    assert tuple(vec.get_attr("task")) == (a, b)
    vec.call("set_task", a)
    obs, _ = vec.reset(seed=1)
    assert tuple(vec.get_attr("task")) == (a, a)
    np.testing.assert_array_equal(obs[0], obs[1])  # deterministic start for a given variation
    obs, _, _, _, info = vec.step(np.zeros((2, 4), dtype=np.float32))
    assert info["success"].shape == (2,) and info["_success"].all()
    vec.close()


def test_task_in_observation_appends_the_positions() -> None:
    base = gym.make(REACH)
    env = TaskInObservation(base)
    task = base.unwrapped.sample_test_tasks(1, rng=2)[0]
    obs, _ = env.reset(seed=0, options={"task": task})
    assert obs.shape == (39 + 6,) and obs in env.observation_space
    np.testing.assert_array_equal(obs[39:], np.asarray(task.rand_vec, dtype=np.float32).astype(np.float64))


# ----------------------------------------------------------------------------------------------- bad input
def test_bad_tasks_actions_and_arguments_raise_clear_errors() -> None:
    env = gym.make(REACH).unwrapped
    task = env.sample_tasks(1, rng=0)[0]
    for wrong in ("reach", 3, object()):
        with pytest.raises(TypeError, match="task must be a ML1Task"):
            env.set_task(wrong)
    with pytest.raises(ValueError, match="task is for 'push-v3'"):
        env.set_task(ML1Task("push-v3", "train", 0, task.rand_vec))
    with pytest.raises(ValueError, match="task index 50 is outside the 50 test variations"):
        env.set_task(ML1Task("reach-v3", "test", 50, task.rand_vec))
    with pytest.raises(ValueError, match="another benchmark_seed"):
        env.set_task(gym.make(REACH, benchmark_seed=3).unwrapped.train_tasks[task.index])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"env_name 'reach-v9' is not a Meta-World ML1 task; valid names: .*push-v3"):
        MetaWorldML1Env(env_name="reach-v9")
    with pytest.raises(ValueError, match=r"camera_name 'front' is not a camera .*'corner3'"):
        MetaWorldML1Env(camera_name="front")
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        MetaWorldML1Env(render_mode="human")
    with pytest.raises(ValueError, match="reward_function_version"):
        MetaWorldML1Env(reward_function_version="v3")


def test_out_of_box_actions_are_clipped_and_reward_versions_differ() -> None:
    env_a, env_b = gym.make(REACH), gym.make(REACH)
    env_a.reset(seed=2)
    env_b.reset(seed=2)
    for a in np.random.default_rng(1).uniform(-4, 4, (10, 4)).astype(np.float32):
        assert data_equivalence(env_a.step(a), env_b.step(np.clip(a, -1, 1)), exact=True)

    def rewards(version: str) -> list[float]:
        env = gym.make(REACH, reward_function_version=version)
        env.reset(seed=2)
        return [env.step(np.array([0.5, 0.5, 0.0, 0.0], dtype=np.float32))[1] for _ in range(5)]

    v1, v2 = rewards("v1"), rewards("v2")
    assert all(0.0 <= r <= 10.0 for r in v2) and not np.allclose(v1, v2)  # v1: the CoRL 2019 reward


# ------------------------------------------------------------------------------------------------ rendering
def test_renders_rgb_frames_headless_upright() -> None:
    env = gym.make(REACH, render_mode="rgb_array", width=96, height=64)
    env.reset(seed=0)
    env.step(np.zeros(4, dtype=np.float32))
    frame = env.render()
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8 and frame.std() > 10
    inner = env.unwrapped.metaworld_env
    raw = inner.render()
    camera_up = inner.data.cam_xmat[env.unwrapped._camera_id].reshape(3, 3)[:, 1]
    assert camera_up[2] < 0  # corner3 looks at the table upside down ...
    np.testing.assert_array_equal(frame, raw[::-1, ::-1])  # ... so its frames are turned by 180 degrees
    env.close()
    free = gym.make(REACH, render_mode="rgb_array", camera_name=None, width=32, height=32)
    free.reset(seed=0)
    np.testing.assert_array_equal(free.render(), free.unwrapped.metaworld_env.render())  # already upright
    free.close()
    with pytest.raises(gym.error.ResetNeeded):
        gym.make(REACH, render_mode="rgb_array", width=8, height=8).unwrapped.render()


# ------------------------------------------------------------------------------------------------ benchmark
def test_speed_benchmark_writes_its_report(tmp_path: Path) -> None:
    import importlib.util
    import json

    script = REPO / "benchmarks" / "bench_metaworld.py"
    spec = importlib.util.spec_from_file_location("bench_metaworld", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    out = tmp_path / "speed.json"
    module.main(["--quick", "--rounds", "1", "--steps", "20", "--out", str(out)])
    report = json.loads(out.read_text())
    assert [case["env"] for case in report["cases"]] == list(module.CASES)
    for case in report["cases"]:
        assert set(case["methods"]) == {"adapter", "metaworld"}
        assert all(rate["steps_per_cpu_s"] > 0 for rate in case["methods"].values())
    assert report["machine"]["mujoco"] == "3.3.0" and report["machine"]["metaworld"] == "3.1.1"
