"""Env-step throughput of the Meta-World ML1 adapter (``MetaWorldML1-*``) against Meta-World's own env.

Needs the ``metarl[metaworld]`` extra, which pins ``mujoco==3.3.0``: run it in ``.venv-metaworld`` (built by
``make test-metaworld``)::

    .venv-metaworld/bin/python benchmarks/bench_metaworld.py            # ~1 minute
    .venv-metaworld/bin/python benchmarks/bench_metaworld.py --quick    # seconds

One process steps one env (single-threaded, so one core); one env-step is one ``step`` call.  Methods, interleaved
in rounds as in ``bench_envs.py`` (best round, median round and best rate per process-CPU-second, the last least
sensitive to other processes on a shared machine):

- ``adapter``  ``gymnasium.make(id)``, i.e. :class:`envs.metaworld_ml1.MetaWorldML1Env` behind Gymnasium's
  ``TimeLimit``/``OrderEnforcing``/``PassiveEnvChecker`` wrappers, as a user or a sampler steps it;
- ``metaworld`` the bare Meta-World env (``metaworld.ML1(...).train_classes[name]`` with ``set_task``): the
  simulation alone, the bound for any wrapper.

Each round resets to the same ML1 train variation (task 0) and steps pre-drawn uniform random actions, so rounds
differ only in timing.  Results and machine info go to ``benchmarks/results/metaworld_env_speed.json``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MUJOCO_GL", "egl")

from bench_envs import _timed, interleaved_rates, machine_info  # noqa: E402

import envs  # noqa: E402, F401  (registers the ids)
from envs.metaworld_ml1 import import_metaworld  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "metaworld_env_speed.json"
#: the ids measured (reach: the simplest contact-free task; push: the puck adds contacts)
CASES: tuple[str, ...] = ("MetaWorldML1-reach-v3", "MetaWorldML1-push-v3")


class _Stepper:
    """Times ``len(actions)`` steps of one env after a reset to train variation 0 (the reset is not timed)."""

    def __init__(self, reset: Callable[[], Any], step: Callable[[np.ndarray], Any], actions: np.ndarray) -> None:
        self.reset, self.step, self.actions = reset, step, actions

    def __call__(self) -> tuple[float, float]:
        self.reset()
        step, actions = self.step, self.actions

        def run() -> None:
            for a in actions:
                step(a)

        return _timed(run)


def _methods(env_id: str, actions: np.ndarray) -> dict[str, _Stepper]:
    adapter = gym.make(env_id)
    task = adapter.unwrapped.train_tasks[0]
    metaworld = import_metaworld()
    name = adapter.unwrapped.env_name
    benchmark = metaworld.ML1(name, seed=0)
    bare = benchmark.train_classes[name]()
    bare.set_task(benchmark.train_tasks[0])
    bare.max_path_length = len(actions) + 1
    return {
        "adapter": _Stepper(lambda: adapter.reset(seed=0, options={"task": task}), adapter.step, actions),
        "metaworld": _Stepper(bare.reset, bare.step, actions),
    }


def bench_case(env_id: str, steps: int, rounds: int, seed: int) -> dict[str, Any]:
    """Interleave the methods for ``rounds`` rounds of ``steps`` env-steps each; return their rates."""
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(steps, 4)).astype(np.float32)
    rates = interleaved_rates(_methods(env_id, actions), rounds, steps)
    overhead = rates["adapter"]["steps_per_cpu_s"] / rates["metaworld"]["steps_per_cpu_s"]
    return {
        "env": env_id,
        "num_envs": 1,
        "steps_per_round": steps,
        "rounds": rounds,
        "methods": rates,
        "ratios": {"adapter_over_metaworld_cpu": overhead},
    }


@dataclass
class Args:
    """Measure env-steps/s of one Meta-World ML1 adapter env (reach-v3, push-v3) against the bare Meta-World env;
    write JSON with results and machine info."""

    quick: bool = False
    """Smoke run: 2 rounds of 100 steps."""
    rounds: int | None = None
    """Interleaved rounds per case; None = 5 (2 with --quick)."""
    steps: int | None = None
    """Env-steps per round and method; None = 500, one Meta-World episode (100 with --quick)."""
    seed: int = 0
    """Seed of the random actions."""
    out: Path = RESULTS
    """Output JSON file."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    steps = args.steps if args.steps is not None else (100 if args.quick else 500)
    if rounds < 1:
        raise SystemExit(f"--rounds: must be >= 1, got {rounds}")
    if steps < 1:
        raise SystemExit(f"--steps: must be >= 1, got {steps}")
    info = {**machine_info(), "metaworld": version("metaworld")}
    cases = []
    for env_id in CASES:
        case = bench_case(env_id, steps, rounds, args.seed)
        cases.append(case)
        rates = "  ".join(
            f"{k}={v['steps_per_s']:,.0f}/s ({v['steps_per_cpu_s']:,.0f}/cpu-s)" for k, v in case["methods"].items()
        )
        print(f"{env_id:28s} {rates}  adapter/metaworld={case['ratios']['adapter_over_metaworld_cpu']:.2f}", flush=True)
    info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {
        "description": (
            "env-steps per second of ONE env in one process (best interleaved round, wall clock; median and "
            "per-CPU-second rates too). adapter = gymnasium.make(MetaWorldML1-*) with Gymnasium's default "
            "wrappers; metaworld = the bare Meta-World env (the simulation alone)."
        ),
        "command": "python benchmarks/bench_metaworld.py" + (" --quick" if args.quick else ""),
        "machine": info,
        "settings": {"quick": args.quick, "rounds": rounds, "steps_per_round": steps, "seed": args.seed},
        "cases": cases,
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
