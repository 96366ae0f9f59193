"""What the generic adapter costs: MetaNav2D-v0 batched natively vs through envs.task_vector_adapter.

A user's env has only a single form, so the library batches copies of it (:class:`envs.SyncTaskVectorEnv` in this
process, :class:`envs.AsyncTaskVectorEnv` over worker processes); the built-in envs have a native batched form
(MetaNav2D: all points in one numpy array).  Both are measured on the same env at the size MAML samples
(MAML paper App. A.2: 20 tasks x 20 rollouts = 400 copies, horizon 100):

- env-steps per second (one env-step = one copy advanced one step) of ``native`` (``gymnasium.make_vec``,
  done stays done), ``sync`` and ``async`` (the adapters, done stays done), and ``gymnasium_sync`` (Gymnasium's
  own SyncVectorEnv of the single env, autoreset NEXT_STEP: the reference for generic batching).  A round is one
  whole episode (reset untimed, then 100 timed steps of random actions drawn beforehand); rounds are interleaved,
  best and median reported;
- seconds per MAML-TRPO meta-iteration at the paper's MetaNav2D config (MAMLTRPOConfig defaults), by phase, with
  the native form and with the adapter (``MetaNav2DSingle-v0``: MetaNav2D's single env registered without a batched
  form), with 1 and ``--workers`` sampler processes.  Same seed, same data: the adapter's returns equal the
  native's (``return_before_adapt``).

Writes ``benchmarks/results/adapter_speed.json`` with the machine's description and load (pass ``--note`` to say
what else ran).

Usage::

    python benchmarks/bench_adapter.py --note "..."     # full run (~5 minutes on 2 cores)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium
import numpy as np
import tyro
from gymnasium.vector import AutoresetMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from benchmarks.bench_common import machine_info  # noqa: E402
from envs import make_task_vector_env  # noqa: E402
from metarl import malloc_tuning  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402

ENV_ID = "MetaNav2D-v0"
#: MetaNav2D's single env without its batched form, so the samplers batch it with the adapter (module:Id, so that
#: sampler worker processes register it too)
ADAPTER_ID = "benchmarks.bench_adapter:MetaNav2DSingle-v0"
if "MetaNav2DSingle-v0" not in gymnasium.registry:
    gymnasium.register("MetaNav2DSingle-v0", entry_point="envs.nav2d:MetaNav2DEnv", max_episode_steps=100)
RESULTS = ROOT / "benchmarks" / "results" / "adapter_speed.json"
PHASES = ("time/sampling", "time/sampling_env", "time/meta_step", "time/iteration")


@dataclass
class Args:
    """Env-steps/s and MAML-TRPO seconds per meta-iteration of MetaNav2D-v0: native batched form vs the generic
    adapter (sync, subprocess); JSON with machine info."""

    tasks: int = 20
    """Tasks per batch (the paper's MetaNav2D meta-batch)."""
    rollouts: int = 20
    """Rollouts per task (the paper's)."""
    rounds: int = 3
    """Interleaved env-step rounds (one 100-step episode each) per method."""
    workers: int = 2
    """Worker processes of the subprocess forms (AsyncTaskVectorEnv, sampler workers)."""
    iterations: int = 2
    """Measured MAML-TRPO meta-iterations per variant (0 skips them)."""
    warmup: int = 1
    """Unmeasured meta-iterations first."""
    seed: int = 0
    """Seed of the tasks, actions and agents."""
    torch_threads: int = 1
    """torch intra-op threads of the MAML-TRPO meta-step."""
    malloc_tuning: bool = True
    """glibc malloc tuning (metarl.malloc_tuning), as benchmarks/bench_maml_trpo_speed.py."""
    note: str = ""
    """What else ran on the machine (stored in the JSON's machine.note)."""
    out: Path = RESULTS
    """Output JSON file."""


def _env_methods(num_envs: int, workers: int) -> dict[str, gymnasium.vector.VectorEnv]:
    return {
        "native": make_task_vector_env(ENV_ID, num_envs, vectorization="native"),
        "sync": make_task_vector_env(ENV_ID, num_envs, vectorization="sync"),
        "async": make_task_vector_env(ENV_ID, num_envs, vectorization="async", workers=workers),
        "gymnasium_sync": gymnasium.make_vec(ENV_ID, num_envs, vectorization_mode="sync",
                                             vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP}),
    }


