"""Paired difference of two MAML-TRPO settings over the training seeds both were run with.

Two settings trained on the same seeds share the seed's luck (task draws, initial policy, rollout noise), so
their per-seed difference has far less spread than either curve over seeds: on half-cheetah direction the step-1
return spans 76-366 over seeds, the fd − gn difference on the same seeds ±37.  This script reads two
``aggregate_seeds.py`` files (``seeds_*.json``, or single ``reproduce_maml`` result files via ``--a-runs`` /
``--b-runs``), pairs the curves by training seed, and writes the per-seed difference A − B after every step and
its mean ± 95% CI over the paired seeds (Student t, n − 1 degrees of freedom), with the training-config entries in
which A and B differ (what the comparison is about) — refusing pairs whose env or evaluation protocol differ.
Nothing is re-run.

    python benchmarks/paired_seed_difference.py --name paired_cheetah_dir_fd_forward_vs_gn \\
        --a benchmarks/results/seeds_cheetah_dir_fd_forward.json \\
        --b benchmarks/results/seeds_cheetah_dir_rllab_obs_only.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.maml_trpo import stored_fd_eps, stored_fd_scheme  # noqa: E402
from benchmarks.aggregate_seeds import (  # noqa: E402
    PER_RUN_KEYS,
    PROTOCOL_KEYS,
    aggregate,
    evaluation_protocol,
    write_result,
)
from metarl.stats import summarize_curve  # noqa: E402


def seed_curves(data: dict[str, Any]) -> dict[int, list[float]]:
    """``{training seed: curve}`` of a seed aggregate (``per_seed``) or of one result file (its ``config.seed``)."""
    if "per_seed" in data:
        return {int(seed): list(curve) for seed, curve in data["per_seed"].items()}
    return {int(data["config"]["seed"]): list(data["mean"])}


def stored_training_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the settings it was written without filled in with what the run used: the finite
    difference and its step (:func:`~agents.maml_trpo.stored_fd_scheme`, :func:`~agents.maml_trpo.stored_fd_eps`)
    and ``batch='episodes'`` (the only mode before the key existed)."""
    return {**config, "batch": config.get("batch") or "episodes", "fd_scheme": stored_fd_scheme(config),
            "fd_eps": stored_fd_eps(config)}


def paired_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """A − B per shared training seed and its mean ± 95% CI over those seeds.

    :param a: a seed aggregate (or one result file) of setting A.
    :param b: the same for setting B.
    :raises ValueError: different envs, steps or evaluation protocols, or fewer than two shared seeds.
    """
    for key in ("env_id", "steps"):
        if a.get(key) != b.get(key):
            raise ValueError(f"A and B differ in {key}: {a.get(key)!r} vs {b.get(key)!r}")
    protocol_a, protocol_b = evaluation_protocol(a["evaluation"]), evaluation_protocol(b["evaluation"])
    for key in PROTOCOL_KEYS:
        if protocol_a.get(key) != protocol_b.get(key):
            raise ValueError(f"A and B were evaluated differently: evaluation.{key} "
                             f"{a['evaluation'].get(key)!r} vs {b['evaluation'].get(key)!r}")
    curves_a, curves_b = seed_curves(a), seed_curves(b)
    shared = sorted(set(curves_a) & set(curves_b))
    if len(shared) < 2:
        raise ValueError(f"need at least two training seeds run with both settings; shared: {shared} "
                         f"(A: {sorted(curves_a)}, B: {sorted(curves_b)})")
    differences = {seed: [x - y for x, y in zip(curves_a[seed], curves_b[seed])] for seed in shared}
    summary = summarize_curve(list(differences.values()))
    # the settings each was trained with (old configs lack some keys, or store "central" on gn/exact products)
    config_a, config_b = stored_training_settings(a["config"]), stored_training_settings(b["config"])
    differs = {key: [config_a.get(key), config_b.get(key)]
               for key in sorted(set(config_a) | set(config_b))
               if key not in PER_RUN_KEYS and config_a.get(key) != config_b.get(key)}
    if a.get("evaluated_checkpoint") != b.get("evaluated_checkpoint"):
        differs["evaluated_checkpoint"] = [a.get("evaluated_checkpoint"), b.get("evaluated_checkpoint")]
    return {
        "env_id": a["env_id"],
        "steps": a["steps"],
        "seeds": shared,
        "settings_a_vs_b": differs,
        "evaluation": {k: a["evaluation"].get(k) for k in PROTOCOL_KEYS},
        "mean_a": summarize_curve([curves_a[s] for s in shared])["mean"],
        "mean_b": summarize_curve([curves_b[s] for s in shared])["mean"],
        "per_seed_difference": {str(seed): diff for seed, diff in differences.items()},
        "mean_difference": summary["mean"],
        "ci95_over_seeds": summary["ci95"],
    }


def _load_runs(paths: list[Path]) -> dict[str, Any]:
    """One setting's result files (one per seed) as a seed aggregate, through aggregate_seeds's checks."""
    if len(paths) == 1:
        return json.loads(paths[0].read_text())
    return aggregate({str(p): json.loads(p.read_text()) for p in paths})


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="writes benchmarks/results/<name>.json")
    for side in ("a", "b"):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(f"--{side}", type=Path, help=f"seed aggregate (seeds_*.json) of setting {side.upper()}")
        group.add_argument(f"--{side}-runs", type=Path, nargs="+",
                           help=f"reproduce_maml result files of setting {side.upper()}, one per training seed")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results",
                        help="directory of the output JSON (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if not args.name or Path(args.name).name != args.name:
        parser.error(f"--name must be a file name without folders (use --out-dir for the folder); got {args.name!r}")
    sides = {}
    for side in ("a", "b"):
        paths = [getattr(args, side)] if getattr(args, side) is not None else getattr(args, f"{side}_runs")
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            parser.error(f"files not found: {', '.join(missing)}")
        try:
            sides[side] = {"files": [str(p) for p in paths], "data": _load_runs(paths)}
        except ValueError as err:
            parser.error(f"setting {side.upper()}: {err}")
    try:
        result = paired_difference(sides["a"]["data"], sides["b"]["data"])
    except ValueError as err:
        parser.error(str(err))
    result = {"files_a": sides["a"]["files"], "files_b": sides["b"]["files"], **result}
    return write_result(args.out_dir, args.name, result,
                        ("seeds", "settings_a_vs_b", "mean_difference", "ci95_over_seeds"))


if __name__ == "__main__":
    main()
