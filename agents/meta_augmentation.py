"""Few-shot experiments with and without meta-augmentation: MAML 5.2 and Rajendran et al. (2020) 5.1-5.2.

The example scripts (``examples/classification.py``, ``examples/meta_augmentation.py``) and the benchmarks
(``benchmarks/bench_glyphs.py``, ``benchmarks/bench_meta_augmentation.py``) all run through this module:

==============================  =====================================================================================
:func:`run_fewshot`             N-way K-shot MAML classification (MAML 5.2, App. A.1): a conv4 network meta-trained
                                on the training classes of Glyphs / Omniglot / digits with a label scheme, evaluated
                                on held-out classes (mean ± 95% CI accuracy over tasks after 0..S adaptation steps),
                                next to the pixel 1-nearest-neighbour baseline on the SAME test tasks.
:func:`run_label_schemes`       Rajendran et al. 5.1 / Table 1: the same classifier trained with the
                                non-mutually-exclusive, intrashuffle and intershuffle label schemes.
:func:`run_nme_sinusoid`        Rajendran et al. 5.2 / Fig. 6a: the non-mutually-exclusive sinusoid, MAML with and
                                without the CE-increasing target noise ε ~ U[-1, 1] (and the "supervised regression
                                on all tasks" baseline), over several seeds, test MSE after 0..10 steps.
:func:`train_with_validation`   meta-training in segments with a validation score after each segment and the best
                                parameters kept (``best.pt``) — the early stopping of Rajendran et al. App. E ("the
                                model with best validation set performance was then run on the test set").
==============================  =====================================================================================

The standard few-shot protocol is itself a meta-augmentation: *intershuffle* (classes drawn freely and labelled
in a random order per task, :class:`~metarl.supervised.augmentation.InterShuffle`) is the default label scheme, so
:func:`run_fewshot` with its defaults is MAML's Table 1 protocol, and the other schemes are the ablation of
Rajendran et al. Test and validation tasks are always intershuffle tasks on held-out classes.

Every run lives in its own directory with the learner's resumable checkpoint ``last.pt``, the best-validation
checkpoint ``best.pt``, ``validation.json``, ``progress.csv`` and, once evaluated, ``result.json``; calling the
same function again with ``resume=True`` continues an interrupted run, and a finished run with an identical
config is only read back.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from agents.supervised import (
    DEFAULT_TUNING_CANDIDATES,
    MAMLClassifier,
    MAMLClassifierConfig,
    MAMLRegressor,
    MAMLRegressorConfig,
    PretrainedRegressor,
)
from metarl.checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from metarl.jsonio import json_ready, write_json
from metarl.logger import read_csv
from metarl.maml import Params
from metarl.stats import mean_ci
from metarl.supervised.augmentation import NMESinusoid, UniformNoise, make_label_scheme
from metarl.supervised.data import (
    ClassDataset,
    EpisodeSampler,
    load_digits_dataset,
    nearest_neighbour_accuracy,
)
from metarl.supervised.glyphs import GlyphsConfig, glyphs_splits, load_glyphs
from metarl.supervised.learner import CHECKPOINT_KIND, AdaptationCurve, SupervisedMetaLearner, tune_step_size
from metarl.supervised.omniglot import load_omniglot
from metarl.supervised.tasks import TaskSource
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "FEWSHOT_DATASETS",
    "LABEL_SCHEMES",
    "NME_METHODS",
    "RESULT_NAME",
    "VALIDATION_NAME",
    "ClassifierEvaluation",
    "FewShotConfig",
    "FewShotData",
    "LabelSchemeStudyConfig",
    "NMESinusoidConfig",
    "ValidatedTraining",
    "build_classifier",
    "build_nme_regressor",
    "evaluate_classifier",
    "load_fewshot_data",
    "nme_task_source",
    "paper_inner_loop",
    "plot_fewshot",
    "plot_label_schemes",
    "plot_nme_sinusoid",
    "run_fewshot",
    "run_label_schemes",
    "run_nme_sinusoid",
    "train_with_validation",
    "write_json",
]

#: Few-shot datasets: the offline Glyphs benchmark (default), Omniglot from a local copy, scikit-learn digits.
FEWSHOT_DATASETS: tuple[str, ...] = ("glyphs", "omniglot", "digits")
#: Label schemes of Rajendran et al. 5.1 (:func:`metarl.supervised.augmentation.make_label_scheme`).
LABEL_SCHEMES: tuple[str, ...] = ("non_mutually_exclusive", "intrashuffle", "intershuffle")
#: Methods of the NME sinusoid experiment (Rajendran et al. Fig. 6a).
NME_METHODS: tuple[str, ...] = ("pretrained", "maml", "maml_aug")
#: File name of a finished run's results inside its run directory.
RESULT_NAME = "result.json"
#: File name of a run's validation history inside its run directory.
VALIDATION_NAME = "validation.json"
#: File name of the best-validation learner checkpoint (a :meth:`SupervisedMetaLearner.state_dict`).
BEST_NAME = "best.pt"


# ============================================================================================ helpers
def _read_cached(run_dir: Path, config: Any, resume: bool) -> dict[str, Any] | None:
    """The finished result of ``run_dir`` if ``resume`` and it was produced by the very same config."""
    path = run_dir / RESULT_NAME
    if not resume or not path.is_file():
        return None
    cached = json.loads(path.read_text())
    return cached if cached.get("config") == json_ready(asdict(config)) else None


def _summary(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95% Student-t half-width (``nan`` for a single value) of a 1-D array."""
    return mean_ci(np.asarray(values, dtype=np.float64))


def paper_inner_loop(n_way: int) -> tuple[int, float, int]:
    """``(inner steps in training, step size α, adaptation steps at test)`` of MAML App. A.1 for N-way Omniglot.

    5-way: "trained with 1 gradient step with step size α = 0.4 ... evaluated using 3 gradient steps with the same
    step size"; 20-way: "trained and evaluated with 5 gradient steps with step size α = 0.1".  N < 20 takes the
    5-way values, N >= 20 the 20-way ones.
    """
    if not is_int(n_way, 2):
        raise ValueError(f"n_way must be an int >= 2; got {n_way!r}")
    return (1, 0.4, 3) if n_way < 20 else (5, 0.1, 5)


