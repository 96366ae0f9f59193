"""Reproduce the MALTML sinusoid-family experiment (Devos & Dandi, section 4.1, Fig. 2c).

Trains, 5-task 5-shot, for the paper's 70,000 outer iterations, for every seed (default 0, 1, 2):
MALTML second order (Alg. 1: alpha 0.001, beta 0.01, gamma 0.001, Adam 0.001, 10 families x 2 goal tasks, Q = 5),
MALTML first order (3.2, m = 5 first-order family steps, theta <- theta + eta sum_j (theta'_j - theta)),
MAML on the flat sinusoid distribution with alpha = 0.001 (the paper) and 0.01 (MAML 5.1), and the oracle
(amplitude and phase as input).  Every run is evaluated on the same 300 held-out families (2 goal tasks each,
100 test points): meta-finetune on the family's 5 tasks (5 + 5 points), fine-tune on the goal tasks (5 points),
goal-task test MSE after 0..10 steps, before and after the family meta-update; once with the step sizes as
trained and once with the test-time (beta, gamma) tuned on 100 validation families over the same grid for every
method.  Writes

  reproductions/maltml/results/maltml_sinusoid.json   curves per run and seed, aggregates over seeds (95% CI over seeds),
                                            tuned step sizes, the paired MALTML - MAML differences (the claim)
  reproductions/maltml/results/maltml_sinusoid.png    goal-task test MSE vs fine-tuning steps (paper Fig. 2c)
  <run-dir>/maltml_sinusoid_full.json       the same plus the error of every test family (several MB; what
                                            --merge reads, as the paired differences need it)

The paper's claim under test: after the same adaptation (meta-finetuning on 5 tasks of the new family, then
fine-tuning), MALTML reaches a lower goal-task error than MAML.  The paper gives the claim and a plot, no numbers.

Resumable: each run trains in --run-dir/seed<s>/<run>/ with atomic checkpoints; rerunning the same command
continues an interrupted run (finished runs are only re-evaluated).  Measured on one loaded CPU core: ~20 ms per
MALTML iteration (either variant), i.e. ~25 minutes per MALTML run; ``--iterations 200`` is a smoke test.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.bench_common import machine_info  # noqa: E402
from metarl.atomic import atomic_write  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from reproductions.maltml.sinusoid_comparison import (  # noqa: E402
    MALTMLSinusoidComparisonConfig,
    plot_family_curves,
    run_maltml_sinusoid_comparison,
    summarize_family_runs,
)

PAPER_CLAIM = (
    "Fig. 2c / 4.1: the learned MALTML model quickly changes its adaptability to the new family's phase on 5 "
    "related 5-shot tasks and therefore reaches a better fit than MAML, which benefits less from the "
    "meta-adaptation of its initialization (no numbers are given)."
)


#: The report with every test family's error, written into --run-dir (what --merge reads).
FULL_REPORT_NAME = "maltml_sinusoid_full.json"
_PER_FAMILY_KEYS = ("loss_per_family", "loss_without_meta_update_per_family")


def without_per_family(report: dict) -> dict:
    """``report`` without the per-test-family errors of each seed's curves (the committed, compact form)."""
    runs = {
        name: {**run, "seeds": {
            seed: {key: ({k: v for k, v in value.items() if k not in _PER_FAMILY_KEYS} if isinstance(value, dict)
                         else value) for key, value in entry.items()}
            for seed, entry in run["seeds"].items()}}
        for name, run in report["runs"].items()
    }
    return {**report, "runs": runs, "full_report": FULL_REPORT_NAME + " in the run dir (per-family errors)"}


