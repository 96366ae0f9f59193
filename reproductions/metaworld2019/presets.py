"""MAML-TRPO on Meta-World ML1 with the settings of Yu et al. 2019 (arXiv:1910.10897v2, App. D.7, Table 9), each
with its source; what our :class:`agents.maml_trpo.MAMLTRPOConfig` cannot express is listed in
:data:`NOT_EXPRESSED` (the run uses the library's MAML-TRPO with its TRPO meta-step, no extension point).

Sources, as collected in ``docs/metaworld.md`` (section "Published MAML settings and numbers"):

- **Table 9** — Yu et al. 2019, Meta-World, App. D.7, "Hyperparameters used for Garage experiments with MAML",
  ML1 column.
- **Meta-World+** — McLean et al. 2025 (arXiv:2505.11289), the authors' MAML-TRPO code
  (rainx0r/metaworld-algorithms: ``mamltrpo.py`` defaults, ``examples/meta_learning/maml_trpo_ml1.py``).
- **MAML** — Finn, Abbeel & Levine 2017, App. A.2 (the library's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.maml_trpo import MAMLTRPOConfig

__all__ = [
    "BUDGET",
    "EVALUATION",
    "NOT_EXPRESSED",
    "SETTINGS",
    "TASKS",
    "Setting",
    "config_fields",
    "env_id",
    "make_config",
]

#: the ML1 tasks Yu et al. 2019 evaluate ML1 on (section 4.3), as metarl ids ``MetaWorldML1-<task>``
TASKS: tuple[str, ...] = ("reach-v3", "push-v3", "pick-place-v3")


@dataclass(frozen=True)
class Setting:
    """One config value and where it comes from."""

    value: Any
    source: str


#: MAMLTRPOConfig field -> its value for ML1 and its source
SETTINGS: dict[str, Setting] = {
    "meta_batch_size": Setting(20, "Table 9, ML1: meta-batch size 20"),
    "fast_batch_size": Setting(10, "Table 9, ML1: roll-outs per task 10 (Meta-World+ config/rl.py: 10)"),
    "num_steps": Setting(1, "Table 9: 1 inner gradient update"),
    "fast_lr": Setting(0.1, "Meta-World+ mamltrpo.py (inner lr 0.1), garage's ML1 example (0.1) and MAML App. A.2; "
                            "NOT Table 9's 1e-4, the learning rate of garage's inner SGD (see NOT_EXPRESSED)"),
    "gamma": Setting(0.99, "Table 9: discount 0.99"),
    "gae_lambda": Setting(1.0, "Meta-World+ examples (gae_lambda=1.0), garage's ML1 example (1.0), MAML"),
    "max_kl": Setting(0.01, "Table 9: maximum KL 1e-2 (Meta-World+: delta 0.01)"),
    "cg_iters": Setting(10, "Meta-World+ mamltrpo.py: 10 CG iterations (MAML App. A.2)"),
    "hidden_sizes": Setting((128, 128), "Table 9: policy hidden sizes (128, 128)"),
    "init_log_std": Setting(0.0, "state-independent log-std, initial std 1 (Meta-World+, garage)"),
    "hvp": Setting("fd", "MAML section 5.3: finite-difference Hessian-vector products (the library's default)"),
}

#: what Table 9 (or the ML1 protocol) sets that MAMLTRPOConfig cannot express, and what the run does instead
NOT_EXPRESSED: dict[str, str] = {
    "tanh hidden nonlinearity": "MAMLTRPOConfig has no activation field (GaussianMLPPolicy takes one, but "
                                "checkpoints rebuild the policy from the config): ReLU, as the MAML paper",
    "tanh output nonlinearity": "the policy's mean is unbounded; the sampler clips actions to Meta-World's "
                                "[-1, 1] box instead",
    "policy entropy coefficient 5e-5": "no entropy term in the library's MAML-TRPO objective (MAML App. A.2): 0",
    "optimizer learning rate 1e-3": "not used: the TRPO meta-step's size is set by max_kl (Table 9 lists both; "
                                    "section 5 says PPO, the figures MAML-TRPO)",
    "inner algorithm learning rate 1e-4": "garage's inner SGD step; on the library's REINFORCE loss (per-task "
                                          "normalised advantages) an inner step's KL grows as alpha^2, so 1e-4 "
                                          "would adapt 1e6 times less than 0.1 in KL: fast_lr 0.1 (Meta-World+)",
    "number of iterations": "not given by Yu et al.; this run's is BUDGET (measured s/iteration, see README)",
}

#: meta-iterations of the seed-1 run: the part of about 2.5 hours of one core that the measured speed allows
#: (benchmarks/results/maml_trpo_speed_metaworld.json); Yu et al. give no number of iterations
BUDGET = 54

#: the held-out evaluation: all 50 ML1 test variations (section 4.3), 10 rollouts per adaptation step (Table 9's
#: roll-outs per task; Meta-World's evaluation adapts from 10 episodes), 3 adaptation steps (step sizes 0.1 then
#: 0.05, the library's; Meta-World's protocol takes 1)
EVALUATION: dict[str, int] = {"eval_tasks": 50, "eval_rollouts": 10, "eval_steps": 3}


def env_id(task: str) -> str:
    """The metarl id of ML1 ``task`` (``reach-v3`` -> ``MetaWorldML1-reach-v3``)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} (the ML1 tasks of Yu et al. 2019), got {task!r}")
    return f"MetaWorldML1-{task}"


def config_fields(task: str, seed: int, workers: int = 1) -> dict[str, Any]:
    """The MAMLTRPOConfig fields of an ML1 run (:data:`SETTINGS`, the env id, the seed and the sampler workers)."""
    return {"env_id": env_id(task), **{name: s.value for name, s in SETTINGS.items()}, "seed": seed,
            "workers": workers}


def make_config(task: str = "reach-v3", seed: int = 1, workers: int = 1) -> MAMLTRPOConfig:
    """The :class:`MAMLTRPOConfig` of an ML1 run (needs ``metaworld`` only when the agent makes its envs)."""
    return MAMLTRPOConfig(**config_fields(task, seed, workers))
