"""The settings under which the MAML paper's RL numbers are reproduced (Finn, Abbeel & Levine, ICML 2017).

Two presets per env:

* ``paper_text`` — the settings the paper states (App. A.2): the library's defaults, no extension.
* ``original_code`` — what the original code (cbfinn/maml_rl on rllab) ran, found while chasing the published
  curves (NOTES.md).  Its quirks reach the library only through extension points
  (:class:`agents.maml_trpo.Extensions`, :func:`agents.evaluation.evaluate_adaptation`'s ``tasks``,
  ``stage_sampler`` and ``env_wrappers``):

  =========================  =======================================================================================
  quirk                      what the original code did, and the extension point that repeats it
  =========================  =======================================================================================
  ``sample_budget``          rllab's samplers count samples, not episodes: the trainer one budget over the
                             meta-batch, the test scripts one per task (``stage_sampler``: :mod:`.sample_budget`)
  ``maml_code_fd_step``      its TRPO's ``FiniteDifferenceHvp`` got the slice count as ``base_eps``: ε = 1/‖θ‖
                             (``Extensions.fd_step``: :func:`maml_code_fd_step`)
  ``zero_hidden_biases``     its MLP initialised hidden biases to zero (``Extensions.policy_init``)
  ``rescale_actions``        ``normalize``: actions in [-1, 1] mapped onto the env's box (``env_wrappers``)
  ``torso_com_observation``  rllab's half-cheetah observed the centre of mass too (``env_wrappers``)
  =========================  =======================================================================================

A preset also fixes its config fields (e.g. α = 0.5 on MetaNav2D, ``frame_skip=1`` on half-cheetah, the
original code's 100 Hz control) and its evaluation protocol (step sizes, collection, the original test goals).
Checkpoints trained with quirks store the extensions' name (``maml2017:<quirk>+<quirk>``), from which
:func:`extensions_for` rebuilds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from agents.maml_trpo import Extensions
from metarl.rl.sampler import FixedEpisodes, StageSampler
from reproductions.maml2017.sample_budget import PerTaskSampleBudget, SharedSampleBudget
from reproductions.maml2017.wrappers import rescale_actions, torso_center_of_mass

__all__ = [
    "PRESETS",
    "QUIRKS",
    "Preset",
    "evaluation_stage_sampler",
    "extensions_for",
    "maml_code_fd_step",
    "quirks_of",
    "zero_hidden_biases",
]

PREFIX = "maml2017:"


def maml_code_fd_step(theta: torch.Tensor, v: torch.Tensor) -> float:
    """ε = 1 / (‖θ‖ + 1e-8): rllab's ``FiniteDifferenceHvp`` rule base_eps / (‖θ‖ + 1e-8) with the base_eps the
    original code's ``ConjugateGradientOptimizer`` really passed (``FiniteDifferenceHvp(num_slices)``, the slice
    count 1 landing in the first positional slot).  The perturbation εv is then ‖v‖/‖θ‖ in size, so each product
    is a secant of ∇KL over a wide interval rather than the Hessian."""
    return 1.0 / (float(torch.linalg.vector_norm(theta.detach().to(torch.float64))) + 1e-8)


def zero_hidden_biases(policy: torch.nn.Module) -> None:
    """maml_rl's ``MAMLGaussianMLPPolicy`` initialisation: Glorot-uniform weights and zero biases everywhere (the
    library draws the hidden biases U(±1/sqrt(fan_in))).  Called by the agent with torch's RNG seeded by the
    policy's init seed, it redraws the weights layer by layer without drawing biases, which is the exact draw of
    the pre-split library's ``hidden_bias_init="zeros"`` (so its runs repeat bit for bit)."""
    for layer in policy.layers:  # the draws of constructing the nn.Linear layers, in order
        layer.reset_parameters()
    for layer in policy.layers:
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)


#: quirk name -> what it contributes to :class:`Extensions` (the evaluation's collection is in
#: :func:`evaluation_stage_sampler`)
QUIRKS: dict[str, dict[str, Any]] = {
    "sample_budget": {"stage_sampler": SharedSampleBudget()},
    "maml_code_fd_step": {"fd_step": maml_code_fd_step},
    "zero_hidden_biases": {"policy_init": zero_hidden_biases},
    "rescale_actions": {"env_wrappers": (rescale_actions,)},
    "torso_com_observation": {"env_wrappers": (torso_center_of_mass,)},
}
#: order in which the env wrappers are applied (innermost first)
_WRAPPER_ORDER = ("torso_com_observation", "rescale_actions")


