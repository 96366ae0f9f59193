"""Known-answer tests for MetaNav2D-v0 / MetaNav2DFamily-v0, their vector forms and the task-in-obs wrappers."""

from __future__ import annotations

import copy
import pickle
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import error

import envs  # noqa: F401  (registers the ids)
from envs.nav2d import (
    Family,
    GoalTask,
    MetaNav2DEnv,
    MetaNav2DFamilyEnv,
    MetaNav2DFamilyVectorEnv,
    MetaNav2DVectorEnv,
    nav2d_dynamics,
    nav2d_outcome,
    render_nav2d_frame,
)
from envs.wrappers import TaskInObservation, TaskInObservationVector

GREEN = (0, 170, 0)
RED = (220, 40, 40)


# ---------------------------------------------------------------------------------------------- dynamics
def test_known_answer_step() -> None:
    env = MetaNav2DEnv(task=GoalTask(goal=(0.3, 0.4)))
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.zeros(2, dtype=np.float32))
    assert obs.dtype == np.float32
    assert info["distance"] == pytest.approx(0.5, abs=1e-15)

    obs, reward, terminated, truncated, info = env.step(np.array([0.05, -0.02]))
    np.testing.assert_allclose(obs, [0.05, -0.02], rtol=0, atol=1e-8)
    expected = -np.sqrt((0.05 - 0.3) ** 2 + (-0.02 - 0.4) ** 2)
    assert reward == pytest.approx(expected, abs=1e-15)
    assert info == {"distance": pytest.approx(-expected, abs=1e-15), "reward_dist": reward}
    assert (terminated, truncated) == (False, False)

    obs, reward, *_ = env.step(np.array([0.1, 0.1], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.15, 0.08], atol=1e-7)
    assert reward == pytest.approx(-np.hypot(0.15, 0.32), abs=1e-7)


def test_actions_are_clipped_to_max_step() -> None:
    env = MetaNav2DEnv(task=GoalTask(goal=(0.5, 0.5)))
    env.reset(seed=0)
    obs, *_ = env.step(np.array([1.0, -3.0]))
    np.testing.assert_allclose(obs, [0.1, -0.1], atol=1e-8)
    obs, *_ = env.step(np.array([0.07, 10.0]))
    np.testing.assert_allclose(obs, [0.17, 0.0], atol=1e-8)

    wide = MetaNav2DEnv(task=GoalTask(goal=(0.5, 0.5)), max_step=0.25)
    wide.reset(seed=0)
    assert wide.action_space.high.tolist() == [0.25, 0.25]
    obs, *_ = wide.step(np.array([1.0, 0.2]))
    np.testing.assert_allclose(obs, [0.25, 0.2], atol=1e-7)


def test_termination_needs_both_coordinates_within_tolerance() -> None:
    env = MetaNav2DEnv(task=GoalTask(goal=(0.1, 0.0)))
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(np.array([0.1, 0.0]))
    assert terminated and not truncated
    assert reward == pytest.approx(0.0, abs=1e-12) and info["distance"] == pytest.approx(0.0, abs=1e-12)

    for goal, expect in [
        ((0.1, 0.0095), True),
        ((0.1, 0.0105), False),
        ((0.0895, 0.0), False),
        ((0.0905, 0.0), True),
    ]:
        env.reset(options={"task": GoalTask(goal=goal)})
        assert env.step(np.array([0.1, 0.0]))[2] is expect, goal

    tolerant = MetaNav2DEnv(task=GoalTask(goal=(0.1, 0.05)), goal_tolerance=0.06)
    tolerant.reset(seed=0)
    assert tolerant.step(np.array([0.1, 0.0]))[2] is True


