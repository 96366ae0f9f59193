"""Sinusoid regression with MAML (Finn et al. 2017, section 5.1): meta-train, then adapt to new sines.

Each task is y = A sin(x - phase) with A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5].  MAML meta-trains an MLP
1-40-40-1 (ReLU) so that one gradient step (alpha = 0.01) on K = 10 points of a new sine fits it (meta-batch 25,
Adam 1e-3).  The baseline "pretrained" is the same network trained on all tasks without an inner step, fine-tuned
at test time with a step size tuned on training tasks.  Both are tested on 600 held-out sines: MSE on 100 query
points after 0, 1 and 10 gradient steps on K support points (mean +- 95% CI over the tasks).

    python examples/sinusoid.py --iterations 2000      # ~1 minute on one core; the paper trains 70,000

The paper's full comparison (first-order MAML, the oracle, the multi-task baselines, several seeds, its figures)
is reproductions/maml2017/supervised/bench_sinusoid.py.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from agents.supervised import MAMLRegressor, MAMLRegressorConfig, PretrainedRegressor  # noqa: E402


@dataclass
class Args:
    iterations: int = 2000
    """Meta-iterations of each model (the paper: 70000)."""
    seed: int = 0
    """Seed of the initial weights and the training tasks."""
    eval_steps: int = 10
    """Gradient steps at test time (the paper: up to 10)."""
    eval_tasks: int = 600
    """Held-out test sines (the paper: 600)."""
    tune_tasks: int = 200
    """Training sines to tune the baseline's step size on."""
    save: Path | None = None
    """Write the trained MAML model to this checkpoint file (MAMLRegressor.load reads it back)."""

def main(argv: list[str] | None = None) -> dict[str, dict[int, list[float]]]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(1)

    # 1. meta-train MAML and the pretrained baseline on the same task distribution
    config = MAMLRegressorConfig(seed=args.seed)
    maml, pretrained = MAMLRegressor(config), PretrainedRegressor(config)
    maml.fit(args.iterations, log_every=max(1, args.iterations // 10))
    pretrained.fit(args.iterations, log_every=max(1, args.iterations // 10))
    if args.save:
        maml.save(args.save)  # MAMLRegressor.load(path) brings it back

    # 2. adapt to held-out sines (fixed by their seed) from K points, reused at every step
    test_set = maml.tasks.evaluation_set(args.eval_tasks, 10, 100, seed=1234)
    curves: dict[str, dict[int, list[float]]] = {"maml": {}, "pretrained": {}}
    for k in (5, 10):
        batch = test_set.batch(k, maml.tasks.dtype)
        # the baseline's step size is tuned on training tasks, never on the test set
        step_size = pretrained.tune(k, steps=args.eval_steps, n_tasks=args.tune_tasks, seed=7).best
        for name, agent, alpha in (("maml", maml, config.inner_lr), ("pretrained", pretrained, step_size)):
            curve = agent.evaluate(batch, steps=args.eval_steps, step_size=alpha)
            curves[name][k] = [float(v) for v in curve.loss_mean]
            cells = "  ".join(f"{s} steps {curve.loss_mean[s]:.3f} ± {curve.loss_ci95[s]:.3f}" for s in (0, 1, args.eval_steps))
            print(f"K={k:>2} {name:>10} (step {alpha:g}): MSE after {cells}")
    return curves


if __name__ == "__main__":
    main()
