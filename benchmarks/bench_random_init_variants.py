"""How fast an untrained policy adapts on env variants, over several initialisation seeds (MAML Figs. 4-5 baseline).

The MAML paper's "random initialisation" curve fine-tunes an untrained policy with vanilla policy gradient on the
held-out tasks.  Comparing our env's version of that curve with the paper's asks whether a gap to the paper lies
in the env (its dynamics, observation, start state) rather than in the meta-training.  One initialisation seed
is not enough for that: on ``MetaCheetahDir-v0`` at ``frame_skip=1`` the step-3 return of single seeds spans
tens of return units.  This benchmark evaluates ``--seeds`` untrained policies per env variant on the same
held-out tasks (``agents.comparison.random_method``; step size tuned on training tasks, as
``examples/compare.py``) and writes every seed's curve and the mean ± 95% CI over seeds per variant.

Variants are JSON objects of env kwargs, e.g. the original code's control step with and without rllab's
observation and start state::

    python benchmarks/bench_random_init_variants.py --env MetaCheetahDir-v0 --seeds 0 1 2 3 4 \\
        --variant '{"frame_skip": 1}' \\
        --variant '{"frame_skip": 1, "rllab_observation": true, "rllab_reset": true}' \\
        --out benchmarks/results/random_init_cheetah_dir_fs1.json

The policy architecture is the paper's 2 x 100 ReLU MLP with zero hidden biases (rllab's initialisation).
"""

from __future__ import annotations

import argparse
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
import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.comparison import DEFAULT_TUNING_CANDIDATES, TuningConfig, compare_methods, random_method  # noqa: E402
from agents.evaluation import EvaluationConfig  # noqa: E402
from agents.maml_trpo import MAMLTRPOConfig  # noqa: E402
from benchmarks.bench_common import machine_info  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.progress import progress  # noqa: E402
from metarl.stats import summarize_curve  # noqa: E402

PAPER_REFERENCE = ROOT / "benchmarks" / "paper_reference.json"


def parse_variant(text: str) -> dict[str, Any]:
    """A ``--variant`` JSON object of env kwargs (``argparse.ArgumentTypeError`` naming the text otherwise)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--variant must be a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--variant must be a JSON object of env kwargs, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="env id")
    parser.add_argument("--variant", dest="variants", action="append", type=parse_variant, required=True,
                        metavar="JSON", help="env kwargs of one variant as a JSON object; repeat for each variant")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="initialisation seeds of the untrained policies (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps (default: 3)")
    parser.add_argument("--tasks", type=int, default=40, help="held-out test tasks (default: 40)")
    parser.add_argument("--rollouts", type=int, default=None,
                        help="rollouts per step (default: the paper's, 40 navigation / 20 locomotion)")
    parser.add_argument("--tune-candidates", type=float, nargs="+", default=list(DEFAULT_TUNING_CANDIDATES),
                        help="step sizes tried on training tasks (default: %(default)s)")
    parser.add_argument("--tune-tasks", type=int, default=20, help="training tasks used for tuning (default: 20)")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", required=True, help="output JSON path")
    return parser


def mean_over_seeds(curves: list[list[float]]) -> dict[str, Any]:
    """Mean ± 95% CI over seeds (Student t, n = seeds) of per-seed mean curves ``[seed][step]``."""
    summary = summarize_curve(np.asarray(curves, dtype=np.float64))
    return {"mean": summary["mean"], "ci95": summary["ci95"], "n_seeds": summary["n"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    evaluation_common = {"num_tasks": args.tasks, "num_steps": args.steps, "rollouts_per_task": args.rollouts,
                         "workers": args.workers}
    tuning = TuningConfig(num_tasks=args.tune_tasks)
    variants = []
    start = time.perf_counter()
    jobs = [(i, seed) for i in range(len(args.variants)) for seed in args.seeds]
    per_variant: list[list[dict[str, Any]]] = [[] for _ in args.variants]
    for i, seed in progress(jobs, desc="random-init curves"):
        variant = args.variants[i]
        architecture = MAMLTRPOConfig(env_id=args.env, env_kwargs=dict(variant), hidden_bias_init="zeros")
        spec = random_method(args.env, architecture, seed=seed, candidates=args.tune_candidates)
        curve = compare_methods(
            args.env, {"random": spec}, EvaluationConfig(env_kwargs=dict(variant), **evaluation_common), tuning
        )["random"]
        per_variant[i].append(
            {"seed": seed, "mean": curve["mean"], "ci95_over_tasks": curve["ci95"], "step_sizes": curve["step_sizes"]}
        )
    for variant, runs in zip(args.variants, per_variant, strict=True):
        variants.append({
            "env_kwargs": variant,
            "seeds": runs,
            "over_seeds": mean_over_seeds([r["mean"] for r in runs]),
            "gain_over_seeds": mean_over_seeds([[m - r["mean"][0] for m in r["mean"]] for r in runs]),
        })
    reference = json.loads(PAPER_REFERENCE.read_text())["rl"].get(args.env, {}).get("random_init")
    return {
        "benchmark": "random_init_variants",
        "env_id": args.env,
        "protocol": {"tasks": args.tasks, "steps": args.steps, "rollouts": args.rollouts,
                     "tune_candidates": args.tune_candidates, "tune_tasks": args.tune_tasks,
                     "architecture": "2 x 100 ReLU, zero hidden biases",
                     "evaluation_seed": EvaluationConfig().seed, "tuning_seed": tuning.seed},
        "paper_random_init": reference,
        "variants": variants,
        "wall_clock_seconds": time.perf_counter() - start,
        "machine": machine_info(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len({json.dumps(v, sort_keys=True) for v in args.variants}) != len(args.variants):
        parser.error(f"--variant: the same variant is given twice: {args.variants}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds: a seed is given twice: {args.seeds}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = run(args)
    write_json(args.out, report)
    for variant in report["variants"]:
        over = variant["over_seeds"]
        cells = "  ".join(f"{m:8.1f} ± {c:5.1f}" for m, c in zip(over["mean"], over["ci95"], strict=True))
        print(f"{json.dumps(variant['env_kwargs'])}: {cells}   ({over['n_seeds']} seeds)")
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
