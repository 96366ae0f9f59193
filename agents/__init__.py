"""Learners built on the :mod:`metarl` core: MAML-TRPO and its comparison learners, their training, evaluation and
rendering, supervised MAML and MALTML.

The public names are imported from their modules on first use (``from agents import MAMLTRPO``), so
``import agents`` stays cheap::

    from agents import MAMLTRPO, MAMLTRPOConfig, TrainingConfig, train, evaluate_adaptation, render_adaptation

    agent = MAMLTRPO(MAMLTRPOConfig(env_id="MetaNav2D-v0", seed=0))     # the paper's settings (App. A.2)
    train(agent, TrainingConfig(run_dir="runs/nav", iterations=500))    # last.pt / best.pt, progress.csv, resumable
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it (PEP 562 lazy attributes)
_LAZY: dict[str, str] = {
    # MAML-TRPO (Finn et al. 2017, Alg. 3) and its extension points
    "MAMLTRPO": "agents.maml_trpo",
    "MAMLTRPOConfig": "agents.maml_trpo",
    "Extensions": "agents.maml_trpo",
    # training, evaluation, rendering
    "TrainingConfig": "agents.training",
    "train": "agents.training",
    "load_agent": "agents.training",
    "load_policy": "agents.training",
    "checkpoint_extensions": "agents.training",
    "MetaStepsRejected": "agents.training",
    "EvaluationConfig": "agents.evaluation",
    "evaluate_adaptation": "agents.evaluation",
    "write_curve": "agents.evaluation",
    "plot_curves": "agents.evaluation",
    "render_adaptation": "agents.rendering",
    # MALTML (Devos & Dandi): supervised (Alg. 1, both orders) and for RL (first order)
    "MALTML": "agents.maltml",
    "MALTMLConfig": "agents.maltml",
    "FamilyAdaptationCurve": "agents.maltml",
    "MALTMLRL": "agents.maltml_rl",
    "MALTMLRLConfig": "agents.maltml_rl",
    # supervised MAML (MAML paper 5.1-5.2) and its comparison learners
    "MAMLRegressor": "agents.supervised",
    "MAMLRegressorConfig": "agents.supervised",
    "MAMLClassifier": "agents.supervised",
    "MAMLClassifierConfig": "agents.supervised",
    "PretrainedRegressor": "agents.supervised",
    "OracleRegressor": "agents.supervised",
    "conv4": "agents.supervised",
    "mlp": "agents.supervised",
    # meta-augmentation (Rajendran et al. 2020)
    "train_with_validation": "agents.meta_augmentation",
    "ValidatedTraining": "agents.meta_augmentation",
    "NMESinusoid": "agents.meta_augmentation",
    "UniformNoise": "agents.meta_augmentation",
    "InterShuffle": "agents.meta_augmentation",
    "IntraShuffle": "agents.meta_augmentation",
    "NonMutuallyExclusive": "agents.meta_augmentation",
    "make_label_scheme": "agents.meta_augmentation",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
