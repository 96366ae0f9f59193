"""Bring your own task distribution: an env with only a single form (``tests.task_envs``) is batched by the library
(envs.task_vector_adapter) exactly as N single envs, and trains, evaluates, renders and runs from the CLI through its
``module:Id``; an env without the task protocol is refused early, in one line naming what it lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs
from envs import AsyncTaskVectorEnv, SyncTaskVectorEnv, TaskProtocolError, make_task_vector_env
from envs.vector_base import TaskVectorEnv
from envs.wrappers import TaskInObservationVector
from tests.task_envs import ENV_ID, HORIZON, SpeedTask

ROOT = Path(__file__).resolve().parents[1]
TINY = {"meta_batch_size": 3, "fast_batch_size": 4, "hidden_sizes": (8, 8)}
pytestmark = pytest.mark.usefixtures("one_torch_thread")
ADAPTERS = {"sync": lambda n: SyncTaskVectorEnv(ENV_ID, n), "async": lambda n: AsyncTaskVectorEnv(ENV_ID, n, workers=2)}


def _single_envs(tasks: list, seed: int) -> tuple[list[gymnasium.Env], np.ndarray]:
    """``len(tasks)`` single envs, env ``i`` with ``tasks[i]`` fixed (None: drawn at reset) and reset with seed + i."""
    singles = [gymnasium.make(ENV_ID) for _ in tasks]
    for env, task in zip(singles, tasks):
        env.unwrapped.set_task(task)
    return singles, np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(singles)])


@pytest.mark.parametrize("form", sorted(ADAPTERS))
def test_adapter_steps_exactly_as_single_envs_and_done_stays_done(form):
    n = 6
    vec = ADAPTERS[form](n)
    try:
        assert vec.metadata["autoreset_mode"] == AutoresetMode.DISABLED and vec.max_episode_steps == HORIZON
        drawn = vec.sample_tasks(3, rng=np.random.default_rng(1))
        tasks = [drawn[0], None, drawn[1], None, drawn[2], None]  # None: the copy draws its own task at reset
        vec.set_tasks(tasks)
        obs, info = vec.reset(seed=7)
        singles, expected = _single_envs(tasks, seed=7)
        np.testing.assert_array_equal(obs, expected)  # start noise from seed + i
        assert vec.tasks == tuple(env.unwrapped.task for env in singles)
        assert info["_start"].all()
        done = np.zeros(n, dtype=bool)
        frozen = {}
        rng = np.random.default_rng(0)
        for _ in range(HORIZON + 3):
            actions = rng.uniform(-1.0, 1.0, (n, 1)).astype(np.float32)
            obs, reward, terminated, truncated, info = vec.step(actions)
            for i, env in enumerate(singles):
                if done[i]:  # done stays done: nothing moves, no reward, the same flags, no info
                    assert (tuple(obs[i]), reward[i], terminated[i], truncated[i]) == frozen[i]
                    assert not info.get("_speed_error", np.zeros(n, bool))[i]
                    continue
                o, r, te, tr, inf = env.step(actions[i])
                np.testing.assert_array_equal(obs[i], o)
                assert (reward[i], terminated[i], truncated[i]) == (r, te, tr)
                assert info["_speed_error"][i] and info["speed_error"][i] == inf["speed_error"]
                if te or tr:
                    done[i] = True
                    frozen[i] = (tuple(o), 0.0, te, tr)
        assert done.all()
        assert any(t for _, _, t, _ in frozen.values()) and any(t for _, _, _, t in frozen.values())  # both ends
        # a partial reset restarts only the masked copies, with their own seeds
        mask = np.array([True, False] * 3)
        obs, _ = vec.reset(seed=100, options={"reset_mask": mask})
        np.testing.assert_array_equal(obs[mask], _single_envs(tasks, seed=100)[1][mask])
        obs, reward, *_ = vec.step(np.zeros((n, 1), np.float32))
        assert np.all(reward[~mask] == 0.0) and np.all(reward[mask] != 0.0)
    finally:
        vec.close()


def test_adapter_of_metanav2d_equals_its_native_batched_form():
    """The adapter over the single MetaNav2D env and the native numpy batched env give the same data."""
    native = gymnasium.make_vec("MetaNav2D-v0", num_envs=5, autoreset_mode=AutoresetMode.DISABLED)
    adapter = make_task_vector_env("MetaNav2D-v0", 5, vectorization="sync")
    tasks = [*native.unwrapped.sample_tasks(3, rng=4), None, None]
    rng = np.random.default_rng(5)
    for vec in (native, adapter):
        vec.unwrapped.set_tasks(tasks)
    results = [vec.reset(seed=11)[0] for vec in (native, adapter)]
    np.testing.assert_allclose(results[0], results[1], atol=1e-7)
    assert native.unwrapped.tasks == adapter.tasks
    for _ in range(101):
        actions = rng.uniform(-0.1, 0.1, (5, 2))
        a, b = native.step(actions), adapter.step(actions)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_allclose(x, y, atol=1e-6)
    assert adapter.step(np.zeros((5, 2)))[3].all()  # truncated at the registered horizon, and stays so
    # the oracle's wrapper works on the adapter too
    wrapped = TaskInObservationVector(adapter)
    obs, _ = wrapped.reset(seed=0)
    np.testing.assert_allclose(obs[:3, 2:], [t.goal for t in tasks[:3]], atol=1e-7)
    native.close()
    adapter.close()


def test_make_task_vector_env_chooses_the_native_form_or_the_adapter():
    native = make_task_vector_env("MetaNav2D-v0", 2)
    assert isinstance(native.unwrapped, TaskVectorEnv) and native.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    custom = make_task_vector_env(ENV_ID, 2)
    assert isinstance(custom, SyncTaskVectorEnv)
    example = make_task_vector_env("examples.custom_task_distribution:PointGoal1D-v0", 2)  # the README's CLI form
    assert isinstance(example, SyncTaskVectorEnv) and example.max_episode_steps == 20
    with pytest.raises(ValueError, match="registers no vector_entry_point"):
        make_task_vector_env(ENV_ID, 2, vectorization="native")
    with pytest.raises(ValueError, match="vectorization must be one of"):
        make_task_vector_env(ENV_ID, 2, vectorization="threads")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        make_task_vector_env("no_such_module:X-v0", 2)
    for vec in (native, custom, example):
        vec.close()


def test_adapter_refuses_bad_input_naming_it():
    vec = SyncTaskVectorEnv(ENV_ID, 2)
    with pytest.raises(gymnasium.error.ResetNeeded):
        vec.step(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="expected num_envs=2"):
        vec.set_tasks([SpeedTask(0.1)])
    with pytest.raises(TypeError, match="must be a SpeedTask"):  # the single env's own validation
        vec.set_tasks([SpeedTask(0.1), 0.3])
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"action has shape \(2, 2\), expected \(2, 1\)"):
        vec.step(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        vec.step(np.full((2, 1), np.nan))
    vec.close()
    with pytest.raises(ValueError, match="batches Box observation and action spaces"):
        SyncTaskVectorEnv("tests.task_envs:DiscreteSpeed-v0", 2)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "HalfCheetah-v5"])
def test_an_env_without_the_task_protocol_is_refused_naming_what_it_lacks(env_id):
    from agents import MAMLTRPO, MAMLTRPOConfig, evaluate_adaptation
    from agents.maml_trpo import make_policy
    from agents.rendering import adaptation_trace

    message = rf"env '{env_id}' does not implement the task protocol: missing sample_tasks, set_task, task; see README"
    with pytest.raises(TaskProtocolError, match=message):
        make_task_vector_env(env_id, 2)
    with pytest.raises(TaskProtocolError, match=message):
        MAMLTRPO(MAMLTRPOConfig(env_id=env_id, workers=2, **TINY))  # in the parent, before any worker starts
    policy = make_policy(4, 1, MAMLTRPOConfig(**TINY), seed=0)
    with pytest.raises(TaskProtocolError, match=message):
        evaluate_adaptation(policy, env_id, show_progress=False)
    with pytest.raises(TaskProtocolError, match=message):
        adaptation_trace(policy, env_id, task=None, steps=1, show_progress=False)


def test_the_cli_refuses_it_in_one_line():
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", "from agents.cli import train_main; train_main()", "--env-id", "CartPole-v1",
         "--iterations", "1", "--run-dir", str(ROOT / "runs" / "never-written")],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "metarl-train: env 'CartPole-v1' does not implement the task protocol: missing sample_tasks, set_task, task; "
        "see README 'Your own task distribution'"
    )
    assert not (ROOT / "runs" / "never-written").exists()


def test_maml_trpo_trains_and_evaluates_on_a_module_id_env_reproducibly():
    from agents import MAMLTRPO, EvaluationConfig, MAMLTRPOConfig, evaluate_adaptation

    def one_iteration() -> tuple[dict, MAMLTRPO]:
        agent = MAMLTRPO(MAMLTRPOConfig(env_id=ENV_ID, seed=3, **TINY))
        return agent.step(), agent

    metrics, agent = one_iteration()
    again, other = one_iteration()
    assert isinstance(agent.rollouts.stepper.env, SyncTaskVectorEnv)
    assert agent.rollouts.horizon == HORIZON
    assert np.isfinite(metrics["train/return_before_adapt"]) and metrics["trpo/accepted"] in (0.0, 1.0)
    assert {k: v for k, v in metrics.items() if not k.startswith("time/")} == \
        {k: v for k, v in again.items() if not k.startswith("time/")}  # same seed, same result
    other.close()
    config = EvaluationConfig(num_tasks=3, rollouts_per_task=2, num_steps=1)
    curve = evaluate_adaptation(agent.policy, ENV_ID, config, show_progress=False)
    agent.close()
    assert curve["steps"] == [0, 1] and len(curve["per_task"][0]) == 3
    assert all(set(task) == {"speed"} for task in curve["tasks"])  # dataclass tasks as JSON
    json.dumps(curve)  # the whole curve is JSON
    assert evaluate_adaptation(agent.policy, ENV_ID, config, show_progress=False)["mean"] == curve["mean"]


def test_the_cli_trains_evaluates_and_renders_a_module_id_env(tmp_path):
    from agents import render_adaptation
    from agents.cli import evaluate_main

    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", "from agents.cli import train_main; train_main()", "--env-id", ENV_ID,
         "--iterations", "1", "--meta-batch-size", "2", "--fast-batch-size", "2", "--hidden-sizes", "8", "8",
         "--no-tensorboard", "--run-dir", str(run_dir), "--eval-tasks", "2", "--eval-steps", "1",
         "--eval-rollouts", "2"],
        capture_output=True, text=True, timeout=180, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "evaluation.json").read_text())["env_id"] == ENV_ID
    curve = evaluate_main(["--checkpoint", str(run_dir / "best.pt"), "--out", str(tmp_path / "eval.json"),
                           "--eval-tasks", "2", "--eval-steps", "1", "--eval-rollouts", "2"])
    assert curve["steps"] == [0, 1]
    paths = render_adaptation(run_dir / "best.pt", tmp_path / "videos", steps=1, rollouts=2, fmt="gif",
                              show_progress=False)
    summary = json.loads(paths[-1].read_text())
    assert summary["env_id"] == ENV_ID and set(summary["task"]) == {"speed"}
    assert [p.name for p in paths] == ["step0.gif", "step1.gif", "adaptation_tiled.gif", "summary.json"]


@pytest.mark.slow
def test_the_example_trains_and_prints_both_curves(tmp_path):
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_task_distribution.py")],
                            capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)  # a fresh runs/
    assert (tmp_path / "runs" / "custom_task_distribution" / "last.pt").exists(), result.stderr
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-2:]
    assert lines[0].startswith("before training: return after 0/1/2 gradient steps")
    assert lines[1].startswith("after training: return after 0/1/2 gradient steps")
    before, after = ([float(x) for x in line.split("steps ")[1].split(" / ")] for line in lines)
    assert after[2] > before[2]  # meta-training made the two-step adaptation better
    again = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_task_distribution.py")],
                           capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # a second run continues the finished one instead of refusing
    assert again.stdout.strip().splitlines()[-2:] == lines


def test_protocol_names_are_public():
    assert envs.TASK_PROTOCOL == ("sample_tasks", "set_task", "task")
    assert envs.missing_task_protocol(gymnasium.make(ENV_ID)) == []


def test_the_comparison_learners_run_on_a_module_id_env(tmp_path):
    """MAML, pretrained (a num_steps=0 checkpoint), random init with a tuned step size, on the same held-out tasks."""
    from agents import MAMLTRPO, EvaluationConfig, MAMLTRPOConfig, TrainingConfig, train
    from agents.comparison import TuningConfig, compare_methods, maml_method, pretrained_method, random_method

    for name, steps in (("maml", 1), ("pretrained", 0)):
        agent = MAMLTRPO(MAMLTRPOConfig(env_id=ENV_ID, seed=1, num_steps=steps, **TINY))
        train(agent, TrainingConfig(run_dir=str(tmp_path / name), iterations=1, progress=False))
        agent.close()
    methods = {"maml": maml_method(tmp_path / "maml" / "last.pt", ENV_ID),
               "pretrained": pretrained_method(tmp_path / "pretrained" / "last.pt", ENV_ID, candidates=(0.01, 0.1)),
               "random": random_method(ENV_ID, MAMLTRPOConfig(env_id=ENV_ID, **TINY), candidates=(0.01, 0.1))}
    report = compare_methods(ENV_ID, methods, EvaluationConfig(num_tasks=3, rollouts_per_task=2, num_steps=1),
                             TuningConfig(num_tasks=2, rollouts_per_task=2), out=tmp_path / "compare.json")
    assert set(report) == {"maml", "pretrained", "random"}
    tasks = [curve["tasks"] for curve in report.values()]
    assert tasks[0] == tasks[1] == tasks[2] and len(tasks[0]) == 3  # the identical held-out tasks for every learner
    assert report["random"]["tuning"]["chosen"] in (0.01, 0.1)
    assert json.loads((tmp_path / "compare.json").read_text())  # the report is JSON (custom task dataclasses too)
