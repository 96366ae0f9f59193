"""Policy-gradient objectives shared by the inner loop, the meta-objective and evaluation.

All functions take per-task stacked parameters (leading task dim ``N``) and episodes laid out ``[T, N, R, ...]``,
and return one number per task summed over tasks (so that one backward gives every task's gradient — see
:func:`metarl.maml.adapt`), or a mean over tasks where noted.
"""

from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from metarl.maml import Params, adapt_subset
from metarl.rl.advantages import discounted_returns, gae, normalize_per_task
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.policy import GaussianMLPPolicy


def masked_task_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real steps of each task: ``values``/``mask`` ``[T, N, R]`` -> ``[N]``.

    As rllab's MAML code, every real time step of a task's rollouts weighs the same.
    """
    return (values * mask).sum(dim=(0, 2)) / mask.sum(dim=(0, 2)).clamp_min(1.0)


def compute_advantages(
    episodes: BatchEpisodes,
    baseline: LinearFeatureBaseline,
    gamma: float,
    gae_lambda: float,
    normalize: bool = True,
) -> torch.Tensor:
    """Advantages ``[T, N, R]`` for every task: linear feature baseline fitted per task on the task's own
    discounted returns (MAML paper 5.3: "fitted separately at each iteration for each sampled task"), GAE(γ, λ),
    then normalised per task over its real steps."""
    returns = discounted_returns(episodes.rewards, episodes.mask, gamma)
    values = baseline.fit_predict(episodes, returns)
    advantages = gae(episodes.rewards, values, episodes.mask, gamma=gamma, lam=gae_lambda)
    if normalize:
        advantages = normalize_per_task(advantages, episodes.mask)
    return advantages.detach()


def policy_log_probs(policy: GaussianMLPPolicy, params: Params, episodes: BatchEpisodes) -> tuple[torch.Tensor, Normal]:
    """Log-probabilities ``[T, N, R]`` of the stored actions under per-task ``params`` (one batched forward)."""
    dist = policy.forward_batched(episodes.observations, params, task_dim=1)  # batch shape [T, N, R, act_dim]
    return dist.log_prob(episodes.actions).sum(-1), dist


def reinforce_loss(
    policy: GaussianMLPPolicy, params: Params, episodes: BatchEpisodes, advantages: torch.Tensor
) -> torch.Tensor:
    """Inner-loop REINFORCE loss (MAML Alg. 3 line 6, Williams 1992), summed over tasks:
    ``Σ_i  -mean_{t,r} log π_θi(a|s) · Â``."""
    log_probs, _ = policy_log_probs(policy, params, episodes)
    return -masked_task_mean(log_probs * advantages, episodes.mask).sum()


def surrogate_and_kl(
    policy: GaussianMLPPolicy,
    params: Params,
    episodes: BatchEpisodes,
    advantages: torch.Tensor,
    old_log_probs: torch.Tensor,
    old_dist: Normal,
) -> tuple[torch.Tensor, torch.Tensor]:
    """TRPO surrogate loss and mean KL (Schulman et al. 2015), both averaged over tasks.

    loss = -mean_i mean_{t,r} exp(log π_θ'i(a|s) - log π_old(a|s)) · Â ;
    kl   = mean_i mean_{t,r} KL(π_old(·|s) || π_θ'i(·|s)).
    """
    log_probs, dist = policy_log_probs(policy, params, episodes)
    ratio = torch.exp(log_probs - old_log_probs)
    loss = -masked_task_mean(ratio * advantages, episodes.mask).mean()
    kl = kl_divergence(old_dist, dist).sum(-1)  # [T, N, R]
    return loss, masked_task_mean(kl, episodes.mask).mean()


def adapted_param_names(policy: GaussianMLPPolicy) -> tuple[str, ...]:
    """Names of the parameters the inner loop adapts: ``policy.adapted_param_names()`` when the policy declares
    them (the context-vector learner of MAML App. C.2 adapts only ``("context",)``), else every parameter (MAML)."""
    declared = getattr(policy, "adapted_param_names", None)
    if callable(declared):
        return tuple(declared())
    return tuple(policy.named_params())


def reinforce_step(
    policy: GaussianMLPPolicy,
    params: Params,
    episodes: BatchEpisodes,
    advantages: torch.Tensor,
    step_size: float,
    first_order: bool = False,
) -> Params:
    """One REINFORCE gradient step for every task at once (MAML Alg. 3 lines 6-7):
    θ'_i = θ_i − α ∇_θi L_Ti(f_θi), with the graph kept unless ``first_order``.

    Only the parameters of :func:`adapted_param_names` move (all of them for MAML, the context vector z for the
    Rei '15 learner of App. C.2); this is the one inner step used by training, the meta-objective and evaluation.
    """
    return adapt_subset(
        params,
        adapted_param_names(policy),
        lambda p: reinforce_loss(policy, p, episodes, advantages),
        steps=1,
        step_size=step_size,
        first_order=first_order,
    )
