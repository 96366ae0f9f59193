"""Checkpoints and result configs written before the library/reproduction split (metarl 0.1.0, up to commit
c5a168e), whose ``MAMLTRPOConfig`` still held the original code's quirks as options.

:func:`convert_config` maps such a config onto today's config plus the quirks of :mod:`.presets`;
:func:`migrate_checkpoint` rewrites a checkpoint in today's form (same parameters, iteration and RNG state), so
that it loads with :func:`agents.training.load_agent` and the quirks' extensions.  Settings that no preset
reproduces (e.g. a 25 % Fisher-vector subsample, rllab's start-state noise) are refused with the field named::

    python -m reproductions.maml2017.legacy OLD.pt NEW.pt
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.maml_trpo import MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND
from metarl.checkpoint import RESERVED_KEYS, load_checkpoint, save_checkpoint
from reproductions.maml2017.presets import extensions_for

__all__ = ["convert_config", "migrate_checkpoint"]

#: removed fields whose only accepted values are those the library now fixes
_FIXED = {"ls_max_steps": 15, "ls_backtrack_ratio": 0.8, "fvp_subsample": 1.0}


def convert_config(old: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(today's MAMLTRPOConfig dict, quirks)`` of a pre-split config dict.

    :raises ValueError: naming a field whose value today's library and this reproduction cannot repeat.
    """
    cfg = dict(old)
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
    if precision == "bfloat16":
        cfg["hvp"] = "gn-bf16"
    elif precision != "float32":
        raise refuse("fvp_precision")
    scheme = cfg.pop("fd_scheme", None)
    if hvp == "fd" and scheme == "forward":
        cfg["hvp"] = "fd-forward"
    elif scheme not in (None, "central"):
        raise refuse("fd_scheme")
    rule = cfg.pop("fd_eps", None)
    if rule == "maml_code":
        quirks.add("maml_code_fd_step")
    elif rule not in (None, "auto"):
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


def migrate_checkpoint(src: str | Path, dst: str | Path) -> tuple[str, ...]:
    """Rewrite the pre-split MAML-TRPO checkpoint ``src`` as ``dst`` (may be the same path; written atomically);
    returns its quirks.  Parameters, iteration, RNG states, metrics and the best-checkpoint record are kept."""
    state = load_checkpoint(src, expected_kind=CHECKPOINT_KIND)
    config, quirks = convert_config(state["config"])
    extensions = extensions_for(quirks)
    kept = {k: v for k, v in state.items() if k not in RESERVED_KEYS}
    kept["config"] = config
    kept["extensions"] = extensions.name if extensions is not None else ""
    save_checkpoint(dst, kept, kind=CHECKPOINT_KIND)
    return quirks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="a pre-split MAML-TRPO checkpoint")
    parser.add_argument("dst", help="where to write it in today's form (may equal src)")
    args = parser.parse_args(argv)
    try:
        quirks = migrate_checkpoint(args.src, args.dst)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    print(f"{args.src} -> {args.dst}: quirks {list(quirks) or 'none'}")


if __name__ == "__main__":
    main()
