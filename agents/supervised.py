"""Supervised MAML adapters and the baselines of the MAML paper's sinusoid experiments (Finn et al. 2017).

All learners sit on :class:`metarl.supervised.learner.SupervisedMetaLearner` (batched MAML, Alg. 2):

=======================  ===========================================================================================
:class:`MAMLRegressor`   sinusoid regression, MAML 5.1: MLP 1-40-40-1 ReLU, K = 10, one inner step α = 0.01, Adam
                         1e-3, meta-batch 25 tasks; second order (``first_order=True`` gives first-order MAML).
:class:`MAMLClassifier`  N-way K-shot classification, App. A.1: any batchable classifier (default :func:`conv4`),
                         cross-entropy, α = 0.4, 1 inner step in training and 3 at test time (5-way Omniglot).
:class:`PretrainedRegressor`  "pretraining on all of the tasks" (5.1 baseline (a)): the same network trained with
                         Adam on the query sets of the same task batches, no inner step (``inner_steps=0``);
                         fine-tuned at test time with a step size tuned on training tasks (:meth:`tune`).
:class:`OracleRegressor` 5.1 baseline (b): "an oracle which receives the true amplitude and phase as input" — an
                         MLP 3-40-40-1 on (x, A, φ), trained the same way; evaluated without adaptation.
:func:`train_multitask_average`  App. C.1 "multi-task" baseline: many regressors trained separately, one per
                         task, then their parameters averaged and fine-tuned with a tuned step size; variants
                         without regularization, with l2 weight decay and with l2 regularization to the mean of
                         the regressors trained so far (Table 2).
=======================  ===========================================================================================

:func:`run_sinusoid_comparison` trains every method (resumable checkpoints per method) and evaluates them on the
SAME 600 held-out tasks (K ∈ {5, 10, 20} support points reused at every step, MSE on 100 query points after
0..10 steps, mean ± 95% CI); ``examples/sinusoid.py`` and ``benchmarks/bench_sinusoid.py`` drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from metarl.checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from metarl.jsonio import json_ready
from metarl.maml import Params, StepSize, batched_functional_forward
from metarl.progress import progress
from metarl.seeding import derive_seed, generator_state, set_generator_state
from metarl.supervised.learner import (
    CHECKPOINT_KIND,
    AdaptationCurve,
    AdaptedPredictor,
    FitResult,
    MetaLearnerConfig,
    SupervisedMetaLearner,
    TuningResult,
    accuracy_task_metric,
    check_batchable,
    cross_entropy_task_loss,
    mse_task_loss,
    tune_step_size,
)
from metarl.supervised.tasks import (
    SinusoidEvaluationSet,
    SinusoidParams,
    SinusoidTasks,
    TaskBatch,
    TaskSource,
    with_task_inputs,
)
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "DEFAULT_TUNING_CANDIDATES",
    "SINUSOID_METHODS",
    "MAMLClassifier",
    "MAMLClassifierConfig",
    "MAMLRegressor",
    "MAMLRegressorConfig",
    "MultiTaskConfig",
    "MultiTaskResult",
    "OracleRegressor",
    "PretrainedRegressor",
    "SinusoidComparisonConfig",
    "conv4",
    "mlp",
    "plot_sinusoid_curves",
    "plot_sinusoid_fits",
    "run_sinusoid_comparison",
    "multitask_group_bounds",
    "train_multitask_average",
]

#: Fine-tuning step sizes tried for the baselines (log-spaced ×~2 around the paper's α = 0.01 and its Fig. 2
#: pretrained step sizes 0.01 / 0.02).
DEFAULT_TUNING_CANDIDATES: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)

C = TypeVar("C")


def _config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


# ============================================================================================= models
def mlp(
    in_features: int = 1, hidden_sizes: Sequence[int] = (40, 40), out_features: int = 1, *, seed: int = 0
) -> nn.Sequential:
    """The sinusoid regressor of MAML 5.1: fully connected, ReLU, "2 hidden layers of size 40".

    Weights use PyTorch's default initialisation, drawn from ``seed`` (the global torch RNG is left untouched).
    """
    sizes = (in_features, *hidden_sizes, out_features)
    if any(not is_int(s, 1) for s in sizes):
        raise ValueError(f"mlp layer sizes must be ints >= 1; got {sizes}")
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv4(
    n_way: int = 5,
    image_shape: Sequence[int] = (1, 28, 28),
    width: int = 64,
    pooling: str = "max",
    *,
    seed: int = 0,
) -> nn.Sequential:
    """The 4-block convolutional classifier of MAML 5.2 / App. A.1 (the embedding of Vinyals et al. 2016).

    Each block: 3×3 convolution with ``width`` filters (64 in the paper; 32 for MiniImagenet), batch norm, ReLU,
    2×2 max-pooling (``pooling="max"``) — or, as the paper's Omniglot model, a stride-2 convolution instead of
    the pooling (``pooling="stride"``); then a linear layer to ``n_way`` logits (softmax in the loss).  Batch
    norm is built with ``track_running_stats=False``: per-batch statistics at training and test time, as the
    MAML reference code, and compatible with vmap over tasks (see :mod:`metarl.supervised.learner`).

    :param image_shape: ``(channels, height, width)`` of the inputs (Omniglot: 1 × 28 × 28).
    """
    if not is_int(n_way, 2):
        raise ValueError(f"conv4: n_way must be an int >= 2; got {n_way!r}")
    if not is_int(width, 1):
        raise ValueError(f"conv4: width must be an int >= 1; got {width!r}")
    if pooling not in ("max", "stride"):
        raise ValueError(f"conv4: pooling must be 'max' or 'stride'; got {pooling!r}")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or any(s < 1 for s in shape):
        raise ValueError(f"conv4: image_shape must be (channels, height, width); got {tuple(image_shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        blocks: list[nn.Module] = []
        channels = shape[0]
        for _ in range(4):
            stride = 2 if pooling == "stride" else 1
            blocks += [nn.Conv2d(channels, width, 3, stride=stride, padding=1),
                       nn.BatchNorm2d(width, track_running_stats=False), nn.ReLU()]
            if pooling == "max":
                blocks.append(nn.MaxPool2d(2))
            channels = width
        features = nn.Sequential(*blocks, nn.Flatten())
        try:
            with torch.no_grad():
                n_features = features(torch.zeros(2, *shape)).shape[1]
        except RuntimeError as exc:
            raise ValueError(f"conv4: image_shape {shape} is too small for four 2x2 down-samplings ({exc})") from None
        return nn.Sequential(*features, nn.Linear(n_features, n_way))


# ===================================================================================== shared adapter
class _SupervisedAgent:
    """Common plumbing of the adapters: a :class:`SupervisedMetaLearner`, checkpoints that rebuild the agent."""

    learner: SupervisedMetaLearner
    config: Any
    config_class: ClassVar[type]

    def _metadata(self) -> dict[str, Any]:
        return {"agent": type(self).__name__, "agent_config": asdict(self.config)}

    def fit(self, task_source: TaskSource, iterations: int, **kwargs: Any) -> FitResult:
        """Meta-train (see :meth:`SupervisedMetaLearner.fit` for ``run_dir``, ``resume``, logging, ...)."""
        return self.learner.fit(task_source, iterations, **kwargs)

    def adapt(
        self, support_x: torch.Tensor, support_y: torch.Tensor, steps: int | None = None,
        step_size: StepSize | None = None,
    ) -> AdaptedPredictor:
        """Fine-tune on one task's K support examples; returns a predictor with ``predict(x)``."""
        return self.learner.adapt(support_x, support_y, steps, step_size)

    def evaluate(
        self, batch: TaskBatch, steps: int | None = None, step_size: StepSize | None = None
    ) -> AdaptationCurve:
        """Query loss (and metric) after 0..steps adaptation steps on each task's support set."""
        return self.learner.evaluate(batch, steps, step_size)

    @property
    def params(self) -> Params:
        """The meta-learned parameters θ."""
        return self.learner.params

    def save(self, path: str | Path) -> Path:
        """Write an atomic checkpoint that :meth:`load` turns back into this agent."""
        save_checkpoint(path, self.learner.state_dict(), kind=CHECKPOINT_KIND)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Any:
        """Rebuild an agent from a checkpoint written by :meth:`save` or by ``fit(run_dir=...)``."""
        state = load_checkpoint(path, CHECKPOINT_KIND)
        meta = state.get("metadata", {})
        if meta.get("agent") != cls.__name__:
            raise ValueError(f"checkpoint {path} holds a {meta.get('agent')!r}, not a {cls.__name__}")
        agent = cls(_config_from_dict(cls.config_class, meta["agent_config"]), **kwargs)
        agent.learner.load_state_dict(state)
        return agent