def test_array_maths_is_rowwise_identical_for_any_batch_size() -> None:
    rng = np.random.default_rng(3)
    state, action, goal = rng.normal(size=(3, 50, 2))
    batched = nav2d_dynamics(state, action, 0.1)
    reward, terminated, distance = nav2d_outcome(batched, goal, 0.01)
    for i in range(50):
        row = nav2d_dynamics(state[i : i + 1], action[i : i + 1], 0.1)
        np.testing.assert_array_equal(row[0], batched[i])
        r, t, d = nav2d_outcome(row, goal[i : i + 1], 0.01)
        assert (r[0], t[0], d[0]) == (reward[i], terminated[i], distance[i])
    np.testing.assert_array_equal(reward, -distance)
    np.testing.assert_allclose(distance, np.linalg.norm(batched - goal, axis=1), rtol=1e-15)


def test_truncation_at_registered_horizon_single_and_vector() -> None:
    env = gym.make("MetaNav2D-v0")
    env.reset(seed=0, options={"task": GoalTask(goal=(0.5, 0.5))})
    for t in range(1, 101):
        *_, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        assert not terminated
        assert truncated is (t == 100)

    vec = gym.make_vec("MetaNav2D-v0", num_envs=5)
    assert isinstance(vec.unwrapped, MetaNav2DVectorEnv) and vec.unwrapped.max_episode_steps == 100
    vec.reset(seed=0, options={"task": GoalTask(goal=(0.5, 0.5))})
    for t in range(1, 101):
        _, _, terminated, truncated, _ = vec.step(np.zeros((5, 2)))
        assert not terminated.any()
        assert truncated.all() == (t == 100) and truncated.any() == (t == 100)
    np.testing.assert_array_equal(vec.unwrapped.elapsed_steps, 100)

    short = gym.make_vec("MetaNav2D-v0", num_envs=2, max_episode_steps=7)
    short.reset(seed=0)
    flags = [short.step(np.zeros((2, 2)))[3].all() for _ in range(7)]
    assert flags == [False] * 6 + [True]


# ---------------------------------------------------------------------------------------------- vector env
def test_done_stays_done_and_partial_reset() -> None:
    tasks = [GoalTask(goal=(0.1, 0.0)), GoalTask(goal=(0.5, 0.5)), GoalTask(goal=(-0.5, 0.5))]
    vec = MetaNav2DVectorEnv(3, max_episode_steps=3, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    vec.reset(seed=0, options={"tasks": tasks})
    step = np.array([[0.1, 0.0]] * 3)
    obs, reward, terminated, truncated, info = vec.step(step)
    assert terminated.tolist() == [True, False, False] and not truncated.any()
    assert info["_distance"].tolist() == [True, True, True]

    obs2, reward2, terminated2, truncated2, info2 = vec.step(step)
    np.testing.assert_array_equal(obs2[0], obs[0])  # frozen
    np.testing.assert_allclose(obs2[1:], [[0.2, 0.0], [0.2, 0.0]], atol=1e-7)
    assert reward2[0] == 0.0 and reward2[1] < 0.0
    assert terminated2.tolist() == [True, False, False] and not truncated2.any()
    assert info2["_distance"].tolist() == [False, True, True] and info2["reward_dist"][0] == 0.0
    assert vec.elapsed_steps.tolist() == [1, 2, 2]

    _, _, terminated3, truncated3, _ = vec.step(step)
    assert terminated3.tolist() == [True, False, False] and truncated3.tolist() == [False, True, True]
    obs4, reward4, terminated4, truncated4, info4 = vec.step(np.full((3, 2), 0.1))
    np.testing.assert_allclose(obs4, [[0.1, 0.0], [0.3, 0.0], [0.3, 0.0]], atol=1e-7)
    assert reward4.tolist() == [0.0, 0.0, 0.0] and not info4["_distance"].any()
    assert terminated4.tolist() == [True, False, False] and truncated4.tolist() == [False, True, True]
    assert vec.elapsed_steps.tolist() == [1, 3, 3]

    # reset only sub-env 0, with a new task; the others keep their frozen state and flags
    new = GoalTask(goal=(0.0, -0.2))
    obs5, info5 = vec.reset(
        options={"reset_mask": np.array([True, False, False]), "tasks": [new, None, None]}
    )
    np.testing.assert_allclose(obs5, [[0.0, 0.0], [0.3, 0.0], [0.3, 0.0]], atol=1e-7)
    assert info5["_distance"].tolist() == [True, False, False] and info5["distance"][0] == pytest.approx(0.2)
    assert vec.tasks == (new, tasks[1], tasks[2]) and vec.elapsed_steps.tolist() == [0, 3, 3]
    obs6, reward6, terminated6, truncated6, _ = vec.step(np.array([[0.0, -0.1]] * 3))
    np.testing.assert_allclose(obs6[0], [0.0, -0.1], atol=1e-7)
    assert reward6[0] == pytest.approx(-0.1) and reward6[1:].tolist() == [0.0, 0.0]
    assert terminated6.tolist() == [False, False, False] and truncated6.tolist() == [False, True, True]

    with pytest.raises(ValueError, match="not in reset_mask"):
        vec.reset(options={"reset_mask": np.array([True, False, False]), "tasks": [None, new, None]})
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.array([1, 0, 0])})


