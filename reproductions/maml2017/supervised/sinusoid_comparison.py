"""The sinusoid experiment of the MAML paper (Finn et al. 2017, 5.1, App. B, App. C.1, Table 2, Figs. 2, 3, 6).

:func:`run_sinusoid_comparison` trains every method (resumable checkpoints per method) and evaluates them on the
SAME 600 held-out tasks (K ∈ {5, 10, 20} support points reused at every step, MSE on 100 query points after
0..10 steps, mean ± 95% CI); :func:`plot_sinusoid_curves` and :func:`plot_sinusoid_fits` draw the paper's figures.
``bench_sinusoid.py`` and ``bench_sinusoid_seeds.py`` beside this file drive it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.supervised import (
    DEFAULT_TUNING_CANDIDATES,
    MAMLRegressor,
    MAMLRegressorConfig,
    OracleRegressor,
    PretrainedRegressor,
)
from metarl.jsonio import json_ready
from metarl.supervised.learner import SupervisedMetaLearner, tune_step_size
from metarl.supervised.tasks import SinusoidEvaluationSet, SinusoidTasks
from metarl.validation import check_fields, is_int
from reproductions.maml2017.supervised.multitask import MultiTaskConfig, train_multitask_average

__all__ = [
    "SINUSOID_METHODS",
    "SinusoidComparisonConfig",
    "plot_sinusoid_curves",
    "plot_sinusoid_fits",
    "run_sinusoid_comparison",
]


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
        learner = agent if isinstance(agent, SupervisedMetaLearner) else agent.learner
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
