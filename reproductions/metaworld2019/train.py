"""Train MAML-TRPO on one Meta-World ML1 task with the settings of :mod:`.presets`, evaluate it, write the result.

One run = one (task, seed).  Training is the library's (:func:`agents.training.train`: ``last.pt`` after every
iteration, ``best.pt``, ``progress.csv`` with the success columns, resumable with ``--resume``); evaluation is the
library's ``metarl-evaluate`` (:func:`agents.cli.evaluate_main`) on the 50 held-out test variations of the
benchmark, giving return and success rate with 95% CIs before and after 1-3 adaptation steps.  The result file
``<out-dir>/<name>.json`` adds the training curve, the settings with their sources and the command::

    python -m reproductions.metaworld2019.train --name maml_trpo_ml1_reach_seed1 --seed 1 \
        --run-dir /work/runs/metaworld_reach_seed1 --torch-threads 1
    python -m reproductions.metaworld2019.train ... --resume      # continue a stopped run; when it is done,
                                                                 # only the evaluation and the result are made
Needs the extra: ``pip install "metarl[metaworld]"`` (``make test-metaworld`` builds ``.venv-metaworld``).
"""

from __future__ import annotations

import gc
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import tyro

import metarl
from agents.cli import evaluate_main
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND, MetaStepsRejected, TrainingConfig, train
from metarl.checkpoint import load_checkpoint
from metarl.jsonio import write_json
from metarl.logger import read_csv
from metarl.run_lock import RunLockError
from reproductions.metaworld2019 import presets

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "reproductions" / "metaworld2019" / "results"
#: progress.csv columns kept in the result's training curve
CURVE_KEYS = ("train/return_before_adapt", "train/return_after_adapt", "train/success_before_adapt",
              "train/success_after_adapt")

__all__ = ["Args", "build_agent", "main", "write_result"]


@dataclass
class Args:
    name: str
    """Result name: <out-dir>/<name>.json; the run folder is runs/<name> unless --run-dir."""
    task: str = "reach-v3"
    """ML1 task: reach-v3, push-v3 or pick-place-v3."""
    seed: int = 1
    """Training seed."""
    iterations: int = presets.BUDGET
    """Meta-iterations (Yu et al. give none; the default is the measured budget of about 2.5 h of one core)."""
    workers: int = 1
    """Sampler processes."""
    torch_threads: int | None = None
    """torch intra-op threads (None = torch's); 1 when runs share the machine."""
    run_dir: Path | None = None
    """Folder of the run (checkpoints, progress.csv, train.log); None = runs/<name>."""
    resume: bool = False
    """Continue <run-dir>/last.pt (then only the iterations left are trained)."""
    eval_tasks: int = presets.EVALUATION["eval_tasks"]
    """Held-out test variations evaluated (0 skips the evaluation and the result file)."""
    eval_rollouts: int = presets.EVALUATION["eval_rollouts"]
    """Rollouts per task and adaptation step."""
    eval_steps: int = presets.EVALUATION["eval_steps"]
    """Adaptation steps of the evaluation."""
    checkpoint: str = "best.pt"
    """Checkpoint of the run evaluated (best.pt: best smoothed post-adaptation training return; or last.pt)."""
    out_dir: Path = RESULTS
    """Folder of the result JSON."""


def build_agent(args: Args, run_dir: Path) -> MAMLTRPO:
    """The agent of ``args``: the preset's config; with ``--resume`` the checkpoint's config under it, so that a
    library default added since the run started does not count as a change of the run's settings."""
    given = presets.config_fields(args.task, args.seed, args.workers)
    last = run_dir / "last.pt"
    if args.resume and last.exists():
        given = {**load_checkpoint(last, expected_kind=CHECKPOINT_KIND)["config"], **given}
    return MAMLTRPO(MAMLTRPOConfig.from_dict(given))


def write_result(args: Args, run_dir: Path, curve: dict[str, Any]) -> dict[str, Any]:
    """``<out-dir>/<name>.json``: the evaluation ``curve`` with the training curve, settings and timing."""
    progress = read_csv(run_dir / "progress.csv")
    state = load_checkpoint(run_dir / args.checkpoint, expected_kind=CHECKPOINT_KIND)
    seconds = float(sum(progress["time/iteration"]))
    result = {
        "benchmark": args.name,
        "env_id": curve["env_id"],
        "method": "MAML-TRPO",
        **{key: curve[key] for key in ("steps", "mean", "ci95", "success_rate", "success_ci95") if key in curve},
        "iterations": int(progress["step"][-1]),
        "evaluated_checkpoint": args.checkpoint,
        "evaluated_iteration": int(state["iteration"]),
        "train_seconds": round(seconds, 1),
        "seconds_per_iteration": round(seconds / max(1, len(progress["step"])), 2),
        "training_curve": {"step": [int(s) for s in progress["step"]],
                           **{key.removeprefix("train/"): [None if math.isnan(v) else round(v, 4) for v in
                                                           progress[key]] for key in CURVE_KEYS if key in progress}},
        "settings": {name: asdict(setting) for name, setting in presets.SETTINGS.items()},
        "not_expressed": presets.NOT_EXPRESSED,
        "config": dict(state["config"]),
        "evaluation": {**curve["config"], "per_task": curve["per_task"],
                       "per_task_success": curve.get("per_task_success"), "tasks": curve["tasks"]},
        "command": " ".join(sys.argv),
    }
    write_json(args.out_dir / f"{args.name}.json", result)
    return result


def _train(args: Args, run_dir: Path) -> None:
    """Train (or continue) the run; the agent and its envs are released when this returns."""
    try:
        agent = build_agent(args, run_dir)
    except ValueError as exc:
        raise SystemExit(f"reproductions.metaworld2019.train: {exc}") from None
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir), iterations=args.iterations, resume=args.resume))
    except (ValueError, OSError, RunLockError, MetaStepsRejected) as exc:
        raise SystemExit(f"reproductions.metaworld2019.train: {exc}") from None
    finally:
        agent.close()


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = tyro.cli(Args, args=argv, description=__doc__)
    metarl.keep_freed_memory()  # opt-in allocator tuning: 20-30 % faster meta-steps (metarl.malloc_tuning)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    run_dir = args.run_dir or ROOT / "runs" / args.name
    _train(args, run_dir)
    gc.collect()  # the training envs' MuJoCo models (about 22 MB per Meta-World copy) go before the evaluation's
    if args.eval_tasks == 0:
        return None
    curve = evaluate_main([
        "--checkpoint", str(run_dir / args.checkpoint), "--out", str(run_dir / "evaluation.json"),
        "--eval-tasks", str(args.eval_tasks), "--eval-rollouts", str(args.eval_rollouts),
        "--eval-steps", str(args.eval_steps), "--workers", str(args.workers),
        *(["--torch-threads", str(args.torch_threads)] if args.torch_threads is not None else []),
    ])
    result = write_result(args, run_dir, curve)
    print(json.dumps({key: result.get(key) for key in ("mean", "success_rate")}))
    return result


if __name__ == "__main__":
    main()
