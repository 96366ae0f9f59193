"""Seconds per MAML-TRPO meta-iteration with the paper's 2D-navigation config, split by phase.

Paper config (MAML App. A.2): 20 tasks x 20 rollouts x 100 steps, one inner REINFORCE step, TRPO meta-step with
10 CG iterations; one row per Hessian-vector product kind (``--hvp``) and sampler worker count.  Measured
after ``--warmup`` iterations, averaged over ``--iterations``.  Writes ``benchmarks/results/maml_trpo_speed.json``.
``--overrides`` times another config (MAMLTRPOConfig fields as JSON on top of the env's defaults), e.g. a
reproduction's preset: ``reproductions/metaworld2019/README.md`` times Meta-World ML1 reach this way.
The JSON's ``machine.malloc_tuning`` says whether :mod:`metarl.malloc_tuning` was applied: it is opted into
explicitly (``--malloc-tuning``, the default); ``--no-malloc-tuning`` measures without it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium  # noqa: E402
import torch  # noqa: E402

import metarl  # noqa: E402
from agents.maml_trpo import HVP_KINDS, MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from metarl import malloc_tuning  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402

PHASES = ("time/sampling", "time/sampling_env", "time/sampling_policy", "time/inner_adaptation",
          "time/meta_step", "time/iteration")


def config_description(env_id: str, overrides: dict | None = None) -> str:
    """The measured batch, e.g. ``paper (App. A.2): 20 tasks x 20 rollouts x 100 steps, 1 inner step, 10 CG
    iterations`` for MetaNav2D (MAMLTRPOConfig's defaults for the env, which are the paper's); with ``overrides``
    it starts ``overrides {...}:`` and names the policy's hidden sizes too."""
    cfg = MAMLTRPOConfig(env_id=env_id, **(overrides or {}))
    horizon = gymnasium.spec(env_id).max_episode_steps
    label = f"overrides {json.dumps(overrides)}" if overrides else "paper (App. A.2)"
    policy = f", policy {tuple(cfg.hidden_sizes)}" if overrides else ""
    return (f"{label}: {cfg.meta_batch_size} tasks x {cfg.fast_batch_size} rollouts x {horizon} steps, "
            f"{cfg.num_steps} inner step{'s' if cfg.num_steps != 1 else ''}, {cfg.cg_iters} CG iterations{policy}")


def measure(env_id: str, workers: int, iterations: int, warmup: int, hvp: str, seed: int,
            overrides: dict | None = None) -> dict:
    """Mean seconds per phase over ``iterations`` meta-iterations after ``warmup`` unmeasured ones."""
    agent = MAMLTRPO(MAMLTRPOConfig(env_id=env_id, **{**(overrides or {}), "workers": workers, "hvp": hvp,
                                                      "seed": seed}))
    try:
        for _ in range(warmup):
            agent.step()
        rows = [agent.step() for _ in range(iterations)]
    finally:
        agent.close()
    out = {key.split("/")[1]: statistics.mean(r[key] for r in rows) for key in PHASES}
    out["iteration_std"] = statistics.pstdev(r["time/iteration"] for r in rows)
    out["workers"] = workers
    out["hvp"] = hvp
    out["iterations_measured"] = iterations
    return out


@dataclass
class Args:
    env_id: str = "MetaNav2D-v0"
    """Env to time (MAMLTRPOConfig's defaults for it, i.e. the paper's config)."""
    iterations: int = 5
    """Measured meta-iterations per setting."""
    warmup: int = 2
    """Unmeasured meta-iterations first."""
    workers: tuple[int, ...] = (1, 2)
    """Sampler worker counts, one row each."""
    hvp: tuple[str, ...] = ("fd", "fd-forward", "gn")
    """Hessian-vector products (MAMLTRPOConfig.hvp), one row each: fd (central differences, the paper's),
    fd-forward, exact (double backprop), gn (Gauss-Newton)."""
    seed: int = 0
    """Seed of the agent."""
    overrides: str = "{}"
    """MAMLTRPOConfig fields on top of the env's defaults, as a JSON object (e.g. '{"fast_batch_size": 10}')."""
    torch_threads: int | None = None
    """torch intra-op threads (None = torch's default, one per core)."""
    malloc_tuning: bool = True
    """glibc malloc tuning (metarl.malloc_tuning.keep_freed_memory) while measuring."""
    out: Path = ROOT / "benchmarks" / "results" / "maml_trpo_speed.json"
    """Output JSON file."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    unknown = [h for h in args.hvp if h not in HVP_KINDS]
    if unknown:
        raise SystemExit(f"--hvp: unknown {' '.join(unknown)}; choose from {' '.join(HVP_KINDS)}")
    # opted into explicitly (import metarl never tunes malloc); once applied it lasts for the process
    if not args.malloc_tuning and malloc_tuning.status == "applied":
        raise SystemExit("--no-malloc-tuning: the tuning is already applied in this process; measure in a fresh one")
    malloc_status = malloc_tuning.keep_freed_memory() if args.malloc_tuning else "off (--no-malloc-tuning)"
    overrides = json.loads(args.overrides)
    if not isinstance(overrides, dict):
        raise SystemExit(f"--overrides: not a JSON object: {args.overrides!r}")
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    results = [
        measure(args.env_id, w, args.iterations, args.warmup, hvp, args.seed, overrides)
        for hvp in args.hvp
        for w in args.workers
    ]
    for row in results:
        print(json.dumps(row))
    report = {
        "benchmark": "maml_trpo_speed",
        "env_id": args.env_id,
        "config": config_description(args.env_id, overrides),
        "target_seconds_per_iteration": 2.0,
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "metarl": metarl.__version__,
            # metarl.malloc_tuning: "applied", or why not (--no-malloc-tuning, METARL_MALLOC_TUNING=0, ...)
            "malloc_tuning": malloc_status,
            "processor": platform.processor() or platform.machine(),
        },
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
