"""The batched supervised meta-learner: MAML for regression and classification (Finn et al. 2017, Alg. 2).

One meta-iteration on a :class:`~metarl.supervised.tasks.TaskBatch` of N tasks (Alg. 2 lines 3-10)::

    θ'_i = θ − α ∇_θ L_i(f_θ; D_i)                 (inner step(s) on the K support examples, line 7)
    θ   ← θ − β ∇_θ (1/N) Σ_i L_i(f_θ'_i; D'_i)    (meta-step on the query examples, line 10; Adam here)

Every task of the meta-batch is adapted in ONE call of :func:`metarl.maml.adapt` — not a Python loop over
tasks: θ is stacked to ``[N, *shape]`` (:func:`~metarl.maml.stack_params`), the model is evaluated for all
tasks at once with ``torch.func.vmap`` over ``functional_call``
(:func:`~metarl.maml.batched_functional_forward`), and the inner loss is the **sum** of the per-task losses,
so one backward pass yields every per-task gradient (see :mod:`metarl.maml`).  ``batching="loop"`` runs the
same maths one task at a time; it exists as the reference the batched path is tested against and as the
baseline of ``benchmarks/bench_supervised_speed.py``.

With ``first_order=False`` the meta-gradient is exact second order (MAML Eq. 1, Hessian-vector products
through the inner step); ``first_order=True`` is first-order MAML (5.2).  ``inner_steps=0`` turns the learner
into plain multi-task training on the query sets ("pretraining on all tasks", MAML 5.1 baseline (a)).

**Batch normalization.**  Under ``vmap`` a BatchNorm layer cannot update running statistics in place (the
buffers are not batched), so models must build their BatchNorm layers with ``track_running_stats=False``:
every forward pass normalizes with the statistics of the examples it is given, at training *and* test time.
This is what the MAML reference code does (its batch norm never uses running averages), and it is
*transductive*: each task's support set is normalized with its own statistics, and each task's query set
with its own (vmap keeps the statistics per task).  :func:`check_batchable` enforces it with a clear error.
Stochastic layers (dropout) are refused too: ``vmap`` would need an explicit randomness policy and the
learner keeps all randomness in seeded generators.

**Why one file of ~800 lines** (over the ~600-line guide): it holds one class, :class:`SupervisedMetaLearner`
(~320 lines: Alg. 2's step, adaptation, evaluation, fit and checkpoints), and the small types its methods return
(:class:`AdaptationCurve`, :class:`FitResult`, :class:`AdaptedPredictor`, :class:`TuningResult`), its losses and
the fit loop MALTML shares; about a quarter of it is docstrings.  Splitting the return types away from the one class
that produces them would make the module harder to read, not easier.
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
import torch.nn.functional as F
from torch import nn

from metarl.checkpoint import CheckpointManager
from metarl.logger import Logger
from metarl.maml import (
    Params,
    StepSize,
    adapt,
    batched_functional_forward,
    functional_forward,
    inner_step_size,
    stack_params,
)
from metarl.progress import progress
from metarl.seeding import derive_seed, generator_state, set_generator_state
from metarl.stats import mean_ci
from metarl.supervised.tasks import TaskBatch, TaskSource

__all__ = [
    "CHECKPOINT_KIND",
    "AdaptationCurve",
    "AdaptedPredictor",
    "FitResult",
    "MetaLearnerConfig",
    "MetaLoss",
    "SupervisedMetaLearner",
    "TaskLoss",
    "TuningResult",
    "accuracy_task_metric",
    "check_batchable",
    "cross_entropy_task_loss",
    "mse_task_loss",
    "run_fit_loop",
    "tune_step_size",
]

#: ``kind`` of the learner's checkpoints (:mod:`metarl.checkpoint`).
CHECKPOINT_KIND = "supervised_maml"

#: A per-task loss or metric: ``(predictions [N, M, ...], targets [N, M, ...]) -> [N]`` (one value per task).
TaskLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------------------------------- losses
def mse_task_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean-squared error of each task, ``[N]`` (MAML 5.1: "the loss is the mean-squared error")."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"mse_task_loss: predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} differ in shape"
        )
    return (predictions - targets).pow(2).flatten(1).mean(dim=1)


def _check_logits(logits: torch.Tensor, labels: torch.Tensor, where: str) -> None:
    if logits.ndim != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"{where}: expected logits [N, M, n_classes] and labels [N, M]; got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if labels.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"{where}: labels must be integer class indices; got dtype {labels.dtype}")


def cross_entropy_task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each task, ``[N]`` (MAML 5.2: "the cross-entropy error between the predicted and
    true class"); ``logits`` ``[N, M, n_classes]``, ``labels`` int ``[N, M]``."""
    _check_logits(logits, labels, "cross_entropy_task_loss")
    n, m = labels.shape
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(n, m).mean(dim=1)