def merge_seed_reports(paths: list[Path]) -> dict:
    """One report over the seeds of several reports of this script (e.g. seeds trained by parallel processes).

    The reports must agree on every setting except ``seeds`` and on the test and validation families; a seed
    present in two reports is refused.
    """
    reports = [json.loads(path.read_text()) for path in paths]
    for path, report in zip(paths, reports):
        if "full_report" in report:
            raise ValueError(f"--merge: {path} is a compact report; give the {FULL_REPORT_NAME} of its run dir")
    first = reports[0]
    runs: dict = {name: {"seeds": {}} for name in first["runs"]}
    for path, report in zip(paths, reports):
        differing = sorted(k for k in set(first["config"]) | set(report["config"])
                           if k != "seeds" and first["config"].get(k) != report["config"].get(k))
        if differing or report["eval_set"] != first["eval_set"] or report["val_set"] != first["val_set"]:
            raise ValueError(f"--merge: {path} has other settings than {paths[0]}: {differing or 'eval/val sets'}")
        if set(report["runs"]) != set(runs):
            raise ValueError(f"--merge: {path} has runs {sorted(report['runs'])}, {paths[0]} has {sorted(runs)}")
        for name, run in report["runs"].items():
            for seed, entry in run["seeds"].items():
                if seed in runs[name]["seeds"]:
                    raise ValueError(f"--merge: seed {seed} of {name} is in more than one report")
                runs[name]["seeds"][seed] = entry
    seeds = sorted({int(seed) for run in runs.values() for seed in run["seeds"]})
    for run in runs.values():
        run["seeds"] = {str(seed): run["seeds"][str(seed)] for seed in seeds}
    merged = summarize_family_runs({**first["config"], "seeds": seeds}, runs)
    merged["eval_set"], merged["val_set"] = first["eval_set"], first["val_set"]
    merged["merged_from"] = [str(path) for path in paths]
    return merged


@dataclass
class Args:
    config: Annotated[MALTMLSinusoidComparisonConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=MALTMLSinusoidComparisonConfig)
    run_dir: Path = ROOT / "runs" / "bench_maltml_sinusoid"
    """Folder of the checkpoints of every run and seed, and of the full report (maltml_sinusoid_full.json)."""
    out: Path = ROOT / "reproductions" / "maltml" / "results" / "maltml_sinusoid.json"
    """Output JSON file, without the per-family errors (the PNG goes beside it)."""
    resume: bool = True
    """Continue the runs found in --run-dir (--no-resume: fail if it already holds checkpoints)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""
    merge: tuple[Path, ...] | None = None
    """Train nothing: combine the full reports (<run-dir>/maltml_sinusoid_full.json) of runs of this script with
    different --seeds (same other settings) into one report over all their seeds, written to --out (and its full
    form to --run-dir)."""
    torch_threads: int = 1
    """torch CPU threads."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    config = args.config
    torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    if args.merge:
        try:
            report = merge_seed_reports(list(args.merge))
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(str(exc)) from None
        config = MALTMLSinusoidComparisonConfig(**report["config"])
    else:
        report = run_maltml_sinusoid_comparison(config, args.run_dir, resume=args.resume,
                                                progress_bar=args.progress)
    report["benchmark"] = "maltml_sinusoid"
    report["paper_claim"] = PAPER_CLAIM
    report["wall_clock_seconds"] = {
        "this_invocation": round(time.perf_counter() - start, 1),
        "training_per_run_and_seed": {
            name: {seed: round(entry["train_seconds"], 1) for seed, entry in run["seeds"].items()
                   if "train_seconds" in entry}
            for name, run in report["runs"].items()
        },
    }
    report["machine"] = machine_info()
    atomic_write(args.run_dir / FULL_REPORT_NAME, json.dumps(report) + "\n")  # compact: several MB
    out = args.out
    write_json(out, without_per_family(report))
    plot_family_curves(report["runs"], out.with_suffix(".png"),
                       title=f"MALTML sinusoid families ({config.n_tasks}-task {config.k_shot}-shot, "
                             f"{config.iterations} iterations, seeds {list(config.seeds)})")
    for name, run in report["runs"].items():
        curve = run["tuned"]
        if run["diverged_seeds"]:
            print(f"{name:>14}  diverged for seeds {run['diverged_seeds']} (left out of the aggregates)")
        if curve is None:
            continue
        print(f"{name:>14}  goal MSE (tuned) 0 steps before/after meta-update "
              f"{curve['loss_without_meta_update_mean'][0]:.3f} / {curve['loss_mean'][0]:.3f}, "
              f"after {config.eval_steps} steps {curve['loss_mean'][-1]:.3f}")
    if "maml_tuned" in report:
        print(f"MAML alpha chosen on validation families: {report['maml_tuned']}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
