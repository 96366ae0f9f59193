"""Supervised task distributions for meta-learning: the task-batch type and the sinusoid regression tasks.

A *task batch* is what one meta-iteration (MAML Alg. 2 lines 3-8) or one evaluation consumes: N tasks, each
with a support set D_i (the K examples of the inner gradient step, Alg. 2 line 5) and a query set D'_i (the
examples of the meta-objective, Alg. 2 line 8), stored as tensors with a leading task dimension N so that a
whole meta-batch is adapted in one vectorised call (:mod:`metarl.supervised.learner`).

Sinusoid regression (MAML paper 5.1): each task is y = A sin(x − φ) with amplitude A ~ U[0.1, 5.0],
phase φ ~ U[0, π] and inputs x ~ U[−5, 5]; the loss is the mean-squared error.  Evaluation (5.1, App. B):
600 held-out tasks, K ∈ {5, 10, 20} support points that are reused for *every* adaptation step, and the error
measured on held-out query points (100 here) after 0..10 steps.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from metarl.seeding import derive_seed

__all__ = [
    "SINUSOID_EVAL_QUERY",
    "SINUSOID_EVAL_TASKS",
    "SinusoidEvaluationSet",
    "SinusoidParams",
    "SinusoidTasks",
    "TaskBatch",
    "TaskSource",
    "with_task_inputs",
]

#: Held-out tasks of the sinusoid evaluation protocol (MAML 5.1: "600 tasks"; the 95% CIs are over them).
SINUSOID_EVAL_TASKS = 600
#: Query points per evaluation task on which the post-adaptation MSE is measured.
SINUSOID_EVAL_QUERY = 100


def _check_count(value: Any, name: str, minimum: int = 1) -> int:
    """An int ``>= minimum`` (bools refused), else a ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. metarl.seeding.make_rng(seed)); got {type(rng).__name__}. "
            "Task sampling never uses the global numpy RNG."
        )
    return rng


def move_tensors(
    values: Iterable[torch.Tensor], device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> list[torch.Tensor]:
    """``values`` moved to ``device`` (None: kept), floating-point ones cast to ``dtype`` (integer labels stay)."""
    out = []
    for value in values:
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype=dtype)
        if device is not None:
            value = value.to(device=device)
        out.append(value)
    return out


