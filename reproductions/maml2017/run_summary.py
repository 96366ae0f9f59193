"""Write what a library run folder says about its training as a committed JSON: the record of a learner that is
evaluated elsewhere (e.g. the pretrained learners of ``examples/compare.py``, trained by ``metarl-train
--num-steps 0``), since run folders are not committed::

    python -m reproductions.maml2017.run_summary --run-dir runs/pretrained_ant_vel_seed1 \\
        --out reproductions/maml2017/results/pretrained_ant_vel_seed1_training.json

Fields (:func:`reproductions.maml2017.train.training_summary`): iterations, the evaluated checkpoint and its
iteration, the summed iteration times over every resumed part, seconds per iteration, the training curve and the
run's config; plus the run folder and the checkpoint copy it was committed as (``--committed-as``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from metarl.jsonio import write_json
from reproductions.maml2017.train import training_summary

__all__ = ["Args", "main"]


@dataclass
class Args:
    run_dir: Path
    """The run folder (progress.csv and the checkpoint)."""
    out: Path
    """JSON file written."""
    checkpoint: str = "best.pt"
    """The run's checkpoint that is evaluated (its iteration is recorded)."""
    committed_as: str | None = None
    """Where that checkpoint was copied for the repository (e.g. checkpoints/pretrained_ant_vel_seed1.pt)."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if not (args.run_dir / "progress.csv").is_file():
        raise SystemExit(f"--run-dir: no progress.csv in {args.run_dir}")
    if not (args.run_dir / args.checkpoint).is_file():
        raise SystemExit(f"--checkpoint: no {args.checkpoint} in {args.run_dir}")
    summary = {"run_dir": str(args.run_dir), "checkpoint": args.committed_as,
               **training_summary(args.run_dir, args.run_dir / args.checkpoint)}
    write_json(args.out, summary)
    print(f"{args.out}: {summary['iterations']} iterations, {summary['train_seconds']} s, "
          f"{args.checkpoint} of iteration {summary['evaluated_iteration']}")
    return summary


if __name__ == "__main__":
    main()
