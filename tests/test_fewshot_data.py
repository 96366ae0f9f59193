"""Few-shot classification data: ClassDataset, the N-way K-shot EpisodeSampler, the 1-NN baseline,
scikit-learn digits, Glyphs (rendered from matplotlib's DejaVu fonts) and the Omniglot loader."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metarl.supervised import glyphs as glyphs_mod
from metarl.supervised.augmentation import InterShuffle
from metarl.supervised.data import (
    ClassDataset,
    EpisodeSampler,
    load_digits_dataset,
    nearest_neighbour_accuracy,
)
from metarl.supervised.glyphs import (
    GLYPHS_FACES,
    GlyphsConfig,
    cache_key,
    candidate_code_points,
    font_paths,
    glyphs_splits,
    load_glyphs,
    render_glyphs,
)
from metarl.supervised.omniglot import load_omniglot, omniglot_splits
from metarl.supervised.tasks import TaskBatch


# ====================================================================== helpers
def coded_dataset(n_classes: int, n_instances: int | list[int], size: int = 4, groups=None) -> ClassDataset:
    """Class c, instance i: pixel (0, 0) = 10 + c, pixel (0, 1) = 10 + i, so both can be read back."""
    counts = [n_instances] * n_classes if isinstance(n_instances, int) else n_instances
    arrays = []
    for c, n in enumerate(counts):
        a = np.zeros((n, size, size), dtype=np.uint8)
        a[:, 0, 0] = 10 + c
        a[:, 0, 1] = 10 + np.arange(n)
        arrays.append(a)
    return ClassDataset(arrays, [f"c{c}" for c in range(n_classes)], groups, name="coded")


def decode(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(class, instance) of images ``[..., 1, H, W]`` made by :func:`coded_dataset`."""
    pix = np.rint(x[..., 0, 0, :2].numpy() * 255).astype(int) - 10
    return pix[..., 0], pix[..., 1]


