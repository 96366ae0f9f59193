"""Class-indexed image datasets and the N-way K-shot episode sampler (MAML paper, section 5.2).

Few-shot classification follows the protocol of Vinyals et al. (2016) used by MAML (Finn et al. 2017,
section 5.2 and appendix A.1): a *task* is made by selecting N classes, giving the learner K labelled
instances of each (the support set) and asking it to classify Q further instances of each (the query set).
Labels are 0..N-1 *within* a task.  Which class receives which label is decided by a label scheme
(:mod:`metarl.supervised.augmentation`); the default, :class:`~metarl.supervised.augmentation.InterShuffle`,
draws the N classes freely and in random order, so the same class gets different labels in different tasks —
the label-permutation meta-augmentation that makes the task set mutually exclusive (Rajendran et al. 2020,
section 3).

>>> ds = load_digits_dataset()                                                   # doctest: +SKIP
>>> splits = ds.split({"train": 6, "test": None}, seed=0)                         # doctest: +SKIP
>>> sampler = EpisodeSampler(splits["test"], n_way=4, k_shot=1, q_queries=5,
...                          rng=np.random.default_rng(0))                        # doctest: +SKIP
>>> batch = sampler.sample(32)                  # TaskBatch: support_x [32, 4, 1, 8, 8], ...  # doctest: +SKIP
>>> nearest_neighbour_accuracy(batch).mean()                                      # doctest: +SKIP

Randomness comes only from the :class:`numpy.random.Generator` handed to the sampler (or the ``seed`` of
:meth:`ClassDataset.split`); global random state is never touched.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from metarl.supervised.augmentation import InterShuffle, LabelScheme, _check_int, _check_rng
from metarl.supervised.tasks import TaskBatch, TaskSource

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "ClassDataset",
    "EpisodeSampler",
    "load_digits_dataset",
    "nearest_neighbour_accuracy",
]


class ClassDataset:
    """Images indexed by class: ``images[c]`` is an array ``[n_c, H, W]`` of the instances of class ``c``.

    The few-shot datasets of this package (Glyphs, Omniglot, scikit-learn digits) are all of this form.
    Pixel values are ``uint8`` (0-255) or floating point already in ``[0, 1]``; the sampler returns
    ``float32`` in ``[0, 1]`` either way.  Ink is bright (high values) on a dark background, as in the
    MAML Omniglot pipeline.

    Classes may come in *groups* of classes that must never be separated by a split: the rotated copies
    of one Omniglot character (MAML section 5.2; Santoro et al. 2016) are four classes of one group, so a
    train/test split cannot put the 90° copy of a test character into the training set.  Without
    ``groups`` every class is its own group.

    :param images: one array ``[n_c, H, W]`` per class (``n_c >= 1``; the same ``H, W`` for all classes;
        ``n_c`` may differ), or a single array ``[C, n, H, W]``.
    :param names: a unique name per class (default ``"class0", "class1", ...``).
    :param groups: an integer group id per class (default: ``0..C-1``, every class alone).
    :param name: the dataset's name, used in error messages.
    :raises ValueError: on empty input, inconsistent shapes, float pixels outside ``[0, 1]``, duplicate
        names or a ``names``/``groups`` length that does not match the number of classes.
    :raises TypeError: on a pixel dtype that is neither ``uint8`` nor floating point.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] | np.ndarray,
        names: Sequence[str] | None = None,
        groups: ArrayLike | None = None,
        *,
        name: str = "dataset",
    ) -> None:
        self._name = str(name)
        arrays = [np.asarray(a) for a in images]
        if not arrays:
            raise ValueError(f"{self._name}: images is empty; a ClassDataset needs at least one class")
        first = arrays[0]
        if first.ndim != 3:
            raise ValueError(
                f"{self._name}: class 0 images must have shape [n_instances, H, W]; got shape {first.shape}"
            )
        dtype = first.dtype
        if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{self._name}: pixel dtype must be uint8 or floating point; got {dtype}")
        for c, arr in enumerate(arrays):
            if arr.ndim != 3 or arr.shape[1:] != first.shape[1:]:
                raise ValueError(
                    f"{self._name}: class {c} images have shape {arr.shape}; expected [n_instances, "
                    f"{first.shape[1]}, {first.shape[2]}] like class 0"
                )
            if arr.shape[0] < 1:
                raise ValueError(f"{self._name}: class {c} has no instances")
            if arr.dtype != dtype:
                raise TypeError(f"{self._name}: class {c} has dtype {arr.dtype}, class 0 has {dtype}")
            if dtype != np.uint8:
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{self._name}: class {c} has non-finite pixel values")
                lo, hi = float(arr.min()), float(arr.max())
                if lo < 0.0 or hi > 1.0:
                    raise ValueError(
                        f"{self._name}: float pixels must lie in [0, 1]; class {c} spans [{lo:g}, {hi:g}] "
                        "(divide by the maximum value, or pass uint8)"
                    )
        n_classes = len(arrays)
        counts = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        # One padded block [C, n_max, H, W] so that a meta-batch is gathered with a single fancy index.
        store_dtype = np.uint8 if dtype == np.uint8 else np.float32
        block = np.zeros((n_classes, int(counts.max()), *first.shape[1:]), dtype=store_dtype)
        for c, arr in enumerate(arrays):
            block[c, : arr.shape[0]] = arr
        block.flags.writeable = False
        self._images = block
        self._counts = counts
        self._counts.flags.writeable = False

        if names is None:
            names = [f"class{c}" for c in range(n_classes)]
        names = tuple(str(n) for n in names)
        if len(names) != n_classes:
            raise ValueError(f"{self._name}: got {len(names)} names for {n_classes} classes")
        if len(set(names)) != n_classes:
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"{self._name}: class names must be unique; {dup!r} occurs more than once")
        self._names = names

        if groups is None:
            group_arr = np.arange(n_classes, dtype=np.int64)
        else:
            group_arr = np.asarray(groups)
            if group_arr.shape != (n_classes,):
                raise ValueError(
                    f"{self._name}: groups must have shape ({n_classes},), one id per class; got {group_arr.shape}"
                )
            if not np.issubdtype(group_arr.dtype, np.integer):
                raise TypeError(f"{self._name}: groups must be integers; got dtype {group_arr.dtype}")
            group_arr = group_arr.astype(np.int64)
        group_arr.flags.writeable = False
        self._groups = group_arr

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_labelled(
        cls,
        images: ArrayLike,
        labels: ArrayLike,
        names: Mapping[int, str] | Sequence[str] | None = None,
        *,
        name: str = "dataset",
    ) -> ClassDataset:
        """Build from a flat labelled set: ``images [M, H, W]`` and integer ``labels [M]``.

        Classes are the sorted distinct labels.  ``names`` maps a label to its class name (a sequence is
        indexed by label); by default the name is ``str(label)``.
        """
        x = np.asarray(images)
        y = np.asarray(labels)
        if x.ndim != 3:
            raise ValueError(f"{name}: images must have shape [M, H, W]; got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{name}: labels must have shape ({x.shape[0]},), one per image; got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{name}: labels must be integers; got dtype {y.dtype}")
        classes = np.unique(y)
        per_class = [x[y == c] for c in classes]
        class_names = [str(c) if names is None else str(names[int(c)]) for c in classes]
        return cls(per_class, class_names, name=name)

    # ------------------------------------------------------------------ accessors
    @property
    def name(self) -> str:
        """The dataset's name (used in error messages)."""
        return self._name

    @property
    def n_classes(self) -> int:
        """Number of classes C."""
        return int(self._images.shape[0])

    def __len__(self) -> int:
        return self.n_classes

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of every image."""
        return (int(self._images.shape[2]), int(self._images.shape[3]))

    @property
    def counts(self) -> np.ndarray:
        """Number of instances per class, ``int64 [C]`` (read-only)."""
        return self._counts

    @property
    def names(self) -> tuple[str, ...]:
        """Class names, one per class."""
        return self._names

    @property
    def groups(self) -> np.ndarray:
        """Group id per class, ``int64 [C]`` (read-only); :meth:`split` never separates a group."""
        return self._groups

    @property
    def dtype(self) -> np.dtype:
        """Storage dtype: ``uint8`` (0-255) or ``float32`` (already in [0, 1])."""
        return self._images.dtype

    def class_images(self, index: int) -> np.ndarray:
        """The instances of class ``index`` as stored, ``[n_c, H, W]`` (read-only view)."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"class index must be an integer; got {type(index).__name__}")
        if not -self.n_classes <= index < self.n_classes:
            raise IndexError(
                f"class index {index} is out of range for {self._name} with {self.n_classes} classes"
            )
        return self._images[index, : self._counts[index]]

    def to_float(self, values: np.ndarray) -> np.ndarray:
        """Pixels of this dataset as ``float32`` in ``[0, 1]`` (uint8 is divided by 255)."""
        if self._images.dtype == np.uint8:
            return values.astype(np.float32) / np.float32(255.0)
        return values.astype(np.float32, copy=False)

    def gather(self, classes: np.ndarray, instances: np.ndarray) -> np.ndarray:
        """Stored pixels ``images[classes[i], instances[i]]`` with broadcasting (no bound checks beyond numpy's)."""
        return self._images[classes, instances]

    def __repr__(self) -> str:
        lo, hi = int(self._counts.min()), int(self._counts.max())
        per = f"{lo}" if lo == hi else f"{lo}-{hi}"
        return (
            f"ClassDataset(name={self._name!r}, classes={self.n_classes}, instances_per_class={per}, "
            f"image_shape={self.image_shape}, dtype={self._images.dtype})"
        )

    # ------------------------------------------------------------------ subsets and splits
    def subset(self, indices: ArrayLike, *, name: str | None = None) -> ClassDataset:
        """A new dataset holding the classes ``indices`` (in that order), with their names and groups."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise TypeError(f"indices must be a 1-D integer array; got dtype {idx.dtype}, shape {idx.shape}")
        if idx.size == 0:
            raise ValueError(f"{self._name}: a subset needs at least one class")
        bad = idx[(idx < 0) | (idx >= self.n_classes)]
        if bad.size:
            raise IndexError(
                f"class index {int(bad[0])} is out of range for {self._name} with {self.n_classes} classes"
            )
        arrays = [self._images[i, : self._counts[i]] for i in idx]
        return ClassDataset(
            arrays,
            [self._names[i] for i in idx],
            self._groups[idx],
            name=self._name if name is None else name,
        )

    def split(self, sizes: Mapping[str, int | float | None], seed: int) -> dict[str, ClassDataset]:
        """Split the classes into disjoint named subsets by a fixed seed (whole groups at a time).

        The groups are shuffled once with ``numpy.random.default_rng(seed)`` and dealt out in the order of
        ``sizes``; so the same seed always gives the same split, and splits never share a class or a group.

        :param sizes: subset name -> size, in *groups*: an ``int`` is a count, a ``float`` in ``(0, 1]`` a
            fraction of all groups (rounded), and ``None`` (at most one entry) takes every remaining group.
            Groups left over when no entry is ``None`` are not used.
        :param seed: the split seed.
        :return: ``{subset name: ClassDataset}``; each keeps its classes in the original order.
        :raises ValueError: if the sizes add up to more groups than exist, an entry is empty, or more than
            one entry is ``None``.
        """
        if not sizes:
            raise ValueError("sizes is empty; name at least one subset, e.g. {'train': 0.8, 'test': None}")
        _check_int(seed, "seed", 0)
        unique_groups = np.unique(self._groups)
        n_groups = unique_groups.size
        counts: dict[str, int | None] = {}
        for key, size in sizes.items():
            if size is None:
                counts[key] = None
            elif isinstance(size, bool):
                raise TypeError(
                    f"size of split {key!r} must be an int, a float fraction or None; got {size!r}"
                )
            elif isinstance(size, numbers.Integral):
                counts[key] = _check_int(size, f"size of split {key!r}", 1)
            elif isinstance(size, numbers.Real):
                if not 0.0 < float(size) <= 1.0:
                    raise ValueError(f"fraction for split {key!r} must be in (0, 1]; got {size!r}")
                counts[key] = round(float(size) * n_groups)
                if counts[key] == 0:
                    raise ValueError(
                        f"split {key!r}: fraction {size} of {n_groups} groups rounds to 0 groups"
                    )
            else:
                raise TypeError(
                    f"size of split {key!r} must be an int, a float fraction or None; got {size!r}"
                )
        n_rest = sum(1 for v in counts.values() if v is None)
        if n_rest > 1:
            raise ValueError("at most one split size may be None (the remainder)")
        fixed = sum(v for v in counts.values() if v is not None)
        if fixed > n_groups or (n_rest and fixed == n_groups):
            raise ValueError(
                f"split sizes {dict(sizes)} need {fixed}{' + at least 1' if n_rest else ''} groups but "
                f"{self._name} has only {n_groups}"
            )
        order = unique_groups[np.random.default_rng(seed).permutation(n_groups)]
        out: dict[str, ClassDataset] = {}
        start = 0
        for key, count in counts.items():
            stop = start + (n_groups - fixed if count is None else count)
            chosen = order[start:stop]
            start = stop
            (class_idx,) = np.nonzero(np.isin(self._groups, chosen))
            out[key] = self.subset(class_idx, name=f"{self._name}[{key}]")
        return out


class EpisodeSampler:
    """Meta-batches of N-way K-shot classification tasks as :class:`~metarl.supervised.tasks.TaskBatch`.

    One task (MAML section 5.2; Vinyals et al. 2016): the label scheme picks N classes and their label
    order (label ``j`` goes to the ``j``-th picked class), then ``K + Q`` distinct instances are drawn per
    class without replacement; the first K of each class form the support set, the other Q the query set.

    Output of :meth:`sample` for a meta-batch of T tasks (``float32`` images in ``[0, 1]``, ``int64`` labels):

    - ``support_x [T, N*K, 1, H, W]``, ``support_y [T, N*K]``
    - ``query_x   [T, N*Q, 1, H, W]``, ``query_y   [T, N*Q]``

    With ``shuffle=True`` the examples of each set come in a random order; with ``shuffle=False`` they are
    class-major (labels ``0,..,0, 1,..,1, ...``).

    :param dataset: the classes to draw from (e.g. the ``"train"`` split).
    :param n_way: N, classes per task.
    :param k_shot: K, support examples per class.
    :param q_queries: Q, query examples per class (MAML A.1 uses 15 for MiniImagenet).
    :param rng: the generator every draw comes from, unless a call passes its own ``rng`` (as the learner's
        ``fit`` does through :meth:`sampler`); ``None`` means every call must pass one.
    :param labels: the label scheme (:mod:`metarl.supervised.augmentation`); default
        :class:`~metarl.supervised.augmentation.InterShuffle` (the standard protocol).
    :param shuffle: randomise the order of examples within the support and the query set.
    :raises ValueError: if ``n_way`` exceeds the number of classes, or some class has fewer than
        ``k_shot + q_queries`` instances (the message names it), or the label scheme is for another N or
        another number of classes.
    """

    def __init__(
        self,
        dataset: ClassDataset,
        n_way: int,
        k_shot: int,
        q_queries: int,
        rng: np.random.Generator | None = None,
        *,
        labels: LabelScheme | None = None,
        shuffle: bool = True,
    ) -> None:
        if not isinstance(dataset, ClassDataset):
            raise TypeError(f"dataset must be a ClassDataset; got {type(dataset).__name__}")
        self._n_way = _check_int(n_way, "n_way", 1)
        self._k_shot = _check_int(k_shot, "k_shot", 1)
        self._q_queries = _check_int(q_queries, "q_queries", 1)
        self._rng = None if rng is None else _check_rng(rng)
        if self._n_way > dataset.n_classes:
            raise ValueError(
                f"n_way={self._n_way} is larger than the number of classes of {dataset.name} "
                f"({dataset.n_classes})"
            )
        need = self._k_shot + self._q_queries
        fewest = int(np.argmin(dataset.counts))
        if dataset.counts[fewest] < need:
            short = int(np.count_nonzero(dataset.counts < need))
            raise ValueError(
                f"k_shot + q_queries = {self._k_shot} + {self._q_queries} = {need} instances per class are "
                f"needed, but class {dataset.names[fewest]!r} of {dataset.name} has only "
                f"{int(dataset.counts[fewest])} ({short} of {dataset.n_classes} classes have fewer than {need})"
            )
        self._labels: LabelScheme = InterShuffle(self._n_way) if labels is None else labels
        scheme_way = getattr(self._labels, "n_way", None)
        if scheme_way != self._n_way:
            raise ValueError(
                f"label scheme {self._labels!r} is for n_way={scheme_way}, the sampler for {self._n_way}"
            )
        self._labels.check_n_classes(dataset.n_classes)
        self._dataset = dataset
        self._shuffle = bool(shuffle)

    @property
    def dataset(self) -> ClassDataset:
        return self._dataset

    @property
    def n_way(self) -> int:
        return self._n_way

    @property
    def k_shot(self) -> int:
        return self._k_shot

    @property
    def q_queries(self) -> int:
        return self._q_queries

    @property
    def labels(self) -> LabelScheme:
        """The label scheme deciding which classes form a task and in which label order."""
        return self._labels

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        if rng is not None:
            return _check_rng(rng)
        if self._rng is None:
            raise ValueError("this EpisodeSampler was built without rng; pass rng= to the call")
        return self._rng

    def sample_classes(self, n_tasks: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Class indices ``int64 [n_tasks, N]`` of ``n_tasks`` tasks; column ``j`` is the class labelled ``j``."""
        n_tasks = _check_int(n_tasks, "n_tasks", 1)
        gen = self._generator(rng)
        classes = np.asarray(
            self._labels.sample_classes(self._dataset.n_classes, n_tasks, gen), dtype=np.int64
        )
        if classes.shape != (n_tasks, self._n_way):
            raise ValueError(
                f"label scheme {self._labels!r} returned classes of shape {classes.shape}; "
                f"expected ({n_tasks}, {self._n_way})"
            )
        return classes

    def make_batch(self, classes: ArrayLike, rng: np.random.Generator | None = None) -> TaskBatch:
        """The :class:`TaskBatch` of tasks whose label ``j`` is class ``classes[t, j]`` (instances drawn here)."""
        cls = np.asarray(classes)
        if cls.ndim != 2 or cls.shape[1] != self._n_way or cls.shape[0] < 1:
            raise ValueError(f"classes must have shape [n_tasks, n_way={self._n_way}]; got {cls.shape}")
        if not np.issubdtype(cls.dtype, np.integer):
            raise TypeError(f"classes must be integer class indices; got dtype {cls.dtype}")
        if cls.min() < 0 or cls.max() >= self._dataset.n_classes:
            raise ValueError(
                f"class indices must lie in [0, {self._dataset.n_classes}); got {cls.min()}..{cls.max()}"
            )
        for t, row in enumerate(cls):
            if np.unique(row).size != row.size:
                raise ValueError(
                    f"task {t} repeats a class: {row.tolist()}; the N classes of a task must differ"
                )
        n_tasks, n, k, q = cls.shape[0], self._n_way, self._k_shot, self._q_queries
        ds = self._dataset
        gen = self._generator(rng)
        # K+Q distinct instances per (task, class): the first K+Q of a random ordering of that class's
        # instances; padded slots (beyond the class's count) get key +inf so they sort last.
        counts = ds.counts[cls]  # [T, N]
        n_max = int(ds.counts.max())
        keys = gen.random((n_tasks, n, n_max))
        keys[np.arange(n_max)[None, None, :] >= counts[..., None]] = np.inf
        inst = np.argsort(keys, axis=-1)[..., : k + q]  # [T, N, K+Q]
        pixels = ds.to_float(ds.gather(cls[..., None], inst))  # [T, N, K+Q, H, W]
        h, w = ds.image_shape
        support = pixels[:, :, :k].reshape(n_tasks, n * k, 1, h, w)
        query = pixels[:, :, k:].reshape(n_tasks, n * q, 1, h, w)
        support_y = np.repeat(np.arange(n), k)[None].repeat(n_tasks, axis=0)
        query_y = np.repeat(np.arange(n), q)[None].repeat(n_tasks, axis=0)
        if self._shuffle:
            s_order = np.argsort(gen.random((n_tasks, n * k)), axis=1)
            q_order = np.argsort(gen.random((n_tasks, n * q)), axis=1)
            rows = np.arange(n_tasks)[:, None]
            support, support_y = support[rows, s_order], support_y[rows, s_order]
            query, query_y = query[rows, q_order], query_y[rows, q_order]
        return TaskBatch(
            support_x=torch.from_numpy(np.ascontiguousarray(support)),
            support_y=torch.from_numpy(np.ascontiguousarray(support_y)).long(),
            query_x=torch.from_numpy(np.ascontiguousarray(query)),
            query_y=torch.from_numpy(np.ascontiguousarray(query_y)).long(),
        )

    def sample(self, n_tasks: int, rng: np.random.Generator | None = None) -> TaskBatch:
        """A meta-batch of ``n_tasks`` tasks: :meth:`sample_classes` then :meth:`make_batch`.

        :param rng: draw from this generator instead of the sampler's own.
        """
        gen = self._generator(rng)
        return self.make_batch(self.sample_classes(n_tasks, gen), gen)

    def sampler(self, n_tasks: int) -> TaskSource:
        """A :data:`~metarl.supervised.tasks.TaskSource` (``rng -> TaskBatch``) of meta-batches of
        ``n_tasks`` tasks, drawing from the generator it is called with (for the learner's ``fit``)."""
        n_tasks = _check_int(n_tasks, "n_tasks", 1)

        def source(rng: np.random.Generator) -> TaskBatch:
            return self.sample(n_tasks, rng)

        return source

    def __repr__(self) -> str:
        return (
            f"EpisodeSampler({self._dataset.name}, n_way={self._n_way}, k_shot={self._k_shot}, "
            f"q_queries={self._q_queries}, labels={self._labels!r})"
        )


