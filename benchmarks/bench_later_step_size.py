"""MetaNav2D adaptation curves with the later step size chosen on validation tasks (MAML paper, App. A.2).

The paper evaluated with α for the first adaptation step and α/2 after it, because "we found that halving the
learning rate after the first gradient step produced superior performance".  Our 500-iteration runs at the original
code's settings lose steps 2-3 under that fixed rule while their step 1 holds; their learned log-std keeps falling
with training (-0.84 at iteration 100, -1.24 at 500 for seed 1), and a REINFORCE step on a Gaussian policy grows as
1/σ².  This benchmark repeats the paper's choice per checkpoint without looking at the test tasks
(:func:`agents.later_step_size.select_later_step_size`): candidate factors f of the sizes (α, f·α) are compared on
40 validation tasks of their own seed, and the chosen sizes are then evaluated on the test tasks (the seed of
``examples/evaluate.py``) and on the original code's test goals, next to the fixed halving.

    python benchmarks/bench_later_step_size.py \\
        --checkpoint it500_seed1=checkpoints/maml_nav2d_original_code_fd_maml_eps_500_seed1.pt \\
        --out benchmarks/results/later_step_size_nav2d.json

Each checkpoint is evaluated with its own α (``fast_lr``), sample counting (``batch``), env options, γ and λ.
Without ``--checkpoint`` it takes the committed MetaNav2D runs at the original code's settings with the original
code's finite-difference step (seeds 1-6 at 100 iterations, seeds 1-3 at 500) and the other committed
500-iteration MetaNav2D runs (``maml_nav2d``, ``maml_nav2d_fullfvp``, ``maml_nav2d_original_settings``,
``maml_nav2d_original_code_samples_500_seed1``).
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

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import EvaluationConfig, evaluate_adaptation  # noqa: E402
from agents.later_step_size import (  # noqa: E402
    LATER_STEP_FACTORS,
    VALIDATION_SEED,
    later_step_sizes,
    select_later_step_size,
)
from agents.training import load_policy  # noqa: E402
from metarl.cli_args import parse_labelled_path  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PAPER_REFERENCE = ROOT / "benchmarks" / "paper_reference.json"
#: the paper's rule: half the first step size after the first step
PAPER_FACTOR = 0.5
DEFAULT_CHECKPOINTS = [
    *[(f"it100_seed{s}", f"checkpoints/maml_nav2d_original_code_fd_maml_eps_seed{s}.pt") for s in range(1, 7)],
    *[(f"it500_seed{s}", f"checkpoints/maml_nav2d_original_code_fd_maml_eps_500_seed{s}.pt") for s in (1, 2, 3)],
    # the other committed 500-iteration MetaNav2D runs, whatever their settings
    ("gn_samples_it500_seed1", "checkpoints/maml_nav2d_original_code_samples_500_seed1.pt"),
    ("original_settings_it500", "checkpoints/maml_nav2d_original_settings.pt"),
    ("paper_settings_it500", "checkpoints/maml_nav2d.pt"),
    ("paper_settings_fullfvp_it500", "checkpoints/maml_nav2d_fullfvp.pt"),
]


def curve_summary(curve: dict[str, Any]) -> dict[str, Any]:
    """The part of an adaptation curve the result file keeps: means, CIs and the step sizes used."""
    return {"mean": curve["mean"], "ci95": curve["ci95"], "step_sizes": list(curve["config"]["step_sizes"])}


def run_row(label: str, path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Selection on validation tasks, then the test curves with the paper's halving and with the chosen size."""
    t0 = time.perf_counter()
    policy, config = load_policy(path)
    test = EvaluationConfig(num_tasks=args.tasks, num_steps=args.steps, seed=args.seed, workers=args.workers,
                            env_kwargs=config.env_kwargs, gamma=config.gamma, gae_lambda=config.gae_lambda,
                            batch=config.batch, step_sizes=later_step_sizes(config.fast_lr, PAPER_FACTOR))
    selection = select_later_step_size(policy, config.env_id, test, config.fast_lr, tuple(args.factors),
                                       args.validation_seed)
    row: dict[str, Any] = {"label": label, "checkpoint": path, "env_id": config.env_id,
                           "fast_lr": config.fast_lr, "batch": config.batch, "selection": selection}
    chosen = later_step_sizes(config.fast_lr, selection["factor"])
    for task_set in ("sampled", "original"):
        halving = dataclasses.replace(test, task_set=task_set)
        row[f"paper_halving_{task_set}"] = curve_summary(evaluate_adaptation(policy, config.env_id, halving,
                                                                             show_progress=False))
        # when the choice is the halving, its curve is the one just measured (same tasks, sizes and seed)
        row[f"chosen_{task_set}"] = row[f"paper_halving_{task_set}"] if chosen == halving.step_sizes else (
            curve_summary(evaluate_adaptation(policy, config.env_id,
                                              dataclasses.replace(halving, step_sizes=chosen), show_progress=False)))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", type=parse_labelled_path, default=None,
                        help="label=path of a MAML-TRPO checkpoint, repeatable (default: the committed MetaNav2D "
                             "runs at the original code's settings with --fd-eps maml_code, seeds 1-6 at 100 "
                             "iterations and seeds 1-3 at 500, and the other committed 500-iteration MetaNav2D "
                             "runs)")
    parser.add_argument("--factors", type=float, nargs="+", default=list(LATER_STEP_FACTORS),
                        help="candidate factors f of the sizes (α, f·α) (default: %(default)s)")
    parser.add_argument("--validation-seed", type=int, default=VALIDATION_SEED,
                        help="seed of the validation tasks and rollouts the factor is chosen on; must differ from "
                             "--seed (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=EvaluationConfig().seed,
                        help="seed of the test tasks and rollouts, as examples/evaluate.py's (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps (default: 3)")
    parser.add_argument("--tasks", type=int, default=40, help="validation and test tasks each (default: 40)")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--out", default=str(RESULTS / "later_step_size_nav2d.json"), help="output JSON path")
    args = parser.parse_args(argv)
    rows = []
    for label, path in args.checkpoint or DEFAULT_CHECKPOINTS:
        try:
            rows.append(run_row(label, path, args))
        except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
            parser.error(f"{label}: {exc}")
        r = rows[-1]
        print(f"{label}: factor {r['selection']['factor']}, test {[round(m, 1) for m in r['chosen_sampled']['mean']]}"
              f" (halving {[round(m, 1) for m in r['paper_halving_sampled']['mean']]})", flush=True)
    report = {
        "benchmark": "later_step_size_nav2d",
        "about": ("Later adaptation step size chosen per checkpoint on validation tasks (MAML App. A.2's halving "
                  "repeated as a choice); test curves with the paper's halving and with the chosen factor."),
        "protocol": {"factors": args.factors, "validation_seed": args.validation_seed, "test_seed": args.seed,
                     "num_tasks": args.tasks, "num_steps": args.steps,
                     "criterion": "mean return over steps 2..N on the validation tasks"},
        "paper_maml": json.loads(PAPER_REFERENCE.read_text())["rl"]["MetaNav2D-v0"]["maml"],
        "runs": rows,
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
