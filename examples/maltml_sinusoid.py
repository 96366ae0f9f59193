"""Learning to meta-learn sinusoid families with MALTML (Devos & Dandi, Alg. 1, section 4.1).

A family is a phase ~ U[0, pi]; its tasks are amplitudes ~ U[0.1, 5]; each task is y = A sin(x - phase).  MALTML
trains an MLP 1-40-40-1 so that ONE family-level meta-step (beta = 0.01) over L = 5 tasks of a new family (each
adapted with a task step alpha = 0.001 on K = 5 points, measured on Q = 5 points), then fine-tuning steps
(gamma = 0.001) on a goal task's K = 5 points, fit the goal task.  --variant first_order is the first-order
variant of section 3.2.  Test time (3.1) on 100 held-out families: goal-task test MSE after 0..10 fine-tuning
steps, from theta after the family meta-update and (the start of the arrows of Fig. 2c) without it.

    python examples/maltml_sinusoid.py --iterations 2000     # 1-2 minutes on one core; the paper trains 70,000

The paper's comparison with MAML and an oracle over seeds is reproductions/maltml/bench_maltml_sinusoid.py.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from agents.maltml import MALTML, MALTMLConfig  # noqa: E402


@dataclass
class Args:
    iterations: int = 2000
    """Outer iterations (the paper: 70000)."""
    variant: Literal["second_order", "first_order"] = "second_order"
    """Alg. 1 (second order, through both levels) or the first-order variant of 3.2."""
    seed: int = 0
    """Seed of the initial weights and the training families."""
    eval_families: int = 100
    """Held-out families (2 goal tasks each)."""
    save: Path | None = None
    """Write the trained model to this checkpoint file (MALTML.load reads it back)."""

def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(1)

    # 1. train on batches of 10 families x (5 meta-finetuning tasks + 2 goal tasks)
    agent = MALTML(MALTMLConfig(variant=args.variant, seed=args.seed))
    agent.fit(args.iterations, log_every=max(1, args.iterations // 10))
    if args.save:
        agent.save(args.save)  # MALTML.load(path) brings it back

    # 2. the test-time protocol of 3.1 on held-out families, fixed by their seed
    c = agent.config
    test = agent.families.evaluation_set(args.eval_families, c.n_tasks, c.k_shot, c.k_query, n_goal=2,
                                         goal_query=100, seed=1234)
    curve = agent.evaluate(test, steps=10).to_dict()
    print(f"goal MSE at 0 steps: {curve['before_meta_update_0_steps']:.3f} without the family meta-update, "
          f"{curve['after_meta_update_0_steps']:.3f} after it")
    for s in (1, 5, 10):
        print(f"goal MSE after {s:>2} fine-tuning steps: {curve['loss_mean'][s]:.3f} ± {curve['loss_ci95'][s]:.3f}")
    return curve


if __name__ == "__main__":
    main()
