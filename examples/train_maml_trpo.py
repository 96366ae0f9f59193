"""Train MAML-TRPO (Finn et al. 2017, Alg. 3 + App. A.2) on a task-distribution env, then evaluate it.

Examples::

    python examples/train_maml_trpo.py --env-id MetaNav2D-v0 --iterations 500
    python examples/train_maml_trpo.py --env-id MetaCheetahDir-v0 --iterations 100 --workers 2
    python examples/train_maml_trpo.py --run-dir runs/nav --resume          # continue after a crash
    python examples/train_maml_trpo.py --env MetaCheetahDir-v0 --env-kwarg frame_skip=1   # the original code's 100 Hz control

Writes into ``--run-dir``: ``last.pt`` / ``best.pt`` checkpoints, ``progress.csv`` and TensorBoard logs, and (unless
``--eval-tasks 0``) ``evaluation.json`` + ``evaluation.png`` with the adaptation curve.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import EvaluationConfig, evaluate_adaptation, plot_curves, write_curve  # noqa: E402
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from agents.training import (  # noqa: E402
    WARM_START_FILE,
    TrainingConfig,
    load_agent,
    load_policy,
    train,
    warm_start_record,
)
from metarl.cli_args import (  # noqa: E402
    add_dataclass_arguments,
    add_env_kwargs_argument,
    dataclass_from_args,
    env_kwargs_from_args,
)
from metarl.jsonio import write_json  # noqa: E402


@dataclass
class EvalOptions:
    """Evaluation after training."""

    eval_tasks: int = 40
    """Held-out tasks for the final adaptation curve (0 skips the evaluation)."""
    eval_steps: int = 3
    """Adaptation steps of the final evaluation."""
    eval_rollouts: int | None = None
    """Rollouts per adaptation step; None = the paper's (40 nav, 20 locomotion)."""
    threads: int | None = None
    """torch intra-op threads (None = torch's default, one per core); use 1 when running jobs side by side."""
    init_from: str | None = None
    """Warm start: begin a NEW run (iteration 0, this command's settings and seed) from the policy parameters
    of this MAML-TRPO checkpoint, e.g. to continue a run with other meta-step settings (--hvp).  The checkpoint's env and policy architecture must match.  Not with --resume."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_dataclass_arguments(parser, MAMLTRPOConfig, exclude={"env_kwargs"})
    add_env_kwargs_argument(parser)
    add_dataclass_arguments(parser, TrainingConfig)
    add_dataclass_arguments(parser, EvalOptions)
    return parser


def warm_started_agent(config: MAMLTRPOConfig, checkpoint: str | Path) -> MAMLTRPO:
    """A new :class:`MAMLTRPO` with ``config`` whose initial policy is the one saved in ``checkpoint``.

    :raises SystemExit: naming the mismatch if the checkpoint was trained on another env or with another
        policy architecture (``policy``, ``hidden_sizes``).
    """
    policy, saved = load_policy(checkpoint)
    for name in ("env_id", "policy", "hidden_sizes", "context_dim"):
        if getattr(saved, name) != getattr(config, name):
            raise SystemExit(
                f"--init-from {checkpoint}: its {name} is {getattr(saved, name)!r}, this run's is "
                f"{getattr(config, name)!r}"
            )
    return MAMLTRPO(config, policy=policy.to(config.torch_dtype))


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    training = dataclass_from_args(TrainingConfig, args)
    if args.init_from is not None and training.resume:
        raise SystemExit("--init-from starts a new run; it cannot be combined with --resume")
    if training.resume and (Path(training.run_dir) / "last.pt").exists():
        try:  # a corrupt last.pt: one error line naming it (CheckpointError is a ValueError)
            agent = load_agent(Path(training.run_dir) / "last.pt", workers=args.workers)
        except ValueError as exc:
            parser.error(f"--resume: {exc}")
    elif args.init_from is not None:
        config = dataclass_from_args(MAMLTRPOConfig, args, env_kwargs=env_kwargs_from_args(args))
        try:  # a missing, corrupt or mismatched --init-from checkpoint
            agent = warm_started_agent(config, args.init_from)
        except (ValueError, FileNotFoundError) as exc:
            parser.error(f"--init-from: {exc}")
        if not (Path(training.run_dir) / "last.pt").exists():  # train() refuses an existing run anyway
            write_json(Path(training.run_dir) / WARM_START_FILE, warm_start_record(args.init_from))
    else:
        agent = MAMLTRPO(dataclass_from_args(MAMLTRPOConfig, args, env_kwargs=env_kwargs_from_args(args)))
    try:
        summary = train(agent, training)
    finally:
        agent.close()
    options = dataclass_from_args(EvalOptions, args)
    if options.eval_tasks > 0:
        policy, config = load_policy(Path(training.run_dir) / "best.pt")
        evaluation = EvaluationConfig(
            num_tasks=options.eval_tasks,
            num_steps=options.eval_steps,
            rollouts_per_task=options.eval_rollouts,
            workers=args.workers,
            env_kwargs=config.env_kwargs,
        )
        curve = evaluate_adaptation(policy, config.env_id, evaluation)
        run_dir = Path(training.run_dir)
        write_curve(curve, run_dir / "evaluation.json")
        plot_curves({"MAML": curve}, run_dir / "evaluation.png", title=config.env_id)
        summary["evaluation"] = {"mean": curve["mean"], "ci95": curve["ci95"]}
        print(json.dumps(summary["evaluation"]))
        print(f"adaptation curve: {run_dir / 'evaluation.json'} and {run_dir / 'evaluation.png'}")
    return summary


if __name__ == "__main__":
    main()