def extensions_for(quirks: Iterable[str]) -> Extensions | None:
    """The :class:`Extensions` of a set of quirks (None for none), named ``maml2017:<sorted quirks joined by +>``.

    :raises ValueError: naming an unknown quirk.
    """
    quirks = sorted(set(quirks))
    unknown = [q for q in quirks if q not in QUIRKS]
    if unknown:
        raise ValueError(f"unknown maml2017 quirks {unknown}; known: {sorted(QUIRKS)}")
    if not quirks:
        return None
    parts: dict[str, Any] = {}
    for quirk in quirks:
        if quirk not in _WRAPPER_ORDER:
            parts.update(QUIRKS[quirk])
    wrappers = tuple(w for q in _WRAPPER_ORDER if q in quirks for w in QUIRKS[q]["env_wrappers"])
    return Extensions(name=PREFIX + "+".join(quirks), env_wrappers=wrappers, **parts)


def quirks_of(extensions_name: str) -> tuple[str, ...]:
    """The quirks named by a stored extensions name (``""`` → none).

    :raises ValueError: for a name that is not this reproduction's.
    """
    if not extensions_name:
        return ()
    if not extensions_name.startswith(PREFIX):
        raise ValueError(f"extensions {extensions_name!r} are not the maml2017 reproduction's ({PREFIX}...)")
    quirks = tuple(extensions_name[len(PREFIX):].split("+"))
    extensions_for(quirks)  # validates
    return quirks


def evaluation_stage_sampler(quirks: Iterable[str]) -> StageSampler:
    """How the test scripts collected each adaptation step: a per-task sample budget with ``sample_budget``
    (``test_maml_point.py``: ``batch_size = rollouts × horizon``), else fixed episodes."""
    return PerTaskSampleBudget() if "sample_budget" in set(quirks) else FixedEpisodes()


@dataclass(frozen=True)
class Preset:
    """One reproduction setting of one env: config fields, quirks, evaluation protocol and training budget."""

    description: str
    config: Mapping[str, Any] = field(default_factory=dict)
    quirks: tuple[str, ...] = ()
    eval_step_sizes: tuple[float, ...] = (0.1, 0.05)
    iterations: int = 500


_NAV_ORIGINAL = Preset(
    "the original point-env script (maml_examples/maml_trpo_point.py): α 0.5, rllab's normalize wrapper, "
    "sample-budget batches, zero hidden biases, its TRPO's finite-difference step; 100 iterations, last snapshot; "
    "test script: step sizes 0.5 then 0.25 on sample-budget batches",
    {"fast_lr": 0.5},
    ("maml_code_fd_step", "rescale_actions", "sample_budget", "zero_hidden_biases"),
    (0.5, 0.25),
    100,
)
_CHEETAH_DIR_ORIGINAL = Preset(
    "the original half-cheetah direction script: 100 Hz control (frame_skip 1), the centre of mass observed, "
    "zero hidden biases, max KL 0.02 (its step size); 100 iterations, last snapshot",
    {"env_kwargs": {"frame_skip": 1}, "max_kl": 0.02},
    ("torso_com_observation", "zero_hidden_biases"),
    (0.1, 0.05),
    100,
)
_CHEETAH_VEL_ORIGINAL = Preset(
    "the original half-cheetah velocity script: 100 Hz control (frame_skip 1), zero hidden biases, 10 rollouts "
    "per task, Gauss-Newton products (exact KL Hessian); trained 900 iterations, last snapshot",
    {"env_kwargs": {"frame_skip": 1}, "fast_batch_size": 10, "hvp": "gn", "workers": 2},
    ("zero_hidden_biases",),
    (0.1, 0.05),
    900,
)

#: env id -> preset name -> :class:`Preset`
PRESETS: dict[str, dict[str, Preset]] = {
    env_id: {"paper_text": Preset("the paper's text (App. A.2): the library's defaults")}
    for env_id in ("MetaNav2D-v0", "MetaCheetahVel-v0", "MetaCheetahDir-v0", "MetaAntVel-v0", "MetaAntDir-v0")
}
PRESETS["MetaNav2D-v0"]["original_code"] = _NAV_ORIGINAL
PRESETS["MetaCheetahDir-v0"]["original_code"] = _CHEETAH_DIR_ORIGINAL
PRESETS["MetaCheetahVel-v0"]["original_code"] = _CHEETAH_VEL_ORIGINAL
