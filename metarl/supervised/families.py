"""Distributions over task distributions ("families") for learning to meta-learn (MALTML, Devos & Dandi).

MALTML (section 3.1) samples a *family* (a task distribution) ``j ~ p(j)``, then from that family

* ``L`` tasks, each with ``K`` support examples (the task-level steps, Alg. 1 lines 6-8) and ``Q`` query
  examples (the family-level meta-step, Alg. 1 line 10) — the *meta-finetuning* tasks;
* goal tasks ``T_c ~ p_j(T)`` (Alg. 1 line 11), each with ``K`` support examples for fine-tuning (lines 13-14)
  and query examples on which the fine-tuned model is measured (the outer objective of line 17; at test time
  the goal-task test error of section 3.1).

Everything of one family (meta-finetuning tasks and goal tasks) comes from the SAME family; the families of a
batch are independent draws.

Sinusoid families (paper 4.1): a family is a phase ``φ ~ U[0, π]``; a task of the family is an amplitude
``A ~ U[0.1, 5]``; the task is ``y = A sin(x − φ)`` with ``x ~ U[−5, 5]`` and the loss is the mean-squared error.
Marginalised over families, the tasks are exactly the sinusoid tasks of MAML 5.1
(:meth:`SinusoidFamilies.flat_tasks`), which is what the "flat" MAML baseline is trained on.

Tensors of a :class:`FamilyBatch` have two leading dimensions, families ``F`` and tasks per family
(``L`` or ``C``); :meth:`FamilyBatch.meta_tasks` and :meth:`FamilyBatch.goal_tasks` flatten them into an
ordinary :class:`~metarl.supervised.tasks.TaskBatch` (family-major: task ``f * L + i``), the layout of the
batched adaptation machinery in :mod:`metarl.maml`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from metarl.seeding import derive_seed
from metarl.supervised.tasks import (
    SinusoidParams,
    SinusoidTasks,
    TaskBatch,
    _check_count,
    _check_interval,
    _check_rng,
    move_tensors,
)

__all__ = [
    "FamilyBatch",
    "FamilyEvaluationSet",
    "FamilySource",
    "SinusoidFamilies",
    "SinusoidFamilyParams",
]


class FamilyBatch(NamedTuple):
    """``F`` families, each with ``L`` meta-finetuning tasks and ``C`` goal tasks (MALTML Alg. 1 lines 3-5, 11).

    ===================  ===========================  ===============================================================
    ``support_x/y``      ``[F, L, K, *x_shape]``      K examples per meta-finetuning task: task-level steps (α)
    ``query_x/y``        ``[F, L, Q, *x_shape]``      Q examples per meta-finetuning task: family meta-step (β)
    ``goal_support_x/y`` ``[F, C, K, *x_shape]``      K examples per goal task: goal fine-tuning (γ)
    ``goal_query_x/y``   ``[F, C, Qg, *x_shape]``     goal-task test examples: outer objective / test error
    ===================  ===========================  ===============================================================
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    goal_support_x: torch.Tensor
    goal_support_y: torch.Tensor
    goal_query_x: torch.Tensor
    goal_query_y: torch.Tensor

    @property
    def n_families(self) -> int:
        """F, the number of families."""
        return int(self.support_x.shape[0])

    @property
    def n_tasks(self) -> int:
        """L, the meta-finetuning tasks per family."""
        return int(self.support_x.shape[1])

    @property
    def n_goal(self) -> int:
        """C, the goal tasks per family."""
        return int(self.goal_support_x.shape[1])

    def meta_tasks(self) -> TaskBatch:
        """The ``F·L`` meta-finetuning tasks as one :class:`TaskBatch` (family-major: task ``f·L + i``)."""
        return TaskBatch(*(value.flatten(0, 1) for value in self[:4])).validate()

    def goal_tasks(self) -> TaskBatch:
        """The ``F·C`` goal tasks as one :class:`TaskBatch` (family-major: task ``f·C + c``)."""
        return TaskBatch(*(value.flatten(0, 1) for value in self[4:])).validate()

    def families(self, index: slice | int) -> FamilyBatch:
        """The sub-batch of families ``index`` (an int keeps the family dimension)."""
        if isinstance(index, int) and not isinstance(index, bool):
            index = slice(index, index + 1)
        return FamilyBatch(*(value[index] for value in self))

    def validate(self) -> FamilyBatch:
        """Check the layout of the class docstring; return ``self``.

        :raises TypeError: if a field is not a tensor.
        :raises ValueError: naming the fields and shapes when F, L, C, K or the per-example shapes disagree.
        """
        for name, value in zip(self._fields, self):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"FamilyBatch.{name} must be a torch.Tensor; got {type(value).__name__}")
            if value.ndim < 3 or 0 in value.shape[:3]:
                raise ValueError(
                    f"FamilyBatch.{name} must be a non-empty [F, tasks, examples, ...] tensor; got {tuple(value.shape)}"
                )
        shapes = {name: tuple(value.shape) for name, value in zip(self._fields, self)}
        if len({s[0] for s in shapes.values()}) != 1:
            raise ValueError(f"FamilyBatch fields disagree on the number of families F (dim 0): {shapes}")
        if len({shapes[n][1] for n in ("support_x", "support_y", "query_x", "query_y")}) != 1:
            raise ValueError(f"FamilyBatch meta-finetuning fields disagree on L (dim 1): {shapes}")
        if len({shapes[n][1] for n in ("goal_support_x", "goal_support_y", "goal_query_x", "goal_query_y")}) != 1:
            raise ValueError(f"FamilyBatch goal fields disagree on C (dim 1): {shapes}")
        for x, y in (("support_x", "support_y"), ("query_x", "query_y"), ("goal_support_x", "goal_support_y"),
                     ("goal_query_x", "goal_query_y")):
            if shapes[x][2] != shapes[y][2]:
                raise ValueError(f"FamilyBatch.{x} and {y} disagree on the examples per task: {shapes[x]} vs {shapes[y]}")
        if shapes["support_x"][2] != shapes["goal_support_x"][2]:
            raise ValueError(
                f"meta-finetuning and goal tasks must have the same K support examples (section 3.1); got "
                f"support_x {shapes['support_x']} and goal_support_x {shapes['goal_support_x']}"
            )
        if len({shapes[n][3:] for n in ("support_x", "query_x", "goal_support_x", "goal_query_x")}) != 1:
            raise ValueError(f"FamilyBatch inputs have different example shapes: {shapes}")
        if len({shapes[n][3:] for n in ("support_y", "query_y", "goal_support_y", "goal_query_y")}) != 1:
            raise ValueError(f"FamilyBatch targets have different example shapes: {shapes}")
        return self

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> FamilyBatch:
        """Move every field to ``device``; cast floating-point fields to ``dtype``."""
        return FamilyBatch(*move_tensors(self, device, dtype))