# ====================================================================== ClassDataset
def test_class_dataset_validation_errors():
    good = np.zeros((3, 5, 5), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least one class"):
        ClassDataset([])
    with pytest.raises(ValueError, match=r"class 1 images have shape \(3, 4, 5\)"):
        ClassDataset([good, np.zeros((3, 4, 5), dtype=np.uint8)])
    with pytest.raises(ValueError, match=r"class 0 spans \[2, 2\]"):
        ClassDataset([np.full((2, 5, 5), 2.0)])
    with pytest.raises(TypeError, match="uint8 or floating"):
        ClassDataset([good.astype(np.int32)])
    with pytest.raises(ValueError, match="'a' occurs more than once"):
        ClassDataset([good, good], names=["a", "a"])
    with pytest.raises(ValueError, match="2 names for 1 classes"):
        ClassDataset([good], names=["a", "b"])
    with pytest.raises(ValueError, match="groups must have shape"):
        ClassDataset([good, good], groups=[0])
    with pytest.raises(ValueError, match="class 1 has no instances"):
        ClassDataset([good, good[:0]])


def test_class_dataset_from_labelled_and_accessors():
    x = np.arange(5 * 2 * 2, dtype=np.uint8).reshape(5, 2, 2)
    y = np.array([3, 1, 3, 3, 1])
    ds = ClassDataset.from_labelled(x, y, name="flat")
    assert ds.names == ("1", "3")
    assert ds.counts.tolist() == [2, 3]
    np.testing.assert_array_equal(ds.class_images(1), x[[0, 2, 3]])
    assert ds.image_shape == (2, 2) and len(ds) == 2
    with pytest.raises(IndexError, match="out of range"):
        ds.class_images(2)


def test_split_is_fixed_by_seed_disjoint_and_keeps_groups():
    ds = coded_dataset(40, 2, groups=np.repeat(np.arange(20), 2))  # 20 groups of 2 classes
    a = ds.split({"train": 0.5, "val": 3, "test": None}, seed=7)
    b = ds.split({"train": 0.5, "val": 3, "test": None}, seed=7)
    c = ds.split({"train": 0.5, "val": 3, "test": None}, seed=8)
    assert {k: v.names for k, v in a.items()} == {k: v.names for k, v in b.items()}
    assert a["train"].names != c["train"].names
    assert [len(set(v.groups.tolist())) for v in a.values()] == [10, 3, 7]
    all_names = [n for v in a.values() for n in v.names]
    assert len(all_names) == len(set(all_names)) == 40  # disjoint and complete
    for part in a.values():  # both classes of every group on the same side
        assert all(np.count_nonzero(part.groups == g) == 2 for g in part.groups)
    # the subsets keep the pixels of their classes
    cls, _ = decode(torch.from_numpy(part.to_float(part.gather(np.arange(part.n_classes), 0)))[:, None, None])
    assert [f"c{k}" for k in cls.ravel()] == list(part.names)
    with pytest.raises(ValueError, match="need 25 groups but coded has only 20"):
        ds.split({"train": 20, "test": 5}, seed=0)
    with pytest.raises(ValueError, match="at most one split size may be None"):
        ds.split({"train": None, "test": None}, seed=0)


# ====================================================================== EpisodeSampler
def test_episode_shapes_labels_and_disjoint_support_query():
    ds = coded_dataset(12, 9)
    n, k, q, t = 5, 2, 3, 6
    sampler = EpisodeSampler(ds, n, k, q, np.random.default_rng(0))
    classes = sampler.sample_classes(t)
    batch = sampler.make_batch(classes)
    assert isinstance(batch, TaskBatch)
    batch.validate()
    assert tuple(batch.support_x.shape) == (t, n * k, 1, 4, 4)
    assert tuple(batch.query_x.shape) == (t, n * q, 1, 4, 4)
    assert batch.support_x.dtype == torch.float32 and batch.support_y.dtype == torch.int64
    assert float(batch.support_x.min()) >= 0.0 and float(batch.support_x.max()) <= 1.0
    s_cls, s_inst = decode(batch.support_x)
    q_cls, q_inst = decode(batch.query_x)
    for i in range(t):
        assert np.bincount(batch.support_y[i].numpy(), minlength=n).tolist() == [k] * n
        assert np.bincount(batch.query_y[i].numpy(), minlength=n).tolist() == [q] * n
        assert len(set(classes[i].tolist())) == n
        for label in range(n):
            expected = classes[i, label]  # label j is the j-th sampled class
            assert (s_cls[i][batch.support_y[i].numpy() == label] == expected).all()
            assert (q_cls[i][batch.query_y[i].numpy() == label] == expected).all()
            used = np.concatenate(
                [s_inst[i][batch.support_y[i].numpy() == label], q_inst[i][batch.query_y[i].numpy() == label]]
            )
            assert len(set(used.tolist())) == k + q  # K+Q distinct instances, support and query disjoint


def test_shuffle_false_is_class_major_and_shuffle_true_is_not():
    ds = coded_dataset(6, 6)
    plain = EpisodeSampler(ds, 3, 2, 2, np.random.default_rng(0), shuffle=False).sample(4)
    assert plain.support_y.tolist() == [[0, 0, 1, 1, 2, 2]] * 4
    shuffled = EpisodeSampler(ds, 3, 2, 2, np.random.default_rng(0)).sample(20)
    assert any(row != [0, 0, 1, 1, 2, 2] for row in shuffled.support_y.tolist())


def test_variable_counts_never_draw_padding():
    ds = coded_dataset(4, [3, 8, 3, 5])
    batch = EpisodeSampler(ds, 4, 1, 2, np.random.default_rng(1)).sample(200)
    cls, inst = decode(torch.cat([batch.support_x, batch.query_x], dim=1))
    assert (inst < ds.counts[cls]).all()
    assert set(zip(cls[cls == 0], inst[cls == 0])) == {(0, 0), (0, 1), (0, 2)}


def test_sampler_errors_name_the_problem():
    ds = coded_dataset(5, [6, 6, 3, 6, 6])
    with pytest.raises(ValueError, match=r"n_way=6 is larger than the number of classes of coded \(5\)"):
        EpisodeSampler(ds, 6, 1, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"1 \+ 3 = 4 instances .* class 'c2' of coded has only 3"):
        EpisodeSampler(ds, 2, 1, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="k_shot must be >= 1"):
        EpisodeSampler(ds, 2, 0, 1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        EpisodeSampler(ds, 2, 1, 1, rng=np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is for n_way=3"):
        EpisodeSampler(ds, 2, 1, 1, np.random.default_rng(0), labels=InterShuffle(3))
    no_rng = EpisodeSampler(ds, 2, 1, 1)
    with pytest.raises(ValueError, match="built without rng"):
        no_rng.sample(2)
    with pytest.raises(ValueError, match="repeats a class"):
        no_rng.make_batch(np.array([[1, 1]]), np.random.default_rng(0))


def test_sampler_is_reproducible_and_batches_differ():
    ds = coded_dataset(10, 6)

    def draw(seed: int) -> list[TaskBatch]:
        sampler = EpisodeSampler(ds, 5, 1, 2, np.random.default_rng(seed))
        return [sampler.sample(3), sampler.sample(3)]

    a, b, c = draw(0), draw(0), draw(1)
    for x, y in zip(a, b):
        for fx, fy in zip(x, y):
            assert torch.equal(fx, fy)
    assert not torch.equal(a[0].support_x, a[1].support_x)
    assert not torch.equal(a[0].support_x, c[0].support_x)
    # the TaskSource form draws from the generator it is called with, like the sampler's own
    source = EpisodeSampler(ds, 5, 1, 2).sampler(3)
    d = source(np.random.default_rng(0))
    assert torch.equal(d.query_x, a[0].query_x) and torch.equal(d.query_y, a[0].query_y)


# ====================================================================== 1-NN baseline
def test_nearest_neighbour_hand_computed_case():
    # two tasks, 2-way 1-shot; images are 1x1 "pixels"
    support_x = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(2, 2, 1, 1, 1)
    support_y = torch.tensor([[0, 1], [1, 0]])
    query_x = torch.tensor([[0.1, 0.9], [0.4, 0.45]]).reshape(2, 2, 1, 1, 1)
    query_y = torch.tensor([[0, 1], [1, 0]])
    acc = nearest_neighbour_accuracy(TaskBatch(support_x, support_y, query_x, query_y))
    # task 0: both correct; task 1: both queries are nearer 0.0 (label 1) -> one right, one wrong
    assert acc.tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="integer class labels"):
        nearest_neighbour_accuracy(TaskBatch(support_x, support_y.float(), query_x, query_y.float()))


def test_nearest_neighbour_is_high_on_an_easy_set():
    rng = np.random.default_rng(0)
    prototypes = rng.random((20, 8, 8))
    images = [np.clip(p + 0.05 * rng.standard_normal((6, 8, 8)), 0, 1) for p in prototypes]
    ds = ClassDataset(images, name="easy")
    acc = nearest_neighbour_accuracy(EpisodeSampler(ds, 5, 1, 5, np.random.default_rng(1)).sample(50))
    assert acc.shape == (50,) and float(acc.mean()) > 0.98


def test_digits_sanity_set():
    pytest.importorskip("sklearn", reason="the digits set is the optional extra metarl[digits]")
    ds = load_digits_dataset()
    assert ds.n_classes == 10 and ds.image_shape == (8, 8) and ds.counts.sum() == 1797
    assert ds.dtype == np.float32 and float(ds.class_images(0).max()) == 1.0
    acc = nearest_neighbour_accuracy(EpisodeSampler(ds, 5, 1, 5, np.random.default_rng(0)).sample(100))
    assert 0.6 < float(acc.mean()) < 1.0


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as if scikit-learn were not installed
    with pytest.raises(ImportError, match=r'pip install "metarl\[digits\]"'):
        load_digits_dataset()


# ====================================================================== Glyphs
SMALL_CPS = tuple(ord(c) for c in "ABCOQXabcdeot0123À\u039f\u041eé²ŧ") + (0x2500, 0x0301, 0x20)


def small_config(**kw) -> GlyphsConfig:
    return GlyphsConfig(code_points=SMALL_CPS, **kw)


def test_all_twelve_faces_ship_with_matplotlib():
    paths = font_paths()
    assert [p.name for p in paths] == list(GLYPHS_FACES) and len(paths) == 12


def test_candidate_filter_keeps_one_code_point_per_base_letter():
    kept = candidate_code_points(SMALL_CPS + (0x2190, 0x21A9))
    chars = "".join(chr(c) for c in kept)
    # accented / superscript / stroked variants dropped (é, À, ², ŧ), so are space, a combining mark and box
    # drawing; arrows are symbols, not letter variants, so ↩ (ARROW WITH HOOK) stays next to ←
    assert chars == "0123ABCOQXabcdeot\u039f\u041e\u2190\u21a9"


def test_render_small_set_drops_look_alikes_and_distorts_each_instance():
    images, cps = render_glyphs(small_config(), show_progress=False)
    chars = "".join(chr(c) for c in cps)
    assert images.dtype == np.uint8 and images.shape == (len(cps), 12, 28, 28)
    assert "\u039f" not in chars and "\u041e" not in chars  # Greek and Cyrillic capital O look like Latin O
    assert {"O", "Q", "o", "0", "A", "X"} <= set(chars)
    ink = images.reshape(len(cps), 12, -1).astype(float).sum(-1) / 255
    assert ink.min() > 4.0
    # every instance has its own distortion: no two of a class are pixel-identical
    flat = images.reshape(len(cps), 12, -1)
    for c in range(len(cps)):
        assert len({row.tobytes() for row in flat[c]}) == 12
    # a class's images depend on its code point, not on which other classes were rendered
    sub, sub_cps = render_glyphs(small_config(max_classes=3), show_progress=False)
    assert sub_cps.tolist() == cps[:3].tolist()
    np.testing.assert_array_equal(sub, images[:3])
    with pytest.raises(ValueError, match="no Glyphs class survives"):
        render_glyphs(small_config(min_ink=1e6), show_progress=False)


def test_distortion_makes_pixel_matching_hard():
    kw = {"max_classes": 40, "code_points": None}
    plain = GlyphsConfig(rotation_deg=0, shear_deg=0, scale_range=(1, 1), translation_px=0, **kw)

    def nn(config: GlyphsConfig) -> float:
        images, cps = render_glyphs(config, show_progress=False)
        ds = ClassDataset(images)
        return float(
            nearest_neighbour_accuracy(
                EpisodeSampler(ds, 5, 1, 5, np.random.default_rng(0)).sample(300)
            ).mean()
        )

    assert nn(GlyphsConfig(**kw)) < nn(plain) - 0.15


def test_glyphs_config_errors():
    with pytest.raises(ValueError, match="GlyphsConfig.fit_px=30 exceeds image_size=28"):
        GlyphsConfig(fit_px=30)
    with pytest.raises(ValueError, match="GlyphsConfig.scale_range"):
        GlyphsConfig(scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match="GlyphsConfig.rotation_deg"):
        GlyphsConfig(rotation_deg=-1)


def test_glyphs_cache_round_trip_and_invalidation(tmp_path, monkeypatch):
    config = small_config(max_classes=4)
    first = load_glyphs(config, cache_dir=tmp_path, show_progress=False)
    files = list(tmp_path.glob("glyphs-v1-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob(".*tmp"))
    assert first.n_classes == 4 and first.names[0] == "U+0030 DIGIT ZERO"

    def no_render(*args, **kwargs):
        raise AssertionError("rendered although the cache is valid")

    monkeypatch.setattr(glyphs_mod, "render_glyphs", no_render)
    second = load_glyphs(config, cache_dir=tmp_path)
    assert second.names == first.names
    np.testing.assert_array_equal(
        second.gather(np.arange(4)[:, None], np.arange(12)),
        first.gather(np.arange(4)[:, None], np.arange(12)),
    )
    monkeypatch.undo()

    # use_cache=False neither reads nor writes
    load_glyphs(
        small_config(max_classes=2), cache_dir=tmp_path / "unused", use_cache=False, show_progress=False
    )
    assert not (tmp_path / "unused").exists()

    # another config is another key: a second file, not an overwrite
    load_glyphs(small_config(max_classes=4, seed=1), cache_dir=tmp_path, show_progress=False)
    assert len(list(tmp_path.glob("glyphs-v1-*.npz"))) == 2

    # a corrupt file is re-rendered (with a warning) and rewritten
    files[0].write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="unreadable Glyphs cache"):
        third = load_glyphs(config, cache_dir=tmp_path, show_progress=False)
    assert third.names == first.names
    assert zipfile.is_zipfile(files[0])


def test_cache_key_depends_on_font_contents_and_config(tmp_path):
    copies = tmp_path / "fonts"
    copies.mkdir()
    for path in font_paths():
        shutil.copy(path, copies / path.name)
    config = small_config()
    original = cache_key(config, font_paths())
    assert cache_key(config, font_paths(copies)) == original  # content, not location
    with open(copies / GLYPHS_FACES[5], "ab") as f:
        f.write(b"\0")
    assert cache_key(config, font_paths(copies)) != original
    assert cache_key(small_config(rotation_deg=5), font_paths()) != original
    with pytest.raises(FileNotFoundError, match="DejaVuSans.ttf"):
        font_paths(tmp_path)


def test_glyphs_splits_fixed_and_disjoint(tmp_path):
    ds = load_glyphs(small_config(), cache_dir=tmp_path, show_progress=False)
    a, b = glyphs_splits(ds), glyphs_splits(ds)
    assert list(a) == ["train", "val", "test"]
    assert {k: v.names for k, v in a.items()} == {k: v.names for k, v in b.items()}
    names = [n for v in a.values() for n in v.names]
    assert sorted(names) == sorted(ds.names)


@pytest.mark.slow
def test_full_glyphs_calibration(tmp_path):
    """The full set: class count, render time budget and pixel 1-NN on held-out classes (~46%)."""
    ds = load_glyphs(cache_dir=tmp_path, show_progress=False)
    assert 900 <= ds.n_classes <= 1000
    test = glyphs_splits(ds)["test"]
    acc = nearest_neighbour_accuracy(EpisodeSampler(test, 5, 1, 5, np.random.default_rng(1)).sample(2000))
    assert 0.40 <= float(acc.mean()) <= 0.52


# ====================================================================== Omniglot
def _write_png(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    strokes = rng.random((105, 105)) < 0.1  # black strokes on white, mode "1" like the real files
    Image.fromarray(~strokes).convert("1").save(path)


@pytest.fixture(scope="module")
def omniglot_root(tmp_path_factory) -> tuple[Path, Path]:
    """A fake release: 2 + 1 alphabets, 5 characters, 3 drawings each; as folders and as zips."""
    rng = np.random.default_rng(0)
    folders = tmp_path_factory.mktemp("omniglot_folders")
    layout = {
        "images_background": {
            "Alpha": ["character01", "character02"],
            "Beta": ["character01", "character02"],
        },
        "images_evaluation": {"Gamma": ["character01"]},
    }
    for subset, alphabets in layout.items():
        for alphabet, chars in alphabets.items():
            for char in chars:
                for d in range(3):
                    _write_png(folders / subset / alphabet / char / f"{d:04d}_{d + 1:02d}.png", rng)
    zips = tmp_path_factory.mktemp("omniglot_zips")
    for subset in layout:
        with zipfile.ZipFile(zips / f"{subset}.zip", "w") as zf:
            for file in sorted((folders / subset).rglob("*.png")):
                zf.write(file, file.relative_to(folders).as_posix())
            zf.writestr("__MACOSX/images_background/._junk.png", b"junk")
    return folders, zips


def test_omniglot_folder_layout_with_rotation_classes(omniglot_root):
    folders, _ = omniglot_root
    ds = load_omniglot(folders, show_progress=False)
    assert ds.n_classes == 5 * 4 and ds.image_shape == (28, 28) and ds.counts.tolist() == [3] * 20
    assert ds.names[:4] == tuple(f"images_background/Alpha/character01/rot{r}" for r in (0, 90, 180, 270))
    assert ds.groups.tolist() == np.repeat(np.arange(5), 4).tolist()
    base = ds.class_images(0)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(ds.class_images(k), np.rot90(base, k=k, axes=(1, 2)))
    # grayscale, resized with LANCZOS, inverted so that ink is bright
    src = sorted((folders / "images_background/Alpha/character01").glob("*.png"))[0]
    expected = 255 - np.asarray(Image.open(src).convert("L").resize((28, 28), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(base[0], expected)
    assert base.mean() < 128  # mostly dark background


def test_omniglot_zip_equals_folder(omniglot_root):
    folders, zips = omniglot_root
    a = load_omniglot(folders, show_progress=False)
    b = load_omniglot(zips, show_progress=False)
    assert a.names == b.names
    for c in range(a.n_classes):
        np.testing.assert_array_equal(a.class_images(c), b.class_images(c))


def test_omniglot_options_and_errors(omniglot_root, tmp_path):
    folders, zips = omniglot_root
    background = load_omniglot(
        zips, ("images_background",), rotations=(0,), image_size=14, show_progress=False
    )
    assert background.n_classes == 4 and background.image_shape == (14, 14)
    with pytest.raises(FileNotFoundError, match="neither .*images_evaluation nor .*images_evaluation.zip"):
        load_omniglot(tmp_path, ("images_evaluation",))
    with pytest.raises(ValueError, match="multiples of 90"):
        load_omniglot(folders, rotations=(0, 45))
    empty_char = tmp_path / "bad" / "images_background" / "A" / "character01"
    empty_char.mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no .png files"):
        load_omniglot(tmp_path / "bad", ("images_background",))


def test_omniglot_split_keeps_rotations_together_and_samples(omniglot_root):
    folders, _ = omniglot_root
    ds = load_omniglot(folders, show_progress=False)
    parts = omniglot_splits(ds, {"train": 3, "test": None}, seed=0)
    assert parts["train"].n_classes == 12 and parts["test"].n_classes == 8
    chars = {k: {n.rsplit("/", 1)[0] for n in v.names} for k, v in parts.items()}
    assert not chars["train"] & chars["test"]
    batch = EpisodeSampler(parts["train"], 5, 1, 2, np.random.default_rng(0)).sample(4)
    assert tuple(batch.support_x.shape) == (4, 5, 1, 28, 28)
