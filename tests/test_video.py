"""Tests for metarl.video: writing mp4/gif, frame validation, labels, tiling, rollout recording."""

from __future__ import annotations

import os
import sys
import types

import gymnasium as gym
import imageio.v2 as iio2
import imageio.v3 as iio3
import numpy as np
import pytest
from PIL import Image, ImageSequence

from metarl import video as video_mod
from metarl.video import (
    label_frame,
    pad_to_even,
    record_rollout,
    resize_frame,
    save_adaptation_videos,
    tile_clips,
    validate_frames,
    write_video,
)


def _clip(n: int, h: int = 32, w: int = 48, shade: int = 0) -> list[np.ndarray]:
    """Smooth synthetic frames (compress well, so decoded pixels stay close to the originals)."""
    ys, xs = np.mgrid[0:h, 0:w]
    frames = []
    for t in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 0] = (xs * 255 // max(w - 1, 1)).astype(np.uint8)
        f[..., 1] = (ys * 255 // max(h - 1, 1)).astype(np.uint8)
        f[..., 2] = np.uint8((shade + 20 * t) % 256)
        frames.append(f)
    return frames


def _read_mp4(path) -> list[np.ndarray]:
    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        return [np.asarray(f) for f in reader]
    finally:
        reader.close()


def _gif_duration_ms(path) -> float:
    with Image.open(path) as im:
        return float(sum(frame.info["duration"] for frame in ImageSequence.Iterator(im)))


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or "partial" in p.name)


# ---------------------------------------------------------------------------------------- rendering setup
@pytest.fixture
def fresh_process(monkeypatch):
    """As if nothing had chosen a GL backend or imported MuJoCo/PyOpenGL yet (all restored afterwards)."""
    for name in ("MUJOCO_GL", "PYOPENGL_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for module in ("mujoco", "OpenGL"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return monkeypatch


def test_use_headless_gl_sets_egl_when_nothing_is_chosen(fresh_process):
    assert video_mod.use_headless_gl() == "egl"
    assert os.environ["MUJOCO_GL"] == "egl" and os.environ["PYOPENGL_PLATFORM"] == "egl"


def test_use_headless_gl_keeps_the_users_choice(fresh_process):
    fresh_process.setenv("MUJOCO_GL", "osmesa")
    assert video_mod.use_headless_gl() == "osmesa"
    assert os.environ["MUJOCO_GL"] == "osmesa" and "PYOPENGL_PLATFORM" not in os.environ


@pytest.mark.parametrize("module", ["mujoco", "OpenGL"])
def test_use_headless_gl_is_too_late_once_mujoco_or_opengl_is_imported(fresh_process, module):
    fresh_process.setitem(sys.modules, module, types.ModuleType(module))
    assert video_mod.use_headless_gl() is None
    assert "MUJOCO_GL" not in os.environ and "PYOPENGL_PLATFORM" not in os.environ


def test_use_headless_gl_rejects_a_display_backend(fresh_process):
    with pytest.raises(ValueError, match="backend must be one of"):
        video_mod.use_headless_gl("glfw")


# ------------------------------------------------------------------------------------------------ writing
def test_write_mp4_round_trip(tmp_path):
    frames = _clip(10)
    out = write_video(frames, tmp_path / "sub" / "clip.mp4", fps=20)
    assert out == tmp_path / "sub" / "clip.mp4" and out.stat().st_size > 0
    back = _read_mp4(out)
    assert len(back) == 10
    assert back[0].shape == (32, 48, 3)
    assert np.abs(back[5].astype(int) - frames[5].astype(int)).mean() < 6, "decoded frame far from the input"
    assert iio2.get_reader(out, format="FFMPEG").get_meta_data()["fps"] == pytest.approx(20)
    assert _leftovers(out.parent) == []


def test_write_gif_round_trip(tmp_path):
    frames = _clip(6, 33, 41)  # gif keeps odd sizes
    out = write_video(np.stack(frames), tmp_path / "clip.gif", fps=10)
    back = iio3.imread(out, index=None)
    assert back.shape[:3] == (6, 33, 41)
    assert np.abs(back[3][..., :3].astype(int) - frames[3].astype(int)).mean() < 12
    assert iio3.immeta(out)["duration"] == pytest.approx(100, abs=10)
    assert _leftovers(tmp_path) == []


def test_mp4_odd_sizes_are_padded_to_even(tmp_path):
    frames = _clip(4, 33, 47)
    back = _read_mp4(write_video(frames, tmp_path / "odd.mp4"))
    assert len(back) == 4 and back[0].shape == (34, 48, 3)
    padded = pad_to_even(np.stack(frames))
    assert padded.shape == (4, 34, 48, 3)
    assert np.array_equal(padded[:, 33, :47], padded[:, 32, :47]), "padding replicates the edge"
    assert pad_to_even(frames[0]).shape == (34, 48, 3)
    even = np.stack(_clip(2))
    assert pad_to_even(even) is even


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken(frames, path, fps, quality):
        path.write_bytes(b"half a video")
        raise RuntimeError("encoder died")

    monkeypatch.setattr(video_mod, "_write_mp4", broken)
    (tmp_path / "clip.mp4").write_bytes(b"old video")
    with pytest.raises(RuntimeError, match="encoder died"):
        write_video(_clip(2), tmp_path / "clip.mp4")
    assert (tmp_path / "clip.mp4").read_bytes() == b"old video"
    assert _leftovers(tmp_path) == []


def test_write_video_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="unsupported video suffix '.avi'"):
        write_video(_clip(2), tmp_path / "clip.avi")
    with pytest.raises(ValueError, match="fps must be a positive number, got 0"):
        write_video(_clip(2), tmp_path / "clip.mp4", fps=0)
    with pytest.raises(ValueError, match="frames is empty"):
        write_video([], tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("frames", "exc", "match"), [
    ([np.zeros((4, 4, 3), np.float32)], ValueError, r"frames\[0\]: a frame must be uint8, got dtype float32 .*255"),
    ([np.zeros((4, 4, 4), np.uint8)], ValueError, r"shape \(H, W, 3\), got \(4, 4, 4\).*alpha"),
    ([np.zeros((4, 4), np.uint8)], ValueError, r"got \(4, 4\)"),
    ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)], ValueError,
     r"frames\[1\] has size 6x4 \(WxH\) but frames\[0\] has 4x4"),
    ([np.zeros((4, 4, 3), np.uint8), [[0]]], TypeError, r"frames\[1\]: a frame must be a numpy array"),
    (np.zeros((4, 4, 3), np.uint8), ValueError, r"shape \(N, H, W, 3\)"),
    ("frames.png", TypeError, "sequence of frames"),
])
def test_bad_frames_raise_clear_errors(frames, exc, match):
    with pytest.raises(exc, match=match):
        validate_frames(frames)


