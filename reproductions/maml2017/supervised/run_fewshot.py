"""One N-way K-shot MAML classification run, as the paper runs it (Finn et al. 2017, section 5.2, App. A.1, Table 1).

A task: N classes never seen in training, K labelled images of each (the support set), then classify Q more
images of each (the query set).  MAML meta-trains the 4-block conv network (3x3 convs, batch norm, ReLU,
down-sampling; then a linear softmax layer) so that a few gradient steps on the support set give a good
classifier: App. A.1's 5-way setting trains with 1 inner step of alpha = 0.4 and tests with 3 (20-way: 5 steps
of alpha = 0.1).  Second order by default; --first-order gives first-order MAML.

Data (nothing is downloaded):
  glyphs    the default: an Omniglot-style set of ~950 character classes rendered from the DejaVu fonts inside
            matplotlib, 12 distorted instances per class, fixed 70/10/20% train/val/test class split
  omniglot  --root PATH: a local copy of the official release (1,200 training characters, 4 rotations each)
  digits    scikit-learn's 8x8 digits (5 train / 5 test classes), a sanity check; needs --val-every 0

Evaluation: 600 tasks on held-out classes, accuracy after 0..S adaptation steps (mean +- 95% CI over tasks),
for the final model and, with validation, the model with the best validation accuracy; next to the pixel-space
1-nearest-neighbour baseline on the SAME tasks.  Writes, in --run-dir:

  result.json   accuracies, curves, validation history, training curve, wall-clock
  result.png    training/validation accuracy and held-out accuracy vs adaptation steps
  last.pt / best.pt / progress.csv   checkpoints (--resume continues an interrupted run) and the training log

The defaults (Conv4-32, meta-batch 16, 600 iterations) take about 7 minutes on one CPU core and reach ~80%
5-way 1-shot on held-out Glyphs classes.

Examples::

    python -m reproductions.maml2017.supervised.run_fewshot --run-dir runs/glyphs_5w1s
    python -m reproductions.maml2017.supervised.run_fewshot --k-shot 5 --first-order --run-dir runs/glyphs_5w5s_fo
    python -m reproductions.maml2017.supervised.run_fewshot --dataset omniglot --root ~/data/omniglot --width 64 --iterations 6000
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from reproductions.maml2017.supervised.fewshot import FewShotConfig, plot_fewshot, run_fewshot  # noqa: E402


@dataclass
class Args:
    config: Annotated[FewShotConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=FewShotConfig)
    run_dir: Path = Path("runs/classification")
    """Folder of the run: checkpoints, progress.csv, result.json and result.png."""
    resume: bool = False
    """Continue an interrupted run from its last.pt (a finished run is only evaluated again)."""
    torch_threads: int = 1
    """torch CPU threads (the networks are small: one thread is the fastest per core)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(args.torch_threads)

    # 1. meta-train (resumable) and evaluate on held-out classes, with pixel 1-NN on the same test tasks
    result = run_fewshot(args.config, args.run_dir, resume=args.resume, progress_bar=args.progress)

    # 2. plot training/validation accuracy and held-out accuracy vs adaptation steps
    plot = plot_fewshot(result, args.run_dir / "result.png")
    print(f"wrote {args.run_dir / 'result.json'} and {plot}")
    return result


if __name__ == "__main__":
    main()
