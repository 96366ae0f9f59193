"""Choosing the step size of adaptation steps 2..N on validation tasks, as the MAML paper chose its halving.

MAML paper, App. A.2: "During evaluation, we found that halving the learning rate after the first gradient step
produced superior performance. Thus, the step size during adaptation was set to α = 0.1 for the first step, and
α = 0.05 for all future steps."  The halving is an empirical choice for the paper's trained policies.  The size of
a REINFORCE step on a Gaussian policy scales with 1/σ², so a policy meta-trained longer, whose learned σ has
shrunk, takes larger steps at the same α, and the factor that suited the paper's models need not suit it.

:func:`select_later_step_size` repeats the paper's choice for one model without touching the test tasks: it
adapts with sizes (α, f·α, f·α, ...) for every candidate factor f on *validation* tasks — drawn with a seed of
their own, never the test seed — and keeps the factor whose returns after steps 2..N are highest on average.  The
first step keeps α, the step the model was meta-trained for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.evaluation import EvaluationConfig, evaluate_adaptation
from metarl.rl.policy import GaussianMLPPolicy

#: candidate factors f for the steps after the first: keep α, the paper's halving, and two smaller ones
LATER_STEP_FACTORS: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
#: seed of the validation tasks and rollouts (the evaluation's test seed is EvaluationConfig().seed = 12345)
VALIDATION_SEED = 54321


def later_step_sizes(first_step_size: float, factor: float) -> tuple[float, float]:
    """``(α, factor·α)``: the evaluation's step sizes, the second repeating for every step after the first."""
    return (first_step_size, factor * first_step_size)


def validation_score(curve: dict[str, Any]) -> float:
    """The selection criterion: the mean return over the steps that use the later size (2..N, 1-based), i.e. the
    mean of ``curve["mean"][2:]``."""
    later = curve["mean"][2:]
    if not later:
        raise ValueError(f"the curve has {len(curve['mean'])} points; choosing a later step size needs steps 0..2 at least")
    return float(np.mean(later))


def select_later_step_size(
    policy: GaussianMLPPolicy,
    env_id: str,
    config: EvaluationConfig,
    first_step_size: float,
    factors: Sequence[float] = LATER_STEP_FACTORS,
    validation_seed: int = VALIDATION_SEED,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Pick the factor f of the sizes (α, f·α) on validation tasks; ``config`` is the test evaluation's (its
    ``step_sizes`` are replaced, its ``seed`` by ``validation_seed``, its task set by sampled tasks).

    :returns: ``{"validation_seed", "first_step_size", "criterion", "candidates": [{"factor", "step_sizes",
        "mean", "ci95", "score"}], "factor", "step_sizes"}`` with the chosen factor and sizes (ties go to the
        factor listed first).
    :raises ValueError: if ``validation_seed`` is the test seed of sampled tasks (the choice would see the test
        tasks), if ``config.num_steps < 2`` (no step uses the later size), or for an empty or non-positive factor.
    """
    if config.task_set == "sampled" and validation_seed == config.seed:
        raise ValueError(f"validation_seed {validation_seed} is the test evaluation's seed; choose the step size "
                         "on other tasks")
    if config.num_steps < 2:
        raise ValueError(f"EvaluationConfig.num_steps is {config.num_steps}; a later step size needs 2 steps or more")
    if not factors or any(not f > 0 for f in factors):
        raise ValueError(f"factors must be non-empty and > 0, got {tuple(factors)}")
    if not first_step_size > 0:
        raise ValueError(f"first_step_size must be > 0, got {first_step_size}")
    candidates = []
    for factor in factors:
        sizes = later_step_sizes(first_step_size, factor)
        validation = dataclasses.replace(config, step_sizes=sizes, seed=validation_seed, task_set="sampled")
        curve = evaluate_adaptation(policy, env_id, validation, show_progress=show_progress)
        candidates.append({"factor": float(factor), "step_sizes": list(sizes), "mean": curve["mean"],
                           "ci95": curve["ci95"], "score": validation_score(curve)})
    best = max(candidates, key=lambda c: c["score"])  # max keeps the first of equal scores
    return {
        "validation_seed": validation_seed,
        "first_step_size": first_step_size,
        "criterion": "mean return over adaptation steps 2..N on the validation tasks",
        "candidates": candidates,
        "factor": best["factor"],
        "step_sizes": best["step_sizes"],
    }
