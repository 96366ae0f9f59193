"""Meta-iterations per second of supervised MAML on the sinusoid task: batched adapter vs a loop vs ``higher``.

The same network (MLP 1-40-40-1 ReLU, MAML 5.1), the same meta-batch (25 tasks, K = 10 support and 10 query
points, one inner step alpha = 0.01, Adam 1e-3 meta-step) and the same initial weights for every implementation:

  batched   metarl's SupervisedMetaLearner, batching="vmap": all 25 tasks adapted in one autograd call
  loop      the same learner with batching="loop": metarl.maml.adapt once per task, in a Python loop
  higher    the ``higher`` library (Grefenstette et al. 2019): innerloop_ctx per task, the usual MAML recipe

Implementations are timed in alternating blocks (robust to background load) and the median time per
meta-iteration is reported.  Second-order (the paper's MAML) and first-order rows (``higher`` only second order:
it has no first-order mode).  If ``higher`` cannot be imported, its row records the error message instead of a
number.  Writes ``benchmarks/results/supervised_speed.json``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import metarl  # noqa: E402
from agents.supervised import MAMLRegressor, MAMLRegressorConfig, mlp  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.seeding import derive_seed  # noqa: E402
from metarl.supervised import SinusoidTasks, TaskBatch  # noqa: E402

TARGET_SPEEDUP = 3.0


def batches(n: int, config: MAMLRegressorConfig, seed: int) -> list[TaskBatch]:
    """Pre-drawn meta-batches (task sampling is excluded from the timings)."""
    rng = np.random.default_rng(seed)
    tasks = SinusoidTasks()
    return [tasks.sample(config.meta_batch_size, config.k_shot, config.k_query, rng) for _ in range(n)]


Stepper = Callable[[TaskBatch], None]


def learner_stepper(config: MAMLRegressorConfig) -> Stepper:
    """One meta-iteration of metarl's learner (batched or loop, as ``config.batching``)."""
    learner = MAMLRegressor(config).learner
    return learner.step


def higher_stepper(config: MAMLRegressorConfig) -> Stepper:
    """One meta-iteration of second-order MAML with ``higher``: an innerloop_ctx per task (its usual recipe)."""
    import higher  # noqa: PLC0415  (optional dependency; failure is recorded by the caller)

    model = mlp(1, config.hidden_sizes, 1, seed=derive_seed(config.seed, "init"))
    meta_opt = torch.optim.Adam(model.parameters(), lr=config.outer_lr)
    inner_opt = torch.optim.SGD(model.parameters(), lr=config.inner_lr)

    def step(batch: TaskBatch) -> None:
        meta_opt.zero_grad()
        n = batch.n_tasks
        for i in range(n):
            with higher.innerloop_ctx(model, inner_opt, copy_initial_weights=False) as (fmodel, diffopt):
                diffopt.step(F.mse_loss(fmodel(batch.support_x[i]), batch.support_y[i]))
                (F.mse_loss(fmodel(batch.query_x[i]), batch.query_y[i]) / n).backward()
        meta_opt.step()

    return step


def interleaved_times(steppers: dict[str, Stepper], data: list[TaskBatch], warmup: int, block: int) -> dict:
    """Per-iteration seconds of each stepper, measured in alternating blocks of ``block`` iterations so that a
    change of background load affects every implementation alike."""
    for step in steppers.values():
        for batch in data[:warmup]:
            step(batch)
    times: dict[str, list[float]] = {name: [] for name in steppers}
    measured = data[warmup:]
    for lo in range(0, len(measured), block):
        for name, step in steppers.items():
            for batch in measured[lo : lo + block]:
                start = time.perf_counter()
                step(batch)
                times[name].append(time.perf_counter() - start)
    return times


def summarize(times: list[float]) -> dict:
    median = statistics.median(times)
    return {"iterations_per_second": round(1.0 / median, 2), "ms_per_iteration_median": round(1e3 * median, 3),
            "ms_per_iteration_mean": round(1e3 * statistics.mean(times), 3),
            "ms_std": round(1e3 * statistics.pstdev(times), 3), "iterations_measured": len(times)}


@dataclass
class Args:
    iterations: int = 300
    """Measured meta-iterations per row."""
    block: int = 10
    """Iterations per implementation before switching to the next."""
    warmup: int = 20
    """Unmeasured meta-iterations first."""
    torch_threads: int = 1
    """torch CPU threads."""
    seed: int = 0
    """Seed of the weights and task batches."""
    out: Path = ROOT / "benchmarks" / "results" / "supervised_speed.json"
    """Output JSON file."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(args.torch_threads)

    rows = []
    for first_order in (False, True):
        order = "first" if first_order else "second"
        config = MAMLRegressorConfig(first_order=first_order, seed=args.seed)
        steppers = {"batched (vmap)": learner_stepper(config),
                    "loop over tasks": learner_stepper(replace(config, batching="loop"))}
        higher_error = None
        if first_order:
            # higher has no first-order MAML mode: track_higher_grads=False cuts the gradient to θ altogether
            higher_error = "not measured: higher has no first-order MAML mode"
        else:
            try:
                steppers["higher"] = higher_stepper(config)
            except Exception as exc:  # record why higher could not run (e.g. it fails to import on this torch)
                higher_error = f"{type(exc).__name__}: {exc}"
        data = batches(args.warmup + args.iterations, config, args.seed)
        try:
            times = interleaved_times(steppers, data, args.warmup, args.block)
        except Exception as exc:
            if "higher" not in steppers:
                raise
            higher_error = f"{type(exc).__name__} while running higher: {exc}"
            steppers.pop("higher")
            times = interleaved_times(steppers, data, args.warmup, args.block)
        batched = summarize(times["batched (vmap)"])
        for name in ("batched (vmap)", "loop over tasks", "higher"):
            if name not in times:
                rows.append({"implementation": name, "order": order, "error": higher_error})
                continue
            row = {"implementation": name, "order": order, **summarize(times[name])}
            if name != "batched (vmap)":
                row["batched_speedup"] = round(row["ms_per_iteration_median"] / batched["ms_per_iteration_median"], 2)
            rows.append(row)
    for row in rows:
        print(json.dumps(row))
    try:
        import higher

        higher_version = getattr(higher, "__version__", "installed (no __version__)")
    except Exception as exc:
        higher_version = f"not importable: {type(exc).__name__}: {exc}"
    speedup = next(r["batched_speedup"] for r in rows if r["implementation"] == "loop over tasks")
    report = {
        "benchmark": "supervised_speed",
        "task": "sinusoid (MAML 5.1): MLP 1-40-40-1 ReLU, meta-batch 25 tasks, K=10 support + 10 query, "
                "1 inner step alpha=0.01, Adam 1e-3; task sampling excluded",
        "target_speedup_vs_loop": TARGET_SPEEDUP,
        "second_order_speedup_vs_loop": speedup,
        "meets_target": speedup >= TARGET_SPEEDUP,
        "results": rows,
        "machine": {
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "metarl": metarl.__version__, "higher": higher_version,
            "processor": platform.processor() or platform.machine(),
        },
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
