"""Evaluate a MAML-TRPO checkpoint of this reproduction as the original code's test scripts did.

The checkpoint's quirks (its stored extensions name, :mod:`.presets`) decide the env wrappers and how each
adaptation step's episodes are collected; the step sizes default to those of the preset whose quirks it has
(0.5 then 0.25 for the original point-env script, else the paper's 0.1 then 0.05).  ``--task-set original`` uses
the original test scripts' 40 goals (:mod:`.original_tasks`) instead of tasks drawn with ``--seed``::

    python -m reproductions.maml2017.evaluate checkpoints/maml_nav2d_original_code_fd_maml_eps_seed1.pt \
        --task-set original --out runs/eval_seed1.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.evaluation import EvaluationConfig, evaluate_adaptation, write_curve
from agents.training import checkpoint_extensions, load_policy
from reproductions.maml2017.original_tasks import original_test_tasks
from reproductions.maml2017.presets import (
    PRESETS,
    Preset,
    evaluation_stage_sampler,
    extensions_for,
    quirks_of,
)

__all__ = ["evaluate_checkpoint", "preset_of"]

TASK_SETS = ("sampled", "original")


def preset_of(env_id: str, quirks: Sequence[str]) -> tuple[str, Preset] | None:
    """The (name, preset) of ``env_id`` whose quirks are ``quirks``, if any."""
    for name, preset in PRESETS.get(env_id, {}).items():
        if sorted(preset.quirks) == sorted(quirks):
            return name, preset
    return None


def evaluate_checkpoint(
    checkpoint: str | Path,
    task_set: str = "sampled",
    seed: int = 12345,
    step_sizes: Sequence[float] | None = None,
    num_tasks: int = 40,
    num_steps: int = 3,
    workers: int = 1,
    show_progress: bool = True,
    rollouts: int | None = None,
) -> dict[str, Any]:
    """The adaptation curve of ``checkpoint`` (:func:`agents.evaluation.evaluate_adaptation`) under the protocol
    of its quirks (``rollouts`` per task and step: None = the paper's); the result also names the checkpoint, the
    quirks, the task set and the preset."""
    if task_set not in TASK_SETS:
        raise ValueError(f"task_set must be one of {TASK_SETS}, got {task_set!r}")
    quirks = quirks_of(checkpoint_extensions(checkpoint))
    extensions = extensions_for(quirks)
    policy, config = load_policy(checkpoint)
    matched = preset_of(config.env_id, quirks)
    if step_sizes is None:
        step_sizes = matched[1].eval_step_sizes if matched else (0.1, 0.05)
    evaluation = EvaluationConfig(
        num_tasks=num_tasks, num_steps=num_steps, step_sizes=tuple(step_sizes), seed=seed, workers=workers,
        rollouts_per_task=rollouts,
        env_kwargs=config.env_kwargs, gamma=config.gamma, gae_lambda=config.gae_lambda,
    )
    tasks = original_test_tasks(config.env_id, num_tasks) if task_set == "original" else None
    curve = evaluate_adaptation(
        policy, config.env_id, evaluation, tasks=tasks, show_progress=show_progress,
        stage_sampler=evaluation_stage_sampler(quirks),
        env_wrappers=extensions.env_wrappers if extensions else (),
    )
    curve.update(checkpoint=str(checkpoint), quirks=list(quirks), task_set=task_set,
                 preset=matched[0] if matched else None)
    return curve


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a MAML-TRPO checkpoint (library or this reproduction's)")
    parser.add_argument("--task-set", choices=TASK_SETS, default="sampled",
                        help="'sampled': 40 tasks drawn with --seed; 'original': the original test scripts' goals")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the sampled tasks, resets and action noise")
    parser.add_argument("--step-sizes", type=float, nargs="+", default=None,
                        help="step size per adaptation step, the last repeating (default: the preset's)")
    parser.add_argument("--num-tasks", type=int, default=40, help="held-out tasks (default: 40)")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--out", default=None, help="write the curve as JSON here")
    args = parser.parse_args(argv)
    try:
        curve = evaluate_checkpoint(args.checkpoint, args.task_set, args.seed, args.step_sizes, args.num_tasks,
                                    workers=args.workers)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    if args.out:
        write_curve(curve, args.out)
    print(json.dumps({"mean": curve["mean"], "ci95": curve["ci95"]}))
    return curve


if __name__ == "__main__":
    main()
