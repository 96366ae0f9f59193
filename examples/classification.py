"""Few-shot image classification with MAML (Finn et al. 2017, section 5.2, App. A.1) on Glyphs, offline.

A task: N classes never seen in training, K labelled images of each (the support set), then classify Q more images
of each (the query set). MAML meta-trains the 4-block conv network (3x3 convs, batch norm, ReLU, 2x2 max-pooling,
then a linear layer) so that a few gradient steps (alpha = 0.4; 1 in training, 3 at test time, App. A.1) on the
support set give a good classifier. Glyphs is an Omniglot-like set of ~950 characters rendered from the DejaVu fonts
of matplotlib (12 distorted images each; nothing is downloaded), with a fixed train/val/test split of the classes.
Reported: held-out accuracy after 0..3 steps (mean +- 95% CI over the test tasks) next to the pixel-space
1-nearest-neighbour baseline on the same tasks.

    python examples/classification.py      # 600 iterations: ~7 minutes on one core, ~80% 5-way 1-shot

The paper's benchmark (5-way 1- and 5-shot, first-order MAML, validation): reproductions/maml2017/supervised/.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.supervised import MAMLClassifier, MAMLClassifierConfig  # noqa: E402
from metarl.supervised.data import EpisodeSampler, nearest_neighbour_accuracy  # noqa: E402
from metarl.supervised.glyphs import GlyphsConfig, glyphs_splits, load_glyphs  # noqa: E402


@dataclass
class Args:
    iterations: int = 600
    """Meta-iterations (App. A.1: 60000 on a GPU)."""
    n_way: int = 5
    """N, classes per task."""
    k_shot: int = 1
    """K, labelled images per class."""
    first_order: bool = False
    """First-order MAML (5.2)."""
    width: int = 32
    """Filters per conv layer (the paper: 64 for Omniglot)."""
    eval_tasks: int = 600
    """Held-out test tasks."""
    max_classes: int | None = None
    """Render only this many classes (quick runs); None = all."""
    cache_dir: Path | None = None
    """Cache of the rendered images; None = ~/.cache/metarl."""
    seed: int = 0
    """Seed of the initial weights and the training tasks."""

def main(argv: list[str] | None = None) -> dict[str, float]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(1)

    # 1. the classes, split once into train / val / test (disjoint); 2. meta-train; 3. adapt to held-out classes
    splits = glyphs_splits(load_glyphs(GlyphsConfig(max_classes=args.max_classes), cache_dir=args.cache_dir))
    image_shape = (1, *splits["train"].image_shape)
    # 2. meta-train on tasks of the training classes: 16 tasks per meta-batch, 5 query images per class
    agent = MAMLClassifier(MAMLClassifierConfig(n_way=args.n_way, image_shape=image_shape, width=args.width,
                                                meta_batch_size=16, first_order=args.first_order, seed=args.seed))
    train = EpisodeSampler(splits["train"], args.n_way, args.k_shot, 5)
    agent.fit(train.sampler(16), args.iterations, log_every=max(1, args.iterations // 10))

    # 3. adapt to tasks of the held-out test classes (fixed by their seed); pixel 1-NN on the same tasks
    test = EpisodeSampler(splits["test"], args.n_way, args.k_shot, 5).sample(args.eval_tasks, np.random.default_rng(1234))
    curve = agent.evaluate(test)
    for s in curve.steps:
        print(f"{args.n_way}-way {args.k_shot}-shot accuracy after {s} steps: "
              f"{100 * curve.metric_mean[s]:.1f} ± {100 * curve.metric_ci95[s]:.1f}%")
    nearest = float(nearest_neighbour_accuracy(test).mean())
    print(f"pixel 1-nearest-neighbour on the same tasks: {100 * nearest:.1f}%")
    return {"accuracy": float(curve.metric_mean[-1]), "nearest_neighbour": nearest}


if __name__ == "__main__":
    main()