def accuracy_task_metric(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of correctly classified examples of each task, ``[N]``."""
    _check_logits(logits, labels, "accuracy_task_metric")
    return (logits.argmax(dim=-1) == labels).to(logits.dtype).mean(dim=1)


def check_batchable(model: nn.Module) -> None:
    """Raise a ``ValueError`` naming the layer if ``model`` cannot be adapted for a batch of tasks under vmap.

    Refused: normalization layers that track running statistics (their in-place buffer update is
    incompatible with ``vmap``; build them with ``track_running_stats=False`` — per-batch statistics, as in
    the MAML reference code, see the module docstring) and dropout layers (randomness outside the seeded
    generators).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    for name, module in model.named_modules():
        where = f"layer {name!r}" if name else "the model"
        if getattr(module, "track_running_stats", False) and getattr(module, "running_mean", None) is not None:
            raise ValueError(
                f"{where} ({type(module).__name__}) tracks running statistics, which cannot be updated under vmap "
                f"over tasks; build it with track_running_stats=False (per-batch statistics at train and test time, "
                f"as the MAML reference code's batch norm)"
            )
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            raise ValueError(
                f"{where} ({type(module).__name__}) is stochastic; the supervised meta-learner supports only "
                f"deterministic models (remove dropout or set p=0)"
            )
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameter to meta-learn")


# ------------------------------------------------------------------------------------------- config
@dataclass
class MetaLearnerConfig:
    """Configuration of :class:`SupervisedMetaLearner`; defaults are MAML 5.1's sinusoid settings."""

    inner_steps: int = 1
    """Inner gradient steps during meta-training (MAML 5.1: one; 0 = multi-task pretraining, no adaptation)."""
    inner_lr: float = 0.01
    """Inner step size α (MAML 5.1: 0.01 for regression; App. A.1: 0.4 for 5-way Omniglot)."""
    eval_inner_steps: int | None = None
    """Default number of adaptation steps of ``adapt``/``evaluate``; None = ``inner_steps`` (App. A.1
    evaluates 5-way Omniglot with 3 steps after training with 1)."""
    eval_inner_lr: float | None = None
    """Default step size of ``adapt``/``evaluate``; None = ``inner_lr``."""
    outer_lr: float = 1e-3
    """Adam learning rate β of the meta-step (MAML 5.1 uses Adam; 1e-3 is the reference code's meta_lr)."""
    first_order: bool = False
    """Drop the second-order terms of the meta-gradient (first-order MAML, MAML 5.2)."""
    batching: str = field(default="vmap", metadata={"choices": ("vmap", "loop")})
    """'vmap': adapt all tasks of a meta-batch in one vectorised call; 'loop': one task at a time (reference)."""
    grad_clip_norm: float | None = None
    """Clip the meta-gradient's global norm to this value; None = no clipping (the paper does not clip)."""
    eval_chunk_size: int = 200
    """Tasks adapted together by ``evaluate`` (bounds memory on large evaluation sets; no effect on results)."""
    seed: int = 0
    """Seed of the learner's task-sampling generator (``derive_seed(seed, "tasks")``)."""

    def __post_init__(self) -> None:
        def is_int(value: Any) -> bool:
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)

        def is_pos(value: Any) -> bool:
            return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0

        checks = {
            "inner_steps": is_int(self.inner_steps) and self.inner_steps >= 0,
            "inner_lr": is_pos(self.inner_lr),
            "eval_inner_steps": self.eval_inner_steps is None or (is_int(self.eval_inner_steps)
                                                                  and self.eval_inner_steps >= 0),
            "eval_inner_lr": self.eval_inner_lr is None or is_pos(self.eval_inner_lr),
            "outer_lr": is_pos(self.outer_lr),
            "first_order": isinstance(self.first_order, bool),
            "batching": self.batching in ("vmap", "loop"),
            "grad_clip_norm": self.grad_clip_norm is None or is_pos(self.grad_clip_norm),
            "eval_chunk_size": is_int(self.eval_chunk_size) and self.eval_chunk_size >= 1,
            "seed": is_int(self.seed) and self.seed >= 0,
        }
        expected = {
            "inner_steps": "an int >= 0", "inner_lr": "a finite number > 0", "eval_inner_steps": "None or an int >= 0",
            "eval_inner_lr": "None or a finite number > 0", "outer_lr": "a finite number > 0",
            "first_order": "a bool", "batching": "'vmap' or 'loop'", "grad_clip_norm": "None or a number > 0",
            "eval_chunk_size": "an int >= 1", "seed": "an int >= 0",
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"MetaLearnerConfig.{name} must be {expected[name]}; got {getattr(self, name)!r}")

    @property
    def test_steps(self) -> int:
        """Adaptation steps used by ``adapt``/``evaluate`` when not given."""
        return self.inner_steps if self.eval_inner_steps is None else self.eval_inner_steps

    @property
    def test_lr(self) -> float:
        """Adaptation step size used by ``adapt``/``evaluate`` when not given."""
        return self.inner_lr if self.eval_inner_lr is None else self.eval_inner_lr

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetaLearnerConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown MetaLearnerConfig fields: {sorted(unknown)}")
        return cls(**data)


