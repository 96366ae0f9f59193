"""Seconds per MAML-TRPO meta-iteration with the paper's 2D-navigation config, split by phase.

Paper config (MAML App. A.2): 20 tasks x 20 rollouts x 100 steps, one inner REINFORCE step, TRPO meta-step with
10 CG iterations; one row per Hessian-vector product kind (``--hvp``), sampler worker count and output-layer
implementation (``--output-layer both`` measures what the policy's narrow output-layer Function buys).  Measured
after ``--warmup`` iterations, averaged over ``--iterations``.  Writes ``benchmarks/results/maml_trpo_speed.json``.
The JSON's ``machine.malloc_tuning`` says whether :mod:`metarl.malloc_tuning` was applied: it is opted into
explicitly (``--malloc-tuning on``, the default); ``--malloc-tuning off`` measures without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium  # noqa: E402
import torch  # noqa: E402

import metarl  # noqa: E402
from agents.maml_trpo import HVP_KINDS, MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from metarl import malloc_tuning  # noqa: E402
from metarl.rl import policy as policy_module  # noqa: E402

PHASES = ("time/sampling", "time/sampling_env", "time/sampling_policy", "time/inner_adaptation",
          "time/meta_step", "time/iteration")


def config_description(env_id: str) -> str:
    """The measured batch, e.g. ``paper (App. A.2): 20 tasks x 20 rollouts x 100 steps, 1 inner step, 10 CG
    iterations`` for MetaNav2D (MAMLTRPOConfig's defaults for the env, which are the paper's)."""
    cfg = MAMLTRPOConfig(env_id=env_id)
    horizon = gymnasium.spec(env_id).max_episode_steps
    return (f"paper (App. A.2): {cfg.meta_batch_size} tasks x {cfg.fast_batch_size} rollouts x {horizon} steps, "
            f"{cfg.num_steps} inner step{'s' if cfg.num_steps != 1 else ''}, {cfg.cg_iters} CG iterations")


def measure(env_id: str, workers: int, iterations: int, warmup: int, hvp: str, seed: int,
            narrow_output: bool = True) -> dict:
    """Mean seconds per phase over ``iterations`` meta-iterations after ``warmup`` unmeasured ones."""
    policy_module.NARROW_OUTPUT_GRADIENT = narrow_output
    agent = MAMLTRPO(MAMLTRPOConfig(env_id=env_id, workers=workers, hvp=hvp, seed=seed))
    try:
        for _ in range(warmup):
            agent.step()
        rows = [agent.step() for _ in range(iterations)]
    finally:
        agent.close()
        policy_module.NARROW_OUTPUT_GRADIENT = True
    out = {key.split("/")[1]: statistics.mean(r[key] for r in rows) for key in PHASES}
    out["iteration_std"] = statistics.pstdev(r["time/iteration"] for r in rows)
    out["workers"] = workers
    out["hvp"] = hvp
    out["output_layer_function"] = narrow_output
    out["iterations_measured"] = iterations
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-id", default="MetaNav2D-v0", help="env to time (default: MetaNav2D-v0)")
    parser.add_argument("--iterations", type=int, default=5, help="measured meta-iterations per setting (default: 5)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured meta-iterations first (default: 2)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="sampler worker counts (default: 1 2)")
    parser.add_argument("--hvp", nargs="+", default=["fd", "fd-forward", "gn", "gn-bf16"], choices=HVP_KINDS,
                        help="Hessian-vector products (MAMLTRPOConfig.hvp): fd (central differences, the paper's), "
                             "fd-forward, exact (double backprop), gn (Gauss-Newton), gn-bf16 (gn in bfloat16) "
                             "(default: fd fd-forward gn gn-bf16)")
    parser.add_argument("--output-layer", choices=("function", "autograd", "both"), default="function",
                        help="the policy's output layer: 'function' (the narrow weight-gradient Function, the "
                             "library's), 'autograd' (plain baddbmm) or 'both', to measure what the Function buys "
                             "(default: function)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--malloc-tuning", choices=["on", "off"], default="on",
                        help="glibc malloc tuning (metarl.malloc_tuning.keep_freed_memory) while measuring (default: on)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "maml_trpo_speed.json"),
                        help="output JSON path")
    args = parser.parse_args(argv)
    layers = {"function": [True], "autograd": [False], "both": [True, False]}[args.output_layer]
    # opted into explicitly (import metarl never tunes malloc); once applied it lasts for the process
    if args.malloc_tuning == "off" and malloc_tuning.status == "applied":
        parser.error("--malloc-tuning off: the tuning is already applied in this process; measure in a fresh one")
    malloc_status = malloc_tuning.keep_freed_memory() if args.malloc_tuning == "on" else "off (--malloc-tuning off)"
    results = [
        measure(args.env_id, w, args.iterations, args.warmup, hvp, args.seed, narrow)
        for hvp in args.hvp
        for narrow in layers
        for w in args.workers
    ]
    for row in results:
        print(json.dumps(row))
    report = {
        "benchmark": "maml_trpo_speed",
        "env_id": args.env_id,
        "config": config_description(args.env_id),
        "target_seconds_per_iteration": 2.0,
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "metarl": metarl.__version__,
            # metarl.malloc_tuning: "applied", or why not (--malloc-tuning off, METARL_MALLOC_TUNING=0, ...)
            "malloc_tuning": malloc_status,
            "processor": platform.processor() or platform.machine(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