# ========================================================================================= regression
@dataclass
class MAMLRegressorConfig:
    """Configuration of :class:`MAMLRegressor`; defaults are MAML 5.1's sinusoid settings."""

    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of the ReLU MLP (5.1: two of 40)."""
    k_shot: int = 10
    """Support points per task during meta-training, K (5.1: trained 10-shot)."""
    k_query: int = 10
    """Query points per task for the meta-objective (the reference code draws 2K points and splits them K/K)."""
    meta_batch_size: int = 25
    """Tasks per meta-iteration (the reference code's sinusoid meta-batch)."""
    inner_steps: int = 1
    """Inner gradient steps during meta-training (5.1: one)."""
    inner_lr: float = 0.01
    """Inner step size α (5.1: 0.01); also the default test-time step size."""
    eval_steps: int = 10
    """Default adaptation steps at test time (App. B evaluates 0..10 steps)."""
    outer_lr: float = 1e-3
    """Adam learning rate of the meta-step (5.1: Adam; 1e-3 as the reference code)."""
    first_order: bool = False
    """First-order MAML (5.2): drop the second-order terms of the meta-gradient."""
    batching: str = field(default="vmap", metadata={"choices": ("vmap", "loop")})
    """'vmap' adapts the meta-batch in one call; 'loop' one task at a time (reference/benchmark)."""
    seed: int = 0
    """Seed of the initial weights and of the training tasks."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check_fields("MAMLRegressorConfig", {
            "hidden_sizes": (len(self.hidden_sizes) > 0 and all(h >= 1 for h in self.hidden_sizes),
                             "a non-empty tuple of ints >= 1"),
            "k_shot": (is_int(self.k_shot, 1), "an int >= 1"),
            "k_query": (is_int(self.k_query, 1), "an int >= 1"),
            "meta_batch_size": (is_int(self.meta_batch_size, 1), "an int >= 1"),
            "inner_steps": (is_int(self.inner_steps, 0), "an int >= 0"),
            "inner_lr": (is_positive(self.inner_lr), "a finite number > 0"),
            "eval_steps": (is_int(self.eval_steps, 0), "an int >= 0"),
            "outer_lr": (is_positive(self.outer_lr), "a finite number > 0"),
            "first_order": (isinstance(self.first_order, bool), "a bool"),
            "batching": (self.batching in ("vmap", "loop"), "'vmap' or 'loop'"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)

    def learner_config(self) -> MetaLearnerConfig:
        return MetaLearnerConfig(
            inner_steps=self.inner_steps, inner_lr=self.inner_lr, eval_inner_steps=self.eval_steps,
            outer_lr=self.outer_lr, first_order=self.first_order, batching=self.batching, seed=self.seed,
        )


class MAMLRegressor(_SupervisedAgent):
    """MAML for sinusoid regression (MAML 5.1): a ReLU MLP meta-trained for fast adaptation from K points.

    >>> agent = MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(8,), meta_batch_size=2))
    >>> result = agent.fit(200, progress_bar=False)            # doctest: +SKIP
    >>> predictor = agent.adapt(support_x, support_y, steps=10)  # doctest: +SKIP
    >>> y_hat = predictor.predict(x)                           # doctest: +SKIP

    :param config: :class:`MAMLRegressorConfig` (the paper's values by default).
    :param tasks: the task distribution (default: the paper's sinusoids).
    """

    config_class = MAMLRegressorConfig
    #: inputs of the network per example (x only; the oracle adds amplitude and phase).
    in_features: ClassVar[int] = 1

    def __init__(self, config: MAMLRegressorConfig | None = None, tasks: SinusoidTasks | None = None) -> None:
        self.config = self._prepare_config(config if config is not None else MAMLRegressorConfig())
        if not isinstance(self.config, MAMLRegressorConfig):
            raise TypeError(f"config must be a MAMLRegressorConfig; got {type(self.config).__name__}")
        self.tasks = tasks if tasks is not None else SinusoidTasks()
        model = mlp(self.in_features, self.config.hidden_sizes, 1, seed=derive_seed(self.config.seed, "init"))
        self.learner = SupervisedMetaLearner(
            model.to(self.tasks.dtype), mse_task_loss, self.config.learner_config(), metadata=self._metadata()
        )

    def _prepare_config(self, config: MAMLRegressorConfig) -> MAMLRegressorConfig:
        return config

    def task_source(self) -> TaskSource:
        """Meta-batches of ``meta_batch_size`` sinusoid tasks with ``k_shot`` support and ``k_query`` query points."""
        c = self.config
        return self.tasks.sampler(c.meta_batch_size, c.k_shot, c.k_query)

    def fit(self, iterations: int = 70_000, task_source: TaskSource | None = None,  # type: ignore[override]
            **kwargs: Any) -> FitResult:
        """Meta-train for ``iterations`` meta-iterations in total (5.1: 70,000) on :meth:`task_source`.

        Keyword arguments go to :meth:`SupervisedMetaLearner.fit` (``run_dir``, ``resume``, ``log_every``, ...).
        """
        return self.learner.fit(task_source or self.task_source(), iterations, **kwargs)


class PretrainedRegressor(MAMLRegressor):
    """MAML 5.1 baseline (a), "pretraining on all of the tasks": the same MLP trained with Adam to regress the
    sinusoids of the same task batches (query sets), with NO inner step; at test time it is fine-tuned with
    gradient descent on the K points "using an automatically tuned step size" (:meth:`tune`).

    The output of such a model is the average sinusoid for each x (App. C.1: "averaging in the output space").
    """

    def _prepare_config(self, config: MAMLRegressorConfig) -> MAMLRegressorConfig:
        return replace(config, inner_steps=0, first_order=False)

    def tune(
        self,
        k_shot: int,
        steps: int = 10,
        n_tasks: int = 200,
        seed: int = 7,
        candidates: Sequence[float] = DEFAULT_TUNING_CANDIDATES,
    ) -> TuningResult:
        """Choose the fine-tuning step size for K = ``k_shot`` on ``n_tasks`` TRAINING-distribution tasks drawn
        with ``seed`` (use a seed different from the test set's); see :func:`metarl.supervised.tune_step_size`."""
        batch = self.tasks.evaluation_set(n_tasks, k_shot, seed=seed).batch(k_shot, self.tasks.dtype)
        return tune_step_size(self.learner, batch, candidates, steps)


class OracleRegressor(MAMLRegressor):
    """MAML 5.1 baseline (b): "an oracle which receives the true amplitude and phase as input".

    An MLP on (x, A, φ) (``in_features = 3``), trained with Adam on the same task batches with no inner step.
    It needs no adaptation: :meth:`evaluate` reports its query error, the same at every step.
    """

    in_features: ClassVar[int] = 3

    def _prepare_config(self, config: MAMLRegressorConfig) -> MAMLRegressorConfig:
        return replace(config, inner_steps=0, first_order=False, eval_steps=0)

    def task_source(self) -> TaskSource:
        c = self.config

        def source(rng: np.random.Generator) -> TaskBatch:
            return self.tasks.sample_with_task_inputs(c.meta_batch_size, c.k_shot, c.k_query, rng)

        return source

    def evaluate(  # type: ignore[override]
        self, batch: TaskBatch, params: SinusoidParams, steps: int = 10
    ) -> AdaptationCurve:
        """Query MSE of every task given its true (A, φ), repeated for steps 0..``steps`` (no adaptation)."""
        curve = self.learner.evaluate(with_task_inputs(batch, params), steps=0)
        loss = np.repeat(curve.loss, steps + 1, axis=1)
        return AdaptationCurve(list(range(steps + 1)), loss)  # no step sizes: the oracle is not adapted

    def predict(self, x: torch.Tensor, params: SinusoidParams) -> torch.Tensor:
        """Predictions for inputs ``x`` ``[N, M, 1]`` of N tasks with parameters ``params``."""
        if x.ndim != 3 or x.shape[0] != len(params.amplitude):
            raise ValueError(f"x must be [N={len(params.amplitude)}, M, 1] for the N tasks of params; got {tuple(x.shape)}")
        task = torch.as_tensor(params.as_array(), dtype=x.dtype)
        widened = torch.cat([x, task[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)
        with torch.no_grad():
            return batched_functional_forward(
                self.learner.model,
                {k: v.detach().unsqueeze(0).expand(x.shape[0], *v.shape) for k, v in self.params.items()},
                widened,
            )


# ===================================================================================== classification
@dataclass
class MAMLClassifierConfig:
    """Configuration of :class:`MAMLClassifier`; defaults are MAML App. A.1's 5-way Omniglot settings."""

    n_way: int = 5
    """Classes per task, N (the logits of the default conv4 head)."""
    image_shape: tuple[int, ...] = (1, 28, 28)
    """(channels, height, width) of the default conv4 network's inputs (Omniglot downsampled to 28 × 28)."""
    width: int = 64
    """Filters per conv layer of the default network (5.2: 64; 32 for MiniImagenet)."""
    pooling: str = field(default="max", metadata={"choices": ("max", "stride")})
    """Down-sampling of the default network: 'max' (2×2 max-pooling, Vinyals) or 'stride' (the paper's Omniglot)."""
    meta_batch_size: int = 32
    """Tasks per meta-batch to ask the episode sampler for (App. A.1: 32 for 5-way, 16 for 20-way)."""
    inner_steps: int = 1
    """Inner steps in training (App. A.1: 1 for 5-way, 5 for 20-way Omniglot)."""
    inner_lr: float = 0.4
    """Inner step size α (App. A.1: 0.4 for 5-way Omniglot)."""
    eval_steps: int = 3
    """Adaptation steps at test time (App. A.1: 3 for 5-way Omniglot)."""
    outer_lr: float = 1e-3
    """Adam learning rate of the meta-step."""
    first_order: bool = False
    """First-order MAML (5.2)."""
    batching: str = field(default="vmap", metadata={"choices": ("vmap", "loop")})
    """'vmap' adapts the meta-batch in one call; 'loop' one task at a time."""
    eval_chunk_size: int = 100
    """Tasks adapted together during evaluation (memory bound only)."""
    seed: int = 0
    """Seed of the initial weights and of the training-task generator."""

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(s) for s in self.image_shape)
        check_fields("MAMLClassifierConfig", {
            "n_way": (is_int(self.n_way, 2), "an int >= 2"),
            "image_shape": (len(self.image_shape) == 3 and all(s >= 1 for s in self.image_shape),
                            "(channels, height, width)"),
            "width": (is_int(self.width, 1), "an int >= 1"),
            "pooling": (self.pooling in ("max", "stride"), "'max' or 'stride'"),
            "meta_batch_size": (is_int(self.meta_batch_size, 1), "an int >= 1"),
            "inner_steps": (is_int(self.inner_steps, 0), "an int >= 0"),
            "inner_lr": (is_positive(self.inner_lr), "a finite number > 0"),
            "eval_steps": (is_int(self.eval_steps, 0), "an int >= 0"),
            "outer_lr": (is_positive(self.outer_lr), "a finite number > 0"),
            "first_order": (isinstance(self.first_order, bool), "a bool"),
            "batching": (self.batching in ("vmap", "loop"), "'vmap' or 'loop'"),
            "eval_chunk_size": (is_int(self.eval_chunk_size, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)

    def learner_config(self) -> MetaLearnerConfig:
        return MetaLearnerConfig(
            inner_steps=self.inner_steps, inner_lr=self.inner_lr, eval_inner_steps=self.eval_steps,
            outer_lr=self.outer_lr, first_order=self.first_order, batching=self.batching,
            eval_chunk_size=self.eval_chunk_size, seed=self.seed,
        )


class MAMLClassifier(_SupervisedAgent):
    """MAML for N-way K-shot classification (MAML 5.2, App. A.1) over any batchable classifier module.

    Task batches (from an episode sampler, as a :data:`~metarl.supervised.tasks.TaskSource` ``rng -> TaskBatch``)
    hold images ``[N, n_way*k, C, H, W]`` and int64 labels ``[N, n_way*k]`` in ``[0, n_way)``.  The loss is the
    cross-entropy; :meth:`evaluate` also reports the accuracy.

    :param config: :class:`MAMLClassifierConfig` (App. A.1's 5-way Omniglot values by default).
    :param model: the classifier mapping ``[M, *x_shape]`` to ``[M, n_way]`` logits; default
        ``conv4(config.n_way, config.image_shape, config.width, config.pooling)``.  A custom model is not
        rebuilt by :meth:`load`; pass it again: ``MAMLClassifier.load(path, model=...)``.
    """

    config_class = MAMLClassifierConfig

    def __init__(self, config: MAMLClassifierConfig | None = None, model: nn.Module | None = None) -> None:
        self.config = config if config is not None else MAMLClassifierConfig()
        if not isinstance(self.config, MAMLClassifierConfig):
            raise TypeError(f"config must be a MAMLClassifierConfig; got {type(self.config).__name__}")
        c = self.config
        if model is None:
            model = conv4(c.n_way, c.image_shape, c.width, c.pooling, seed=derive_seed(c.seed, "init"))
        check_batchable(model)
        self.learner = SupervisedMetaLearner(
            model, cross_entropy_task_loss, c.learner_config(), metric=accuracy_task_metric,
            metric_name="accuracy", metadata=self._metadata(),
        )


# ============================================================================ multi-task averaging
@dataclass
class MultiTaskConfig:
    """The "multi-task" baseline of MAML App. C.1 (Table 2): average of separately trained per-task regressors."""

    n_models: int = 500
    """Regressors trained, one per task drawn from p(T) (C.1: 500)."""
    regularization: str = field(default="none", metadata={"choices": ("none", "l2", "mean")})
    """'none'; 'l2' (standard weight decay λ‖θ‖²); 'mean' (λ‖θ − θ̄‖² to the mean of the regressors trained
    so far) — the three variants of C.1."""
    reg_strength: float | None = None
    """λ; None = the largest value of ``reg_grid`` whose probe regressors still reach ``max_task_mse`` on average
    (C.1: "as high as possible without significantly deterring performance")."""
    reg_grid: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
    """Candidate λ values for the automatic choice (tried from the largest down)."""
    max_task_mse: float = 0.02
    """Error a regressor must reach on its own sinusoid (C.1: "less than 0.02")."""
    probe_models: int = 10
    """Regressors trained per candidate λ for the automatic choice."""
    train_steps: int = 3000
    """Adam steps per regressor, each on fresh points of its task ("a large amount of data")."""
    batch_points: int = 100
    """Fresh points per Adam step."""
    lr: float = 1e-3
    """Adam learning rate of each regressor."""
    group_size: int = 25
    """Regressors trained in parallel (one vmap call).  C.1 trains them sequentially and regularizes to the mean
    "thus far"; here a group is regularized to the mean of all EARLIER groups (group_size=1 is exactly
    sequential).  For 'mean' the groups start sequential and double (1, 1, 2, 4, ... up to ``group_size``) so
    that the mean every group is pulled to is already a mean of trained regressors that agree, as in C.1's
    sequential training; a first group of independent regressors would make that mean meaningless."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of each regressor (same network as MAML)."""
    seed: int = 0
    """Seed of the tasks, data and initialisations."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        self.reg_grid = tuple(float(v) for v in self.reg_grid)
        check_fields("MultiTaskConfig", {
            "n_models": (is_int(self.n_models, 1), "an int >= 1"),
            "regularization": (self.regularization in ("none", "l2", "mean"), "'none', 'l2' or 'mean'"),
            "reg_strength": (self.reg_strength is None or (isinstance(self.reg_strength, (int, float))
                                                           and self.reg_strength >= 0), "None or a number >= 0"),
            "reg_grid": (len(self.reg_grid) > 0 and all(v > 0 for v in self.reg_grid), "non-empty, all > 0"),
            "max_task_mse": (is_positive(self.max_task_mse), "a number > 0"),
            "probe_models": (is_int(self.probe_models, 1), "an int >= 1"),
            "train_steps": (is_int(self.train_steps, 1), "an int >= 1"),
            "batch_points": (is_int(self.batch_points, 1), "an int >= 1"),
            "lr": (is_positive(self.lr), "a number > 0"),
            "group_size": (is_int(self.group_size, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)


@dataclass
class MultiTaskResult:
    """Output of :func:`train_multitask_average`."""

    mean_params: Params
    """θ̄: the average of the regressors' parameter vectors (what is fine-tuned at test time)."""
    task_mse: list[float]
    """Final MSE of each regressor on its own task (fresh points)."""
    reg_strength: float
    """λ used (0 for 'none')."""
    calibration: dict[float, float]
    """λ -> mean probe MSE, for the automatic choice (empty when λ was given)."""
    train_seconds: float
    """Wall-clock seconds of the training (carried across resumes)."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of the regressors."""
    calibration_met: bool | None = None
    """None if λ was given; True if a λ of the grid reached ``max_task_mse``; False if none did (then the
    smallest λ of the grid was used — train longer)."""

    def regressor(self, tasks: SinusoidTasks | None = None, inner_lr: float = 0.01) -> SupervisedMetaLearner:
        """A learner whose θ is θ̄, for ``evaluate``/``adapt``/:func:`tune_step_size`."""
        model = mlp(1, self.hidden_sizes, 1)
        dtype = (tasks or SinusoidTasks()).dtype
        learner = SupervisedMetaLearner(model.to(dtype), mse_task_loss, MetaLearnerConfig(inner_steps=0,
                                                                                         inner_lr=inner_lr))
        with torch.no_grad():
            for name, value in self.mean_params.items():
                learner.params[name].copy_(value)
        return learner


def _train_group(
    config: MultiTaskConfig,
    tasks: SinusoidTasks,
    params: SinusoidParams,
    init_seeds: Sequence[int],
    reg: str,
    strength: float,
    target: Params | None,
    rng: np.random.Generator,
) -> tuple[Params, np.ndarray]:
    """Train one regressor per task of ``params`` in parallel (vmap); returns stacked params and final MSEs."""
    nets = [mlp(1, config.hidden_sizes, 1, seed=s).to(tasks.dtype) for s in init_seeds]
    model = nets[0]
    names = [name for name, _ in model.named_parameters()]
    stacked = {name: torch.stack([dict(n.named_parameters())[name].detach() for n in nets]).requires_grad_(True)
               for name in names}
    optimizer = torch.optim.Adam(list(stacked.values()), lr=config.lr)
    n = len(init_seeds)
    for _ in range(config.train_steps):
        x = tasks.sample_inputs(n, config.batch_points, rng)
        xs = torch.as_tensor(x, dtype=tasks.dtype)
        ys = torch.as_tensor(params(x), dtype=tasks.dtype)
        loss = mse_task_loss(batched_functional_forward(model, stacked, xs), ys).sum()
        if reg == "l2" and strength > 0:  # standard l2 weight decay: λ‖θ_j‖²
            loss = loss + strength * sum(v.pow(2).sum() for v in stacked.values())
        elif reg == "mean" and strength > 0 and target is not None:  # λ‖θ_j − θ̄_thus far‖²
            loss = loss + strength * sum((stacked[k] - target[k]).pow(2).sum() for k in names)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        x = tasks.sample_inputs(n, 1000, rng)
        final = mse_task_loss(
            batched_functional_forward(model, stacked, torch.as_tensor(x, dtype=tasks.dtype)),
            torch.as_tensor(params(x), dtype=tasks.dtype),
        )
    return {k: v.detach() for k, v in stacked.items()}, final.double().numpy()


def multitask_group_bounds(config: MultiTaskConfig) -> list[tuple[int, int]]:
    """``[lo, hi)`` index ranges of the regressor groups trained one after the other.

    Fixed groups of ``group_size``; for 'mean' (regularization to the mean "thus far", C.1) the first groups are
    sequential and double (1, 1, 2, 4, ...) up to ``group_size``: each group is pulled to the mean of every
    regressor before it, which must already be trained regressors, not one batch of independent ones.
    """
    bounds, lo = [], 0
    while lo < config.n_models:
        size = config.group_size if config.regularization != "mean" else min(config.group_size, max(1, lo))
        bounds.append((lo, min(config.n_models, lo + size)))
        lo = bounds[-1][1]
    return bounds


def train_multitask_average(
    config: MultiTaskConfig | None = None,
    tasks: SinusoidTasks | None = None,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress_bar: bool = True,
) -> MultiTaskResult:
    """Train the App. C.1 multi-task baseline: ``n_models`` separate regressors, one per task, then average.

    The regressors start from independent random initialisations and are trained in groups of ``group_size``
    in parallel (vmap), each on fresh points of its own sinusoid.  With ``run_dir`` the progress (sum of the
    parameters so far, final errors, λ, generator state) is checkpointed atomically after every group, and
    ``resume=True`` continues from it.
    """
    config = config if config is not None else MultiTaskConfig()
    tasks = tasks if tasks is not None else SinusoidTasks()
    manager = CheckpointManager(run_dir, keep_best_by=None, kind="multitask_average") if run_dir else None
    state = manager.resume() if (manager is not None and resume) else None
    if manager is not None and state is None and manager.last_path.exists():
        raise FileExistsError(f"{manager.last_path} exists; pass resume=True or use another run_dir")
    rng = np.random.default_rng(derive_seed(config.seed, "multitask", "tasks"))
    if state is not None:
        if state["config"] != asdict(config):
            raise ValueError(f"{manager.last_path if manager else ''} was written with another MultiTaskConfig")
        set_generator_state(rng, state["rng"], name="multitask generator")
        total = {k: v.clone() for k, v in state["total"].items()}
        task_mse: list[float] = list(state["task_mse"])
        strength = float(state["reg_strength"])
        calibration = {float(k): float(v) for k, v in state["calibration"].items()}
        elapsed = float(state["train_seconds"])
        met = state["calibration_met"]
    else:
        total, task_mse, calibration, elapsed = {}, [], {}, 0.0
        strength = 0.0 if config.regularization == "none" else (config.reg_strength or 0.0)
        met = None
    start_time = time.perf_counter()

    if state is None and config.regularization != "none" and config.reg_strength is None:
        # C.1: "we set the magnitude of the regularization to be as high as possible without significantly
        # deterring performance": probe each λ from the largest down on probe tasks; keep the first that fits.
        probe_rng = np.random.default_rng(derive_seed(config.seed, "multitask", "probe"))
        probe_params = tasks.sample_params(config.probe_models, probe_rng)
        seeds = [derive_seed(config.seed, "multitask", "probe_init", str(i)) for i in range(config.probe_models)]
        target = None
        if config.regularization == "mean":  # as the second regressor of C.1: pulled to one trained regressor
            anchor_params = tasks.sample_params(1, probe_rng)
            anchor_seed = [derive_seed(config.seed, "multitask", "probe_anchor")]
            first, _ = _train_group(config, tasks, anchor_params, anchor_seed, "none", 0.0, None, probe_rng)
            target = {k: v.mean(0) for k, v in first.items()}
        strength, met = min(config.reg_grid), False
        for candidate in sorted(config.reg_grid, reverse=True):
            _, mse = _train_group(config, tasks, probe_params, seeds, config.regularization, candidate, target,
                                  probe_rng)
            calibration[candidate] = float(mse.mean())
            if mse.mean() <= config.max_task_mse:
                strength, met = candidate, True
                break

    bounds = multitask_group_bounds(config)
    groups_done = int(state["groups_done"]) if state is not None else 0
    done = len(task_mse)
    bar = progress(total=config.n_models, desc=f"multi-task ({config.regularization})", initial=done,
                   disable=None if progress_bar else True)
    with bar:
        for g in range(groups_done, len(bounds)):
            lo, hi = bounds[g]
            params = tasks.sample_params(hi - lo, rng)
            seeds = [derive_seed(config.seed, "multitask", "init", str(i)) for i in range(lo, hi)]
            target = {k: v / lo for k, v in total.items()} if lo > 0 else None
            trained, mse = _train_group(config, tasks, params, seeds, config.regularization, strength, target, rng)
            for k, v in trained.items():
                total[k] = total[k] + v.sum(0) if k in total else v.sum(0)
            task_mse.extend(float(m) for m in mse)
            bar.update(hi - lo)
            if manager is not None:
                manager.save({
                    "config": asdict(config), "rng": generator_state(rng), "total": total, "groups_done": g + 1,
                    "task_mse": task_mse, "reg_strength": strength,
                    "calibration": {str(k): v for k, v in calibration.items()}, "calibration_met": met,
                    "train_seconds": elapsed + time.perf_counter() - start_time,
                })
    mean_params = {k: v / config.n_models for k, v in total.items()}
    return MultiTaskResult(mean_params, task_mse, strength, calibration,
                           elapsed + time.perf_counter() - start_time, config.hidden_sizes, met)


# ============================================================================ the sinusoid comparison
#: Methods of :func:`run_sinusoid_comparison`: MAML (second order), first-order MAML, pretrained, oracle and
#: the three multi-task variants of App. C.1.
SINUSOID_METHODS: tuple[str, ...] = (
    "maml", "fomaml", "pretrained", "oracle", "multitask_none", "multitask_l2", "multitask_mean",
)


@dataclass
class SinusoidComparisonConfig:
    """The sinusoid experiment of MAML 5.1 / App. B / Table 2: what is trained and how it is evaluated."""

    methods: tuple[str, ...] = ("maml", "fomaml", "pretrained", "oracle")
    """Methods to run, among maml, fomaml, pretrained, oracle, multitask_none, multitask_l2, multitask_mean."""
    iterations: int = 70_000
    """Meta-iterations of MAML/FOMAML and Adam iterations of pretrained/oracle (5.1: 70,000)."""
    eval_k_shots: tuple[int, ...] = (5, 10, 20)
    """K of the evaluation (5.1 / App. B: 5, 10 and 20 from one model trained 10-shot)."""
    eval_steps: int = 10
    """Adaptation steps evaluated (0..eval_steps; App. B)."""
    eval_tasks: int = 600
    """Held-out test tasks (5.1: 600)."""
    eval_query: int = 100
    """Query points per test task."""
    eval_seed: int = 1234
    """Seed of the held-out test tasks (the same for every method)."""
    tune_tasks: int = 200
    """Training-distribution tasks on which the baselines' fine-tuning step size is tuned."""
    tune_seed: int = 4321
    """Seed of the tuning tasks (must differ from eval_seed: tuning on test tasks is refused)."""
    tune_candidates: tuple[float, ...] = DEFAULT_TUNING_CANDIDATES
    """Fine-tuning step sizes tried for pretrained and multi-task."""
    multitask_models: int = 500
    """Regressors averaged by each multi-task variant (App. C.1: 500)."""
    multitask_steps: int = 3000
    """Adam steps per multi-task regressor."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of every network."""
    meta_batch_size: int = 25
    """Tasks per meta-iteration."""
    checkpoint_every: int = 1000
    """Checkpoint period of the training runs (iterations)."""
    seed: int = 0
    """Seed of the initial weights and training tasks of every method."""

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        self.eval_k_shots = tuple(int(k) for k in self.eval_k_shots)
        self.tune_candidates = tuple(float(a) for a in self.tune_candidates)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        unknown = [m for m in self.methods if m not in SINUSOID_METHODS]
        check_fields("SinusoidComparisonConfig", {
            "methods": (len(self.methods) > 0 and not unknown, f"a non-empty subset of {SINUSOID_METHODS}"),
            "iterations": (is_int(self.iterations, 0), "an int >= 0"),
            "eval_k_shots": (len(self.eval_k_shots) > 0 and all(k >= 1 for k in self.eval_k_shots),
                             "non-empty, all >= 1"),
            "eval_steps": (is_int(self.eval_steps, 1), "an int >= 1"),
            "eval_tasks": (is_int(self.eval_tasks, 2), "an int >= 2"),
            "eval_query": (is_int(self.eval_query, 1), "an int >= 1"),
            "tune_tasks": (is_int(self.tune_tasks, 1), "an int >= 1"),
            "tune_seed": (self.tune_seed != self.eval_seed, "different from eval_seed (no tuning on test tasks)"),
            "tune_candidates": (len(self.tune_candidates) > 0 and all(a > 0 for a in self.tune_candidates),
                                "non-empty, all > 0"),
            "multitask_models": (is_int(self.multitask_models, 1), "an int >= 1"),
            "multitask_steps": (is_int(self.multitask_steps, 1), "an int >= 1"),
            "meta_batch_size": (is_int(self.meta_batch_size, 1), "an int >= 1"),
            "checkpoint_every": (is_int(self.checkpoint_every, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)


def _regressor_for(method: str, cfg: SinusoidComparisonConfig, tasks: SinusoidTasks) -> MAMLRegressor:
    base = MAMLRegressorConfig(hidden_sizes=cfg.hidden_sizes, meta_batch_size=cfg.meta_batch_size,
                               eval_steps=cfg.eval_steps, seed=cfg.seed)
    if method == "maml":
        return MAMLRegressor(base, tasks)
    if method == "fomaml":
        return MAMLRegressor(replace(base, first_order=True), tasks)
    if method == "pretrained":
        return PretrainedRegressor(base, tasks)
    if method == "oracle":
        return OracleRegressor(base, tasks)
    raise ValueError(f"no regressor for method {method!r}")


def run_sinusoid_comparison(
    cfg: SinusoidComparisonConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress_bar: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train every method of ``cfg`` (checkpoints in ``run_dir/<method>/``) and evaluate on the same test tasks.

    Evaluation (MAML 5.1, App. B): ``eval_tasks`` held-out tasks; for each K in ``eval_k_shots``, the first K
    support points of each task are reused for every one of ``eval_steps`` gradient steps, and the MSE on
    ``eval_query`` query points is recorded after 0..``eval_steps`` steps (mean ± 95% CI over tasks).  MAML is
    fine-tuned with its training step size α = 0.01; pretrained and multi-task with a step size tuned per K on
    training-distribution tasks (``tune_seed``); the oracle is not adapted.

    :param resume: continue interrupted training runs from their ``last.pt``; finished runs are only evaluated.
    :returns: ``{"config", "methods": {name: {"curves": {K: curve}, "step_size", "tuning", "train_seconds",
        "iterations"}}, "eval_set": {...}}``; the trained agents are in ``result["_agents"]`` (not JSON).
    """
    run_dir = Path(run_dir)
    tasks = SinusoidTasks()
    eval_set = tasks.evaluation_set(cfg.eval_tasks, max(cfg.eval_k_shots), cfg.eval_query, seed=cfg.eval_seed)
    tune_set = tasks.evaluation_set(cfg.tune_tasks, max(cfg.eval_k_shots), cfg.eval_query, seed=cfg.tune_seed)
    methods: dict[str, Any] = {}
    agents: dict[str, Any] = {}
    for method in cfg.methods:
        entry: dict[str, Any] = {"curves": {}, "step_size": {}, "tuning": {}}
        if method.startswith("multitask_"):
            mt_cfg = MultiTaskConfig(n_models=cfg.multitask_models, regularization=method.split("_", 1)[1],
                                     train_steps=cfg.multitask_steps, hidden_sizes=cfg.hidden_sizes, seed=cfg.seed)
            result = train_multitask_average(mt_cfg, tasks, run_dir=run_dir / method, resume=resume,
                                             progress_bar=progress_bar)
            learner = result.regressor(tasks)
            entry.update(train_seconds=result.train_seconds, iterations=cfg.multitask_models,
                         reg_strength=result.reg_strength, task_mse_mean=float(np.mean(result.task_mse)),
                         calibration={str(k): v for k, v in result.calibration.items()},
                         calibration_met=result.calibration_met)
            agents[method] = learner
        else:
            agent = _regressor_for(method, cfg, tasks)
            fit = agent.fit(cfg.iterations, run_dir=run_dir / method, resume=resume,
                            checkpoint_every=cfg.checkpoint_every, progress_bar=progress_bar, desc=method,
                            log_every=max(1, min(1000, cfg.iterations // 10 or 1)))
            entry.update(train_seconds=fit.train_seconds, iterations=fit.iterations)
            learner = agent.learner
            agents[method] = agent
        unit = "regressors averaged" if method.startswith("multitask_") else "iterations"
        log(f"[{method}] trained: {entry['iterations']} {unit}, {entry['train_seconds']:.1f} s")
        for k in cfg.eval_k_shots:
            test = eval_set.batch(k, tasks.dtype)
            if method == "oracle":
                curve = agents[method].evaluate(test, eval_set.params, cfg.eval_steps)
                entry["step_size"][str(k)] = None
            else:
                if method in ("maml", "fomaml"):
                    alpha = learner.config.inner_lr
                else:
                    tuning = tune_step_size(learner, tune_set.batch(k, tasks.dtype), cfg.tune_candidates,
                                            cfg.eval_steps)
                    alpha = tuning.best
                    entry["tuning"][str(k)] = {str(a): s for a, s in tuning.scores.items()}
                curve = learner.evaluate(test, cfg.eval_steps, alpha)
                entry["step_size"][str(k)] = alpha
            entry["curves"][str(k)] = curve.to_dict()
            mean = curve.loss_mean
            log(f"[{method}] K={k}: MSE after 0/1/{cfg.eval_steps} steps = "
                f"{mean[0]:.3f} / {mean[1]:.3f} / {mean[-1]:.3f}")
        methods[method] = entry
    report = {
        "config": json_ready(asdict(cfg)),
        "methods": methods,
        "eval_set": {"n_tasks": eval_set.n_tasks, "k_query": eval_set.k_query, "seed": cfg.eval_seed},
    }
    report["_agents"] = agents
    report["_eval_set"] = eval_set
    return report


# ============================================================================================ plots
_COLORS = {"maml": "tab:green", "fomaml": "tab:olive", "pretrained": "tab:blue", "oracle": "tab:red",
           "multitask_none": "tab:purple", "multitask_l2": "tab:brown", "multitask_mean": "tab:pink"}
_LABELS = {"maml": "MAML", "fomaml": "first-order MAML", "pretrained": "pretrained", "oracle": "oracle",
           "multitask_none": "multi-task, no reg", "multitask_l2": "multi-task, l2 reg",
           "multitask_mean": "multi-task, reg to mean θ"}


def plot_sinusoid_curves(methods: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """MSE vs number of gradient steps, one panel per K, mean ± 95% CI band (MAML Figs. 3 and 6).

    :param methods: the ``"methods"`` entry of :func:`run_sinusoid_comparison`'s report.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ks = sorted({int(k) for entry in methods.values() for k in entry["curves"]})
    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], ks):
        for name, entry in methods.items():
            curve = entry["curves"].get(str(k))
            if curve is None:
                continue
            steps = np.asarray(curve["steps"])
            mean = np.asarray(curve["loss_mean"])
            half = np.nan_to_num(np.asarray(curve["loss_ci95"], dtype=float))
            alpha = entry.get("step_size", {}).get(str(k))
            label = _LABELS.get(name, name) + (f", step={alpha:g}" if alpha and name not in ("maml", "fomaml") else "")
            ax.plot(steps, mean, marker="o", ms=3, color=_COLORS.get(name), label=label,
                    ls=":" if name == "oracle" else "-")
            ax.fill_between(steps, mean - half, mean + half, color=_COLORS.get(name), alpha=0.2)
        ax.set_title(f"{k}-shot regression")
        ax.set_xlabel("number of gradient steps")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean squared error")
    axes[0][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_sinusoid_fits(
    learners: Mapping[str, SupervisedMetaLearner | MAMLRegressor],
    eval_set: SinusoidEvaluationSet,
    path: str | Path,
    *,
    k_shot: int = 5,
    task: int = 0,
    steps: Sequence[int] = (0, 1, 10),
    step_sizes: Mapping[str, float] | None = None,
) -> Path:
    """Predictions on one held-out task after 0/1/10 gradient steps on its K points vs the true sine
    (MAML Fig. 2), one panel per learner.

    :param step_sizes: fine-tuning step size per learner name (default: each learner's ``test_lr``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch = eval_set.batch(k_shot).tasks(task)
    grid = torch.linspace(-5.0, 5.0, 200, dtype=batch.support_x.dtype)[:, None]
    truth = eval_set.params.amplitude[task] * np.sin(grid.numpy()[:, 0] - eval_set.params.phase[task])
    fig, axes = plt.subplots(1, len(learners), figsize=(4.5 * len(learners), 3.6), squeeze=False)
    shades = plt.get_cmap("Greens")(np.linspace(0.4, 0.95, len(steps)))
    for ax, (name, agent) in zip(axes[0], learners.items()):
        learner = agent.learner if isinstance(agent, _SupervisedAgent) else agent
        alpha = (step_sizes or {}).get(name, learner.config.test_lr)
        ax.plot(grid[:, 0], truth, color="tab:red", lw=2, label="ground truth")
        for shade, s in zip(shades, steps):
            predictor = learner.adapt(batch.support_x[0], batch.support_y[0], steps=int(s), step_size=alpha)
            label = "pre-update" if s == 0 else f"{s} grad step{'s' if s > 1 else ''}"
            ax.plot(grid[:, 0], predictor.predict(grid)[:, 0], color=shade, ls="--" if s else ":", label=label)
        ax.scatter(batch.support_x[0, :, 0], batch.support_y[0, :, 0], marker="^", color="tab:purple", zorder=3,
                   label="used for grad")
        ax.set_title(f"{_LABELS.get(name, name)}, K={k_shot}, step size={alpha:g}")
        ax.set_ylim(-6, 6)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
