"""Checkpoints and result configs written before the library/reproduction split (metarl 0.1.0, up to commit
c5a168e), whose ``MAMLTRPOConfig`` still held the original code's quirks as options.

:func:`convert_config` maps such a config onto today's config plus the quirks of :mod:`.presets`;
:func:`migrate_checkpoint` rewrites a checkpoint in today's form (same parameters, iteration and RNG state), so
that it loads with :func:`agents.training.load_agent` and the quirks' extensions.  Settings that no preset
reproduces (e.g. a 25 % Fisher-vector subsample, rllab's start-state noise) are refused with the field named::

    python -m reproductions.maml2017.legacy OLD.pt NEW.pt
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro

from agents.maml_trpo import MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND
from metarl.checkpoint import RESERVED_KEYS, load_checkpoint, save_checkpoint
from reproductions.maml2017.presets import extensions_for

__all__ = ["convert_config", "migrate_checkpoint"]

#: removed fields whose only accepted values are those the library now fixes
_FIXED = {"ls_max_steps": 15, "ls_backtrack_ratio": 0.8, "fvp_subsample": 1.0}


#: removed training-only fields that do not change what a trained policy does (dropped with ``for_evaluation``)
_TRAINING_ONLY = ("fvp_subsample", "step_curvature", "ls_max_steps", "ls_backtrack_ratio")


def convert_config(
    old: Mapping[str, Any], for_evaluation: bool = False
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(today's MAMLTRPOConfig dict, quirks)`` of a pre-split config dict.

    :param for_evaluation: drop the meta-step settings that no longer exist (e.g. a 25 % Fisher-vector subsample)
        instead of refusing them: the checkpoint then evaluates and renders as before, but continuing its training
        would not repeat the original run.
    :raises ValueError: naming a field whose value today's library and this reproduction cannot repeat.
    """
    cfg = dict(old)
    if for_evaluation:
        for name in _TRAINING_ONLY:
            cfg.pop(name, None)
    quirks: set[str] = set()

    def refuse(name: str) -> ValueError:
        return ValueError(f"legacy config field {name} = {old.get(name)!r} has no equivalent today")

    for name, value in _FIXED.items():
        if name in cfg and cfg.pop(name) != value:
            raise refuse(name)
    if cfg.pop("step_curvature", "cg_residual") != "cg_residual":
        raise refuse("step_curvature")
    hvp = cfg.get("hvp", "fd")
    precision = cfg.pop("fvp_precision", "float32")
    if precision == "bfloat16" and not for_evaluation:
        raise refuse("fvp_precision")  # the library dropped bfloat16 products (no speed-up on its benchmark CPU)
    if precision not in ("float32", "bfloat16"):
        raise refuse("fvp_precision")
    scheme = cfg.pop("fd_scheme", None)
    if hvp == "fd" and scheme == "forward":
        cfg["hvp"] = "fd-forward"
    elif scheme not in (None, "central"):
        raise refuse("fd_scheme")
    rule = cfg.pop("fd_eps", None)
    default_rule = "rllab" if cfg.get("dtype", "float32") == "float64" else "scaled"  # what "auto" chose
    if rule == "maml_code":
        quirks.add("maml_code_fd_step")
    elif rule not in (None, "auto", default_rule):
        raise refuse("fd_eps")
    batch = cfg.pop("batch", "episodes")
    if batch == "samples":
        quirks.add("sample_budget")
    elif batch != "episodes":
        raise refuse("batch")
    bias = cfg.pop("hidden_bias_init", "uniform")
    if bias == "zeros":
        quirks.add("zero_hidden_biases")
    elif bias != "uniform":
        raise refuse("hidden_bias_init")
    scaling = cfg.pop("action_scaling", "clip")
    if scaling == "rescale":
        quirks.add("rescale_actions")
    elif scaling != "clip":
        raise refuse("action_scaling")
    env_kwargs = dict(cfg.get("env_kwargs") or {})
    if env_kwargs.pop("rllab_observation", False):
        quirks.add("torso_com_observation")
    if env_kwargs.pop("rllab_reset", False):
        raise ValueError("legacy env_kwargs rllab_reset = True (rllab's start state) has no equivalent today")
    cfg["env_kwargs"] = env_kwargs
    MAMLTRPOConfig.from_dict(cfg)  # validates what is left
    return cfg, tuple(sorted(quirks))


def migrate_checkpoint(src: str | Path, dst: str | Path, for_evaluation: bool = False) -> tuple[str, ...]:
    """Rewrite the pre-split MAML-TRPO checkpoint ``src`` as ``dst`` (may be the same path; written atomically);
    returns its quirks.  Parameters, iteration, RNG states, metrics and the best-checkpoint record are kept, and
    the old config under ``legacy_config`` (``for_evaluation``: see :func:`convert_config`)."""
    state = load_checkpoint(src, expected_kind=CHECKPOINT_KIND)
    if "legacy_config" in state:
        raise ValueError(f"{src} was already migrated (it has a legacy_config)")
    config, quirks = convert_config(state["config"], for_evaluation)
    extensions = extensions_for(quirks)
    kept = {k: v for k, v in state.items() if k not in RESERVED_KEYS}
    kept["legacy_config"] = dict(state["config"])
    kept["config"] = config
    kept["extensions"] = extensions.name if extensions is not None else ""
    save_checkpoint(dst, kept, kind=CHECKPOINT_KIND)
    return quirks


@dataclass
class Args:
    src: Annotated[Path, tyro.conf.Positional]
    """A pre-split MAML-TRPO checkpoint."""
    dst: Annotated[Path, tyro.conf.Positional]
    """Where to write it in today's form (may equal SRC)."""
    for_evaluation: bool = False
    """Drop meta-step settings that no longer exist (e.g. fvp_subsample) instead of refusing them: the policy
    evaluates as before; continued training would not repeat the run."""


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv, description=__doc__)
    try:
        quirks = migrate_checkpoint(args.src, args.dst, args.for_evaluation)
    except (ValueError, FileNotFoundError) as exc:  # one line naming the field or file, as a parser error
        print(f"error: {args.src}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"{args.src} -> {args.dst}: quirks {list(quirks) or 'none'}")


if __name__ == "__main__":
    main()
