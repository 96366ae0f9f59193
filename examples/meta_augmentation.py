"""Meta-augmentation against memorisation (Rajendran, Irpan & Jang 2020, section 5.2): the NME sinusoid.

Ten x-intervals of width 0.5, each with its own fixed sine; intervals 0-5 train, 6-7 validate, 8-9 test.  Since the
interval of x identifies the task, one network can fit every training task WITHOUT its support set: the task set
is "non-mutually-exclusive" and MAML may memorise it.  The CE-increasing augmentation draws ONE eps ~ U[-1, 1] per
task and adds it to all its support and query targets, so the query can only be predicted after reading eps
from the support set.  MAML with and without it (same network, seed and budget), tested on the test intervals:
MSE on 100 query points after 0, 1 and 10 steps on K = 10 support points (mean +- 95% CI over 600 tasks).

    python examples/meta_augmentation.py --iterations 5000      # a few minutes on one core; the paper: 50,000

For classification the same idea is a label scheme: EpisodeSampler(classes, 5, 1, 5, labels=IntraShuffle(...)).
The paper's studies over seeds (Fig. 6a, Table 1) are reproductions/meta_augmentation/bench_meta_augmentation.py.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.meta_augmentation import NMESinusoid, UniformNoise  # noqa: E402
from agents.supervised import MAMLRegressor, MAMLRegressorConfig  # noqa: E402


@dataclass
class Args:
    iterations: int = 5000
    """Meta-iterations of each model (the paper: 50000)."""
    seed: int = 0
    """Seed of the ten sines, the weights and the tasks."""
    eval_tasks: int = 600
    """Test tasks drawn from the two test intervals."""

def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(1)
    tasks = NMESinusoid(seed=args.seed)

    # 1. the same MAML regressor trained on the plain and on the augmented training tasks
    sources = {"MAML": tasks.sampler(25, 10, 10, split="train"),
               "MAML + augmentation": tasks.sampler(25, 10, 10, split="train", noise=UniformNoise(1.0))}
    test = tasks.sample(args.eval_tasks, 10, 100, np.random.default_rng(1234), split="test")
    curves = {}
    for name, source in sources.items():
        agent = MAMLRegressor(MAMLRegressorConfig(seed=args.seed))
        agent.fit(args.iterations, task_source=source, log_every=max(1, args.iterations // 10))

        # 2. adapt to tasks of the held-out intervals (no noise at test time)
        curve = agent.evaluate(test, steps=10)
        curves[name] = [float(v) for v in curve.loss_mean]
        cells = "  ".join(f"{s} steps {curve.loss_mean[s]:.3f} ± {curve.loss_ci95[s]:.3f}" for s in (0, 1, 10))
        print(f"{name:>20}: test MSE after {cells}")
    return curves


if __name__ == "__main__":
    main()
