"""Model-Agnostic Learning to Meta-Learn (MALTML; Devos & Dandi, "Model-Agnostic Learning to Meta-Learn").

MALTML learns an initialization θ that can first quickly change its *adaptability* to a new task family
(a family-level meta-step on a few tasks of that family) and then quickly adapt to a goal task of the family.
There is no public implementation; this module follows Algorithm 1 and Eqs. (1)-(3) of the paper line by line,
and every adaptation goes through THE adaptation function of the package, :func:`metarl.maml.adapt`, applied at
two levels (nested):

=============================  =====================================================================================
task level, Eq. (1)            ``θ'_i = U^{r,α}_{T_i}(θ_j) = θ_j − α ∇L_{T_i}(f_θj)`` on K examples (Alg. 1 lines 6-9)
                               — :func:`adapt_tasks` (one ``adapt`` call for all F·L tasks, vmap over tasks)
family level, Eq. (2)          ``θ'_j = V^{m,β}_j(θ) = θ − β ∇_θ Σ_i L_{T_i}(f_{U(θ)})`` on Q examples (line 10)
                               — :func:`adapt_families` (``adapt`` whose loss itself calls ``adapt_tasks``)
goal fine-tuning               ``θ'_c = U^{r,γ}_{T_c}(θ'_j)`` on K examples of each goal task (lines 11-15)
outer update, Eq. (3)          ``θ ← θ − η ∇_θ Σ_j Σ_c L_{T_c}(f_θ'c)`` (line 17; Adam, as paper 4.1) — through both
                               levels, i.e. the "third-order" gradient (:meth:`MALTML.outer_loss`)
first-order variant (3.2)      per family m > 1 first-order meta-updates ``θ'_j = Ṽ^m_j(θ)`` then
                               ``θ ← θ + η Σ_j (θ'_j − θ)`` — no goal fine-tuning (:meth:`MALTML.step`)
test-time protocol (3.1)       meta-finetune θ on L tasks of a new family (K + Q examples), fine-tune on its goal
                               tasks (K examples), goal-task test error after 0..S steps, and at 0 steps before
                               AND after the family meta-update (:func:`evaluate_family_adaptation`)
=============================  =====================================================================================

**Batching.**  Families and tasks are batched with the stacked-parameter trick of :mod:`metarl.maml`: θ is
stacked to ``[F, *shape]`` (one copy per family); inside the family loss each family copy is repeated to
``[F·L, *shape]`` (:func:`repeat_per_task`); the task-level loss is the SUM of the F·L task losses (so each
slice of its gradient is that task's own ∇L_i) and the family-level loss is the SUM over families of each
family's Σ_i L_i (so each family slice of its gradient is ∇_θj of that family's objective only).  Both levels
are a single ``adapt`` call over all families; the model is evaluated with ``vmap`` over ``functional_call``
(:func:`metarl.maml.batched_functional_forward`).

The sinusoid experiment of paper 4.1 (MALTML vs MAML given the same test-time meta-finetuning vs an oracle, over
seeds, with its plots) is in ``reproductions/maltml/``; ``examples/maltml_sinusoid.py`` is a short start.

**Why one file of ~800 lines** (over the ~600-line guide): it is one algorithm — Alg. 1 in both variants, the
two nested adaptation levels it is built from, its configuration, checkpoints and the test-time protocol of 3.1
that every comparison must share.  About a quarter of it is docstrings tying the code to the paper's equations;
splitting the levels from the learner would scatter one algorithm over modules.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from agents.supervised import mlp
from metarl.checkpoint import load_checkpoint, save_checkpoint
from metarl.maml import Params, adapt, batched_functional_forward, repeat_per_task, stack_params
from metarl.progress import progress
from metarl.seeding import derive_seed, generator_state, set_generator_state
from metarl.stats import mean_ci
from metarl.supervised.families import (
    FamilyBatch,
    FamilyEvaluationSet,
    FamilySource,
    SinusoidFamilies,
)
from metarl.supervised.learner import FitResult, TaskLoss, check_batchable, mse_task_loss, run_fit_loop
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "CHECKPOINT_KIND",
    "DEFAULT_FIRST_ORDER_FAMILY_STEPS",
    "MALTML",
    "MALTMLConfig",
    "MALTMLLoss",
    "FamilyAdaptationCurve",
    "FamilyTuningResult",
    "adapt_families",
    "adapt_tasks",
    "evaluate_family_adaptation",
    "repeat_per_task",
    "tune_family_step_sizes",
]

#: ``kind`` of MALTML checkpoints (:mod:`metarl.checkpoint`).
CHECKPOINT_KIND = "maltml"
#: m of the first-order variant when not given: the paper requires m > 1 (3.2, "Ṽ^{m>1}") but gives no value.
DEFAULT_FIRST_ORDER_FAMILY_STEPS = 5
VARIANTS = ("second_order", "first_order")


# ============================================================================ the two adaptation levels
def adapt_tasks(
    model: nn.Module,
    task_loss: TaskLoss,
    params: Params,
    support_x: torch.Tensor,
    support_y: torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor,
    first_order: bool,
) -> Params:
    """Eq. (1) / Alg. 1 lines 6-8 (and 13-14 with γ): ``θ'_i = U^{r,α}_{T_i}(θ_i)`` for N tasks at once.

    ``params`` are stacked ``[N, *shape]``; ``support_x/y`` are ``[N, K, ...]``.  One :func:`metarl.maml.adapt`
    call on the summed loss Σ_i L_i(θ_i; K examples) — the i-th gradient slice is task i's own gradient.
    """

    def summed_task_loss(p: Params) -> torch.Tensor:
        return task_loss(batched_functional_forward(model, p, support_x), support_y).sum()

    return adapt(params, summed_task_loss, steps=steps, step_size=step_size, first_order=first_order)


def adapt_families(
    model: nn.Module,
    task_loss: TaskLoss,
    family_params: Params,
    batch: FamilyBatch,
    *,
    family_steps: int,
    family_lr: float | torch.Tensor,
    task_steps: int,
    task_lr: float | torch.Tensor,
    task_first_order: bool,
    family_first_order: bool,
    reduction: str = "sum",
) -> Params:
    """Eq. (2) / Alg. 1 lines 5-10: the family meta-update ``θ'_j = V^{m,β}_j(θ_j)`` for F families at once.

    ``family_params`` are stacked ``[F, *shape]``.  Each of the m family steps is

        θ_j ← θ_j − β ∇_θj Σ_{i=1..L} L_{T_i}(f_{U^{r,α}_{T_i}(θ_j)}; Q query examples)

    where ``U^{r,α}`` (:func:`adapt_tasks`, Eq. 1) takes r steps on the task's K support examples.  Both levels
    are :func:`metarl.maml.adapt`: the family-level ``adapt``'s loss calls the task-level ``adapt``.

    :param task_first_order: detach the task-level gradients (FOMAML inside V; the first-order variant Ṽ).
        ``False`` makes ∇_θj differentiate through U (the exact Eq. 2).
    :param family_first_order: detach the family-level gradient (no outer gradient through V: test time and the
        first-order variant).  ``False`` keeps the graph for the outer update — together with
        ``task_first_order=False`` the outer gradient is MALTML's "third-order" gradient.
    :param reduction: ``"sum"`` over the L tasks of a family as Eq. (2) and Alg. 1 line 10, or ``"mean"``.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' (Eq. 2) or 'mean'; got {reduction!r}")
    n_families, n_tasks = batch.n_families, batch.n_tasks
    for name, value in family_params.items():
        if value.ndim == 0 or value.shape[0] != n_families:
            raise ValueError(
                f"family_params[{name!r}] must be stacked with a leading family dimension {n_families}; "
                f"got shape {tuple(value.shape)}"
            )
    meta = batch.meta_tasks()  # [F·L, K|Q, ...], family-major

    def family_meta_loss(theta: Params) -> torch.Tensor:
        # Alg. 1 lines 6-9, Eq. (1): θ'_i = θ_j − α ∇L_{T_i}(f_θj) on the K examples of each of the L tasks
        adapted = adapt_tasks(model, task_loss, repeat_per_task(theta, n_tasks), meta.support_x, meta.support_y,
                              task_steps, task_lr, task_first_order)
        # Alg. 1 line 10: L_{T_i}(f_θ'i) on the Q examples of each task, summed over the family's L tasks
        losses = task_loss(batched_functional_forward(model, adapted, meta.query_x), meta.query_y)
        losses = losses.view(n_families, n_tasks)
        per_family = losses.sum(dim=1) if reduction == "sum" else losses.mean(dim=1)
        # summed over families: family j's gradient slice is ∇_θj of its own objective only (metarl.maml)
        return per_family.sum()

    # Eq. (2), m times: θ_j ← θ_j − β ∇_θj Σ_i L_{T_i}(f_{U(θ_j)})
    return adapt(family_params, family_meta_loss, steps=family_steps, step_size=family_lr,
                 first_order=family_first_order)


