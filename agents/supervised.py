"""Supervised MAML: the sinusoid regressor, the few-shot classifier and the baselines of MAML 5.1 (Finn et al. 2017).

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
=======================  ===========================================================================================

Every agent has ``fit`` (resumable, logged), ``adapt`` (a predictor after K-shot fine-tuning), ``evaluate`` (query
loss and metric after 0..S steps, mean ± 95% CI over tasks), ``save`` and ``load``.  The paper's experiments built
on them (the sinusoid comparison of 5.1 / App. B, the App. C.1 multi-task baselines, the Glyphs benchmark) live in
``reproductions/maml2017/supervised/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from metarl.checkpoint import load_checkpoint, save_checkpoint
from metarl.maml import Params, StepSize, batched_functional_forward
from metarl.seeding import derive_seed
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
    SinusoidParams,
    SinusoidTasks,
    TaskBatch,
    TaskSource,
    with_task_inputs,
)
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "DEFAULT_TUNING_CANDIDATES",
    "MAMLClassifier",
    "MAMLClassifierConfig",
    "MAMLRegressor",
    "MAMLRegressorConfig",
    "OracleRegressor",
    "PretrainedRegressor",
    "conv4",
    "mlp",
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
