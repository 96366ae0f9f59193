"""Meta-augmentation (Rajendran, Irpan & Jang 2020): CE-increasing task transforms and the NME sinusoid.

An augmentation draws independent random bits ε and maps ``(x, y) -> (x', y') = f(ε, x, y)``.  It is
*CE-increasing* when it raises the conditional entropy H(Y'|X') (section 3).  The augmentations here are of
the form ``y' = g(ε, y)`` with ``g`` invertible given ``y`` and ONE ε per task, applied to the support *and*
the query targets, so the learner can only recover ε — and hence predict the query — from the support set
(Theorem 1: H(Y'|X) = H(Y|X) + H(ε)).  This turns a non-mutually-exclusive task set, which a single model
could solve by memorisation while ignoring the support set, into a mutually-exclusive one.

Classification label schemes (section 5.1, Fig. 3), used as the ``labels=`` of
:class:`metarl.supervised.data.EpisodeSampler`:

- :class:`NonMutuallyExclusive` — the classes are partitioned once (by a seed) into groups of N; a task is
  one group with a FIXED label order, so a class always gets the same label (no augmentation; memorisable).
- :class:`IntraShuffle` — the same fixed groups, but the label order is permuted per task (ε = a permutation).
- :class:`InterShuffle` — N classes drawn freely and labelled in random order per task: the standard
  protocol (Vinyals et al. 2016, MAML section 5.2) and the one the paper recommends.

:func:`permute_labels` applies ``g(ε, y) = ε(y)`` with a random permutation ε per task to any classification
:class:`~metarl.supervised.tasks.TaskBatch`.

Regression (section 5.2): :func:`add_target_noise` adds one ε per task to all of its support and query
targets, ``y' = y + ε``, with ε from :class:`UniformNoise` (``U[-a, a]``) or :class:`DiscreteNoise` (a finite
set such as ``{0, .25, .5, .75}``, used for Pascal3D pose regression).  :class:`NMESinusoid` is the
non-mutually-exclusive sinusoid benchmark of section 5.2: ten disjoint x-intervals, each with its own fixed
sine ``y = A sin(x - φ)``.

Every random draw comes from a :class:`numpy.random.Generator` passed by the caller; fixed structure (the
class partition, the sinusoids' amplitudes and phases) is drawn once from its own ``seed``.  (The public
reference code re-seeds numpy on every training batch, so all its batches are identical; nothing here does.)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch

from metarl.supervised.tasks import TaskBatch, TaskSource

__all__ = [
    "NME_INTERVAL_STARTS",
    "NME_INTERVAL_WIDTH",
    "NME_SPLITS",
    "DiscreteNoise",
    "InterShuffle",
    "IntraShuffle",
    "LabelScheme",
    "LabelSchemeName",
    "NMESinusoid",
    "NonMutuallyExclusive",
    "TargetNoise",
    "UniformNoise",
    "add_target_noise",
    "make_label_scheme",
    "permute_labels",
    "shift_targets",
]


def _check_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a TypeError/ValueError naming ``name`` (shared with data.py)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {int(value)}")
    return int(value)


def _check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); "
            f"got {type(rng).__name__}"
        )
    return rng


# ====================================================================== classification label schemes
@runtime_checkable
class LabelScheme(Protocol):
    """Decides which N classes form a task and which class gets which label (label ``j`` -> column ``j``)."""

    @property
    def n_way(self) -> int:
        """N, classes per task."""
        ...

    def check_n_classes(self, n_classes: int) -> None:
        """Raise ``ValueError`` if the scheme cannot serve a dataset of ``n_classes`` classes."""
        ...

    def sample_classes(self, n_classes: int, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        """Class indices ``int64 [n_tasks, n_way]``: task ``t`` labels class ``out[t, j]`` as ``j``."""
        ...


class InterShuffle:
    """Classes drawn freely per task, without replacement within a task, in a random label order.

    The default few-shot protocol (MAML section 5.2); in Rajendran et al. (section 5.1) *intershuffle*: over
    training an image is given many different labels, so the task set is mutually exclusive, and classes
    meet many different negative classes.

    :param n_way: N, classes per task.
    """

    def __init__(self, n_way: int) -> None:
        self._n_way = _check_int(n_way, "n_way", 1)

    @property
    def n_way(self) -> int:
        return self._n_way

    def check_n_classes(self, n_classes: int) -> None:
        if n_classes < self._n_way:
            raise ValueError(f"n_way={self._n_way} is larger than the number of classes ({n_classes})")

    def sample_classes(self, n_classes: int, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        self.check_n_classes(n_classes)
        _check_rng(rng)
        # Generator.choice without replacement returns the picks in random order: that order is the labelling.
        return np.stack(
            [rng.choice(n_classes, size=self._n_way, replace=False) for _ in range(n_tasks)]
        ).astype(np.int64)

    def __repr__(self) -> str:
        return f"InterShuffle(n_way={self._n_way})"


class NonMutuallyExclusive:
    """A fixed partition of the classes into groups of N with a FIXED label order (Rajendran et al. 5.1).

    The classes are shuffled once with ``numpy.random.default_rng(seed)`` and cut into
    ``n_classes // n_way`` groups; the ``n_classes % n_way`` classes left over are never used
    (:attr:`unused_classes`).  A task is a group drawn uniformly; label ``j`` always goes to the group's
    ``j``-th class, so a class has the same label in every task and a single model can solve all training
    tasks without looking at the support set (memorisation overfitting).

    :param n_classes: number of classes of the dataset this scheme serves.
    :param n_way: N, classes per task.
    :param seed: seed of the partition.
    """

    def __init__(self, n_classes: int, n_way: int, seed: int = 0) -> None:
        self._n_classes = _check_int(n_classes, "n_classes", 1)
        self._n_way = _check_int(n_way, "n_way", 1)
        if self._n_way > self._n_classes:
            raise ValueError(f"n_way={self._n_way} is larger than the number of classes ({self._n_classes})")
        self._seed = _check_int(seed, "seed", 0)
        order = np.random.default_rng(self._seed).permutation(self._n_classes)
        n_groups = self._n_classes // self._n_way
        groups = order[: n_groups * self._n_way].reshape(n_groups, self._n_way).astype(np.int64)
        groups.flags.writeable = False
        self._groups = groups
        unused = np.sort(order[n_groups * self._n_way :]).astype(np.int64)
        unused.flags.writeable = False
        self._unused = unused

    @property
    def n_way(self) -> int:
        return self._n_way

    @property
    def n_classes(self) -> int:
        return self._n_classes

    @property
    def groups(self) -> np.ndarray:
        """The partition, ``int64 [n_groups, n_way]``; row ``g`` in its fixed label order (read-only)."""
        return self._groups

    @property
    def unused_classes(self) -> np.ndarray:
        """Classes left out of the partition (fewer than ``n_way``), sorted."""
        return self._unused

    def check_n_classes(self, n_classes: int) -> None:
        if n_classes != self._n_classes:
            raise ValueError(
                f"{type(self).__name__} was built for n_classes={self._n_classes}; the dataset has {n_classes}"
            )

    def _draw_groups(self, n_classes: int, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        self.check_n_classes(n_classes)
        _check_rng(rng)
        return self._groups[rng.integers(self._groups.shape[0], size=n_tasks)]

    def sample_classes(self, n_classes: int, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        return self._draw_groups(n_classes, n_tasks, rng).copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_classes={self._n_classes}, n_way={self._n_way}, seed={self._seed})"


class IntraShuffle(NonMutuallyExclusive):
    """The fixed groups of :class:`NonMutuallyExclusive`, with the label order permuted per task (5.1).

    Same classes per task as the non-mutually-exclusive setting; only the label order varies, which makes
    the task set mutually exclusive with less variety than :class:`InterShuffle`.

    :param n_classes: number of classes of the dataset this scheme serves.
    :param n_way: N, classes per task.
    :param seed: seed of the partition (the per-task permutations come from the sampling generator).
    """

    def sample_classes(self, n_classes: int, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        groups = self._draw_groups(n_classes, n_tasks, rng)
        perms = np.argsort(rng.random(groups.shape), axis=1)  # one uniform permutation of S_N per task
        return np.take_along_axis(groups, perms, axis=1)


LabelSchemeName = Literal["non_mutually_exclusive", "intrashuffle", "intershuffle"]


def make_label_scheme(name: LabelSchemeName, n_classes: int, n_way: int, seed: int = 0) -> LabelScheme:
    """The label scheme called ``name`` for a dataset of ``n_classes`` classes (``seed``: the partition's)."""
    if name == "intershuffle":
        scheme: LabelScheme = InterShuffle(n_way)
        scheme.check_n_classes(n_classes)
        return scheme
    if name == "intrashuffle":
        return IntraShuffle(n_classes, n_way, seed)
    if name == "non_mutually_exclusive":
        return NonMutuallyExclusive(n_classes, n_way, seed)
    raise ValueError(
        f"unknown label scheme {name!r}; choose 'non_mutually_exclusive', 'intrashuffle' or 'intershuffle'"
    )


def _check_labels(y: torch.Tensor, name: str, n_way: int) -> None:
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} must hold integer class labels; got dtype {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_way):
        raise ValueError(f"{name} labels must lie in [0, {n_way}); got {int(y.min())}..{int(y.max())}")


