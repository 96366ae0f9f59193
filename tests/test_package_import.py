"""``import metarl`` registers the env ids and nothing else; its public names resolve on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import metarl

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter. gymnasium is imported first because gymnasium itself sets
# PYGAME_HIDE_SUPPORT_PROMPT on import; what is measured is what importing metarl adds.
_PROBE = r"""
import ctypes, json, os, sys
import gymnasium

mallopt_lookups = []

class RecordingCDLL(ctypes.CDLL):
    def __getattr__(self, name):
        if name == "mallopt":
            mallopt_lookups.append(self._name)
        return super().__getattr__(name)

ctypes.CDLL = RecordingCDLL
before = dict(os.environ)
import metarl
after = dict(os.environ)
from metarl import malloc_tuning
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
heavy = sorted(m for m in ("mujoco", "torch", "tensorboard", "OpenGL") if m in sys.modules)
env = gymnasium.make("MetaNav2D-v0")
obs, _ = env.reset(seed=0)
env.step(env.action_space.sample())
env.close()
print(json.dumps({"changed": changed, "mallopt": mallopt_lookups, "status": malloc_tuning.status,
                  "heavy": heavy, "ids": list(metarl.ENV_IDS), "obs_shape": list(obs.shape)}))
"""


@pytest.mark.parametrize("user_env", [{}, {"METARL_MALLOC_TUNING": "1"}], ids=["plain", "tuning-requested"])
def test_import_changes_no_environment_variable_and_calls_no_mallopt(user_env):
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    env.update(user_env, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, cwd=ROOT,
                         check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["changed"] == [], "import metarl must not set environment variables"
    assert result["mallopt"] == [] and result["status"] == "not called", "import metarl must not tune malloc"
    assert "mujoco" not in result["heavy"], "import metarl must not import MuJoCo"
    assert "MetaNav2D-v0" in result["ids"] and result["obs_shape"] == [2]


def test_every_public_name_resolves_from_its_module():
    for name in metarl.__all__:
        value = getattr(metarl, name)
        assert value is not None, name
    assert set(metarl.__all__) - {"ENV_IDS", "__version__"} == set(metarl._LAZY), "__all__ and _LAZY disagree"
    assert set(metarl.__all__) <= set(dir(metarl))


def test_public_names_are_the_module_objects():
    from metarl.logger import Logger
    from metarl.maml import adapt
    from metarl.stats import mean_ci

    assert metarl.adapt is adapt and metarl.Logger is Logger and metarl.mean_ci is mean_ci
    from metarl import save_checkpoint  # noqa: F401  (the from-import form works too)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        metarl.nope  # noqa: B018
