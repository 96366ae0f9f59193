"""The MuJoCo task envs (HalfCheetah / Ant, velocity / direction): rewards, termination, tasks, batching.

Registry-wide checks (``check_env`` for every id, import checks) live in ``test_env_registry.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede the first `import mujoco`

import copy  # noqa: E402
import pickle  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import envs  # noqa: E402, F401  (registers the ids)
from envs.ant import AntMDP, MetaAntDirEnv, MetaAntDirVectorEnv, MetaAntVelEnv, MetaAntVelVectorEnv  # noqa: E402
from envs.half_cheetah import (  # noqa: E402
    MetaCheetahDirEnv,
    MetaCheetahDirVectorEnv,
    MetaCheetahVelEnv,
    MetaCheetahVelVectorEnv,
)
from envs.mujoco_batch import DirectionTask, VelocityTask  # noqa: E402

SINGLE = {
    "MetaCheetahVel-v0": MetaCheetahVelEnv,
    "MetaCheetahDir-v0": MetaCheetahDirEnv,
    "MetaAntVel-v0": MetaAntVelEnv,
    "MetaAntDir-v0": MetaAntDirEnv,
}
VECTOR = {
    "MetaCheetahVel-v0": MetaCheetahVelVectorEnv,
    "MetaCheetahDir-v0": MetaCheetahDirVectorEnv,
    "MetaAntVel-v0": MetaAntVelVectorEnv,
    "MetaAntDir-v0": MetaAntDirVectorEnv,
}
IDS = list(SINGLE)
#: (obs dim, action dim, goal-velocity range or None for direction tasks)
SPEC = {
    "MetaCheetahVel-v0": (17, 6, (0.0, 2.0)),
    "MetaCheetahDir-v0": (17, 6, None),
    "MetaAntVel-v0": (105, 8, (0.0, 3.0)),
    "MetaAntDir-v0": (105, 8, None),
}


def _is_ant(env_id: str) -> bool:
    return env_id.startswith("MetaAnt")


def _task(env_id: str, k: int = 0) -> VelocityTask | DirectionTask:
    """A non-default task of the env's type."""
    if SPEC[env_id][2] is None:
        return DirectionTask(-1 if k % 2 == 0 else 1)
    return VelocityTask((0.7, 2.2, 0.1)[k % 3] if _is_ant(env_id) else (0.7, 1.9, 0.1)[k % 3])