def permute_labels(batch: TaskBatch, n_way: int, rng: np.random.Generator) -> TaskBatch:
    """Relabel each task with its own uniformly random permutation ε of ``0..n_way-1``: ``y' = ε(y)``.

    The same ε maps the support and the query labels of a task (section 3: "labels y_s, y_q are encrypted
    to y'_s, y'_q with the same random key ε").  Images are shared, not copied.

    :param batch: a classification batch with labels ``support_y [T, S]`` and ``query_y [T, Q]`` in ``[0, n_way)``.
    :param n_way: N.
    :param rng: generator of the permutations.
    """
    n_way = _check_int(n_way, "n_way", 1)
    _check_rng(rng)
    sy, qy = batch.support_y, batch.query_y
    if sy.ndim != 2 or qy.ndim != 2 or sy.shape[0] != qy.shape[0]:
        raise ValueError(
            f"support_y and query_y must have shapes [T, S] and [T, Q]; got {tuple(sy.shape)} and {tuple(qy.shape)}"
        )
    _check_labels(sy, "support_y", n_way)
    _check_labels(qy, "query_y", n_way)
    perms = torch.from_numpy(np.argsort(rng.random((sy.shape[0], n_way)), axis=1)).to(sy.device)
    return batch._replace(
        support_y=torch.gather(perms, 1, sy.long()).to(sy.dtype),
        query_y=torch.gather(perms, 1, qy.long()).to(qy.dtype),
    )


