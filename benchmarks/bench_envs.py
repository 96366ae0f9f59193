"""Env-step throughput of the batched envs against Gymnasium's SyncVectorEnv and a raw MuJoCo loop.

Sampling dominates the cost of MAML-RL (Finn et al. 2017, App. A.2), so every env in :mod:`envs` has a batched
form.  This script measures env-steps per second (one env-step = one sub-env advanced by one step) for

- ``vector``          our batched env, ``gymnasium.make_vec(env_id, num_envs=B)`` (one thread),
- ``vector_threads``  the same with ``num_threads=2`` (MuJoCo envs; ``mj_step`` releases the GIL),
- ``sync``            ``gymnasium.make_vec(env_id, num_envs=B, vectorization_mode="sync")``: a SyncVectorEnv of
                      our single envs, each behind ``gymnasium.make``'s wrappers,
- ``raw_mj_step``     the limit: ``data.ctrl[:] = a; mujoco.mj_step(model, data, nstep=frame_skip)`` over B
                      ``MjData`` of one model, nothing else (MuJoCo envs),
- ``mujoco_batch``    the same physics through ``mujoco.batch.Batch(nthread=1)`` (MuJoCo envs; for reference),

for MetaNav2D-v0 at B in {1, 20, 400} and MetaCheetahVel-v0 / MetaAntVel-v0 at B in {1, 20, 80}.  Methods are
interleaved in rounds and each reports its best round (wall clock), its median round and its best rate per
process-CPU-second (less sensitive to other processes on a shared machine).  ``raw_over_sync`` is the bound on
``vector_over_sync`` for any single-threaded batched env (its physics alone): when the physics dominates the
SyncVectorEnv's per-env Python overhead (Ant: ~250-300 us of physics vs ~70-90 us of overhead per
env-step on this machine) a 2x speed-up needs more than one core.  Ants are built with
``terminate_when_unhealthy=False`` so no sub-env stops (done-stays-done would otherwise skip physics).  Actions are
drawn beforehand from a seeded generator; the timed loop only steps.  Results, ratios, targets and machine info go
to ``benchmarks/results/envs.json``.

Usage::

    python benchmarks/bench_envs.py            # full run (~2-3 minutes on 2 cores)
    python benchmarks/bench_envs.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402, F401  (registers the ids)
from envs.mujoco_batch import load_model  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "envs.json"
#: (env id, batch sizes, extra constructor kwargs)
CASES: tuple[tuple[str, tuple[int, ...], dict[str, Any]], ...] = (
    ("MetaNav2D-v0", (1, 20, 400), {}),
    ("MetaCheetahVel-v0", (1, 20, 80), {}),
    ("MetaAntVel-v0", (1, 20, 80), {"terminate_when_unhealthy": False}),
)
MUJOCO_XML = {"MetaCheetahVel-v0": "half_cheetah.xml", "MetaAntVel-v0": "ant.xml"}
FRAME_SKIP = 5
#: targets of the design brief
TARGET_VECTOR_OVER_RAW = 0.7
TARGET_VECTOR_OVER_SYNC = 2.0
TARGET_NAV_STEPS_PER_S = 1e6


def _timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


class _GymMethod:
    """Times ``steps`` calls of ``env.step`` on a Gymnasium vector env (reset before each round, not timed)."""

    def __init__(self, make: Callable[[], gym.vector.VectorEnv], actions: np.ndarray) -> None:
        self.env = make()
        self.actions = actions
        self.round = 0

    def __call__(self) -> tuple[float, float]:
        self.env.reset(seed=self.round)
        self.round += 1
        step, actions = self.env.step, self.actions

        def run() -> None:
            for a in actions:
                step(a)

        return _timed(run)

    def close(self) -> None:
        self.env.close()


class _RawMjStep:
    """``ctrl``-set + ``mj_step(model, data, nstep=frame_skip)`` over B ``MjData``: the physics alone."""

    def __init__(self, xml: str, num_envs: int, actions: np.ndarray, seed: int) -> None:
        self.model = load_model(xml)
        self.datas = [mujoco.MjData(self.model) for _ in range(num_envs)]
        self.actions = actions
        self.rng = np.random.default_rng(seed)

    def _reset(self) -> None:
        for data in self.datas:  # the envs' start-state noise, so contacts are comparable
            mujoco.mj_resetData(self.model, data)
            data.qpos[:] = self.model.qpos0 + self.rng.uniform(-0.1, 0.1, self.model.nq)
            data.qvel[:] = 0.1 * self.rng.standard_normal(self.model.nv)
            mujoco.mj_forward(self.model, data)

    def __call__(self) -> tuple[float, float]:
        self._reset()
        model, datas, actions, mj_step = self.model, self.datas, self.actions, mujoco.mj_step

        def run() -> None:
            for a in actions:
                for i, data in enumerate(datas):
                    data.ctrl[:] = a[i]
                    mj_step(model, data, nstep=FRAME_SKIP)

        return _timed(run)

    def close(self) -> None:
        pass


class _MujocoBatch:
    """The same physics through ``mujoco.batch.Batch`` with one thread (bit-identical to the loop)."""

    def __init__(self, xml: str, num_envs: int, actions: np.ndarray, seed: int) -> None:
        from mujoco import batch as mj_batch

        self.model = load_model(xml)
        self.batch = mj_batch.Batch(self.model, nsim=num_envs, nthread=1)
        self.qpos, self.qvel, self.ctrl = (
            self.batch.bind("qpos"),
            self.batch.bind("qvel"),
            self.batch.bind("ctrl"),
        )
        self.actions = actions
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> tuple[float, float]:
        self.batch.reset()
        n = self.qpos.shape[0]
        self.qpos[:] = self.model.qpos0 + self.rng.uniform(-0.1, 0.1, (n, self.model.nq))
        self.qvel[:] = 0.1 * self.rng.standard_normal((n, self.model.nv))
        self.batch.forward()
        batch, ctrl, actions = self.batch, self.ctrl, self.actions

        def run() -> None:
            for a in actions:
                ctrl[:] = a
                batch.step(nstep=FRAME_SKIP)

        return _timed(run)

    def close(self) -> None:
        pass


def _methods(
    env_id: str, num_envs: int, kwargs: dict[str, Any], actions: np.ndarray, seed: int
) -> dict[str, Any]:
    methods: dict[str, Any] = {
        "vector": _GymMethod(lambda: gym.make_vec(env_id, num_envs=num_envs, **kwargs), actions),
        "sync": _GymMethod(
            lambda: gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs), actions
        ),
    }
    if env_id in MUJOCO_XML:
        if num_envs > 1:
            methods["vector_threads"] = _GymMethod(
                lambda: gym.make_vec(env_id, num_envs=num_envs, num_threads=2, **kwargs), actions
            )
        methods["raw_mj_step"] = _RawMjStep(MUJOCO_XML[env_id], num_envs, actions, seed)
        methods["mujoco_batch"] = _MujocoBatch(MUJOCO_XML[env_id], num_envs, actions, seed)
    return methods


def interleaved_rates(
    methods: dict[str, Callable[[], tuple[float, float]]], rounds: int, env_steps: int
) -> dict[str, dict[str, float]]:
    """Run each method once to warm up, then all of them in turn for ``rounds`` rounds; per method, the rate of
    ``env_steps`` env-steps in its best round (``steps_per_s``), its median round and its best process-CPU-second
    round.  Each method returns ``(wall seconds, CPU seconds)`` of one round (:func:`_timed`)."""
    for method in methods.values():  # warm-up: allocations, lazy imports, first-touch of buffers
        method()
    walls: dict[str, list[float]] = {name: [] for name in methods}
    cpus: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, method in methods.items():
            wall, cpu = method()
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {
            "steps_per_s": env_steps / min(walls[name]),
            "steps_per_s_median": env_steps / statistics.median(walls[name]),
            "steps_per_cpu_s": env_steps / max(min(cpus[name]), 1e-9),
        }
        for name in methods
    }


def bench_case(
    env_id: str, num_envs: int, kwargs: dict[str, Any], env_steps: int, rounds: int, seed: int
) -> dict:
    """Interleave every method for ``rounds`` rounds of ``~env_steps`` env-steps each; return their rates."""
    probe = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    steps = max(5, min(env_steps // num_envs, (probe.unwrapped.max_episode_steps or 10**9)))
    low, high = probe.single_action_space.low, probe.single_action_space.high
    probe.close()
    rng = np.random.default_rng(seed)
    actions = rng.uniform(low, high, size=(steps, num_envs, low.shape[0])).astype(np.float32)
    methods = _methods(env_id, num_envs, kwargs, actions, seed)
    out = interleaved_rates(methods, rounds, steps * num_envs)
    for method in methods.values():
        method.close()
    return {"env": env_id, "num_envs": num_envs, "steps_per_round": steps, "rounds": rounds, "methods": out}


def _ratios(case: dict) -> dict[str, float]:
    m = case["methods"]
    ratios: dict[str, float] = {"vector_over_sync": m["vector"]["steps_per_s"] / m["sync"]["steps_per_s"]}
    if "raw_mj_step" in m:
        ratios["vector_over_raw"] = m["vector"]["steps_per_s"] / m["raw_mj_step"]["steps_per_s"]
        ratios["vector_over_raw_cpu"] = m["vector"]["steps_per_cpu_s"] / m["raw_mj_step"]["steps_per_cpu_s"]
        ratios["vector_over_sync_cpu"] = m["vector"]["steps_per_cpu_s"] / m["sync"]["steps_per_cpu_s"]
        ratios["mujoco_batch_over_raw"] = m["mujoco_batch"]["steps_per_s"] / m["raw_mj_step"]["steps_per_s"]
        # the most any single-threaded batched env can reach against sync: its physics alone (Amdahl's bound)
        ratios["raw_over_sync"] = m["raw_mj_step"]["steps_per_s"] / m["sync"]["steps_per_s"]
        if "vector_threads" in m:
            ratios["vector_threads_over_sync"] = m["vector_threads"]["steps_per_s"] / m["sync"]["steps_per_s"]
            ratios["vector_threads_over_raw"] = (
                m["vector_threads"]["steps_per_s"] / m["raw_mj_step"]["steps_per_s"]
            )
    return ratios


def _targets(cases: list[dict]) -> list[dict[str, Any]]:
    checks = []
    for case in cases:
        r, n = case["ratios"], case["num_envs"]
        if case["env"] in MUJOCO_XML and n >= 20:
            checks.append(
                {
                    "env": case["env"],
                    "num_envs": n,
                    "target": f"vector >= {TARGET_VECTOR_OVER_RAW} x raw",
                    "value": r["vector_over_raw"],
                    "met": r["vector_over_raw"] >= TARGET_VECTOR_OVER_RAW,
                }
            )
            best = max(r["vector_over_sync"], r.get("vector_threads_over_sync", 0.0))
            checks.append(
                {
                    "env": case["env"],
                    "num_envs": n,
                    "target": f"vector >= {TARGET_VECTOR_OVER_SYNC} x sync",
                    "value": r["vector_over_sync"],
                    "value_threads": r.get("vector_threads_over_sync"),
                    "single_thread_bound": r["raw_over_sync"],
                    "met": r["vector_over_sync"] >= TARGET_VECTOR_OVER_SYNC,
                    "met_with_threads": best >= TARGET_VECTOR_OVER_SYNC,
                }
            )
        if case["env"] == "MetaNav2D-v0" and n == 400:
            rate = case["methods"]["vector"]["steps_per_s"]
            checks.append(
                {
                    "env": case["env"],
                    "num_envs": n,
                    "target": "vector >= 1e6 env-steps/s",
                    "value": rate,
                    "met": rate >= TARGET_NAV_STEPS_PER_S,
                }
            )
    return checks


def machine_info() -> dict[str, Any]:
    import gymnasium

    model_name = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model_name,
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mujoco": mujoco.__version__,
        "gymnasium": gymnasium.__version__,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


@dataclass
class Args:
    """Measure env-steps/s of metarl's batched envs (MetaNav2D, MetaCheetahVel, MetaAntVel) against Gymnasium's
    SyncVectorEnv of the single envs and a raw mujoco.mj_step loop; write JSON with results, ratios, targets and
    machine info."""

    quick: bool = False
    """Smoke run: 2 short rounds per case (seconds)."""
    rounds: int | None = None
    """Interleaved rounds per case; None = 5 (2 with --quick)."""
    env_steps: int | None = None
    """Env-steps per round and method, i.e. steps x num_envs, capped at the horizon; None = 4000 (400 with
    --quick)."""
    seed: int = 0
    """Seed of the random actions and start states."""
    out: Path = RESULTS
    """Output JSON file."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    env_steps = args.env_steps if args.env_steps is not None else (400 if args.quick else 4000)
    if rounds < 1:
        raise SystemExit(f"--rounds: must be >= 1, got {rounds}")
    if env_steps < 1:
        raise SystemExit(f"--env-steps: must be >= 1, got {env_steps}")

    info = machine_info()
    cases = []
    for env_id, sizes, kwargs in CASES:
        for num_envs in sizes:
            case = bench_case(env_id, num_envs, kwargs, env_steps, rounds, args.seed)
            case["ratios"] = _ratios(case)
            cases.append(case)
            rates = "  ".join(f"{k}={v['steps_per_s']:,.0f}" for k, v in case["methods"].items())
            ratio_text = "  ".join(f"{k}={v:.2f}" for k, v in case["ratios"].items())
            print(f"{env_id:18s} B={num_envs:<4d} {rates}\n{'':25s}{ratio_text}", flush=True)
    info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {
        "description": (
            "env-steps per second (best interleaved round, wall clock; median and per-CPU-second rates too). "
            "vector = gymnasium.make_vec (our batched env), vector_threads = same with num_threads=2, "
            "sync = SyncVectorEnv of gymnasium.make single envs, raw_mj_step = ctrl + mj_step loop over B MjData, "
            "mujoco_batch = mujoco.batch.Batch(nthread=1).step."
        ),
        "machine": info,
        "settings": {
            "quick": args.quick,
            "rounds": rounds,
            "env_steps_per_round": env_steps,
            "seed": args.seed,
            "ant_kwargs": dict(CASES[2][2]),
        },
        "cases": cases,
        "targets": _targets(cases),
    }
    write_json(args.out, report)
    for check in report["targets"]:
        status = (
            "met" if check["met"] else ("met with 2 threads" if check.get("met_with_threads") else "NOT met")
        )
        bound = (
            f" (single-thread bound raw/sync = {check['single_thread_bound']:.3g})"
            if "single_thread_bound" in check
            else ""
        )
        print(
            f"target {check['env']} B={check['num_envs']}: {check['target']}: {check['value']:.3g} -> {status}{bound}"
        )
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