# ============================================================================================ config
@dataclass
class MALTMLConfig:
    """Configuration of :class:`MALTML`; the defaults are the paper's 4.1 sinusoid settings (5-task 5-shot)."""

    variant: str = field(default="second_order", metadata={"choices": VARIANTS})
    """'second_order': Alg. 1 with the exact outer gradient through both levels ("third-order");
    'first_order': the Reptile-style approximation of 3.2 (m first-order family updates, θ ← θ + η Σ_j (θ'_j − θ))."""
    n_families: int = 10
    """Families per outer iteration (4.1: "a family batch size of 10")."""
    n_tasks: int = 5
    """L, meta-finetuning tasks per family (4.1: 5-task)."""
    k_shot: int = 5
    """K, support examples per task for the task-level steps and the goal fine-tuning (4.1: 5-shot)."""
    k_query: int = 5
    """Q, examples per meta-finetuning task for the family-level meta-step (4.1: Q = 5)."""
    n_goal: int = 2
    """Goal tasks per family, fine-tuned from θ'_j for the outer objective (4.1: "2 validation tasks per family")."""
    goal_query: int = 5
    """Examples per goal task on which the fine-tuned model's error is the outer objective (not given in the
    paper; 5 = Q, like MAML's K/K split)."""
    task_steps: int = 1
    """r, task-level gradient steps per meta-finetuning task (4.1: "single gradient updates")."""
    family_steps: int | None = None
    """m, family-level meta-steps; None = 1 for the second-order variant (4.1) and
    DEFAULT_FIRST_ORDER_FAMILY_STEPS (5) for the first-order one (3.2 requires m > 1)."""
    goal_steps: int | None = None
    """Goal-task fine-tuning steps during training; None = task_steps ("the same r ... is a natural choice")."""
    task_lr: float = 0.001
    """α, task-level step size of Eq. (1) (4.1: 0.001)."""
    family_lr: float = 0.01
    """β, family-level step size of Eq. (2) (4.1: 0.01)."""
    goal_lr: float = 0.001
    """γ, goal fine-tuning step size (4.1: 0.001); also the default test-time fine-tuning step size."""
    outer_lr: float = 0.001
    """η, outer step size (4.1: Adam with initial learning rate 0.001; the first-order variant's η of
    θ ← θ + η Σ_j (θ'_j − θ) with first_order_outer='sgd')."""
    learn_step_sizes: bool = False
    """Learn α, β, γ in the outer loop (3.2: "may be fixed as hyperparameters or learned"); parametrised by their
    logarithms, initialised at task_lr/family_lr/goal_lr.  Second-order variant only."""
    step_size_lr: float | None = None
    """Adam learning rate of the log step sizes when learned; None = outer_lr."""
    family_loss_reduction: str = field(default="sum", metadata={"choices": ("sum", "mean")})
    """Reduction over the L tasks in the family meta-step: 'sum' as Eq. (2) and Alg. 1 line 10, or 'mean'."""
    first_order_outer: str = field(default="sgd", metadata={"choices": ("sgd", "adam")})
    """First-order variant's outer update: 'sgd' is 3.2's θ ← θ + η Σ_j (θ'_j − θ) literally; 'adam' feeds
    −Σ_j (θ'_j − θ) to Adam as a pseudo-gradient."""
    grad_clip_norm: float | None = None
    """Clip the outer gradient's global norm; None = no clipping (the paper does not mention clipping)."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of the default ReLU MLP (4.1: "2 hidden layers of size 40 with ReLU")."""
    eval_steps: int = 10
    """Default goal fine-tuning steps S at test time (goal-task error after 0..S steps)."""
    eval_chunk_families: int = 100
    """Families adapted together at test time (bounds memory; no effect on results)."""
    seed: int = 0
    """Seed of the initial weights (derive_seed(seed, 'init')) and of the training families (…'families')."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        optional_int = (None,)
        check_fields("MALTMLConfig", {
            "variant": (self.variant in VARIANTS, f"one of {VARIANTS}"),
            "n_families": (is_int(self.n_families, 1), "an int >= 1"),
            "n_tasks": (is_int(self.n_tasks, 1), "an int >= 1"),
            "k_shot": (is_int(self.k_shot, 1), "an int >= 1"),
            "k_query": (is_int(self.k_query, 1), "an int >= 1"),
            "n_goal": (is_int(self.n_goal, 1), "an int >= 1"),
            "goal_query": (is_int(self.goal_query, 1), "an int >= 1"),
            "task_steps": (is_int(self.task_steps, 1), "an int >= 1"),
            "family_steps": (self.family_steps in optional_int or is_int(self.family_steps, 1), "None or an int >= 1"),
            "goal_steps": (self.goal_steps in optional_int or is_int(self.goal_steps, 1), "None or an int >= 1"),
            "task_lr": (is_positive(self.task_lr), "a finite number > 0"),
            "family_lr": (is_positive(self.family_lr), "a finite number > 0"),
            "goal_lr": (is_positive(self.goal_lr), "a finite number > 0"),
            "outer_lr": (is_positive(self.outer_lr), "a finite number > 0"),
            "learn_step_sizes": (isinstance(self.learn_step_sizes, bool), "a bool"),
            "step_size_lr": (self.step_size_lr is None or is_positive(self.step_size_lr), "None or a number > 0"),
            "family_loss_reduction": (self.family_loss_reduction in ("sum", "mean"), "'sum' or 'mean'"),
            "first_order_outer": (self.first_order_outer in ("sgd", "adam"), "'sgd' or 'adam'"),
            "grad_clip_norm": (self.grad_clip_norm is None or is_positive(self.grad_clip_norm), "None or a number > 0"),
            "hidden_sizes": (len(self.hidden_sizes) > 0 and all(h >= 1 for h in self.hidden_sizes),
                             "a non-empty tuple of ints >= 1"),
            "eval_steps": (is_int(self.eval_steps, 0), "an int >= 0"),
            "eval_chunk_families": (is_int(self.eval_chunk_families, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)
        if self.variant == "first_order":
            if self.learn_step_sizes:
                raise ValueError(
                    "MALTMLConfig: learn_step_sizes needs the outer gradient through the step sizes, which the "
                    "first-order variant does not compute; use variant='second_order'"
                )
            if self.m < 2:
                raise ValueError(
                    f"MALTMLConfig: the first-order variant needs family_steps m > 1 (3.2: Ṽ^(m>1)); with m = 1 "
                    f"θ + η Σ_j (θ'_j − θ) is a plain first-order MAML step over all tasks; got family_steps={self.m}"
                )

    @property
    def m(self) -> int:
        """m, family-level meta-steps (resolved default)."""
        if self.family_steps is not None:
            return self.family_steps
        return 1 if self.variant == "second_order" else DEFAULT_FIRST_ORDER_FAMILY_STEPS

    @property
    def r_goal(self) -> int:
        """Goal fine-tuning steps during training (resolved default)."""
        return self.task_steps if self.goal_steps is None else self.goal_steps

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MALTMLConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown MALTMLConfig fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# =========================================================================================== results
class MALTMLLoss(NamedTuple):
    """Output of :meth:`MALTML.outer_loss`."""

    loss: torch.Tensor
    """Eq. (3): Σ_j Σ_c L_{T_c}(f_θ'c), differentiable w.r.t. θ (and the log step sizes when learned)."""
    goal_losses: torch.Tensor
    """``[F, C]`` goal-task query loss after the family meta-update and goal fine-tuning."""
    family_params: Params
    """θ'_j, ``[F, *shape]`` (still in the graph)."""


@dataclass
class FamilyAdaptationCurve:
    """Goal-task test error of held-out families after 0..S fine-tuning steps (section 3.1, Fig. 2c).

    The unit of independence is the family (its goal tasks share one meta-update): means and 95% CIs are over
    families of the per-family mean over its goal tasks.
    """

    steps: list[int]
    """0, 1, ..., S fine-tuning steps on each goal task's K examples (the same K every step)."""
    loss: np.ndarray
    """``[F, C, S + 1]`` goal-task query loss, fine-tuned from θ'_j (AFTER the family meta-update)."""
    loss_without_meta_update: np.ndarray
    """``[F, C, S + 1]`` the same fine-tuning from θ (BEFORE/without the family meta-update); its step 0 is the
    start of the arrow of Fig. 2c."""
    settings: dict[str, float] = field(default_factory=dict)
    """The test-time step sizes and step counts used (task_lr, family_lr, goal_lr, task_steps, family_steps)."""

    @staticmethod
    def _summary(per_family: np.ndarray) -> tuple[list[float], list[float]]:
        means, halves = [], []
        for column in per_family.T:
            if np.all(np.isfinite(column)):
                mean, half = mean_ci(column)
            else:  # a diverged fine-tuning: report it, do not hide it
                mean, half = float(np.mean(column)), math.nan
            means.append(float(mean))
            halves.append(float(half))
        return means, halves

    @property
    def n_families(self) -> int:
        return int(self.loss.shape[0])

    @property
    def per_family(self) -> np.ndarray:
        """``[F, S + 1]`` mean over each family's goal tasks, after the meta-update."""
        return self.loss.mean(axis=1)

    @property
    def per_family_without_meta_update(self) -> np.ndarray:
        """``[F, S + 1]`` mean over each family's goal tasks, without the meta-update."""
        return self.loss_without_meta_update.mean(axis=1)

    def score(self) -> float:
        """Mean goal error over steps 0..S after the meta-update (the tuning criterion; inf if diverged)."""
        value = float(self.loss.mean())
        return value if math.isfinite(value) else math.inf

    def to_dict(self, per_family: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``per_family=True`` adds the ``[F, S + 1]`` per-family curves."""
        mean, ci = self._summary(self.per_family)
        mean0, ci0 = self._summary(self.per_family_without_meta_update)
        out: dict[str, Any] = {
            "steps": list(self.steps),
            "n_families": self.n_families,
            "n_goal_tasks_per_family": int(self.loss.shape[1]),
            "settings": dict(self.settings),
            "loss_mean": mean,
            "loss_ci95": ci,
            "loss_without_meta_update_mean": mean0,
            "loss_without_meta_update_ci95": ci0,
            "before_meta_update_0_steps": mean0[0],
            "after_meta_update_0_steps": mean[0],
        }
        if per_family:
            out["loss_per_family"] = self.per_family.tolist()
            out["loss_without_meta_update_per_family"] = self.per_family_without_meta_update.tolist()
        return out


@dataclass
class FamilyTuningResult:
    """Output of :func:`tune_family_step_sizes`."""

    family_lr: float
    """Chosen test-time β."""
    goal_lr: float
    """Chosen test-time γ."""
    scores: dict[str, float]
    """``"β,γ" ->`` mean goal error over steps 0..S on the validation families (inf if diverged)."""
    at_grid_edge: list[str] = field(default_factory=list)
    """Which of 'family_lr'/'goal_lr' was chosen at the smallest or largest candidate (widen the grid)."""


# ====================================================================================== test time
def evaluate_family_adaptation(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: FamilyBatch,
    *,
    task_lr: float,
    family_lr: float,
    goal_lr: float,
    steps: int = 10,
    task_steps: int = 1,
    family_steps: int = 1,
    exact_meta_gradient: bool = True,
    family_loss_reduction: str = "sum",
    task_loss: TaskLoss = mse_task_loss,
    chunk_families: int = 100,
    progress_bar: bool = False,
) -> FamilyAdaptationCurve:
    """The test-time protocol of section 3.1 for ANY initialization θ (MALTML's or a baseline's).

    For each held-out family j (``batch``, F families):

    1. meta-finetune: ``θ'_j = V^{m,β}_j(θ)`` (Eq. 2, :func:`adapt_families`) on its L tasks with K + Q examples;
    2. fine-tune each goal task from θ'_j with S steps of step size γ on its K examples (the same K points every
       step; Alg. 1 line 14) and record the goal-task test error after 0..S steps;
    3. the same fine-tuning from θ itself, WITHOUT the meta-update (step 0 = "before the family meta-update").

    :param exact_meta_gradient: differentiate through the task step inside V (Eq. 2 exactly, the second-order
        variant and MAML); ``False`` uses the first-order Ṽ (the first-order variant's own meta-update).
    """
    batch = batch.validate()
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be an int >= 0; got {steps!r}")
    if not is_int(chunk_families, 1):
        raise ValueError(f"chunk_families must be an int >= 1; got {chunk_families!r}")
    for name, value in (("task_lr", task_lr), ("family_lr", family_lr), ("goal_lr", goal_lr)):
        if not is_positive(value):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    n_goal = batch.n_goal
    after, without = [], []
    chunks = range(0, batch.n_families, chunk_families)
    for lo in progress(chunks, desc="families", disable=None if progress_bar else True):
        part = batch.families(slice(lo, lo + chunk_families))
        n = part.n_families
        theta = {name: value.detach().requires_grad_(True) for name, value in params.items()}
        # 1. Eq. (2): θ'_j for every family of the chunk (no outer gradient: family_first_order=True)
        meta_updated = adapt_families(
            model, task_loss, stack_params(theta, n), part, family_steps=family_steps, family_lr=family_lr,
            task_steps=task_steps, task_lr=task_lr, task_first_order=not exact_meta_gradient,
            family_first_order=True, reduction=family_loss_reduction,
        )
        goal = part.goal_tasks()
        for start, out in ((meta_updated, after), (stack_params(theta, n), without)):
            current = {k: v.detach().requires_grad_(True) for k, v in repeat_per_task(start, n_goal).items()}
            curve = []
            for k in range(steps + 1):
                if k > 0:  # 2./3. one fine-tuning step on the goal task's K examples (Alg. 1 line 14, γ)
                    current = adapt_tasks(model, task_loss, current, goal.support_x, goal.support_y, 1, goal_lr,
                                          first_order=True)
                    current = {name: value.detach().requires_grad_(True) for name, value in current.items()}
                with torch.no_grad():
                    losses = task_loss(batched_functional_forward(model, current, goal.query_x), goal.query_y)
                curve.append(losses.view(n, n_goal))
            out.append(torch.stack(curve, dim=-1))
    settings = {"task_lr": float(task_lr), "family_lr": float(family_lr), "goal_lr": float(goal_lr),
                "task_steps": int(task_steps), "family_steps": int(family_steps),
                "exact_meta_gradient": bool(exact_meta_gradient)}
    return FamilyAdaptationCurve(
        list(range(steps + 1)), torch.cat(after).double().numpy(), torch.cat(without).double().numpy(), settings
    )


def tune_family_step_sizes(
    evaluate: Callable[[float, float], FamilyAdaptationCurve],
    family_lrs: Sequence[float],
    goal_lrs: Sequence[float],
) -> FamilyTuningResult:
    """Grid-search the test-time (β, γ) of any method on VALIDATION families (never the test families).

    :param evaluate: ``(β, γ) -> FamilyAdaptationCurve`` on the validation families.
    The score is the mean goal error over steps 0..S after the meta-update (β acts at step 0, γ after);
    ties go to the smaller (β, γ).
    """
    if not family_lrs or not goal_lrs:
        raise ValueError("tune_family_step_sizes needs at least one candidate β and one candidate γ")
    scores: dict[tuple[float, float], float] = {}
    for beta in sorted(float(b) for b in family_lrs):
        for gamma in sorted(float(g) for g in goal_lrs):
            scores[(beta, gamma)] = evaluate(beta, gamma).score()
    best = min(scores, key=lambda bg: (scores[bg], bg))
    if not math.isfinite(scores[best]):
        raise FloatingPointError(f"test-time adaptation diverged for every (β, γ) of the grid {sorted(scores)}")
    edges = []
    for name, value, grid in (("family_lr", best[0], family_lrs), ("goal_lr", best[1], goal_lrs)):
        if len(grid) > 1 and value in (min(grid), max(grid)):
            edges.append(name)
    return FamilyTuningResult(best[0], best[1], {f"{b:g},{g:g}": s for (b, g), s in scores.items()}, edges)


# ============================================================================================ learner
class MALTML:
    """Model-Agnostic Learning to Meta-Learn (Alg. 1; first-order variant of 3.2) for supervised families.

    >>> agent = MALTML(MALTMLConfig(hidden_sizes=(8,), n_families=2))
    >>> agent.fit(100, progress_bar=False)                    # doctest: +SKIP
    >>> curve = agent.evaluate(SinusoidFamilies().evaluation_set(50, 5, 5, 5, 2, 100, seed=1))  # doctest: +SKIP

    :param config: :class:`MALTMLConfig` (paper 4.1 defaults).
    :param model: the learner f_θ (default: the paper's ReLU MLP 1-40-40-1, seeded by ``config.seed``).  Must be
        deterministic and batchable under vmap (:func:`metarl.supervised.learner.check_batchable`).
    :param families: the distribution over task distributions p(j) (default: the sinusoid families of 4.1).
    :param task_loss: per-task loss ``(predictions [N, M, ...], targets) -> [N]`` (default: MSE, 4.1).
    """

    def __init__(
        self,
        config: MALTMLConfig | None = None,
        model: nn.Module | None = None,
        families: SinusoidFamilies | None = None,
        task_loss: TaskLoss = mse_task_loss,
    ) -> None:
        self.config = config if config is not None else MALTMLConfig()
        if not isinstance(self.config, MALTMLConfig):
            raise TypeError(f"config must be a MALTMLConfig; got {type(self.config).__name__}")
        self.families = families if families is not None else SinusoidFamilies()
        if model is None:
            model = mlp(1, self.config.hidden_sizes, 1, seed=derive_seed(self.config.seed, "init"))
            model = model.to(self.families.dtype)
        check_batchable(model)
        if not callable(task_loss):
            raise TypeError(f"task_loss must be callable (predictions, targets) -> [N]; got {task_loss!r}")
        self.model = model
        self.task_loss = task_loss
        #: θ: the model's trainable parameters (the live nn.Parameters).
        self.params: Params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        dtype = next(iter(self.params.values())).dtype
        c = self.config
        #: log α, log β, log γ when learned (3.2), else None.
        self.log_step_sizes: dict[str, torch.Tensor] | None = None
        groups: list[dict[str, Any]] = [{"params": list(self.params.values()), "lr": c.outer_lr}]
        if c.learn_step_sizes:
            self.log_step_sizes = {
                name: torch.tensor(math.log(value), dtype=dtype, requires_grad=True)
                for name, value in (("task_lr", c.task_lr), ("family_lr", c.family_lr), ("goal_lr", c.goal_lr))
            }
            groups.append({"params": list(self.log_step_sizes.values()), "lr": c.step_size_lr or c.outer_lr})
        self.optimizer = torch.optim.Adam(groups, lr=c.outer_lr)
        #: numpy generator of the training families (checkpointed, so a resumed run sees the same batches).
        self.rng = np.random.default_rng(derive_seed(c.seed, "families"))
        self.iteration = 0
        self.train_seconds = 0.0

    # --------------------------------------------------------------------------------------- pieces
    def step_sizes(self) -> dict[str, float | torch.Tensor]:
        """α, β, γ: floats, or differentiable 0-d tensors ``exp(log α)`` ... when learned."""
        if self.log_step_sizes is None:
            c = self.config
            return {"task_lr": c.task_lr, "family_lr": c.family_lr, "goal_lr": c.goal_lr}
        return {name: value.exp() for name, value in self.log_step_sizes.items()}

    def step_size_values(self) -> dict[str, float]:
        """α, β, γ as plain floats (their current values when learned)."""
        return {name: float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
                for name, value in self.step_sizes().items()}

    def task_source(self) -> FamilySource:
        """Batches of ``n_families`` families with the configured L, K, Q, goal tasks (Alg. 1 lines 3, 5, 11)."""
        c = self.config
        return self.families.sampler(c.n_families, c.n_tasks, c.k_shot, c.k_query, c.n_goal, c.goal_query)

    def family_update(self, batch: FamilyBatch, *, create_graph: bool) -> Params:
        """θ'_j for every family of ``batch`` (Eq. 2 / Alg. 1 lines 4-10), stacked ``[F, *shape]``.

        Second-order variant: the exact V^{m,β} (through the task step); with ``create_graph`` the result stays
        differentiable w.r.t. θ for the third-order outer gradient.  First-order variant: Ṽ^m (task-level
        gradients detached, 3.2), never differentiable.
        """
        c = self.config
        sizes = self.step_sizes()
        first_order = c.variant == "first_order"
        return adapt_families(
            self.model, self.task_loss, stack_params(self.params, batch.n_families), batch,
            family_steps=c.m, family_lr=sizes["family_lr"], task_steps=c.task_steps, task_lr=sizes["task_lr"],
            task_first_order=first_order, family_first_order=first_order or not create_graph,
            reduction=c.family_loss_reduction,
        )

    def goal_losses(self, family_params: Params, batch: FamilyBatch, *, steps: int, create_graph: bool) -> torch.Tensor:
        """``[F, C]`` goal-task query loss after ``steps`` fine-tuning steps from θ'_j (Alg. 1 lines 11-15, γ)."""
        goal = batch.goal_tasks()
        # Alg. 1 lines 12-15: θ'_c = θ'_j − γ ∇L_{T_c}(f_θ'j) on the K examples of each goal task
        tuned = adapt_tasks(self.model, self.task_loss, repeat_per_task(family_params, batch.n_goal),
                            goal.support_x, goal.support_y, steps, self.step_sizes()["goal_lr"],
                            first_order=not create_graph)
        losses = self.task_loss(batched_functional_forward(self.model, tuned, goal.query_x), goal.query_y)
        return losses.view(batch.n_families, batch.n_goal)

    def outer_loss(self, batch: FamilyBatch) -> MALTMLLoss:
        """The learning-to-meta-learn objective of Eq. (3) on ``batch`` — ``Σ_j Σ_c L_{T_c}(U^{r,γ}(V^{m,β}(θ)))``
        — differentiable w.r.t. θ through both adaptation levels (second-order variant; Alg. 1 lines 3-16)."""
        if self.config.variant != "second_order":
            raise ValueError("outer_loss is the second-order objective; the first-order variant has no outer loss "
                             "(it updates θ ← θ + η Σ_j (θ'_j − θ))")
        batch = batch.validate()
        family_params = self.family_update(batch, create_graph=True)
        goal = self.goal_losses(family_params, batch, steps=self.config.r_goal, create_graph=True)
        return MALTMLLoss(goal.sum(), goal, family_params)  # Eq. (3): a SUM over families and goal tasks

    # ------------------------------------------------------------------------------------ training
    def step(self, batch: FamilyBatch, *, diagnostics: bool = False) -> dict[str, float]:
        """One outer iteration on ``batch``.

        Second order (Alg. 1 lines 3-17): Adam step on ∇_θ of :meth:`outer_loss`.
        First order (3.2): θ'_j = Ṽ^m_j(θ) for every family, then θ ← θ + η Σ_j (θ'_j − θ) ('sgd') or an Adam step
        with −Σ_j (θ'_j − θ) as the gradient ('adam'); the goal tasks are only used for ``diagnostics``.

        :param diagnostics: also log the goal error before the meta-update and after the meta-update without
            fine-tuning (extra forward passes).
        :returns: metrics ``train/goal_loss_after_finetune`` (second order; mean over goal tasks),
            ``train/update_norm`` / ``train/grad_norm``, ``time/iteration``, learned step sizes, diagnostics.
        """
        batch = batch.validate()
        c = self.config
        start = time.perf_counter()
        metrics: dict[str, float] = {}
        self.optimizer.zero_grad(set_to_none=True)
        if c.variant == "second_order":
            out = self.outer_loss(batch)
            if not torch.isfinite(out.loss):
                raise FloatingPointError(
                    f"MALTML outer loss is {out.loss.item()} at iteration {self.iteration}; lower the step sizes "
                    f"(α={c.task_lr}, β={c.family_lr}, γ={c.goal_lr}, η={c.outer_lr})"
                )
            out.loss.backward()  # Alg. 1 line 17: the gradient through both levels ("third order")
            trained = list(self.params.values()) + list((self.log_step_sizes or {}).values())
            if c.grad_clip_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(trained, c.grad_clip_norm)
            else:
                norm = torch.linalg.vector_norm(torch.stack(
                    [torch.linalg.vector_norm(p.grad) for p in trained if p.grad is not None]))
            self.optimizer.step()
            metrics["train/goal_loss_after_finetune"] = float(out.goal_losses.detach().mean())
            metrics["train/grad_norm"] = float(norm)
            family_params = {k: v.detach() for k, v in out.family_params.items()}
        else:
            family_params = {k: v.detach() for k, v in self.family_update(batch, create_graph=False).items()}
            with torch.no_grad():
                # 3.2: θ ← θ + η Σ_j (θ'_j − θ)
                delta = {name: (family_params[name] - p.detach()).sum(dim=0) for name, p in self.params.items()}
                norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(d) for d in delta.values()]))
                if not torch.isfinite(norm):
                    raise FloatingPointError(
                        f"MALTML first-order update is not finite at iteration {self.iteration}; lower β={c.family_lr}"
                    )
                if c.first_order_outer == "sgd":
                    for name, p in self.params.items():
                        p.add_(delta[name], alpha=c.outer_lr)
            if c.first_order_outer == "adam":
                for name, p in self.params.items():
                    p.grad = -delta[name]
                self.optimizer.step()
            metrics["train/update_norm"] = float(norm)
        self.iteration += 1
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics["time/iteration"] = elapsed
        if self.log_step_sizes is not None:
            for name, value in self.step_size_values().items():
                metrics[f"step_size/{name}"] = value
        if diagnostics:
            with torch.no_grad():
                theta = stack_params({k: v.detach() for k, v in self.params.items()}, batch.n_families)
                goal = batch.goal_tasks()
                for key, start_params in (("before_meta_update", theta), ("after_meta_update", family_params)):
                    per_task = repeat_per_task(start_params, batch.n_goal)
                    losses = self.task_loss(batched_functional_forward(self.model, per_task, goal.query_x),
                                            goal.query_y)
                    metrics[f"train/goal_loss_{key}"] = float(losses.mean())
            if c.variant == "first_order":
                start_params = {k: v.requires_grad_(True) for k, v in family_params.items()}
                sizes = self.step_sizes()
                tuned = adapt_tasks(self.model, self.task_loss, repeat_per_task(start_params, batch.n_goal),
                                    goal.support_x, goal.support_y, c.r_goal, sizes["goal_lr"], first_order=True)
                with torch.no_grad():
                    losses = self.task_loss(batched_functional_forward(self.model, tuned, goal.query_x), goal.query_y)
                metrics["train/goal_loss_after_finetune"] = float(losses.mean())
        return metrics

    def fit(
        self,
        iterations: int = 70_000,
        source: FamilySource | None = None,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        log_every: int = 100,
        checkpoint_every: int = 1000,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        tensorboard: bool = False,
        progress_bar: bool = True,
        desc: str = "MALTML",
    ) -> FitResult:
        """Train until ``iterations`` outer iterations are completed in total (4.1: 70,000).

        Same contract as :meth:`metarl.supervised.learner.SupervisedMetaLearner.fit`: ``run_dir`` gets
        ``progress.csv`` (and TensorBoard files) and atomic ``last.pt`` checkpoints every ``checkpoint_every``
        iterations and at the end; ``resume=True`` continues from ``last.pt`` (parameters, step sizes, Adam state,
        iteration, family generator, elapsed time) and ends with the parameters of an uninterrupted run.  Without
        ``resume`` an existing ``last.pt`` is an error (no silent overwrite).
        """
        source = source if source is not None else self.task_source()
        if not callable(source):
            raise TypeError(f"source must be a callable rng -> FamilyBatch; got {type(source).__name__}")
        return run_fit_loop(
            self, source, iterations, kind=CHECKPOINT_KIND, run_dir=run_dir, resume=resume, log_every=log_every,
            checkpoint_every=checkpoint_every, callback=callback, tensorboard=tensorboard,
            progress_bar=progress_bar, desc=desc, postfix=("goal", "train/goal_loss_after_finetune"),
        )

    # ------------------------------------------------------------------------------------ test time
    def evaluate(
        self,
        batch: FamilyBatch | FamilyEvaluationSet,
        steps: int | None = None,
        *,
        family_lr: float | None = None,
        goal_lr: float | None = None,
        progress_bar: bool = False,
    ) -> FamilyAdaptationCurve:
        """The test-time protocol (3.1) with this model's own meta-update: exact V^{m,β} (second order) or Ṽ^m
        (first order), then ``steps`` (default ``eval_steps``) fine-tuning steps of γ on every goal task.

        :param family_lr: test-time β (default: the trained β); :param goal_lr: test-time γ (default: trained γ).
        """
        if isinstance(batch, FamilyEvaluationSet):
            batch = batch.batch
        c = self.config
        sizes = self.step_size_values()
        return evaluate_family_adaptation(
            self.model, self.params, batch, task_lr=sizes["task_lr"],
            family_lr=sizes["family_lr"] if family_lr is None else family_lr,
            goal_lr=sizes["goal_lr"] if goal_lr is None else goal_lr,
            steps=c.eval_steps if steps is None else steps, task_steps=c.task_steps, family_steps=c.m,
            exact_meta_gradient=c.variant == "second_order", family_loss_reduction=c.family_loss_reduction,
            task_loss=self.task_loss, chunk_families=c.eval_chunk_families, progress_bar=progress_bar,
        )

    # ---------------------------------------------------------------------------------- checkpoints
    def state_dict(self, metrics: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Checkpoint-safe state: θ, log step sizes, Adam state, iteration, generator, config, elapsed time."""
        return {
            "params": {name: value.detach().clone() for name, value in self.params.items()},
            "log_step_sizes": None if self.log_step_sizes is None else
            {k: v.detach().clone() for k, v in self.log_step_sizes.items()},
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "rng": generator_state(self.rng),
            "config": asdict(self.config),
            "train_seconds": self.train_seconds,
            "metrics": dict(metrics or {}),
            "metadata": {"agent": type(self).__name__, "agent_config": asdict(self.config)},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`.

        :raises ValueError: if parameter names/shapes or the training-relevant config differ.
        """
        params = state.get("params")
        if not isinstance(params, Mapping) or set(params) != set(self.params):
            have = sorted(params) if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"checkpoint parameters {have} do not match the model's {sorted(self.params)}")
        for name, value in params.items():
            if tuple(value.shape) != tuple(self.params[name].shape):
                raise ValueError(f"checkpoint parameter {name!r} has shape {tuple(value.shape)}, the model's has "
                                 f"{tuple(self.params[name].shape)}")
        saved = state.get("config", {})
        current = asdict(self.config)
        ignored = {"eval_steps", "eval_chunk_families"}
        differ = {k: (saved.get(k), v) for k, v in current.items()
                  if k not in ignored and _plain(saved.get(k)) != _plain(v)}
        if differ:
            raise ValueError(f"checkpoint was trained with another MALTMLConfig; (saved, current) differ in {differ}")
        with torch.no_grad():
            for name, value in params.items():
                self.params[name].copy_(value)
            if self.log_step_sizes is not None:
                for name, value in state["log_step_sizes"].items():
                    self.log_step_sizes[name].copy_(value)
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state.get("iteration", 0))
        if "rng" in state:
            set_generator_state(self.rng, state["rng"], name="MALTML family generator")
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def save(self, path: str | Path) -> Path:
        """Write an atomic checkpoint that :meth:`load` turns back into this agent."""
        save_checkpoint(path, self.state_dict(), kind=CHECKPOINT_KIND)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> MALTML:
        """Rebuild an agent from :meth:`save` or ``fit(run_dir=...)`` (``kwargs``: ``model``, ``families``, ...)."""
        state = load_checkpoint(path, CHECKPOINT_KIND)
        agent = cls(MALTMLConfig.from_dict(state["config"]), **kwargs)
        agent.load_state_dict(state)
        return agent


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