# ====================================================================== regression target noise
@runtime_checkable
class TargetNoise(Protocol):
    """A distribution of the per-task additive target offset ε."""

    def sample(self, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        """``float64 [n_tasks]``: one ε per task."""
        ...


@dataclass(frozen=True)
class UniformNoise:
    """ε ~ U[-half_width, half_width], one per task (section 5.2; sinusoid: ``half_width=1``)."""

    half_width: float = 1.0
    """a: the offset's range is ``[-a, a]`` (a > 0)"""

    def __post_init__(self) -> None:
        if (
            not isinstance(self.half_width, numbers.Real)
            or not math.isfinite(self.half_width)
            or self.half_width <= 0
        ):
            raise ValueError(f"UniformNoise.half_width must be a finite number > 0; got {self.half_width!r}")

    def sample(self, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        n_tasks = _check_int(n_tasks, "n_tasks", 1)
        return _check_rng(rng).uniform(-self.half_width, self.half_width, size=n_tasks)


@dataclass(frozen=True)
class DiscreteNoise:
    """ε drawn uniformly from a finite set, one per task (section 5.2 / App. C: ``{0, .25, .5, .75}``).

    With n values H(ε) = log2 n bits (Theorem 1); the paper found a few discrete values regularise
    MAML on Pascal3D without the underfitting that continuous noise caused.
    """

    values: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    """the possible offsets (at least one, finite, distinct)"""

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.values)
        if not values:
            raise ValueError("DiscreteNoise.values is empty; give at least one offset")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"DiscreteNoise.values must be finite; got {values}")
        if len(set(values)) != len(values):
            raise ValueError(f"DiscreteNoise.values must be distinct; got {values}")
        object.__setattr__(self, "values", values)

    def sample(self, n_tasks: int, rng: np.random.Generator) -> np.ndarray:
        n_tasks = _check_int(n_tasks, "n_tasks", 1)
        return np.asarray(self.values, dtype=np.float64)[
            _check_rng(rng).integers(len(self.values), size=n_tasks)
        ]


