"""Learning to meta-learn sinusoid families (MALTML, Devos & Dandi, section 4.1 / Fig. 2c).

A family is a phase ~ U[0, pi]; a task of the family is an amplitude ~ U[0.1, 5]; the task is y = A sin(x - phase)
with x ~ U[-5, 5].  MALTML (Alg. 1) trains an MLP 1-40-40-1 (ReLU) so that ONE family-level meta-step (beta = 0.01)
over L = 5 tasks of a new family, each adapted with one task step (alpha = 0.001) on K = 5 points and measured on
Q = 5 points, followed by a goal-task fine-tuning step (gamma = 0.001) on K = 5 points, fits the goal task; outer
Adam 0.001, 10 families x 2 goal tasks per iteration, gradient through both levels ("third order").  The
first-order variant (3.2) takes m first-order family steps per family and moves theta towards the results.

Compared with MAML trained on the flat task distribution (the same sinusoids without the family structure;
alpha = 0.001 as the paper and 0.01) GIVEN THE SAME test-time meta-finetuning, and with an oracle that receives
amplitude and phase.  Test time (3.1): for each of the held-out families, meta-finetune on its L tasks (K + Q
points), fine-tune on its goal tasks (K points, reused every step) and measure the goal-task test MSE after
0..S steps — at 0 steps both before and after the family meta-update (the arrows of Fig. 2c).  Each method is
evaluated with its step sizes as trained and with its test-time (beta, gamma) tuned on validation families over
the same grid.  Writes, in --run-dir:

  maltml_sinusoid.json   curves per run and seed, tuned step sizes, the paired MALTML-vs-MAML differences
  maltml_sinusoid.png    goal-task test MSE vs fine-tuning steps (paper Fig. 2c)

Training checkpoints go to --run-dir/seed<s>/<run>/last.pt; --resume continues an interrupted run.  The paper's
budget (70,000 iterations) takes roughly 25 minutes per MALTML run on one CPU core; try --iterations 2000 first.

Example::

    python examples/maltml_sinusoid.py --iterations 2000 --run-dir runs/maltml_quick
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents.maltml import (  # noqa: E402
    MALTMLSinusoidComparisonConfig,
    plot_family_curves,
    run_maltml_sinusoid_comparison,
)
from metarl.cli_args import ScriptRunOptions, add_dataclass_arguments, dataclass_from_args  # noqa: E402


@dataclass
class RunOptions(ScriptRunOptions):
    """Where to write and how to run."""

    run_dir: str = "runs/maltml_sinusoid"
    """Folder for checkpoints (seed<s>/<run>/), progress.csv files, the JSON report and the plot."""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, RunOptions)
    add_dataclass_arguments(parser, MALTMLSinusoidComparisonConfig)
    parser.set_defaults(seeds=[0])  # one seed here; benchmarks/bench_maltml_sinusoid.py runs three
    args = parser.parse_args(argv)
    options: RunOptions = dataclass_from_args(RunOptions, args)
    config: MALTMLSinusoidComparisonConfig = dataclass_from_args(MALTMLSinusoidComparisonConfig, args)
    torch.set_num_threads(options.threads)

    # 1. train every run (resumable) and evaluate all of them on the same held-out families
    report = run_maltml_sinusoid_comparison(config, options.run_dir, resume=options.resume,
                                            progress_bar=options.progress)

    # 2. write the curves and plot them like the paper's Fig. 2c
    run_dir = Path(options.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "maltml_sinusoid.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_family_curves(report["runs"], run_dir / "maltml_sinusoid.png",
                       title=f"sinusoid families, {config.n_tasks}-task {config.k_shot}-shot, "
                             f"{config.iterations} iterations, seeds {list(config.seeds)}")
    for name, claim in report["claim"].items():
        steps = ", ".join(f"{d:+.3f}" for d in claim["difference_mean"])
        print(f"{name}: goal MSE difference after 0..{config.eval_steps} steps [{steps}]")
    print(f"wrote {run_dir / 'maltml_sinusoid.json'} and the plot beside it")
    return report


if __name__ == "__main__":
    main()