# ------------------------------------------------------------------------------------------ results
class MetaLoss(NamedTuple):
    """Output of :meth:`SupervisedMetaLearner.meta_loss`."""

    loss: torch.Tensor
    """The meta-objective (1/N) Σ_i L_i(f_θ'_i; D'_i), differentiable w.r.t. θ."""
    task_losses: torch.Tensor
    """``[N]`` post-adaptation query loss of each task."""
    predictions: torch.Tensor
    """``[N, Q, ...]`` post-adaptation query predictions."""


@dataclass
class AdaptationCurve:
    """Query loss (and metric) of each task after 0..S adaptation steps on its support set (MAML Fig. 3/6)."""

    steps: list[int]
    """0, 1, ..., S."""
    loss: np.ndarray
    """``[n_tasks, S + 1]`` query loss of each task after each number of steps."""
    metric: np.ndarray | None = None
    """``[n_tasks, S + 1]`` query metric (e.g. accuracy), if the learner has one."""
    metric_name: str | None = None
    """Name of the metric."""
    step_sizes: list[float] = field(default_factory=list)
    """The step size α_k of each step k = 0..S−1."""

    @staticmethod
    def _summary(values: np.ndarray) -> tuple[list[float], list[float]]:
        means, halves = [], []
        for column in values.T:
            if np.all(np.isfinite(column)):
                mean, half = mean_ci(column)
            else:  # a diverged fine-tuning (e.g. a too-large step size): report it, do not hide it
                mean, half = float(np.mean(column)), math.nan
            means.append(float(mean))
            halves.append(float(half))
        return means, halves

    @property
    def n_tasks(self) -> int:
        return int(self.loss.shape[0])

    @property
    def loss_mean(self) -> list[float]:
        """Mean query loss after each number of steps."""
        return self._summary(self.loss)[0]

    @property
    def loss_ci95(self) -> list[float]:
        """Half-width of the 95% Student-t confidence interval over tasks (:func:`metarl.stats.mean_ci`)."""
        return self._summary(self.loss)[1]

    @property
    def metric_mean(self) -> list[float] | None:
        return None if self.metric is None else self._summary(self.metric)[0]

    @property
    def metric_ci95(self) -> list[float] | None:
        return None if self.metric is None else self._summary(self.metric)[1]

    def to_dict(self, per_task: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``per_task=True`` adds the ``[n_tasks, S + 1]`` values."""
        out: dict[str, Any] = {
            "steps": list(self.steps),
            "n_tasks": self.n_tasks,
            "step_sizes": list(self.step_sizes),
            "loss_mean": self.loss_mean,
            "loss_ci95": self.loss_ci95,
        }
        if self.metric is not None:
            out["metric_name"] = self.metric_name
            out["metric_mean"] = self.metric_mean
            out["metric_ci95"] = self.metric_ci95
        if per_task:
            out["loss_per_task"] = self.loss.tolist()
            if self.metric is not None:
                out["metric_per_task"] = self.metric.tolist()
        return out


@dataclass
class FitResult:
    """Output of :meth:`SupervisedMetaLearner.fit`."""

    iterations: int
    """Meta-iterations completed in total (including those before a resume)."""
    start_iteration: int
    """Meta-iteration this call started from (> 0 after a resume)."""
    train_seconds: float
    """Wall-clock seconds spent in meta-steps over the whole run (carried across resumes)."""
    history: dict[str, list[float]] = field(default_factory=dict)
    """Logged metrics of this call: ``{"step": [...], key: [...]}``."""


class AdaptedPredictor:
    """A model with task-adapted parameters θ' (the output of :meth:`SupervisedMetaLearner.adapt`).

    :ivar params: the adapted parameters, stacked with a leading task dimension N (N = 1 for one task),
        detached from the meta-parameters.
    """

    def __init__(self, model: nn.Module, params: Params, single_task: bool) -> None:
        self.model = model
        self.params = params
        self.single_task = single_task

    @property
    def n_tasks(self) -> int:
        return int(next(iter(self.params.values())).shape[0])

    def task_params(self, index: int = 0) -> Params:
        """The adapted parameters of task ``index`` (unstacked, usable with ``functional_call``)."""
        return {name: value[index] for name, value in self.params.items()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions f_θ'(x): ``x`` is ``[M, *x_shape]`` for a single task (``adapt``) or ``[N, M, *x_shape]``
        for a batch of tasks (``adapt_batch``)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor; got {type(x).__name__}")
        if self.single_task:
            return batched_functional_forward(self.model, self.params, x.unsqueeze(0))[0]
        if x.ndim < 2 or x.shape[0] != self.n_tasks:
            raise ValueError(f"x must have shape [N={self.n_tasks}, M, ...] for {self.n_tasks} tasks; got {tuple(x.shape)}")
        return batched_functional_forward(self.model, self.params, x)

    __call__ = predict


@dataclass
class TuningResult:
    """Output of :func:`tune_step_size`."""

    best: float
    """The chosen step size."""
    scores: dict[float, float]
    """Candidate -> mean query loss over steps 1..S and tasks (inf if fine-tuning diverged)."""
    steps: int
    """Adaptation steps used for scoring."""


# ------------------------------------------------------------------------------------------ learner
def run_fit_loop(
    learner: Any,
    source: Callable[[np.random.Generator], Any],
    iterations: int,
    *,
    kind: str,
    run_dir: str | Path | None,
    resume: bool,
    log_every: int,
    checkpoint_every: int,
    callback: Callable[[int, dict[str, float]], None] | None,
    tensorboard: bool,
    progress_bar: bool,
    desc: str,
    postfix: tuple[str, str],
) -> FitResult:
    """The meta-training loop shared by the supervised learners (:class:`SupervisedMetaLearner`, MALTML).

    Runs ``learner.step(source(learner.rng), diagnostics=log_now)`` until ``learner.iteration == iterations``;
    logs every ``log_every`` iterations (and the first and last) to ``history``, ``run_dir/progress.csv`` and
    ``callback`` (0-based iteration index); writes atomic ``last.pt`` checkpoints (``learner.state_dict(metrics)``,
    tagged ``kind``) every ``checkpoint_every`` iterations and at the end.  With ``resume`` it continues from
    ``run_dir/last.pt``; without it an existing ``last.pt`` for a fresh learner is an error (no silent overwrite).
    ``postfix = (label, metric)`` is shown on the progress bar when the metric is logged.
    """
    for name, value, minimum in (("iterations", iterations, 0), ("log_every", log_every, 1),
                                 ("checkpoint_every", checkpoint_every, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"fit: {name} must be an int >= {minimum}; got {value!r}")
    manager = None
    if run_dir is not None:
        manager = CheckpointManager(run_dir, keep_best_by=None, kind=kind)
        state = manager.resume() if resume else None
        if state is not None:
            learner.load_state_dict(state)
        elif manager.last_path.exists() and learner.iteration == 0:
            raise FileExistsError(
                f"{manager.last_path} exists; pass resume=True to continue that run or use another run_dir"
            )
    start = learner.iteration
    history: dict[str, list[float]] = {"step": []}
    logger = Logger(run_dir, use_tensorboard=tensorboard, purge_step=start) if run_dir is not None else None
    label, metric = postfix
    try:
        bar = progress(range(start, iterations), desc=desc, total=max(iterations, start), initial=start,
                       disable=None if progress_bar else True)
        for it in bar:
            log_now = (it + 1) % log_every == 0 or it + 1 == iterations or it == start
            metrics = learner.step(source(learner.rng), diagnostics=log_now)
            if log_now:
                history["step"].append(it)
                for key, value in metrics.items():
                    history.setdefault(key, []).append(value)
                if logger is not None:
                    logger.log(it, metrics)
                if callback is not None:
                    callback(it, metrics)
                if metric in metrics:
                    bar.set_postfix({label: f"{metrics[metric]:.3f}"}, refresh=False)
            if manager is not None and ((it + 1) % checkpoint_every == 0 or it + 1 == iterations):
                manager.save(learner.state_dict(metrics))
    finally:
        if logger is not None:
            logger.close()
    return FitResult(learner.iteration, start, learner.train_seconds, history)


class SupervisedMetaLearner:
    """MAML (Alg. 2) over any deterministic ``nn.Module``, adapting whole meta-batches of tasks at once.

    :param model: the learner f_θ; its parameters are the meta-parameters θ (updated in place by Adam).
        Called functionally (``functional_call``) on one task's examples ``[M, *x_shape]`` at a time (under
        vmap), so it must treat the first input dimension as a batch of examples.  Its initial weights are
        the caller's (seed them when building it).
    :param task_loss: per-task loss ``(predictions [N, M, ...], targets [N, M, ...]) -> [N]``, e.g.
        :func:`mse_task_loss` or :func:`cross_entropy_task_loss`; used for the inner steps and the meta-loss.
    :param config: :class:`MetaLearnerConfig` (MAML 5.1 defaults).
    :param metric: optional per-task metric reported next to the loss (e.g. :func:`accuracy_task_metric`).
    :param metric_name: its name in logs and results.
    :param metadata: plain data stored in every checkpoint (e.g. the model's architecture, so an agent can
        rebuild it).
    """

    def __init__(
        self,
        model: nn.Module,
        task_loss: TaskLoss,
        config: MetaLearnerConfig | None = None,
        *,
        metric: TaskLoss | None = None,
        metric_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        check_batchable(model)
        if not callable(task_loss):
            raise TypeError(f"task_loss must be callable (predictions, targets) -> [N]; got {task_loss!r}")
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable or None; got {metric!r}")
        self.model = model
        self.task_loss = task_loss
        self.config = config if config is not None else MetaLearnerConfig()
        if not isinstance(self.config, MetaLearnerConfig):
            raise TypeError(f"config must be a MetaLearnerConfig; got {type(self.config).__name__}")
        self.metric = metric
        self.metric_name = metric_name or (getattr(metric, "__name__", "metric") if metric is not None else None)
        self.metadata: dict[str, Any] = dict(metadata or {})
        #: θ: the model's trainable parameters by name (the live ``nn.Parameter`` objects).
        self.params: Params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.config.outer_lr)
        #: numpy generator of the training tasks, handed to the task source (checkpointed for exact resumes).
        self.rng = np.random.default_rng(derive_seed(self.config.seed, "tasks"))
        #: meta-iterations completed.
        self.iteration = 0
        #: wall-clock seconds spent in :meth:`step`.
        self.train_seconds = 0.0

    # ----------------------------------------------------------------------------- batched primitives
    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Predictions of every task with its own parameters: ``params`` ``[N, *shape]``, ``x`` ``[N, M, ...]``."""
        if self.config.batching == "loop":
            return torch.stack([
                functional_forward(self.model, {name: value[i] for name, value in params.items()}, x[i])
                for i in range(x.shape[0])
            ])
        return batched_functional_forward(self.model, params, x)

    def adapt_params(
        self,
        params: Params,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        steps: int,
        step_size: StepSize,
        first_order: bool,
    ) -> Params:
        """Inner loop for N tasks at once: stacked ``params`` ``[N, *shape]`` -> adapted θ'_i ``[N, *shape]``.

        Calls :func:`metarl.maml.adapt` ONCE with the summed loss Σ_i L_i(θ_i; D_i) (``batching="vmap"``), or
        once per task (``"loop"``).  Differentiable w.r.t. ``params`` (second order unless ``first_order``).
        """
        if self.config.batching == "loop":
            adapted = []
            for i in range(support_x.shape[0]):
                x_i, y_i = support_x[i], support_y[i : i + 1]

                def task_loss(p: Params, x_i: torch.Tensor = x_i, y_i: torch.Tensor = y_i) -> torch.Tensor:
                    return self.task_loss(functional_forward(self.model, p, x_i).unsqueeze(0), y_i).sum()

                start = {name: value[i] for name, value in params.items()}
                adapted.append(adapt(start, task_loss, steps, step_size, first_order))
            return {name: torch.stack([a[name] for a in adapted]) for name in params}

        def summed_loss(p: Params) -> torch.Tensor:
            # Σ_i L_i(θ_i): the SUM over tasks, so each slice of the gradient is that task's own ∇L_i (metarl.maml)
            return self.task_loss(batched_functional_forward(self.model, p, support_x), support_y).sum()

        return adapt(params, summed_loss, steps, step_size, first_order)

    # ------------------------------------------------------------------------------------ meta-training
    def meta_loss(self, batch: TaskBatch) -> MetaLoss:
        """The meta-objective of MAML Alg. 2 line 10 on ``batch``, differentiable w.r.t. θ (``self.params``)."""
        batch = _as_task_batch(batch).validate()
        cfg = self.config
        stacked = stack_params(self.params, batch.n_tasks)
        adapted = self.adapt_params(
            stacked, batch.support_x, batch.support_y, cfg.inner_steps, cfg.inner_lr, cfg.first_order
        )
        predictions = self.forward(adapted, batch.query_x)
        task_losses = self.task_loss(predictions, batch.query_y)
        _check_task_values(task_losses, batch.n_tasks, "task_loss")
        # (1/N) Σ_i L_i(f_θ'_i; D'_i): the mean over the meta-batch, as the MAML reference code
        return MetaLoss(task_losses.mean(), task_losses, predictions)

    def step(self, batch: TaskBatch, *, diagnostics: bool = False) -> dict[str, float]:
        """One meta-iteration (Alg. 2 lines 4-10): adapt every task, Adam step on the meta-loss.

        :param diagnostics: also measure the query loss *before* adaptation (one extra forward pass).
        :returns: metrics ``train/query_loss_after_adapt``, ``train/<metric>_after_adapt``,
            ``train/grad_norm``, ``time/iteration`` (and ``train/query_loss_before_adapt``).
        """
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        out = self.meta_loss(batch)
        if not torch.isfinite(out.loss):
            raise FloatingPointError(
                f"meta-loss is {out.loss.item()} at iteration {self.iteration}; lower MetaLearnerConfig.inner_lr "
                f"({self.config.inner_lr}) or outer_lr ({self.config.outer_lr})"
            )
        out.loss.backward()
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        if self.config.grad_clip_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.config.grad_clip_norm)
        else:
            grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        self.optimizer.step()
        self.iteration += 1
        metrics = {"train/query_loss_after_adapt": float(out.loss.detach()), "train/grad_norm": float(grad_norm)}
        if self.metric is not None:
            with torch.no_grad():
                value = self.metric(out.predictions.detach(), batch.query_y).mean()
            metrics[f"train/{self.metric_name}_after_adapt"] = float(value)
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics["time/iteration"] = elapsed
        if diagnostics:
            with torch.no_grad():
                stacked = stack_params(self.params, batch.n_tasks)
                before = self.task_loss(self.forward(stacked, batch.query_x), batch.query_y).mean()
            metrics["train/query_loss_before_adapt"] = float(before)
        return metrics

    def fit(
        self,
        task_source: TaskSource,
        iterations: int,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        log_every: int = 100,
        checkpoint_every: int = 1000,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        tensorboard: bool = False,
        progress_bar: bool = True,
        desc: str = "meta-training",
    ) -> FitResult:
        """Meta-train until ``iterations`` meta-iterations are completed in total.

        Each iteration draws a meta-batch ``task_source(self.rng)`` and calls :meth:`step`.  The task source
        must draw only from the generator it is given: the generator's state is checkpointed, so a resumed run
        sees exactly the task batches of an uninterrupted one and — with the Adam state restored — ends with
        identical parameters.

        :param task_source: ``rng -> TaskBatch`` (:data:`~metarl.supervised.tasks.TaskSource`).
        :param iterations: total meta-iterations (MAML 5.1 trains the sinusoid model for 70,000).
        :param run_dir: if given: ``progress.csv`` (and TensorBoard files) of the logged metrics, and atomic
            checkpoints ``last.pt`` every ``checkpoint_every`` iterations and at the end.
        :param resume: continue from ``run_dir/last.pt`` if it exists (parameters, Adam state, iteration, task
            generator, elapsed time).  Without it, an existing ``last.pt`` for a fresh learner is an error
            (no silent overwrite).
        :param log_every: log (CSV, ``callback``, ``history``) every this many iterations and at the last one.
        :param checkpoint_every: checkpoint period in iterations (with ``run_dir``).
        :param callback: logging hook called as ``callback(iteration, metrics)`` at each logged iteration.
        :param tensorboard: also write TensorBoard event files in ``run_dir``.
        :param progress_bar: show a progress bar (auto-disabled when not on a terminal).
        """
        if not callable(task_source):
            raise TypeError(f"task_source must be a callable rng -> TaskBatch; got {type(task_source).__name__}")
        return run_fit_loop(
            self, task_source, iterations, kind=CHECKPOINT_KIND, run_dir=run_dir, resume=resume,
            log_every=log_every, checkpoint_every=checkpoint_every, callback=callback, tensorboard=tensorboard,
            progress_bar=progress_bar, desc=desc, postfix=("loss", "train/query_loss_after_adapt"),
        )

    # ------------------------------------------------------------------------------------ adaptation
    def _start_params(self) -> Params:
        """θ detached from the meta-training graph (test-time adaptation is first order and builds no
        meta-gradient), as fresh leaves that require grad so the inner gradients can be taken."""
        return {name: value.detach().requires_grad_(True) for name, value in self.params.items()}

    def adapt_batch(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        steps: int | None = None,
        step_size: StepSize | None = None,
    ) -> AdaptedPredictor:
        """Fine-tune θ on each of N tasks' support sets ``[N, K, ...]``; returns the N adapted predictors.

        :param steps: gradient steps (default: ``config.test_steps``); each uses the same K examples.
        :param step_size: α or a schedule (see :func:`metarl.maml.adapt`); default ``config.test_lr``.
        """
        _check_support(support_x, support_y, batched=True)
        steps = self.config.test_steps if steps is None else steps
        step_size = self.config.test_lr if step_size is None else step_size
        stacked = stack_params(self._start_params(), support_x.shape[0])
        adapted = self.adapt_params(stacked, support_x, support_y, steps, step_size, first_order=True)
        return AdaptedPredictor(self.model, {k: v.detach() for k, v in adapted.items()}, single_task=False)

    def adapt(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        steps: int | None = None,
        step_size: StepSize | None = None,
    ) -> AdaptedPredictor:
        """Fine-tune θ on ONE task's K support examples (``support_x`` ``[K, *x_shape]``) — MAML's test-time
        adaptation; the result's :meth:`~AdaptedPredictor.predict` maps ``[M, *x_shape]`` to predictions."""
        _check_support(support_x, support_y, batched=False)
        batched = self.adapt_batch(support_x.unsqueeze(0), support_y.unsqueeze(0), steps, step_size)
        return AdaptedPredictor(self.model, batched.params, single_task=True)

    def evaluate(
        self,
        batch: TaskBatch,
        steps: int | None = None,
        step_size: StepSize | None = None,
        *,
        progress_bar: bool = False,
    ) -> AdaptationCurve:
        """Query loss (and metric) of every task after 0, 1, ..., ``steps`` adaptation steps (MAML 5.1, App. B).

        Every step is computed on the SAME K support examples of the task ("each gradient step is computed
        using the same K datapoints"); the loss is measured on the task's query set.  Tasks are processed
        ``config.eval_chunk_size`` at a time.

        :param steps: adaptation steps S (default ``config.test_steps``).
        :param step_size: α or a schedule (see :func:`metarl.maml.adapt`); default ``config.test_lr``.
        """
        batch = _as_task_batch(batch).validate()
        steps = self.config.test_steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
            raise ValueError(f"steps must be an int >= 0; got {steps!r}")
        step_size = self.config.test_lr if step_size is None else step_size
        alphas = [inner_step_size(step_size, k) for k in range(steps)]
        losses, metrics = [], []
        chunk = self.config.eval_chunk_size
        for lo in progress(range(0, batch.n_tasks, chunk), desc="evaluating", disable=None if progress_bar else True):
            part = batch.tasks(slice(lo, lo + chunk))
            current = stack_params(self._start_params(), part.n_tasks)
            chunk_losses, chunk_metrics = [], []
            for k in range(steps + 1):
                if k > 0:
                    current = self.adapt_params(current, part.support_x, part.support_y, 1, alphas[k - 1],
                                                first_order=True)
                    # cut the graph after every step: test-time adaptation needs no meta-gradient
                    current = {name: value.detach().requires_grad_(True) for name, value in current.items()}
                with torch.no_grad():
                    predictions = self.forward(current, part.query_x)
                    chunk_losses.append(self.task_loss(predictions, part.query_y))
                    if self.metric is not None:
                        chunk_metrics.append(self.metric(predictions, part.query_y))
            losses.append(torch.stack(chunk_losses, dim=1))
            if self.metric is not None:
                metrics.append(torch.stack(chunk_metrics, dim=1))
        loss = torch.cat(losses).double().numpy()
        metric = torch.cat(metrics).double().numpy() if self.metric is not None else None
        step_sizes = [float(a) if not isinstance(a, Mapping) else math.nan for a in alphas]
        return AdaptationCurve(list(range(steps + 1)), loss, metric, self.metric_name, step_sizes)

    # ------------------------------------------------------------------------------------ checkpoints
    def state_dict(self, metrics: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Checkpoint-safe state: θ, Adam state, iteration, task-generator state, config, elapsed time."""
        return {
            "params": {name: value.detach().clone() for name, value in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "rng": generator_state(self.rng),
            "config": self.config.to_dict(),
            "train_seconds": self.train_seconds,
            "metrics": dict(metrics or {}),
            "metadata": self.metadata,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (e.g. a checkpoint loaded with :func:`metarl.checkpoint.load_checkpoint`).

        :raises ValueError: if the parameters' names/shapes or the training-relevant config differ.
        """
        params = state.get("params")
        if not isinstance(params, Mapping) or set(params) != set(self.params):
            have = sorted(params) if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"checkpoint parameters {have} do not match the model's {sorted(self.params)}")
        for name, value in params.items():
            if tuple(value.shape) != tuple(self.params[name].shape):
                raise ValueError(
                    f"checkpoint parameter {name!r} has shape {tuple(value.shape)}, the model's has "
                    f"{tuple(self.params[name].shape)}"
                )
        saved = state.get("config", {})
        ignored = {"eval_chunk_size", "eval_inner_steps", "eval_inner_lr"}
        current = self.config.to_dict()
        differ = {k: (saved.get(k), current[k]) for k in current if k not in ignored and saved.get(k) != current[k]}
        if differ:
            raise ValueError(f"checkpoint was trained with another config; (saved, current) differ in {differ}")
        with torch.no_grad():
            for name, value in params.items():
                self.params[name].copy_(value)
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state.get("iteration", 0))
        if "rng" in state:
            set_generator_state(self.rng, state["rng"], name="learner task generator")
        self.train_seconds = float(state.get("train_seconds", 0.0))