def shift_targets(batch: TaskBatch, eps: np.ndarray | torch.Tensor | Sequence[float]) -> TaskBatch:
    """``y'_s = y_s + ε_t``, ``y'_q = y_q + ε_t`` for every task ``t``: the same offset for support and query.

    :param batch: a regression batch with float targets ``support_y [T, K, ...]`` and ``query_y [T, Q, ...]``.
    :param eps: one offset per task, shape ``[T]``.
    :raises TypeError: if the targets are not floating point (a classification batch needs
        :func:`permute_labels` instead).
    :raises ValueError: on shapes that do not match.
    """
    sy, qy = batch.support_y, batch.query_y
    for name, y in (("support_y", sy), ("query_y", qy)):
        if not torch.is_floating_point(y):
            raise TypeError(
                f"{name} has dtype {y.dtype}; target noise needs float regression targets "
                "(for class labels use permute_labels)"
            )
        if y.ndim < 2:
            raise ValueError(f"{name} must have shape [T, n, ...]; got {tuple(y.shape)}")
    if sy.shape[0] != qy.shape[0]:
        raise ValueError(f"support_y and query_y hold {sy.shape[0]} and {qy.shape[0]} tasks; they must agree")
    n_tasks = sy.shape[0]
    eps_t = torch.as_tensor(np.asarray(eps, dtype=np.float64) if not isinstance(eps, torch.Tensor) else eps)
    if eps_t.shape != (n_tasks,):
        raise ValueError(f"eps must have shape ({n_tasks},), one offset per task; got {tuple(eps_t.shape)}")
    return batch._replace(
        support_y=sy + eps_t.to(sy).reshape(n_tasks, *([1] * (sy.ndim - 1))),
        query_y=qy + eps_t.to(qy).reshape(n_tasks, *([1] * (qy.ndim - 1))),
    )


def add_target_noise(batch: TaskBatch, noise: TargetNoise, rng: np.random.Generator) -> TaskBatch:
    """CE-increasing regression augmentation (section 3): ε drawn once per task from ``noise`` and added to
    all of that task's support and query targets (:func:`shift_targets`).

    :param batch: a regression batch with float targets ``support_y [T, K, ...]`` and ``query_y [T, Q, ...]``.
    :param noise: the distribution of ε (:class:`UniformNoise`, :class:`DiscreteNoise`, ...).
    :param rng: generator of the ε draws.
    """
    n_tasks = batch.support_y.shape[0] if batch.support_y.ndim else 0
    return shift_targets(batch, noise.sample(n_tasks, rng))


