"""The oracle comparison learner (MAML paper 5.3, baseline (c)): task resampling, PPO training, loading, evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import metarl  # noqa: F401  (registers the env ids)
from agents.evaluation import EvaluationConfig, held_out_tasks
from agents.oracle import (
    ORACLE_KIND,
    PPO_PRESETS,
    OracleConfig,
    OraclePolicy,
    evaluate_oracle,
    load_oracle,
    make_oracle_env,
    make_training_vec_env,
    ppo_kwargs,
    train_oracle,
)
from envs.nav2d import GoalTask
from metarl.checkpoint import CheckpointError, load_checkpoint
from metarl.rl.sampler import PolicyRollouts

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)

# A tiny PPO budget: two updates of 2 envs x 128 steps.
TINY = {"total_timesteps": 512, "n_envs": 2, "n_steps": 128, "batch_size": 64, "n_epochs": 2}


def goal_seeking_oracle(obs_with_task: np.ndarray) -> np.ndarray:
    """Scripted MetaNav2D oracle: step straight towards the goal read from the appended task vector."""
    position, goal = obs_with_task[:, :2], obs_with_task[:, 2:4]
    return np.clip(goal - position, -0.1, 0.1)


def goals_of(env: gym.Env, resets: int, seed: int | None) -> list[tuple[float, float]]:
    goals = []
    for k in range(resets):
        env.reset(seed=seed if k == 0 else None)
        goals.append(env.unwrapped.task.goal)
    return goals


# ------------------------------------------------------------------------------------------ task per episode
def test_oracle_env_draws_a_new_task_every_reset_reproducibly() -> None:
    """The env itself draws per reset (envs' task protocol); the oracle needs no resampling wrapper."""
    goals = goals_of(make_oracle_env("MetaNav2D-v0"), 6, seed=3)
    assert len(set(goals)) == 6
    assert all(-0.5 <= g <= 0.5 for goal in goals for g in goal)
    assert goals_of(make_oracle_env("MetaNav2D-v0"), 6, seed=3) == goals
    assert goals_of(make_oracle_env("MetaNav2D-v0"), 6, seed=4) != goals
    env = make_oracle_env("MetaNav2D-v0")  # re-seeding restarts the stream
    goals_of(env, 3, seed=9)
    assert goals_of(env, 6, seed=3) == goals


def test_training_envs_get_different_task_streams() -> None:
    venv = make_training_vec_env(OracleConfig(n_envs=4, seed=7))
    obs = venv.reset()
    assert obs.shape == (4, 4)
    assert len({tuple(row) for row in obs[:, 2:].round(6)}) == 4  # one goal per env
    again = make_training_vec_env(OracleConfig(n_envs=4, seed=7)).reset()
    np.testing.assert_array_equal(obs, again)
    venv.close()


# ------------------------------------------------------------------------------------------ the training env
@pytest.mark.parametrize("env_id", ["MetaNav2D-v0", "MetaCheetahVel-v0"])
def test_training_env_observes_the_task_and_passes_check_env(env_id: str) -> None:
    env = make_oracle_env(env_id)
    inner = gym.make(env_id)
    k = inner.observation_space.shape[0]
    task_dim = len(inner.unwrapped.task_vector(inner.unwrapped.sample_tasks(1, rng=0)[0]))
    assert env.observation_space.shape == (k + task_dim,)
    task_space = getattr(inner.unwrapped, "task_space", None)  # declared support, else unbounded
    low, high = (task_space.low, task_space.high) if task_space is not None else (-np.inf, np.inf)
    np.testing.assert_array_equal(env.observation_space.low[k:], np.broadcast_to(low, (task_dim,)))
    np.testing.assert_array_equal(env.observation_space.high[k:], np.broadcast_to(high, (task_dim,)))
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[k:], env.unwrapped.task_vector(env.unwrapped.task))
    first_task = obs[k:].copy()
    obs, _ = env.reset()
    assert not np.array_equal(obs[k:], first_task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the [-0.1, 0.1] action box is "not normalized"
        check_env(env)
    env.close()
    inner.close()


# ------------------------------------------------------------------------------------------ config
def test_config_fills_family_presets() -> None:
    nav = OracleConfig(env_id="MetaNav2D-v0")
    assert nav.learning_rate == PPO_PRESETS["navigation"].learning_rate
    assert nav.n_steps * nav.n_envs == PPO_PRESETS["navigation"].rollout_size
    cheetah = OracleConfig(env_id="MetaCheetahVel-v0", learning_rate=1e-4)
    assert cheetah.family == "locomotion" and cheetah.learning_rate == 1e-4
    assert cheetah.n_epochs == 20 and cheetah.normalize_observations is True
    assert cheetah.n_steps * cheetah.n_envs == 512  # rl-zoo's 1 env x 512 steps per update
    kwargs = ppo_kwargs(cheetah)
    assert kwargs["policy_kwargs"]["net_arch"] == {"pi": [100, 100], "vf": [256, 256]}
    assert OracleConfig.from_dict(cheetah.to_dict()) == cheetah


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"env_id": "NoSuchEnv-v0"}, ValueError, "not a registered"),
        ({"n_envs": 0}, ValueError, "n_envs must be >= 1"),
        ({"n_envs": 2.0}, TypeError, "n_envs must be an int"),
        ({"total_timesteps": 0}, ValueError, "total_timesteps"),
        ({"batch_size": 5000}, ValueError, "exceeds the rollout"),
        ({"gamma": 1.5}, ValueError, "gamma must be <= 1"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be > 0"),
        ({"learning_rate": float("nan")}, ValueError, "finite"),
        ({"policy_hidden_sizes": ()}, ValueError, "policy_hidden_sizes"),
        ({"policy_hidden_sizes": (100, -1)}, ValueError, "positive ints"),
        ({"vec_env": "ray"}, ValueError, "vec_env"),
        ({"env_kwargs": {"f": object()}}, TypeError, "JSON"),
    ],
)
def test_config_rejects_bad_values(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        OracleConfig(**kwargs)


# ------------------------------------------------------------------------------------------ train / save / load
@pytest.fixture(scope="module")
def tiny_oracle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("oracle") / "oracle.pt"
    return train_oracle(OracleConfig(env_id="MetaNav2D-v0", seed=1, **TINY), out)


def test_tiny_run_trains_saves_and_loads(tiny_oracle: Path) -> None:
    assert tiny_oracle.is_file() and sorted(p.name for p in tiny_oracle.parent.iterdir()) == ["oracle.pt"]
    state = load_checkpoint(tiny_oracle, expected_kind=ORACLE_KIND)  # torch.load(weights_only=True) underneath
    assert state["config"]["env_id"] == "MetaNav2D-v0" and state["config"]["total_timesteps"] == 512
    meta = state["metadata"]
    assert meta["timesteps"] == 512 and meta["wall_clock_seconds"] > 0
    assert (state["observation_dim"], state["task_dim"]) == (2, 2) and torch.equal(state["action_low"], torch.full((2,), -0.1))
    assert state["observation_normalization"] is None

    oracle = load_oracle(tiny_oracle)
    assert isinstance(oracle, OraclePolicy) and oracle.input_dim == 4 and oracle.action_dim == 2
    assert oracle.config == OracleConfig.from_dict(state["config"]) and oracle.metadata == meta
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, size=(5, 4)).astype(np.float32)
    actions = oracle.predict_fn(obs)
    assert actions.shape == (5, 2) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 0.1 + 1e-7)
    np.testing.assert_array_equal(oracle(obs), actions)  # deterministic
    # the policy is 2 x 100 ReLU, like the paper's
    linears = [m for m in oracle.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [100, 100]


def test_training_is_seeded(tiny_oracle: Path, tmp_path: Path) -> None:
    again = train_oracle(OracleConfig(env_id="MetaNav2D-v0", seed=1, **TINY), tmp_path / "again.pt")
    obs = np.random.default_rng(1).uniform(-0.5, 0.5, size=(8, 4))
    np.testing.assert_array_equal(load_oracle(again).predict_fn(obs), load_oracle(tiny_oracle).predict_fn(obs))


def test_normalized_oracle_applies_vecnormalize_statistics(tmp_path: Path) -> None:
    config = OracleConfig(env_id="MetaCheetahVel-v0", total_timesteps=256, n_envs=2, n_steps=64,
                          batch_size=64, n_epochs=1)
    oracle = load_oracle(train_oracle(config, tmp_path / "cheetah.pt"))
    stats = oracle.normalization
    assert stats is not None and stats.mean.shape == (18,)  # 17 observations + the goal velocity
    assert np.any(stats.var != 1.0)  # statistics were collected during training
    # SB3's own VecNormalize, given the saved statistics, normalises exactly like the oracle
    reference = VecNormalize(DummyVecEnv([lambda: make_oracle_env("MetaCheetahVel-v0")]), norm_reward=False)
    reference.obs_rms.mean, reference.obs_rms.var = stats.mean, stats.var
    obs = np.random.default_rng(0).normal(size=(3, 18)) * 5
    np.testing.assert_allclose(stats.apply(obs), reference.normalize_obs(obs))
    actions, _ = oracle.policy.predict(reference.normalize_obs(obs).astype(np.float32), deterministic=True)
    np.testing.assert_allclose(oracle.predict_fn(obs), actions, rtol=1e-6)
    assert oracle.predict_fn(obs).shape == (3, 6)
    reference.close()


def test_predict_fn_rejects_bad_inputs(tiny_oracle: Path) -> None:
    oracle = load_oracle(tiny_oracle)
    with pytest.raises(ValueError, match=r"shape \[B, 4\]"):
        oracle.predict_fn(np.zeros(4))
    with pytest.raises(ValueError, match=r"shape \[B, 4\]"):
        oracle.predict_fn(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        oracle.predict_fn(np.full((1, 4), np.nan))


def test_save_and_load_errors(tiny_oracle: Path, tmp_path: Path) -> None:
    config = OracleConfig(**TINY)
    with pytest.raises(ValueError, match=r"\.pt"):
        train_oracle(config, tmp_path / "oracle.zip")
    with pytest.raises(TypeError, match="OracleConfig"):
        train_oracle({"env_id": "MetaNav2D-v0"}, tmp_path / "oracle.pt")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no oracle model"):
        load_oracle(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt"):
        load_oracle(broken)
    with pytest.raises(CheckpointError, match="holds a 'maml_trpo' checkpoint, expected 'metarl_oracle_ppo'"):
        load_oracle(ROOT / "checkpoints" / "pretrained_nav2d.pt")


# ------------------------------------------------------------------------------------------ evaluation
def test_evaluate_scripted_oracle_known_returns() -> None:
    # goal (0.25, 0): positions 0.1, 0.2, 0.25 -> rewards -0.15, -0.05, -0 and termination at the goal
    # goal (0.05, 0): reached in one step -> return 0
    tasks = [GoalTask(goal=(0.25, 0.0)), GoalTask(goal=(0.05, 0.0))]
    returns = evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", tasks, rollouts_per_task=3, seed=0)
    np.testing.assert_allclose(returns, [-0.2, 0.0], atol=1e-6)
    # standing still: -|goal| for every one of the 100 steps (done stays done after truncation)
    still = evaluate_oracle(lambda x: np.zeros((len(x), 2)), "MetaNav2D-v0", tasks, rollouts_per_task=2, seed=0)
    np.testing.assert_allclose(still, [-25.0, -5.0], rtol=1e-6)


def test_evaluate_scripted_oracle_reaches_the_paper_oracle_value() -> None:
    sampler = PolicyRollouts("MetaNav2D-v0", 1, 1)
    tasks = held_out_tasks(sampler, EvaluationConfig(num_tasks=40))  # the MAML evaluation's held-out tasks
    sampler.close()
    returns = evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", tasks, rollouts_per_task=2, seed=0)
    assert returns.shape == (40,)
    # the paper's (learned, stochastic) oracle scored -2.3; the exact straight-line policy is at least as good
    assert -2.3 < returns.mean() < -0.2
    # chunking the batch does not change the result (up to the summation order of the padded time axis)
    chunked = evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", tasks, rollouts_per_task=2, seed=0, max_envs=7)
    np.testing.assert_allclose(chunked, returns, rtol=1e-12, atol=0)


def test_evaluate_a_trained_oracle_and_actions_are_clipped(tiny_oracle: Path) -> None:
    oracle = load_oracle(tiny_oracle)
    tasks = gym.make("MetaNav2D-v0").unwrapped.sample_tasks(3, rng=0)
    returns = evaluate_oracle(oracle, "MetaNav2D-v0", tasks, rollouts_per_task=1, seed=0)
    assert returns.shape == (3,) and np.all(np.isfinite(returns)) and np.all(returns <= 0)
    # a huge action is clipped to the 0.1 step, so it behaves exactly like the scripted oracle's first steps
    far = [GoalTask(goal=(0.5, 0.5))]
    big = evaluate_oracle(lambda x: np.full((len(x), 2), 50.0), "MetaNav2D-v0", far, rollouts_per_task=1)
    exact = evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", far, rollouts_per_task=1)
    np.testing.assert_allclose(big, exact, atol=1e-6)


def test_evaluate_rejects_bad_inputs(tiny_oracle: Path) -> None:
    tasks = [GoalTask(goal=(0.1, 0.1))]
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", [], rollouts_per_task=1)
    with pytest.raises(ValueError, match="rollouts_per_task must be >= 1"):
        evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", tasks, rollouts_per_task=0)
    with pytest.raises(TypeError, match="callable"):
        evaluate_oracle("oracle", "MetaNav2D-v0", tasks, rollouts_per_task=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="actions of shape"):
        evaluate_oracle(lambda x: np.zeros((len(x), 3)), "MetaNav2D-v0", tasks, rollouts_per_task=1)
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_oracle(lambda x: np.full((len(x), 2), np.nan), "MetaNav2D-v0", tasks, rollouts_per_task=1)
    with pytest.raises(ValueError, match="outside"):
        evaluate_oracle(goal_seeking_oracle, "MetaNav2D-v0", [GoalTask(goal=(0.9, 0.0))], rollouts_per_task=1)
    with pytest.raises(ValueError, match="trained on another env"):
        evaluate_oracle(load_oracle(tiny_oracle), "MetaCheetahVel-v0",
                        gym.make("MetaCheetahVel-v0").unwrapped.sample_tasks(1, rng=0), rollouts_per_task=1)


# ------------------------------------------------------------------------------------------ the example script
def test_example_script_trains_and_evaluates(tmp_path: Path) -> None:
    out = tmp_path / "oracle.pt"
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_oracle.py"), "--env-id", "MetaNav2D-v0", "--out", str(out),
         "--total-timesteps", "256", "--n-envs", "2", "--n-steps", "128", "--n-epochs", "1",
         "--eval-tasks", "3", "--eval-rollouts", "1"],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "held-out tasks" in result.stdout and "-2.3" in result.stdout
    evaluation = json.loads((tmp_path / "oracle_eval.json").read_text())
    assert len(evaluation["per_task"]) == 3 and evaluation["paper_oracle"] == -2.3
    assert load_oracle(out).config.total_timesteps == 256


def test_example_script_passes_env_kwargs_to_training_and_evaluation(tmp_path: Path) -> None:
    """``--env-kwargs '{"frame_skip": 1}'`` reaches the artifact (so evaluation rebuilds the same env) and the eval JSON."""
    out = tmp_path / "oracle.pt"
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "MUJOCO_GL": "egl"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_oracle.py"), "--env-id", "MetaCheetahDir-v0",
         "--env-kwargs", '{"frame_skip": 1}', "--out", str(out), "--total-timesteps", "256", "--n-envs", "2",
         "--n-steps", "128", "--n-epochs", "1", "--eval-tasks", "2", "--eval-rollouts", "1"],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert load_oracle(out).config.env_kwargs == {"frame_skip": 1}
    evaluation = json.loads((tmp_path / "oracle_eval.json").read_text())
    assert evaluation["env_kwargs"] == {"frame_skip": 1}
    bad = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_oracle.py"), "--env-id", "MetaCheetahDir-v0",
         "--env-kwargs", "frame_skip=1", "--out", str(tmp_path / "bad.pt")],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    assert bad.returncode != 0 and "--env-kwargs: not a JSON object" in bad.stderr
    assert "Traceback" not in bad.stderr