# ===================================================================================== configuration
@dataclass
class FewShotConfig:
    """One N-way K-shot MAML classification run (MAML 5.2 / App. A.1; Rajendran et al. 5.1 for the label scheme).

    Algorithmic settings default to the papers' values; the training budget (iterations, width, meta-batch)
    defaults to the CPU calibration of the Glyphs benchmark (Conv4-32, meta-batch 16, 600 iterations: about
    7 minutes on one core and ~80% 5-way 1-shot on held-out classes), with the papers' values in each docstring.
    """

    dataset: str = field(default="glyphs", metadata={"choices": FEWSHOT_DATASETS})
    """Few-shot data: 'glyphs' (offline Omniglot-like set rendered from matplotlib's DejaVu fonts), 'omniglot'
    (needs --root) or 'digits' (scikit-learn's 8x8 digits, 10 classes: a sanity set without validation split)."""
    root: str | None = None
    """Omniglot folder holding images_background/ and images_evaluation/ (or their .zip files); nothing is
    downloaded."""
    cache_dir: str | None = None
    """Where the rendered Glyphs arrays are cached (None: $METARL_CACHE_DIR or ~/.cache/metarl)."""
    glyphs_max_classes: int | None = None
    """Render only the first this-many Glyphs classes (None: all ~950; small values make quick tests)."""
    split_seed: int = 0
    """Seed of the class split: Glyphs 70/10/20 percent of the classes for train/val/test, Omniglot by character, digits 5/5 train/test."""
    omniglot_train_characters: int = 1200
    """Omniglot training characters, each with its 4 rotation classes (MAML 5.2: 1,200)."""
    omniglot_val_characters: int = 100
    """Omniglot validation characters taken from the rest (Rajendran et al. App. E: 100; 0 = no validation)."""
    n_way: int = 5
    """N, classes per task (MAML Table 1: 5 and 20)."""
    k_shot: int = 1
    """K, support examples per class (MAML Table 1: 1 and 5)."""
    train_queries: int = 5
    """Query examples per class of each training task (the meta-objective; the MAML reference code uses K for
    Omniglot and 15 for MiniImagenet; 5 is the calibrated Glyphs setting)."""
    eval_queries: int = 5
    """Query examples per class of each validation/test task (Glyphs has 12 instances per class: K + Q <= 12)."""
    label_scheme: str = field(default="intershuffle", metadata={"choices": LABEL_SCHEMES})
    """Which classes form a training task and how they are labelled (Rajendran et al. 5.1): intershuffle (the
    standard protocol), intrashuffle or non_mutually_exclusive."""
    partition_seed: int = 0
    """Seed of the fixed class partition of the intrashuffle / non_mutually_exclusive schemes."""
    width: int = 32
    """Filters per conv layer of conv4 (MAML 5.2: 64 for Omniglot, 32 for MiniImagenet; 32 is the calibrated
    Glyphs setting)."""
    pooling: str | None = field(default=None, metadata={"choices": ("max", "stride")})
    """conv4 down-sampling: 'max' (2x2 max-pooling, Vinyals et al.) or 'stride' (strided convolutions, MAML's
    Omniglot model); None = 'max' for images of 16 px or more, 'stride' for smaller ones (digits are 8x8)."""
    first_order: bool = False
    """First-order MAML (5.2): drop the second-order terms of the meta-gradient."""
    meta_batch_size: int = 16
    """Tasks per meta-iteration (App. A.1: 32 for 5-way, 16 for 20-way; 16 is the calibrated setting)."""
    inner_steps: int | None = None
    """Inner gradient steps in training; None = App. A.1's value for N (1 for 5-way, 5 for 20-way)."""
    inner_lr: float | None = None
    """Inner step size α for training and test; None = App. A.1's value for N (0.4 for 5-way, 0.1 for 20-way)."""
    eval_steps: int | None = None
    """Adaptation steps at validation/test time; None = App. A.1's value for N (3 for 5-way, 5 for 20-way)."""
    outer_lr: float = 1e-3
    """Adam learning rate β of the meta-step (the MAML reference code's meta_lr)."""
    iterations: int = 600
    """Meta-iterations (App. A.1 trains 60,000 on a GPU; 600 reach ~80 percent 5-way 1-shot on Glyphs)."""
    eval_tasks: int = 600
    """Held-out test tasks; the 95 percent confidence intervals are over them (MAML Table 1 / reference code: 600)."""
    eval_seed: int = 1234
    """Seed of the test tasks (identical for every method and scheme)."""
    eval_chunk_size: int = 100
    """Test tasks sampled and adapted together (bounds memory; no effect on the results)."""
    val_every: int = 100
    """Validate every this many iterations and keep the best model (Rajendran et al. App. E: every 1,000 of
    60,000); 0 = no validation, only the final model."""
    val_tasks: int = 200
    """Validation tasks (fixed, drawn from the validation classes)."""
    val_seed: int = 4321
    """Seed of the validation tasks."""
    log_every: int = 10
    """Write training metrics to progress.csv every this many iterations."""
    checkpoint_every: int = 100
    """Checkpoint (last.pt) period in iterations; a checkpoint is also written at every validation."""
    seed: int = 0
    """Seed of the initial weights and of the training tasks."""

    def __post_init__(self) -> None:
        check_fields("FewShotConfig", {
            "dataset": (self.dataset in FEWSHOT_DATASETS, f"one of {FEWSHOT_DATASETS}"),
            "glyphs_max_classes": (self.glyphs_max_classes is None or is_int(self.glyphs_max_classes, 1),
                                   "None or an int >= 1"),
            "split_seed": (is_int(self.split_seed, 0), "an int >= 0"),
            "omniglot_train_characters": (is_int(self.omniglot_train_characters, 1), "an int >= 1"),
            "omniglot_val_characters": (is_int(self.omniglot_val_characters, 0), "an int >= 0"),
            "n_way": (is_int(self.n_way, 2), "an int >= 2"),
            "k_shot": (is_int(self.k_shot, 1), "an int >= 1"),
            "train_queries": (is_int(self.train_queries, 1), "an int >= 1"),
            "eval_queries": (is_int(self.eval_queries, 1), "an int >= 1"),
            "label_scheme": (self.label_scheme in LABEL_SCHEMES, f"one of {LABEL_SCHEMES}"),
            "partition_seed": (is_int(self.partition_seed, 0), "an int >= 0"),
            "width": (is_int(self.width, 1), "an int >= 1"),
            "pooling": (self.pooling in (None, "max", "stride"), "None, 'max' or 'stride'"),
            "first_order": (isinstance(self.first_order, bool), "a bool"),
            "meta_batch_size": (is_int(self.meta_batch_size, 1), "an int >= 1"),
            "inner_steps": (self.inner_steps is None or is_int(self.inner_steps, 0), "None or an int >= 0"),
            "inner_lr": (self.inner_lr is None or is_positive(self.inner_lr), "None or a finite number > 0"),
            "eval_steps": (self.eval_steps is None or is_int(self.eval_steps, 0), "None or an int >= 0"),
            "outer_lr": (is_positive(self.outer_lr), "a finite number > 0"),
            "iterations": (is_int(self.iterations, 0), "an int >= 0"),
            "eval_tasks": (is_int(self.eval_tasks, 2), "an int >= 2 (a confidence interval needs two tasks)"),
            "eval_seed": (is_int(self.eval_seed, 0), "an int >= 0"),
            "eval_chunk_size": (is_int(self.eval_chunk_size, 1), "an int >= 1"),
            "val_every": (is_int(self.val_every, 0), "an int >= 0"),
            "val_tasks": (is_int(self.val_tasks, 1), "an int >= 1"),
            "val_seed": (self.val_seed != self.eval_seed and is_int(self.val_seed, 0),
                         "an int >= 0 different from eval_seed"),
            "log_every": (is_int(self.log_every, 1), "an int >= 1"),
            "checkpoint_every": (is_int(self.checkpoint_every, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)
        if self.dataset == "omniglot" and not self.root:
            raise ValueError(
                "dataset 'omniglot' needs root (--root PATH): the folder holding images_background/ and "
                "images_evaluation/ (or images_background.zip / images_evaluation.zip) of the official Omniglot "
                "release; nothing is downloaded.  Use --dataset glyphs for the offline benchmark."
            )
        if self.dataset == "digits" and self.val_every:
            raise ValueError(
                "dataset 'digits' has no validation split (10 classes: 5 for training, 5 for testing); "
                "pass val_every=0 (--val-every 0)"
            )
        if self.dataset == "omniglot" and self.val_every and self.omniglot_val_characters == 0:
            raise ValueError("val_every > 0 needs validation characters; set omniglot_val_characters >= 1 "
                             "or val_every=0")

    @property
    def resolved_inner_loop(self) -> tuple[int, float, int]:
        """``(inner_steps, inner_lr, eval_steps)`` with None replaced by App. A.1's values for ``n_way``."""
        steps, lr, test_steps = paper_inner_loop(self.n_way)
        return (steps if self.inner_steps is None else self.inner_steps,
                lr if self.inner_lr is None else self.inner_lr,
                test_steps if self.eval_steps is None else self.eval_steps)

    def resolved_pooling(self, image_shape: Sequence[int]) -> str:
        """``pooling``, or 'max' for images of at least 16 px and 'stride' for smaller ones."""
        if self.pooling is not None:
            return self.pooling
        return "max" if min(image_shape[-2:]) >= 16 else "stride"


@dataclass
class LabelSchemeStudyConfig:
    """Which label schemes and seeds the meta-augmentation classification study runs (Rajendran et al. 5.1)."""

    schemes: tuple[str, ...] = field(default=LABEL_SCHEMES, metadata={"choices": LABEL_SCHEMES})
    """Label schemes to compare: non_mutually_exclusive, intrashuffle, intershuffle (Table 1's three columns)."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds per scheme; with two or more, the confidence intervals are over seeds."""

    def __post_init__(self) -> None:
        self.schemes = tuple(self.schemes)
        self.seeds = tuple(int(s) for s in self.seeds)
        bad = [s for s in self.schemes if s not in LABEL_SCHEMES]
        check_fields("LabelSchemeStudyConfig", {
            "schemes": (bool(self.schemes) and not bad and len(set(self.schemes)) == len(self.schemes),
                        f"a non-empty subset of {LABEL_SCHEMES} without repeats"),
            "seeds": (bool(self.seeds) and all(s >= 0 for s in self.seeds) and len(set(self.seeds)) == len(self.seeds),
                      "non-empty distinct ints >= 0"),
        }, self)


@dataclass
class NMESinusoidConfig:
    """The non-mutually-exclusive sinusoid experiment (Rajendran et al. 5.2, Fig. 6a).

    Ten x-intervals of width 0.5, each with its own fixed sine; intervals 0-5 train, 6-7 validation, 8-9 test
    (:class:`~metarl.supervised.augmentation.NMESinusoid`).  The network and inner loop are MAML 5.1's sinusoid
    settings; budget and validation follow the paper's public code (50,000 iterations, validation every 5,000
    keeping the best post-update validation loss, 600 test tasks, 10 test steps).
    """

    methods: tuple[str, ...] = field(default=NME_METHODS, metadata={"choices": NME_METHODS})
    """Methods: 'pretrained' (supervised regression on all training tasks, no inner step), 'maml' (no
    augmentation) and 'maml_aug' (one ε ~ U[-a, a] per task added to its support and query targets)."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Training seeds; the confidence intervals of the summary are over seeds."""
    sine_seed: int | None = None
    """Seed of the ten (amplitude, phase) pairs; None = each training seed s draws its own ten sines
    (NMESinusoid(seed=s)), so the comparison averages over benchmark instances too."""
    noise_half_width: float = 1.0
    """a of the augmentation noise ε ~ U[-a, a] (5.2: 1)."""
    iterations: int = 50_000
    """Meta-iterations per run (the paper's code: 50,000 for the sinusoid)."""
    k_shot: int = 10
    """Support points per task in training and at test, K (MAML 5.1 trains 10-shot)."""
    k_query: int = 10
    """Query points per training task."""
    meta_batch_size: int = 25
    """Tasks per meta-iteration, drawn with replacement from the six training intervals (MAML 5.1: 25)."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of the ReLU MLP (MAML 5.1: two of 40)."""
    inner_lr: float = 0.01
    """Inner step size α, also MAML's test-time step size (MAML 5.1: 0.01)."""
    outer_lr: float = 1e-3
    """Adam learning rate of the meta-step (MAML 5.1)."""
    eval_steps: int = 10
    """Test-time adaptation steps (0..eval_steps are reported; the paper's code tests with 10)."""
    eval_tasks: int = 600
    """Test tasks drawn from the two test intervals (the paper's code: 600)."""
    eval_query: int = 100
    """Query points per validation/test task on which the MSE is measured."""
    eval_seed: int = 1234
    """Seed of the test tasks (the same for every method of a seed)."""
    val_every: int = 5000
    """Validate every this many iterations and keep the model with the lowest validation MSE after one step
    (the paper's code: every 5,000); 0 = final model only."""
    val_tasks: int = 200
    """Validation tasks drawn from the two validation intervals (also used to tune the pretrained baseline's
    fine-tuning step size — never the test intervals)."""
    val_seed: int = 4321
    """Seed of the validation tasks."""
    tune_candidates: tuple[float, ...] = DEFAULT_TUNING_CANDIDATES
    """Fine-tuning step sizes tried for the pretrained baseline (MAML 5.1: "an automatically tuned step size")."""
    log_every: int = 500
    """Write training metrics to progress.csv every this many iterations."""
    checkpoint_every: int = 5000
    """Checkpoint (last.pt) period in iterations; a checkpoint is also written at every validation."""

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        self.seeds = tuple(int(s) for s in self.seeds)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        self.tune_candidates = tuple(float(a) for a in self.tune_candidates)
        bad = [m for m in self.methods if m not in NME_METHODS]
        check_fields("NMESinusoidConfig", {
            "methods": (bool(self.methods) and not bad and len(set(self.methods)) == len(self.methods),
                        f"a non-empty subset of {NME_METHODS} without repeats"),
            "seeds": (bool(self.seeds) and all(s >= 0 for s in self.seeds) and len(set(self.seeds)) == len(self.seeds),
                      "non-empty distinct ints >= 0"),
            "sine_seed": (self.sine_seed is None or is_int(self.sine_seed, 0), "None or an int >= 0"),
            "noise_half_width": (is_positive(self.noise_half_width), "a finite number > 0"),
            "iterations": (is_int(self.iterations, 0), "an int >= 0"),
            "k_shot": (is_int(self.k_shot, 1), "an int >= 1"),
            "k_query": (is_int(self.k_query, 1), "an int >= 1"),
            "meta_batch_size": (is_int(self.meta_batch_size, 1), "an int >= 1"),
            "hidden_sizes": (bool(self.hidden_sizes) and all(h >= 1 for h in self.hidden_sizes),
                             "a non-empty tuple of ints >= 1"),
            "inner_lr": (is_positive(self.inner_lr), "a finite number > 0"),
            "outer_lr": (is_positive(self.outer_lr), "a finite number > 0"),
            "eval_steps": (is_int(self.eval_steps, 1), "an int >= 1"),
            "eval_tasks": (is_int(self.eval_tasks, 2), "an int >= 2"),
            "eval_query": (is_int(self.eval_query, 1), "an int >= 1"),
            "eval_seed": (is_int(self.eval_seed, 0), "an int >= 0"),
            "val_every": (is_int(self.val_every, 0), "an int >= 0"),
            "val_tasks": (is_int(self.val_tasks, 1), "an int >= 1"),
            "val_seed": (self.val_seed != self.eval_seed and is_int(self.val_seed, 0),
                         "an int >= 0 different from eval_seed"),
            "tune_candidates": (bool(self.tune_candidates) and all(is_positive(a) for a in self.tune_candidates),
                                "non-empty, all > 0"),
            "log_every": (is_int(self.log_every, 1), "an int >= 1"),
            "checkpoint_every": (is_int(self.checkpoint_every, 1), "an int >= 1"),
        }, self)


# ====================================================================== training with validation
@dataclass
class ValidatedTraining:
    """Output of :func:`train_with_validation`."""

    iterations: int
    """Meta-iterations completed in total."""
    train_seconds: float
    """Wall-clock seconds of the meta-steps, including those before a resume."""
    history: list[dict[str, float]]
    """``[{"iteration": k, "score": s}, ...]`` of every validation, in order."""
    best_iteration: int | None
    """Iteration of the best validation score (the earliest on ties); None without validation."""
    best_score: float | None
    """That score."""
    best_params: Params | None
    """The parameters θ at ``best_iteration`` (detached copies); None without validation."""


def _best_entry(history: Sequence[Mapping[str, float]], mode: str) -> Mapping[str, float] | None:
    """The validation entry with the best finite score (the earliest on ties), or None."""
    finite = [h for h in history if h["score"] is not None and math.isfinite(h["score"])]
    if not finite:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(finite, key=lambda h: (sign * h["score"], -h["iteration"]))


def _segment_targets(iterations: int, val_every: int) -> list[int]:
    if not val_every:
        return [iterations]
    targets = list(range(val_every, iterations + 1, val_every))
    if not targets or targets[-1] != iterations:
        targets.append(iterations)
    return targets


def train_with_validation(
    learner: SupervisedMetaLearner,
    task_source: TaskSource,
    iterations: int,
    *,
    validate: Callable[[], float] | None,
    val_every: int,
    mode: Literal["max", "min"] = "max",
    run_dir: str | Path | None = None,
    resume: bool = False,
    log_every: int = 100,
    checkpoint_every: int = 1000,
    progress_bar: bool = True,
    desc: str = "meta-training",
    log: Callable[[str], None] = print,
) -> ValidatedTraining:
    """Meta-train to ``iterations`` in segments of ``val_every``, scoring the model on validation tasks after
    each segment (and at the end) and keeping the best one — Rajendran et al. App. E's early stopping.

    ``validate()`` must be deterministic and leave the learner untouched (e.g. :meth:`SupervisedMetaLearner.evaluate`
    on a fixed batch); so a resumed run sees the same task batches and scores as an uninterrupted one.
    With ``run_dir``: ``last.pt`` (resumable, written at least at every segment end), ``best.pt`` (a full learner
    checkpoint of the best model, loadable with ``MAMLClassifier.load``/``MAMLRegressor.load``) and
    ``validation.json``.  Without ``resume`` an existing ``last.pt`` is an error (no silent overwrite).

    :param mode: ``"max"`` (accuracy) or ``"min"`` (loss) — which direction of the score is better.
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
    if val_every and validate is None:
        raise ValueError("val_every > 0 needs a validate() function")
    run_path = Path(run_dir) if run_dir is not None else None
    history: list[dict[str, float]] = []
    best_params: Params | None = None
    if run_path is not None and resume:
        state = CheckpointManager(run_path, keep_best_by=None, kind=CHECKPOINT_KIND).resume()
        if state is not None:
            learner.load_state_dict(state)
            log(f"resumed {run_path} at iteration {learner.iteration}")
        vpath = run_path / VALIDATION_NAME
        if vpath.is_file():
            stored = json.loads(vpath.read_text())
            history = [h for h in stored.get("history", []) if h["iteration"] <= learner.iteration]
        if history and (run_path / BEST_NAME).is_file():
            best_params = dict(load_checkpoint(run_path / BEST_NAME, CHECKPOINT_KIND)["params"])

    def better(a: float, b: float) -> bool:
        return a > b if mode == "max" else a < b

    for target in _segment_targets(iterations, val_every):
        if target > learner.iteration:
            learner.fit(task_source, target, run_dir=run_path, resume=False, log_every=log_every,
                        checkpoint_every=checkpoint_every, progress_bar=progress_bar, desc=desc)
        if not val_every or learner.iteration != target or any(h["iteration"] == target for h in history):
            continue
        score = float(validate())  # type: ignore[misc]
        best_so_far = _best_entry(history, mode)
        improved = math.isfinite(score) and (best_so_far is None or better(score, best_so_far["score"]))
        history.append({"iteration": target, "score": score})
        log(f"[{desc}] iteration {target}: validation {score:.4f}{'  (best so far)' if improved else ''}")
        if improved:
            best_params = {k: v.detach().clone() for k, v in learner.params.items()}
            if run_path is not None:
                state = learner.state_dict({"val/score": score})
                state["validation"] = {"iteration": target, "score": score, "mode": mode}
                save_checkpoint(run_path / BEST_NAME, state, kind=CHECKPOINT_KIND)
        if run_path is not None:
            write_json(run_path / VALIDATION_NAME, {"mode": mode, "history": history})

    best_iteration = best_score = None
    best = _best_entry(history, mode)
    if best is not None:
        best_iteration, best_score = int(best["iteration"]), float(best["score"])
    else:
        best_params = None
    return ValidatedTraining(learner.iteration, learner.train_seconds, history, best_iteration, best_score,
                             best_params)


class _SwappedParams:
    """Context manager: the learner's θ temporarily replaced by ``params`` (restored on exit)."""

    def __init__(self, learner: SupervisedMetaLearner, params: Params) -> None:
        self.learner = learner
        self.params = params
        self.saved: dict[str, torch.Tensor] = {}

    def __enter__(self) -> SupervisedMetaLearner:
        with torch.no_grad():
            for name, value in self.learner.params.items():
                self.saved[name] = value.detach().clone()
                value.copy_(self.params[name])
        return self.learner

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for name, value in self.learner.params.items():
                value.copy_(self.saved[name])


def _progress_summary(run_dir: Path, keys: Sequence[str]) -> dict[str, Any]:
    """The logged training curve (``step`` and ``keys``) of a run and the mean of each key over its last 10%."""
    try:
        csv = read_csv(run_dir)
    except FileNotFoundError:
        return {}
    curve: dict[str, Any] = {"step": csv.get("step", [])}
    end: dict[str, float] = {}
    for key in keys:
        values = np.asarray(csv.get(key, []), dtype=np.float64)
        curve[key] = values.tolist()
        tail = values[-max(1, len(values) // 10):]
        tail = tail[np.isfinite(tail)]
        end[key] = float(tail.mean()) if tail.size else math.nan
    return {"curve": curve, "end_of_training": end}


# ============================================================================ few-shot classification
@dataclass
class FewShotData:
    """Class splits of a few-shot dataset and its image shape."""

    name: str
    splits: dict[str, ClassDataset]
    """``{"train", "test"}`` and, if the dataset has one, ``"val"``: disjoint sets of classes."""
    image_shape: tuple[int, int, int]
    """``(1, H, W)``."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "image_shape": list(self.image_shape),
                "classes": {k: v.n_classes for k, v in self.splits.items()}}


def load_fewshot_data(cfg: FewShotConfig, *, show_progress: bool | None = None) -> FewShotData:
    """Load ``cfg.dataset`` and split its classes (nothing is downloaded).

    Glyphs: :func:`~metarl.supervised.glyphs.glyphs_splits` (70/10/20%, seed ``split_seed``).  Omniglot:
    ``omniglot_train_characters`` / ``omniglot_val_characters`` / the rest, by character so that the rotations of
    a character stay together (MAML 5.2: 1,200 training characters).  Digits: 5 training and 5 test classes.

    :raises ValueError: if a split has fewer than ``n_way`` classes or a class too few instances for K + Q.
    """
    if cfg.dataset == "glyphs":
        data = load_glyphs(GlyphsConfig(max_classes=cfg.glyphs_max_classes), cache_dir=cfg.cache_dir,
                           show_progress=show_progress)
        splits = glyphs_splits(data, seed=cfg.split_seed)
    elif cfg.dataset == "omniglot":
        if not cfg.root:
            raise ValueError("dataset 'omniglot' needs root (--root PATH)")
        data = load_omniglot(cfg.root, show_progress=show_progress)
        sizes: dict[str, int | None] = {"train": cfg.omniglot_train_characters}
        if cfg.omniglot_val_characters:
            sizes["val"] = cfg.omniglot_val_characters
        sizes["test"] = None
        splits = data.split(sizes, seed=cfg.split_seed)
    elif cfg.dataset == "digits":
        data = load_digits_dataset()
        splits = data.split({"train": 5, "test": None}, seed=cfg.split_seed)
    else:  # pragma: no cover - FewShotConfig validates the name
        raise ValueError(f"unknown dataset {cfg.dataset!r}")
    largest_query = max(cfg.train_queries, cfg.eval_queries)
    for name, split in splits.items():
        if split.n_classes < cfg.n_way:
            raise ValueError(
                f"the {name} split of {cfg.dataset} has {split.n_classes} classes, fewer than n_way={cfg.n_way}"
                + (" (raise glyphs_max_classes)" if cfg.glyphs_max_classes else "")
            )
        need = cfg.k_shot + (cfg.train_queries if name == "train" else cfg.eval_queries)
        if int(split.counts.min()) < need:
            raise ValueError(
                f"{cfg.dataset} classes have {int(split.counts.min())} instances, but k_shot + queries = {need} "
                f"are needed per class (k_shot={cfg.k_shot}, queries up to {largest_query}); lower k_shot or the "
                "query counts"
            )
    h, w = splits["train"].image_shape
    return FewShotData(cfg.dataset, splits, (1, h, w))


def build_classifier(cfg: FewShotConfig, image_shape: Sequence[int]) -> MAMLClassifier:
    """The MAML conv4 classifier of ``cfg`` (MAML 5.2 / App. A.1) for inputs ``(1, H, W)``."""
    steps, lr, test_steps = cfg.resolved_inner_loop
    return MAMLClassifier(MAMLClassifierConfig(
        n_way=cfg.n_way, image_shape=tuple(image_shape), width=cfg.width, pooling=cfg.resolved_pooling(image_shape),
        meta_batch_size=cfg.meta_batch_size, inner_steps=steps, inner_lr=lr, eval_steps=test_steps,
        outer_lr=cfg.outer_lr, first_order=cfg.first_order, eval_chunk_size=cfg.eval_chunk_size, seed=cfg.seed,
    ))


@dataclass
class ClassifierEvaluation:
    """Accuracy of a classifier on a fixed set of held-out tasks (and of pixel 1-NN on the same tasks)."""

    curve: AdaptationCurve
    """Query loss and accuracy of every task after 0..S adaptation steps."""
    nearest_neighbour: np.ndarray | None
    """``[n_tasks]`` accuracy of pixel 1-NN on the same tasks, if requested."""

    @property
    def accuracy(self) -> float:
        """Mean accuracy after the last adaptation step."""
        return float(self.curve.metric_mean[-1])  # type: ignore[index]

    @property
    def per_task_accuracy(self) -> np.ndarray:
        """``[n_tasks]`` accuracy of every task after the last adaptation step (for paired comparisons of two
        learners on the same tasks)."""
        return np.asarray(self.curve.metric)[:, -1]

    def to_dict(self) -> dict[str, Any]:
        mean, half = self.curve.metric_mean, self.curve.metric_ci95
        return {"accuracy": mean[-1], "ci95": half[-1], "n_tasks": self.curve.n_tasks,  # type: ignore[index]
                "curve": self.curve.to_dict(),
                "per_task_accuracy": [round(float(a), 6) for a in self.per_task_accuracy]}


def evaluate_classifier(
    learner: SupervisedMetaLearner,
    split: ClassDataset,
    cfg: FewShotConfig,
    n_tasks: int,
    seed: int,
    *,
    nearest_neighbour: bool = False,
) -> ClassifierEvaluation:
    """Adapt to ``n_tasks`` N-way K-shot tasks of ``split`` (intershuffle, ``eval_queries`` queries per class,
    drawn from ``numpy.random.default_rng(seed)``: the same tasks on every call) and measure query accuracy
    after 0..S steps of step size α (MAML App. A.1); optionally pixel 1-NN on the same tasks."""
    sampler = EpisodeSampler(split, cfg.n_way, cfg.k_shot, cfg.eval_queries)
    rng = np.random.default_rng(seed)
    losses, metrics, nn_acc = [], [], []
    curve: AdaptationCurve | None = None
    for lo in range(0, n_tasks, cfg.eval_chunk_size):
        batch = sampler.sample(min(cfg.eval_chunk_size, n_tasks - lo), rng)
        curve = learner.evaluate(batch)
        losses.append(curve.loss)
        metrics.append(curve.metric)
        if nearest_neighbour:
            nn_acc.append(nearest_neighbour_accuracy(batch).numpy())
    assert curve is not None
    merged = AdaptationCurve(curve.steps, np.concatenate(losses), np.concatenate(metrics), curve.metric_name,
                             curve.step_sizes)
    return ClassifierEvaluation(merged, np.concatenate(nn_acc) if nearest_neighbour else None)


def run_fewshot(
    cfg: FewShotConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress_bar: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Meta-train one MAML classifier (resumable) and evaluate it on ``eval_tasks`` held-out tasks.

    :returns: the JSON-ready result, also written to ``run_dir/result.json``: ``config``, ``dataset``,
        ``learner`` (resolved inner loop and network), ``iterations``, ``train_seconds``, ``test`` (``final`` and,
        with validation, ``best_val``: accuracy ± 95% CI over tasks after the test steps and the whole
        0..S curve), ``nearest_neighbour`` (pixel 1-NN on the same test tasks), ``validation`` (history) and
        ``training`` (logged curve and its end-of-training means: the pre-adaptation query loss near
        log N signals a model that needs its support set; far below it, memorisation).
    """
    run_path = Path(run_dir)
    cached = _read_cached(run_path, cfg, resume)
    if cached is not None:
        log(f"{run_path}: finished earlier with the same config; results read from {RESULT_NAME}")
        return cached
    data = load_fewshot_data(cfg, show_progress=progress_bar)
    agent = build_classifier(cfg, data.image_shape)
    learner = agent.learner
    scheme = make_label_scheme(cfg.label_scheme, data.splits["train"].n_classes, cfg.n_way, cfg.partition_seed)  # type: ignore[arg-type]
    sampler = EpisodeSampler(data.splits["train"], cfg.n_way, cfg.k_shot, cfg.train_queries, labels=scheme)

    def validate() -> float:
        return evaluate_classifier(learner, data.splits["val"], cfg, cfg.val_tasks, cfg.val_seed).accuracy

    name = f"{cfg.dataset} {cfg.n_way}-way {cfg.k_shot}-shot {cfg.label_scheme}"
    training = train_with_validation(
        learner, sampler.sampler(cfg.meta_batch_size), cfg.iterations,
        validate=validate if cfg.val_every else None, val_every=cfg.val_every, mode="max", run_dir=run_path,
        resume=resume, log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every, progress_bar=progress_bar,
        desc=name, log=log,
    )
    start = time.perf_counter()
    final = evaluate_classifier(learner, data.splits["test"], cfg, cfg.eval_tasks, cfg.eval_seed,
                                nearest_neighbour=True)
    test: dict[str, Any] = {"final": final.to_dict(), "best_val": None}
    if training.best_params is not None:
        if training.best_iteration == training.iterations:
            best = final
        else:
            with _SwappedParams(learner, training.best_params):
                best = evaluate_classifier(learner, data.splits["test"], cfg, cfg.eval_tasks, cfg.eval_seed)
        test["best_val"] = {**best.to_dict(), "iteration": training.best_iteration,
                            "val_accuracy": training.best_score}
    assert final.nearest_neighbour is not None
    nn_mean, nn_half = _summary(final.nearest_neighbour)
    steps, lr, test_steps = cfg.resolved_inner_loop
    result = {
        "config": json_ready(asdict(cfg)),
        "dataset": data.describe(),
        "learner": {"inner_steps": steps, "inner_lr": lr, "eval_steps": test_steps, "width": cfg.width,
                    "pooling": cfg.resolved_pooling(data.image_shape), "first_order": cfg.first_order,
                    "meta_batch_size": cfg.meta_batch_size, "label_scheme": repr(scheme)},
        "iterations": training.iterations,
        "train_seconds": training.train_seconds,
        "seconds_per_iteration": training.train_seconds / max(1, training.iterations),
        "eval_seconds": time.perf_counter() - start,
        "test": test,
        "nearest_neighbour": {"accuracy": nn_mean, "ci95": nn_half, "n_tasks": int(final.nearest_neighbour.size)},
        "validation": training.history,
        "training": _progress_summary(run_path, ("train/accuracy_after_adapt", "train/query_loss_before_adapt",
                                                 "train/query_loss_after_adapt")),
    }
    result = json_ready(result)
    write_json(run_path / RESULT_NAME, result)
    best_text = ""
    if test["best_val"] is not None:
        b = test["best_val"]
        best_text = f"; best-val model (it {b['iteration']}) {100 * b['accuracy']:.1f} ± {100 * b['ci95']:.1f}%"
    log(f"[{name}] test accuracy after {test_steps} steps: {100 * final.accuracy:.1f} ± "
        f"{100 * result['test']['final']['ci95']:.1f}%{best_text}; pixel 1-NN {100 * nn_mean:.1f} ± "
        f"{100 * nn_half:.1f}% ({training.iterations} iterations, {training.train_seconds:.0f} s)")
    return result


#: The scheme comparisons of Rajendran et al. Table 1 (more augmentation minus less).
SCHEME_PAIRS: tuple[tuple[str, str], ...] = (("intrashuffle", "non_mutually_exclusive"),
                                              ("intershuffle", "intrashuffle"),
                                              ("intershuffle", "non_mutually_exclusive"))


def paired_scheme_difference(runs_a: Mapping[str, Any], runs_b: Mapping[str, Any], variant: str) -> dict | None:
    """Accuracy of scheme a minus scheme b on the same held-out tasks, paired task by task.

    Both schemes are evaluated on identical test tasks (same split and ``eval_seed``), so the per-task
    difference removes the task-to-task spread that dominates each scheme's own CI.  With one seed per scheme
    the 95% CI is over the tasks' differences; with two or more seeds in common, over the seeds' mean
    differences.  None if the runs carry no per-task accuracies (results written before they were recorded).
    """
    seeds = [s for s in runs_a if s in runs_b]
    diffs = []
    for seed in seeds:
        a, b = runs_a[seed]["test"].get(variant), runs_b[seed]["test"].get(variant)
        if not a or not b or "per_task_accuracy" not in a or "per_task_accuracy" not in b:
            return None
        diffs.append(np.asarray(a["per_task_accuracy"]) - np.asarray(b["per_task_accuracy"]))
    if not diffs:
        return None
    if len(diffs) == 1:
        mean, half = _summary(diffs[0])
        over = "tasks"
    else:
        mean, half = _summary(np.array([d.mean() for d in diffs]))
        over = "seeds"
    return {"mean": mean, "ci95": half, "ci_over": over, "seeds": seeds,
            "significant": bool(abs(mean) > half) if half == half else False}


def run_label_schemes(
    study: LabelSchemeStudyConfig,
    base: FewShotConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress_bar: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Rajendran et al. 5.1 / Table 1: train ``base`` with every label scheme and seed of ``study`` (runs in
    ``run_dir/<scheme>/seed<s>/``) and compare their held-out accuracy on the same test tasks.

    :returns: ``{"config", "study", "runs": {scheme: {seed: result}}, "summary": {scheme: {...}}, "order", "paired"}``; the
        summary gives, per scheme, the final and best-validation test accuracy (mean over seeds; the 95% CI is
        over seeds with two or more seeds, else over the test tasks of the single run) and the end-of-training
        pre-adaptation query loss (memorisation indicator: NME tasks can be solved without the support set);
        ``paired`` gives the per-task paired accuracy differences of :data:`SCHEME_PAIRS`
        (:func:`paired_scheme_difference`).
    """
    run_path = Path(run_dir)
    runs: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {}
    for scheme in study.schemes:
        runs[scheme] = {}
        for seed in study.seeds:
            cfg = replace(base, label_scheme=scheme, seed=seed)
            runs[scheme][str(seed)] = run_fewshot(cfg, run_path / scheme / f"seed{seed}", resume=resume,
                                                  progress_bar=progress_bar, log=log)
        entry: dict[str, Any] = {}
        for variant in ("final", "best_val"):
            per_seed = [r["test"][variant] for r in runs[scheme].values() if r["test"][variant] is not None]
            if not per_seed:
                entry[variant] = None
                continue
            values = np.array([p["accuracy"] for p in per_seed])
            if len(values) >= 2:
                mean, half = _summary(values)
                over = "seeds"
            else:
                mean, half, over = float(values[0]), float(per_seed[0]["ci95"]), "tasks"
            entry[variant] = {"accuracy": mean, "ci95": half, "ci_over": over, "per_seed": values.tolist()}
        losses = np.array([r["training"].get("end_of_training", {}).get("train/query_loss_before_adapt")
                           for r in runs[scheme].values()], dtype=np.float64)  # None (not logged) -> nan
        entry["train_query_loss_before_adapt"] = float(np.nanmean(losses)) if np.isfinite(losses).any() else None
        entry["chance_loss"] = math.log(base.n_way)
        summary[scheme] = entry
    headline = "best_val" if base.val_every else "final"
    paired = {f"{a}_minus_{b}": paired_scheme_difference(runs[a], runs[b], headline)
              for a, b in SCHEME_PAIRS if a in runs and b in runs}
    order = None
    acc = {s: summary[s][headline]["accuracy"] for s in study.schemes if summary[s][headline] is not None}
    if set(acc) >= set(LABEL_SCHEMES):
        order = {
            "compared": headline,
            "intershuffle_ge_intrashuffle": acc["intershuffle"] >= acc["intrashuffle"],
            "intrashuffle_gt_non_mutually_exclusive": acc["intrashuffle"] > acc["non_mutually_exclusive"],
        }
    return json_ready({"config": asdict(base), "study": asdict(study), "runs": runs, "summary": summary,
                        "headline_variant": headline, "order": order, "paired": paired})


# ===================================================================================== NME sinusoid
def nme_task_source(method: str, tasks: NMESinusoid, cfg: NMESinusoidConfig) -> TaskSource:
    """Training meta-batches of ``method``: 'maml_aug' adds one ε ~ U[-a, a] per task to all its support and
    query targets (Rajendran et al. 5.2); 'maml' and 'pretrained' train on the plain training intervals."""
    if method not in NME_METHODS:
        raise ValueError(f"unknown NME method {method!r}; choose from {NME_METHODS}")
    noise = UniformNoise(cfg.noise_half_width) if method == "maml_aug" else None
    return tasks.sampler(cfg.meta_batch_size, cfg.k_shot, cfg.k_query, split="train", noise=noise)


def build_nme_regressor(method: str, cfg: NMESinusoidConfig, seed: int) -> MAMLRegressor:
    """MAML 5.1's sinusoid regressor for ``method`` ('pretrained': the same MLP, no inner step in training)."""
    base = MAMLRegressorConfig(
        hidden_sizes=cfg.hidden_sizes, k_shot=cfg.k_shot, k_query=cfg.k_query, meta_batch_size=cfg.meta_batch_size,
        inner_steps=1, inner_lr=cfg.inner_lr, eval_steps=cfg.eval_steps, outer_lr=cfg.outer_lr, seed=seed,
    )
    if method == "pretrained":
        return PretrainedRegressor(base)
    if method in ("maml", "maml_aug"):
        return MAMLRegressor(base)
    raise ValueError(f"unknown NME method {method!r}; choose from {NME_METHODS}")


def _nme_tasks(cfg: NMESinusoidConfig, seed: int) -> NMESinusoid:
    return NMESinusoid(seed=seed if cfg.sine_seed is None else cfg.sine_seed)


def _run_nme_single(
    cfg: NMESinusoidConfig, method: str, seed: int, run_dir: Path, *, resume: bool, progress_bar: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    single = replace(cfg, methods=(method,), seeds=(seed,))
    cached = _read_cached(run_dir, single, resume)
    if cached is not None:
        log(f"{run_dir}: finished earlier with the same config; results read from {RESULT_NAME}")
        return cached
    tasks = _nme_tasks(cfg, seed)
    agent = build_nme_regressor(method, cfg, seed)
    learner = agent.learner
    val_batch = tasks.sample(cfg.val_tasks, cfg.k_shot, cfg.eval_query, np.random.default_rng(cfg.val_seed),
                             split="val")
    test_batch = tasks.sample(cfg.eval_tasks, cfg.k_shot, cfg.eval_query, np.random.default_rng(cfg.eval_seed),
                              split="test")

    def validate() -> float:
        # the paper's code keeps the model with the lowest post-update (one step, α) validation loss
        return float(learner.evaluate(val_batch, steps=1, step_size=cfg.inner_lr).loss_mean[1])

    training = train_with_validation(
        learner, nme_task_source(method, tasks, cfg), cfg.iterations, validate=validate if cfg.val_every else None,
        val_every=cfg.val_every, mode="min", run_dir=run_dir, resume=resume, log_every=cfg.log_every,
        checkpoint_every=cfg.checkpoint_every, progress_bar=progress_bar, desc=f"{method} seed {seed}", log=log,
    )

    def test_curve() -> dict[str, Any]:
        if method == "pretrained":  # fine-tuning step size tuned on the validation intervals, never the test ones
            tuning = tune_step_size(learner, val_batch, cfg.tune_candidates, cfg.eval_steps)
            alpha, scores = tuning.best, {str(a): s for a, s in tuning.scores.items()}
        else:
            alpha, scores = cfg.inner_lr, None
        curve = learner.evaluate(test_batch, cfg.eval_steps, alpha)
        return {"step_size": alpha, "tuning": scores, "curve": curve.to_dict()}

    test: dict[str, Any] = {"final": test_curve(), "best_val": None}
    if training.best_params is not None:
        if training.best_iteration == training.iterations:
            test["best_val"] = dict(test["final"])
        else:
            with _SwappedParams(learner, training.best_params):
                test["best_val"] = test_curve()
        test["best_val"].update(iteration=training.best_iteration, val_mse=training.best_score)
    test_ids = tasks.split_tasks("test")
    result = json_ready({
        "config": asdict(single),
        "method": method,
        "seed": seed,
        "sines": {"amplitude": tasks.amplitudes.tolist(), "phase": tasks.phases.tolist(),
                  "test_intervals": [tasks.interval(i) for i in test_ids]},
        "iterations": training.iterations,
        "train_seconds": training.train_seconds,
        "test": test,
        "validation": training.history,
        "training": _progress_summary(run_dir, ("train/query_loss_before_adapt", "train/query_loss_after_adapt")),
    })
    write_json(run_dir / RESULT_NAME, result)
    mse = result["test"]["final"]["curve"]["loss_mean"]
    log(f"[{method} seed {seed}] test MSE after 0/1/{cfg.eval_steps} steps: {mse[0]:.3f} / {mse[1]:.3f} / "
        f"{mse[-1]:.3f} ({training.iterations} iterations, {training.train_seconds:.0f} s)")
    return result


def run_nme_sinusoid(
    cfg: NMESinusoidConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress_bar: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Rajendran et al. 5.2 / Fig. 6a: every method of ``cfg`` for every seed (runs in
    ``run_dir/seed<s>/<method>/``), evaluated on ``eval_tasks`` test tasks of the two test intervals.

    :returns: ``{"config", "runs": {seed: {method: result}}, "summary": {method: {variant: {"steps",
        "mse_mean", "mse_ci95", "per_seed"}}}, "paired": {...}}``: the summary's mean and 95% CI are over
        seeds of each seed's mean test MSE; ``paired`` gives, when both MAML variants ran, the per-seed
        difference maml_aug − maml after 1 and ``eval_steps`` steps (negative = augmentation helps).
    """
    run_path = Path(run_dir)
    runs: dict[str, dict[str, Any]] = {}
    for seed in cfg.seeds:
        runs[str(seed)] = {}
        for method in cfg.methods:
            runs[str(seed)][method] = _run_nme_single(cfg, method, seed, run_path / f"seed{seed}" / method,
                                                      resume=resume, progress_bar=progress_bar, log=log)
    summary: dict[str, Any] = {}
    for method in cfg.methods:
        summary[method] = {}
        for variant in ("final", "best_val"):
            entries = [runs[str(s)][method]["test"][variant] for s in cfg.seeds]
            if any(e is None for e in entries):
                summary[method][variant] = None
                continue
            per_seed = np.array([e["curve"]["loss_mean"] for e in entries])  # [seeds, steps + 1]
            stats = [_summary(per_seed[:, j]) for j in range(per_seed.shape[1])]
            summary[method][variant] = {
                "steps": list(range(per_seed.shape[1])),
                "mse_mean": [m for m, _ in stats], "mse_ci95": [h for _, h in stats],
                "per_seed": per_seed.tolist(), "step_size": [e["step_size"] for e in entries],
            }
    paired: dict[str, Any] = {}
    if "maml" in cfg.methods and "maml_aug" in cfg.methods:
        for variant in ("final", "best_val"):
            a, b = summary["maml_aug"][variant], summary["maml"][variant]
            if a is None or b is None:
                continue
            diff = np.array(a["per_seed"]) - np.array(b["per_seed"])
            entry = {}
            for step in (1, cfg.eval_steps):
                mean, half = _summary(diff[:, step])
                entry[f"after_{step}"] = {"mean": mean, "ci95": half,
                                          "seeds_aug_better": int((diff[:, step] < 0).sum()),
                                          "n_seeds": int(diff.shape[0])}
            paired[variant] = {"maml_aug_minus_maml": entry}
    return json_ready({"config": asdict(cfg), "runs": runs, "summary": summary, "paired": paired})


# ============================================================================================= plots
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_fewshot(result: Mapping[str, Any], path: str | Path) -> Path:
    """Two panels: training query accuracy after adaptation and validation accuracy vs iteration; held-out test
    accuracy vs adaptation steps (mean ± 95% CI) with the pixel 1-NN baseline."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (ax_train, ax_test) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    curve = result.get("training", {}).get("curve", {})
    if curve.get("step"):
        ax_train.plot(curve["step"], curve.get("train/accuracy_after_adapt", []), color="tab:green", lw=1,
                      label="train (query, after adaptation)")
    if result.get("validation"):
        ax_train.plot([h["iteration"] for h in result["validation"]], [h["score"] for h in result["validation"]],
                      "o-", color="tab:blue", ms=3, label="validation")
    ax_train.set_xlabel("meta-iteration")
    ax_train.set_ylabel("accuracy")
    ax_train.grid(alpha=0.3)
    ax_train.legend(fontsize=8)
    for variant, color in (("final", "tab:green"), ("best_val", "tab:blue")):
        entry = result["test"].get(variant)
        if entry is None:
            continue
        c = entry["curve"]
        label = "MAML, final" if variant == "final" else f"MAML, best val (it {entry['iteration']})"
        ax_test.errorbar(c["steps"], c["metric_mean"], yerr=[h or 0.0 for h in c["metric_ci95"]], marker="o", ms=3,
                         capsize=3, color=color, label=label)
    nn = result["nearest_neighbour"]
    ax_test.axhline(nn["accuracy"], color="tab:gray", ls="--", label=f"pixel 1-NN ({100 * nn['accuracy']:.1f}%)")
    ax_test.axhline(1.0 / result["config"]["n_way"], color="k", lw=0.5, ls=":", label="chance")
    ax_test.set_xlabel("adaptation steps")
    ax_test.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_test.set_ylabel("held-out accuracy")
    ax_test.set_ylim(0, 1)
    ax_test.grid(alpha=0.3)
    ax_test.legend(fontsize=8, loc="lower right")
    cfg = result["config"]
    fig.suptitle(f"{cfg['dataset']} {cfg['n_way']}-way {cfg['k_shot']}-shot, {result['iterations']} iterations",
                 fontsize=10)
    return _save(fig, path)


def plot_label_schemes(study: Mapping[str, Any], path: str | Path, ax: Any = None) -> Path | None:
    """Bar chart of held-out accuracy (± 95% CI) per label scheme (Rajendran et al. Table 1)."""
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5, 3.6))
    variant = study["headline_variant"]
    schemes = list(study["summary"])
    acc = [study["summary"][s][variant]["accuracy"] for s in schemes]
    half = [study["summary"][s][variant]["ci95"] or 0.0 for s in schemes]
    ax.bar(range(len(schemes)), acc, yerr=half, capsize=4, color=["tab:red", "tab:orange", "tab:green"][: len(schemes)])
    ax.set_xticks(range(len(schemes)), [s.replace("non_mutually_exclusive", "non-mut.-excl.") for s in schemes])
    ax.set_ylabel(f"held-out accuracy ({variant.replace('_', ' ')} model)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    cfg = study["config"]
    ax.set_title(f"{cfg['dataset']} {cfg['n_way']}-way {cfg['k_shot']}-shot label schemes", fontsize=10)
    return _save(fig, path) if own else None


def plot_nme_sinusoid(nme: Mapping[str, Any], path: str | Path, axes: Sequence[Any] | None = None) -> Path | None:
    """Test MSE vs adaptation steps on the NME sinusoid per method (mean ± 95% CI over seeds), one panel for
    the final and one for the best-validation models (Rajendran et al. Fig. 6a)."""
    plt = _pyplot()
    own = axes is None
    if own:
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6), sharey=True)
    colors = {"pretrained": "tab:blue", "maml": "tab:orange", "maml_aug": "tab:green"}
    labels = {"pretrained": "supervised on all tasks", "maml": "MAML", "maml_aug": "MAML + augmentation"}
    for ax, variant in zip(axes, ("final", "best_val")):
        for method, entry in nme["summary"].items():
            e = entry.get(variant)
            if e is None:
                continue
            mean = np.asarray(e["mse_mean"], dtype=float)
            half = np.nan_to_num(np.asarray([h if h is not None else np.nan for h in e["mse_ci95"]], dtype=float))
            ax.plot(e["steps"], mean, marker="o", ms=3, color=colors[method], label=labels[method])
            # the band is clipped at a tenth of the mean: a log axis cannot show a CI reaching below zero
            ax.fill_between(e["steps"], np.maximum(mean - half, 0.1 * mean), mean + half, color=colors[method],
                            alpha=0.2)
        ax.set_title(f"NME sinusoid, {'final' if variant == 'final' else 'best-validation'} models", fontsize=10)
        ax.set_xlabel("adaptation steps")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test MSE (mean over seeds)")
    axes[0].legend(fontsize=8)
    return _save(fig, path) if own else None
