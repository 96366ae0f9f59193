"""Glyphs: an offline, Omniglot-style few-shot benchmark rendered from the DejaVu fonts inside matplotlib.

Omniglot (Lake et al. 2011; MAML section 5.2) has 1,623 characters, each drawn once by 20 different people.
Glyphs mimics that structure with nothing to download: every *class* is a Unicode code point present in all
twelve DejaVu faces that ship in the matplotlib wheel (Sans, Serif and Sans Mono, each regular, bold,
oblique/italic and bold-oblique/bold-italic), and every face is one "drawer".  Each instance is the glyph
rendered by one face at 28x28 grayscale (ink bright on black, like the MAML Omniglot pipeline) with its own
random affine distortion — rotation, shear, scale and translation — so that classes are not solved by pixel
matching.  With the default strengths the pixel-space 1-nearest-neighbour baseline
(:func:`metarl.supervised.data.nearest_neighbour_accuracy`) reaches only ~46% on held-out classes, 5-way
1-shot (:class:`GlyphsConfig`), which leaves room for meta-learning, like Omniglot.

Classes are filtered so that a task's classes are genuinely different characters:

1. categories: letters, digits/numbers, punctuation and symbols only (no spaces, format characters or
   combining marks), minus the box-drawing and block-element ranges (U+2500-U+259F), which are cell-filling
   line art rather than characters;
2. variants: code points that reduce to the same base string under NFKD normalisation with combining marks
   removed (accented Latin/Greek/Cyrillic letters, superscripts, ligature forms), or letters whose Unicode
   name is ``<another letter> WITH <stroke, hook, ...>``, keep only the first (lowest) code point of their group,
   usually the plain letter itself;
3. empty glyphs: a glyph whose undistorted rendering has less than ``min_ink`` pixels of ink in some face;
4. look-alikes: a glyph whose undistorted renderings in the twelve faces are within ``duplicate_distance``
   (normalised pixel distance) of an already kept class, e.g. Latin ``A`` / Greek ``Α`` / Cyrillic ``А``.

The rendered array is cached on disk (:func:`default_cache_dir`, e.g. ``~/.cache/metarl/``) under a key that
hashes the format version, every :class:`GlyphsConfig` field, the twelve font files' contents and the Pillow
and FreeType versions, so a change to any of them renders afresh; files are written atomically.

>>> data = load_glyphs()                                        # doctest: +SKIP
>>> splits = glyphs_splits(data)                                # {"train", "val", "test"}  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metarl.atomic import atomic_write
from metarl.progress import progress
from metarl.supervised.data import ClassDataset

__all__ = [
    "GLYPHS_FACES",
    "GLYPHS_FORMAT_VERSION",
    "GLYPHS_SPLIT_SEED",
    "GLYPHS_SPLIT_SIZES",
    "GlyphsConfig",
    "cache_key",
    "candidate_code_points",
    "common_code_points",
    "default_cache_dir",
    "font_paths",
    "glyphs_splits",
    "load_glyphs",
    "render_glyphs",
]

#: Bump when the rendering pipeline changes in a way the config does not capture (invalidates caches).
GLYPHS_FORMAT_VERSION = 1

#: The twelve DejaVu faces ("drawers") in instance order: 3 families x (regular, bold, oblique, bold oblique).
GLYPHS_FACES: tuple[str, ...] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
)

#: Default split of the classes (:meth:`ClassDataset.split` sizes): 70% train, 10% validation, the rest test.
GLYPHS_SPLIT_SIZES: dict[str, float | None] = {"train": 0.7, "val": 0.1, "test": None}
#: Seed of the default class split.
GLYPHS_SPLIT_SEED = 0

#: Unicode ranges left out: box drawing and block elements (U+2500-U+259F).
_EXCLUDED_RANGES: tuple[tuple[int, int], ...] = ((0x2500, 0x259F),)
#: Unicode general-category initials kept: letters, marks excluded, numbers, punctuation, symbols.
_KEPT_CATEGORIES = frozenset("LNPS")


@dataclass(frozen=True)
class GlyphsConfig:
    """How Glyphs is rendered.  Every field is part of the cache key.

    The distortion defaults were calibrated so that pixel 1-NN on the held-out (test) classes is far from
    solved: measured 46.2% ± 0.5 for 5-way 1-shot and 68.0% ± 0.5 for 5-way 5-shot (2,000 tasks, 5 queries
    per class); without distortion it would be 89% / 99%.  The default set has 952 classes.
    """

    image_size: int = 28
    """side of the square output images in pixels (MAML downsamples Omniglot to 28x28)"""
    supersample: int = 4
    """glyphs are drawn and distorted at ``supersample`` times the resolution, then box-averaged down"""
    em_px: float = 24.0
    """font size (em) in output pixels; capitals are about 0.73 em tall"""
    fit_px: float = 20.0
    """an undistorted glyph larger than this box (output pixels) is scaled down to fit, keeping its aspect"""
    copies_per_face: int = 1
    """distorted instances per face: each class has ``12 * copies_per_face`` instances"""
    rotation_deg: float = 20.0
    """rotation ~ U[-rotation_deg, rotation_deg] degrees"""
    shear_deg: float = 20.0
    """horizontal shear angle ~ U[-shear_deg, shear_deg] degrees"""
    scale_range: tuple[float, float] = (0.8, 1.2)
    """isotropic scale factor ~ U[low, high]"""
    translation_px: float = 2.0
    """translation ~ U[-translation_px, translation_px] output pixels along each axis"""
    min_ink: float = 4.0
    """classes whose undistorted glyph has less ink than this (in fully-lit pixels) in some face are dropped"""
    duplicate_distance: float = 0.3
    """a class within this normalised distance of a kept class is a look-alike and dropped (see
    :func:`render_glyphs`)"""
    seed: int = 0
    """seed of the per-instance distortions (each class has its own stream, keyed by its code point)"""
    max_classes: int | None = None
    """keep at most this many classes (the first in code-point order); ``None`` keeps all"""
    code_points: tuple[int, ...] | None = None
    """restrict the candidates to these code points (still filtered); ``None`` = all common code points"""

    def __post_init__(self) -> None:
        def positive(name: str, integer: bool = False) -> None:
            value = getattr(self, name)
            kind = numbers.Integral if integer else numbers.Real
            if (
                isinstance(value, bool)
                or not isinstance(value, kind)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(
                    f"GlyphsConfig.{name} must be a {'positive integer' if integer else 'number > 0'}; got {value!r}"
                )

        def non_negative(name: str) -> None:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"GlyphsConfig.{name} must be a finite number >= 0; got {value!r}")

        for name in ("image_size", "supersample", "copies_per_face"):
            positive(name, integer=True)
        for name in ("em_px", "fit_px"):
            positive(name)
        for name in ("rotation_deg", "shear_deg", "translation_px", "min_ink", "duplicate_distance", "seed"):
            non_negative(name)
        if self.shear_deg >= 60:
            raise ValueError(f"GlyphsConfig.shear_deg must be < 60 degrees; got {self.shear_deg}")
        if self.fit_px > self.image_size:
            raise ValueError(f"GlyphsConfig.fit_px={self.fit_px} exceeds image_size={self.image_size}")
        lo, hi = (float(v) for v in self.scale_range)
        if not (0 < lo <= hi and math.isfinite(hi)):
            raise ValueError(
                f"GlyphsConfig.scale_range must satisfy 0 < low <= high; got {self.scale_range!r}"
            )
        object.__setattr__(self, "scale_range", (lo, hi))
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"GlyphsConfig.seed must be an int; got {self.seed!r}")
        if self.max_classes is not None:
            positive("max_classes", integer=True)
        if self.code_points is not None:
            cps = tuple(int(c) for c in self.code_points)
            if not cps:
                raise ValueError("GlyphsConfig.code_points is empty; use None for all code points")
            bad = [c for c in cps if not 0 <= c <= 0x10FFFF]
            if bad:
                raise ValueError(f"GlyphsConfig.code_points holds invalid code points: {bad[:5]}")
            object.__setattr__(self, "code_points", cps)

    @property
    def instances_per_class(self) -> int:
        """``len(GLYPHS_FACES) * copies_per_face``."""
        return len(GLYPHS_FACES) * self.copies_per_face


# ====================================================================== fonts and code points
def _default_font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def font_paths(font_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Paths of the twelve faces of :data:`GLYPHS_FACES` (default: matplotlib's bundled font directory).

    :raises FileNotFoundError: naming the missing face files.
    """
    directory = _default_font_dir() if font_dir is None else Path(font_dir)
    paths = [directory / face for face in GLYPHS_FACES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Glyphs needs the DejaVu faces {missing} in {directory} (shipped with matplotlib)"
        )
    return paths