def bench_env_steps(args: Args) -> dict:
    """Best / median env-steps per second of each method over interleaved rounds of one episode."""
    num_envs = args.tasks * args.rollouts
    methods = _env_methods(num_envs, args.workers)
    horizon = gymnasium.spec(ENV_ID).max_episode_steps
    rng = np.random.default_rng(args.seed)
    tasks = methods["native"].unwrapped.sample_tasks(args.tasks, rng=rng)
    per_copy = [task for task in tasks for _ in range(args.rollouts)]
    actions = rng.uniform(-0.1, 0.1, size=(horizon, num_envs, 2))
    walls: dict[str, list[float]] = {name: [] for name in methods}
    try:
        for env in methods.values():
            env.unwrapped.set_attr("task", per_copy)  # every form takes per-copy tasks this way
        for r in range(args.rounds + 1):  # round 0 warms up
            for name, env in methods.items():
                env.reset(seed=args.seed + r)
                start = time.perf_counter()
                for a in actions:
                    env.step(a)
                if r > 0:
                    walls[name].append(time.perf_counter() - start)
    finally:
        for env in methods.values():
            env.close()
    steps = horizon * num_envs
    rates = {name: {"steps_per_s": steps / min(w), "steps_per_s_median": steps / statistics.median(w)}
             for name, w in walls.items()}
    native = rates["native"]["steps_per_s"]
    return {
        "num_envs": num_envs, "steps_per_round": horizon, "rounds": args.rounds, "methods": rates,
        "ratios": {f"native_over_{name}": native / rates[name]["steps_per_s"] for name in rates if name != "native"},
    }


def bench_maml(env_id: str, workers: int, args: Args) -> dict:
    """Mean seconds per phase over ``args.iterations`` meta-iterations after ``args.warmup``."""
    config = MAMLTRPOConfig(env_id=env_id, workers=workers, seed=args.seed, meta_batch_size=args.tasks,
                            fast_batch_size=args.rollouts)
    agent = MAMLTRPO(config)
    try:
        for _ in range(args.warmup):
            agent.step()
        rows = [agent.step() for _ in range(args.iterations)]
    finally:
        agent.close()
    out = {key.split("/")[1]: statistics.mean(r[key] for r in rows) for key in PHASES}
    out["iteration_std"] = statistics.pstdev(r["time/iteration"] for r in rows)
    out["return_before_adapt"] = [r["train/return_before_adapt"] for r in rows]
    return out


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    for name in ("tasks", "rollouts", "rounds", "workers", "torch_threads"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    torch.set_num_threads(args.torch_threads)
    malloc = malloc_tuning.keep_freed_memory() if args.malloc_tuning else "off (--no-malloc-tuning)"
    machine = {**machine_info(), "malloc_tuning": malloc, "note": args.note,
               "loadavg_start": list(os.getloadavg())}
    env_steps = bench_env_steps(args)
    rates = "  ".join(f"{k}={v['steps_per_s']:,.0f}" for k, v in env_steps["methods"].items())
    print(f"env-steps/s, {env_steps['num_envs']} copies: {rates}", flush=True)
    maml = []
    if args.iterations > 0:
        for form, env_id in (("native", ENV_ID), ("adapter", ADAPTER_ID)):
            for workers in sorted({1, args.workers}):
                row = {"form": form, "env_id": env_id, "workers": workers, **bench_maml(env_id, workers, args)}
                print(f"MAML-TRPO {form}, {workers} worker(s): {row['iteration']:.2f} s/iteration "
                      f"(sampling {row['sampling']:.2f} s, meta-step {row['meta_step']:.2f} s)", flush=True)
                maml.append(row)
    machine["loadavg_end"] = list(os.getloadavg())
    by = {(row["form"], row["workers"]): row["iteration"] for row in maml}
    report = {
        "benchmark": "adapter_speed",
        "env_id": ENV_ID,
        "description": (
            "MetaNav2D-v0 batched natively (one numpy array) vs by the generic adapter over copies of its single env "
            "(sync: in-process; async: worker processes). env_steps: env-steps/s over 100-step episodes of random "
            "actions (best / median of interleaved rounds, wall clock); gymnasium_sync = Gymnasium's SyncVectorEnv "
            "(autoreset NEXT_STEP) for reference. maml: seconds per MAML-TRPO meta-iteration by phase at the "
            "paper's MetaNav2D config, native vs adapter, 1 and more sampler worker processes."
        ),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(args).items() if k != "note"},
        "machine": machine,
        "env_steps": env_steps,
        "maml": maml,
        "maml_ratios": {f"adapter_over_native_{w}_workers": by[("adapter", w)] / by[("native", w)]
                        for (form, w) in by if form == "native" and ("adapter", w) in by},
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