# ====================================================================== NME sinusoid (section 5.2)
#: Left ends of the ten x-intervals of the NME sinusoid, in task order (intervals 0-5 train, 6-7 val, 8-9 test).
NME_INTERVAL_STARTS: tuple[float, ...] = (4.0, -1.0, -2.0, 1.0, 3.0, -3.0, -5.0, 2.0, 0.0, -4.0)
#: Width of every interval: [-5, -4.5], [-4, -3.5], ..., [4, 4.5] (Rajendran et al. 5.2).
NME_INTERVAL_WIDTH: float = 0.5
#: Which intervals (tasks) belong to which split.
NME_SPLITS: dict[str, tuple[int, ...]] = {"train": (0, 1, 2, 3, 4, 5), "val": (6, 7), "test": (8, 9)}

NMESplit = Literal["train", "val", "test"]


class NMESinusoid:
    """The non-mutually-exclusive sinusoid benchmark (Rajendran et al. 2020, section 5.2).

    The domain [-5, 5] holds ten disjoint intervals of width 0.5 starting at
    ``[4, -1, -2, 1, 3, -3, -5, 2, 0, -4]``; interval ``i`` is task ``i`` with its own sine
    ``y = A_i sin(x - φ_i)``, ``A_i ~ U[0.1, 5]``, ``φ_i ~ U[0, π]`` drawn ONCE from ``seed``.  Intervals 0-5
    are meta-training tasks, 6-7 validation, 8-9 test.  Because the intervals are disjoint one continuous
    function fits all training tasks, so MAML can memorise them (x alone reveals the task) and ignore the
    support set.  The meta-augmentation of section 5.2 adds one ε ~ U[-1, 1] per task to all its support and
    query targets: pass ``noise=UniformNoise(1.0)`` for training batches.

    Batches: ``support_x, support_y [T, K, 1]``, ``query_x, query_y [T, Q, 1]`` (``float32``), x uniform in
    the task's interval.

    :param seed: seed of the ten (amplitude, phase) pairs.
    :param amplitude_range: range of A (MAML's sinusoid range by default).
    :param phase_range: range of φ.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        amplitude_range: tuple[float, float] = (0.1, 5.0),
        phase_range: tuple[float, float] = (0.0, math.pi),
    ) -> None:
        self._seed = _check_int(seed, "seed", 0)
        for name, (lo, hi) in (("amplitude_range", amplitude_range), ("phase_range", phase_range)):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"{name} must be finite with low <= high; got {(lo, hi)}")
        rng = np.random.default_rng(self._seed)
        n = len(NME_INTERVAL_STARTS)
        self._amplitudes = rng.uniform(*amplitude_range, size=n)
        self._phases = rng.uniform(*phase_range, size=n)
        self._starts = np.asarray(NME_INTERVAL_STARTS, dtype=np.float64)
        for arr in (self._amplitudes, self._phases, self._starts):
            arr.flags.writeable = False

    @property
    def n_tasks(self) -> int:
        """Number of fixed tasks (intervals): 10."""
        return len(NME_INTERVAL_STARTS)

    @property
    def amplitudes(self) -> np.ndarray:
        """A_i per interval (read-only)."""
        return self._amplitudes

    @property
    def phases(self) -> np.ndarray:
        """φ_i per interval (read-only)."""
        return self._phases

    @staticmethod
    def split_tasks(split: NMESplit) -> tuple[int, ...]:
        """The interval indices of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        if split not in NME_SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {sorted(NME_SPLITS)}")
        return NME_SPLITS[split]

    def interval(self, task: int) -> tuple[float, float]:
        """``(low, high)`` of interval ``task``."""
        task = self._check_task(task)
        lo = float(self._starts[task])
        return lo, lo + NME_INTERVAL_WIDTH

    def function(self, task: int, x: np.ndarray) -> np.ndarray:
        """The noiseless target ``A_task sin(x - φ_task)``."""
        task = self._check_task(task)
        return self._amplitudes[task] * np.sin(np.asarray(x, dtype=np.float64) - self._phases[task])

    def _check_task(self, task: int) -> int:
        task = _check_int(task, "task", 0)
        if task >= self.n_tasks:
            raise ValueError(f"task {task} is out of range; the NME sinusoid has tasks 0..{self.n_tasks - 1}")
        return task

    def sample_tasks(self, n_tasks: int, rng: np.random.Generator, split: NMESplit = "train") -> np.ndarray:
        """``n_tasks`` interval indices drawn uniformly (with replacement) from ``split``'s intervals."""
        n_tasks = _check_int(n_tasks, "n_tasks", 1)
        pool = np.asarray(self.split_tasks(split), dtype=np.int64)
        return pool[_check_rng(rng).integers(pool.size, size=n_tasks)]

    def make_batch(
        self,
        tasks: Sequence[int] | np.ndarray,
        k_support: int,
        k_query: int,
        rng: np.random.Generator,
        noise: TargetNoise | None = None,
    ) -> TaskBatch:
        """A :class:`TaskBatch` for the given interval indices; with ``noise``, one ε per task is added to
        all of that task's support and query targets (:func:`add_target_noise`)."""
        k_support = _check_int(k_support, "k_support", 1)
        k_query = _check_int(k_query, "k_query", 1)
        _check_rng(rng)
        idx = np.asarray(tasks)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"tasks must be a non-empty 1-D sequence of interval indices; got {idx!r}")
        if idx.min() < 0 or idx.max() >= self.n_tasks:
            raise ValueError(f"task indices must lie in [0, {self.n_tasks}); got {idx.min()}..{idx.max()}")
        n = k_support + k_query
        lo = self._starts[idx][:, None]
        x = lo + NME_INTERVAL_WIDTH * rng.random((idx.size, n))
        y = self._amplitudes[idx][:, None] * np.sin(x - self._phases[idx][:, None])
        x_t = torch.from_numpy(x.astype(np.float32)).unsqueeze(-1)
        y_t = torch.from_numpy(y.astype(np.float32)).unsqueeze(-1)
        batch = TaskBatch(
            support_x=x_t[:, :k_support].contiguous(),
            support_y=y_t[:, :k_support].contiguous(),
            query_x=x_t[:, k_support:].contiguous(),
            query_y=y_t[:, k_support:].contiguous(),
        )
        if noise is not None:
            batch = add_target_noise(batch, noise, rng)
        return batch

    def sample(
        self,
        n_tasks: int,
        k_support: int,
        k_query: int,
        rng: np.random.Generator,
        *,
        split: NMESplit = "train",
        noise: TargetNoise | None = None,
    ) -> TaskBatch:
        """A meta-batch: :meth:`sample_tasks` then :meth:`make_batch`.  Use ``noise=UniformNoise(1.0)`` for
        the augmented training batches of section 5.2, no noise for validation and test."""
        return self.make_batch(self.sample_tasks(n_tasks, rng, split), k_support, k_query, rng, noise)

    def sampler(
        self,
        n_tasks: int,
        k_support: int,
        k_query: int,
        *,
        split: NMESplit = "train",
        noise: TargetNoise | None = None,
    ) -> TaskSource:
        """A :data:`~metarl.supervised.tasks.TaskSource` (``rng -> TaskBatch``) of :meth:`sample` batches,
        e.g. ``NMESinusoid().sampler(25, 10, 10, noise=UniformNoise(1.0))`` for augmented MAML training."""
        _check_int(n_tasks, "n_tasks", 1)
        _check_int(k_support, "k_support", 1)
        _check_int(k_query, "k_query", 1)
        self.split_tasks(split)

        def source(rng: np.random.Generator) -> TaskBatch:
            return self.sample(n_tasks, k_support, k_query, rng, split=split, noise=noise)

        return source

    def __repr__(self) -> str:
        return f"NMESinusoid(seed={self._seed})"