def common_code_points(paths: Sequence[Path]) -> list[int]:
    """Sorted code points that every font in ``paths`` maps to a glyph (from the fonts' cmap tables)."""
    from fontTools.ttLib import TTFont

    common: set[int] | None = None
    for path in paths:
        font = TTFont(str(path), lazy=True)
        try:
            cmap = set(font.getBestCmap())
        finally:
            font.close()
        common = cmap if common is None else common & cmap
    return sorted(common or ())


def _strip_marks(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M")) or ch


def _base_key(ch: str) -> str:
    """The character's 'base letter' for variant grouping.

    Its NFKD form without combining marks (``é -> e``, ``² -> 2``, ``ﬃ -> ffi``); for letters that Unicode
    does not decompose but names as a variant of another letter (``ŧ`` LATIN SMALL LETTER T WITH STROKE,
    ``ɓ`` ... B WITH HOOK), the base of the named letter (``t``, ``b``).  Symbols are left alone (``↩``
    LEFTWARDS ARROW WITH HOOK is not a variant of ``←``).
    """
    name = unicodedata.name(ch, "")
    if " WITH " in name and unicodedata.category(ch).startswith("L"):
        try:
            return _strip_marks(unicodedata.lookup(name.split(" WITH ", 1)[0]))
        except KeyError:
            pass
    return _strip_marks(ch)


def candidate_code_points(code_points: Iterable[int]) -> list[int]:
    """Filter steps 1-2 of the module docstring: keep letters, numbers, punctuation and symbols outside the
    excluded ranges, and one code point (the lowest) per NFKD base string."""
    seen: set[str] = set()
    out: list[int] = []
    for cp in sorted(set(code_points)):
        ch = chr(cp)
        if unicodedata.category(ch)[0] not in _KEPT_CATEGORIES:
            continue
        if any(lo <= cp <= hi for lo, hi in _EXCLUDED_RANGES):
            continue
        key = _base_key(ch)
        if key.strip() == "" or key in seen:
            continue
        seen.add(key)
        out.append(cp)
    return out


# ====================================================================== rendering
class _Renderer:
    """Draws one code point in one face, optionally under an affine distortion (all in supersampled pixels)."""

    def __init__(self, paths: Sequence[Path], config: GlyphsConfig) -> None:
        from PIL import ImageFont

        self.config = config
        self.ss = config.supersample
        self.canvas = config.image_size * self.ss
        size = max(1, round(config.em_px * self.ss))
        self.fonts = [
            ImageFont.truetype(str(p), size=size, layout_engine=ImageFont.Layout.BASIC) for p in paths
        ]

    def master(self, face: int, ch: str):  # -> PIL.Image.Image | None
        """The glyph's ink, cropped to its bounding box and scaled down to ``fit_px`` if larger; None if empty."""
        from PIL import Image, ImageDraw

        font = self.fonts[face]
        left, top, right, bottom = font.getbbox(ch, anchor="ls")
        if right <= left or bottom <= top:
            return None
        pad = 2
        img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
        ImageDraw.Draw(img).text((pad - left, pad - top), ch, font=font, fill=255, anchor="ls")
        box = img.getbbox()
        if box is None:
            return None
        img = img.crop(box)
        fit = self.config.fit_px * self.ss
        w, h = img.size
        if max(w, h) > fit:
            factor = fit / max(w, h)
            img = img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS)
        return img

    def place(self, master, affine: np.ndarray | None) -> np.ndarray:  # master: PIL.Image.Image
        """Centre ``master`` on the canvas, apply ``affine`` (2x3, output = A @ [x, y, 1] about the centre,
        in supersampled pixels), and box-average down to ``image_size``; uint8 ``[S, S]``."""
        from PIL import Image

        canvas = Image.new("L", (self.canvas, self.canvas), 0)
        w, h = master.size
        canvas.paste(master, ((self.canvas - w) // 2, (self.canvas - h) // 2))
        if affine is not None:
            c = self.canvas / 2.0
            lin = affine[:, :2]
            shift = affine[:, 2]
            inv = np.linalg.inv(lin)
            # PIL maps each OUTPUT pixel to the input: p_in = inv @ (p_out - c - shift) + c
            offset = np.array([c, c]) - inv @ (np.array([c, c]) + shift)
            data = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
            canvas = canvas.transform(
                canvas.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR
            )
        if self.ss > 1:
            canvas = canvas.reduce(self.ss)
        return np.asarray(canvas, dtype=np.uint8)


def _distortions(config: GlyphsConfig, cp: int, n: int) -> np.ndarray:
    """``n`` random affine maps ``[n, 2, 3]`` (supersampled pixels) for class ``cp``, from its own seeded stream.

    ``A = R(θ) · Shear(s) · scale``, translation ``t``: rotation θ ~ U[±rotation_deg], shear angle
    ~ U[±shear_deg], scale ~ U[scale_range], t ~ U[±translation_px]^2.
    """
    rng = np.random.default_rng(np.random.SeedSequence(int(config.seed), spawn_key=(cp,)))
    u = rng.random((n, 5))
    theta = np.deg2rad((2 * u[:, 0] - 1) * config.rotation_deg)
    shear = np.tan(np.deg2rad((2 * u[:, 1] - 1) * config.shear_deg))
    lo, hi = config.scale_range
    scale = lo + (hi - lo) * u[:, 2]
    t = (2 * u[:, 3:5] - 1) * config.translation_px * config.supersample
    cos, sin = np.cos(theta), np.sin(theta)
    out = np.zeros((n, 2, 3))
    # R @ [[1, shear], [0, 1]] * scale
    out[:, 0, 0] = cos * scale
    out[:, 0, 1] = (cos * shear - sin) * scale
    out[:, 1, 0] = sin * scale
    out[:, 1, 1] = (sin * shear + cos) * scale
    out[:, :, 2] = t
    return out


def _select_classes(
    renderer: _Renderer, candidates: Sequence[int], config: GlyphsConfig, show_progress: bool | None
) -> tuple[list[int], list[list]]:
    """Filter steps 3-4: drop empty glyphs and look-alikes, greedily in code-point order.

    The feature of a class is its twelve undistorted renderings ``u_f`` in ``[0, 1]``, concatenated; the
    distance of two classes is ``||a - b|| / sqrt((||a||^2 + ||b||^2) / 2)`` — 0 for identical glyphs,
    ``sqrt(2)`` for glyphs with no overlapping ink.  Returns the kept code points and their master images.
    """
    n_faces = len(renderer.fonts)
    kept: list[int] = []
    kept_masters: list[list] = []
    kept_feats = np.zeros((0, n_faces * config.image_size**2), dtype=np.float32)
    kept_sq = np.zeros(0, dtype=np.float32)
    chunk = 128
    limit = config.max_classes if config.max_classes is not None else len(candidates)
    disable = None if show_progress is None else not show_progress
    with progress(total=len(candidates), desc="Glyphs: selecting classes", disable=disable) as bar:
        for start in range(0, len(candidates), chunk):
            cps, masters, feats = [], [], []
            for cp in candidates[start : start + chunk]:
                ms = [renderer.master(f, chr(cp)) for f in range(n_faces)]
                if any(m is None for m in ms):
                    continue
                imgs = np.stack([renderer.place(m, None) for m in ms]).astype(np.float32) / 255.0
                if imgs.reshape(n_faces, -1).sum(axis=1).min() < config.min_ink:
                    continue
                cps.append(cp)
                masters.append(ms)
                feats.append(imgs.reshape(-1))
            bar.update(min(chunk, len(candidates) - start))
            if not cps:
                continue
            f = np.stack(feats)
            sq = (f * f).sum(axis=1)
            # squared distances to the kept classes and within the chunk, via ||a||^2 + ||b||^2 - 2ab
            d_kept = sq[:, None] + kept_sq[None, :] - 2.0 * f @ kept_feats.T
            d_kept = np.sqrt(np.maximum(d_kept, 0.0) / ((sq[:, None] + kept_sq[None, :]) / 2.0))
            d_self = sq[:, None] + sq[None, :] - 2.0 * f @ f.T
            d_self = np.sqrt(np.maximum(d_self, 0.0) / ((sq[:, None] + sq[None, :]) / 2.0))
            chosen: list[int] = []
            for i in range(len(cps)):
                if d_kept.shape[1] and d_kept[i].min() <= config.duplicate_distance:
                    continue
                if chosen and d_self[i, chosen].min() <= config.duplicate_distance:
                    continue
                chosen.append(i)
                if len(kept) + len(chosen) >= limit:
                    break
            kept.extend(cps[i] for i in chosen)
            kept_masters.extend(masters[i] for i in chosen)
            kept_feats = np.concatenate([kept_feats, f[chosen]])
            kept_sq = np.concatenate([kept_sq, sq[chosen]])
            if len(kept) >= limit:
                break
    return kept, kept_masters


def render_glyphs(
    config: GlyphsConfig | None = None,
    *,
    font_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render Glyphs without any cache: ``(images uint8 [C, 12 * copies, S, S], code_points int64 [C])``.

    Instance ``i`` of a class is face ``i % 12`` (order of :data:`GLYPHS_FACES`) under its own random affine
    distortion.  See the module docstring for the class filter.

    :param config: rendering settings (default :class:`GlyphsConfig`).
    :param font_dir: directory holding the twelve faces (default: matplotlib's).
    :param show_progress: ``False`` hides the progress bar (default: shown on a terminal).
    :raises ValueError: if no class survives the filters.
    """
    config = GlyphsConfig() if config is None else config
    paths = font_paths(font_dir)
    common = common_code_points(paths)
    if config.code_points is not None:
        wanted = set(config.code_points)
        common = [c for c in common if c in wanted]
    candidates = candidate_code_points(common)
    renderer = _Renderer(paths, config)
    kept, masters = _select_classes(renderer, candidates, config, show_progress)
    if not kept:
        raise ValueError(
            f"no Glyphs class survives the filters (candidates: {len(candidates)}); check {config}"
        )
    n_faces = len(paths)
    n_inst = config.instances_per_class
    s = config.image_size
    images = np.zeros((len(kept), n_inst, s, s), dtype=np.uint8)
    for c, (cp, ms) in enumerate(
        zip(
            progress(
                kept, desc="Glyphs: rendering", disable=None if show_progress is None else not show_progress
            ),
            masters,
        )
    ):
        maps = _distortions(config, cp, n_inst)
        for i in range(n_inst):
            images[c, i] = renderer.place(ms[i % n_faces], maps[i])
    return images, np.asarray(kept, dtype=np.int64)


# ====================================================================== cache
def default_cache_dir() -> Path:
    """``$METARL_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/metarl``, else ``~/.cache/metarl``."""
    env = os.environ.get("METARL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "metarl"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(config: GlyphsConfig, paths: Sequence[Path]) -> str:
    """Hex SHA-256 over the format version, every config field, each font file's SHA-256 and the
    Pillow/FreeType versions: any change renders the set afresh."""
    import PIL
    from PIL import features

    payload = {
        "format": GLYPHS_FORMAT_VERSION,
        "config": dataclasses.asdict(config),
        "fonts": {p.name: _file_sha256(p) for p in paths},
        "pillow": PIL.__version__,
        "freetype": features.version("freetype2"),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"glyphs-v{GLYPHS_FORMAT_VERSION}-{key[:16]}.npz"


def _write_cache(path: Path, key: str, images: np.ndarray, code_points: np.ndarray) -> None:
    """Atomic (:func:`metarl.atomic.atomic_write`): a reader never sees a partial cache file."""
    atomic_write(path, lambda f: np.savez_compressed(f, key=np.array(key), images=images, code_points=code_points))


def _read_cache(path: Path, key: str, config: GlyphsConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays if ``path`` holds a valid set for ``key``; None (with a warning if unreadable) otherwise."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            stored_key = str(data["key"])
            images = data["images"]
            code_points = data["code_points"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"ignoring unreadable Glyphs cache {path} ({exc}); rendering again", stacklevel=3)
        return None
    s = config.image_size
    if (
        stored_key != key
        or images.dtype != np.uint8
        or images.ndim != 4
        or images.shape[1:] != (config.instances_per_class, s, s)
        or code_points.shape != (images.shape[0],)
    ):
        warnings.warn(f"Glyphs cache {path} does not match its key; rendering again", stacklevel=3)
        return None
    return images, code_points.astype(np.int64)


def _class_name(cp: int) -> str:
    return f"U+{cp:04X} {unicodedata.name(chr(cp), '')}".rstrip()


def load_glyphs(
    config: GlyphsConfig | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    font_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> ClassDataset:
    """The Glyphs dataset as a :class:`ClassDataset` (``uint8 [C, 12, 28, 28]`` by default), cached on disk.

    The first call renders (about 10 s of one CPU core for the full set) and writes
    ``<cache_dir>/glyphs-v1-<key>.npz``; later calls with the same config, fonts and Pillow load that file.
    Class names are ``"U+0041 LATIN CAPITAL LETTER A"``.

    :param config: rendering settings (default :class:`GlyphsConfig`).
    :param cache_dir: where the cache lives (default :func:`default_cache_dir`).
    :param use_cache: ``False`` neither reads nor writes the cache.
    :param font_dir: directory holding the twelve faces (default: matplotlib's).
    :param show_progress: ``False`` hides the progress bars.
    """
    config = GlyphsConfig() if config is None else config
    paths = font_paths(font_dir)
    arrays: tuple[np.ndarray, np.ndarray] | None = None
    if use_cache:
        key = cache_key(config, paths)
        path = _cache_path(default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser(), key)
        arrays = _read_cache(path, key, config)
        if arrays is None:
            arrays = render_glyphs(config, font_dir=font_dir, show_progress=show_progress)
            _write_cache(path, key, *arrays)
    else:
        arrays = render_glyphs(config, font_dir=font_dir, show_progress=show_progress)
    images, code_points = arrays
    return ClassDataset(images, [_class_name(int(cp)) for cp in code_points], name="glyphs")


def glyphs_splits(
    dataset: ClassDataset,
    sizes: Mapping[str, int | float | None] | None = None,
    seed: int = GLYPHS_SPLIT_SEED,
) -> dict[str, ClassDataset]:
    """The fixed class split of Glyphs: ``{"train", "val", "test"}`` (:data:`GLYPHS_SPLIT_SIZES`, seed
    :data:`GLYPHS_SPLIT_SEED`), disjoint and identical on every machine for the same rendered set."""
    return dataset.split(GLYPHS_SPLIT_SIZES if sizes is None else sizes, seed)
