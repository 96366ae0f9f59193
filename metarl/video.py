"""Videos of rollouts and of adaptation: record, label, tile and write mp4 / gif.

A frame is an ``H x W x 3`` ``uint8`` RGB array, as Gymnasium's ``render_mode="rgb_array"`` returns.

* :func:`record_rollout` plays one episode of a policy in an ``rgb_array`` env and returns its frames.
* :func:`label_frame` draws text in a dark box (e.g. ``"step 2 | return -12.3"``); :func:`resize_frame` resizes.
* :func:`tile_clips` puts several clips side by side in a grid, each tile labelled; a clip that ends early
  holds its last frame.
* :func:`write_video` writes ``.mp4`` (H.264 through imageio-ffmpeg; odd frame sizes are padded to even, as
  yuv420p needs) or ``.gif`` (Pillow), chosen by the file suffix. Writes are atomic (temp file + rename).
* :func:`save_adaptation_videos` writes one clip per adaptation step for the same task (``step0`` is the
  pre-update policy) plus ``adaptation_tiled`` with all steps side by side, so a viewer sees adaptation happen
  (MAML paper, Figs. 4-5 show the same in plots).

MuJoCo envs render headless (no display) through EGL: run with ``MUJOCO_GL=egl`` (the Makefile exports it), or
call :func:`use_headless_gl` before the first MuJoCo env is made. Importing metarl sets nothing.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from metarl.atomic import atomic_path

__all__ = [
    "Frame",
    "LabelPosition",
    "label_frame",
    "pad_to_even",
    "record_rollout",
    "resize_frame",
    "save_adaptation_videos",
    "tile_clips",
    "use_headless_gl",
    "validate_frames",
    "write_video",
]

#: An ``H x W x 3`` uint8 RGB image.
Frame = npt.NDArray[np.uint8]
#: Where :func:`label_frame` puts its text: a named corner/edge or the ``(x, y)`` of the box's top-left corner.
LabelPosition = (
    Literal["top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "center"] | tuple[int, int]
)
VIDEO_SUFFIXES = (".mp4", ".gif")

PathLike = str | os.PathLike[str]
#: MuJoCo's OpenGL backends that need no display
HEADLESS_BACKENDS = ("egl", "osmesa")


# ------------------------------------------------------------------------------------------- rendering setup
def use_headless_gl(backend: str = "egl") -> str | None:
    """Make MuJoCo render without a display in this process, unless the user chose a backend already.

    MuJoCo reads ``MUJOCO_GL`` when it is first imported (Gymnasium's MuJoCo renderer again when it is
    created) and PyOpenGL reads ``PYOPENGL_PLATFORM`` when it is first imported, so call this before the first
    MuJoCo env is made with ``render_mode="rgb_array"``. It sets ``MUJOCO_GL`` (and ``PYOPENGL_PLATFORM``, if
    unset) to ``backend`` only when ``MUJOCO_GL`` is unset and neither ``mujoco`` nor ``OpenGL`` is imported yet;
    a value the user set is never changed.

    :param backend: ``"egl"`` (GPU or Mesa's software EGL) or ``"osmesa"``.
    :return: the ``MUJOCO_GL`` in effect afterwards; ``None`` when it is unset because MuJoCo was imported
        before (MuJoCo then tries glfw, egl and osmesa in turn).
    :raises ValueError: on another backend.
    """
    if backend not in HEADLESS_BACKENDS:
        raise ValueError(f"backend must be one of {HEADLESS_BACKENDS}, got {backend!r}")
    if "MUJOCO_GL" not in os.environ and "mujoco" not in sys.modules and "OpenGL" not in sys.modules:
        os.environ["MUJOCO_GL"] = backend
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return os.environ.get("MUJOCO_GL")


# ------------------------------------------------------------------------------------------ validation
def _check_frame(frame: Any, where: str) -> Frame:
    """Return ``frame`` if it is an HxWx3 uint8 array with H, W >= 1, else raise naming ``where``."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{where}: a frame must be a numpy array (H x W x 3 uint8), got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        hint = " (drop the alpha channel with frame[..., :3])" if frame.ndim == 3 and frame.shape[2] == 4 else ""
        raise ValueError(f"{where}: a frame must have shape (H, W, 3), got {frame.shape}{hint}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{where}: frame has an empty dimension, shape {frame.shape}")
    if frame.dtype != np.uint8:
        hint = " (convert floats in [0, 1] with (frame * 255).round().astype(np.uint8))" if frame.dtype.kind == "f" else ""
        raise ValueError(f"{where}: a frame must be uint8, got dtype {frame.dtype}{hint}")
    return frame


def validate_frames(
    frames: Sequence[Frame] | npt.NDArray[np.uint8], name: str = "frames"
) -> Sequence[Frame]:
    """Check a clip: non-empty, every frame HxWx3 uint8, all of one size.

    :param frames: a non-empty sequence of HxWx3 uint8 frames of one size, or an ``[N, H, W, 3]`` uint8 array.
    :param name: used in error messages.
    :return: the frames without copying them (a list, or the array itself); ``len()`` and indexing work on both.
    :raises TypeError / ValueError: naming the first bad frame (index, shape, dtype) or size mismatch.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"{name}: an array of frames must have shape (N, H, W, 3), got {frames.shape}")
        if frames.shape[0] == 0:
            raise ValueError(f"{name} is empty; need at least one frame")
        _check_frame(frames[0], f"{name}[0]")
        return frames
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Sequence):
        raise TypeError(f"{name} must be a sequence of frames or an (N, H, W, 3) array, got {type(frames).__name__}")
    if len(frames) == 0:
        raise ValueError(f"{name} is empty; need at least one frame")
    first = _check_frame(frames[0], f"{name}[0]")
    for i, frame in enumerate(frames[1:], start=1):
        _check_frame(frame, f"{name}[{i}]")
        if frame.shape != first.shape:
            raise ValueError(
                f"{name}[{i}] has size {frame.shape[1]}x{frame.shape[0]} (WxH) but {name}[0] has "
                f"{first.shape[1]}x{first.shape[0]}; all frames of a clip must have one size (see resize_frame)"
            )
    return list(frames)


def pad_to_even(frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Pad one ``H x W x 3`` frame or an ``[N, H, W, 3]`` array by one edge-replicated row/column where H or W
    is odd (H.264 yuv420p needs even sizes). Returns the input unchanged if both are even."""
    pad_h, pad_w = frames.shape[-3] % 2, frames.shape[-2] % 2
    if not pad_h and not pad_w:
        return frames
    widths = [(0, 0)] * (frames.ndim - 3) + [(0, pad_h), (0, pad_w), (0, 0)]
    return np.pad(frames, widths, mode="edge")


# ---------------------------------------------------------------------------------------------- writing
def write_video(
    frames: Sequence[Frame] | npt.NDArray[np.uint8],
    path: PathLike,
    fps: float = 30,
    *,
    quality: float = 8.0,
) -> Path:
    """Write a clip to ``path``; the suffix chooses the format: ``.mp4`` or ``.gif``.

    mp4: H.264 (libx264, yuv420p) through imageio-ffmpeg, odd heights/widths padded by one edge row/column.
    gif: Pillow, looping forever; GIF stores frame durations in 10 ms units, so the fps is approximate, and
    Pillow merges identical consecutive frames into one longer frame (timing is kept; a reader sees fewer frames).
    The file is written to a temp file in the same directory and renamed into place, so ``path`` never holds
    a partial video. Parent directories are created.

    :param frames: a non-empty sequence of same-size HxWx3 uint8 frames, or an ``[N, H, W, 3]`` array.
    :param path: output file ending in ``.mp4`` or ``.gif``.
    :param fps: frames per second, > 0.
    :param quality: mp4 quality on imageio's 0-10 scale (10 = best); ignored for gif.
    :return: ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video suffix {path.suffix!r} in {path}; use one of {VIDEO_SUFFIXES}")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not 0 <= quality <= 10:
        raise ValueError(f"quality must be in [0, 10], got {quality!r}")
    arr = validate_frames(frames)
    with atomic_path(path, suffix=f".partial{suffix}") as tmp:
        if suffix == ".mp4":
            _write_mp4(arr, tmp, float(fps), float(quality))
        else:
            _write_gif(arr, tmp, float(fps))
    return path


def _write_mp4(frames: Sequence[Frame], path: Path, fps: float, quality: float) -> None:
    import imageio.v2 as iio

    writer = iio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        quality=quality,
        macro_block_size=1,  # frames are padded to even sizes; stop imageio resizing to multiples of 16
        ffmpeg_log_level="error",
    )
    try:
        for frame in frames:  # frame by frame: long clips are never copied as a whole
            writer.append_data(pad_to_even(frame))
    finally:
        writer.close()


def _write_gif(frames: Sequence[Frame], path: Path, fps: float) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, frames, extension=".gif", duration=1000.0 / fps, loop=0)


# ---------------------------------------------------------------------------------------------- labels
@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled default font (scalable when Pillow has FreeType, a fixed bitmap font otherwise)
    return ImageFont.load_default(size=size)


def _default_font_size(height: int) -> int:
    return int(min(32, max(10, round(height / 18))))


@lru_cache(maxsize=256)
def _render_label(
    text: str,
    font_size: int,
    text_color: tuple[int, int, int],
    box_color: tuple[int, int, int],
    box_alpha: float,
    max_width: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The label as (rgb float32 [h, w, 3], alpha float32 [h, w, 1]); the font shrinks to fit ``max_width``."""
    size = font_size
    while True:
        font = _font(size)
        probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
        left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font)
        pad = max(2, size // 4)
        width, height = right - left + 2 * pad, bottom - top + 2 * pad
        if width <= max_width or size <= 6:
            break
        size -= 1
    patch = Image.new("RGBA", (width, height), (*box_color, round(255 * box_alpha)))
    ImageDraw.Draw(patch).multiline_text((pad - left, pad - top), text, font=font, fill=(*text_color, 255))
    rgba = np.asarray(patch, dtype=np.float32)
    return rgba[..., :3], rgba[..., 3:] / 255.0


def _label_origin(position: LabelPosition, frame_hw: tuple[int, int], box_hw: tuple[int, int]) -> tuple[int, int]:
    (fh, fw), (bh, bw) = frame_hw, box_hw
    margin = max(2, min(fh, fw) // 60)
    if isinstance(position, tuple):
        if len(position) != 2 or not all(isinstance(v, numbers.Integral) for v in position):
            raise ValueError(f"position must be a named position or an (x, y) pair of ints, got {position!r}")
        return int(position[0]), int(position[1])
    xs = {"left": margin, "right": fw - bw - margin, "center": (fw - bw) // 2}
    ys = {"top": margin, "bottom": fh - bh - margin, "center": (fh - bh) // 2}
    named = {
        "top-left": ("left", "top"), "top-right": ("right", "top"),
        "bottom-left": ("left", "bottom"), "bottom-right": ("right", "bottom"),
        "top": ("center", "top"), "bottom": ("center", "bottom"), "center": ("center", "center"),
    }
    if position not in named:
        raise ValueError(f"unknown label position {position!r}; use one of {sorted(named)} or an (x, y) pair")
    hx, vy = named[position]
    return xs[hx], ys[vy]


def _paste_label(frame: Frame, rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> Frame:
    """Alpha-blend the label patch onto a copy of ``frame`` at (x, y), clipped to the frame."""
    out = frame.copy()
    fh, fw = frame.shape[:2]
    ph, pw = alpha.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, fw), min(y + ph, fh)
    if x0 >= x1 or y0 >= y1:
        return out
    sub_rgb = rgb[y0 - y: y1 - y, x0 - x: x1 - x]
    sub_a = alpha[y0 - y: y1 - y, x0 - x: x1 - x]
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(sub_a * sub_rgb + (1.0 - sub_a) * region + 0.5, 0, 255).astype(np.uint8)
    return out


def _labeller(
    text: str,
    frame_hw: tuple[int, int],
    position: LabelPosition,
    font_size: int | None,
    text_color: tuple[int, int, int],
    box_color: tuple[int, int, int],
    box_alpha: float,
) -> Callable[[Frame], Frame]:
    if not isinstance(text, str):
        raise TypeError(f"label text must be a str, got {type(text).__name__}")
    if not 0.0 <= box_alpha <= 1.0:
        raise ValueError(f"box_alpha must be in [0, 1], got {box_alpha!r}")
    if font_size is not None and (isinstance(font_size, bool) or not isinstance(font_size, int) or font_size < 1):
        raise ValueError(f"font_size must be a positive int or None, got {font_size!r}")
    size = font_size if font_size is not None else _default_font_size(frame_hw[0])
    if text == "":
        return lambda frame: frame.copy()
    margin = max(2, min(frame_hw) // 60)
    rgb, alpha = _render_label(text, size, tuple(text_color), tuple(box_color), float(box_alpha),
                               max(1, frame_hw[1] - 2 * margin))
    x, y = _label_origin(position, frame_hw, alpha.shape[:2])
    return lambda frame: _paste_label(frame, rgb, alpha, x, y)


def label_frame(
    frame: Frame,
    text: str,
    position: LabelPosition = "top-left",
    *,
    font_size: int | None = None,
    text_color: tuple[int, int, int] = (255, 255, 255),
    box_color: tuple[int, int, int] = (0, 0, 0),
    box_alpha: float = 0.65,
) -> Frame:
    """Return a copy of ``frame`` with ``text`` (may span lines) drawn in white on a dark translucent box.

    Uses Pillow's bundled default font. The font size defaults to about 1/18 of the frame height
    (10-32 px) and shrinks if the text would be wider than the frame.

    :param frame: HxWx3 uint8.
    :param text: the label, e.g. ``"step 2 | return -12.3"``; ``""`` returns an unlabelled copy.
    :param position: ``"top-left"`` (default), ``"top-right"``, ``"bottom-left"``, ``"bottom-right"``,
        ``"top"``, ``"bottom"``, ``"center"``, or ``(x, y)`` of the box's top-left corner.
    :param box_alpha: opacity of the box, 0 (none) to 1 (opaque).
    """
    _check_frame(frame, "frame")
    return _labeller(text, frame.shape[:2], position, font_size, text_color, box_color, box_alpha)(frame)


def resize_frame(frame: Frame, width: int, height: int) -> Frame:
    """Resize an HxWx3 uint8 frame to ``height x width`` (bilinear; antialiased when shrinking)."""
    _check_frame(frame, "frame")
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if frame.shape[0] == height and frame.shape[1] == width:
        return frame.copy()
    image = Image.fromarray(np.ascontiguousarray(frame))
    return np.asarray(image.resize((int(width), int(height)), Image.Resampling.BILINEAR, reducing_gap=None)).copy()


# ----------------------------------------------------------------------------------------------- tiling
def tile_clips(
    clips: Sequence[Sequence[Frame] | npt.NDArray[np.uint8]],
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    *,
    tile_size: tuple[int, int] | None = None,
    gap: int = 4,
    background: tuple[int, int, int] = (0, 0, 0),
    label_position: LabelPosition = "top-left",
    font_size: int | None = None,
) -> list[Frame]:
    """Lay several clips out in a grid, frame by frame.

    The output has as many frames as the longest clip; a shorter clip holds its last frame. Tiles are
    filled row by row; unused grid cells are ``background``.

    :param clips: one or more non-empty clips (sequences of HxWx3 uint8 frames).
    :param labels: one label per clip (drawn on every frame of its tile), or ``None``.
    :param columns: grid columns; default ``ceil(sqrt(len(clips)))``; capped at ``len(clips)``.
    :param tile_size: ``(width, height)`` of each tile; default the first clip's frame size. Clips of another
        size are resized.
    :param gap: pixels of ``background`` between tiles.
    :return: the tiled frames, each ``rows*h + (rows-1)*gap`` high and ``cols*w + (cols-1)*gap`` wide.
    """
    if isinstance(clips, np.ndarray) or not isinstance(clips, Sequence) or len(clips) == 0:
        raise ValueError("clips must be a non-empty list of clips")
    arrays: list[Sequence[Frame]] = [validate_frames(clip, name=f"clips[{i}]") for i, clip in enumerate(clips)]
    n = len(arrays)
    if labels is not None:
        if isinstance(labels, str) or len(labels) != n:
            raise ValueError(f"labels must be a list of {n} strings (one per clip), got {labels!r}")
    if columns is None:
        columns = math.ceil(math.sqrt(n))
    if isinstance(columns, bool) or not isinstance(columns, numbers.Integral) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    if isinstance(gap, bool) or not isinstance(gap, numbers.Integral) or gap < 0:
        raise ValueError(f"gap must be an int >= 0, got {gap!r}")
    cols = min(int(columns), n)
    rows = math.ceil(n / cols)
    if tile_size is None:
        tile_h, tile_w = arrays[0][0].shape[:2]
    else:
        if len(tile_size) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
                                      for v in tile_size):
            raise ValueError(f"tile_size must be a (width, height) pair of positive ints, got {tile_size!r}")
        tile_w, tile_h = int(tile_size[0]), int(tile_size[1])
    for i, arr in enumerate(arrays):
        if arr[0].shape[:2] != (tile_h, tile_w):
            arrays[i] = [resize_frame(f, tile_w, tile_h) for f in arr]
    labellers = None
    if labels is not None:
        labellers = [
            _labeller(text, (tile_h, tile_w), label_position, font_size, (255, 255, 255), (0, 0, 0), 0.65)
            for text in labels
        ]

    out_h, out_w = rows * tile_h + (rows - 1) * gap, cols * tile_w + (cols - 1) * gap
    canvas = np.empty((out_h, out_w, 3), dtype=np.uint8)
    canvas[...] = np.asarray(background, dtype=np.uint8)
    length = max(len(arr) for arr in arrays)
    # a finished clip holds its last frame, so its labelled tile is computed once and reused
    cache: dict[tuple[int, int], Frame] = {}
    frames: list[Frame] = []
    for t in range(length):
        out = canvas.copy()
        for i, arr in enumerate(arrays):
            k = min(t, len(arr) - 1)
            tile = cache.get((i, k))
            if tile is None:
                tile = labellers[i](arr[k]) if labellers is not None else arr[k]
                if k == len(arr) - 1:
                    cache[(i, k)] = tile
            r, c = divmod(i, cols)
            y, x = r * (tile_h + gap), c * (tile_w + gap)
            out[y: y + tile_h, x: x + tile_w] = tile
        frames.append(out)
    return frames


# ---------------------------------------------------------------------------------------------- rollouts
def record_rollout(
    env: Any,
    act_fn: Callable[[np.ndarray], Any],
    max_steps: int,
    seed: int | None = None,
    *,
    options: dict[str, Any] | None = None,
) -> tuple[list[Frame], float, dict[str, Any]]:
    """Play one episode in a Gymnasium env made with ``render_mode="rgb_array"`` and keep its frames.

    :param env: a ``gymnasium.Env`` (possibly wrapped) whose ``render()`` returns HxWx3 uint8 frames.
    :param act_fn: maps an observation to an action (e.g. the policy's mean for a deterministic video).
    :param max_steps: at most this many steps (>= 0); the episode also stops at terminated/truncated.
    :param seed: passed to ``env.reset(seed=...)``.
    :param options: passed to ``env.reset(options=...)`` (e.g. ``{"task": task}`` for the metarl envs).
    :return: ``(frames, episode_return, info)``: frames include the reset frame (``length + 1`` frames);
        ``info`` has ``length``, ``terminated``, ``truncated``, ``rewards`` (per step) and ``final_info``
        (the last ``info`` from ``step``, or ``reset``'s when no step was taken).
    :raises ValueError: if the env's render mode is not ``rgb_array`` or it renders something else than a frame.
    """
    render_mode = getattr(env, "render_mode", None)
    if render_mode != "rgb_array":
        raise ValueError(f"record_rollout needs an env made with render_mode='rgb_array', got render_mode={render_mode!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 0:
        raise ValueError(f"max_steps must be an int >= 0, got {max_steps!r}")

    def render(where: str) -> Frame:
        frame = env.render()
        if frame is None:
            raise ValueError(f"env.render() returned None {where}; was the env made with render_mode='rgb_array'?")
        return _check_frame(np.asarray(frame), f"env.render() {where}")

    obs, last_info = env.reset(seed=seed, options=options)
    frames = [render("after reset")]
    rewards: list[float] = []
    terminated = truncated = False
    for t in range(int(max_steps)):
        obs, reward, terminated, truncated, last_info = env.step(act_fn(obs))
        rewards.append(float(reward))
        frames.append(render(f"after step {t + 1}"))
        if terminated or truncated:
            break
    info = {
        "length": len(rewards),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "rewards": rewards,
        "final_info": last_info,
    }
    return frames, float(sum(rewards)), info


def save_adaptation_videos(
    clips_per_step: Sequence[Sequence[Frame] | npt.NDArray[np.uint8]],
    returns: Sequence[float],
    out_dir: PathLike,
    fmt: Literal["mp4", "gif"] = "mp4",
    fps: float = 30,
    *,
    columns: int | None = None,
    tile_size: tuple[int, int] | None = None,
    prefix: str = "",
    caption: str | None = None,
) -> dict[str, Path]:
    """Write one clip per adaptation step and a tiled clip of all steps, each labelled ``step k | return R``
    (and ``caption`` on a second line, e.g. the task: ``"goal velocity 1.27 m/s"``).

    ``clips_per_step[k]`` is a rollout of the policy after ``k`` inner gradient steps on one task (``k = 0`` is
    the pre-update policy) and ``returns[k]`` its return.

    :param out_dir: directory for ``{prefix}step{k}.{fmt}`` and ``{prefix}adaptation_tiled.{fmt}`` (created).
    :param fmt: ``"mp4"`` or ``"gif"``.
    :param columns: grid columns of the tiled clip; default all steps in one row (up to 4 steps), else a
        near-square grid.
    :param tile_size: ``(width, height)`` of each tile in the tiled clip (default: the frame size).
    :param caption: a second label line, the same on every clip (one line of text).
    :return: ``{"step0": path, "step1": path, ..., "tiled": path}``.
    """
    if fmt not in ("mp4", "gif"):
        raise ValueError(f"fmt must be 'mp4' or 'gif', got {fmt!r}")
    if isinstance(clips_per_step, np.ndarray) or not isinstance(clips_per_step, Sequence) or not clips_per_step:
        raise ValueError("clips_per_step must be a non-empty list with one clip per adaptation step")
    if caption is not None and (not isinstance(caption, str) or "\n" in caption):
        raise ValueError(f"caption must be one line of text, got {caption!r}")
    if len(returns) != len(clips_per_step):
        raise ValueError(f"got {len(clips_per_step)} clips but {len(returns)} returns; need one return per clip")
    labels = []
    for k, ret in enumerate(returns):
        if isinstance(ret, bool) or not isinstance(ret, numbers.Real):
            raise TypeError(f"returns[{k}] must be a number, got {type(ret).__name__} {ret!r}")
        labels.append(f"step {k} | return {float(ret):.1f}" + (f"\n{caption}" if caption else ""))
    out = Path(out_dir)
    n = len(clips_per_step)
    arrays = [validate_frames(clip, name=f"clips_per_step[{k}]") for k, clip in enumerate(clips_per_step)]
    paths: dict[str, Path] = {}
    for k, (arr, label) in enumerate(zip(arrays, labels)):
        stamp = _labeller(label, arr[0].shape[:2], "top-left", None, (255, 255, 255), (0, 0, 0), 0.65)
        paths[f"step{k}"] = write_video([stamp(f) for f in arr], out / f"{prefix}step{k}.{fmt}", fps)
    if columns is None:
        columns = n if n <= 4 else math.ceil(math.sqrt(n))
    tiled = tile_clips(arrays, labels, columns, tile_size=tile_size)
    paths["tiled"] = write_video(tiled, out / f"{prefix}adaptation_tiled.{fmt}", fps)
    return paths
