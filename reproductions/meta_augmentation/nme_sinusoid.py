"""Rajendran et al. 5.2 / Fig. 6a: the non-mutually-exclusive sinusoid, MAML with and without target noise.

Ten x-intervals of width 0.5, each with its own fixed sine (:class:`agents.meta_augmentation.NMESinusoid`);
MAML with and without the CE-increasing target noise ε ~ U[-1, 1] per task, and the "supervised regression on all
tasks" baseline, over several seeds, test MSE after 0..10 steps on the test intervals for the final and the
best-validation models.  ``bench_meta_augmentation.py`` beside this file drives it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from agents.meta_augmentation import SwappedParams, train_with_validation
from agents.supervised import (
    DEFAULT_TUNING_CANDIDATES,
    MAMLRegressor,
    MAMLRegressorConfig,
    PretrainedRegressor,
)
from metarl.jsonio import json_ready, write_json
from metarl.stats import mean_ci
from metarl.supervised.augmentation import NMESinusoid, UniformNoise
from metarl.supervised.learner import tune_step_size
from metarl.supervised.tasks import TaskSource
from metarl.validation import check_fields, is_int, is_positive
from reproductions.maml2017.supervised.fewshot import RESULT_NAME, progress_summary, read_cached_result
from reproductions.meta_augmentation.plots import pyplot, save_figure

__all__ = [
    "NME_METHODS",
    "NMESinusoidConfig",
    "build_nme_regressor",
    "nme_task_source",
    "plot_nme_sinusoid",
    "run_nme_sinusoid",
]

#: Methods of the NME sinusoid experiment (Rajendran et al. Fig. 6a).
NME_METHODS: tuple[str, ...] = ("pretrained", "maml", "maml_aug")


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
    cached = read_cached_result(run_dir, single, resume)
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
            with SwappedParams(learner, training.best_params):
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
        "training": progress_summary(run_dir, ("train/query_loss_before_adapt", "train/query_loss_after_adapt")),
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
            stats = [mean_ci(per_seed[:, j]) for j in range(per_seed.shape[1])]
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
                mean, half = mean_ci(diff[:, step])
                entry[f"after_{step}"] = {"mean": mean, "ci95": half,
                                          "seeds_aug_better": int((diff[:, step] < 0).sum()),
                                          "n_seeds": int(diff.shape[0])}
            paired[variant] = {"maml_aug_minus_maml": entry}
    return json_ready({"config": asdict(cfg), "runs": runs, "summary": summary, "paired": paired})


def plot_nme_sinusoid(nme: Mapping[str, Any], path: str | Path, axes: Sequence[Any] | None = None) -> Path | None:
    """Test MSE vs adaptation steps on the NME sinusoid per method (mean ± 95% CI over seeds), one panel for
    the final and one for the best-validation models (Rajendran et al. Fig. 6a)."""
    plt = pyplot()
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
    return save_figure(fig, path) if own else None