class TaskBatch(NamedTuple):
    """N tasks, each with a support set (inner-loop data) and a query set (meta-objective data).

    Shapes (N tasks, K support and Q query examples per task, the same for every task of the batch):

    ==============  ===================  ===========================================================
    ``support_x``   ``[N, K, *x_shape]``  inputs of the inner gradient steps (MAML Alg. 2 line 5, D_i)
    ``support_y``   ``[N, K, *y_shape]``  their targets: float values (regression) or int64 class ids
    ``query_x``     ``[N, Q, *x_shape]``  inputs of the meta-objective (Alg. 2 line 8, D'_i)
    ``query_y``     ``[N, Q, *y_shape]``  their targets
    ==============  ===================  ===========================================================

    For N-way K-shot classification, K counts all support examples of a task (``n_way * k_shot``) and the
    targets are int64 class indices in ``[0, n_way)`` with ``y_shape = ()``.  For sinusoid regression
    ``x_shape = y_shape = (1,)``.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor

    @property
    def n_tasks(self) -> int:
        """N, the number of tasks."""
        return int(self.support_x.shape[0])

    @property
    def k_support(self) -> int:
        """K, the support examples per task."""
        return int(self.support_x.shape[1])

    @property
    def k_query(self) -> int:
        """Q, the query examples per task."""
        return int(self.query_x.shape[1])

    def validate(self) -> TaskBatch:
        """Check the shapes described in the class docstring; return ``self``.

        :raises TypeError: if a field is not a tensor.
        :raises ValueError: naming the field and shapes when the task dimension, K/Q or the per-example
            shapes of support and query disagree, or a field has fewer than two dimensions or zero size.
        """
        for name, value in zip(self._fields, self):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"TaskBatch.{name} must be a torch.Tensor; got {type(value).__name__}")
            if value.ndim < 2:
                raise ValueError(
                    f"TaskBatch.{name} must have a task and an example dimension [N, K, ...]; "
                    f"got shape {tuple(value.shape)}"
                )
            if value.shape[0] == 0 or value.shape[1] == 0:
                raise ValueError(f"TaskBatch.{name} is empty: shape {tuple(value.shape)}")
        shapes = {name: tuple(value.shape) for name, value in zip(self._fields, self)}
        if len({shape[0] for shape in shapes.values()}) != 1:
            raise ValueError(f"TaskBatch fields disagree on the number of tasks N (dim 0): {shapes}")
        if shapes["support_x"][1] != shapes["support_y"][1]:
            raise ValueError(
                f"TaskBatch.support_x has K={shapes['support_x'][1]} examples per task but support_y has "
                f"{shapes['support_y'][1]}: {shapes}"
            )
        if shapes["query_x"][1] != shapes["query_y"][1]:
            raise ValueError(
                f"TaskBatch.query_x has Q={shapes['query_x'][1]} examples per task but query_y has "
                f"{shapes['query_y'][1]}: {shapes}"
            )
        if shapes["support_x"][2:] != shapes["query_x"][2:]:
            raise ValueError(
                f"TaskBatch support and query inputs have different example shapes: support_x "
                f"{shapes['support_x'][2:]} vs query_x {shapes['query_x'][2:]}"
            )
        if shapes["support_y"][2:] != shapes["query_y"][2:]:
            raise ValueError(
                f"TaskBatch support and query targets have different shapes: support_y "
                f"{shapes['support_y'][2:]} vs query_y {shapes['query_y'][2:]}"
            )
        return self

    def tasks(self, index: slice | int | torch.Tensor) -> TaskBatch:
        """The sub-batch of tasks ``index`` (an int keeps the task dimension: ``tasks(3)`` has N = 1)."""
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            index = slice(int(index), int(index) + 1)
        return TaskBatch(*(value[index] for value in self))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TaskBatch:
        """Move every field to ``device``; cast the *floating-point* fields to ``dtype`` (labels stay int)."""
        return TaskBatch(*move_tensors(self, device, dtype))


#: What :meth:`metarl.supervised.learner.SupervisedMetaLearner.fit` draws meta-batches from: a callable that
#: returns one :class:`TaskBatch` using ONLY the numpy generator it is given (so a seeded, checkpointed
#: generator makes training reproducible and resumable), e.g. ``SinusoidTasks().sampler(25, 10, 10)``.
TaskSource = Callable[[np.random.Generator], TaskBatch]


class SinusoidParams(NamedTuple):
    """The parameters of N sinusoid tasks y = A sin(x − φ) (what the oracle receives as extra input)."""

    amplitude: np.ndarray
    """A, shape ``[N]``."""
    phase: np.ndarray
    """φ, shape ``[N]``."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Targets of inputs ``x`` of shape ``[N, M, 1]`` (or ``[N, M]``): ``A_i sin(x − φ_i)``."""
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[0] != len(self.amplitude):
            raise ValueError(f"x must have shape [N={len(self.amplitude)}, M, ...]; got {x.shape}")
        extra = (1,) * (x.ndim - 1)
        amplitude = self.amplitude.reshape(-1, *extra)
        phase = self.phase.reshape(-1, *extra)
        return amplitude * np.sin(x - phase)

    def as_array(self) -> np.ndarray:
        """``[N, 2]`` array of (amplitude, phase) — the oracle's task input (MAML 5.1)."""
        return np.stack([self.amplitude, self.phase], axis=-1)


@dataclass(frozen=True)
class SinusoidEvaluationSet:
    """Fixed held-out sinusoid tasks for the paper's evaluation protocol (MAML 5.1, App. B).

    Holds ``max_k_support`` support points and ``k_query`` query points per task.  :meth:`batch` with
    ``k_support = K`` uses the FIRST K support points, so the support sets of K = 5 ⊂ 10 ⊂ 20 are nested and
    every K is evaluated on the same tasks and the same query points.  The learner's ``evaluate`` reuses
    those K points for every adaptation step ("each gradient step is computed using the same K datapoints").
    """

    params: SinusoidParams
    """Amplitude and phase of each task."""
    support_x: np.ndarray
    """``[N, max_k_support, 1]`` support inputs."""
    support_y: np.ndarray
    """``[N, max_k_support, 1]`` support targets."""
    query_x: np.ndarray
    """``[N, k_query, 1]`` query inputs."""
    query_y: np.ndarray
    """``[N, k_query, 1]`` query targets."""

    @property
    def n_tasks(self) -> int:
        """Number of held-out tasks."""
        return int(self.support_x.shape[0])

    @property
    def max_k_support(self) -> int:
        """Largest K available."""
        return int(self.support_x.shape[1])

    @property
    def k_query(self) -> int:
        """Query points per task."""
        return int(self.query_x.shape[1])

    def batch(self, k_support: int, dtype: torch.dtype = torch.float32) -> TaskBatch:
        """The :class:`TaskBatch` of every task with its first ``k_support`` support points.

        :raises ValueError: if ``k_support`` exceeds the support points drawn (``max_k_support``).
        """
        k_support = _check_count(k_support, "k_support")
        if k_support > self.max_k_support:
            raise ValueError(
                f"k_support={k_support} exceeds the {self.max_k_support} support points drawn per evaluation task; "
                f"build the set with SinusoidTasks.evaluation_set(max_k_support>={k_support})"
            )

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

        return TaskBatch(
            tensor(self.support_x[:, :k_support]),
            tensor(self.support_y[:, :k_support]),
            tensor(self.query_x),
            tensor(self.query_y),
        )


