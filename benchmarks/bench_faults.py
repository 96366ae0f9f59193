"""Fault injection: what a training run survives, in figures (the README's reliability paragraph; issue 32).

1. **kills during checkpoint writes** — a tiny ``metarl-train`` run whose checkpoint writes are slowed down (written
   in 8 chunks 20 ms apart, so most of its time is spent writing) is killed with SIGKILL at random moments and
   resumed with ``--resume`` each time; after every kill ``last.pt`` must load (its SHA-256 checked), and at the end
   every iteration must be logged exactly once;
2. **flipped bits** — one bit flipped in every ``--flip-stride``-th byte of a checkpoint: each copy must be refused
   or load exactly the original content;
3. **concurrent runs** — a second ``metarl-train`` into the folder of a running one must exit non-zero naming the
   first one's pid.

Writes ``benchmarks/results/faults.json``::

    python benchmarks/bench_faults.py                      # ~5 minutes on 2 cores
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import tyro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import machine_info  # noqa: E402
from metarl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, state_digest  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.logger import read_csv  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "faults.json"
TINY = ["--env-id", "MetaNav2D-v0", "--meta-batch-size", "2", "--fast-batch-size", "2", "--hidden-sizes", "64", "64",
        "--cg-iters", "2", "--eval-tasks", "0", "--no-tensorboard", "--no-progress", "--torch-threads", "1"]
#: the child process: metarl-train with every torch.save to a file slowed down (8 chunks, 20 ms apart)
SLOW_WRITER = """
import io, sys, time, torch
real = torch.save
def slow(obj, f, *args, **kwargs):
    buffer = io.BytesIO(); real(obj, buffer, *args, **kwargs); data = buffer.getvalue()
    if isinstance(f, io.BytesIO) or not hasattr(f, "write"):
        return real(obj, f, *args, **kwargs)
    step = max(1, len(data) // 8)
    for i in range(0, len(data), step):
        f.write(data[i:i + step]); f.flush(); time.sleep(0.02)
torch.save = slow
from agents.cli import train_main
train_main(sys.argv[1:])
"""


@dataclass
class Args:
    kills: int = 30
    """SIGKILLs of the slowed-down run (each followed by a --resume)."""
    flip_stride: int = 1
    """Flip one bit in every n-th byte of the checkpoint (1: every byte)."""
    concurrent: int = 5
    """Trials of a second run started into a running one's folder."""
    seed: int = 0
    """Seed of the kill times."""
    out: Path = OUT
    """The JSON report."""


def _rows(run_dir: Path) -> int:
    csv = run_dir / "progress.csv"
    return len(csv.read_text().strip().splitlines()) - 1 if csv.exists() else 0


def kills_during_writes(kills: int, seed: int, work: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    run_dir = work / "killed"
    command = [sys.executable, "-c", SLOW_WRITER, *TINY, "--run-dir", str(run_dir), "--iterations", "100000"]
    during_write = unloadable = 0
    for k in range(kills):
        proc = subprocess.Popen(command + (["--resume"] if k else []), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        start = _rows(run_dir)
        deadline = time.time() + 120
        while _rows(run_dir) <= start and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        during_write += bool(list(run_dir.glob(".*.tmp")))
        try:
            load_checkpoint(run_dir / "last.pt")
        except (CheckpointError, FileNotFoundError):
            unloadable += 1
    final = _rows(run_dir) + 2
    result = subprocess.run(command[:-1] + [str(final), "--resume"], cwd=ROOT, capture_output=True, text=True)
    steps = [int(s) for s in read_csv(run_dir / "progress.csv")["step"]]
    removed = (run_dir / "train.log").read_text().count("temporary file(s) of interrupted writes")
    return {"kills": kills, "kills_during_a_checkpoint_write": during_write, "unloadable_last_pt": unloadable,
            "resumes_that_removed_temp_files": removed, "final_resume_exit_status": result.returncode,
            "iterations": final, "every_iteration_logged_once": steps == list(range(1, final + 1))}


def bit_flips(stride: int, work: Path) -> dict[str, Any]:
    path, flipped = work / "c.pt", work / "flipped.pt"
    generator = torch.Generator().manual_seed(0)
    save_checkpoint(path, {"policy": {"w": torch.randn(100, 100, generator=generator),
                                      "b": torch.randn(100, generator=generator)},
                           "iteration": 7, "config": {"fast_lr": 0.1}}, kind="maml_trpo")
    reference = state_digest(load_checkpoint(path))
    raw = path.read_bytes()
    counts = {"refused": 0, "loaded_identical": 0, "loaded_different": 0}
    for i in range(0, len(raw), stride):
        data = bytearray(raw)
        data[i] ^= 1 << (i % 8)
        flipped.write_bytes(data)
        try:
            with warnings.catch_warnings():  # torch warns about pickle opcodes a flip can produce
                warnings.simplefilter("ignore")
                state = load_checkpoint(flipped)
        except CheckpointError:
            counts["refused"] += 1
            continue
        counts["loaded_identical" if state_digest(state) == reference else "loaded_different"] += 1
    return {"file_bytes": len(raw), "flipped_copies": sum(counts.values()), **counts}


def concurrent_runs(trials: int, work: Path) -> dict[str, Any]:
    refused = 0
    for k in range(trials):
        run_dir = work / f"shared{k}"
        command = [sys.executable, "-c", "from agents.cli import train_main; train_main()", *TINY,
                   "--run-dir", str(run_dir), "--iterations", "100000"]
        first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while _rows(run_dir) == 0 and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run(command + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        first.send_signal(signal.SIGKILL)
        first.wait()
        refused += second.returncode != 0 and f"in use by pid {first.pid} " in second.stderr
    return {"trials": trials, "second_run_refused_naming_the_pid": refused}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = {
            "kill_during_checkpoint_writes": kills_during_writes(args.kills, args.seed, work),
            "bit_flips": bit_flips(args.flip_stride, work),
            "concurrent_runs": concurrent_runs(args.concurrent, work),
        }
    out = args.out.resolve()
    report.update(config=vars(args) | {"out": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out)},
                  machine=machine_info(),
                  wall_time_seconds=round(time.time() - started, 1), command=" ".join(sys.argv))
    write_json(args.out, report)
    print(report)
    return report


if __name__ == "__main__":
    main()
