"""Half-cheetah direction, split by direction: what separates the training seeds that reach the paper from those
that do not (MAML paper, section 5.3 and Fig. 5, goal direction).

The paper reports one mean over its held-out tasks, half of which run forward and half backward.  Our
``MetaCheetahDir-v0`` runs at the original code's settings spread widely over training seeds (step-1 return 76
to 366 over ten runs), and in the two seeds inspected by hand the weak one had a pre-update policy that already
ran backward and then adapted to the forward tasks poorly.  This benchmark checks that on every given checkpoint:
it evaluates each one on the same 40 held-out tasks as ``examples/evaluate.py`` (same seed, step sizes and
rollouts), splits the per-task returns by direction, and reports per checkpoint

* the forward and backward mean ± 95% CI after 0..N steps,
* ``direction_gap_step0`` = backward − forward mean before adaptation (how far the pre-update policy leans),
* ``weaker_direction_step1`` = the smaller of the two directions' means after one step,
* ``initial_direction_gap`` = the same gap on the first meta-batch of the run's training (its seed's initial
  policy, tasks and rollouts, rebuilt from the checkpoint's config; the training returns of iteration 1),
* ``training_direction_gap`` = the same gap in the training log, averaged over meta-iterations 21-30
  (:data:`TRAINING_WINDOW`; from the ``training_curve`` of the run's result JSON
  ``benchmarks/results/<checkpoint name>.json``, for runs that logged per-direction returns), i.e. how far the
  policy leans a quarter of the way into training,

and over all checkpoints the Pearson and Spearman correlations of the step-1 mean with the gap at step 0, signed
(does leaning backward rather than forward predict a weak run?) and absolute (does leaning at all?), with
the initial gap (is the lean there before training?) and, over the runs that have it, with the training gap
(can the lean be read early in training?).  The initial gap assumes each run trained from its seed's
initialisation (not ``--init-from``); ``--no-initial`` skips it.

    python benchmarks/bench_direction_split.py \\
        --checkpoint gn_seed1=checkpoints/maml_cheetah_dir_rllab_obs_only.pt \\
        --checkpoint fd_seed1=checkpoints/maml_cheetah_dir_fd_forward_seed1.pt \\
        --out benchmarks/results/cheetah_dir_direction_split.json

Without ``--checkpoint`` it takes the twenty-four committed runs at the original code's settings with rllab's
observation (Gauss-Newton products, seeds 1-5; forward finite differences, seeds 1-7; central differences, seeds
1-4, 6 and 7, with our default step and with the original code's ``--fd-eps maml_code``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import TASK_SET_HELP, TASK_SETS, EvaluationConfig, evaluate_adaptation  # noqa: E402
from agents.maml_trpo import DIRECTION_NAMES, MAMLTRPO, MAMLTRPOConfig, direction_returns  # noqa: E402
from agents.training import load_policy  # noqa: E402
from metarl.cli_args import parse_labelled_path  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.stats import mean_ci, summarize_curve  # noqa: E402

ENV_ID = "MetaCheetahDir-v0"
RESULTS = ROOT / "benchmarks" / "results"
#: meta-iterations (inclusive) over which training_direction_gap averages the logged backward - forward gap
TRAINING_WINDOW = (21, 30)
DEFAULT_CHECKPOINTS = [
    ("gn_seed1", "checkpoints/maml_cheetah_dir_rllab_obs_only.pt"),
    *[(f"gn_seed{s}", f"checkpoints/maml_cheetah_dir_rllab_obs_only_seed{s}.pt") for s in range(2, 6)],
    *[(f"fd_forward_seed{s}", f"checkpoints/maml_cheetah_dir_fd_forward_seed{s}.pt") for s in range(1, 8)],
    *[(f"fd_central_seed{s}", f"checkpoints/maml_cheetah_dir_fd_central_seed{s}.pt") for s in (1, 2, 3, 4, 6, 7)],
    *[
        (f"fd_central_maml_eps_seed{s}", f"checkpoints/maml_cheetah_dir_fd_central_maml_eps_seed{s}.pt")
        for s in (1, 2, 3, 4, 6, 7)
    ],
]


def split_by_direction(curve: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"forward": {...}, "backward": {...}}`` of an :func:`agents.evaluation.evaluate_adaptation` result: per
    direction, the tasks' count and the mean ± 95% CI over those tasks after every step.

    :raises ValueError: if the result has no ``tasks`` with a ``direction`` of ±1, or one direction is missing.
    """
    tasks = curve.get("tasks") or []
    directions = np.asarray([task.get("direction") for task in tasks])
    if len(directions) == 0 or not np.isin(directions, list(DIRECTION_NAMES)).all():
        raise ValueError(f"the evaluation's tasks must all have a direction of +1 or -1; got {tasks[:3]!r} ...")
    per_task = np.asarray(curve["per_task"], dtype=float)  # [steps, tasks]
    out = {}
    for sign, name in DIRECTION_NAMES.items():
        chosen = per_task[:, directions == sign]
        if chosen.shape[1] == 0:
            raise ValueError(f"the evaluation has no {name} task")
        means, cis = zip(*(mean_ci(step) for step in chosen))
        out[name] = {"num_tasks": int(chosen.shape[1]), "mean": [float(m) for m in means],
                     "ci95": [float(c) for c in cis]}
    return out