# --------------------------------------------------------------------------------------------- basics
@pytest.mark.parametrize("env_id", IDS)
def test_make_and_make_vec_return_our_classes_and_spaces(env_id: str) -> None:
    obs_dim, act_dim, _ = SPEC[env_id]
    env = gym.make(env_id)
    assert type(env.unwrapped) is SINGLE[env_id]
    assert env.spec.max_episode_steps == 200
    assert env.observation_space.shape == (obs_dim,) and env.observation_space.dtype == np.float64
    assert env.action_space.shape == (act_dim,)
    np.testing.assert_array_equal(env.action_space.low, -1.0)
    np.testing.assert_array_equal(env.action_space.high, 1.0)
    assert env.unwrapped.dt == pytest.approx(0.05)
    assert gym.make_vec(env_id, num_envs=1).metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    vec = gym.make_vec(env_id, num_envs=3, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    assert type(vec) is VECTOR[env_id]
    assert vec.max_episode_steps == 200
    assert vec.observation_space.shape == (3, obs_dim) and vec.action_space.shape == (3, act_dim)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.DISABLED
    env.close()
    vec.close()


def test_loading_the_models_writes_no_mujoco_log(tmp_path, monkeypatch) -> None:
    # MuJoCo >= 3.3 warns about half_cheetah.xml's settotalmass and writes MUJOCO_LOG.TXT into the cwd.
    monkeypatch.chdir(tmp_path)
    MetaCheetahVelEnv().close()
    MetaCheetahDirVectorEnv(2).close()
    MetaAntVelEnv().close()
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


@pytest.mark.parametrize(
    ("env_id", "reference"), [("MetaCheetahVel-v0", "HalfCheetah-v5"), ("MetaAntDir-v0", "Ant-v5")]
)
def test_dynamics_and_observation_equal_gymnasium_v5(
    env_id: str, reference: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # Gymnasium's own loader may write MUJOCO_LOG.TXT
    env, ref = SINGLE[env_id](), gym.make(reference).unwrapped
    env.set_task(env.task)  # a fixed task draws nothing: the start state uses np_random exactly as v5 does
    obs, _ = env.reset(seed=5)
    ref_obs, _ = ref.reset(seed=5)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for _ in range(25):
        action = rng.uniform(-1, 1, size=env.action_space.shape).astype(np.float32)
        obs, _, terminated, _, info = env.step(action)
        ref_obs, _, ref_terminated, _, ref_info = ref.step(action)
        np.testing.assert_array_equal(obs, ref_obs)
        assert info["x_position"] == ref_info["x_position"]
        assert terminated == ref_terminated
        if terminated:
            break
    env.close()
    ref.close()


# --------------------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("frame_skip", [5, 1])  # Gymnasium v5's control step; the original MAML code's (0.01 s)
@pytest.mark.parametrize("env_id", IDS)
def test_reward_equals_the_formula_recomputed_from_mujoco_state(env_id: str, frame_skip: int) -> None:
    task = _task(env_id, 1)
    env = SINGLE[env_id](task=task, frame_skip=frame_skip)
    env.reset(seed=3)
    data, dt = env.data, frame_skip * 0.01
    rng = np.random.default_rng(1)
    contact_steps = 0
    for _ in range(40):
        action = rng.uniform(-1.5, 1.5, size=env.action_space.shape)  # partly outside the box: clipped
        x_before = float(data.qpos[0])
        _, reward, terminated, truncated, info = env.step(action)
        x_after, z = float(data.qpos[0]), float(data.qpos[2])
        v = (x_after - x_before) / dt
        a = np.clip(action, -1.0, 1.0)
        if isinstance(task, VelocityTask):
            forward = -abs(v - task.velocity) + (1.0 if _is_ant(env_id) else 0.0)
        else:
            forward = task.direction * v
        expected = {"reward_forward": forward}
        if _is_ant(env_id):
            expected["reward_ctrl"] = -0.005 * np.sum(a**2)
            expected["reward_contact"] = -0.0005 * np.sum(np.clip(data.cfrc_ext, -1.0, 1.0) ** 2)
            expected["reward_survive"] = 0.05
            contact_steps += expected["reward_contact"] != 0.0
            healthy = np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all() and 0.2 <= z <= 1.0
            assert terminated == (not healthy)
        else:
            expected["reward_ctrl"] = -0.05 * np.sum(a**2)
            assert not terminated
        assert not truncated
        assert reward == pytest.approx(sum(expected.values()), abs=1e-6)
        assert set(info) >= {*expected, "x_velocity", "x_position"}
        for key, value in expected.items():
            assert info[key] == pytest.approx(value, abs=1e-6), key
        assert info["x_velocity"] == pytest.approx(v, abs=1e-9)
        assert info["x_position"] == x_after
        if terminated:
            break
    if _is_ant(env_id):
        assert contact_steps > 0, "no step exercised the contact cost"
    env.close()


def test_out_of_box_actions_are_clipped_before_simulation_and_cost() -> None:
    env_a, env_b = MetaCheetahDirEnv(), MetaCheetahDirEnv()
    env_a.reset(seed=0)
    env_b.reset(seed=0)
    action = np.array([2.0, -3.0, 0.5, 1.5, -0.2, -1.0])
    out_a, out_b = env_a.step(action), env_b.step(np.clip(action, -1, 1))
    np.testing.assert_array_equal(out_a[0], out_b[0])
    assert out_a[1] == out_b[1] and out_a[4] == out_b[4]
    assert out_a[4]["reward_ctrl"] == pytest.approx(-0.05 * np.sum(np.clip(action, -1, 1) ** 2))


# ------------------------------------------------------------------------------------------ termination
@pytest.mark.parametrize(("z", "terminated"), [(1.6, True), (0.55, False)])
def test_ant_terminates_when_torso_height_leaves_the_healthy_range(z: float, terminated: bool) -> None:
    env = MetaAntVelEnv()
    env.reset(seed=0)
    qpos = env.init_qpos.copy()
    qpos[2] = z
    env.set_state(qpos, np.zeros(env.model.nv))
    _, _, term, trunc, _ = env.step(np.zeros(8))
    assert abs(env.data.qpos[2] - z) < 0.05  # one 0.05 s step barely moves the torso
    assert term is terminated and trunc is False
    env.close()


def test_ant_below_range_and_unhealthy_flag() -> None:
    # below the range: with healthy_z_range raised above the standing height the resting ant is unhealthy
    env = MetaAntDirEnv(healthy_z_range=(0.7, 1.0))
    env.reset(seed=0)
    qpos = env.init_qpos.copy()
    qpos[2] = 0.55
    env.set_state(qpos, np.zeros(env.model.nv))
    assert env.step(np.zeros(8))[2] is True
    lenient = MetaAntDirEnv(terminate_when_unhealthy=False)
    lenient.reset(seed=0)
    qpos[2] = 1.6
    lenient.set_state(qpos, np.zeros(lenient.model.nv))
    assert lenient.step(np.zeros(8))[2] is False
    env.close()
    lenient.close()


def test_ant_termination_function_over_a_batch() -> None:
    mdp = AntMDP(velocity_task=True)
    qpos = np.tile(np.r_[0.0, 0.0, 0.55, 1.0, np.zeros(11)], (8, 1))
    qvel = np.zeros((8, 14))
    qpos[1, 2], qpos[2, 2], qpos[3, 2], qpos[4, 2] = 0.1, 1.2, 0.2, 1.0  # below, above, both bounds (healthy)
    qpos[5, 7] = np.nan
    qvel[6, 3] = np.inf
    qpos[7, 2] = np.nan
    expected = [False, True, True, False, False, True, True, True]
    np.testing.assert_array_equal(mdp.terminated(qpos, qvel), expected)
    np.testing.assert_array_equal(
        AntMDP(velocity_task=True, terminate_when_unhealthy=False).terminated(qpos, qvel), False
    )


# ------------------------------------------------------------------------------------------------ tasks
@pytest.mark.parametrize("env_id", ["MetaCheetahDir-v0", "MetaAntDir-v0"])
def test_direction_distribution_is_plus_minus_one_with_half_each(env_id: str) -> None:
    n = 4000
    tasks = SINGLE[env_id]().sample_tasks(n, rng=np.random.default_rng(123))
    directions = np.array([t.direction for t in tasks])
    assert all(type(t) is DirectionTask for t in tasks)
    assert set(directions.tolist()) == {-1, 1}
    # Binomial(n, 1/2): standard deviation sqrt(n)/2 ~ 31.6; allow 5 sigma
    assert abs((directions == 1).sum() - n / 2) < 5 * np.sqrt(n) / 2


@pytest.mark.parametrize("env_id", ["MetaCheetahVel-v0", "MetaAntVel-v0"])
def test_velocity_distribution_is_uniform_on_its_range(env_id: str) -> None:
    low, high = SPEC[env_id][2]
    n = 4000
    v = np.array([t.velocity for t in SINGLE[env_id]().sample_tasks(n, rng=7)])
    width = high - low
    assert v.min() >= low and v.max() <= high
    assert v.min() < low + 0.01 * width and v.max() > high - 0.01 * width  # covers the support
    sd = width / np.sqrt(12)
    assert abs(v.mean() - (low + high) / 2) < 5 * sd / np.sqrt(n)
    assert v.std() == pytest.approx(sd, rel=0.05)


@pytest.mark.parametrize("env_id", IDS)
def test_task_sampling_is_reproducible_and_shared_by_single_and_vector(env_id: str) -> None:
    env, other = SINGLE[env_id](), SINGLE[env_id]()
    assert env.sample_tasks(5, rng=11) == env.sample_tasks(5, rng=np.random.default_rng(11))
    env.reset(seed=4)
    other.reset(seed=4)
    assert env.sample_tasks(6) == other.sample_tasks(6)  # rng=None: the env's own seeded np_random
    vec = VECTOR[env_id](2)
    assert vec.sample_tasks(5, rng=11) == env.sample_tasks(5, rng=11)
    assert env.sample_tasks(0, rng=1) == []
    with pytest.raises(ValueError, match="n"):
        env.sample_tasks(-1)


@pytest.mark.parametrize("env_id", IDS)
def test_task_api_default_set_reset_options_and_vector(env_id: str) -> None:
    env = SINGLE[env_id]()
    default = DirectionTask(1) if SPEC[env_id][2] is None else VelocityTask(sum(SPEC[env_id][2]) / 2)
    assert env.task == default
    task = _task(env_id, 0)
    env.set_task(task)
    obs1, _ = env.reset(seed=9)
    assert env.task == task  # kept across resets
    obs2, _ = env.reset(seed=9)
    np.testing.assert_array_equal(obs1, obs2)
    other = _task(env_id, 1)
    env.reset(seed=9, options={"task": other})
    assert env.task == other
    value = other.direction if isinstance(other, DirectionTask) else other.velocity
    vector = env.task_vector(other)
    assert vector.dtype == np.float32 and vector.tolist() == [pytest.approx(value)]
    assert SINGLE[env_id](task=other).task == other
    # the batched form: set_attr / get_attr / call / task_vectors
    vec = gym.make_vec(env_id, num_envs=3)
    tasks = [_task(env_id, k) for k in range(3)]
    vec.set_attr("task", tasks)
    assert vec.get_attr("task") == tuple(tasks)
    vec.call("set_task", other)
    assert vec.get_attr("task") == (other,) * 3
    np.testing.assert_array_equal(vec.unwrapped.task_vectors(), np.stack([vector] * 3))
    assert VECTOR[env_id](2, task=other).tasks == (other, other)
    with pytest.raises(ValueError, match="not both"):
        VECTOR[env_id](2, task=other, tasks=[other, other])
    env.close()
    vec.close()


@pytest.mark.parametrize(
    ("env_id", "bad", "error", "message"),
    [
        (
            "MetaCheetahVel-v0",
            VelocityTask(3.5),
            ValueError,
            r"goal velocity 3.5 is outside \[0, 2\] for MetaCheetahVel-v0",
        ),
        ("MetaCheetahVel-v0", VelocityTask(-0.1), ValueError, r"goal velocity -0.1 is outside \[0, 2\]"),
        (
            "MetaAntVel-v0",
            VelocityTask(3.5),
            ValueError,
            r"goal velocity 3.5 is outside \[0, 3\] for MetaAntVel-v0",
        ),
        (
            "MetaCheetahDir-v0",
            DirectionTask(0),
            ValueError,
            r"direction 0 is not -1 or \+1 for MetaCheetahDir-v0",
        ),
        ("MetaAntDir-v0", DirectionTask(2), ValueError, r"direction 2 is not -1 or \+1 for MetaAntDir-v0"),
        (
            "MetaCheetahVel-v0",
            DirectionTask(1),
            TypeError,
            r"task must be a VelocityTask for MetaCheetahVel-v0",
        ),
        ("MetaAntDir-v0", VelocityTask(1.0), TypeError, r"task must be a DirectionTask for MetaAntDir-v0"),
        ("MetaAntVel-v0", 1.5, TypeError, r"task must be a VelocityTask"),
    ],
)
def test_bad_tasks_raise_and_change_nothing(env_id: str, bad: object, error: type, message: str) -> None:
    env = SINGLE[env_id]()
    before = env.task
    with pytest.raises(error, match=message):
        env.set_task(bad)
    with pytest.raises(error, match=message):
        env.reset(seed=0, options={"task": bad})
    assert env.task == before
    with pytest.raises(error, match=message):
        SINGLE[env_id](task=bad)
    vec = VECTOR[env_id](2)
    vec_before = vec.tasks
    with pytest.raises(error, match=message):
        vec.set_tasks([_task(env_id), bad])
    assert vec.tasks == vec_before  # validated before any change
    with pytest.raises(error, match=message):
        VECTOR[env_id](2, task=bad)
    env.close()
    vec.close()


def test_task_dataclasses_check_their_fields() -> None:
    with pytest.raises(TypeError, match="VelocityTask.velocity"):
        VelocityTask("fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        VelocityTask(float("nan"))
    with pytest.raises(TypeError, match="DirectionTask.direction"):
        DirectionTask(0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DirectionTask.direction"):
        DirectionTask(True)
    assert DirectionTask(np.int64(-1)) == DirectionTask(-1) and VelocityTask(1) == VelocityTask(1.0)
    assert hash(VelocityTask(1.0)) == hash(VelocityTask(1.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"ctrl_cost_weight": -1.0}, ValueError, "ctrl_cost_weight"),
        ({"reset_noise_scale": "big"}, TypeError, "reset_noise_scale"),
        ({"frame_skip": 0}, ValueError, "frame_skip"),
        ({"healthy_z_range": (1.0, 0.2)}, ValueError, "healthy_z_range"),
        ({"contact_force_range": 3}, TypeError, "contact_force_range"),
        ({"include_cfrc_ext_in_observation": "no"}, TypeError, "include_cfrc_ext_in_observation"),
        ({"render_mode": "human-ish"}, ValueError, "render_mode"),
    ],
)
def test_bad_constructor_arguments_name_the_field(kwargs: dict, error: type, field: str) -> None:
    with pytest.raises(error, match=field):
        MetaAntVelEnv(**kwargs)


# ---------------------------------------------------------------------------------------------- actions
@pytest.mark.parametrize("env_id", ["MetaCheetahVel-v0", "MetaAntDir-v0"])
def test_bad_actions_raise_value_error(env_id: str) -> None:
    act_dim = SPEC[env_id][1]
    env, vec = SINGLE[env_id](), VECTOR[env_id](2)
    env.reset(seed=0)
    vec.reset(seed=0)
    bad_value = np.zeros(act_dim)
    bad_value[1] = np.nan
    for action, message in [
        (np.zeros(act_dim + 1), "shape"),
        (bad_value, "non-finite"),
        (np.full(act_dim, np.inf), "non-finite"),
    ]:
        with pytest.raises(ValueError, match=message):
            env.step(action)
        with pytest.raises(ValueError, match=message):
            vec.step(
                np.stack([np.zeros(act_dim), action])
                if action.shape == (act_dim,)
                else np.zeros((2, act_dim + 1))
            )
    with pytest.raises(ValueError, match="shape"):
        vec.step(np.zeros(act_dim))
    env.close()
    vec.close()


# ------------------------------------------------------------------------------------- vector == singles
def _compare_vector_with_singles(
    env_id: str, num_envs: int, steps: int, seed: int, *, num_threads: int = 1, **kwargs: object
) -> None:
    act_dim = SPEC[env_id][1]
    tasks = SINGLE[env_id]().sample_tasks(num_envs, rng=seed)
    vec = gym.make_vec(env_id, num_envs=num_envs, num_threads=num_threads, **kwargs, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    singles = [gym.make(env_id, **kwargs) for _ in range(num_envs)]
    obs, info = vec.reset(seed=seed, options={"tasks": tasks})
    for i, env in enumerate(singles):
        single_obs, single_info = env.reset(seed=seed + i, options={"task": tasks[i]})
        np.testing.assert_array_equal(obs[i], single_obs)
        for key, value in single_info.items():
            assert info[key][i] == value, key
    rng = np.random.default_rng(seed)
    done = np.zeros(num_envs, dtype=bool)
    last_obs = obs.copy()
    for _ in range(steps):
        actions = rng.uniform(-1.2, 1.2, size=(num_envs, act_dim)).astype(np.float32)
        obs, reward, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if done[i]:  # done stays done: frozen row, reward 0
                np.testing.assert_array_equal(obs[i], last_obs[i])
                assert reward[i] == 0.0 and (terminated[i] or truncated[i])
                continue
            single_obs, single_reward, single_term, single_trunc, single_info = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs)
            assert reward[i] == single_reward
            assert terminated[i] == single_term and truncated[i] == single_trunc
            for key, value in single_info.items():
                assert info[key][i] == value and info[f"_{key}"][i], key
            done[i] = single_term or single_trunc
        last_obs = obs.copy()
    vec.close()
    for env in singles:
        env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_vector_env_equals_single_envs(env_id: str) -> None:
    _compare_vector_with_singles(env_id, num_envs=3, steps=40, seed=21)


def test_vector_env_equals_single_envs_with_threads_kwargs_and_truncation() -> None:
    _compare_vector_with_singles(
        "MetaAntVel-v0",
        num_envs=5,
        steps=30,
        seed=3,
        num_threads=2,
        include_cfrc_ext_in_observation=False,
        ctrl_cost_weight=0.01,
    )
    _compare_vector_with_singles(
        "MetaCheetahDir-v0",
        num_envs=4,
        steps=12,
        seed=8,
        num_threads=2,
        max_episode_steps=10,
        exclude_current_positions_from_observation=False,
    )


def test_vector_env_equals_single_envs_at_frame_skip_1() -> None:
    _compare_vector_with_singles("MetaCheetahVel-v0", num_envs=3, steps=25, seed=5, num_threads=2, frame_skip=1)


@pytest.mark.parametrize("field", ["rllab_observation", "rllab_reset"])
def test_the_rllab_options_are_gone(field: str) -> None:
    """The original code's observation and start state are no env options (the observation is
    reproductions.maml2017.wrappers.torso_center_of_mass); an old kwarg is refused, not ignored."""
    with pytest.raises(TypeError, match=field):
        MetaCheetahDirEnv(**{field: True})
    with pytest.raises(TypeError, match=field):
        gym.make_vec("MetaCheetahDir-v0", num_envs=2, **{field: True})


def test_thread_count_does_not_change_results() -> None:
    outs = []
    for threads in (1, 2):
        vec = MetaAntDirVectorEnv(6, num_threads=threads, tasks=[DirectionTask(d) for d in (1, -1) * 3])
        obs, _ = vec.reset(seed=1)
        rng = np.random.default_rng(0)
        for _ in range(10):
            obs, reward, term, _, _ = vec.step(rng.uniform(-1, 1, (6, 8)))
        outs.append((obs, reward, term))
        vec.close()
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------ done stays done
def test_terminated_sub_env_stays_frozen_until_reset() -> None:
    vec = MetaAntVelVectorEnv(2, max_episode_steps=200, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    vec.reset(seed=0)
    qpos = vec.init_qpos.copy()
    qpos[2] = 1.6  # above the healthy range
    vec.set_state(0, qpos, np.zeros(vec.model.nv))
    obs, reward, terminated, truncated, info = vec.step(np.zeros((2, 8)))
    assert terminated.tolist() == [True, False] and not truncated.any()
    frozen_obs, frozen_qpos, frozen_time = obs[0].copy(), vec.datas[0].qpos.copy(), vec.datas[0].time
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, reward, terminated, truncated, info = vec.step(rng.uniform(-1, 1, (2, 8)))
        np.testing.assert_array_equal(obs[0], frozen_obs)
        np.testing.assert_array_equal(vec.datas[0].qpos, frozen_qpos)  # not simulated
        assert vec.datas[0].time == frozen_time
        assert reward[0] == 0.0 and reward[1] != 0.0
        assert terminated.tolist() == [True, False]
        assert info["_reward_forward"].tolist() == [False, True] and info["reward_forward"][0] == 0.0
    assert vec.elapsed_steps.tolist() == [1, 4]
    obs, _ = vec.reset(options={"reset_mask": np.array([True, False])})
    assert vec.elapsed_steps.tolist() == [0, 4]
    _, reward, terminated, _, _ = vec.step(np.zeros((2, 8)))
    assert terminated.tolist() == [False, False] and reward[0] != 0.0
    vec.close()


def test_truncated_sub_envs_stay_frozen() -> None:
    vec = gym.make_vec("MetaCheetahVel-v0", num_envs=2, max_episode_steps=3, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    vec.reset(seed=0)
    for _ in range(3):
        obs, _, _, truncated, _ = vec.step(np.ones((2, 6)))
    assert truncated.tolist() == [True, True]
    times = [d.time for d in vec.datas]
    obs2, reward, terminated, truncated, _ = vec.step(-np.ones((2, 6)))
    np.testing.assert_array_equal(obs2, obs)
    assert reward.tolist() == [0.0, 0.0] and truncated.all() and not terminated.any()
    assert [d.time for d in vec.datas] == times
    vec.close()


# ------------------------------------------------------------------------------------ copies keep tasks
@pytest.mark.parametrize("env_id", IDS)
def test_pickle_and_deepcopy_keep_the_current_task_and_kwargs(env_id: str) -> None:
    env = SINGLE[env_id](task=_task(env_id, 0), reset_noise_scale=0.05)
    env.set_task(_task(env_id, 1))
    for clone in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert clone.task == _task(env_id, 1)
        assert clone._mdp.reset_noise_scale == 0.05
        np.testing.assert_array_equal(clone.reset(seed=2)[0], env.reset(seed=2)[0])
        action = np.full(env.action_space.shape, 0.3)
        assert clone.step(action)[1] == env.step(action)[1]
        clone.close()
    wrapped = gym.make(env_id, task=_task(env_id, 2))
    wrapped.unwrapped.set_task(_task(env_id, 1))
    assert copy.deepcopy(wrapped).unwrapped.task == _task(env_id, 1)
    env.close()
    wrapped.close()


# -------------------------------------------------------------------------------------------- rendering
def _robot_pixel_fraction(frame: np.ndarray) -> float:
    """Share of tan/pink robot pixels (red well above blue); floor and sky are grey/green/white."""
    frame = frame.astype(int)
    return float(((frame[..., 0] - frame[..., 2]) > 40).mean())


@pytest.mark.parametrize("env_id", ["MetaCheetahVel-v0", "MetaAntDir-v0"])
def test_rgb_array_camera_tracks_the_torso(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", width=96, height=72)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (72, 96, 3) and frame.dtype == np.uint8
    base = env.unwrapped
    far = base.data.qpos.copy()
    far[0] += 10.0  # teleport 10 m forward
    base.set_state(far, np.zeros(base.model.nv))
    assert _robot_pixel_fraction(env.render()) > 0.01  # still in view: the camera follows
    free = gym.make(env_id, render_mode="rgb_array", width=96, height=72, camera_name=None)
    free.reset(seed=0)
    free.render()  # the free camera is placed at its first render, around the robot at x ~ 0
    free.unwrapped.set_state(far, np.zeros(base.model.nv))
    assert _robot_pixel_fraction(free.render()) < 0.001  # a fixed free camera loses it (the metric works)
    env.close()
    free.close()


def test_vector_render_returns_one_frame_per_sub_env() -> None:
    vec = gym.make_vec("MetaAntVel-v0", num_envs=2, render_mode="rgb_array", width=64, height=48)
    vec.reset(seed=0)
    frames = vec.render()
    assert len(frames) == 2 and all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)
    assert all(_robot_pixel_fraction(f) > 0.01 for f in frames)
    with pytest.raises(ValueError, match="render_mode"):
        MetaAntVelVectorEnv(2, render_mode="human")
    vec.close()


def test_step_workers_run_every_chunk_and_reraise_worker_errors():
    from envs.mujoco_batch import _StepWorkers

    workers = _StepWorkers(2)
    seen: list[int] = []
    lock = __import__("threading").Lock()

    def record(chunk):
        with lock:
            seen.extend(chunk)

    workers.run(record, [[0, 1], [2], [3, 4]])
    assert sorted(seen) == [0, 1, 2, 3, 4]

    def fail_on_three(chunk):
        if 3 in chunk:
            raise RuntimeError("boom in a worker")

    with pytest.raises(RuntimeError, match="boom in a worker"):
        workers.run(fail_on_three, [[0], [1], [3]])
    workers.run(record, [[5], [6]])  # still usable after an error
    assert sorted(seen)[-2:] == [5, 6]
    workers.close()
    assert not any(t.is_alive() for t in workers._threads)
