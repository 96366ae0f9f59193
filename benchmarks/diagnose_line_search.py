"""Why the TRPO meta-step's line search backtracks: KL and surrogate along the backtracking path.

For a trained MAML-TRPO checkpoint, sample ``--batches`` fresh meta-batches and, for each, compute the TRPO step
(CG on the Fisher-vector products of a fraction of the tasks, as ``fvp_subsample``; one direction per fraction
in ``--fvp-fractions``) and evaluate the true mean KL and the surrogate improvement at every candidate
θ0 + 0.8^k Δθ of the backtracking line search (Schulman et al. 2015, App. C; MAML App. A.2).  The quadratic
model puts the full step at KL = max_kl; a full-step KL well above max_kl means the Fisher-vector products
underestimate the curvature along the step (e.g. a subsample of the tasks) or the KL of the adapted policies is
far from quadratic.  The first candidate with KL ≤ max_kl and a positive improvement is what training accepts.

Example::

    python benchmarks/diagnose_line_search.py --checkpoint checkpoints/maml_nav2d_original_settings.pt \\
        --batches 3 --out benchmarks/results/line_search_nav2d.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.maml_trpo import MAMLTRPO  # noqa: E402
from agents.training import load_agent  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.optim import backtracking_line_search, flatten, trpo_step_direction  # noqa: E402
from metarl.progress import progress  # noqa: E402


def backtracking_path(agent: MAMLTRPO, batch, fraction: float, candidates: int) -> dict:
    """The TRPO direction from Fisher-vector products on ``fraction`` of ``batch``'s tasks, and the true KL /
    surrogate improvement at each of the first ``candidates`` line-search points."""
    cfg = agent.config
    theta0 = flatten(agent._params()).detach()
    theta = theta0.clone().requires_grad_(True)
    loss0, _ = agent.meta_objective(batch, theta)
    grad = torch.autograd.grad(loss0, theta)[0]
    start = time.perf_counter()
    fvp = agent.make_kl_fvp(agent.fvp_batch(batch, fraction), theta0)
    direction = trpo_step_direction(grad, fvp, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters)
    seconds = time.perf_counter() - start
    steps, losses, kls = [], [], []
    for k in range(candidates):
        step = cfg.ls_backtrack_ratio**k
        loss, kl = agent.meta_objective(batch, (theta0 + step * direction.full_step).detach())
        steps.append(step)
        losses.append(loss.item())
        kls.append(kl.item())
    # the point training would accept: the line search itself, replayed on the values measured above
    measured = iter(zip(losses, kls))
    search = backtracking_line_search(
        theta0, direction.full_step, direction.expected_improve, lambda _: next(measured), max_kl=cfg.max_kl,
        ratio=cfg.ls_backtrack_ratio, max_steps=candidates, loss0=loss0.item(),
    )
    accepted = search.step_fraction if search.accepted else None
    return {
        "fvp_fraction": fraction,
        "step_fractions": steps,
        "kl": kls,
        "surrogate_improvement": [loss0.item() - loss for loss in losses],
        "expected_improvement_full_step": direction.expected_improve,
        "accepted_step_fraction": accepted,
        "full_step_kl_over_max_kl": kls[0] / cfg.max_kl,
        "direction_seconds": round(seconds, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="MAML-TRPO checkpoint (best.pt / last.pt / checkpoints/*.pt)")
    parser.add_argument("--batches", type=int, default=3, help="fresh meta-batches to examine (default: 3)")
    parser.add_argument("--fvp-fractions", type=float, nargs="+", default=[0.25, 1.0],
                        help="fractions of the tasks for the Fisher-vector products (default: 0.25 1.0)")
    parser.add_argument("--candidates", type=int, default=10,
                        help="line-search points evaluated per direction (default: 10; training tries up to 15)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error(f"--batches must be >= 1, got {args.batches}")
    if args.candidates < 1:
        parser.error(f"--candidates must be >= 1, got {args.candidates}")
    bad = [f for f in args.fvp_fractions if not 0 < f <= 1]
    if bad:
        parser.error(f"--fvp-fractions must lie in (0, 1], got {bad}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    agent = load_agent(args.checkpoint)
    rows = []
    try:
        for b in progress(range(args.batches), desc="meta-batches"):
            batch = agent.collect()
            for fraction in args.fvp_fractions:
                rows.append({"batch": b, **backtracking_path(agent, batch, fraction, args.candidates)})
    finally:
        agent.close()
    summary = {}
    for fraction in args.fvp_fractions:
        mine = [r for r in rows if r["fvp_fraction"] == fraction]
        accepted = [r["accepted_step_fraction"] or 0.0 for r in mine]
        summary[str(fraction)] = {
            "mean_accepted_step_fraction": float(np.mean(accepted)),
            "mean_full_step_kl_over_max_kl": float(np.mean([r["full_step_kl_over_max_kl"] for r in mine])),
            "mean_direction_seconds": float(np.mean([r["direction_seconds"] for r in mine])),
        }
    report = {
        "benchmark": "line_search_diagnostic",
        "checkpoint": args.checkpoint,
        "env_id": agent.config.env_id,
        "max_kl": agent.config.max_kl,
        "hvp": agent.config.hvp,
        "iteration": agent.iteration,
        "summary": summary,
        "batches": rows,
    }
    write_json(args.out, report)
    for fraction, s in summary.items():
        print(f"FVP on {float(fraction):.0%} of the tasks: full-step KL = {s['mean_full_step_kl_over_max_kl']:.2f} x "
              f"max_kl, accepted step fraction {s['mean_accepted_step_fraction']:.2f}")
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
