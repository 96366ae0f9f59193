"""metarl — Gymnasium-native meta-learning (MAML-TRPO, supervised MAML, meta-augmentation, MALTML).

``import metarl`` registers every task-distribution env id (see :mod:`envs`), e.g.
``gymnasium.make("MetaCheetahVel-v0")``.
"""

from __future__ import annotations

import os

# MuJoCo renders headless on CPU through EGL (Mesa); respect a user's choice when already set.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

import envs as _envs  # noqa: E402  (registers the env ids)
from metarl import malloc_tuning as _malloc_tuning  # noqa: E402

# freed tensor memory stays in the process for the next meta-step (no page fault per 4 KiB): ~15 % of a
# MetaNav2D meta-step, ~40 % of a half-cheetah one; METARL_MALLOC_TUNING=0 turns it off (see the module)
_malloc_tuning.keep_freed_memory()

ENV_IDS = _envs.ENV_IDS
__version__ = "0.1.0"

__all__ = ["ENV_IDS", "__version__"]
