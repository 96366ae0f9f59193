"""Train MAML-TRPO under one of this reproduction's presets, evaluate it as the paper did, write the seed's result.

One run = one (env, preset, seed).  The run folder (``runs/<name>``) holds the library's ``last.pt``/``best.pt``,
``progress.csv`` and TensorBoard logs; ``--resume`` continues a stopped run exactly.  When training is done the
evaluated checkpoint (``last.pt`` for the ``original_code`` presets, as the original code's ``snapshot_mode="last"``;
``best.pt`` otherwise) is evaluated on 40 held-out tasks (and, where they exist, on the original test scripts'
goals) and ``reproductions/maml2017/results/<name>.json`` + ``.png`` are written: the adaptation curves, the
training curve, wall-clock, config, quirks and the paper's numbers::

    python -m reproductions.maml2017.train --env-id MetaNav2D-v0 --preset original_code --seed 1 \
        --name maml_nav2d_original_code_seed1
    python -m reproductions.maml2017.train --name maml_nav2d_original_code_seed1 --resume ...   # after a stop
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import tyro

import metarl  # noqa: F401  (registers the env ids)
from agents.evaluation import plot_curves
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND, MetaStepsRejected, TrainingConfig, train
from metarl.checkpoint import load_checkpoint
from metarl.jsonio import write_json
from metarl.logger import read_csv
from metarl.run_lock import RunLockError
from reproductions.maml2017.evaluate import evaluate_checkpoint
from reproductions.maml2017.original_tasks import ORIGINAL_TEST_DRAWS
from reproductions.maml2017.presets import PRESETS, extensions_for

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "reproductions" / "maml2017" / "results"
PAPER_FALLBACK = ROOT / "benchmarks" / "paper_reference.json"

__all__ = ["build_agent", "collect", "main", "training_summary"]


def build_agent(env_id: str, preset: str, seed: int, overrides: dict[str, Any],
                resume_from: Path | None = None) -> MAMLTRPO:
    """A fresh agent of ``env_id`` under ``preset`` (its config fields, then ``overrides``) and its extensions.

    With ``resume_from`` (an existing ``last.pt``) the config is that checkpoint's with the preset's fields, the
    seed and ``overrides`` on top, so that a library default changed since the run started is not mistaken for
    a change of the run's settings (``train`` refuses the fields that do differ).
    """
    if env_id not in PRESETS or preset not in PRESETS[env_id]:
        known = {env: sorted(p) for env, p in PRESETS.items()}
        raise ValueError(f"no preset {preset!r} for {env_id!r}; known: {known}")
    chosen = PRESETS[env_id][preset]
    given = {"env_id": env_id, **chosen.config, **overrides, "seed": seed}
    if resume_from is not None and resume_from.exists():
        given = {**load_checkpoint(resume_from, expected_kind=CHECKPOINT_KIND)["config"], **given}
    return MAMLTRPO(MAMLTRPOConfig.from_dict(given), extensions=extensions_for(chosen.quirks))


def _paper_maml(env_id: str) -> list[float] | None:
    paper = json.loads(PAPER_FALLBACK.read_text())["rl"].get(env_id, {})
    return paper.get("maml")


def training_summary(run_dir: Path, evaluated: Path) -> dict[str, Any]:
    """What a library run folder says about its training: iterations, the evaluated checkpoint and its iteration,
    the summed iteration times (``time/iteration`` of ``progress.csv``, over every resumed part) and the training
    curve (returns before/after the inner step; for a run with 0 inner steps the two are the same batch)."""
    progress = read_csv(run_dir / "progress.csv")
    iteration_times = progress["time/iteration"]
    train_seconds = float(sum(iteration_times))
    state = load_checkpoint(evaluated, expected_kind=CHECKPOINT_KIND)
    return {
        "iterations": int(progress["step"][-1]),
        "evaluated_checkpoint": evaluated.name,
        "evaluated_iteration": int(state["iteration"]),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_iteration": round(train_seconds / max(1, len(iteration_times)), 3),
        "training_curve": {
            "step": [int(s) for s in progress["step"]],
            **{key.removeprefix("train/"): [None if math.isnan(v) else round(v, 2) for v in progress[key]]
               for key in ("train/return_before_adapt", "train/return_after_adapt") if key in progress},
        },
        "config": dict(state["config"]),
    }


def collect(name: str, run_dir: Path, evaluated: Path, preset: str, out_dir: Path = RESULTS,
            workers: int = 1) -> dict[str, Any]:
    """Evaluate ``evaluated`` (a checkpoint of ``run_dir``) and write ``<out_dir>/<name>.json`` and ``.png``."""
    summary = training_summary(run_dir, evaluated)
    curve = evaluate_checkpoint(evaluated, "sampled", workers=workers)
    env_id = curve["env_id"]
    extra = {}
    if env_id in ORIGINAL_TEST_DRAWS:
        extra["original_tasks"] = evaluate_checkpoint(evaluated, "original", workers=workers)
    result = {
        "benchmark": name,
        "env_id": env_id,
        "method": "MAML-TRPO",
        "preset": preset,
        "quirks": curve["quirks"],
        "steps": curve["steps"],
        "mean": curve["mean"],
        "ci95": curve["ci95"],
        "per_task": curve["per_task"],
        "paper_maml": _paper_maml(env_id),
        **summary,
        "evaluation": curve["config"],
        "extra_evaluations": {label: {k: c[k] for k in ("steps", "mean", "ci95", "per_task", "task_set")}
                              for label, c in extra.items()},
        "command": " ".join(sys.argv),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{name}.json", result)
    reference = {"MAML (paper)": result["paper_maml"]} if result["paper_maml"] else {}
    plot_curves({"MAML (ours)": curve, **{f"ours, {k}": c for k, c in extra.items()}}, out_dir / f"{name}.png",
                title=f"{env_id}: MAML-TRPO ({preset})", reference=reference,
                log_scale=env_id.startswith("MetaNav2D"))
    return result


@dataclass
class Args:
    name: str
    """Result name: the result is <out-dir>/<name>.json and .png, the run folder runs/<name> by default."""
    env_id: str = "MetaNav2D-v0"
    """Env id."""
    preset: str = "paper_text"
    """Preset of reproductions/maml2017/presets.py: paper_text, or original_code where it exists."""
    seed: int = 1
    """Training seed."""
    iterations: int | None = None
    """Meta-iterations; None = the preset's."""
    workers: int | None = None
    """Sampler processes; None = the preset's, else 1."""
    torch_threads: int | None = None
    """torch intra-op threads (None = torch's); 1 when runs share the machine."""
    run_dir: Path | None = None
    """Folder of the run (checkpoints, progress.csv, TensorBoard logs); None = runs/<name>."""
    resume: bool = False
    """Continue <run-dir>/last.pt (refused when there is none, or when the preset, seed or env give another config
    than the checkpoint's)."""
    resume_with_changes: bool = False
    """With --resume: accept a config that differs from the checkpoint's, logging each changed field."""
    out_dir: Path = RESULTS
    """Folder of the result JSON and PNG."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    metarl.keep_freed_memory()  # opt-in allocator tuning: 20-30 % faster meta-steps (metarl.malloc_tuning)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    run_dir = args.run_dir or ROOT / "runs" / args.name
    overrides = {} if args.workers is None else {"workers": args.workers}
    try:
        agent = build_agent(args.env_id, args.preset, args.seed, overrides,
                            resume_from=run_dir / "last.pt" if args.resume else None)
    except ValueError as exc:
        raise SystemExit(f"--env-id / --preset: {exc}") from None
    preset = PRESETS[args.env_id][args.preset]
    iterations = args.iterations or preset.iterations
    started = time.time()
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir), iterations=iterations, resume=args.resume,
                                    resume_with_changes=args.resume_with_changes))
    except (ValueError, OSError, RunLockError, MetaStepsRejected) as exc:
        raise SystemExit(f"reproductions.maml2017.train: {exc}") from None
    finally:
        agent.close()
    evaluated = run_dir / ("last.pt" if args.preset == "original_code" else "best.pt")
    result = collect(args.name, run_dir, evaluated, args.preset, args.out_dir, workers=args.workers or 1)
    print(json.dumps({"mean": result["mean"], "paper": result["paper_maml"],
                      "wall_seconds_this_call": round(time.time() - started, 1)}))
    return result


if __name__ == "__main__":
    main()