def run_row(label: str, curve: dict[str, Any], checkpoint: str) -> dict[str, Any]:
    """One checkpoint's row: its overall curve, the direction split and the two summary numbers."""
    split = split_by_direction(curve)
    forward, backward = split["forward"]["mean"], split["backward"]["mean"]
    row = {"label": label, "checkpoint": checkpoint, "mean": curve["mean"], "ci95": curve["ci95"], **split,
           "direction_gap_step0": backward[0] - forward[0], "weaker_direction_step1": min(forward[1], backward[1])}
    return row


def initial_direction_gap(config: MAMLTRPOConfig) -> dict[str, float]:
    """Backward − forward training return of the run's first meta-batch, before and after adaptation: the
    iteration-1 batch of a run trained from ``config``'s seed (its initial policy, tasks and rollouts; the
    sampler's rollouts do not depend on the worker count)."""
    agent = MAMLTRPO(dataclasses.replace(config, workers=1))
    try:
        returns = direction_returns(agent.collect())
    finally:
        agent.close()
    return {when: returns[f"train/return_{when}_adapt_backward"] - returns[f"train/return_{when}_adapt_forward"]
            for when in ("before", "after")}


def training_direction_gap(result: dict[str, Any], window: tuple[int, int] = TRAINING_WINDOW) -> float | None:
    """Mean backward − forward pre-update training return over the meta-iterations ``window`` (inclusive) of a
    result JSON's ``training_curve`` (benchmarks/reproduce_maml.py), or None when the run did not log returns
    per direction or logged none of those iterations."""
    curve = result.get("training_curve") or {}
    forward, backward = curve.get("return_before_adapt_forward"), curve.get("return_before_adapt_backward")
    if forward is None or backward is None:
        return None
    gaps = [b - f for step, f, b in zip(curve["step"], forward, backward)
            if window[0] <= step <= window[1] and f is not None and b is not None]
    return float(np.mean(gaps)) if gaps else None


def correlations(rows: list[dict[str, Any]], gap_key: str = "direction_gap_step0") -> dict[str, Any]:
    """Pearson and Spearman correlations over runs of the step-1 mean with a direction gap (default: the
    evaluated one before adaptation), signed (``signed_gap``: backward − forward, > 0 when the policy leans
    backward) and absolute (``absolute_gap``: how far it leans either way).  Each is None with fewer than 3 runs
    or a constant column, where neither is defined."""
    rows = [r for r in rows if r.get(gap_key) is not None]  # e.g. runs without per-direction training logs
    step1 = np.asarray([r["mean"][1] for r in rows])
    out: dict[str, Any] = {"num_runs": len(rows)}
    for name, transform in (("signed_gap", lambda g: g), ("absolute_gap", abs)):
        gap = np.asarray([transform(r[gap_key]) for r in rows])
        if len(gap) < 3 or np.ptp(gap) == 0 or np.ptp(step1) == 0:
            out[name] = None
            continue
        pearson, spearman = stats.pearsonr(gap, step1), stats.spearmanr(gap, step1)
        out[name] = {"pearson_r": float(pearson.statistic), "pearson_p": float(pearson.pvalue),
                     "spearman_rho": float(spearman.statistic), "spearman_p": float(spearman.pvalue)}
    return out