def test_vector_matches_single_envs_over_a_full_episode() -> None:
    batch, seed = 6, 11
    vec = gym.make_vec("MetaNav2D-v0", num_envs=batch, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    tasks = vec.unwrapped.sample_tasks(batch, rng=2)
    tasks[0] = GoalTask(goal=(0.2, -0.1))  # reachable: this sub-env terminates early
    singles = [gym.make("MetaNav2D-v0") for _ in range(batch)]
    vobs, _ = vec.reset(seed=seed, options={"tasks": tasks})
    sobs = [env.reset(seed=seed + i, options={"task": tasks[i]})[0] for i, env in enumerate(singles)]
    np.testing.assert_array_equal(vobs, np.stack(sobs))
    rng = np.random.default_rng(0)
    done = np.zeros(batch, dtype=bool)
    for t in range(100):
        actions = rng.uniform(-0.15, 0.15, size=(batch, 2)).astype(np.float32)  # some get clipped
        actions[0] = (0.1, -0.05)
        vobs, vrew, vterm, vtrunc, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if done[i]:
                assert vrew[i] == 0.0 and (vterm[i] or vtrunc[i])
                continue
            obs, rew, term, trunc, _ = env.step(actions[i])
            np.testing.assert_array_equal(vobs[i], obs)
            assert (vrew[i], vterm[i], vtrunc[i]) == (rew, term, trunc), (t, i)
            done[i] = term or trunc
    assert done.all() and vterm[0] and not vtrunc[0]


def test_no_task_draws_one_per_subenv_like_single_envs() -> None:
    for env_id, single_cls in [("MetaNav2D-v0", MetaNav2DEnv), ("MetaNav2DFamily-v0", MetaNav2DFamilyEnv)]:
        vec = gym.make_vec(env_id, num_envs=4)
        vec.reset(seed=100)
        expected = []
        for i in range(4):
            env = single_cls()
            env.reset(seed=100 + i)
            expected.append(env.task)
        assert list(vec.unwrapped.tasks) == expected
        # with no task fixed, every reset draws again, as the single envs do
        vec.reset(seed=5)
        singles = [single_cls() for _ in range(4)]
        redrawn = [env.reset(seed=5 + i) and env.task for i, env in enumerate(singles)]
        assert list(vec.unwrapped.tasks) == redrawn and redrawn != expected
        vec.unwrapped.set_tasks(redrawn)  # fixed tasks stay across resets until set again
        vec.reset(seed=6)
        assert list(vec.unwrapped.tasks) == redrawn


def test_task_attribute_access_set_attr_call_get_attr() -> None:
    vec = gym.make_vec("MetaNav2D-v0", num_envs=3)
    tasks = vec.unwrapped.sample_tasks(3, rng=0)
    vec.set_attr("task", tasks)
    assert vec.get_attr("task") == tuple(tasks)
    obs, _ = vec.reset(seed=0)
    vec.step(np.array([[0.1, 0.1]] * 3))
    np.testing.assert_allclose(vec.unwrapped.task_vectors(), np.array([t.goal for t in tasks]), atol=1e-7)

    one = GoalTask(goal=(0.0, 0.25))
    assert vec.call("set_task", one) == (None, None, None)
    assert vec.get_attr("task") == (one, one, one)
    vec.call("set_task", tasks[::-1])
    assert vec.get_attr("task") == tuple(tasks[::-1])
    vec.set_attr("task", one)
    assert vec.get_attr("task") == (one,) * 3
    # the next step already uses the new task
    _, reward, *_ = vec.step(np.zeros((3, 2)))
    np.testing.assert_allclose(reward, -np.hypot(0.1, 0.15), atol=1e-7)

    assert vec.get_attr("max_episode_steps") == (100, 100, 100)
    assert vec.get_attr("elapsed_steps") == (2, 2, 2)
    assert vec.get_attr("observation_space")[0].shape == (2,)
    np.testing.assert_array_equal(vec.call("task_vector", one)[2], np.array([0.0, 0.25], dtype=np.float32))
    # each sub-env samples with its own generator, as a single env seeded with seed + i would
    vec.reset(seed=9)
    drawn = vec.call("sample_tasks", 2)
    for i in range(3):
        env = MetaNav2DEnv(task=one)
        env.reset(seed=9 + i)
        assert drawn[i] == env.sample_tasks(2)

    with pytest.raises(ValueError, match="expected num_envs=3"):
        vec.set_attr("task", tasks[:2])
    with pytest.raises(TypeError, match="GoalTask"):
        vec.set_attr("task", [one, "goal", one])
    assert vec.get_attr("task") == (one,) * 3  # nothing changed by the failed call
    with pytest.raises(AttributeError, match="supports only 'task'"):
        vec.set_attr("max_step", [1, 2, 3])
    with pytest.raises(AttributeError, match="does not support"):
        vec.call("close")
    with pytest.raises(AttributeError, match="no public attribute"):
        vec.get_attr("_state")


def test_vector_errors() -> None:
    vec = MetaNav2DVectorEnv(2, max_episode_steps=100)
    with pytest.raises(error.ResetNeeded):
        vec.step(np.zeros((2, 2)))
    with pytest.raises(error.ResetNeeded):
        vec.reset(options={"reset_mask": np.array([True, False])})
    with pytest.raises(ValueError, match="unknown reset option"):
        vec.reset(options={"goal": (0.1, 0.1)})
    with pytest.raises(ValueError, match="not both"):
        vec.reset(options={"task": GoalTask(goal=(0, 0)), "tasks": [None, None]})
    with pytest.raises(ValueError, match="options\\['tasks'\\]"):
        vec.reset(options={"tasks": [GoalTask(goal=(0, 0))]})
    with pytest.raises(TypeError, match="seed"):
        vec.reset(seed=[1, 2, 3])
    vec.reset(seed=[4, None])
    with pytest.raises(ValueError, match=r"shape \(3, 2\), expected \(2, 2\)"):
        vec.step(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        vec.step(np.array([[0.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        MetaNav2DVectorEnv(0)
    with pytest.raises(TypeError, match="num_envs must be an int"):
        MetaNav2DVectorEnv(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_episode_steps"):
        MetaNav2DVectorEnv(2, max_episode_steps=0)
    with pytest.raises(ValueError, match="render_mode"):
        MetaNav2DVectorEnv(2, render_mode="human")
    with pytest.raises(ValueError, match="not both"):
        MetaNav2DVectorEnv(2, task=GoalTask(goal=(0, 0)), tasks=[GoalTask(goal=(0, 0))] * 2)
    assert MetaNav2DVectorEnv(2, task=GoalTask(goal=(0.1, 0))).tasks == (GoalTask(goal=(0.1, 0.0)),) * 2


def test_task_in_observation_vector() -> None:
    vec = TaskInObservationVector(gym.make_vec("MetaNav2D-v0", num_envs=3))
    assert vec.single_observation_space.shape == (4,) and vec.observation_space.shape == (3, 4)
    np.testing.assert_array_equal(vec.single_observation_space.low[2:], [-0.5, -0.5])
    tasks = [GoalTask(goal=(0.1, 0.2)), GoalTask(goal=(-0.3, 0.4)), GoalTask(goal=(0.5, -0.5))]
    obs, _ = vec.reset(seed=0, options={"tasks": tasks})
    np.testing.assert_allclose(obs[:, 2:], [t.goal for t in tasks], atol=1e-7)
    assert obs.dtype == np.float32 and obs in vec.observation_space
    vec.set_attr("task", tasks[::-1])
    obs, *_ = vec.step(np.full((3, 2), 0.05))
    np.testing.assert_allclose(obs[:, :2], 0.05, atol=1e-7)
    np.testing.assert_allclose(obs[:, 2:], [t.goal for t in tasks[::-1]], atol=1e-7)
    with pytest.raises(TypeError, match="TaskVectorEnv"):
        TaskInObservationVector(gym.make_vec("MetaNav2D-v0", num_envs=2, vectorization_mode="sync"))


def test_task_in_observation_single_bounds_and_updates() -> None:
    env = TaskInObservation(gym.make("MetaNav2D-v0"))
    assert env.observation_space.shape == (4,)
    np.testing.assert_array_equal(env.observation_space.high, [np.inf, np.inf, 0.5, 0.5])
    obs, _ = env.reset(seed=0, options={"task": GoalTask(goal=(0.25, -0.125))})
    np.testing.assert_array_equal(obs, np.array([0.0, 0.0, 0.25, -0.125], dtype=np.float32))
    env.unwrapped.set_task(GoalTask(goal=(-0.5, 0.5)))
    obs, *_ = env.step(np.array([0.1, 0.0], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.1, 0.0, -0.5, 0.5], atol=1e-7)


# ---------------------------------------------------------------------------------------------- tasks
def test_goal_distribution_support_and_moments() -> None:
    env = MetaNav2DEnv()
    goals = np.array([t.goal for t in env.sample_tasks(20_000, rng=0)])
    assert goals.shape == (20_000, 2)
    assert goals.min() >= -0.5 and goals.max() <= 0.5
    # U[-0.5, 0.5]: mean 0 (se 0.002), variance 1/12, quarter of the points in each quadrant
    np.testing.assert_allclose(goals.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(goals.var(axis=0), 1 / 12, atol=0.003)
    assert abs(np.corrcoef(goals.T)[0, 1]) < 0.03
    quadrant = np.mean((goals[:, 0] > 0) & (goals[:, 1] > 0))
    assert quadrant == pytest.approx(0.25, abs=0.015)
    assert len(set(env.sample_tasks(100, rng=1))) == 100


def test_sampling_is_seeded() -> None:
    env = MetaNav2DEnv()
    assert env.sample_tasks(5, rng=3) == env.sample_tasks(5, rng=3)
    assert env.sample_tasks(5, rng=3) != env.sample_tasks(5, rng=4)
    assert env.sample_tasks(5, rng=np.random.default_rng(3)) == env.sample_tasks(5, rng=3)
    a, b = MetaNav2DEnv(), MetaNav2DEnv()
    a.reset(seed=8)
    b.reset(seed=8)
    assert a.sample_tasks(4) == b.sample_tasks(4)
    assert MetaNav2DVectorEnv(3).sample_tasks(5, rng=3) == env.sample_tasks(5, rng=3)
    assert env.sample_tasks(0, rng=1) == []


def test_families_are_crops_inside_the_square() -> None:
    env = MetaNav2DFamilyEnv()
    families = env.sample_families(5_000, rng=0)
    low = np.array([f.low for f in families])
    high = np.array([f.high for f in families])
    sides = high - low
    assert low.min() >= -0.5 and high.max() <= 0.5
    assert sides.min() >= 0.25 - 1e-12 and sides.max() <= 0.75 + 1e-12
    np.testing.assert_allclose(sides.mean(axis=0), 0.5, atol=0.01)  # U[0.25, 0.75]
    np.testing.assert_allclose(sides.var(axis=0), 0.25 / 12, atol=0.002)
    # position uniform given the side: the free room 1 - side is split uniformly
    frac = (low + 0.5) / (1.0 - sides)
    assert frac.min() >= 0.0 and frac.max() <= 1.0
    np.testing.assert_allclose(frac.mean(axis=0), 0.5, atol=0.015)
    assert all(env.validate_family(f) is f for f in families[:50])
    assert env.sample_families(3, rng=5) == MetaNav2DFamilyVectorEnv(2).sample_families(3, rng=5)


def test_family_tasks_lie_inside_their_crop() -> None:
    env = MetaNav2DFamilyEnv()
    rng = np.random.default_rng(1)
    for family in env.sample_families(40, rng=rng):
        goals = env.sample_tasks(25, rng=rng, family=family)
        assert all(family.contains(t.goal) for t in goals)
        arr = np.array([t.goal for t in goals])
        # the goals spread over the crop, not one corner of it
        assert np.all(arr.max(axis=0) - arr.min(axis=0) > 0.5 * np.array(family.side_lengths))
    small = Family(low=(0.1, -0.4), high=(0.35, -0.15))
    goals = np.array([t.goal for t in env.sample_tasks(4_000, rng=2, family=small)])
    np.testing.assert_allclose(goals.mean(axis=0), [0.225, -0.275], atol=0.005)
    # without a family every goal gets a fresh family: inside the square, centred, more central than uniform
    free = np.array([t.goal for t in env.sample_tasks(20_000, rng=3)])
    assert free.min() >= -0.5 and free.max() <= 0.5
    np.testing.assert_allclose(free.mean(axis=0), 0.0, atol=0.01)
    assert np.all(free.var(axis=0) < 1 / 12 - 0.005)


def test_task_validation_errors() -> None:
    env = MetaNav2DEnv()
    with pytest.raises(
        ValueError, match=r"goal \(0\.6, 0\.0\) is outside \[-0\.5, 0\.5\]\^2 for MetaNav2D-v0"
    ):
        env.set_task(GoalTask(goal=(0.6, 0.0)))
    with pytest.raises(ValueError, match="outside"):
        env.reset(options={"task": GoalTask(goal=(0.0, -0.51))})
    with pytest.raises(TypeError, match="task must be a GoalTask for MetaNav2D-v0, got str"):
        env.set_task("north")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GoalTask"):
        env.task = (0.1, 0.1)  # type: ignore[assignment]
    with pytest.raises(TypeError, match="GoalTask.goal must be a pair of numbers"):
        GoalTask(goal="ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 entries"):
        GoalTask(goal=(0.1, 0.2, 0.3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        GoalTask(goal=(np.nan, 0.0))
    assert GoalTask(goal=np.array([0.1, 0.2])) == GoalTask(goal=(0.1, 0.2))
    env.set_task(GoalTask(goal=(0.5, -0.5)))  # the boundary belongs to the support
    with pytest.raises(ValueError, match="low must be < Family.high"):
        Family(low=(0.0, 0.0), high=(0.0, 0.3))
    fam_env = MetaNav2DFamilyEnv()
    with pytest.raises(ValueError, match="side lengths"):
        fam_env.validate_family(Family(low=(-0.5, -0.5), high=(0.4, -0.2)))
    with pytest.raises(ValueError, match="not inside"):
        fam_env.sample_tasks(3, rng=0, family=Family(low=(0.4, 0.0), high=(0.8, 0.4)))
    with pytest.raises(TypeError, match="family must be a Family"):
        fam_env.sample_tasks(3, rng=0, family=GoalTask(goal=(0, 0)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n \\(number of tasks\\) must be >= 0"):
        env.sample_tasks(-1)
    with pytest.raises(TypeError, match="must be an int"):
        env.sample_tasks(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rng must be"):
        env.sample_tasks(2, rng="seed")  # type: ignore[arg-type]


def test_single_env_input_errors() -> None:
    env = MetaNav2DEnv()
    with pytest.raises(error.ResetNeeded):
        env.step(np.zeros(2))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([np.inf, 0.0]))
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"goal": (0.1, 0.1)})
    with pytest.raises(ValueError, match="max_step must be a finite number > 0"):
        MetaNav2DEnv(max_step=-0.1)
    with pytest.raises(TypeError, match="goal_tolerance must be a number"):
        MetaNav2DEnv(goal_tolerance="0.01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width must be >= 16"):
        MetaNav2DEnv(width=8)
    with pytest.raises(ValueError, match="render_mode"):
        MetaNav2DEnv(render_mode="human")


def test_pickle_and_deepcopy_keep_the_current_task() -> None:
    env = MetaNav2DFamilyEnv(max_step=0.2)
    task = GoalTask(goal=(0.3, -0.1))
    env.set_task(task)
    for clone in (pickle.loads(pickle.dumps(env)), copy.deepcopy(env)):
        assert type(clone) is MetaNav2DFamilyEnv and clone.task == task
        assert clone.action_space.high.tolist() == pytest.approx([0.2, 0.2])


# ---------------------------------------------------------------------------------------------- rendering
def _pixel(frame: np.ndarray, x: float, y: float) -> tuple[int, ...]:
    h, w = frame.shape[:2]
    scale = min(w, h) / 1.2
    return tuple(frame[round(h / 2 - y * scale), round(w / 2 + x * scale)])


def test_render_draws_goal_point_and_trail() -> None:
    env = MetaNav2DEnv(task=GoalTask(goal=(0.3, 0.3)), render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.array([-0.1, 0.0]))
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    assert _pixel(frame, 0.3, 0.3) == GREEN
    assert _pixel(frame, -0.3, 0.0) == RED
    assert _pixel(frame, -0.15, 0.0) == (40, 90, 220)  # the trail between start and point
    assert _pixel(frame, 0.0, -0.3) == (255, 255, 255)
    assert _pixel(frame, 0.5, 0.0) == (150, 150, 150)  # the square's edge

    wide = MetaNav2DEnv(task=GoalTask(goal=(0.0, 0.0)), render_mode="rgb_array", width=120, height=80)
    wide.reset(seed=0)
    assert wide.render().shape == (80, 120, 3)
    # a point far outside the view must not break drawing
    far = render_nav2d_frame(np.array([[0.0, 0.0], [50.0, -50.0]]), (0.1, 0.1), width=64, height=64)
    assert far.shape == (64, 64, 3)
    with pytest.warns(UserWarning, match="without a render mode"):
        assert MetaNav2DEnv(task=GoalTask(goal=(0, 0))).render() is None


def test_vector_render_matches_single_frames() -> None:
    tasks = [GoalTask(goal=(0.3, 0.3)), GoalTask(goal=(-0.2, 0.4))]
    vec = MetaNav2DVectorEnv(2, render_mode="rgb_array", width=96, height=96)
    singles = [MetaNav2DEnv(task=t, render_mode="rgb_array", width=96, height=96) for t in tasks]
    vec.reset(seed=0, options={"tasks": tasks})
    for env in singles:
        env.reset(seed=0)
    for action in ([0.1, 0.0], [0.0, 0.1], [-0.1, 0.05]):
        vec.step(np.array([action, action]))
        for env in singles:
            env.step(np.array(action))
    frames = vec.render()
    assert isinstance(frames, tuple) and len(frames) == 2
    for frame, env in zip(frames, singles):
        np.testing.assert_array_equal(frame, env.render())
    # after a partial reset sub-env 1's trail restarts
    vec.reset(options={"reset_mask": np.array([False, True])})
    singles[1].reset()
    np.testing.assert_array_equal(vec.render()[1], singles[1].render())
    np.testing.assert_array_equal(vec.render()[0], singles[0].render())


# ---------------------------------------------------------------------------------------------- speed
@pytest.mark.slow
def test_vector_env_throughput_at_least_one_million_steps_per_second() -> None:
    vec = MetaNav2DVectorEnv(400, max_episode_steps=100)
    actions = np.random.default_rng(0).uniform(-0.1, 0.1, size=(400, 2))
    vec.reset(seed=0)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        vec.reset()
        for _ in range(100):
            vec.step(actions)
        best = max(best, 400 * 100 / (time.perf_counter() - start))
    assert best >= 1e6, f"{best:.3g} env-steps/s"
