"""Settings of the MAML paper's RL experiments that depend on the domain (Finn et al. 2017, 5.3 and App. A.2):
the library's defaults for the batch sizes of training and evaluation."""

from __future__ import annotations

__all__ = ["LOCOMOTION_ENVS", "PAPER_MAML_CURVES", "eval_rollouts", "fast_batch_size", "meta_batch_size", "paper_curve"]

LOCOMOTION_ENVS: tuple[str, ...] = ("MetaCheetahVel-v0", "MetaCheetahDir-v0", "MetaAntVel-v0", "MetaAntDir-v0")


def meta_batch_size(env_id: str) -> int:
    """Tasks per meta-iteration: 20 for 2D navigation, 40 for locomotion (App. A.2)."""
    return 40 if env_id in LOCOMOTION_ENVS else 20


def fast_batch_size(env_id: str) -> int:
    """Rollouts per task per gradient step in training: 20, except 40 for ant direction (section 5.3)."""
    return 40 if env_id == "MetaAntDir-v0" else 20


def eval_rollouts(env_id: str) -> int:
    """Rollouts per adaptation step at evaluation: 40 for navigation, 20 for locomotion (section 5.3)."""
    return 20 if env_id in LOCOMOTION_ENVS else 40


#: The MAML paper's MAML-TRPO curves (return after 0, 1, 2, 3 gradient steps; Figs. 4-5 and the per-step means
#: published with the original code), for plots beside ours.
PAPER_MAML_CURVES: dict[str, tuple[float, ...]] = {
    "MetaNav2D-v0": (-40.4, -11.7, -3.3, -3.2),
    "MetaCheetahVel-v0": (-129.5, -78.6, -66.6, -60.8),
    "MetaCheetahDir-v0": (-50.7, 293.2, 313.5, 315.7),
    "MetaAntVel-v0": (30.6, 96.7, 100.1, 101.4),
    "MetaAntDir-v0": (8.7, 499.1, 500.7, 499.1),
}


def paper_curve(env_id: str) -> list[float] | None:
    """The paper's MAML-TRPO curve for ``env_id`` (None for envs the paper did not run)."""
    curve = PAPER_MAML_CURVES.get(env_id)
    return list(curve) if curve is not None else None