#: A callable drawing one :class:`FamilyBatch` using ONLY the numpy generator it is given (so a seeded,
#: checkpointed generator makes MALTML training reproducible and resumable).
FamilySource = Callable[[np.random.Generator], FamilyBatch]


class SinusoidFamilyParams(NamedTuple):
    """The parameters of F sinusoid families and of their tasks."""

    phase: np.ndarray
    """φ_j of each family, ``[F]`` (paper 4.1: the family is the phase)."""
    amplitude: np.ndarray
    """A of each meta-finetuning task, ``[F, L]``."""
    goal_amplitude: np.ndarray
    """A of each goal task, ``[F, C]``."""

    def meta_task_params(self) -> SinusoidParams:
        """The ``F·L`` meta-finetuning tasks as flat :class:`SinusoidParams` (family-major)."""
        n_tasks = self.amplitude.shape[1]
        return SinusoidParams(self.amplitude.reshape(-1), np.repeat(self.phase, n_tasks))

    def goal_task_params(self) -> SinusoidParams:
        """The ``F·C`` goal tasks as flat :class:`SinusoidParams` (family-major) — the oracle's input."""
        n_goal = self.goal_amplitude.shape[1]
        return SinusoidParams(self.goal_amplitude.reshape(-1), np.repeat(self.phase, n_goal))


@dataclass(frozen=True)
class FamilyEvaluationSet:
    """Fixed held-out families for the test-time protocol of section 3.1 (built by
    :meth:`SinusoidFamilies.evaluation_set`)."""

    batch: FamilyBatch
    """The families' meta-finetuning tasks (K + Q examples each) and goal tasks (K + Qg examples each)."""
    params: SinusoidFamilyParams
    """Phase of every family, amplitude of every task."""
    seed: int
    """The seed the set was drawn from."""

    @property
    def n_families(self) -> int:
        return self.batch.n_families