# ------------------------------------------------------------------------------------ labels and resizing
def test_label_frame_draws_a_box_in_the_right_place():
    frame = np.full((120, 160, 3), 200, np.uint8)
    out = label_frame(frame, "step 2 | return -12.3")
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (frame == 200).all(), "the input frame must not be modified"
    changed = np.argwhere((out != frame).any(axis=2))
    assert len(changed) > 100
    assert changed[:, 0].max() < 40 and changed[:, 1].min() < 10, "top-left label expected"
    # dark box and white text
    assert out[changed[:, 0], changed[:, 1]].min() < 100 and out.max() >= 240

    bottom = np.argwhere((label_frame(frame, "x", "bottom-right") != frame).any(axis=2))
    assert bottom[:, 0].min() > 80 and bottom[:, 1].min() > 100
    assert np.array_equal(label_frame(frame, ""), frame)
    assert not np.array_equal(label_frame(frame, "a"), label_frame(frame, "b"))


def test_label_fits_a_narrow_frame_and_rejects_bad_arguments():
    narrow = np.zeros((40, 50, 3), np.uint8)
    out = label_frame(narrow, "step 3 | return -123.4")
    assert out.shape == narrow.shape and out.any()
    with pytest.raises(ValueError, match="unknown label position 'middle'"):
        label_frame(narrow, "x", "middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="box_alpha"):
        label_frame(narrow, "x", box_alpha=2.0)
    with pytest.raises(ValueError, match="uint8"):
        label_frame(narrow.astype(np.float64), "x")


def test_resize_frame():
    frame = _clip(1, 30, 40)[0]
    small = resize_frame(frame, 20, 15)
    assert small.shape == (15, 20, 3) and small.dtype == np.uint8
    assert resize_frame(frame, 40, 30) is not frame
    with pytest.raises(ValueError, match="width must be a positive int, got 0"):
        resize_frame(frame, 0, 10)


# ------------------------------------------------------------------------------------------------- tiling
def test_tile_geometry_hold_last_frame_and_background():
    h, w, gap = 20, 30, 4
    clips = [_clip(2, h, w, 0), _clip(5, h, w, 60), _clip(3, h, w, 120)]
    tiled = tile_clips(clips, columns=2, gap=gap, background=(7, 7, 7))
    assert len(tiled) == 5, "as many frames as the longest clip"
    assert tiled[0].shape == (2 * h + gap, 2 * w + gap, 3)
    # tiles in row-major order
    assert np.array_equal(tiled[1][:h, :w], clips[0][1])
    assert np.array_equal(tiled[1][:h, w + gap:], clips[1][1])
    assert np.array_equal(tiled[1][h + gap:, :w], clips[2][1])
    # a finished clip holds its last frame
    assert np.array_equal(tiled[4][:h, :w], clips[0][-1])
    assert np.array_equal(tiled[4][h + gap:, :w], clips[2][-1])
    assert np.array_equal(tiled[4][:h, w + gap:], clips[1][4])
    # gaps and the unused cell are background
    assert (tiled[0][h: h + gap] == 7).all() and (tiled[0][h + gap:, w + gap:] == 7).all()


def test_tile_labels_change_pixels_per_tile():
    clips = [_clip(2), _clip(2)]
    plain = tile_clips(clips)
    labelled = tile_clips(clips, labels=["step 0 | return -5.0", "step 1 | return -1.0"])
    assert plain[0].shape == labelled[0].shape == (32, 2 * 48 + 4, 3)  # default columns = ceil(sqrt(2)) = 2
    left = (labelled[0][:, :48] != plain[0][:, :48]).any()
    right = (labelled[0][:, 52:] != plain[0][:, 52:]).any()
    assert left and right
    assert not np.array_equal(labelled[0][:, :48], labelled[0][:, 52:]), "different labels per tile"


def test_tile_resizes_mixed_sizes_and_validates():
    tiled = tile_clips([_clip(1, 32, 48), _clip(1, 16, 24)], columns=1, gap=0, tile_size=(24, 16))
    assert tiled[0].shape == (32, 24, 3)
    with pytest.raises(ValueError, match="labels must be a list of 2 strings"):
        tile_clips([_clip(1), _clip(1)], labels=["only one"])
    with pytest.raises(ValueError, match=r"clips\[1\] is empty"):
        tile_clips([_clip(1), []])
    with pytest.raises(ValueError, match="columns must be a positive int, got 0"):
        tile_clips([_clip(1)], columns=0)


# ----------------------------------------------------------------------------------------------- rollouts
class _LineEnv(gym.Env):
    """A 1-D walker: position += action, reward -1 per step, terminates at position >= 3.

    Renders a 12x16 frame with a white column at the walker's position.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = "rgb_array") -> None:
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.pos = 0.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = float((options or {}).get("start", 0.0))
        return np.array([self.pos], np.float32), {"start": self.pos}

    def step(self, action):
        self.pos += float(np.asarray(action).reshape(-1)[0])
        terminated = self.pos >= 3.0
        return np.array([self.pos], np.float32), -1.0, terminated, False, {"pos": self.pos}

    def render(self):
        frame = np.zeros((12, 16, 3), np.uint8)
        frame[:, int(np.clip(self.pos, 0, 15))] = 255
        return frame


def test_record_rollout_stops_at_termination():
    frames, ret, info = record_rollout(_LineEnv(), lambda obs: np.array([1.0]), max_steps=10, seed=0)
    assert len(frames) == 4, "reset frame + 3 steps"
    assert ret == -3.0
    assert info["length"] == 3 and info["terminated"] and not info["truncated"]
    assert info["rewards"] == [-1.0, -1.0, -1.0] and info["final_info"] == {"pos": 3.0}
    assert [int(np.argmax(f[0, :, 0])) for f in frames] == [0, 1, 2, 3], "frames follow the walker"


def test_record_rollout_respects_max_steps_options_and_time_limit():
    frames, ret, info = record_rollout(_LineEnv(), lambda obs: np.array([0.5]), max_steps=2, options={"start": 1.0})
    assert len(frames) == 3 and ret == -2.0 and not info["terminated"]
    env = gym.wrappers.TimeLimit(_LineEnv(), max_episode_steps=2)
    frames, _, info = record_rollout(env, lambda obs: np.array([0.1]), max_steps=10)
    assert len(frames) == 3 and info["truncated"]
    frames, ret, info = record_rollout(_LineEnv(), lambda obs: np.array([1.0]), max_steps=0)
    assert len(frames) == 1 and ret == 0.0 and info["final_info"] == {"start": 0.0}


def test_record_rollout_errors():
    with pytest.raises(ValueError, match="render_mode='rgb_array', got render_mode=None"):
        record_rollout(_LineEnv(render_mode=None), lambda obs: obs, max_steps=1)
    with pytest.raises(ValueError, match="max_steps must be an int >= 0"):
        record_rollout(_LineEnv(), lambda obs: obs, max_steps=-1)

    class BadRender(_LineEnv):
        def render(self):
            return np.zeros((4, 4, 3), np.float32)

    with pytest.raises(ValueError, match="env.render\\(\\) after reset: a frame must be uint8"):
        record_rollout(BadRender(), lambda obs: obs, max_steps=1)


def test_record_rollout_pendulum():
    pytest.importorskip("pygame", reason="Pendulum-v1 renders with pygame")
    env = gym.make("Pendulum-v1", render_mode="rgb_array")
    try:
        frames, ret, info = record_rollout(env, lambda obs: np.zeros(1, np.float32), max_steps=5, seed=0)
    finally:
        env.close()
    assert len(frames) == 6 and info["length"] == 5 and ret < 0
    assert validate_frames(frames).shape[1:] == frames[0].shape


# ------------------------------------------------------------------------------------- adaptation videos
def test_save_adaptation_videos(tmp_path):
    env = _LineEnv()
    clips, returns = [], []
    for speed in (0.25, 0.5, 1.0):  # "adapting" policies reach the goal sooner
        frames, ret, _ = record_rollout(env, lambda obs, s=speed: np.array([s]), max_steps=20)
        clips.append([resize_frame(f, 64, 48) for f in frames])
        returns.append(ret)
    paths = save_adaptation_videos(clips, returns, tmp_path / "videos", fmt="gif", fps=10)
    assert set(paths) == {"step0", "step1", "step2", "tiled"}
    assert paths["step1"].name == "step1.gif" and paths["tiled"].name == "adaptation_tiled.gif"
    # GIF merges identical consecutive frames (the slow walker's), keeping their total duration
    step0 = iio3.imread(paths["step0"], index=None)
    assert step0.shape[1:3] == (48, 64)
    assert _gif_duration_ms(paths["step0"]) == pytest.approx(100 * len(clips[0]), abs=10)
    step2 = iio3.imread(paths["step2"], index=None)
    assert step2.shape[:3] == (len(clips[2]), 48, 64), "distinct frames are all kept"
    tiled = iio3.imread(paths["tiled"], index=None)
    assert tiled.shape[1:3] == (48, 3 * 64 + 2 * 4), "one row of 3 tiles"
    assert _gif_duration_ms(paths["tiled"]) == pytest.approx(100 * max(len(c) for c in clips), abs=10)
    assert not np.array_equal(step0[0][..., :3], clips[0][0]), "single clips are labelled too"

    mp4 = save_adaptation_videos(clips[:2], returns[:2], tmp_path / "mp4", fps=10, prefix="task0_")
    assert mp4["tiled"].name == "task0_adaptation_tiled.mp4"
    assert len(_read_mp4(mp4["tiled"])) == max(len(clips[0]), len(clips[1]))


def test_save_adaptation_videos_validates(tmp_path):
    with pytest.raises(ValueError, match="got 2 clips but 1 returns"):
        save_adaptation_videos([_clip(1), _clip(1)], [0.0], tmp_path)
    with pytest.raises(ValueError, match="fmt must be 'mp4' or 'gif', got 'avi'"):
        save_adaptation_videos([_clip(1)], [0.0], tmp_path, fmt="avi")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"returns\[0\] must be a number"):
        save_adaptation_videos([_clip(1)], ["high"], tmp_path)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"clips_per_step\[0\]"):
        save_adaptation_videos([[np.zeros((4, 4), np.uint8)]], [0.0], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_caption_is_drawn_under_the_step_label(tmp_path):
    clip = [np.full((96, 160, 3), 90, np.uint8) for _ in range(2)]
    plain = save_adaptation_videos([clip], [1.0], tmp_path / "plain", fmt="gif")
    captioned = save_adaptation_videos([clip], [1.0], tmp_path / "captioned", fmt="gif", caption="goal velocity 1.27 m/s")
    a, b = iio3.imread(plain["step0"], index=0), iio3.imread(captioned["step0"], index=0)
    changed = np.argwhere(np.any(a != b, axis=-1))
    assert changed.size, "the caption changes the frame"
    assert changed[:, 0].max() > 20, "a second text line, below the first"
    with pytest.raises(ValueError, match="caption must be one line"):
        save_adaptation_videos([clip], [1.0], tmp_path / "bad", caption="two\nlines")


def test_tasks_describe_themselves_for_captions():
    from envs.base import describe_task
    from envs.mujoco_batch import DirectionTask, VelocityTask
    from envs.nav2d import GoalTask

    assert describe_task(VelocityTask(1.2739)) == "goal velocity 1.27 m/s"
    assert describe_task(DirectionTask(-1)) == "run backward (-x)"
    assert describe_task(DirectionTask(1)) == "run forward (+x)"
    assert describe_task(GoalTask((0.123, -0.3))) == "goal (0.12, -0.30)"

    class Custom:  # a user's task without describe(): its repr, shortened
        def __repr__(self) -> str:
            return "Custom(" + "x" * 80 + ")"

    text = describe_task(Custom(), max_chars=20)
    assert text == "Custom(xxxxxxxxxx..." and len(text) == 20
