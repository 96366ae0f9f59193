"""Meta-augmentation (Rajendran et al. 2020): label schemes, label permutation, per-task target noise and
the non-mutually-exclusive sinusoid benchmark."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metarl.supervised.augmentation import (
    NME_INTERVAL_STARTS,
    NME_SPLITS,
    DiscreteNoise,
    InterShuffle,
    IntraShuffle,
    LabelScheme,
    NMESinusoid,
    NonMutuallyExclusive,
    UniformNoise,
    add_target_noise,
    make_label_scheme,
    permute_labels,
    shift_targets,
)
from metarl.supervised.data import ClassDataset, EpisodeSampler
from metarl.supervised.tasks import TaskBatch


def coded_dataset(n_classes: int, n_instances: int = 4) -> ClassDataset:
    """Pixel (0, 0) of every image of class c is 10 + c."""
    arrays = []
    for c in range(n_classes):
        a = np.zeros((n_instances, 3, 3), dtype=np.uint8)
        a[:, 0, 0] = 10 + c
        arrays.append(a)
    return ClassDataset(arrays, name="coded")


def class_of(x: torch.Tensor) -> np.ndarray:
    return np.rint(x[..., 0, 0, 0].numpy() * 255).astype(int) - 10


def label_table(batch: TaskBatch) -> list[dict[int, int]]:
    """Per task: class -> label, read from the support set (each class must have exactly one label)."""
    out = []
    for cls, lab in zip(class_of(batch.support_x), batch.support_y.numpy()):
        table: dict[int, int] = {}
        for c, y in zip(cls.tolist(), lab.tolist()):
            assert table.setdefault(c, y) == y
        out.append(table)
    return out


# ====================================================================== label schemes
def test_non_mutually_exclusive_fixed_partition_and_fixed_labels():
    scheme = NonMutuallyExclusive(22, 5, seed=3)
    groups = scheme.groups
    assert groups.shape == (4, 5)
    assert len(set(groups.ravel().tolist())) == 20 and scheme.unused_classes.size == 2
    assert set(groups.ravel().tolist()) | set(scheme.unused_classes.tolist()) == set(range(22))
    np.testing.assert_array_equal(NonMutuallyExclusive(22, 5, seed=3).groups, groups)  # fixed by seed
    assert not np.array_equal(NonMutuallyExclusive(22, 5, seed=4).groups, groups)

    sampler = EpisodeSampler(coded_dataset(22), 5, 1, 2, np.random.default_rng(0), labels=scheme)
    batch = sampler.sample(200)
    label_of: dict[int, set[int]] = {}
    for table in label_table(batch):
        row = sorted(table, key=table.get)  # classes in label order
        assert row in groups.tolist()  # a task is exactly one group in its fixed order
        for c, y in table.items():
            label_of.setdefault(c, set()).add(y)
    assert all(len(ys) == 1 for ys in label_of.values())  # the same class -> the same label, always
    assert len(label_of) == 20 and not set(label_of) & set(scheme.unused_classes.tolist())


def test_intrashuffle_permutes_only_within_the_fixed_groups():
    nme = NonMutuallyExclusive(20, 5, seed=1)
    scheme = IntraShuffle(20, 5, seed=1)
    np.testing.assert_array_equal(scheme.groups, nme.groups)
    classes = EpisodeSampler(
        coded_dataset(20), 5, 1, 1, np.random.default_rng(0), labels=scheme
    ).sample_classes(400)
    group_sets = [set(g) for g in nme.groups.tolist()]
    orders = set()
    labels_of_class: dict[int, set[int]] = {}
    for row in classes.tolist():
        assert set(row) in group_sets
        orders.add(tuple(row))
        for y, c in enumerate(row):
            labels_of_class.setdefault(c, set()).add(y)
    assert len(orders) > 4 * 20  # many label orders of the same 4 groups
    assert all(ys == set(range(5)) for ys in labels_of_class.values())  # every class takes every label


def test_intershuffle_draws_classes_freely():
    classes = InterShuffle(5).sample_classes(20, 400, np.random.default_rng(0))
    assert classes.shape == (400, 5) and classes.dtype == np.int64
    assert all(len(set(row)) == 5 for row in classes.tolist())  # no repeat within a task
    sets = {frozenset(row) for row in classes.tolist()}
    assert len(sets) > 300  # not confined to a partition (there are C(20, 5) = 15504 sets)
    assert set(classes.ravel().tolist()) == set(range(20))
    for c in range(20):  # every class appears under every label
        assert set(np.nonzero(classes == c)[1].tolist()) == set(range(5))


def test_make_label_scheme_and_mismatch_errors():
    assert isinstance(make_label_scheme("intershuffle", 10, 5), InterShuffle)
    assert type(make_label_scheme("intrashuffle", 10, 5)) is IntraShuffle
    assert type(make_label_scheme("non_mutually_exclusive", 10, 5)) is NonMutuallyExclusive
    assert isinstance(make_label_scheme("intrashuffle", 10, 5), LabelScheme)
    with pytest.raises(ValueError, match="unknown label scheme 'shuffle'"):
        make_label_scheme("shuffle", 10, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_way=6 is larger than the number of classes"):
        make_label_scheme("intershuffle", 5, 6)
    with pytest.raises(ValueError, match="built for n_classes=12; the dataset has 10"):
        EpisodeSampler(
            coded_dataset(10), 5, 1, 1, np.random.default_rng(0), labels=NonMutuallyExclusive(12, 5)
        )


def test_permute_labels_uses_one_permutation_per_task_for_support_and_query():
    base = EpisodeSampler(coded_dataset(10, 5), 4, 2, 3, np.random.default_rng(0)).sample(30)
    out = permute_labels(base, 4, np.random.default_rng(1))
    assert out.support_x is base.support_x and out.support_y.dtype == torch.int64
    changed = 0
    for t in range(30):
        pairs = set(zip(base.support_y[t].tolist(), out.support_y[t].tolist()))
        pairs |= set(zip(base.query_y[t].tolist(), out.query_y[t].tolist()))
        mapping = dict(pairs)
        assert len(mapping) == len(pairs) == 4 and sorted(mapping.values()) == [0, 1, 2, 3]  # a bijection
        changed += any(k != v for k, v in mapping.items())
    assert changed > 20
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        permute_labels(base, 3, np.random.default_rng(0))


# ====================================================================== target noise
def regression_batch(n_tasks: int = 50) -> TaskBatch:
    g = torch.Generator().manual_seed(0)
    return TaskBatch(
        torch.rand(n_tasks, 5, 1, generator=g),
        torch.rand(n_tasks, 5, 1, generator=g),
        torch.rand(n_tasks, 7, 1, generator=g),
        torch.rand(n_tasks, 7, 1, generator=g),
    )


def test_uniform_noise_is_one_epsilon_per_task_shared_by_support_and_query():
    base = regression_batch()
    out = add_target_noise(base, UniformNoise(0.5), np.random.default_rng(0))
    ds = (out.support_y - base.support_y)[..., 0]
    dq = (out.query_y - base.query_y)[..., 0]
    eps = ds[:, 0]
    assert torch.allclose(ds, eps[:, None].expand_as(ds), atol=1e-6)  # shared within the support set
    assert torch.allclose(dq, eps[:, None].expand_as(dq), atol=1e-6)  # ... and with the query set
    assert float(eps.abs().max()) <= 0.5 and float(eps.std()) > 0.1  # different across tasks
    assert len(set(np.round(eps.numpy(), 5).tolist())) == 50
    assert torch.equal(out.support_x, base.support_x)


def test_discrete_noise_draws_from_its_set():
    base = regression_batch(200)
    out = add_target_noise(base, DiscreteNoise(), np.random.default_rng(0))
    eps = np.round((out.query_y - base.query_y)[:, 0, 0].numpy(), 5)
    assert set(eps.tolist()) == {0.0, 0.25, 0.5, 0.75}
    with pytest.raises(ValueError, match="must be distinct"):
        DiscreteNoise((0.0, 0.0))
    with pytest.raises(ValueError, match="half_width must be a finite number > 0"):
        UniformNoise(0.0)


def test_target_noise_refuses_class_labels_and_bad_shapes():
    classification = EpisodeSampler(coded_dataset(6), 3, 1, 1, np.random.default_rng(0)).sample(2)
    with pytest.raises(TypeError, match="float regression targets .* permute_labels"):
        add_target_noise(classification, UniformNoise(), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"eps must have shape \(50,\)"):
        shift_targets(regression_batch(), np.zeros(3))


# ====================================================================== NME sinusoid
def test_nme_sinusoid_intervals_and_splits():
    bench = NMESinusoid(seed=0)
    assert NME_INTERVAL_STARTS == (4, -1, -2, 1, 3, -3, -5, 2, 0, -4)
    assert [bench.interval(i) for i in range(10)] == [(s, s + 0.5) for s in NME_INTERVAL_STARTS]
    assert NME_SPLITS == {"train": (0, 1, 2, 3, 4, 5), "val": (6, 7), "test": (8, 9)}
    # the intervals are disjoint and lie in [-5, 4.5]
    starts = sorted(NME_INTERVAL_STARTS)
    assert starts == list(range(-5, 5)) and all(b - a == 1 for a, b in zip(starts, starts[1:]))
    assert ((bench.amplitudes >= 0.1) & (bench.amplitudes <= 5.0)).all()
    assert ((bench.phases >= 0) & (bench.phases <= math.pi)).all()
    np.testing.assert_array_equal(NMESinusoid(seed=0).amplitudes, bench.amplitudes)  # fixed by the seed
    assert not np.array_equal(NMESinusoid(seed=1).amplitudes, bench.amplitudes)
    for split, pool in NME_SPLITS.items():
        assert set(bench.sample_tasks(300, np.random.default_rng(0), split).tolist()) == set(pool)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        bench.sample_tasks(3, np.random.default_rng(0), "dev")  # type: ignore[arg-type]


def test_nme_sinusoid_batches_follow_each_tasks_sine():
    bench = NMESinusoid(seed=0)
    tasks = np.array([0, 3, 7, 9])
    batch = bench.make_batch(tasks, 10, 20, np.random.default_rng(0))
    batch.validate()
    assert tuple(batch.support_x.shape) == (4, 10, 1) and tuple(batch.query_y.shape) == (4, 20, 1)
    for i, task in enumerate(tasks):
        lo, hi = bench.interval(int(task))
        for x, y in ((batch.support_x[i], batch.support_y[i]), (batch.query_x[i], batch.query_y[i])):
            assert float(x.min()) >= lo and float(x.max()) <= hi
            np.testing.assert_allclose(y.numpy(), bench.function(int(task), x.numpy()), atol=1e-5)


def test_nme_sinusoid_augmentation_shares_epsilon_within_a_task():
    bench = NMESinusoid(seed=0)
    rng = np.random.default_rng(5)
    tasks = bench.sample_tasks(40, rng)
    batch = bench.make_batch(tasks, 10, 10, rng, noise=UniformNoise(1.0))
    offsets = []
    for i, task in enumerate(tasks):
        ds = batch.support_y[i, :, 0].numpy() - bench.function(int(task), batch.support_x[i, :, 0].numpy())
        dq = batch.query_y[i, :, 0].numpy() - bench.function(int(task), batch.query_x[i, :, 0].numpy())
        np.testing.assert_allclose(ds, ds[0], atol=1e-5)
        np.testing.assert_allclose(dq, ds[0], atol=1e-5)
        offsets.append(ds[0])
    offsets = np.array(offsets)
    assert np.abs(offsets).max() <= 1.0 + 1e-5 and offsets.std() > 0.3


def test_nme_sinusoid_batches_differ_across_calls_and_reproduce_by_seed():
    bench = NMESinusoid(seed=0)
    source = bench.sampler(8, 5, 5, noise=UniformNoise(1.0))
    rng = np.random.default_rng(0)
    first, second = source(rng), source(rng)
    assert not torch.equal(first.support_x, second.support_x)  # no re-seeding per batch
    assert not torch.equal(first.support_y, second.support_y)
    again = source(np.random.default_rng(0))
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    val = bench.sample(4, 5, 5, np.random.default_rng(0), split="val")
    assert ((val.support_x >= -5.0) & (val.support_x <= 2.5)).all()
