"""The sinusoid-family experiment of MALTML (Devos & Dandi, section 4.1, Fig. 2c): MALTML vs MAML vs an oracle.

Families are phases, tasks amplitudes.  MALTML second and first order (:class:`agents.maltml.MALTML`) are
compared with MAML trained on the flat task distribution and given the SAME test-time meta-finetuning
(:func:`agents.maltml.evaluate_family_adaptation`), and with an oracle; every run over several training seeds,
with aggregates over seeds and the paired MALTML − MAML differences that test the paper's claim.
:func:`run_maltml_sinusoid_comparison` runs it, :func:`plot_family_curves` draws Fig. 2c and
``bench_maltml_sinusoid.py`` beside this file drives both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.maltml import (
    DEFAULT_FIRST_ORDER_FAMILY_STEPS,
    MALTML,
    FamilyAdaptationCurve,
    MALTMLConfig,
    evaluate_family_adaptation,
    tune_family_step_sizes,
)
from agents.supervised import MAMLRegressor, MAMLRegressorConfig, OracleRegressor
from metarl.stats import mean_ci
from metarl.supervised.families import FamilyBatch, FamilyEvaluationSet, SinusoidFamilies
from metarl.supervised.learner import mse_task_loss
from metarl.validation import check_fields, is_int, is_positive

__all__ = [
    "MALTML_METHODS",
    "MALTMLSinusoidComparisonConfig",
    "aggregate_seeds",
    "paired_difference",
    "plot_family_curves",
    "run_maltml_sinusoid_comparison",
    "summarize_family_runs",
]


#: Methods of :func:`run_maltml_sinusoid_comparison`.
MALTML_METHODS: tuple[str, ...] = ("maltml", "maltml_fo", "maml", "oracle")
_DEFAULT_GRID: tuple[float, ...] = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)


@dataclass
class MALTMLSinusoidComparisonConfig:
    """The sinusoid-family experiment of MALTML 4.1 / Fig. 2c: what is trained and how it is evaluated."""

    methods: tuple[str, ...] = MALTML_METHODS
    """Methods: maltml (second order, Alg. 1), maltml_fo (first order, 3.2), maml (trained on the flat task
    distribution, one run per maml_inner_lrs value), oracle (amplitude and phase as input)."""
    iterations: int = 70_000
    """Outer iterations of every method (4.1: 70,000)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds (initial weights and training tasks); curves are aggregated over seeds."""
    n_tasks: int = 5
    """L, meta-finetuning tasks per family, in training and at test time (4.1: 5-task)."""
    k_shot: int = 5
    """K (4.1: 5-shot)."""
    k_query: int = 5
    """Q (4.1: 5)."""
    n_families: int = 10
    """MALTML family batch (4.1: 10)."""
    n_goal: int = 2
    """MALTML goal tasks per family in training (4.1: 2)."""
    task_lr: float = 0.001
    """MALTML α (4.1: 0.001)."""
    family_lr: float = 0.01
    """MALTML β (4.1: 0.01); also the β of the baselines' test-time meta-finetuning 'as trained'."""
    goal_lr: float = 0.001
    """MALTML γ (4.1: 0.001)."""
    outer_lr: float = 0.001
    """Adam learning rate of every method (4.1: 0.001) and η of the first-order variant."""
    fo_family_steps: int = DEFAULT_FIRST_ORDER_FAMILY_STEPS
    """m of the first-order variant (3.2: m > 1; not given in the paper)."""
    fo_outer: str = field(default="sgd", metadata={"choices": ("sgd", "adam")})
    """First-order outer update: 'sgd' (θ ← θ + η Σ_j (θ'_j − θ), 3.2) or 'adam' (Adam on −Σ_j (θ'_j − θ))."""
    maml_inner_lrs: tuple[float, ...] = (0.001, 0.01)
    """Inner step sizes α of the MAML baselines: 0.001 as the paper (4.1) and 0.01 (MAML 5.1); the one with
    the best validation score is reported as the tuned MAML."""
    maml_meta_batch_size: int = 70
    """Tasks per MAML meta-iteration (70 = the tasks one MALTML iteration draws: 10 families × (5 + 2))."""
    eval_families: int = 300
    """Held-out test families (600 goal tasks with eval_goal_tasks = 2, as MAML's 600 test tasks)."""
    eval_goal_tasks: int = 2
    """Goal tasks per test family."""
    eval_goal_query: int = 100
    """Test points per goal task on which the error is measured."""
    eval_steps: int = 10
    """Goal fine-tuning steps S (error after 0..S steps)."""
    eval_seed: int = 1234
    """Seed of the test families (the same for every method and training seed)."""
    val_families: int = 100
    """Validation families on which each method's test-time (β, γ) and MAML's α are chosen."""
    val_seed: int = 4321
    """Seed of the validation families (must differ from eval_seed)."""
    tune_family_lrs: tuple[float, ...] = _DEFAULT_GRID
    """Candidate test-time β, the same grid for every method."""
    tune_goal_lrs: tuple[float, ...] = _DEFAULT_GRID
    """Candidate test-time γ, the same grid for every method."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of every network (4.1: two of 40, ReLU)."""
    checkpoint_every: int = 1000
    """Checkpoint period of the training runs (iterations)."""

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        self.seeds = tuple(int(s) for s in self.seeds)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        for name in ("maml_inner_lrs", "tune_family_lrs", "tune_goal_lrs"):
            setattr(self, name, tuple(float(v) for v in getattr(self, name)))
        unknown = [m for m in self.methods if m not in MALTML_METHODS]
        check_fields("MALTMLSinusoidComparisonConfig", {
            "methods": (len(self.methods) > 0 and not unknown, f"a non-empty subset of {MALTML_METHODS}"),
            "iterations": (is_int(self.iterations, 0), "an int >= 0"),
            "seeds": (len(self.seeds) > 0 and all(s >= 0 for s in self.seeds) and len(set(self.seeds)) == len(self.seeds),
                      "distinct ints >= 0"),
            "n_tasks": (is_int(self.n_tasks, 1), "an int >= 1"),
            "k_shot": (is_int(self.k_shot, 1), "an int >= 1"),
            "k_query": (is_int(self.k_query, 1), "an int >= 1"),
            "n_families": (is_int(self.n_families, 1), "an int >= 1"),
            "n_goal": (is_int(self.n_goal, 1), "an int >= 1"),
            "task_lr": (is_positive(self.task_lr), "a number > 0"),
            "family_lr": (is_positive(self.family_lr), "a number > 0"),
            "goal_lr": (is_positive(self.goal_lr), "a number > 0"),
            "outer_lr": (is_positive(self.outer_lr), "a number > 0"),
            "fo_family_steps": (is_int(self.fo_family_steps, 2), "an int >= 2 (3.2: m > 1)"),
            "fo_outer": (self.fo_outer in ("sgd", "adam"), "'sgd' or 'adam'"),
            "maml_inner_lrs": (len(self.maml_inner_lrs) > 0 and all(a > 0 for a in self.maml_inner_lrs),
                               "non-empty, all > 0"),
            "maml_meta_batch_size": (is_int(self.maml_meta_batch_size, 1), "an int >= 1"),
            "eval_families": (is_int(self.eval_families, 2), "an int >= 2"),
            "eval_goal_tasks": (is_int(self.eval_goal_tasks, 1), "an int >= 1"),
            "eval_goal_query": (is_int(self.eval_goal_query, 1), "an int >= 1"),
            "eval_steps": (is_int(self.eval_steps, 1), "an int >= 1"),
            "val_families": (is_int(self.val_families, 1), "an int >= 1"),
            "val_seed": (self.val_seed != self.eval_seed, "different from eval_seed (no tuning on test families)"),
            "tune_family_lrs": (len(self.tune_family_lrs) > 0 and all(a > 0 for a in self.tune_family_lrs),
                                "non-empty, all > 0"),
            "tune_goal_lrs": (len(self.tune_goal_lrs) > 0 and all(a > 0 for a in self.tune_goal_lrs),
                              "non-empty, all > 0"),
            "checkpoint_every": (is_int(self.checkpoint_every, 1), "an int >= 1"),
        }, self)

    def maltml_config(self, variant: str, seed: int) -> MALTMLConfig:
        """The :class:`MALTMLConfig` of one MALTML run."""
        return MALTMLConfig(
            variant=variant, n_families=self.n_families, n_tasks=self.n_tasks, k_shot=self.k_shot,
            k_query=self.k_query, n_goal=self.n_goal, task_lr=self.task_lr, family_lr=self.family_lr,
            goal_lr=self.goal_lr, outer_lr=self.outer_lr,
            family_steps=None if variant == "second_order" else self.fo_family_steps,
            first_order_outer=self.fo_outer, hidden_sizes=self.hidden_sizes, eval_steps=self.eval_steps, seed=seed,
        )

    def maml_config(self, inner_lr: float, seed: int) -> MAMLRegressorConfig:
        """The :class:`MAMLRegressorConfig` of one baseline run (MAML, or the oracle's training settings)."""
        return MAMLRegressorConfig(
            hidden_sizes=self.hidden_sizes, k_shot=self.k_shot, k_query=self.k_query,
            meta_batch_size=self.maml_meta_batch_size, inner_lr=inner_lr, outer_lr=self.outer_lr,
            eval_steps=self.eval_steps, seed=seed,
        )

    def run_names(self) -> list[str]:
        """Names of the trained runs: maltml, maltml_fo, maml_lr<α> per α, oracle (in ``methods`` order)."""
        names = []
        for method in self.methods:
            if method == "maml":
                names.extend(f"maml_lr{a:g}" for a in self.maml_inner_lrs)
            else:
                names.append(method)
        return names