def group_means(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean curve over the runs of each group of labels ``<group>_seed<N>`` with at least two runs: ``{group:
    {"runs", "mean", "ci95" (over runs), "forward", "backward" (mean per direction)}}`` — the seed means of
    every product kind on this evaluation's tasks."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        group, sep, _ = row["label"].rpartition("_seed")
        if sep:
            groups.setdefault(group, []).append(row)
    out = {}
    for group, members in groups.items():
        if len(members) < 2:
            continue
        overall = summarize_curve([r["mean"] for r in members])
        out[group] = {"runs": [r["label"] for r in members], "mean": overall["mean"], "ci95": overall["ci95"],
                      **{d: summarize_curve([r[d]["mean"] for r in members])["mean"] for d in DIRECTION_NAMES.values()}}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", type=parse_labelled_path, default=None,
                        help="label=path of a MetaCheetahDir-v0 MAML-TRPO checkpoint, repeatable (default: the "
                             "twenty-four committed rllab-observation runs: Gauss-Newton seeds 1-5, forward-difference "
                             "seeds 1-7, central-difference seeds 1-4, 6 and 7 with the default and with the "
                             "maml_code finite-difference step)")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps to evaluate (default: 3)")
    parser.add_argument("--tasks", type=int, default=40, help="held-out tasks (default: 40, the paper's)")
    parser.add_argument("--seed", type=int, default=EvaluationConfig().seed,
                        help="evaluation seed (default: examples/evaluate.py's, so the held-out tasks are those of the "
                             "committed results)")
    parser.add_argument("--task-set", choices=TASK_SETS, default="sampled", help=TASK_SET_HELP)
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--no-initial", action="store_true",
                        help="skip the initial direction gap (the first training meta-batch of every run's seed, "
                             "about 15 s per run)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cheetah_dir_direction_split.json"),
                        help="output JSON path")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1 (the step-1 return is what is correlated); got {args.steps}")
    checkpoints = args.checkpoint or DEFAULT_CHECKPOINTS
    rows = []
    for label, path in checkpoints:
        policy, config = load_policy(ROOT / path if not Path(path).is_absolute() else path)
        if config.env_id != ENV_ID:
            raise SystemExit(f"--checkpoint {label}={path}: trained on {config.env_id}, not {ENV_ID}")
        evaluation = EvaluationConfig(num_tasks=args.tasks, num_steps=args.steps, seed=args.seed,
                                      workers=args.workers, env_kwargs=config.env_kwargs, task_set=args.task_set)
        t0 = time.perf_counter()
        curve = evaluate_adaptation(policy, ENV_ID, evaluation, show_progress=False)
        row = run_row(label, curve, str(path))
        result_path = RESULTS / f"{Path(path).stem}.json"
        if result_path.exists():
            row["training_direction_gap"] = training_direction_gap(json.loads(result_path.read_text()))
        if not args.no_initial:
            gaps = initial_direction_gap(config)
            row["initial_direction_gap"], row["initial_direction_gap_after_adapt"] = gaps["before"], gaps["after"]
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("label", "mean", "direction_gap_step0", "initial_direction_gap")
                          if k in row}
                         | {d: row[d]["mean"] for d in DIRECTION_NAMES.values()}))
    report = {
        "benchmark": "cheetah_dir_direction_split",
        "env_id": ENV_ID,
        "protocol": {"num_tasks": args.tasks, "num_steps": args.steps, "seed": args.seed, "task_set": args.task_set,
                     "step_sizes": list(EvaluationConfig().step_sizes), "batch": "episodes"},
        "runs": rows,
        "groups": group_means(rows),
        "gap_vs_step1": correlations(rows),
    }
    if not args.no_initial:
        report["initial_gap_vs_step1"] = correlations(rows, "initial_direction_gap")
    report["training_gap_vs_step1"] = {"iterations": list(TRAINING_WINDOW),
                                       **correlations(rows, "training_direction_gap")}
    write_json(Path(args.out), report)
    print(json.dumps(report["gap_vs_step1"]))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
