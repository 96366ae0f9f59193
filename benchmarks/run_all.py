"""`make bench`: the speed benchmarks, then the canonical results and the generated docs.

1. ``bench_maml_trpo_speed.py`` — seconds per MAML-TRPO meta-iteration by phase (the paper's MetaNav2D config);
2. ``bench_envs.py`` — env-steps per second of the batched envs (~2-3 minutes on 2 cores);
3. ``bench_supervised_speed.py`` — supervised MAML meta-iterations per second (batched vs loop vs ``higher``);
   ``bench_faults.py`` — kills during checkpoint writes, flipped bits, concurrent runs (~5 minutes);
4. ``bench_adapter.py`` — the generic adapter of a user's env against MetaNav2D's native batched form (~5 minutes);
5. ``canonical.py`` — one canonical JSON + PNG per (algorithm, benchmark) from the raw result files kept under
   ``reproductions/<paper>/results/`` (nothing is retrained);
6. ``make_docs.py`` — docs/results.md and the headline tables of the READMEs.

The reproductions' training runs (hours each) are not part of it: they are the scripts under ``reproductions/``
(e.g. ``python -m reproductions.maml2017.train --help``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@dataclass
class Args:
    speed: bool = True
    """Run the speed and fault-injection benchmarks first (--no-speed: only rebuild the canonical results and the
    docs)."""


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if args.speed:
        run(str(BENCH / "bench_maml_trpo_speed.py"))
        run(str(BENCH / "bench_envs.py"))
        run(str(BENCH / "bench_supervised_speed.py"))
        run(str(BENCH / "bench_faults.py"))
        run(str(BENCH / "bench_adapter.py"))
    run(str(BENCH / "canonical.py"))
    run(str(BENCH / "make_docs.py"))


if __name__ == "__main__":
    main()
