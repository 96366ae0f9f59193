"""Adaptation videos (agents/rendering.py, the metarl-render command): adapted params, clips, plot, CLI, extensions."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede the first `import mujoco`
os.environ.setdefault("METARL_NO_PROGRESS", "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import imageio.v2 as iio2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import EvaluationConfig, evaluate_adaptation, held_out_tasks  # noqa: E402
from agents.maml_trpo import MAMLTRPOConfig, make_policy  # noqa: E402
from agents.rendering import (  # noqa: E402
    LOCOMOTION_TILE_SIZE,
    _fit_tile,
    adaptation_trace,
    adapted_params_per_step,
    render_adaptation,
)
from metarl.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from metarl.rl.sampler import PolicyRollouts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAV = "MetaNav2D-v0"


def _make_checkpoint(path: Path, env_id: str) -> Path:
    """A MAML-TRPO checkpoint of an untrained small policy, in the layout training writes."""
    config = MAMLTRPOConfig(env_id=env_id, hidden_sizes=(16, 16))
    env = gym.make(env_id)
    policy = make_policy(env.observation_space.shape[0], env.action_space.shape[0], config, seed=0)
    env.close()
    state = {"policy": policy.state_dict(), "config": config.to_dict(), "iteration": 0, "rng": {}}
    save_checkpoint(path, state, kind="maml_trpo")
    return path


@pytest.fixture(scope="module")
def nav_checkpoint(tmp_path_factory) -> Path:
    return _make_checkpoint(tmp_path_factory.mktemp("ckpt") / "nav.pt", NAV)


def _nav_policy():
    config = MAMLTRPOConfig(env_id=NAV, hidden_sizes=(16, 16))
    return make_policy(2, 2, config, seed=3)


def _held_out(env_id: str, index: int) -> object:
    sampler = PolicyRollouts(env_id, 1, 1)
    try:
        return held_out_tasks(sampler, EvaluationConfig())[index]
    finally:
        sampler.close()


def _read_mp4(path: Path) -> list[np.ndarray]:
    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        return [np.asarray(frame) for frame in reader]
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------------- adaptation
def test_adaptation_matches_the_evaluation_protocol():
    """With the same seed, task and rollouts, the per-step rollouts are exactly the evaluation's: the adapted
    parameters after step 1 are the ones evaluate_adaptation reaches (no second adaptation loop that can drift)."""
    policy = _nav_policy()
    task = _held_out(NAV, 0)
    trace = adaptation_trace(policy, NAV, task, steps=2, rollouts=3, seed=7, show_progress=False)
    curve = evaluate_adaptation(
        policy, NAV, EvaluationConfig(num_tasks=1, num_steps=2, rollouts_per_task=3, seed=7),
        tasks=[task], show_progress=False,
    )
    assert len(trace.params) == 3 and len(trace.sampled_returns) == 2
    assert trace.step_sizes == [0.1, 0.05]
    for k in range(2):
        assert trace.sampled_returns[k] == pytest.approx(curve["per_task"][k][0], rel=1e-6, abs=1e-6)


def test_adapted_params_per_step_shapes_and_changes():
    policy = _nav_policy()
    task = _held_out(NAV, 1)
    params = adapted_params_per_step(policy, NAV, task, steps=2, rollouts=2, seed=0, show_progress=False)
    assert len(params) == 3
    for name, value in policy.named_params().items():
        assert torch.equal(params[0][name], value.detach())  # step 0 is θ itself
        for p in params:
            assert p[name].shape == value.shape and not p[name].requires_grad
    assert not torch.equal(params[1]["layers.0.weight"], params[0]["layers.0.weight"])
    assert not torch.equal(params[2]["layers.0.weight"], params[1]["layers.0.weight"])
    assert [p.data_ptr() for p in policy.parameters()][0] != params[0]["layers.0.weight"].data_ptr()
    assert len(adapted_params_per_step(policy, NAV, task, steps=0, rollouts=2, show_progress=False)) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"steps": -1}, "steps"), ({"rollouts": 0}, "rollouts"), ({"step_sizes": ()}, "step_sizes"),
     ({"step_sizes": (0.1, -0.5)}, r"step_sizes\[1\]"), ({"env_id": "NoSuchEnv-v0"}, "NoSuchEnv-v0")],
)
def test_adaptation_rejects_bad_arguments(kwargs, field):
    args = {"policy": _nav_policy(), "env_id": NAV, "task": _held_out(NAV, 0), "steps": 1, **kwargs}
    with pytest.raises(ValueError, match=field):
        adaptation_trace(**args, show_progress=False)


# ---------------------------------------------------------------------------------------------- rendering
def test_render_navigation_writes_one_clip_per_step(nav_checkpoint, tmp_path):
    out = tmp_path / "videos"
    paths = render_adaptation(nav_checkpoint, out, steps=2, rollouts=2, width=64, height=48, show_progress=False)
    names = [p.name for p in paths]
    assert names == ["step0.mp4", "step1.mp4", "step2.mp4", "adaptation_tiled.mp4", "trajectories.png",
                     "summary.json"]
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_id"] == NAV and summary["steps"] == [0, 1, 2]
    assert summary["task"] == {"goal": list(_held_out(NAV, 0).goal)}  # task 0 of the evaluation set
    assert summary["step_sizes"] == [0.1, 0.05] and summary["rollouts_per_step"] == 2
    goal = _held_out(NAV, 0).goal
    assert summary["caption"] == f"goal ({goal[0]:.2f}, {goal[1]:.2f})"  # drawn under "step k | return R"
    assert "clip_success" not in summary  # MetaNav2D reports no success flag
    lengths = summary["clip_lengths"]
    assert all(1 <= n <= 100 for n in lengths)
    for k in range(3):
        frames = _read_mp4(out / f"step{k}.mp4")
        assert len(frames) == lengths[k] + 1  # the reset frame + one per step
        assert frames[0].shape == (48, 64, 3)
    tiled = _read_mp4(out / "adaptation_tiled.mp4")
    assert len(tiled) == max(lengths) + 1
    assert tiled[0].shape == (48, 3 * 64 + 2 * 4, 3)  # three tiles in a row, 4 px gaps
    with Image.open(out / "trajectories.png") as image:
        assert image.format == "PNG" and image.size[0] > 200 and image.size[1] > 200
    # the clips are deterministic (mean action): the same call gives the same returns
    again = render_adaptation(nav_checkpoint, tmp_path / "again", steps=2, rollouts=2, width=64, height=48,
                              show_progress=False)
    assert json.loads(again[-1].read_text())["clip_returns"] == summary["clip_returns"]


def test_render_gif_task_index_and_preview_length(nav_checkpoint, tmp_path):
    paths = render_adaptation(nav_checkpoint, tmp_path, steps=1, task_index=3, fmt="gif", rollouts=2, width=40,
                              height=40, max_steps=12, fps=5, show_progress=False)
    assert [p.name for p in paths[:3]] == ["step0.gif", "step1.gif", "adaptation_tiled.gif"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["task"] == {"goal": list(_held_out(NAV, 3).goal)} and summary["task_index"] == 3
    assert all(n <= 12 for n in summary["clip_lengths"])
    # the untrained policy's mean action at the origin is 0, so step 0 stands still; the adapted policy moves.
    # Pillow merges identical consecutive frames, so at most (length + 1) frames are stored
    with Image.open(tmp_path / "step1.gif") as image:
        assert image.format == "GIF" and image.size == (40, 40)
        assert 1 < image.n_frames <= summary["clip_lengths"][1] + 1


def test_render_errors_are_clear(nav_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="trained on MetaNav2D-v0, not on the requested env MetaCheetahDir-v0"):
        render_adaptation(nav_checkpoint, tmp_path, steps=1, env_id="MetaCheetahDir-v0", show_progress=False)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        render_adaptation(corrupt, tmp_path, steps=1, show_progress=False)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        render_adaptation(tmp_path / "missing.pt", tmp_path, steps=1, show_progress=False)
    for kwargs, field in [({"steps": -1}, "steps"), ({"fmt": "avi"}, "fmt"), ({"width": 0}, "width"),
                          ({"tile_size": (0, 5)}, r"tile_size\[0\]"), ({"fps": -2}, "fps"),
                          ({"task_index": -1}, "task_index"), ({"max_steps": 0}, "max_steps")]:
        with pytest.raises(ValueError, match=field):
            render_adaptation(nav_checkpoint, tmp_path, show_progress=False, **kwargs)
    assert not any(tmp_path.glob("*.mp4"))


def test_locomotion_tiles_are_shrunk_not_upscaled():
    assert LOCOMOTION_TILE_SIZE == (240, 240)
    assert _fit_tile(480, 480, LOCOMOTION_TILE_SIZE) == (240, 240)
    assert _fit_tile(640, 480, LOCOMOTION_TILE_SIZE) == (240, 180)
    assert _fit_tile(64, 64, LOCOMOTION_TILE_SIZE) is None


def test_render_mujoco_cheetah(tmp_path):
    checkpoint = _make_checkpoint(tmp_path / "cheetah.pt", "MetaCheetahDir-v0")
    paths = render_adaptation(checkpoint, tmp_path / "out", steps=1, rollouts=2, width=64, height=64, max_steps=15,
                              env_id="MetaCheetahDir-v0", show_progress=False)
    assert [p.name for p in paths] == ["step0.mp4", "step1.mp4", "adaptation_tiled.mp4", "summary.json"]
    frames = _read_mp4(paths[1])
    assert len(frames) == 16 and frames[0].shape == (64, 64, 3)
    assert frames[0].std() > 5  # a real MuJoCo scene, not a blank frame
    tiled = _read_mp4(paths[2])
    assert tiled[0].shape == (64, 2 * 64 + 4, 3)
    assert json.loads(paths[3].read_text())["task"]["direction"] in (-1, 1)


# ------------------------------------------------------------------------------------------------------ CLI
def _run_cli(*args: str) -> subprocess.CompletedProcess:
    """The installed ``metarl-render`` command (agents.cli.render_main)."""
    env = {**os.environ, "MUJOCO_GL": "egl", "METARL_NO_PROGRESS": "1"}
    return subprocess.run([sys.executable, "-c", "from agents.cli import render_main; render_main()", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_help_explains_every_option():
    result = _run_cli("--help")
    assert result.returncode == 0, result.stderr
    for option in ("--checkpoint", "--out-dir", "--steps", "--task-index", "--seed", "--format", "--fps", "--width",
                   "--height", "--max-steps", "--workers"):
        assert option in result.stdout
    assert "adaptation_tiled" in result.stdout and "{mp4,gif}" in result.stdout


def test_cli_tiny_job(nav_checkpoint, tmp_path):
    out = tmp_path / "cli"
    result = _run_cli("--checkpoint", str(nav_checkpoint), "--out-dir", str(out), "--steps", "1", "--width", "48",
                      "--height", "48", "--max-steps", "20", "--format", "gif")
    assert result.returncode == 0, result.stderr
    printed = [Path(line) for line in result.stdout.split()]
    assert [p.name for p in printed] == ["step0.gif", "step1.gif", "adaptation_tiled.gif", "trajectories.png",
                                         "summary.json"]
    assert all(p.exists() for p in printed)


def test_cli_reports_errors_in_one_line(nav_checkpoint, tmp_path, capsys):
    from agents.cli import render_main

    with pytest.raises(SystemExit) as exc:
        render_main(["--checkpoint", str(tmp_path / "missing.pt"), "--out-dir", str(tmp_path)])
    assert str(exc.value.code).startswith("metarl-render: ") and "missing.pt" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        render_main(["--checkpoint", str(nav_checkpoint), "--out-dir", str(tmp_path), "--max-steps", "0"])
    assert str(exc.value.code).startswith("metarl-render: ") and "max_steps" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        render_main(["--checkpoint", str(nav_checkpoint), "--out-dir", str(tmp_path), "--format", "avi"])
    assert exc.value.code == 2
    assert not any(tmp_path.glob("*.gif")) and not any(tmp_path.glob("*.mp4"))


def test_cli_refuses_a_reproductions_checkpoint(nav_checkpoint, tmp_path):
    """metarl-render has no extensions to give: a checkpoint trained with some is refused by name."""
    from agents.cli import render_main
    from metarl.checkpoint import load_checkpoint

    state = load_checkpoint(nav_checkpoint, expected_kind="maml_trpo")
    path = tmp_path / "repro.pt"
    save_checkpoint(path, {k: state[k] for k in ("policy", "config", "iteration", "rng")}
                    | {"extensions": "maml2017:rescale_actions"}, kind="maml_trpo")
    with pytest.raises(SystemExit) as exc:
        render_main(["--checkpoint", str(path), "--out-dir", str(tmp_path / "out")])
    assert "trained with the extensions 'maml2017:rescale_actions'" in str(exc.value.code)
    assert not (tmp_path / "out").exists()


class _HalvedSingle(gym.ActionWrapper):
    """Test wrapper: the policy acts on a box twice the env's, the env receives half the action."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        inner = env.action_space
        self.action_space = gym.spaces.Box(2 * inner.low, 2 * inner.high, inner.shape, inner.dtype)

    def action(self, action: np.ndarray) -> np.ndarray:
        return (0.5 * np.asarray(action)).astype(self.env.action_space.dtype)


