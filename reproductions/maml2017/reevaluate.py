"""Re-evaluate the canonical MAML-TRPO checkpoints and compare the curves with earlier evaluations of the same
checkpoints (same held-out tasks, seeds and protocol).

Used to show that the library/reproduction split changed no number: ``--before DIR`` holds the curves written by
the pre-split code (commit c5a168e, ``examples/evaluate.py --out DIR/<label>_<task set>.json``), and every curve is
also compared with the one stored in the checkpoint's per-seed result file::

    python -m reproductions.maml2017.reevaluate --before /path/to/before \
        --out reproductions/maml2017/results/reevaluation_today.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from metarl.jsonio import write_json
from reproductions.maml2017.evaluate import evaluate_checkpoint

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "reproductions" / "maml2017" / "results"

#: label -> (checkpoint, per-seed result file whose curves were stored when it was trained)
CANONICAL: dict[str, tuple[str, str]] = {
    **{f"nav2d_seed{s}": (f"checkpoints/maml_nav2d_original_code_fd_maml_eps_seed{s}.pt",
                          f"maml_nav2d_original_code_fd_maml_eps_seed{s}.json") for s in range(1, 7)},
    **{f"cheetah_dir_seed{s}": (f"checkpoints/maml_cheetah_dir_fd_central_seed{s}.pt",
                                f"maml_cheetah_dir_fd_central_seed{s}.json") for s in (1, 2, 3, 4, 6, 7)},
    "cheetah_vel": ("checkpoints/maml_cheetah_vel_original_code_900.pt", "maml_cheetah_vel_original_code_900.json"),
}


def stored_curve(result_file: str, task_set: str) -> list[float] | None:
    data = json.loads((RESULTS / result_file).read_text())
    if task_set == "sampled":
        return data["mean"]
    extra = data.get("extra_evaluations", {}).get("original_tasks")
    return extra["mean"] if extra else None


@dataclass
class Args:
    before: Path | None = None
    """Folder of the pre-split evaluations (<label>_<task set>.json); None = compare with the stored curves only."""
    only: tuple[str, ...] | None = None
    """Labels to evaluate (e.g. nav2d_seed1 cheetah_vel); None = all."""
    out: Path = RESULTS / "reevaluation_today.json"
    """Output JSON file."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    unknown = [label for label in args.only or () if label not in CANONICAL]
    if unknown:
        raise SystemExit(f"--only: unknown label(s) {' '.join(unknown)}; choose from {' '.join(CANONICAL)}")
    rows = []
    for label, (checkpoint, result_file) in CANONICAL.items():
        if args.only and label not in args.only:
            continue
        for task_set in ("sampled", "original"):
            curve = evaluate_checkpoint(ROOT / checkpoint, task_set, show_progress=False)
            after = curve["mean"]
            before = None
            if args.before:
                path = args.before / f"{label}_{task_set}.json"
                before = json.loads(path.read_text())["mean"] if path.exists() else None
            stored = stored_curve(result_file, task_set)
            row = {"label": label, "checkpoint": checkpoint, "task_set": task_set, "after_split": after,
                   "after_split_ci95": curve["ci95"],
                   "before_split": before, "stored": stored,
                   "identical_to_before": before == after if before is not None else None,
                   "identical_to_stored": stored == after if stored is not None else None}
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("label", "task_set", "identical_to_before", "identical_to_stored")}),
                  flush=True)
    report = {"what": "canonical MAML-TRPO checkpoints re-evaluated after the library/reproduction split",
              "protocol": "reproductions.maml2017.evaluate.evaluate_checkpoint: 40 tasks, seed 12345, the "
                          "checkpoint's preset protocol; 'original' = the original test scripts' goals",
              "before_code": "commit c5a168e (examples/evaluate.py)", "rows": rows}
    write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
