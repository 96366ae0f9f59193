"""Settings of the MAML paper's RL experiments that depend on the domain (Finn et al. 2017, 5.3 and App. A.2):
the library's defaults for the batch sizes of training and evaluation."""

from __future__ import annotations

__all__ = ["LOCOMOTION_ENVS", "eval_rollouts", "fast_batch_size", "meta_batch_size"]

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
