"""Meta-augmentation benchmark (Rajendran, Irpan & Jang 2020, sections 3, 5.1, 5.2, Table 1, Fig. 6a).

Two parts (--parts):

  sinusoid  the non-mutually-exclusive sinusoid (5.2): MAML with and without one eps ~ U[-1, 1] per task added to
            its support and query targets, and supervised regression on all training tasks; the paper's code
            budget (50,000 iterations, validation every 5,000 keeping the best post-update validation loss), 600
            test tasks on the test intervals, MSE after 0..10 steps; mean +- 95% CI over 5 seeds and the paired
            per-seed difference MAML+aug - MAML.  Expected direction: augmentation lowers the test MSE.
  labels    Glyphs 1-shot 5-way MAML (5.1 / Table 1) with the non-mutually-exclusive, intrashuffle and intershuffle
            label schemes at the calibrated Glyphs budget (Conv4-32, meta-batch 16, 600 iterations, validation
            every 100 with the best model kept, as App. E); held-out accuracy +- 95% CI on the same 600 test
            tasks.  Expected direction: intershuffle >= intrashuffle > non-mutually-exclusive.

The report states what came out, whether or not it matches the paper's direction.  Writes

  reproductions/meta_augmentation/results/meta_augmentation.json   both parts, per-run details, direction checks, wall-clock
  reproductions/meta_augmentation/results/meta_augmentation.png    MSE vs steps (final / best-val models) and accuracy per label scheme

Resumable: every training run has its own folder under --run-dir with atomic checkpoints; rerunning the same
command continues interrupted runs and only reads back finished ones.  The settings of each part are its flags
``--sinusoid.*`` and ``--labels.*``::

    python reproductions/meta_augmentation/bench_meta_augmentation.py --parts labels --labels.seeds 0 1 2
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.bench_common import load_earlier_report, machine_info  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from reproductions.cli import without_flags  # noqa: E402
from reproductions.maml2017.supervised.fewshot import FewShotConfig  # noqa: E402
from reproductions.meta_augmentation.label_schemes import (  # noqa: E402
    LabelSchemeStudyConfig,
    plot_label_schemes,
    run_label_schemes,
)
from reproductions.meta_augmentation.nme_sinusoid import (  # noqa: E402
    NMESinusoidConfig,
    plot_nme_sinusoid,
    run_nme_sinusoid,
)

PARTS = ("sinusoid", "labels")
#: The few-shot settings of the label-scheme runs; each run sets its scheme and seed itself.
LabelsFewShotConfig = without_flags(FewShotConfig, "label_scheme", "seed")
#: The report keys each part writes (its results and its direction check).
PART_KEYS = {"sinusoid": ("sinusoid", "sinusoid_direction"), "labels": ("labels", "labels_direction")}
#: Rajendran et al. Table 1, 1-shot 5-way MAML test accuracy (%).
PAPER_TABLE1 = {
    "omniglot": {"non_mutually_exclusive": 98.1, "intrashuffle": 98.5, "intershuffle": 98.7},
    "mini_imagenet_maml": {"non_mutually_exclusive": 30.2, "intrashuffle": 42.7, "intershuffle": 46.0},
}


def sinusoid_direction(report: dict, steps: int) -> dict:
    """Does augmentation lower the test MSE (paired over seeds), for the final and best-validation models?"""
    out = {}
    for variant, entry in report["paired"].items():
        diff = entry["maml_aug_minus_maml"][f"after_{steps}"]
        out[variant] = {"augmentation_helps": diff["mean"] < 0,
                        "significant": diff["ci95"] is not None and diff["mean"] + diff["ci95"] < 0,
                        **diff}
    return out


def merge_earlier_parts(report: dict, seconds: dict, parts: list[str], out: Path) -> list[str]:
    """Copy into ``report`` the parts of the earlier JSON at ``out`` that this run did not redo (``--update``).

    Each part carries its own settings (``report[part]["config"]``), so a kept part stays self-describing.
    Its wall-clock entries are kept too.  Returns the names of the kept parts.
    """
    earlier = load_earlier_report(out, {})
    kept = [part for part in PARTS if part not in parts and part in earlier]
    earlier_seconds = earlier.get("wall_clock_seconds", {})
    for part in kept:
        for key in PART_KEYS[part]:
            if key in earlier:
                report[key] = earlier[key]
        for key in (part, f"{part}_training_per_run"):
            if key in earlier_seconds:
                seconds[key] = earlier_seconds[key]
    return kept


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [p for p in PARTS if p in report]
    panels = (2 if "sinusoid" in parts else 0) + (1 if "labels" in parts else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8), squeeze=False)
    axes = list(axes[0])
    if "sinusoid" in parts:
        plot_nme_sinusoid(report["sinusoid"], path, axes=axes[:2])
        axes = axes[2:]
    if "labels" in parts:
        plot_label_schemes(report["labels"], path, ax=axes[0])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass
class Args:
    sinusoid: NMESinusoidConfig = field(default_factory=NMESinusoidConfig)
    labels: LabelSchemeStudyConfig = field(default_factory=LabelSchemeStudyConfig)
    labels_fewshot: Annotated[LabelsFewShotConfig, tyro.conf.arg(name="labels")] = field(
        default_factory=LabelsFewShotConfig)
    run_dir: Path = ROOT / "runs" / "bench_meta_augmentation"
    """Folder of the checkpoints of every training run."""
    out: Path = ROOT / "reproductions" / "meta_augmentation" / "results" / "meta_augmentation.json"
    """Output JSON file (the PNG goes beside it)."""
    resume: bool = True
    """Continue the runs found in --run-dir (--no-resume: fail if it already holds checkpoints)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""
    parts: tuple[Literal["sinusoid", "labels"], ...] = PARTS
    """Which experiments to run."""
    update: bool = False
    """Keep the parts of the existing --out JSON that are not in --parts (to run or rerun one part only)."""
    torch_threads: int = 1
    """torch CPU threads."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    sin_cfg, study, base = args.sinusoid, args.labels, args.labels_fewshot
    torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    run_dir = args.run_dir
    report: dict = {"benchmark": "meta_augmentation", "paper_table1_percent": PAPER_TABLE1}
    seconds: dict = {}
    if "sinusoid" in args.parts:
        t0 = time.perf_counter()
        nme = run_nme_sinusoid(sin_cfg, run_dir / "nme_sinusoid", resume=args.resume,
                               progress_bar=args.progress)
        report["sinusoid"] = nme
        if nme["paired"]:
            report["sinusoid_direction"] = sinusoid_direction(nme, sin_cfg.eval_steps)
        seconds["sinusoid"] = round(time.perf_counter() - t0, 1)
        seconds["sinusoid_training_per_run"] = {
            f"seed{s}/{m}": round(r["train_seconds"], 1) for s, runs in nme["runs"].items() for m, r in runs.items()}
    if "labels" in args.parts:
        t0 = time.perf_counter()
        report["labels"] = run_label_schemes(study, base, run_dir / "label_schemes", resume=args.resume,
                                             progress_bar=args.progress)
        report["labels_direction"] = report["labels"]["order"]
        seconds["labels"] = round(time.perf_counter() - t0, 1)
        seconds["labels_training_per_run"] = {
            f"{scheme}/seed{s}": round(r["train_seconds"], 1)
            for scheme, runs in report["labels"]["runs"].items() for s, r in runs.items()}
    out = args.out
    if args.update:
        try:
            seconds["kept_from_earlier_run"] = merge_earlier_parts(report, seconds, list(args.parts), out)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(str(exc)) from None
    seconds["this_invocation"] = round(time.perf_counter() - start, 1)
    report["wall_clock_seconds"] = seconds
    report["machine"] = machine_info()
    report = {k: report[k] for k in ("benchmark", "paper_table1_percent", *sum((PART_KEYS[p] for p in PARTS), ()),
                                     "wall_clock_seconds", "machine") if k in report}
    write_json(out, report)
    plot(report, out.with_suffix(".png"))

    if "sinusoid" in report:
        eval_steps = report["sinusoid"]["config"]["eval_steps"]
        for method, entry in report["sinusoid"]["summary"].items():
            for variant in ("final", "best_val"):
                e = entry[variant]
                if e is not None:
                    print(f"sinusoid {method:>10} ({variant:>8}): test MSE after 1 / {eval_steps} steps "
                          f"{e['mse_mean'][1]:.3f} / {e['mse_mean'][-1]:.3f}")
        for variant, d in report.get("sinusoid_direction", {}).items():
            print(f"sinusoid ({variant}): MAML+aug - MAML after {eval_steps} steps = {d['mean']:+.3f} "
                  f"± {d['ci95'] or float('nan'):.3f}; aug better in {d['seeds_aug_better']}/{d['n_seeds']} seeds")
    if "labels" in report:
        variant = report["labels"]["headline_variant"]
        for scheme, entry in report["labels"]["summary"].items():
            e = entry[variant]
            print(f"labels {scheme:>22} ({variant}): {100 * e['accuracy']:.1f} ± {100 * (e['ci95'] or 0):.1f}%")
        for pair, d in (report["labels"].get("paired") or {}).items():
            if d is not None:
                print(f"labels {pair}: {100 * d['mean']:+.1f} ± {100 * d['ci95']:.1f} points (paired over {d['ci_over']})")
        print(f"labels direction: {report['labels_direction']}")
    print(f"wrote {out}")
    return json.loads(out.read_text())


if __name__ == "__main__":
    main()