class _HalvedVector(gym.vector.VectorActionWrapper):
    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        inner = env.single_action_space
        self.single_action_space = gym.spaces.Box(2 * inner.low, 2 * inner.high, inner.shape, inner.dtype)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, env.num_envs)

    def actions(self, actions: np.ndarray) -> np.ndarray:
        return 0.5 * np.asarray(actions)


WRAPPED: list[str] = []


def halve_actions(env):
    WRAPPED.append("vector" if isinstance(env, gym.vector.VectorEnv) else "single")
    return _HalvedVector(env) if isinstance(env, gym.vector.VectorEnv) else _HalvedSingle(env)


def test_render_needs_the_checkpoints_extensions_and_wraps_both_envs_with_them(nav_checkpoint, tmp_path):
    """A checkpoint trained with extensions renders only with the same ones (by name), whose env_wrappers wrap
    both the adaptation sampler's batched env and the rendered single env; a library checkpoint refuses them."""
    from agents.maml_trpo import Extensions
    from metarl.checkpoint import load_checkpoint

    extensions = Extensions(name="test:halved", env_wrappers=(halve_actions,))
    state = load_checkpoint(nav_checkpoint, expected_kind="maml_trpo")
    wrapped_ckpt = tmp_path / "wrapped.pt"
    save_checkpoint(wrapped_ckpt, {k: state[k] for k in ("policy", "config", "iteration", "rng")}
                    | {"extensions": extensions.name}, kind="maml_trpo")
    common = dict(steps=1, rollouts=2, width=32, height=32, max_steps=20, fmt="gif", show_progress=False)
    with pytest.raises(ValueError, match="trained with extensions 'test:halved', got ''"):
        render_adaptation(wrapped_ckpt, tmp_path / "a", **common)
    with pytest.raises(ValueError, match="trained with extensions '', got 'test:halved'"):
        render_adaptation(nav_checkpoint, tmp_path / "b", extensions=extensions, **common)
    with pytest.raises(ValueError, match="got 'test:other'"):
        render_adaptation(wrapped_ckpt, tmp_path / "c", extensions=Extensions(name="test:other"), **common)
    WRAPPED.clear()
    render_adaptation(wrapped_ckpt, tmp_path / "wrapped", extensions=extensions, **common)
    assert sorted(set(WRAPPED)) == ["single", "vector"]
    render_adaptation(nav_checkpoint, tmp_path / "plain", **common)
    wrapped = json.loads((tmp_path / "wrapped" / "summary.json").read_text())
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert wrapped["task"] == plain["task"] and wrapped["clip_returns"] != plain["clip_returns"]
