"""N-way K-shot MAML classification runs (MAML 5.2, App. A.1), with the label scheme of Rajendran et al. 5.1.

:func:`run_fewshot` meta-trains a conv4 network (:class:`agents.supervised.MAMLClassifier`) on the training classes
of Glyphs / Omniglot / digits with a label scheme, keeps the best-validation model
(:func:`agents.meta_augmentation.train_with_validation`) and evaluates on held-out classes (mean ± 95% CI accuracy
over tasks after 0..S adaptation steps), next to the pixel 1-nearest-neighbour baseline on the SAME test tasks.
With its defaults it is MAML's Table 1 protocol (intershuffle); ``bench_glyphs.py`` beside this file runs it for
the paper's settings, and ``reproductions/meta_augmentation/`` for the label-scheme study.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.meta_augmentation import SwappedParams, train_with_validation
from agents.supervised import MAMLClassifier, MAMLClassifierConfig
from metarl.jsonio import json_ready, write_json
from metarl.logger import read_csv
from metarl.stats import mean_ci
from metarl.supervised.augmentation import make_label_scheme
from metarl.supervised.data import (
    ClassDataset,
    EpisodeSampler,
    load_digits_dataset,
    nearest_neighbour_accuracy,
)
from metarl.supervised.glyphs import GlyphsConfig, glyphs_splits, load_glyphs
from metarl.supervised.learner import AdaptationCurve, SupervisedMetaLearner
from metarl.supervised.omniglot import load_omniglot
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "FEWSHOT_DATASETS",
    "LABEL_SCHEMES",
    "RESULT_NAME",
    "ClassifierEvaluation",
    "FewShotConfig",
    "FewShotData",
    "build_classifier",
    "evaluate_classifier",
    "load_fewshot_data",
    "paper_inner_loop",
    "plot_fewshot",
    "progress_summary",
    "read_cached_result",
    "run_fewshot",
]

#: Few-shot datasets: the offline Glyphs benchmark (default), Omniglot from a local copy, scikit-learn digits.
FEWSHOT_DATASETS: tuple[str, ...] = ("glyphs", "omniglot", "digits")
#: Label schemes of Rajendran et al. 5.1 (:func:`metarl.supervised.augmentation.make_label_scheme`).
LABEL_SCHEMES: tuple[str, ...] = ("non_mutually_exclusive", "intrashuffle", "intershuffle")
#: File name of a finished run's results inside its run directory.
RESULT_NAME = "result.json"


def read_cached_result(run_dir: Path, config: Any, resume: bool) -> dict[str, Any] | None:
    """The finished result of ``run_dir`` if ``resume`` and it was produced by the very same config."""
    path = run_dir / RESULT_NAME
    if not resume or not path.is_file():
        return None
    cached = json.loads(path.read_text())
    return cached if cached.get("config") == json_ready(asdict(config)) else None


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


def progress_summary(run_dir: Path, keys: Sequence[str]) -> dict[str, Any]:
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
    cached = read_cached_result(run_path, cfg, resume)
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
            with SwappedParams(learner, training.best_params):
                best = evaluate_classifier(learner, data.splits["test"], cfg, cfg.eval_tasks, cfg.eval_seed)
        test["best_val"] = {**best.to_dict(), "iteration": training.best_iteration,
                            "val_accuracy": training.best_score}
    assert final.nearest_neighbour is not None
    nn_mean, nn_half = mean_ci(final.nearest_neighbour)
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
        "training": progress_summary(run_path, ("train/accuracy_after_adapt", "train/query_loss_before_adapt",
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
