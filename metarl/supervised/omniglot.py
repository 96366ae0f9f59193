"""Omniglot loader for users who have the data (nothing is downloaded).

Omniglot (Lake et al. 2011) has 1,623 handwritten characters from 50 alphabets, each drawn once by 20
people.  MAML (Finn et al. 2017, section 5.2) follows Vinyals et al. (2016): images downsampled to 28x28,
1,200 characters chosen at random (irrespective of alphabet) for training and the rest for testing, and
the data "augmented with rotations by multiples of 90 degrees, as proposed by Santoro et al. (2016)" —
each rotation of a character is a class of its own.

:func:`load_omniglot` reads the standard layout of the official release::

    ROOT/images_background/ALPHABET/characterNN/*.png      (30 alphabets, 964 characters)
    ROOT/images_evaluation/ALPHABET/characterNN/*.png      (20 alphabets, 659 characters)

or the zip files ``ROOT/images_background.zip`` / ``ROOT/images_evaluation.zip`` of that release (a folder
wins over a zip of the same name).  Images are converted to grayscale, resized to 28x28 and inverted so that
ink is bright on black (as in the MAML data pipeline, and like :mod:`metarl.supervised.glyphs`).

The four rotations of a character form one *group* of the returned :class:`ClassDataset`, so
:meth:`ClassDataset.split` (and :func:`omniglot_splits`) keeps them on the same side of a split: a
rotated copy of a test character never leaks into training.

>>> data = load_omniglot("~/data/omniglot/python")              # doctest: +SKIP
>>> splits = omniglot_splits(data)   # {"train": 1200 characters x 4 rotations, "test": 423 x 4}  # doctest: +SKIP
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np

from metarl.progress import progress
from metarl.supervised.data import ClassDataset

__all__ = [
    "OMNIGLOT_MAML_SPLIT",
    "OMNIGLOT_ROTATIONS",
    "OMNIGLOT_SUBSETS",
    "load_omniglot",
    "omniglot_splits",
]

#: The two halves of the official release.
OMNIGLOT_SUBSETS: tuple[str, ...] = ("images_background", "images_evaluation")
#: Rotation class augmentation of MAML / Santoro et al.: each multiple of 90° is a new class.
OMNIGLOT_ROTATIONS: tuple[int, ...] = (0, 90, 180, 270)
#: MAML 5.2: 1,200 characters (with all their rotations) for training, the remaining ones for testing.
OMNIGLOT_MAML_SPLIT: dict[str, int | None] = {"train": 1200, "test": None}

_Opener = Callable[[], IO[bytes]]
#: (subset, alphabet, character) -> openers of its PNG files, sorted by file name.
_Index = dict[tuple[str, str, str], list[tuple[str, _Opener]]]


def _index_folder(folder: Path, subset: str) -> _Index:
    index: _Index = {}
    for alphabet in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for character in sorted(p for p in alphabet.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(
                p for p in character.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")
            )
            if not files:
                raise ValueError(f"Omniglot character folder {character} holds no .png files")
            index[(subset, alphabet.name, character.name)] = [
                (f.name, (lambda f=f: open(f, "rb"))) for f in files
            ]
    return index


def _index_zip(archive: zipfile.ZipFile, subset: str, where: Path) -> _Index:
    """Entries ``.../subset/ALPHABET/CHARACTER/file.png`` of the archive (macOS metadata skipped)."""
    index: _Index = {}
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        parts = PurePosixPath(info.filename).parts
        if (
            "__MACOSX" in parts
            or any(p.startswith(".") for p in parts)
            or not parts[-1].lower().endswith(".png")
        ):
            continue
        if len(parts) < 4 or parts[-4] != subset:
            continue
        _, alphabet, character, name = parts[-4:]
        index.setdefault((subset, alphabet, character), []).append(
            (name, (lambda n=info.filename: archive.open(n)))
        )
    if not index:
        raise ValueError(f"{where} holds no '{subset}/ALPHABET/CHARACTER/*.png' entries")
    return index


def _to_array(fp: IO[bytes], image_size: int, invert: bool, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with fp, Image.open(fp) as img:
            img = img.convert("L").resize((image_size, image_size), Image.Resampling.LANCZOS)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read Omniglot image {where}: {exc}") from exc
    return 255 - arr if invert else arr


def load_omniglot(
    root: str | os.PathLike[str],
    subsets: Sequence[str] = OMNIGLOT_SUBSETS,
    *,
    image_size: int = 28,
    rotations: Sequence[int] = OMNIGLOT_ROTATIONS,
    invert: bool = True,
    show_progress: bool | None = None,
) -> ClassDataset:
    """Load Omniglot from a folder or zip files as a :class:`ClassDataset` with rotation classes.

    Classes are ordered by subset, alphabet, character, then rotation; class ``"SUBSET/ALPHABET/CHARACTER/rotR"``
    holds that character's drawings rotated counter-clockwise by ``R`` degrees (``uint8 [20, S, S]``).
    The rotations of one character share a group id.

    :param root: directory containing ``images_background/`` and/or ``images_background.zip`` (and the
        same for ``images_evaluation``).
    :param subsets: which halves to load (e.g. ``("images_background",)`` for Lake et al.'s split).
    :param image_size: side of the resized square images (MAML: 28).
    :param rotations: multiples of 90 degrees; each is a class of its own (``(0,)`` disables the augmentation).
    :param invert: make ink bright on black (Omniglot PNGs are black strokes on white).
    :param show_progress: ``False`` hides the progress bar.
    :raises FileNotFoundError: if a subset is neither a folder nor a zip under ``root`` (both paths named).
    :raises ValueError: on bad ``rotations``/``image_size``, an empty subset or an unreadable image.
    """
    root_path = Path(root).expanduser()
    if not subsets:
        raise ValueError("subsets is empty; choose from " + ", ".join(OMNIGLOT_SUBSETS))
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    rots = tuple(int(r) for r in rotations)
    if not rots or any(r % 90 for r in rots) or len(set(r % 360 for r in rots)) != len(rots):
        raise ValueError(
            f"rotations must be distinct multiples of 90 degrees (mod 360); got {tuple(rotations)}"
        )
    index: _Index = {}
    archives: list[zipfile.ZipFile] = []
    try:
        for subset in subsets:
            folder, archive_path = root_path / subset, root_path / f"{subset}.zip"
            if folder.is_dir():
                part = _index_folder(folder, subset)
                if not part:
                    raise ValueError(f"Omniglot folder {folder} holds no ALPHABET/CHARACTER folders")
            elif archive_path.is_file():
                try:
                    archive = zipfile.ZipFile(archive_path)
                except zipfile.BadZipFile as exc:
                    raise ValueError(f"{archive_path} is not a valid zip file: {exc}") from exc
                archives.append(archive)
                part = _index_zip(archive, subset, archive_path)
            else:
                raise FileNotFoundError(
                    f"Omniglot subset {subset!r} not found: neither {folder} nor {archive_path} exists"
                )
            index.update(part)

        characters = sorted(index)
        images: list[np.ndarray] = []
        names: list[str] = []
        groups: list[int] = []
        disable = None if show_progress is None else not show_progress
        for g, key in enumerate(progress(characters, desc="Omniglot: loading", disable=disable)):
            drawings = np.stack(
                [
                    _to_array(open_fn(), image_size, invert, f"{'/'.join(key)}/{name}")
                    for name, open_fn in index[key]
                ]
            )
            for r in rots:
                images.append(np.ascontiguousarray(np.rot90(drawings, k=(r // 90) % 4, axes=(1, 2))))
                names.append(f"{'/'.join(key)}/rot{r % 360}")
                groups.append(g)
    finally:
        for archive in archives:
            archive.close()
    return ClassDataset(images, names, np.asarray(groups, dtype=np.int64), name="omniglot")


def omniglot_splits(
    dataset: ClassDataset,
    sizes: Mapping[str, int | float | None] = OMNIGLOT_MAML_SPLIT,
    seed: int = 0,
) -> dict[str, ClassDataset]:
    """Split by *character* (all rotations together), MAML-style by default: 1,200 random characters for
    training, the rest for testing.  ``sizes`` counts characters (groups); see :meth:`ClassDataset.split`."""
    return dataset.split(sizes, seed)