# ------------------------------------------------------------------------------------------ tuning
def tune_step_size(
    learner: SupervisedMetaLearner,
    batch: TaskBatch,
    candidates: Sequence[float],
    steps: int,
) -> TuningResult:
    """Pick the fine-tuning step size of a baseline among ``candidates`` on *training* tasks.

    MAML 5.1 fine-tunes the pretrained baseline "using an automatically tuned step size" (and App. C.1 the
    multi-task models "with a tuned step size").  The score of a candidate is its mean query loss over steps
    1..S and over the tasks of ``batch`` — which must be drawn from the training distribution, never the test
    tasks; a candidate whose fine-tuning diverges scores ``inf``.  Ties go to the smaller step size.
    """
    if not candidates:
        raise ValueError("tune_step_size needs at least one candidate step size")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"tune_step_size needs steps >= 1 (there is no step size to tune at 0); got {steps!r}")
    scores: dict[float, float] = {}
    for alpha in sorted(float(a) for a in candidates):
        curve = learner.evaluate(batch, steps=steps, step_size=alpha)
        values = curve.loss[:, 1:]
        scores[alpha] = float(values.mean()) if np.all(np.isfinite(values)) else math.inf
    best = min(scores, key=lambda a: (scores[a], a))
    if not math.isfinite(scores[best]):
        raise FloatingPointError(f"fine-tuning diverged for every candidate step size {sorted(scores)}")
    return TuningResult(best, scores, int(steps))