def nearest_neighbour_accuracy(batch: TaskBatch) -> torch.Tensor:
    """Per-task accuracy of the pixel-space 1-nearest-neighbour classifier, ``float [T]``.

    Every query image gets the label of the support image at the smallest Euclidean pixel distance (the
    first one on ties).  It needs no training, so it measures how hard a benchmark is *before* any
    learning: a meta-learner should beat it by a wide margin on held-out classes.

    :param batch: a classification :class:`TaskBatch` (``support_x [T, S, ...]``, ``support_y [T, S]``,
        ``query_x [T, Q, ...]``, ``query_y [T, Q]``).
    :raises ValueError: on inconsistent shapes (:meth:`TaskBatch.validate`) or non-integer labels.
    """
    batch.validate()
    sx, sy, qx, qy = batch.support_x, batch.support_y, batch.query_x, batch.query_y
    for name, y in (("support_y", sy), ("query_y", qy)):
        if y.ndim != 2 or torch.is_floating_point(y):
            raise ValueError(
                f"{name} must hold integer class labels of shape [T, n]; got {y.dtype} {tuple(y.shape)}"
            )
    n_tasks = sx.shape[0]
    s = sx.reshape(n_tasks, sx.shape[1], -1).double()
    q = qx.reshape(n_tasks, qx.shape[1], -1).double()
    dist = torch.cdist(q, s)  # [T, Q, S]
    nearest = dist.argmin(dim=-1)  # [T, Q]
    predicted = torch.gather(sy, 1, nearest)
    return (predicted == qy).double().mean(dim=1)


def load_digits_dataset() -> ClassDataset:
    """scikit-learn's handwritten digits (shipped in its wheel, nothing downloaded) as a tiny sanity set.

    1,797 images of 8x8 pixels in 10 classes (about 180 per class), scaled from 0-16 to ``float32`` in
    ``[0, 1]``.  Handy for fast tests of a few-shot pipeline; too few classes for a real meta-learning
    benchmark.

    scikit-learn is an optional dependency (the ``digits`` extra), imported only here.

    :raises ImportError: if scikit-learn is not installed (the message names the extra to install).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            'the digits dataset needs scikit-learn, an optional dependency: pip install "metarl[digits]"'
        ) from exc
    digits = load_digits()
    images = (np.asarray(digits.images, dtype=np.float32) / np.float32(16.0)).clip(0.0, 1.0)
    return ClassDataset.from_labelled(images, np.asarray(digits.target, dtype=np.int64), name="digits")