def _oracle_curve(agent: OracleRegressor, eval_set: FamilyEvaluationSet, steps: int) -> FamilyAdaptationCurve:
    """The oracle's goal-task test error given the true (amplitude, phase): the same at every step."""
    goal = eval_set.batch.goal_tasks()
    predictions = agent.predict(goal.query_x, eval_set.params.goal_task_params())
    losses = mse_task_loss(predictions, goal.query_y).view(eval_set.n_families, eval_set.batch.n_goal)
    loss = np.repeat(losses.double().numpy()[..., None], steps + 1, axis=-1)
    return FamilyAdaptationCurve(list(range(steps + 1)), loss, loss.copy(), {})


def _run_one(
    name: str,
    cfg: MALTMLSinusoidComparisonConfig,
    seed: int,
    families: SinusoidFamilies,
    run_dir: Path,
    eval_set: FamilyEvaluationSet,
    val_set: FamilyEvaluationSet,
    resume: bool,
    progress_bar: bool,
) -> dict[str, Any]:
    """Train one run (resumable) and evaluate it as trained and with tuned test-time (β, γ)."""
    log_every = max(1, min(1000, cfg.iterations // 10 or 1))
    fit_kwargs = dict(run_dir=run_dir, resume=resume, checkpoint_every=cfg.checkpoint_every,
                      progress_bar=progress_bar, desc=f"{name} seed {seed}", log_every=log_every)
    entry: dict[str, Any] = {}
    if name == "oracle":
        agent = OracleRegressor(cfg.maml_config(0.01, seed), families.flat_tasks())
        fit = agent.fit(cfg.iterations, **fit_kwargs)
        curve = _oracle_curve(agent, eval_set, cfg.eval_steps)
        entry.update(train_seconds=fit.train_seconds, iterations=fit.iterations,
                     as_trained=curve.to_dict(per_family=True), tuned=curve.to_dict(per_family=True))
        return entry
    if name.startswith("maltml"):
        variant = "second_order" if name == "maltml" else "first_order"
        maltml = MALTML(cfg.maltml_config(variant, seed), families=families)
        try:
            fit = maltml.fit(cfg.iterations, **fit_kwargs)
        except FloatingPointError as exc:  # a diverged run is a result to report, not a crash of the comparison
            return {"diverged": str(exc)}

        def evaluate(batch: FamilyBatch, beta: float | None, gamma: float | None) -> FamilyAdaptationCurve:
            return maltml.evaluate(batch, cfg.eval_steps, family_lr=beta, goal_lr=gamma)

        trained = {"family_lr": maltml.config.family_lr, "goal_lr": maltml.config.goal_lr}
    else:
        alpha = float(name.removeprefix("maml_lr"))
        maml = MAMLRegressor(cfg.maml_config(alpha, seed), families.flat_tasks())
        fit = maml.fit(cfg.iterations, **fit_kwargs)

        def evaluate(batch: FamilyBatch, beta: float | None, gamma: float | None) -> FamilyAdaptationCurve:
            # the SAME test-time protocol as MALTML: exact V^{1,β} with MAML's own α, then γ fine-tuning steps
            return evaluate_family_adaptation(
                maml.learner.model, maml.params, batch, task_lr=alpha,
                family_lr=cfg.family_lr if beta is None else beta, goal_lr=alpha if gamma is None else gamma,
                steps=cfg.eval_steps, task_steps=1, family_steps=1, exact_meta_gradient=True,
            )

        trained = {"family_lr": cfg.family_lr, "goal_lr": alpha}
    tuning = tune_family_step_sizes(lambda b, g: evaluate(val_set.batch, b, g), cfg.tune_family_lrs,
                                    cfg.tune_goal_lrs)
    entry.update(
        train_seconds=fit.train_seconds, iterations=fit.iterations, trained_step_sizes=trained,
        as_trained=evaluate(eval_set.batch, None, None).to_dict(per_family=True),
        tuned=evaluate(eval_set.batch, tuning.family_lr, tuning.goal_lr).to_dict(per_family=True),
        tuning={"family_lr": tuning.family_lr, "goal_lr": tuning.goal_lr, "validation_score": min(tuning.scores.values()),
                "at_grid_edge": tuning.at_grid_edge, "scores": tuning.scores},
    )
    return entry


def _seed_summary(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Column means and 95% CIs of ``[n, S + 1]`` (nan CI when n = 1 or values diverged)."""
    means, halves = [], []
    for column in values.T:
        if np.all(np.isfinite(column)):
            mean, half = mean_ci(column)
        else:
            mean, half = float(np.mean(column)), math.nan
        means.append(float(mean))
        halves.append(float(half))
    return means, halves


def aggregate_seeds(per_seed: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, Any]:
    """Across-seed summary of one run's ``key`` curve (``"as_trained"`` or ``"tuned"``).

    With several seeds: mean over seeds of each seed's mean over test families, 95% Student-t CI over seeds.
    With one seed: that seed's mean and CI over test families.
    """
    seeds = sorted(per_seed, key=int)
    curves = [per_seed[s][key] for s in seeds]
    out: dict[str, Any] = {"steps": curves[0]["steps"], "seeds": [int(s) for s in seeds]}
    if len(curves) == 1:
        c = curves[0]
        out.update(ci_over="families", loss_mean=c["loss_mean"], loss_ci95=c["loss_ci95"],
                   loss_without_meta_update_mean=c["loss_without_meta_update_mean"],
                   loss_without_meta_update_ci95=c["loss_without_meta_update_ci95"])
        return out
    after = np.array([c["loss_mean"] for c in curves])
    without = np.array([c["loss_without_meta_update_mean"] for c in curves])
    mean, ci = _seed_summary(after)
    mean0, ci0 = _seed_summary(without)
    out.update(ci_over="seeds", loss_mean=mean, loss_ci95=ci, loss_without_meta_update_mean=mean0,
               loss_without_meta_update_ci95=ci0)
    return out


def paired_difference(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Claim test (4.1): goal error of run ``a`` minus run ``b`` after the same adaptation, paired on the SAME
    test families.  Per seed the per-family differences are averaged; with several seeds the CI is over seeds
    (seeds in common), with one seed over families."""
    seeds = sorted(set(a) & set(b), key=int)
    if not seeds:
        raise ValueError("the two runs share no training seed")
    diffs = [np.asarray(a[s][key]["loss_per_family"]) - np.asarray(b[s][key]["loss_per_family"]) for s in seeds]
    if len(seeds) == 1:
        mean, ci = _seed_summary(diffs[0])
        over = "families"
    else:
        mean, ci = _seed_summary(np.array([d.mean(axis=0) for d in diffs]))
        over = "seeds"
    upper = [m + (h if math.isfinite(h) else math.inf) for m, h in zip(mean, ci)]
    return {"difference_mean": mean, "difference_ci95": ci, "ci_over": over, "seeds": [int(s) for s in seeds],
            "significantly_lower": [u < 0 for u in upper]}


def run_maltml_sinusoid_comparison(
    cfg: MALTMLSinusoidComparisonConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress_bar: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train every run of ``cfg`` for every seed (checkpoints in ``run_dir/seed<s>/<run>/``) and evaluate all of
    them on the SAME held-out test families with the test-time protocol of 3.1.

    Every run is evaluated (a) "as trained" — MALTML with its β, γ; MAML with β = ``cfg.family_lr`` and γ = its
    own α — and (b) with its test-time (β, γ) tuned on validation families over the same grid for every method.
    MAML's reported α ("maml_tuned") is the one with the best mean validation score over seeds.  The claim of 4.1
    (MALTML reaches a lower error than MAML after the same adaptation) is tested with paired differences on the
    test families (``report["claim"]``).

    :param resume: continue interrupted training runs; finished runs are only re-evaluated.
    :returns: JSON-ready report ``{"config", "runs": {run: {"seeds": {seed: entry}, "as_trained", "tuned"}},
        "maml_tuned", "claim", "eval_set", "val_set"}``.
    """
    run_dir = Path(run_dir)
    families = SinusoidFamilies()
    eval_set = families.evaluation_set(cfg.eval_families, cfg.n_tasks, cfg.k_shot, cfg.k_query, cfg.eval_goal_tasks,
                                       cfg.eval_goal_query, seed=cfg.eval_seed)
    val_set = families.evaluation_set(cfg.val_families, cfg.n_tasks, cfg.k_shot, cfg.k_query, cfg.eval_goal_tasks,
                                      cfg.eval_goal_query, seed=cfg.val_seed)
    runs: dict[str, dict[str, Any]] = {name: {"seeds": {}} for name in cfg.run_names()}
    for seed in cfg.seeds:
        for name in cfg.run_names():
            entry = _run_one(name, cfg, seed, families, run_dir / f"seed{seed}" / name, eval_set, val_set, resume,
                             progress_bar)
            runs[name]["seeds"][str(seed)] = entry
            if "diverged" in entry:
                log(f"[{name} seed {seed}] diverged: {entry['diverged']}")
                continue
            t = entry["tuned"]
            log(f"[{name} seed {seed}] {entry['iterations']} iterations, {entry['train_seconds']:.0f} s; goal MSE "
                f"(tuned) before/after meta-update at 0 steps {t['before_meta_update_0_steps']:.3f} / "
                f"{t['after_meta_update_0_steps']:.3f}, after {cfg.eval_steps} steps {t['loss_mean'][-1]:.3f}")
            if entry.get("tuning", {}).get("at_grid_edge"):
                log(f"[{name} seed {seed}] tuned {entry['tuning']['at_grid_edge']} at the edge of the grid: "
                    f"β={entry['tuning']['family_lr']:g}, γ={entry['tuning']['goal_lr']:g}; consider widening it")
    report = summarize_family_runs(asdict(cfg), runs)
    report["eval_set"] = {"n_families": eval_set.n_families, "goal_tasks_per_family": cfg.eval_goal_tasks,
                          "goal_query": cfg.eval_goal_query, "seed": cfg.eval_seed}
    report["val_set"] = {"n_families": val_set.n_families, "seed": cfg.val_seed}
    return report


def summarize_family_runs(config: dict[str, Any], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report of :func:`run_maltml_sinusoid_comparison` from its per-seed entries ``runs[run]["seeds"]``:
    aggregates over seeds, MAML's α chosen on validation, and the paired MALTML − MAML differences (the claim).

    Also used to merge the reports of runs that trained different seeds separately (the per-seed entries are
    evaluated on the same families, so they combine without re-evaluation).  Seeds whose training diverged
    (entry ``{"diverged": message}``) are listed in ``runs[run]["diverged_seeds"]`` and left out of the aggregates
    and the paired differences; a run with no finished seed has ``as_trained``/``tuned`` None.
    """
    finished = {name: {s: e for s, e in run["seeds"].items() if "diverged" not in e} for name, run in runs.items()}
    for name, run in runs.items():
        run["diverged_seeds"] = [int(s) for s in run["seeds"] if s not in finished[name]]
        run["as_trained"] = aggregate_seeds(finished[name], "as_trained") if finished[name] else None
        run["tuned"] = aggregate_seeds(finished[name], "tuned") if finished[name] else None
    report: dict[str, Any] = {"config": config, "runs": runs}
    maml_runs = [n for n in runs if n.startswith("maml_lr") and finished[n]]
    if maml_runs:
        def val_score(n: str) -> float:
            return float(np.mean([e["tuning"]["validation_score"] for e in finished[n].values()]))

        report["maml_tuned"] = min(maml_runs, key=lambda n: (val_score(n), n))
        report["maml_validation_scores"] = {n: val_score(n) for n in maml_runs}
    claim: dict[str, Any] = {}
    for maltml_name in (n for n in ("maltml", "maltml_fo") if n in runs and finished[n]):
        for maml_name in maml_runs:
            for key in ("as_trained", "tuned"):
                claim[f"{maltml_name} - {maml_name} ({key})"] = paired_difference(
                    finished[maltml_name], finished[maml_name], key)
    report["claim"] = claim
    return report


# ============================================================================================= plots
_COLORS = {"maltml": "tab:blue", "maltml_fo": "tab:cyan", "oracle": "tab:red"}
_LABELS = {"maltml": "MALTML (second order)", "maltml_fo": "MALTML (first order)", "oracle": "oracle"}


def _label(name: str) -> str:
    if name.startswith("maml_lr"):
        return f"MAML (α={name.removeprefix('maml_lr')})"
    return _LABELS.get(name, name)


def plot_family_curves(
    runs: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    *,
    keys: Iterable[str] = ("as_trained", "tuned"),
    title: str | None = None,
) -> Path:
    """Goal-task test error vs goal fine-tuning steps, mean ± 95% CI, like MALTML Fig. 2c: at step 0 an arrow
    from the error BEFORE the family meta-update to the error AFTER it; one panel per evaluation ``key``.

    :param runs: the ``"runs"`` entry of :func:`run_maltml_sinusoid_comparison`'s report.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    keys = list(keys)
    greens = iter(plt.get_cmap("Greens")(np.linspace(0.5, 0.9, max(1, sum(n.startswith("maml") for n in runs)))))
    colors = {name: _COLORS.get(name) or next(greens) for name in runs}
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.0), squeeze=False, sharey=True)
    for ax, key in zip(axes[0], keys):
        for name, run in runs.items():
            curve = run[key]
            if curve is None:  # every seed diverged
                continue
            steps = np.asarray(curve["steps"])
            mean = np.asarray(curve["loss_mean"])
            half = np.nan_to_num(np.asarray(curve["loss_ci95"], dtype=float))
            color = colors[name]
            ax.plot(steps, mean, marker="o", ms=3, color=color, label=_label(name), ls=":" if name == "oracle" else "-")
            ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2)
            if name != "oracle":
                before = curve["loss_without_meta_update_mean"][0]
                ax.annotate("", xy=(0, mean[0]), xytext=(0, before),
                            arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
                ax.plot([0], [before], marker="x", color=color, ms=6)
        ax.set_title({"as_trained": "step sizes as trained", "tuned": "test-time (β, γ) tuned on validation families"}
                     .get(key, key), fontsize=10)
        ax.set_xlabel("goal-task fine-tuning steps")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("goal-task test MSE (× = before family meta-update)")
    axes[0][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
