"""metarl — Gymnasium-native meta-learning (MAML-TRPO, supervised MAML, meta-augmentation, MALTML).

``import metarl`` registers every task-distribution env id (see :mod:`envs`), e.g.
``gymnasium.make("MetaCheetahVel-v0")``, and does nothing else: it sets no environment variable, changes no
allocator setting and imports neither torch nor MuJoCo. The names below are imported from their modules on
first use (``metarl.adapt``, ``from metarl import Logger``).

Process-wide choices are the user's, made explicitly:

* rendering MuJoCo envs headless needs ``MUJOCO_GL=egl`` before MuJoCo is imported (the Makefile exports it;
  :func:`metarl.video.use_headless_gl` sets it when it is unset and MuJoCo not yet imported);
* glibc allocator tuning for faster meta-steps: :func:`keep_freed_memory`, or
  :func:`metarl.malloc_tuning.keep_freed_memory_if_requested` with ``METARL_MALLOC_TUNING=1``
  (see :mod:`metarl.malloc_tuning` for the measured effect).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import envs as _envs  # registers the env ids (string entry points: nothing heavy is imported)

ENV_IDS = _envs.ENV_IDS
__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access, PEP 562)
_LAZY: dict[str, str] = {
    # MAML's inner loop (metarl.maml)
    "adapt": "metarl.maml",
    "functional_forward": "metarl.maml",
    "batched_functional_forward": "metarl.maml",
    # RL pieces: policy, episodes, baseline, advantages, samplers (metarl.rl)
    "GaussianMLPPolicy": "metarl.rl.policy",
    "BatchEpisodes": "metarl.rl.episodes",
    "LinearFeatureBaseline": "metarl.rl.baseline",
    "gae": "metarl.rl.advantages",
    "VectorStepper": "metarl.rl.sampler",
    "make_stepper": "metarl.rl.sampler",
    "collect_episodes": "metarl.rl.sampler",
    "PolicyRollouts": "metarl.rl.sampler",
    "StageSampler": "metarl.rl.sampler",
    "FixedEpisodes": "metarl.rl.sampler",
    "EnvWrapper": "metarl.rl.sampler",
    # TRPO (metarl.optim)
    "conjugate_gradient": "metarl.optim",
    "make_fvp": "metarl.optim",
    "trpo_step_direction": "metarl.optim",
    "backtracking_line_search": "metarl.optim",
    # runs: checkpoints, logging, results files, seeding (progress bars: metarl.progress.progress — the name
    # ``metarl.progress`` is the submodule, which Python binds here as soon as anything imports it)
    "save_checkpoint": "metarl.checkpoint",
    "load_checkpoint": "metarl.checkpoint",
    "CheckpointManager": "metarl.checkpoint",
    "Logger": "metarl.logger",
    "read_csv": "metarl.logger",
    "write_json": "metarl.jsonio",
    "atomic_write": "metarl.atomic",
    "RunLock": "metarl.run_lock",
    "seed_everything": "metarl.seeding",
    # statistics (Student-t intervals over tasks or seeds)
    "mean_ci": "metarl.stats",
    "summarize": "metarl.stats",
    "summarize_curve": "metarl.stats",
    # opt-in allocator tuning
    "keep_freed_memory": "metarl.malloc_tuning",
}

__all__ = [
    "ENV_IDS",
    "__version__",
    "adapt",
    "functional_forward",
    "batched_functional_forward",
    "GaussianMLPPolicy",
    "BatchEpisodes",
    "LinearFeatureBaseline",
    "gae",
    "VectorStepper",
    "make_stepper",
    "collect_episodes",
    "PolicyRollouts",
    "StageSampler",
    "FixedEpisodes",
    "EnvWrapper",
    "conjugate_gradient",
    "make_fvp",
    "trpo_step_direction",
    "backtracking_line_search",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointManager",
    "Logger",
    "read_csv",
    "write_json",
    "atomic_write",
    "RunLock",
    "seed_everything",
    "mean_ci",
    "summarize",
    "summarize_curve",
    "keep_freed_memory",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'metarl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from metarl.atomic import atomic_write
    from metarl.checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
    from metarl.jsonio import write_json
    from metarl.logger import Logger, read_csv
    from metarl.malloc_tuning import keep_freed_memory
    from metarl.maml import adapt, batched_functional_forward, functional_forward
    from metarl.optim import backtracking_line_search, conjugate_gradient, make_fvp, trpo_step_direction
    from metarl.rl.advantages import gae
    from metarl.rl.baseline import LinearFeatureBaseline
    from metarl.rl.episodes import BatchEpisodes
    from metarl.rl.policy import GaussianMLPPolicy
    from metarl.rl.sampler import (
        EnvWrapper,
        FixedEpisodes,
        PolicyRollouts,
        StageSampler,
        VectorStepper,
        collect_episodes,
        make_stepper,
    )
    from metarl.run_lock import RunLock
    from metarl.seeding import seed_everything
    from metarl.stats import mean_ci, summarize, summarize_curve
