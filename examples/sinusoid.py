"""Sinusoid regression with MAML (Finn et al. 2017, section 5.1): MAML vs first-order MAML vs pretrained vs oracle.

Every task is y = A sin(x - phase) with A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5].  MAML meta-trains an MLP
1-40-40-1 (ReLU) with one inner gradient step (alpha = 0.01) on K = 10 points per task, 25 tasks per meta-batch,
Adam 1e-3.  The baselines: "pretrained" (the same network trained on all tasks, fine-tuned at test time with a
step size tuned on training tasks) and the "oracle" (receives amplitude and phase as inputs).

Evaluation (5.1, App. B): 600 held-out tasks; K support points reused for every gradient step; MSE on 100 query
points after 0..10 steps, mean +- 95% CI.  Writes, in --run-dir:

  sinusoid.json         the curves of every method and K (and step sizes, tuning scores, training time)
  sinusoid_curves.png   MSE vs number of gradient steps, one panel per K (paper Figs. 3 and 6)
  sinusoid_fits.png     predictions on one test task after 0, 1 and 10 steps from K = 5 points (paper Fig. 2)

Training checkpoints go to --run-dir/<method>/last.pt; --resume continues an interrupted run.  The paper's budget
(70,000 iterations per method) takes roughly 10 minutes per method on one CPU core; try --iterations 2000 first.

Example::

    python examples/sinusoid.py --iterations 2000 --run-dir runs/sinusoid_quick
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

from agents.supervised import (  # noqa: E402
    SinusoidComparisonConfig,
    plot_sinusoid_curves,
    plot_sinusoid_fits,
    run_sinusoid_comparison,
)
from metarl.cli_args import ScriptRunOptions, add_dataclass_arguments, dataclass_from_args  # noqa: E402


@dataclass
class RunOptions(ScriptRunOptions):
    """Where to write and how to run."""

    run_dir: str = "runs/sinusoid"
    """Folder for checkpoints (one sub-folder per method), progress.csv files, the JSON report and the plots."""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, RunOptions)
    add_dataclass_arguments(parser, SinusoidComparisonConfig, exclude={"multitask_models", "multitask_steps"})
    args = parser.parse_args(argv)
    options: RunOptions = dataclass_from_args(RunOptions, args)
    config: SinusoidComparisonConfig = dataclass_from_args(SinusoidComparisonConfig, args)
    torch.set_num_threads(options.threads)

    # 1. train every method (resumable) and evaluate all of them on the same 600 held-out tasks
    report = run_sinusoid_comparison(config, options.run_dir, resume=options.resume, progress_bar=options.progress)
    agents, eval_set = report.pop("_agents"), report.pop("_eval_set")

    # 2. write the curves and plot them like the paper's Figs. 2, 3 and 6
    run_dir = Path(options.run_dir)
    (run_dir / "sinusoid.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_sinusoid_curves(report["methods"], run_dir / "sinusoid_curves.png",
                         title=f"sinusoid regression, {config.iterations} training iterations")
    fitted = {name: agents[name] for name in ("maml", "pretrained") if name in agents}
    if fitted:
        k = min(config.eval_k_shots)
        step_sizes = {name: report["methods"][name]["step_size"][str(k)] for name in fitted}
        plot_sinusoid_fits(fitted, eval_set, run_dir / "sinusoid_fits.png", k_shot=k,
                           steps=(0, 1, config.eval_steps), step_sizes=step_sizes)
    print(f"wrote {run_dir / 'sinusoid.json'} and the plots beside it")
    return report


if __name__ == "__main__":
    main()