def _check_interval(value: Any, name: str, *, positive: bool = False) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"SinusoidTasks.{name} must be a (low, high) pair of numbers; got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"SinusoidTasks.{name} must be a finite interval with low <= high; got ({low}, {high})")
    if positive and low <= 0:
        raise ValueError(f"SinusoidTasks.{name} must be > 0 (an amplitude); got ({low}, {high})")
    return low, high


@dataclass(frozen=True)
class SinusoidTasks:
    """The sinusoid regression task distribution of MAML 5.1: y = A sin(x − φ), A ~ U[a], φ ~ U[p], x ~ U[r].

    All randomness comes from the ``numpy.random.Generator`` passed to each method (never the global RNG).
    Inputs and targets are ``[N, K, 1]`` float tensors.

    >>> tasks = SinusoidTasks()
    >>> batch = tasks.sample(25, k_support=10, k_query=10, rng=np.random.default_rng(0))
    >>> tuple(batch.support_x.shape)
    (25, 10, 1)
    """

    amplitude: tuple[float, float] = (0.1, 5.0)
    """Range of the amplitude A (MAML 5.1: [0.1, 5.0])."""
    phase: tuple[float, float] = (0.0, math.pi)
    """Range of the phase φ (MAML 5.1: [0, π])."""
    x_range: tuple[float, float] = (-5.0, 5.0)
    """Range of the inputs x (MAML 5.1: [−5, 5], for training and testing)."""
    dtype: torch.dtype = torch.float32
    """dtype of the returned tensors."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude", _check_interval(self.amplitude, "amplitude", positive=True))
        object.__setattr__(self, "phase", _check_interval(self.phase, "phase"))
        x_range = _check_interval(self.x_range, "x_range")
        if x_range[0] == x_range[1]:
            raise ValueError(f"SinusoidTasks.x_range must have low < high; got {x_range}")
        object.__setattr__(self, "x_range", x_range)
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise TypeError(f"SinusoidTasks.dtype must be a floating-point torch.dtype; got {self.dtype!r}")

    # --------------------------------------------------------------------------------------- sampling
    def sample_params(self, n_tasks: int, rng: np.random.Generator) -> SinusoidParams:
        """Draw N tasks: amplitudes and phases, uniform in their ranges."""
        n_tasks = _check_count(n_tasks, "n_tasks")
        rng = _check_rng(rng)
        amplitude = rng.uniform(*self.amplitude, size=n_tasks)
        phase = rng.uniform(*self.phase, size=n_tasks)
        return SinusoidParams(amplitude, phase)

    def sample_inputs(self, n_tasks: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        """``[N, n_points, 1]`` inputs uniform in ``x_range``.

        Drawn point-major (``[n_points, N]`` then transposed), so the first M points of a larger draw equal a
        draw of M points from the same generator state: support sets of different K are nested.
        """
        n_tasks = _check_count(n_tasks, "n_tasks")
        n_points = _check_count(n_points, "n_points")
        rng = _check_rng(rng)
        return rng.uniform(*self.x_range, size=(n_points, n_tasks)).T[:, :, None].copy()

    def make_batch(
        self, params: SinusoidParams, k_support: int, k_query: int, rng: np.random.Generator
    ) -> TaskBatch:
        """Support and query points for the given tasks (targets noise-free, as in MAML 5.1)."""
        k_support = _check_count(k_support, "k_support")
        k_query = _check_count(k_query, "k_query")
        n_tasks = len(params.amplitude)
        support_x = self.sample_inputs(n_tasks, k_support, rng)
        query_x = self.sample_inputs(n_tasks, k_query, rng)
        return TaskBatch(
            *(
                torch.as_tensor(a, dtype=self.dtype)
                for a in (support_x, params(support_x), query_x, params(query_x))
            )
        )

    def sample_with_params(
        self, n_tasks: int, k_support: int, k_query: int, rng: np.random.Generator
    ) -> tuple[TaskBatch, SinusoidParams]:
        """Draw N tasks and their support/query points; also return the task parameters (for the oracle)."""
        _check_count(k_support, "k_support")
        _check_count(k_query, "k_query")
        params = self.sample_params(n_tasks, rng)
        return self.make_batch(params, k_support, k_query, rng), params

    def sample(self, n_tasks: int, k_support: int, k_query: int, rng: np.random.Generator) -> TaskBatch:
        """Draw a meta-batch of N tasks with K support and Q query points each (MAML Alg. 2 lines 3-5, 8).

        The MAML reference code draws 2K points per task and splits them K/K; ``k_query = k_support`` does the
        same.  Identical to ``sample_with_params(...)[0]`` for the same generator state.
        """
        return self.sample_with_params(n_tasks, k_support, k_query, rng)[0]

    def sampler(self, n_tasks: int, k_support: int, k_query: int) -> TaskSource:
        """A :data:`TaskSource` (``rng -> TaskBatch``) drawing meta-batches of this shape, for ``fit``."""
        _check_count(n_tasks, "n_tasks")
        _check_count(k_support, "k_support")
        _check_count(k_query, "k_query")

        def source(rng: np.random.Generator) -> TaskBatch:
            return self.sample(n_tasks, k_support, k_query, rng)

        return source

    def sample_with_task_inputs(
        self, n_tasks: int, k_support: int, k_query: int, rng: np.random.Generator
    ) -> TaskBatch:
        """Like :meth:`sample`, with the task's (amplitude, phase) appended to every input: ``x`` is ``[N, K, 3]``.

        The training data of the oracle of MAML 5.1 ("an oracle which receives the true amplitude and phase
        as input"); see :func:`with_task_inputs`.
        """
        batch, params = self.sample_with_params(n_tasks, k_support, k_query, rng)
        return with_task_inputs(batch, params)

    def evaluation_set(
        self,
        n_tasks: int = SINUSOID_EVAL_TASKS,
        max_k_support: int = 20,
        k_query: int = SINUSOID_EVAL_QUERY,
        seed: int = 0,
    ) -> SinusoidEvaluationSet:
        """The fixed held-out tasks of the evaluation protocol (MAML 5.1, App. B), deterministic in ``seed``.

        Task parameters, support points and query points come from three independent streams derived from
        ``seed`` (:func:`metarl.seeding.derive_seed`), so changing ``max_k_support`` or ``k_query`` does not
        change the tasks.  Use a seed different from the training seed's task stream (the learner's
        training stream is ``derive_seed(seed, "tasks")``, which never coincides with these).

        :param n_tasks: held-out tasks (600 in the paper).
        :param max_k_support: support points drawn per task; :meth:`SinusoidEvaluationSet.batch` takes the first
            K of them (paper: K ∈ {5, 10, 20}).
        :param k_query: query points per task on which the error is measured.
        """
        n_tasks = _check_count(n_tasks, "n_tasks")
        max_k_support = _check_count(max_k_support, "max_k_support")
        k_query = _check_count(k_query, "k_query")
        streams = {
            name: np.random.default_rng(derive_seed(seed, "sinusoid_evaluation", name))
            for name in ("tasks", "support", "query")
        }
        params = self.sample_params(n_tasks, streams["tasks"])
        support_x = self.sample_inputs(n_tasks, max_k_support, streams["support"])
        query_x = self.sample_inputs(n_tasks, k_query, streams["query"])
        return SinusoidEvaluationSet(params, support_x, params(support_x), query_x, params(query_x))


def with_task_inputs(batch: TaskBatch, params: SinusoidParams) -> TaskBatch:
    """Append each task's (amplitude, phase) to every input of ``batch`` (``[N, K, 1] -> [N, K, 3]``).

    The input of the oracle regressor of MAML 5.1, which "receives the true amplitude and phase as input".
    """
    batch.validate()
    task = torch.as_tensor(params.as_array(), dtype=batch.support_x.dtype)
    if task.shape[0] != batch.n_tasks:
        raise ValueError(f"params describe {task.shape[0]} tasks but the batch has {batch.n_tasks}")

    def widen(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, task[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)

    return TaskBatch(widen(batch.support_x), batch.support_y, widen(batch.query_x), batch.query_y)

