"""Rajendran et al. 5.1 / Table 1: MAML 1-shot 5-way classification with three label schemes.

The same classifier (:func:`reproductions.maml2017.supervised.fewshot.run_fewshot`) trained with the
non-mutually-exclusive, intrashuffle and intershuffle label schemes and tested on the same held-out tasks;
paired per-task differences between schemes.  ``bench_meta_augmentation.py`` beside this file drives it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from metarl.jsonio import json_ready
from metarl.stats import mean_ci
from metarl.validation import check_fields
from reproductions.maml2017.supervised.fewshot import LABEL_SCHEMES, FewShotConfig, run_fewshot
from reproductions.meta_augmentation.plots import pyplot, save_figure

__all__ = [
    "SCHEME_PAIRS",
    "LabelSchemeStudyConfig",
    "paired_scheme_difference",
    "plot_label_schemes",
    "run_label_schemes",
]


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
        mean, half = mean_ci(diffs[0])
        over = "tasks"
    else:
        mean, half = mean_ci(np.array([d.mean() for d in diffs]))
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
                mean, half = mean_ci(values)
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


def plot_label_schemes(study: Mapping[str, Any], path: str | Path, ax: Any = None) -> Path | None:
    """Bar chart of held-out accuracy (± 95% CI) per label scheme (Rajendran et al. Table 1)."""
    plt = pyplot()
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
    return save_figure(fig, path) if own else None
