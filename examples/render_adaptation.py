"""Render a trained MAML-TRPO policy adapting to one held-out task: one rollout video per gradient step.

The policy is adapted exactly as the evaluation does it (MAML paper 5.3: fresh rollouts of the task, linear
baseline, one REINFORCE step with step size 0.1, then 0.05 ...), and the parameters before adaptation and after
each step are played once with the mean action.  Written into --out:

  step0.mp4 ... stepN.mp4   one clip per gradient step (step0 = pre-update), labelled "step k | return R"
  adaptation_tiled.mp4      all steps side by side, so you watch the adaptation happen
  trajectories.png          2D navigation only: goal + trajectories before/after 1..N steps (paper Fig. 4, bottom)
  summary.json              task, step sizes, returns

Examples::

    python examples/render_adaptation.py --checkpoint runs/maml_trpo/best.pt --out videos/MetaNav2D-v0
    python examples/render_adaptation.py --checkpoint runs/cheetah/best.pt --out videos/cheetah \\
        --env MetaCheetahDir-v0 --steps 2 --format gif --width 240 --height 240

MuJoCo envs render headless through EGL: set MUJOCO_GL=egl (done here if unset).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "egl")

import metarl  # noqa: E402,F401  (registers the envs)
from agents.rendering import DEFAULT_STEP_SIZES, DEFAULT_TASK_SEED, render_adaptation  # noqa: E402
from metarl.checkpoint import CheckpointError  # noqa: E402

__all__ = ["build_parser", "main", "render_adaptation"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path,
                        help="MAML-TRPO checkpoint to render (best.pt / last.pt of a training run)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output directory for the clips, the tiled clip, the plot and summary.json (created)")
    parser.add_argument("--steps", type=_non_negative_int, default=3,
                        help="adaptation gradient steps N; clips are written for 0..N steps (default: 3)")
    parser.add_argument("--task-index", type=_non_negative_int, default=0,
                        help="which held-out task to adapt to: index into the evaluation's task set, so 0 is the "
                             "first task of the adaptation curve (default: 0)")
    parser.add_argument("--task-seed", type=_non_negative_int, default=DEFAULT_TASK_SEED,
                        help=f"seed of the held-out task set (default: {DEFAULT_TASK_SEED}, the evaluation's)")
    parser.add_argument("--seed", type=_non_negative_int, default=0,
                        help="seed of the adaptation rollouts (env resets, action noise) and of the clips' "
                             "common initial state (default: 0)")
    parser.add_argument("--format", choices=("mp4", "gif"), default="mp4",
                        help="video format: mp4 (H.264) or gif (default: mp4)")
    parser.add_argument("--fps", type=_positive_float, default=None,
                        help="frames per second (default: the env's render_fps: 10 navigation, 20 MuJoCo)")
    parser.add_argument("--width", type=_positive_int, default=None,
                        help="rendered frame width in pixels (default: the env's: 256 navigation, 480 MuJoCo)")
    parser.add_argument("--height", type=_positive_int, default=None,
                        help="rendered frame height in pixels (default: the env's: 256 navigation, 480 MuJoCo)")
    parser.add_argument("--tile-size", type=_positive_int, nargs=2, metavar=("WIDTH", "HEIGHT"), default=None,
                        help="size of each tile of the tiled clip (default: the frame size; MuJoCo frames are "
                             "shrunk to fit 240x240)")
    parser.add_argument("--max-steps", type=_positive_int, default=None,
                        help="render at most this many env steps per clip, for a short preview (default: the "
                             "whole episode, 100 navigation / 200 MuJoCo; adaptation always uses full episodes)")
    parser.add_argument("--rollouts", type=_positive_int, default=None,
                        help="rollouts per adaptation step (default: the paper's evaluation value, 40 navigation, "
                             "20 locomotion)")
    parser.add_argument("--step-sizes", type=_positive_float, nargs="+", default=list(DEFAULT_STEP_SIZES),
                        help="step size of each adaptation step, the last one repeating "
                             "(default: 0.1 0.05, the paper's evaluation schedule)")
    parser.add_argument("--workers", type=_positive_int, default=1,
                        help="sampler processes for the adaptation rollouts (default: 1)")
    parser.add_argument("--shadows", action="store_true",
                        help="keep MuJoCo shadows and reflections (slower; off by default)")
    parser.add_argument("--env", default=None,
                        help="expected env id, e.g. MetaCheetahDir-v0: fail if the checkpoint was trained on "
                             "another env (default: no check; the checkpoint's env is used)")
    return parser


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Parse ``argv``, render, print every written path; exits with status 1 and a one-line error on bad input."""
    args = build_parser().parse_args(argv)
    try:
        paths = render_adaptation(
            args.checkpoint,
            args.out,
            steps=args.steps,
            task_index=args.task_index,
            seed=args.seed,
            fmt=args.format,
            fps=args.fps,
            width=args.width,
            height=args.height,
            tile_size=tuple(args.tile_size) if args.tile_size else None,
            env_id=args.env,
            max_steps=args.max_steps,
            rollouts=args.rollouts,
            step_sizes=tuple(args.step_sizes),
            task_seed=args.task_seed,
            workers=args.workers,
            shadows=args.shadows,
        )
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        sys.exit(f"render_adaptation: error: {exc}")
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
