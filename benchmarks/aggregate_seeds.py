"""Mean over training seeds of MAML-TRPO adaptation curves, from ``benchmarks/reproduce_maml.py`` result files.

One training seed says little about a method: on MetaNav2D two runs with the same settings can end 10 return
apart after three steps.  This script reads the result JSON of each seed (same env, same training settings
apart from the seed, same evaluation protocol — checked, naming the first field that differs), and writes one
JSON with every seed's curve and the mean ± 95% CI *over seeds* (Student t, n = number of seeds; each seed's
value is already its mean over the same held-out tasks).  Nothing is re-run.

    python benchmarks/aggregate_seeds.py --name seeds_nav2d_original_code_zeros \\
        benchmarks/results/maml_nav2d_original_code_zeros_seed{1,2,3,4}.json

``--evaluation LABEL`` aggregates each file's further evaluation ``extra_evaluations[LABEL]`` (e.g. the same
checkpoints on the original code's held-out tasks) instead of its main one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metarl.jsonio import write_json  # noqa: E402
from metarl.stats import summarize_curve  # noqa: E402

PER_RUN_KEYS = ("seed", "workers")
"""Training-config entries that may differ between the seeds' runs (the sampler gives the same rollouts for any
worker count)."""
PROTOCOL_KEYS = ("num_steps", "step_sizes", "gamma", "gae_lambda", "seed", "batch", "num_tasks", "rollouts_per_task",
                 "task_set")
"""Evaluation settings that must agree across seeds (``seed`` is the held-out tasks' seed, not the training's)."""
PROTOCOL_DEFAULTS = {"batch": "episodes", "task_set": "sampled"}
"""What an evaluation written before a protocol key existed ran with (its default then and now)."""


def evaluation_protocol(evaluation: dict[str, Any]) -> dict[str, Any]:
    """``evaluation`` with the keys it was written without filled in from :data:`PROTOCOL_DEFAULTS`."""
    return {**PROTOCOL_DEFAULTS, **{k: v for k, v in evaluation.items() if v is not None}}


def _first_difference(name: str, reference: dict[str, Any], other: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if reference.get(key) != other.get(key):
            return f"{name}.{key}: {reference.get(key)!r} vs {other.get(key)!r}"
    return None


def as_main_evaluation(result: dict[str, Any], label: str, path: str = "result") -> dict[str, Any]:
    """``result`` with its further evaluation ``extra_evaluations[label]`` in place of the main one (curve,
    protocol, evaluated checkpoint), so that :func:`aggregate` checks and averages it like a main evaluation.

    :raises ValueError: if the file has no such evaluation, or one recorded before its protocol was stored.
    """
    extra = result.get("extra_evaluations", {}).get(label)
    if extra is None:
        raise ValueError(f"{path} has no further evaluation {label!r} (it has {sorted(result.get('extra_evaluations', {}))})")
    if "evaluation" not in extra:
        raise ValueError(f"{path}: evaluation {label!r} was collected before its protocol was kept; collect it again "
                         "with benchmarks/reproduce_maml.py")
    checkpoint, committed = extra.get("checkpoint"), result.get("checkpoint")
    if checkpoint is None or (committed is not None and Path(checkpoint).name == Path(committed).name):
        evaluated = result.get("evaluated_checkpoint")  # the committed copy of the main evaluation's checkpoint
    else:
        evaluated = Path(checkpoint).name  # e.g. last.pt or best.pt in the run dir
    return {**result, "mean": extra["mean"], "ci95": extra["ci95"], "evaluation": extra["evaluation"],
            "evaluated_checkpoint": evaluated}


def aggregate(results: dict[str, dict[str, Any]], evaluation: str | None = None) -> dict[str, Any]:
    """The seed aggregate of result files ``{path: result}`` (see the module docstring); of their further
    evaluation labelled ``evaluation`` when given.

    :raises ValueError: fewer than two files, two files of the same training seed, or a setting that differs
        (env, training config apart from ``seed``/``workers``, evaluation protocol, evaluated checkpoint).
    """
    if evaluation is not None:
        results = {path: as_main_evaluation(r, evaluation, path) for path, r in results.items()}
    if len(results) < 2:
        raise ValueError(f"need at least two result files to aggregate seeds; got {len(results)}")
    items = list(results.items())
    ref_path, ref = items[0]
    train_keys = tuple(k for k in ref["config"] if k not in PER_RUN_KEYS)
    seeds: list[int] = []
    for path, r in items:
        problem = (
            _first_difference("result", ref, r, ("env_id", "evaluated_checkpoint", "iterations"))
            or _first_difference("config", ref["config"], r["config"], train_keys)
            or _first_difference(
                "evaluation", evaluation_protocol(ref["evaluation"]), evaluation_protocol(r["evaluation"]), PROTOCOL_KEYS
            )
        )
        if problem is not None:
            raise ValueError(f"{path} does not match {ref_path}: {problem}")
        seed = int(r["config"]["seed"])
        if seed in seeds:
            raise ValueError(f"{path}: training seed {seed} appears twice")
        seeds.append(seed)
    per_seed = {str(seed): r["mean"] for seed, (_, r) in zip(seeds, items)}
    summary = summarize_curve([r["mean"] for _, r in items])
    return {
        "env_id": ref["env_id"],
        "seeds": seeds,
        "files": [str(Path(p)) for p, _ in items],
        "config": {k: ref["config"][k] for k in train_keys},
        "evaluation": {k: evaluation_protocol(ref["evaluation"]).get(k) for k in PROTOCOL_KEYS},
        "evaluated_checkpoint": ref.get("evaluated_checkpoint", "best.pt"),
        "iterations": ref["iterations"],
        "steps": ref["steps"],
        "per_seed": per_seed,
        "mean": summary["mean"],
        "ci95_over_seeds": summary["ci95"],  # finite: at least two seeds
        "paper_maml": ref.get("paper_maml"),
        **({"evaluation_label": evaluation} if evaluation is not None else {}),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path,
                        help="reproduce_maml result JSONs, one per training seed, same settings otherwise")
    parser.add_argument("--name", required=True,
                        help="benchmark name; writes benchmarks/results/<name>.json (start it with 'seeds_' so "
                             "make_readme.py lists it with the other seed aggregates)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results",
                        help="directory of the output JSON (default: benchmarks/results)")
    parser.add_argument("--evaluation", default=None, metavar="LABEL",
                        help="aggregate each file's further evaluation LABEL (its extra_evaluations entry, from "
                             "evaluation_LABEL.json in the run dir) instead of the main one")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.results if not p.exists()]
    if missing:
        parser.error(f"result files not found: {', '.join(missing)}")
    try:
        result = aggregate({str(p): json.loads(p.read_text()) for p in args.results}, args.evaluation)
    except ValueError as err:
        parser.error(str(err))
    return write_result(args.out_dir, args.name, result, ("seeds", "mean", "ci95_over_seeds", "paper_maml"))


def write_result(out_dir: Path, name: str, result: dict[str, Any], shown: tuple[str, ...]) -> dict[str, Any]:
    """Write ``{"benchmark": name, **result}`` to ``out_dir/<name>.json``, print its ``shown`` entries and the
    path, and return it (the end of this script and of ``paired_seed_difference.py``)."""
    result = {"benchmark": name, **result}
    out = out_dir / f"{name}.json"
    write_json(out, result)
    print(json.dumps({k: result[k] for k in shown}))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
