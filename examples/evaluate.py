"""Evaluate a trained MAML-TRPO checkpoint as the paper does (section 5.3): the mean return on 40 held-out tasks
after 0, 1, 2, 3 REINFORCE steps (step size 0.1, then 0.05), with 95% CIs, as JSON and a PNG beside the paper's
curve.

    python examples/evaluate.py --checkpoint runs/nav/best.pt

More options (tasks, rollouts, step sizes, workers): ``metarl-evaluate --help``; several learners on the same
tasks: ``examples/compare.py``; a reproduction's checkpoint: its own script (reproductions/README.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metarl  # noqa: E402,F401  (registers the env ids)
from agents import EvaluationConfig, evaluate_adaptation, load_policy, plot_curves, write_curve  # noqa: E402
from agents.paper_settings import paper_curve  # noqa: E402


@dataclass
class Args:
    checkpoint: Path
    """A MAML-TRPO checkpoint (best.pt / last.pt of a run)."""
    out: Path | None = None
    """Output JSON (a PNG goes beside it); default: evaluation.json next to the checkpoint."""
    eval_steps: int = 3
    """Adaptation steps."""
    seed: int = 12345
    """Seed of the held-out tasks, resets and action noise."""


def main(args: Args) -> dict:
    policy, config = load_policy(args.checkpoint)
    evaluation = EvaluationConfig(num_steps=args.eval_steps, seed=args.seed, env_kwargs=config.env_kwargs)
    curve = evaluate_adaptation(policy, config.env_id, evaluation)
    out = args.out or args.checkpoint.with_name("evaluation.json")
    write_curve(curve, out)
    paper = paper_curve(config.env_id)
    plot_curves({"MAML (ours)": curve}, out.with_suffix(".png"), title=config.env_id,
                reference={"MAML (paper)": paper} if paper else None)
    for k, (mean, ci) in enumerate(zip(curve["mean"], curve["ci95"])):
        print(f"after {k} step(s): {mean:9.2f} ± {ci:.2f}")
    return curve


if __name__ == "__main__":
    main(tyro.cli(Args))
