"""Evaluate a MAML-TRPO checkpoint of this reproduction as the original code's test scripts did.

The checkpoint's quirks (its stored extensions name, :mod:`.presets`) decide the env wrappers and how each
adaptation step's episodes are collected; the step sizes default to those of the preset whose quirks it has
(0.5 then 0.25 for the original point-env script, else the paper's 0.1 then 0.05).  ``--task-set original`` uses
the original test scripts' 40 goals (:mod:`.original_tasks`) instead of tasks drawn with ``--seed``::

    python -m reproductions.maml2017.evaluate checkpoints/maml_nav2d_original_code_fd_maml_eps_seed1.pt \
        --task-set original --out runs/eval_seed1.json
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

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


@dataclass
class Args:
    checkpoint: Annotated[Path, tyro.conf.Positional]
    """A MAML-TRPO checkpoint (library or this reproduction's)."""
    task_set: Literal["sampled", "original"] = "sampled"
    """'sampled': tasks drawn with --seed; 'original': the original test scripts' goals."""
    seed: int = 12345
    """Seed of the sampled tasks, resets and action noise."""
    step_sizes: tuple[float, ...] | None = None
    """Step size per adaptation step, the last repeating; None = the preset's."""
    eval_tasks: int = 40
    """Held-out tasks."""
    eval_steps: int = 3
    """Adaptation steps."""
    eval_rollouts: int | None = None
    """Rollouts per task and step; None = the paper's (40 navigation, 20 locomotion)."""
    workers: int = 1
    """Sampler processes."""
    out: Path | None = None
    """Write the curve to this JSON file."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    try:
        curve = evaluate_checkpoint(args.checkpoint, args.task_set, args.seed, args.step_sizes, args.eval_tasks,
                                    args.eval_steps, workers=args.workers, rollouts=args.eval_rollouts)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"{args.checkpoint}: {exc}") from None
    if args.out:
        write_curve(curve, args.out)
    print(json.dumps({"mean": curve["mean"], "ci95": curve["ci95"]}))
    return curve


if __name__ == "__main__":
    main()
