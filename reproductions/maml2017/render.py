"""Render a checkpoint of this reproduction adapting to one held-out task: one clip per gradient step plus a tiled
clip, with the env wrappers of its quirks (e.g. the centre-of-mass observation the half-cheetah policies read).

    python -m reproductions.maml2017.render --checkpoint checkpoints/maml_cheetah_dir_fd_central_seed2.pt \\
        --out-dir videos/cheetah_dir --steps 2 --format gif --width 128 --height 128
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from agents.cli import RenderArgs
from metarl.video import use_headless_gl

__all__ = ["Args", "main"]


@dataclass
class Args(RenderArgs):
    """metarl-render's options (agents.cli.RenderArgs), and the adaptation step sizes."""

    step_sizes: tuple[float, ...] | None = None
    """Adaptation step sizes, the last repeating; None = the preset's (evaluate.py)."""


def main(argv: list[str] | None = None) -> list[Path]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    use_headless_gl()
    import metarl  # noqa: F401  (registers the env ids)
    from agents.rendering import render_adaptation
    from agents.training import checkpoint_extensions, load_policy
    from reproductions.maml2017.evaluate import preset_of
    from reproductions.maml2017.presets import extensions_for, quirks_of

    try:
        quirks = quirks_of(checkpoint_extensions(args.checkpoint))
        step_sizes = args.step_sizes
        if step_sizes is None:
            matched = preset_of(load_policy(args.checkpoint)[1].env_id, quirks)
            step_sizes = matched[1].eval_step_sizes if matched else (0.1, 0.05)
        paths = render_adaptation(
            args.checkpoint, args.out_dir, steps=args.steps, task_index=args.task_index, seed=args.seed,
            fmt=args.format, fps=args.fps, width=args.width, height=args.height, max_steps=args.max_steps,
            step_sizes=tuple(step_sizes), workers=args.workers, extensions=extensions_for(quirks),
        )
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"render: {exc}") from None
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
