"""The Meta-World extra without Meta-World: registration, the install hint, ``ML1Task`` validation and the
held-out-task helper of the task protocol (run by ``make test`` in .venv, which has no ``metaworld``; the adapter
itself is tested in ``tests/metaworld_extra/`` by ``make test-metaworld``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import registry

import envs
from envs.base import sample_held_out_tasks
from envs.metaworld_ml1 import INSTALL_HINT, ML1Task

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_ids_are_registered_with_the_metaworld_horizon_and_kept_out_of_env_ids() -> None:
    assert envs.METAWORLD_ENV_IDS == (
        "MetaWorldML1-reach-v3",
        "MetaWorldML1-push-v3",
        "MetaWorldML1-pick-place-v3",
    )
    for env_id, task_name, horizon in envs.METAWORLD_ENV_SPECS:
        spec = registry[env_id]
        assert spec.entry_point == "envs.metaworld_ml1:MetaWorldML1Env"
        assert spec.kwargs == {"env_name": task_name} and env_id == f"MetaWorldML1-{task_name}"
        assert spec.max_episode_steps == horizon == 500
        assert spec.vector_entry_point is None  # no native batched form
        assert env_id not in envs.ENV_IDS


def test_registering_imports_neither_metaworld_nor_mujoco() -> None:
    result = _run(
        "import sys, gymnasium as gym, metarl\n"
        "assert 'MetaWorldML1-reach-v3' in gym.registry\n"
        "print(sorted(m for m in ('metaworld', 'mujoco', 'envs.metaworld_ml1') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_metaworld_making_an_env_raises_one_line_saying_what_to_install() -> None:
    # sys.modules[name] = None makes `import name` fail as if the package were not installed
    result = _run(
        "import sys, gymnasium as gym, envs\n"
        "sys.modules['metaworld'] = None\n"
        "try:\n"
        "    gym.make('MetaWorldML1-push-v3')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(INSTALL_HINT)
    assert 'pip install "metarl[metaworld]"' in lines[0]


def test_ml1_task_validates_its_fields() -> None:
    task = ML1Task(env_name="reach-v3", split="test", index=np.int64(3), rand_vec=np.array([0.1, 0.6, 0.02]))
    assert task.index == 3 and type(task.index) is int
    assert task.rand_vec == (0.1, 0.6, 0.02) and all(type(v) is float for v in task.rand_vec)
    assert hash(task) == hash(ML1Task("reach-v3", "test", 3, (0.1, 0.6, 0.02)))
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'valid'"):
        ML1Task("reach-v3", "valid", 0, (0.0,))
    with pytest.raises(TypeError, match="index must be an int"):
        ML1Task("reach-v3", "train", 1.0, (0.0,))
    with pytest.raises(TypeError, match="index must be an int"):
        ML1Task("reach-v3", "train", True, (0.0,))
    with pytest.raises(ValueError, match="index must be >= 0, got -1"):
        ML1Task("reach-v3", "train", -1, (0.0,))
    with pytest.raises(TypeError, match="env_name must be a str"):
        ML1Task(3, "train", 0, (0.0,))
    with pytest.raises(ValueError, match="finite"):
        ML1Task("reach-v3", "train", 0, (0.0, np.nan))
    with pytest.raises(ValueError, match="non-empty"):
        ML1Task("reach-v3", "train", 0, ())
    with pytest.raises(TypeError, match="sequence of numbers"):
        ML1Task("reach-v3", "train", 0, "0.1")


class _WithTestSet:
    """A stand-in for an env whose benchmark fixes held-out tasks (``sample_test_tasks``)."""

    unwrapped = property(lambda self: self)

    def sample_tasks(self, n, rng=None):
        return [("train", i) for i in range(n)]

    def sample_test_tasks(self, n, rng=None):
        return [("test", int(v)) for v in np.random.default_rng(rng).integers(0, 50, size=n)]


def test_held_out_tasks_come_from_the_test_set_when_the_env_has_one() -> None:
    assert sample_held_out_tasks(_WithTestSet(), 3, rng=4) == _WithTestSet().sample_test_tasks(3, rng=4)
    nav = gym.make("MetaNav2D-v0")
    nav.reset(seed=0)
    state = nav.unwrapped.np_random.bit_generator.state
    drawn = sample_held_out_tasks(nav, 5, np.random.default_rng(9))  # through the wrappers
    assert drawn == nav.unwrapped.sample_tasks(5, rng=np.random.default_rng(9))
    assert nav.unwrapped.np_random.bit_generator.state == state  # the env's own generator is left alone
    vec = gym.make_vec("MetaNav2D-v0", num_envs=2)
    assert sample_held_out_tasks(vec, 5, 9) == drawn  # vector envs too
    with pytest.raises(TypeError, match="rng must be"):
        sample_held_out_tasks(nav, 5, None)
