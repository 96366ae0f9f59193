"""Reproduce the MAML paper's sinusoid results (Finn et al. 2017, 5.1, App. B, App. C.1 and Table 2).

Trains, 10-shot, for the paper's 70,000 iterations (alpha = 0.01, one inner step, Adam 1e-3, meta-batch 25):
MAML (second order), first-order MAML, pretrained-on-all-tasks and the oracle, plus the three multi-task
parameter-averaging baselines of App. C.1 (500 regressors each).  Evaluates every method on the same 600 held-out
tasks with K = 5, 10, 20 support points reused for every step, MSE on 100 query points after 0..10 steps
(mean +- 95% CI), and compares the 5-shot numbers with Table 2.  Writes

  reproductions/maml2017/results/sinusoid.json       curves, step sizes, wall-clock per method, the Table 2 comparison
  reproductions/maml2017/results/sinusoid.png        MSE vs gradient steps per K (paper Fig. 6)
  reproductions/maml2017/results/sinusoid_fits.png   predictions after 0/1/10 steps on a 5-shot task (paper Fig. 2)

Resumable: each method trains in --run-dir/<method>/ with atomic checkpoints; rerunning the same command continues
an interrupted run (finished methods are only re-evaluated; --no-resume refuses to).  Roughly 10 minutes per MAML variant and a few
minutes per baseline on one CPU core at the paper's budget; ``--iterations 200`` is a smoke test.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.bench_common import load_earlier_report, machine_info  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from reproductions.maml2017.supervised.sinusoid_comparison import (  # noqa: E402
    SINUSOID_METHODS,
    SinusoidComparisonConfig,
    plot_sinusoid_curves,
    plot_sinusoid_fits,
    run_sinusoid_comparison,
)

#: Where the MAML paper's supervised results are written (reproductions/maml2017/results/).
RESULTS = ROOT / "reproductions" / "maml2017" / "results"
#: MAML paper Table 2: 5-shot MSE after 1, 5 and 10 gradient steps (model trained 10-shot).
PAPER_TABLE2 = {
    "steps": [1, 5, 10],
    "multitask_none": [4.19, 3.85, 3.69],
    "multitask_l2": [7.18, 5.69, 5.60],
    "multitask_mean": [2.91, 2.72, 2.71],
    "pretrained": [2.41, 2.23, 2.19],
    "maml": [0.67, 0.38, 0.35],
}


def table2_comparison(methods: dict) -> dict:
    """Ours vs the paper's Table 2 (5-shot MSE after 1/5/10 steps), for the methods run."""
    rows = {}
    for name, paper in PAPER_TABLE2.items():
        if name == "steps" or name not in methods or "5" not in methods[name]["curves"]:
            continue
        curve = methods[name]["curves"]["5"]
        steps = [s for s in PAPER_TABLE2["steps"] if s < len(curve["loss_mean"])]
        rows[name] = {
            "steps": steps,
            "ours": [round(curve["loss_mean"][s], 4) for s in steps],
            "ours_ci95": [round(curve["loss_ci95"][s], 4) for s in steps],
            "paper": paper[: len(steps)],
        }
    return rows


def merge_earlier_methods(report: dict, out: Path) -> None:
    """Copy into ``report`` the methods of the earlier JSON at ``out`` that this run did not redo (``--update``).

    Refuses when the earlier run used other settings than this one (apart from the method list), since the
    curves would not be comparable.
    """
    earlier = load_earlier_report(out, report["config"], ignore=("methods",))
    kept = [name for name in earlier["methods"] if name not in report["methods"]]
    for name in kept:
        report["methods"][name] = earlier["methods"][name]
    report["methods"] = {name: report["methods"][name] for name in SINUSOID_METHODS if name in report["methods"]}
    report["config"]["methods"] = list(report["methods"])
    report["_kept"] = kept


@dataclass
class Args:
    config: Annotated[SinusoidComparisonConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=lambda: SinusoidComparisonConfig(methods=SINUSOID_METHODS))
    run_dir: Path = ROOT / "runs" / "bench_sinusoid"
    """Folder of the checkpoints of every method."""
    out: Path = RESULTS / "sinusoid.json"
    """Output JSON file (the PNGs go beside it)."""
    resume: bool = True
    """Continue the runs found in --run-dir (--no-resume: fail if it already holds checkpoints)."""
    update: bool = False
    """Keep the methods of the existing --out JSON that are not in --methods (to rerun some methods only); the
    other settings must match the existing JSON."""
    torch_threads: int = 1
    """torch CPU threads."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    config = args.config
    torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    report = run_sinusoid_comparison(config, args.run_dir, resume=args.resume)
    agents, eval_set = report.pop("_agents"), report.pop("_eval_set")
    report["benchmark"] = "sinusoid"
    if args.update:
        try:
            merge_earlier_methods(report, args.out)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(str(exc)) from None
    report["paper_table2_5shot"] = table2_comparison(report["methods"])
    report["wall_clock_seconds"] = {
        "this_invocation": round(time.perf_counter() - start, 1),
        "training_per_method": {name: round(m["train_seconds"], 1) for name, m in report["methods"].items()},
        **({"kept_from_earlier_run": report.pop("_kept")} if "_kept" in report else {}),
    }
    report["machine"] = machine_info()
    out = args.out
    write_json(out, report)
    plot_sinusoid_curves(report["methods"], out.with_suffix(".png"),
                         title=f"sinusoid regression (trained 10-shot, {config.iterations} iterations)")
    fitted = {name: agents[name] for name in ("maml", "pretrained") if name in agents}
    if fitted and 5 in config.eval_k_shots:
        step_sizes = {name: report["methods"][name]["step_size"]["5"] for name in fitted}
        plot_sinusoid_fits(fitted, eval_set, out.with_name(out.stem + "_fits.png"), k_shot=5,
                           steps=(0, 1, config.eval_steps), step_sizes=step_sizes)
    for name, row in report["paper_table2_5shot"].items():
        print(f"{name:>16}  5-shot MSE after {row['steps']} steps: ours {row['ours']}  paper {row['paper']}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
