"""Watch a trained MAML-TRPO policy adapt: one rollout video per gradient step on one held-out task, plus a tiled
clip of all steps side by side (and, for 2D navigation, the trajectories on one plot, as the paper's Fig. 4).

    python examples/render_adaptation.py --checkpoint runs/nav/best.pt --out-dir videos/nav
    python examples/render_adaptation.py --checkpoint runs/dir/best.pt --out-dir videos/dir --format gif --steps 2

MuJoCo envs render headless through EGL (``MUJOCO_GL=egl``, set here when unset).  More options (frame size, fps,
task): ``metarl-render --help``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metarl.video import use_headless_gl  # noqa: E402

use_headless_gl()  # before MuJoCo is imported

import metarl  # noqa: E402,F401  (registers the env ids)
from agents import render_adaptation  # noqa: E402


@dataclass
class Args:
    checkpoint: Path
    """A MAML-TRPO checkpoint."""
    out_dir: Path = Path("videos/adaptation")
    """Where the clips go."""
    steps: int = 3
    """Adaptation steps (clips for 0..steps)."""
    format: Literal["mp4", "gif"] = "mp4"
    """Video format."""


def main(args: Args) -> list[Path]:
    paths = render_adaptation(args.checkpoint, args.out_dir, steps=args.steps, fmt=args.format)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main(tyro.cli(Args))
