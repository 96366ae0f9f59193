"""Discounted returns, generalized advantage estimation and per-task advantage normalisation.

All functions take time-first tensors ``[T, ...]`` (the episode layout is ``[T, N, R]``) with a ``mask`` that
is 1 on real steps and 0 on padding (see :class:`metarl.rl.episodes.BatchEpisodes`).  As in rllab / the MAML
code, the end of every episode — termination *or* the horizon — is treated as terminal: there is no
bootstrap value after the last real step.
"""

from __future__ import annotations

import math

import torch

__all__ = ["discounted_returns", "gae", "normalize_per_task"]


def _check_factor(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
    return value


def _check_time_first(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    first = next(iter(shapes.values()))
    if any(shape != first for shape in shapes.values()):
        raise ValueError(f"shapes must match: {shapes}")
    if len(first) == 0:
        raise ValueError(f"tensors need a leading time dimension; got scalars {shapes}")


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go R_t = Σ_{k≥0} γ^k r_{t+k} over the real steps of each episode.

    Computed by the backward recursion ``R_t = m_t (r_t + γ R_{t+1})`` with ``R_T = 0``; since the mask is
    non-increasing, the sum stops at the last real step and padded steps get R_t = 0.

    :param rewards: ``[T, ...]`` rewards (values on padded steps are ignored, even if non-finite).
    :param mask: ``[T, ...]``, 1 on real steps, 0 on padding.
    :param gamma: discount γ ∈ [0, 1].
    :returns: ``[T, ...]`` returns, 0 on padded steps.
    """
    gamma = _check_factor("gamma", gamma)
    _check_time_first(rewards=rewards, mask=mask)
    real = mask.bool()
    r = torch.where(real, rewards, torch.zeros_like(rewards))  # padding contributes nothing (NaN-safe)
    out = torch.zeros_like(r)
    running = torch.zeros_like(r[0])
    for t in range(r.shape[0] - 1, -1, -1):
        running = r[t] + gamma * running  # R_t = r_t + γ R_{t+1}
        running = torch.where(real[t], running, torch.zeros_like(running))
        out[t] = running
    return out


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 0.99,
    lam: float = 1.0,
) -> torch.Tensor:
    """Generalized advantage estimation (Schulman et al. 2016, Eq. 16), the MAML/rllab estimator.

    With V(s_t) = 0 on padded steps and after the horizon (the end of an episode is terminal)::

        δ_t = r_t + γ V(s_{t+1}) − V(s_t)                       (TD residual)
        Â_t = Σ_{l≥0} (γλ)^l δ_{t+l} = δ_t + γλ Â_{t+1}        (GAE(γ, λ))

    For λ = 1 the sum telescopes to ``Â_t = R_t − V(s_t)`` (discounted return minus baseline, the MAML
    default); for λ = 0 it is the one-step TD residual.

    :param rewards: ``[T, ...]`` rewards.
    :param values: ``[T, ...]`` baseline predictions V(s_t) (e.g. :class:`LinearFeatureBaseline`); values on
        padded steps are ignored and treated as 0.
    :param mask: ``[T, ...]``, 1 on real steps, 0 on padding.
    :param gamma: discount γ ∈ [0, 1] (0.99 as in MAML).
    :param lam: GAE λ ∈ [0, 1] (1.0 as in MAML).
    :returns: ``[T, ...]`` advantages, 0 on padded steps.
    """
    gamma = _check_factor("gamma", gamma)
    lam = _check_factor("lam", lam)
    _check_time_first(rewards=rewards, values=values, mask=mask)
    real = mask.bool()
    zeros = torch.zeros_like(rewards)
    r = torch.where(real, rewards, zeros)
    v = torch.where(real, values, zeros)  # V = 0 on padding, so V(s_{t+1}) = 0 after the last real step
    # V(s_{t+1}): shift by one step; the value after the horizon is 0 (terminal, no bootstrap — rllab's
    # `np.append(path["baselines"], 0)`).
    v_next = torch.cat([v[1:], torch.zeros_like(v[:1])], dim=0)
    delta = r + gamma * v_next - v  # δ_t = r_t + γ V(s_{t+1}) − V(s_t)
    out = torch.zeros_like(r)
    running = torch.zeros_like(r[0])
    for t in range(r.shape[0] - 1, -1, -1):
        running = delta[t] + gamma * lam * running  # Â_t = δ_t + γλ Â_{t+1}
        running = torch.where(real[t], running, torch.zeros_like(running))
        out[t] = running
    return out


def normalize_per_task(adv: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Standardise advantages separately for each task: (Â − mean_i) / (std_i + eps) over task i's real steps.

    The mean and (population, ddof = 0, as ``np.std`` in rllab) standard deviation are taken over time and
    rollouts (every dimension except dim 1, the task dimension of ``[T, N, R]``) and over real steps only;
    padded steps stay exactly 0.  rllab / maml_rl center advantages per task in the same way
    (``center_adv=True``), since each task's inner step and meta-loss term is its own policy-gradient problem.

    :param adv: ``[T, N, ...]`` advantages.
    :param mask: same shape, 1 on real steps.
    :param eps: added to the standard deviation (1e-8 as rllab).
    :returns: the normalised advantages, same shape; a task with a single real step gets 0 there.
    """
    _check_time_first(adv=adv, mask=mask)
    if adv.ndim < 2:
        raise ValueError(
            f"adv must be laid out [T, N, ...] with a task dimension; got shape {tuple(adv.shape)}"
        )
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0; got {eps!r}")
    real = mask.bool()
    m = real.to(adv.dtype)
    a = torch.where(real, adv, torch.zeros_like(adv))
    dims = (0, *range(2, adv.ndim))  # everything but the task dimension
    count = m.sum(dim=dims, keepdim=True).clamp_min(1.0)
    mean = a.sum(dim=dims, keepdim=True) / count
    centered = (a - mean) * m
    std = torch.sqrt((centered**2).sum(dim=dims, keepdim=True) / count)
    return centered / (std + eps)
