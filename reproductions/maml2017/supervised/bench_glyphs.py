"""Few-shot classification benchmark on Glyphs: MAML Table 1's protocol, offline (Finn et al. 2017, 5.2, App. A.1).

For 5-way 1-shot and 5-way 5-shot (and 20-way 1-shot with --twenty-way), meta-trains the conv4 classifier with
second-order MAML and with first-order MAML, then measures the accuracy on 600 tasks of held-out Glyphs classes
(mean +- 95% CI over tasks) after the test-time steps of App. A.1 (5-way: 1 inner step of alpha = 0.4 in training,
3 at test; 20-way: 5 steps of alpha = 0.1), next to the pixel-space 1-nearest-neighbour baseline on the same
tasks.  Calibrated budget (the design calibration, kept in the report): Conv4-32, meta-batch 16, 600 iterations, about 7 minutes per 5-way 1-shot
run on one core -> ~80% 5-way 1-shot; pixel 1-NN reaches ~46%.  The headline is the final model (MAML reports
its final model); the best-validation model is reported beside it.  Writes

  reproductions/maml2017/results/glyphs.json   accuracies +- CI per setting and method, curves, wall-clock, Table 1 reference
  reproductions/maml2017/results/glyphs.png    accuracy per setting and method

Resumable: every (setting, method) trains in --run-dir/<setting>/<method>/ with atomic checkpoints; rerunning the
same command continues an interrupted run, and finished runs are only read back.  MAML's Table 1 numbers are
for Omniglot (98.7% / 99.9% 5-way, 95.8% 20-way 1-shot after 60,000 iterations on a GPU): a yardstick, not a
target for Glyphs at a 600-iteration CPU budget.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

import tyro

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.bench_common import load_earlier_report, machine_info  # noqa: E402
from metarl.jsonio import json_ready, write_json  # noqa: E402
from reproductions.cli import without_flags  # noqa: E402
from reproductions.maml2017.supervised.fewshot import RESULT_NAME, FewShotConfig, run_fewshot  # noqa: E402

#: (name, N, K) of the settings run by default and with --twenty-way.
SETTINGS = (("5way_1shot", 5, 1), ("5way_5shot", 5, 5))
TWENTY_WAY = ("20way_1shot", 20, 1)
#: Methods: second-order MAML and first-order MAML (5.2).
METHODS = {"maml": False, "fomaml": True}
#: MAML Table 1, Omniglot (held-out characters), accuracy in %.
PAPER_TABLE1_OMNIGLOT = {"5way_1shot": 98.7, "5way_5shot": 99.9, "20way_1shot": 95.8, "20way_5shot": 98.9}
#: The design calibration of Glyphs (written to the report as "design_calibration"): MAML Conv4-32, meta-batch 16, alpha 0.4, 600 iterations.
DESIGN_CALIBRATION = {"5way_1shot_maml": 0.80, "5way_1shot_pixel_1nn": 0.462, "5way_5shot_pixel_1nn": 0.680}
#: The few-shot settings that each (setting, method) run sets itself have no flag.
BaseConfig = without_flags(FewShotConfig, "n_way", "k_shot", "first_order", "label_scheme")


def summarize_run(result: dict) -> dict:
    final, best = result["test"]["final"], result["test"]["best_val"]
    return {
        "accuracy": final["accuracy"], "ci95": final["ci95"], "n_tasks": final["n_tasks"],
        "accuracy_per_step": final["curve"]["metric_mean"], "ci95_per_step": final["curve"]["metric_ci95"],
        "best_val": None if best is None else {"accuracy": best["accuracy"], "ci95": best["ci95"],
                                                "iteration": best["iteration"], "val_accuracy": best["val_accuracy"]},
        "iterations": result["iterations"], "train_seconds": result["train_seconds"],
        "seconds_per_iteration": result["seconds_per_iteration"], "eval_seconds": result["eval_seconds"],
        "learner": result["learner"],
    }


def plot(settings: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(settings)
    methods = [("maml", "MAML", "tab:green"), ("fomaml", "first-order MAML", "tab:olive"),
               ("pixel_1nn", "pixel 1-NN", "tab:gray")]
    fig, ax = plt.subplots(figsize=(1.8 + 2.2 * len(names), 3.6))
    width = 0.8 / len(methods)
    for j, (key, label, color) in enumerate(methods):
        xs, ys, es = [], [], []
        for i, name in enumerate(names):
            entry = settings[name]["methods"].get(key)
            if entry is not None:
                xs.append(i + (j - (len(methods) - 1) / 2) * width)
                ys.append(100 * entry["accuracy"])
                es.append(100 * (entry["ci95"] or 0.0))
        ax.bar(xs, ys, width, yerr=es, capsize=3, color=color, label=label)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="lower right")
    n_tasks = {e["n_tasks"] for entry in settings.values() for e in entry["methods"].values()}
    ax.set_title(f"Glyphs few-shot classification ({'/'.join(map(str, sorted(n_tasks)))} held-out tasks, "
                 "± 95% CI)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merge_earlier_runs(settings: dict, per_run_seconds: dict, not_run: list[str], base: FewShotConfig,
                       out: Path) -> list[str]:
    """``--update``: add the (setting, method) results of the earlier report at ``out`` that this invocation did
    not produce; returns their names.  The earlier report must have the same options (refused otherwise)."""
    earlier = load_earlier_report(out, json_ready(base))
    kept = []
    for name, entry in earlier["settings"].items():
        if name not in settings:
            settings[name] = entry
            kept += [f"{name}/{m}" for m in entry["methods"] if m != "pixel_1nn"]
            continue
        if entry["methods"]["pixel_1nn"] != settings[name]["methods"]["pixel_1nn"]:
            raise ValueError(f"--update: {name} of {out} was tested on other tasks")
        for method, result in entry["methods"].items():
            if method not in settings[name]["methods"]:
                settings[name]["methods"][method] = result
                kept.append(f"{name}/{method}")
    order = [name for name, _, _ in SETTINGS + (TWENTY_WAY,)]
    methods_order = [*METHODS, "pixel_1nn"]
    ordered = {name: {**settings[name], "methods": {m: settings[name]["methods"][m] for m in methods_order
                                                     if m in settings[name]["methods"]}}
               for name in sorted(settings, key=order.index)}
    settings.clear()
    settings.update(ordered)
    for run in kept:
        per_run_seconds.setdefault(run, earlier["wall_clock_seconds"]["train_plus_eval_per_run"].get(run))
    produced = {f"{name}/{m}" for name, entry in settings.items() for m in entry["methods"]}
    not_run[:] = [run for run in dict.fromkeys(not_run + earlier.get("not_run", [])) if run not in produced]
    return kept


@dataclass
class Args:
    base: Annotated[BaseConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=BaseConfig)
    run_dir: Path = ROOT / "runs" / "bench_glyphs"
    """Folder of the checkpoints of every (setting, method) run."""
    out: Path = ROOT / "reproductions" / "maml2017" / "results" / "glyphs.json"
    """Output JSON file (the PNG goes beside it)."""
    resume: bool = True
    """Continue the runs found in --run-dir (--no-resume: fail if it already holds checkpoints)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""
    twenty_way: bool = False
    """Also run 20-way 1-shot (App. A.1: 5 inner steps of alpha 0.1; several times slower)."""
    finished_only: bool = False
    """Train nothing: report the (setting, method) runs already finished in --run-dir and list the others under
    'not_run' (to publish a partial benchmark honestly)."""
    methods: tuple[Literal["maml", "fomaml"], ...] = ("maml", "fomaml")
    """MAML variants to train; pixel 1-NN is always evaluated."""
    settings: tuple[Literal["5way_1shot", "5way_5shot", "20way_1shot"], ...] | None = None
    """Settings to run; None = the 5-way ones, plus 20-way with --twenty-way."""
    update: bool = False
    """Keep the (setting, method) results of the existing --out JSON that this invocation does not produce, e.g.
    '--settings 5way_5shot --methods fomaml --update' adds one run; the other options must match the existing
    JSON."""
    torch_threads: int = 1
    """torch CPU threads."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    base = args.base
    torch.set_num_threads(args.torch_threads)
    settings_to_run = SETTINGS + ((TWENTY_WAY,) if args.twenty_way else ())
    if args.settings is not None:
        settings_to_run = tuple(entry for entry in SETTINGS + (TWENTY_WAY,) if entry[0] in args.settings)

    start = time.perf_counter()
    run_dir = Path(args.run_dir)
    settings: dict[str, dict] = {}
    per_run_seconds: dict[str, float] = {}
    not_run: list[str] = []
    for name, n_way, k_shot in settings_to_run:
        entry: dict = {"n_way": n_way, "k_shot": k_shot, "methods": {}}
        nn = None
        for method in args.methods:
            cfg = replace(base, n_way=n_way, k_shot=k_shot, first_order=METHODS[method])
            if args.finished_only and not (run_dir / name / method / RESULT_NAME).exists():
                not_run.append(f"{name}/{method}")
                continue
            result = run_fewshot(cfg, run_dir / name / method, resume=args.resume, progress_bar=args.progress)
            entry["methods"][method] = summarize_run(result)
            per_run_seconds[f"{name}/{method}"] = round(result["train_seconds"] + result["eval_seconds"], 1)
            if nn is not None and nn != result["nearest_neighbour"]:
                raise RuntimeError(f"{name}: the methods were not tested on the same tasks ({nn} vs "
                                   f"{result['nearest_neighbour']})")
            nn = result["nearest_neighbour"]
            entry.setdefault("dataset", result["dataset"])
        if nn is None:
            if args.finished_only:
                continue
            raise ValueError("no method to run: give at least one of --methods")
        entry["methods"]["pixel_1nn"] = nn
        entry["paper_omniglot_table1_maml"] = PAPER_TABLE1_OMNIGLOT.get(name)
        settings[name] = entry
    if args.update:
        try:
            kept = merge_earlier_runs(settings, per_run_seconds, not_run, base, args.out)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(str(exc)) from None
    report = {
        "benchmark": "glyphs",
        "protocol": "MAML 5.2 / App. A.1 on held-out Glyphs classes; accuracy after the test-time steps, mean +- "
                    "95% Student-t CI over test tasks; headline = final model",
        "config": base,
        "settings": settings,
        "not_run": not_run,
        "design_calibration": DESIGN_CALIBRATION,
        "paper_omniglot_table1_percent": PAPER_TABLE1_OMNIGLOT,
        "wall_clock_seconds": {"this_invocation": round(time.perf_counter() - start, 1),
                               "train_plus_eval_per_run": per_run_seconds,
                               **({"kept_from_earlier_run": kept} if args.update else {})},
        "machine": machine_info(),
    }
    out = args.out
    write_json(out, report)
    plot(settings, out.with_suffix(".png"))
    for name, entry in settings.items():
        row = "  ".join(f"{m} {100 * e['accuracy']:.1f} ± {100 * (e['ci95'] or 0):.1f}%"
                        for m, e in entry["methods"].items())
        print(f"{name:>12}: {row}")
    print(f"wrote {out}")
    return json.loads(out.read_text())


if __name__ == "__main__":
    main()
