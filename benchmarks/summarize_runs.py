"""Summarise several MAML-TRPO training runs in one JSON: settings, training-return trajectory, evaluation.

For diagnostic comparisons across seeds or settings (e.g. the hidden-bias initialisation on MetaNav2D), including
runs stopped early: everything comes from each run directory's ``config.json``, ``progress.csv`` and, when
present, ``evaluation.json`` — nothing is re-run.

    python benchmarks/summarize_runs.py --question "..." --out benchmarks/results/diag_x.json runs/a runs/b
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metarl.logger import read_csv  # noqa: E402

TRAJECTORY_KEYS = ("train/return_before_adapt", "train/return_after_adapt", "train/return_after_adapt_smoothed")


def summarize_run(run_dir: Path, every: int) -> dict:
    """One run: its config, iterations, training time, the training returns every ``every`` iterations (and at
    the last one), and its ``evaluation.json`` curve if it has one."""
    config = json.loads((run_dir / "config.json").read_text())
    progress = read_csv(run_dir / "progress.csv")
    steps = [int(s) for s in progress["step"]]
    rows = [i for i, s in enumerate(steps) if s == 1 or s % every == 0]
    if rows[-1] != len(steps) - 1:
        rows.append(len(steps) - 1)
    summary = {
        "run_dir": str(run_dir),
        "config": config,
        "iterations": steps[-1],
        "train_seconds": round(float(sum(progress["time/iteration"])), 1),
        "trajectory": [
            {"iteration": steps[i], **{k.removeprefix("train/"): round(float(progress[k][i]), 2)
                                       for k in TRAJECTORY_KEYS}}
            for i in rows
        ],
    }
    evaluation = run_dir / "evaluation.json"
    if evaluation.exists():
        curve = json.loads(evaluation.read_text())
        summary["evaluation"] = {
            "checkpoint": Path(curve.get("checkpoint", "best.pt")).name, "steps": curve["steps"],
            "mean": curve["mean"], "ci95": curve["ci95"], "step_sizes": curve["config"]["step_sizes"],
            "batch": curve["config"].get("batch", "episodes"),
        }
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (each with config.json, progress.csv)")
    parser.add_argument("--question", required=True, help="what the comparison is for (stored in the JSON)")
    parser.add_argument("--every", type=int, default=10, help="trajectory stride in iterations (default: 10)")
    parser.add_argument("--out", type=Path, required=True, help="output JSON path")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error(f"--every must be >= 1, got {args.every}")
    missing = [str(r) for r in args.runs if not (r / "progress.csv").exists()]
    if missing:
        parser.error(f"no progress.csv in: {', '.join(missing)}")
    result = {"question": args.question, "runs": [summarize_run(r, args.every) for r in args.runs]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
