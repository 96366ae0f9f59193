"""The MAML sinusoid result over several training seeds (Finn et al. 2017, 5.1, Table 2).

``bench_sinusoid.py`` trains every method once (seed 0); a single training run's test MSE after a few steps varies
from seed to seed by more than the gap to the paper's Table 2, so this benchmark trains the chosen methods
(default: MAML) with each of ``--seeds`` at the paper's budget (70,000 iterations, alpha 0.01, Adam 1e-3,
meta-batch 25, trained 10-shot) and evaluates every run on the same 600 held-out tasks as ``bench_sinusoid.py``.
It reports, per K in 5 / 10 / 20, the MSE after 0..10 steps of every seed, their mean +- 95% CI over seeds
(Student t), and the 5-shot comparison with Table 2 (0.67 / 0.38 / 0.35 after 1 / 5 / 10 steps for MAML).
Every seed is reported; none is dropped.  Writes

  reproductions/maml2017/results/sinusoid_seeds.json   per-seed curves, mean +- CI over seeds, Table 2 comparison, wall-clock

Resumable: each seed and method trains in --run-dir/seed<s>/<method>/ with atomic checkpoints.  About 8 minutes
of one CPU core per MAML seed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated

import tyro

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.bench_common import machine_info  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.stats import summarize_curve  # noqa: E402
from reproductions.cli import without_flags  # noqa: E402
from reproductions.maml2017.supervised.bench_sinusoid import PAPER_TABLE2, RESULTS  # noqa: E402
from reproductions.maml2017.supervised.sinusoid_comparison import (  # noqa: E402
    SinusoidComparisonConfig,
    run_sinusoid_comparison,
)

#: The comparison's settings but its training seed, which --seeds gives, and the multi-task baselines' (not run here).
SeedlessConfig = without_flags(SinusoidComparisonConfig, "seed", "multitask_models", "multitask_steps")


def summarize_seeds(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, list[float | None]]]:
    """Mean and 95% CI half-width over seeds of the per-seed mean-MSE curves, per K (:func:`summarize_curve`).

    :param per_seed: ``{seed: {K: [MSE after 0..S steps]}}``.
    :returns: ``{K: {"mean": [...], "ci95": [...], "n_seeds"}}`` (``ci95`` entries None with a single seed).
    """
    ks = sorted({k for curves in per_seed.values() for k in curves}, key=int)
    out: dict[str, dict[str, list[float | None]]] = {}
    for k in ks:
        curves = [curves[k] for curves in per_seed.values() if k in curves]
        steps = min(len(c) for c in curves)
        summary = summarize_curve(np.array([c[:steps] for c in curves]))
        out[k] = {"mean": summary["mean"], "ci95": [None if h != h else h for h in summary["ci95"]],  # nan -> None
                  "n_seeds": summary["n"]}
    return out


def table2_rows(summary: dict[str, dict], method: str) -> dict | None:
    """Ours (mean over seeds) vs Table 2 at 5-shot after 1 / 5 / 10 steps, with whether each is at or below it."""
    if method not in PAPER_TABLE2 or "5" not in summary:
        return None
    steps = [s for s in PAPER_TABLE2["steps"] if s < len(summary["5"]["mean"])]
    ours = [summary["5"]["mean"][s] for s in steps]
    return {"steps": steps, "ours": ours, "ours_ci95": [summary["5"]["ci95"][s] for s in steps],
            "paper": PAPER_TABLE2[method][: len(steps)],
            "at_or_below_paper": [o <= p for o, p in zip(ours, PAPER_TABLE2[method])]}


@dataclass
class Args:
    config: Annotated[SeedlessConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=lambda: SeedlessConfig(methods=("maml",)))
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Training seeds (each trains every method of --methods once)."""
    run_dir: Path = ROOT / "runs" / "bench_sinusoid_seeds"
    """Folder of the checkpoints of every seed and method."""
    out: Path = RESULTS / "sinusoid_seeds.json"
    """Output JSON file."""
    resume: bool = True
    """Continue the runs found in --run-dir (--no-resume: fail if it already holds checkpoints)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""
    torch_threads: int = 1
    """torch CPU threads."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if len(set(args.seeds)) != len(args.seeds) or any(s < 0 for s in args.seeds):
        raise SystemExit(f"--seeds: must be distinct ints >= 0, got {' '.join(map(str, args.seeds))}")
    multitask = [m for m in args.config.methods if m.startswith("multitask_")]
    if multitask:
        raise SystemExit(f"--methods: {' '.join(multitask)} cannot be trained per seed here (bench_sinusoid.py)")
    config = args.config
    methods = list(config.methods)
    torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    per_seed: dict[str, dict[str, dict[str, list[float]]]] = {m: {} for m in methods}
    step_sizes: dict[str, dict[str, dict]] = {m: {} for m in methods}
    seconds: dict[str, float] = {}
    for seed in args.seeds:
        result = run_sinusoid_comparison(replace(config, seed=seed), Path(args.run_dir) / f"seed{seed}",
                                         resume=args.resume, progress_bar=args.progress)
        for method, entry in result["methods"].items():
            per_seed[method][str(seed)] = {k: curve["loss_mean"] for k, curve in entry["curves"].items()}
            step_sizes[method][str(seed)] = entry["step_size"]
            seconds[f"seed{seed}/{method}"] = round(entry["train_seconds"], 1)

    cfg = asdict(config)
    cfg.pop("seed")
    results = {}
    for method in methods:
        summary = summarize_seeds(per_seed[method])
        results[method] = {"per_seed": per_seed[method], "step_size": step_sizes[method], "over_seeds": summary,
                           "paper_table2_5shot": table2_rows(summary, method)}
    report = {
        "benchmark": "sinusoid_seeds",
        "seeds": list(args.seeds),
        "config": cfg,
        "methods": results,
        "wall_clock_seconds": {"this_invocation": round(time.perf_counter() - start, 1),
                               "training_per_run": seconds},
        "machine": machine_info(),
    }
    out = args.out
    write_json(out, report)
    for method, entry in results.items():
        row = entry["paper_table2_5shot"]
        if row is not None:
            cells = ", ".join(f"{o:.3f} ± {c if c is not None else float('nan'):.3f} (paper {p})"
                              for o, c, p in zip(row["ours"], row["ours_ci95"], row["paper"]))
            print(f"{method}: 5-shot MSE after {row['steps']} steps over {len(args.seeds)} seeds: {cells}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
