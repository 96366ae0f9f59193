"""Train first-order MALTML (Devos & Dandi, 3.2) on family-cropped 2D navigation, then measure its test-time protocol.

A family is a crop of the unit square (sides 25-75 % of its length), a task a goal inside the crop
(``MetaNav2DFamily-v0``).  Every outer iteration takes, for each of ``--family-batch-size`` families, m
first-order family steps on its L tasks (REINFORCE task step of size α on K rollouts, family-level policy-gradient
step of size β on Q rollouts sampled after it), then θ ← θ + η Σ_j (θ'_j − θ).

At the end (unless ``--eval-families 0``) the best checkpoint is evaluated on held-out families: meta-finetune on L
tasks of each family, then 0..N REINFORCE steps on its goal tasks, with and without the family update.

Examples::

    python examples/maltml_nav2d.py --iterations 60 --run-dir runs/maltml_nav2d
    python examples/maltml_nav2d.py --run-dir runs/maltml_nav2d --iterations 120 --resume   # continue

The comparison with MAML-TRPO under the same budget is ``reproductions/maltml/bench_maltml_nav2d.py``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import plot_curves  # noqa: E402
from agents.maltml_rl import (  # noqa: E402
    MALTMLRL,
    FamilyEvaluationConfig,
    MALTMLRLConfig,
    evaluate_family_adaptation,
    load_maltml_rl_policy,
)
from agents.training import TrainingConfig, train  # noqa: E402
from metarl.checkpoint import load_checkpoint  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402


@dataclass
class Args:
    """Train first-order MALTML on MetaNav2DFamily-v0, then evaluate its test-time protocol (see the module doc)."""

    algo: Annotated[MALTMLRLConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=MALTMLRLConfig)
    training: Annotated[TrainingConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=lambda: TrainingConfig(run_dir="runs/maltml_nav2d", iterations=60))
    eval_families: int = 20
    """Held-out families of the final evaluation (0 skips it); 2 goal tasks each."""
    eval_family_lr: float = 0.1
    """β of the test-time meta-finetuning."""
    eval_family_steps: int = 1
    """m of the test-time meta-finetuning."""
    eval_steps: int = 3
    """REINFORCE adaptation steps on the goal tasks."""
    torch_threads: int | None = None
    """torch intra-op threads (None = torch's default); 1 when running jobs side by side."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    training = args.training
    last = Path(training.run_dir) / "last.pt"
    config = args.algo
    if training.resume and last.exists():
        config = MALTMLRLConfig.from_dict({**load_checkpoint(last)["config"], "workers": config.workers})
    agent = MALTMLRL(config)
    try:
        summary = train(agent, training)
    finally:
        agent.close()
    options = args
    if options.eval_families > 0:
        policy, config = load_maltml_rl_policy(str(Path(training.run_dir) / "best.pt"))
        evaluation = FamilyEvaluationConfig(
            num_families=options.eval_families, tasks_per_family=config.tasks_per_family,
            family_lr=options.eval_family_lr, family_steps=options.eval_family_steps, num_steps=options.eval_steps,
            workers=config.workers,
        )
        result = evaluate_family_adaptation(policy, config.env_id, evaluation)
        run_dir = Path(training.run_dir)
        write_json(run_dir / "evaluation.json", result)
        plot_curves(
            {"after family update": result["with_family_update"],
             "no family update": result["without_family_update"]},
            run_dir / "evaluation.png", title=f"MALTML {config.env_id}: goal tasks of held-out families",
        )
        summary["evaluation"] = {key: result[key]["mean"] for key in ("with_family_update", "without_family_update")}
        print(json.dumps(summary["evaluation"]))
        print(f"goal-task curves: {run_dir / 'evaluation.json'} and {run_dir / 'evaluation.png'}")
    return summary


if __name__ == "__main__":
    main()
