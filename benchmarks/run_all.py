"""`make bench`: every benchmark in turn, then the README tables.

Long: the environment benchmark takes minutes, the MAML-TRPO reproductions hours (each is resumable — rerun
``make bench`` after an interruption and finished parts are only re-collected).  ``--quick`` runs only the
short benchmarks (env throughput and meta-iteration speed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

#: (result name, env id, meta-iterations, sampler workers) — the paper trained up to 500 iterations on navigation and
#: used 100 for half-cheetah direction (MAML App. A.2).
REPRODUCTIONS = (
    ("maml_nav2d", "MetaNav2D-v0", 500, 1),
    ("maml_cheetah_dir", "MetaCheetahDir-v0", 100, 2),
    ("maml_cheetah_vel", "MetaCheetahVel-v0", 100, 2),
)


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the short benchmarks (no training runs)")
    args = parser.parse_args(argv)
    run(str(BENCH / "bench_envs.py"))
    run(str(BENCH / "bench_maml_trpo_speed.py"))
    run(str(BENCH / "bench_supervised_speed.py"))
    if not args.quick:
        for name, env_id, iterations, workers in REPRODUCTIONS:
            run(str(BENCH / "reproduce_maml.py"), "--name", name, "--env", env_id,
                "--iterations", str(iterations), "--workers", str(workers))
        run(str(BENCH / "bench_direction_split.py"))  # the committed half-cheetah checkpoints, a few minutes
        run(str(BENCH / "bench_sinusoid.py"))
        run(str(BENCH / "bench_sinusoid_seeds.py"))
        run(str(BENCH / "bench_glyphs.py"))
        run(str(BENCH / "bench_meta_augmentation.py"))
        run(str(BENCH / "bench_maltml_sinusoid.py"))
    run(str(BENCH / "make_readme.py"))


if __name__ == "__main__":
    main()