# ------------------------------------------------------------------------------------------ helpers
def _as_task_batch(batch: Any) -> TaskBatch:
    if isinstance(batch, TaskBatch):
        return batch
    if isinstance(batch, tuple) and len(batch) == 4:
        return TaskBatch(*batch)
    raise TypeError(f"expected a TaskBatch (support_x, support_y, query_x, query_y); got {type(batch).__name__}")


def _check_support(support_x: Any, support_y: Any, batched: bool) -> None:
    for name, value in (("support_x", support_x), ("support_y", support_y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a tensor; got {type(value).__name__}")
    need = 2 if batched else 1
    layout = "[N, K, ...]" if batched else "[K, ...]"
    if support_x.ndim < need or support_y.ndim < need:
        raise ValueError(
            f"support_x and support_y must be {layout}; got {tuple(support_x.shape)} and {tuple(support_y.shape)}"
        )
    if support_x.shape[:need] != support_y.shape[:need]:
        raise ValueError(
            f"support_x {tuple(support_x.shape)} and support_y {tuple(support_y.shape)} disagree on the leading "
            f"dimensions of {layout}"
        )
    if support_x.shape[need - 1] == 0:
        raise ValueError("the support set is empty (K = 0)")


def _check_task_values(values: torch.Tensor, n_tasks: int, name: str) -> None:
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != (n_tasks,):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"{name} must return one value per task, shape ({n_tasks},); got {shape}")
