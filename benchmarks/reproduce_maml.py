"""Reproduce the MAML paper's RL curves (Figs. 4-5): train MAML-TRPO, evaluate, write results JSON + PNG.

Runs ``examples/train_maml_trpo.py`` into ``runs/<name>`` (resumable), then writes
``benchmarks/results/<name>.json`` with the adaptation curve (0..3 steps on 40 held-out tasks), the paper's
numbers for the same env, training wall-clock and settings, and copies the best checkpoint to
``checkpoints/<name>.pt`` so users can evaluate and render without training.

    python benchmarks/reproduce_maml.py --env MetaNav2D-v0 --iterations 500 --name maml_nav2d
    python benchmarks/reproduce_maml.py --name maml_nav2d --collect-only      # results from an existing run
    python benchmarks/reproduce_maml.py --name maml_nav2d --attach-evaluation original_tasks=eval.json
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.evaluation import plot_curves  # noqa: E402
from agents.training import WARM_START_FILE  # noqa: E402
from metarl.logger import read_csv  # noqa: E402
from metarl.optim import FD_SCHEMES  # noqa: E402
from metarl.rl.policy import ACTION_SCALINGS  # noqa: E402
from metarl.rl.sample_budget import BATCH_MODES  # noqa: E402

REFERENCE = ROOT / "benchmarks" / "paper_reference.json"


#: per-iteration training returns kept in the result JSON (the per-direction ones only where the run logged them:
#: goal-direction envs, runs since the per-direction logs existed)
TRAINING_CURVE_KEYS = (
    "train/return_before_adapt", "train/return_after_adapt",
    "train/return_before_adapt_forward", "train/return_before_adapt_backward",
    "train/return_after_adapt_forward", "train/return_after_adapt_backward",
)


def training_curve(progress: dict[str, list[float]]) -> dict[str, list]:
    """The run's training returns per meta-iteration from its ``progress.csv`` columns: ``{"step": [...],
    "return_before_adapt": [...], ...}`` with ``None`` where a row has no value (valid JSON, unlike NaN).
    Columns absent from the log, or empty throughout, are left out."""
    curve: dict[str, list] = {"step": [int(step) for step in progress["step"]]}
    for key in TRAINING_CURVE_KEYS:
        values = progress.get(key)
        if values is None or all(math.isnan(v) for v in values):
            continue
        curve[key.removeprefix("train/")] = [None if math.isnan(v) else round(v, 2) for v in values]
    return curve


def extra_evaluations(run_dir: Path) -> dict[str, dict]:
    """Further evaluations of the same run (``run_dir/evaluation_<label>.json``, written by ``examples/evaluate.py
    --out``), e.g. with another test-time step-size schedule or task set: ``{label: extra_evaluation_entry(...)}``."""
    return {path.stem.removeprefix("evaluation_"): extra_evaluation_entry(json.loads(path.read_text()))
            for path in sorted(run_dir.glob("evaluation_*.json"))}


def extra_evaluation_entry(evaluation: dict) -> dict:
    """A further evaluation as a result JSON keeps it: ``{steps, mean, ci95, step_sizes, checkpoint, batch,
    task_set, evaluation}`` (``evaluation``: the whole protocol, which ``benchmarks/aggregate_seeds.py
    --evaluation`` compares across seeds)."""
    return {
        "steps": evaluation["steps"], "mean": evaluation["mean"], "ci95": evaluation["ci95"],
        "step_sizes": evaluation["config"]["step_sizes"], "checkpoint": evaluation.get("checkpoint"),
        "batch": evaluation["config"].get("batch", "episodes"),
        "task_set": evaluation["config"].get("task_set", "sampled"),
        "evaluation": evaluation["config"],
    }


def attach_evaluation(name: str, label: str, evaluation_path: Path, out_dir: Path, checkpoint_dir: Path) -> dict:
    """Add ``evaluation_path`` (an ``examples/evaluate.py`` JSON) to ``<out_dir>/<name>.json`` as its further
    evaluation ``label`` — for committed results whose run dir is gone.  The evaluation must be of the committed
    checkpoint ``<checkpoint_dir>/<name>.pt``, so the result keeps describing one policy.

    :raises ValueError: if the evaluation names another checkpoint or none, or ``label`` is empty.
    """
    if not label:
        raise ValueError("the evaluation label is empty")
    result_path = out_dir / f"{name}.json"
    result = json.loads(result_path.read_text())
    evaluation = json.loads(evaluation_path.read_text())
    committed = checkpoint_dir / f"{name}.pt"
    evaluated = evaluation.get("checkpoint")
    if evaluated is None or Path(evaluated).resolve() != committed.resolve():
        raise ValueError(f"{evaluation_path} evaluates {evaluated!r}, not the committed checkpoint {committed}")
    result.setdefault("extra_evaluations", {})[label] = extra_evaluation_entry(evaluation)
    result_path.write_text(json.dumps(result, indent=2))
    return result


def collect(name: str, run_dir: Path, out_dir: Path, checkpoint_dir: Path) -> dict:
    """Build ``<out_dir>/<name>.json`` from a finished run directory."""
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    progress = read_csv(run_dir / "progress.csv")
    env_id = evaluation["env_id"]
    wall = progress["wall_time"]
    train_seconds = float(sum(progress["time/iteration"]))
    paper = json.loads(REFERENCE.read_text())["rl"].get(env_id, {})
    best = max(range(len(progress["step"])), key=lambda i: progress["train/return_after_adapt_smoothed"][i])
    result = {
        "benchmark": name,
        "env_id": env_id,
        "method": "MAML-TRPO",
        "steps": evaluation["steps"],
        "mean": evaluation["mean"],
        "ci95": evaluation["ci95"],
        "paper_maml": paper.get("maml"),
        "iterations": int(progress["step"][-1]),
        "best_iteration": int(progress["step"][best]),
        "train_seconds": round(train_seconds, 1),
        "train_wall_clock_seconds": round(wall[-1] - wall[0] + progress["time/iteration"][0], 1),
        "seconds_per_iteration": round(train_seconds / len(progress["step"]), 3),
        "train_return_before_adapt_last10": sum(progress["train/return_before_adapt"][-10:]) / 10,
        "train_return_after_adapt_last10": sum(progress["train/return_after_adapt"][-10:]) / 10,
        "training_curve": training_curve(progress),
        "config": config,
        "evaluation": evaluation["config"],
        "evaluated_checkpoint": evaluated_checkpoint(run_dir, evaluation).name,
        "checkpoint": f"checkpoints/{name}.pt",
    }
    if int(progress["step"][0]) > 1:  # resumed from a checkpoint whose earlier log is not in this run dir
        result["first_logged_iteration"] = int(progress["step"][0])
    warm_start = run_dir / WARM_START_FILE
    if warm_start.exists():  # examples/train_maml_trpo.py --init-from: the policy had trained before this run
        result["warm_start"] = json.loads(warm_start.read_text())
    extra = extra_evaluations(run_dir)
    if extra:
        result["extra_evaluations"] = extra
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2))
    labels = {"maml": "MAML (paper)", "oracle": "oracle (paper)"}
    reference = {label: paper[key] for key, label in labels.items() if key in paper}
    plot_curves({"MAML (ours)": evaluation}, out_dir / f"{name}.png", title=f"{env_id}: MAML-TRPO",
                reference=reference, log_scale=env_id.startswith("MetaNav2D"))
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(evaluated_checkpoint(run_dir, evaluation), checkpoint_dir / f"{name}.pt")
    return result


def evaluated_checkpoint(run_dir: Path, evaluation: dict) -> Path:
    """The checkpoint the main evaluation measured (``evaluation["checkpoint"]``, written by
    ``examples/evaluate.py``): ``best.pt`` by default, ``last.pt`` for runs reported as the original code did
    (``snapshot_mode="last"``).  Only checkpoints inside ``run_dir`` are accepted, so the committed file is
    this run's."""
    named = evaluation.get("checkpoint")
    if named is None:
        return run_dir / "best.pt"
    path = run_dir / Path(named).name
    if not path.exists():
        raise FileNotFoundError(f"the evaluation names checkpoint {named!r}, but {path} does not exist")
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="result name, e.g. maml_nav2d (run dir runs/<name>)")
    parser.add_argument("--env", default="MetaNav2D-v0", help="env id to train on (default: MetaNav2D-v0)")
    parser.add_argument("--iterations", type=int, default=500, help="meta-iterations (default: 500, the paper's)")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed (default: 1)")
    parser.add_argument("--fvp-subsample", type=float, default=1.0,
                        help="fraction of tasks for the Fisher-vector products (default: 1.0, every task as the "
                             "paper; 0.25 is 3x faster per iteration but learns much more slowly per iteration)")
    parser.add_argument("--hvp", choices=("fd", "exact", "gn"), default="fd",
                        help="Fisher-vector products of the TRPO step: fd (finite differences, the paper's), exact "
                             "(double backprop) or gn (Gauss-Newton J^T M J, the exact KL Hessian, cheaper) "
                             "(default: fd)")
    parser.add_argument("--fd-scheme", choices=FD_SCHEMES, default=None,
                        help="finite difference of the fd products: central (two gradients per product, the "
                             "original code's) or forward (one) (default: the trainer's, central)")
    parser.add_argument("--fast-lr", type=float, default=None,
                        help="inner step size alpha (default: the trainer's, 0.1 as the paper's text; the original "
                             "point-env script used 0.5)")
    parser.add_argument("--meta-batch-size", type=int, default=None,
                        help="tasks per meta-iteration (default: the trainer's per-env paper value)")
    parser.add_argument("--action-scaling", choices=ACTION_SCALINGS, default=None,
                        help="clip: actions in env units, clipped (default); rescale: [-1, 1] mapped onto the "
                             "action space as rllab's normalize wrapper that the original code used")
    parser.add_argument("--batch", choices=BATCH_MODES, default=None,
                        help="episodes: fast_batch_size episodes per task (default, the paper's text); samples: the "
                             "original trainer's shared budget of tasks x rollouts x horizon samples from one "
                             "auto-resetting env slot per task")
    parser.add_argument("--attach-evaluation", default=None, metavar="LABEL=PATH",
                        help="only add the examples/evaluate.py JSON at PATH, an evaluation of checkpoints/<name>.pt, "
                             "to benchmarks/results/<name>.json as its further evaluation LABEL (for results whose "
                             "run dir is gone; a later --collect-only from the run dir keeps only its own files)")
    parser.add_argument("--collect-only", action="store_true",
                        help="only build the results from runs/<name> (its evaluation.json, and any "
                             "evaluation_<label>.json written by examples/evaluate.py --out as extra evaluations)")
    args = parser.parse_args(argv)
    if args.attach_evaluation is not None:
        label, sep, path = args.attach_evaluation.partition("=")
        if not sep:
            parser.error(f"--attach-evaluation wants LABEL=PATH; got {args.attach_evaluation!r}")
        try:
            result = attach_evaluation(args.name, label, Path(path), ROOT / "benchmarks" / "results",
                                       ROOT / "checkpoints")
        except (ValueError, FileNotFoundError) as exc:
            parser.error(str(exc))
        print(json.dumps({label: result["extra_evaluations"][label]["mean"]}))
        return result
    run_dir = ROOT / "runs" / args.name
    if not args.collect_only:
        command = [
            sys.executable, str(ROOT / "examples" / "train_maml_trpo.py"), "--env", args.env,
            "--iterations", str(args.iterations), "--workers", str(args.workers), "--seed", str(args.seed),
            "--fvp-subsample", str(args.fvp_subsample), "--hvp", args.hvp, "--run-dir", str(run_dir), "--resume",
        ]
        for flag, value in (("--fd-scheme", args.fd_scheme), ("--fast-lr", args.fast_lr),
                            ("--meta-batch-size", args.meta_batch_size),
                            ("--action-scaling", args.action_scaling), ("--batch", args.batch)):
            if value is not None:
                command += [flag, str(value)]
        subprocess.run(command, check=True)
    result = collect(args.name, run_dir, ROOT / "benchmarks" / "results", ROOT / "checkpoints")
    print(json.dumps({k: result[k] for k in ("env_id", "mean", "ci95", "paper_maml", "train_seconds")}))
    return result


if __name__ == "__main__":
    main()