@dataclass(frozen=True)
class SinusoidFamilies:
    """Sinusoid families of MALTML 4.1: family ``φ ~ U[phase]``, task ``A ~ U[amplitude]``, ``x ~ U[x_range]``,
    target ``y = A sin(x − φ)`` (noise-free), MSE loss.

    All randomness comes from the ``numpy.random.Generator`` passed to each method (never the global RNG).

    >>> families = SinusoidFamilies()
    >>> batch = families.sample(10, 5, 5, 5, 2, 5, rng=np.random.default_rng(0))
    >>> tuple(batch.support_x.shape), tuple(batch.goal_query_x.shape)
    ((10, 5, 5, 1), (10, 2, 5, 1))
    """

    phase: tuple[float, float] = (0.0, math.pi)
    """Range of the family's phase φ (4.1: "the phase j varies uniformly within [0, π]")."""
    amplitude: tuple[float, float] = (0.1, 5.0)
    """Range of a task's amplitude A (4.1: "the amplitude varies within [0.1, 5.0]")."""
    x_range: tuple[float, float] = (-5.0, 5.0)
    """Range of the inputs x (4.1: "sampled uniformly from [−5, 5]", training and testing)."""
    dtype: torch.dtype = torch.float32
    """dtype of the returned tensors."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", _check_interval(self.phase, "phase"))
        object.__setattr__(self, "amplitude", _check_interval(self.amplitude, "amplitude", positive=True))
        x_range = _check_interval(self.x_range, "x_range")
        if x_range[0] == x_range[1]:
            raise ValueError(f"SinusoidFamilies.x_range must have low < high; got {x_range}")
        object.__setattr__(self, "x_range", x_range)
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise TypeError(f"SinusoidFamilies.dtype must be a floating-point torch.dtype; got {self.dtype!r}")

    def flat_tasks(self) -> SinusoidTasks:
        """The task distribution marginalised over families (amplitude and phase independent and uniform):
        MAML 5.1's sinusoids, on which the family-agnostic MAML baseline and the oracle are trained."""
        return SinusoidTasks(amplitude=self.amplitude, phase=self.phase, x_range=self.x_range, dtype=self.dtype)

    # --------------------------------------------------------------------------------------- sampling
    def sample_params(self, n_families: int, n_tasks: int, n_goal: int, rng: np.random.Generator) -> SinusoidFamilyParams:
        """Draw F phases (Alg. 1 line 3), L amplitudes per family (line 5) and C goal amplitudes (line 11)."""
        n_families = _check_count(n_families, "n_families")
        n_tasks = _check_count(n_tasks, "n_tasks")
        n_goal = _check_count(n_goal, "n_goal")
        rng = _check_rng(rng)
        phase = rng.uniform(*self.phase, size=n_families)
        amplitude = rng.uniform(*self.amplitude, size=(n_families, n_tasks))
        goal_amplitude = rng.uniform(*self.amplitude, size=(n_families, n_goal))
        return SinusoidFamilyParams(phase, amplitude, goal_amplitude)

    def _inputs(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        # drawn point-major ([M, F, T]) so that the first M points of a larger draw equal a draw of M points
        points, families, tasks = shape[2], shape[0], shape[1]
        x = rng.uniform(*self.x_range, size=(points, families, tasks))
        return np.ascontiguousarray(x.transpose(1, 2, 0))[..., None]

    def make_batch(
        self,
        params: SinusoidFamilyParams,
        k_support: int,
        k_query: int,
        goal_query: int,
        rng: np.random.Generator | tuple[np.random.Generator, ...],
    ) -> FamilyBatch:
        """Inputs and targets of the families ``params``: K + Q points per meta-finetuning task, K + ``goal_query``
        points per goal task (the same K for both, section 3.1).

        :param rng: one generator, or four (meta support, meta query, goal support, goal query inputs) so the
            evaluation set's query points do not depend on K.
        """
        k_support = _check_count(k_support, "k_support")
        k_query = _check_count(k_query, "k_query")
        goal_query = _check_count(goal_query, "goal_query")
        rngs = tuple(rng) if isinstance(rng, tuple) else (rng,) * 4
        if len(rngs) != 4:
            raise ValueError(f"rng must be one generator or a tuple of four; got {len(rngs)}")
        rngs = tuple(_check_rng(r) for r in rngs)
        f, n_tasks = params.amplitude.shape
        n_goal = params.goal_amplitude.shape[1]
        if params.phase.shape != (f,) or params.goal_amplitude.shape[0] != f:
            raise ValueError(
                f"inconsistent family parameters: phase {params.phase.shape}, amplitude {params.amplitude.shape}, "
                f"goal_amplitude {params.goal_amplitude.shape}"
            )
        phase = params.phase[:, None, None, None]

        def targets(x: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
            return amplitude[:, :, None, None] * np.sin(x - phase)  # y = A sin(x − φ), paper 4.1

        support_x = self._inputs((f, n_tasks, k_support), rngs[0])
        query_x = self._inputs((f, n_tasks, k_query), rngs[1])
        goal_support_x = self._inputs((f, n_goal, k_support), rngs[2])
        goal_query_x = self._inputs((f, n_goal, goal_query), rngs[3])
        arrays = (
            support_x, targets(support_x, params.amplitude), query_x, targets(query_x, params.amplitude),
            goal_support_x, targets(goal_support_x, params.goal_amplitude),
            goal_query_x, targets(goal_query_x, params.goal_amplitude),
        )
        return FamilyBatch(*(torch.as_tensor(a, dtype=self.dtype) for a in arrays))

    def sample_with_params(
        self,
        n_families: int,
        n_tasks: int,
        k_support: int,
        k_query: int,
        n_goal: int,
        goal_query: int,
        rng: np.random.Generator,
    ) -> tuple[FamilyBatch, SinusoidFamilyParams]:
        """Draw F families with L meta-finetuning tasks and C goal tasks each; also return their parameters."""
        params = self.sample_params(n_families, n_tasks, n_goal, rng)
        return self.make_batch(params, k_support, k_query, goal_query, rng), params

    def sample(
        self,
        n_families: int,
        n_tasks: int,
        k_support: int,
        k_query: int,
        n_goal: int,
        goal_query: int,
        rng: np.random.Generator,
    ) -> FamilyBatch:
        """One MALTML training batch (Alg. 1 lines 3, 5, 11): identical to ``sample_with_params(...)[0]``."""
        return self.sample_with_params(n_families, n_tasks, k_support, k_query, n_goal, goal_query, rng)[0]

    def sampler(
        self, n_families: int, n_tasks: int, k_support: int, k_query: int, n_goal: int, goal_query: int
    ) -> FamilySource:
        """A :data:`FamilySource` (``rng -> FamilyBatch``) of batches of this shape, for ``MALTML.fit``."""
        for name, value in (("n_families", n_families), ("n_tasks", n_tasks), ("k_support", k_support),
                            ("k_query", k_query), ("n_goal", n_goal), ("goal_query", goal_query)):
            _check_count(value, name)

        def source(rng: np.random.Generator) -> FamilyBatch:
            return self.sample(n_families, n_tasks, k_support, k_query, n_goal, goal_query, rng)

        return source

    def evaluation_set(
        self,
        n_families: int,
        n_tasks: int,
        k_support: int,
        k_query: int,
        n_goal: int,
        goal_query: int,
        seed: int,
    ) -> FamilyEvaluationSet:
        """Fixed held-out families for the test-time protocol (section 3.1), deterministic in ``seed``.

        Family/task parameters and the four kinds of input points come from independent streams derived from
        ``seed`` (:func:`metarl.seeding.derive_seed`), so e.g. changing ``goal_query`` does not change the
        families or their meta-finetuning data.  A training stream (``derive_seed(seed, "families")`` of the
        learner) never coincides with these.
        """
        names = ("params", "support", "query", "goal_support", "goal_query")
        streams = [np.random.default_rng(derive_seed(seed, "sinusoid_family_evaluation", n)) for n in names]
        params = self.sample_params(n_families, n_tasks, n_goal, streams[0])
        batch = self.make_batch(params, k_support, k_query, goal_query, tuple(streams[1:]))
        return FamilyEvaluationSet(batch.validate(), params, int(seed))
