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

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from agents.maltml import MALTML, MALTMLConfig  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2000, help="outer iterations (paper: 70000)")
    parser.add_argument("--variant", default="second_order", choices=("second_order", "first_order"),
                        help="Alg. 1 (second order, through both levels) or the first-order variant of 3.2")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the training families")
    parser.add_argument("--test-families", type=int, default=100, help="held-out families (2 goal tasks each)")
    parser.add_argument("--save", default=None, help="write the trained model to this checkpoint path")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    # 1. train on batches of 10 families x (5 meta-finetuning tasks + 2 goal tasks)
    agent = MALTML(MALTMLConfig(variant=args.variant, seed=args.seed))
    agent.fit(args.iterations, log_every=max(1, args.iterations // 10))
    if args.save:
        agent.save(args.save)  # MALTML.load(path) brings it back

    # 2. the test-time protocol of 3.1 on held-out families, fixed by their seed
    c = agent.config
    test = agent.families.evaluation_set(args.test_families, c.n_tasks, c.k_shot, c.k_query, n_goal=2,
                                         goal_query=100, seed=1234)
    curve = agent.evaluate(test, steps=10).to_dict()
    print(f"goal MSE at 0 steps: {curve['before_meta_update_0_steps']:.3f} without the family meta-update, "
          f"{curve['after_meta_update_0_steps']:.3f} after it")
    for s in (1, 5, 10):
        print(f"goal MSE after {s:>2} fine-tuning steps: {curve['loss_mean'][s]:.3f} ± {curve['loss_ci95'][s]:.3f}")
    return curve


if __name__ == "__main__":
    main()
