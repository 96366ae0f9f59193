"""MAML-TRPO: Model-Agnostic Meta-Learning for RL with TRPO as the meta-optimizer.

Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks", ICML 2017,
Algorithm 3 with the settings of App. A.2: REINFORCE inner step(s) with step size α = 0.1, a linear feature
baseline fitted per task, and a TRPO meta-step whose Hessian-vector products are taken by finite differences
("in order to avoid computing third derivatives", section 5.3).

One meta-iteration (:meth:`MAMLTRPO.step`):

1. sample ``meta_batch_size`` tasks T_i ~ p(T)                                    (Alg. 3 line 3)
2. for every task, sample ``fast_batch_size`` rollouts D_i with f_θ            (line 5)
3. θ'_i = θ − α ∇_θ L_Ti(f_θ) on D_i (``num_steps`` times, fresh rollouts each)  (lines 6-7)
4. sample rollouts D'_i with f_θ'_i                                             (line 8)
5. meta-objective: Σ_i importance-weighted surrogate of f_θ'_i on D'_i; TRPO step on θ through the inner
   update(s) (second order unless ``first_order``)                               (line 10)

A meta-step whose surrogate, meta-gradient or KL curvature is not finite (e.g. an inner step size so large that
the adapted policies overflow) is rejected: θ is kept bit for bit, ``trpo/rejected`` = 1 and ``trpo/reject_cause``
(a code of :data:`REJECT_CAUSES`) go into the metrics, and the iteration counts as done (its samples are spent), so
the next iteration draws new tasks instead of replaying the failure.  :func:`agents.training.train` logs every
rejection and stops a run after ``TrainingConfig.max_consecutive_rejections`` of them in a row.

With ``num_steps = 0`` the same code is plain multi-task TRPO ("pretrained" baseline of the paper), and with
``policy="context"`` it is the context-vector learner of App. C.2 (Rei 2015): the inner step adapts only the
policy's context vector z, the TRPO meta-step trains every parameter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents import paper_settings
from agents.rl_config import PolicyConfigMixin, check_fields
from envs.protocol import env_spec
from metarl import maml
from metarl.optim import (
    FDStep,
    backtracking_line_search,
    flatten,
    make_fvp,
    make_gauss_newton_fvp,
    trpo_step_direction,
    unflatten_like,
)
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.context_policy import CONTEXT_PARAM, ContextGaussianMLPPolicy
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.objectives import compute_advantages, reinforce_step, surrogate_and_kl
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import SAMPLERS, EnvWrapper, FixedEpisodes, PolicyRollouts, SamplerTimes, StageSampler
from metarl.seeding import generator_state, set_generator_state

__all__ = [
    "HVP_KINDS",
    "REJECT_CAUSES",
    "Extensions",
    "MAMLTRPO",
    "MAMLTRPOConfig",
    "MetaBatch",
    "build_policy",
    "make_policy",
    "policy_dims_from_state",
]

#: Hessian-vector products of the meta-step's KL (MAMLTRPOConfig.hvp)
HVP_KINDS: tuple[str, ...] = ("fd", "fd-forward", "exact", "gn")
#: the backtracking line search of the TRPO meta-step (rllab's ``ConjugateGradientOptimizer`` defaults, which the
#: MAML paper's code used): at most 15 steps, each shrinking the step by 0.8
LS_MAX_STEPS = 15
LS_BACKTRACK_RATIO = 0.8
#: why a meta-step was rejected: the ``trpo/reject_cause`` metric (0 = not rejected)
REJECT_CAUSES: dict[int, str] = {
    1: "non-finite adapted parameters after the inner step",
    2: "non-finite surrogate loss",
    3: "non-finite meta-gradient",
    4: "non-finite Hessian-vector product of the KL",
    5: "non-finite surrogate or KL at every line-search step",
}
#: names of the goal directions of direction tasks (``DirectionTask.direction``)
DIRECTION_NAMES = {1: "forward", -1: "backward"}


@dataclass
class MAMLTRPOConfig(PolicyConfigMixin):
    """Configuration of :class:`MAMLTRPO`; defaults are the MAML paper's (Finn et al. 2017, section 5.3, App. A.2)."""

    env_id: str = "MetaNav2D-v0"
    """Gymnasium id of a task-distribution env: its single env has ``sample_tasks(n, rng)``, ``set_task(task)`` and
    ``task`` (the task protocol, :mod:`envs.protocol`); ``module:Id`` imports ``module`` first.  Ids without a
    native batched form are batched by the library (:func:`envs.make_task_vector_env`)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the env constructor (e.g. ``{"frame_skip": 1}``)."""
    meta_batch_size: int | None = None
    """Tasks per meta-iteration; None = the paper's value (20 for navigation, 40 for locomotion)."""
    fast_batch_size: int | None = None
    """Rollouts per task per gradient step; None = the paper's value (20; 40 for ant direction)."""
    num_steps: int = 1
    """Inner REINFORCE steps (0 gives multi-task TRPO, the paper's 'pretrained' baseline)."""
    fast_lr: float = 0.1
    """Inner step size α."""
    first_order: bool = False
    """Drop the second-order term of the meta-gradient (first-order MAML, paper 5.2)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE λ (1.0 = Monte-Carlo returns minus baseline, as in the paper)."""
    max_kl: float = 0.01
    """TRPO trust-region size δ."""
    cg_iters: int = 10
    """Conjugate-gradient iterations."""
    cg_damping: float = 1e-5
    """Damping added to the Fisher-vector product."""
    hvp: str = "fd"
    """Hessian-vector product of the mean KL: 'fd' (central finite differences [∇KL(θ+εv) − ∇KL(θ−εv)] / 2ε, the
    paper's method), 'fd-forward' ([∇KL(θ+εv) − ∇KL(θ)] / ε: one gradient per product instead of two, about as
    accurate on ReLU policies), 'exact' (double backprop; the test reference), 'gn' (Gauss-Newton Jᵀ M J: the
    KL Hessian at θ_old exactly, no third derivatives)."""
    fd_eps: float | None = None
    """Step ε of the finite-difference products; None = :func:`metarl.optim.default_fd_eps` (rllab's
    1e-8/‖θ‖ in float64, a round-off-balanced step in float32).  A rule (θ, v) ↦ ε is passed as
    ``MAMLTRPO(..., extensions=Extensions(fd_step=...))`` instead."""
    hidden_sizes: tuple[int, ...] = (100, 100)
    """Policy MLP hidden layers (2 x 100 ReLU in the paper)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy."""
    policy: str = "mlp"
    """'mlp' (MAML: the inner step adapts every parameter) or 'context' (the Rei '15 context-vector learner of
    MAML App. C.2: a free vector z appended to the observation, the inner step adapts only z)."""
    context_dim: int = 2
    """Size of the context vector z of policy='context' (not stated in the paper; 2 = the nav goal's size)."""
    dtype: str = "float32"
    """Tensor dtype of the policy and the meta-step ('float32' or 'float64')."""
    workers: int = 1
    """Sampler processes (1 = in-process batched env; >1 = worker processes), or Ray actors; at most
    meta_batch_size x fast_batch_size (the env copies stepped at once), and for processes at most 4 per CPU core."""
    sampler: str = "process"
    """Sampler backend: 'process' (this process, or `workers` processes on this machine) or 'ray' (`workers`
    Ray actors, on a local Ray instance or the cluster of RAY_ADDRESS; needs `pip install "metarl[ray]"`)."""
    seed: int = 0
    """One seed for tasks, env resets, action noise and the policy initialisation."""

    def __post_init__(self) -> None:
        if self.meta_batch_size is None:
            self.meta_batch_size = paper_settings.meta_batch_size(self.env_id)
        if self.fast_batch_size is None:
            self.fast_batch_size = paper_settings.fast_batch_size(self.env_id)
        self.hidden_sizes = tuple(self.hidden_sizes)
        check_fields(self, {
            "meta_batch_size": _is_int(self.meta_batch_size, 1),
            "fast_batch_size": _is_int(self.fast_batch_size, 1),
            "num_steps": _is_int(self.num_steps, 0),
            "fast_lr": _is_real(self.fast_lr) and self.fast_lr > 0,
            "gamma": _is_real(self.gamma) and 0 < self.gamma <= 1,
            "gae_lambda": _is_real(self.gae_lambda) and 0 <= self.gae_lambda <= 1,
            "max_kl": _is_real(self.max_kl) and self.max_kl > 0,
            "cg_iters": _is_int(self.cg_iters, 1),
            "cg_damping": _is_real(self.cg_damping) and self.cg_damping >= 0,
            "hvp": self.hvp in HVP_KINDS,
            "fd_eps": self.fd_eps is None or (_is_real(self.fd_eps) and self.fd_eps > 0),
            "hidden_sizes": bool(self.hidden_sizes) and all(_is_int(h, 1) for h in self.hidden_sizes),
            "init_log_std": _is_real(self.init_log_std),
            "policy": self.policy in ("mlp", "context"),
            "context_dim": _is_int(self.context_dim, 1),
            "dtype": self.dtype in ("float32", "float64"),
            "workers": _is_int(self.workers, 1),
            "sampler": self.sampler in SAMPLERS,
            "seed": _is_int(self.seed, 0),
        })
        copies = self.meta_batch_size * self.fast_batch_size
        if self.workers > copies:
            raise ValueError(f"MAMLTRPOConfig.workers = {self.workers} is more than the meta_batch_size x "
                             f"fast_batch_size = {copies} env copies a sampling stage steps (each worker steps a "
                             "share of them)")
        if self.fd_eps is not None and not self.hvp.startswith("fd"):
            raise ValueError(f"MAMLTRPOConfig.fd_eps = {self.fd_eps!r} needs hvp='fd' or 'fd-forward', got {self.hvp!r}")
        try:
            env_spec(self.env_id)  # "module:Id" imports the module, which registers the id
        except ValueError as exc:
            raise ValueError(f"MAMLTRPOConfig.{exc}") from None
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"invalid MAMLTRPOConfig.env_kwargs = {self.env_kwargs!r} (a dict of keyword arguments)")


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Extensions:
    """What a MAML-TRPO run plugs into the library besides its config — the extension points through which a
    paper's original implementation is reproduced without a library option (see reproductions/maml2017).

    :ivar name: identifies the extensions in checkpoints (e.g. ``"maml2017:original_code"``); a checkpoint written
        with extensions is only loaded when the same name is given again (:func:`agents.training.load_agent`).
    :ivar stage_sampler: how the episodes of each sampling stage are gathered (:class:`metarl.rl.sampler.StageSampler`;
        default :class:`~metarl.rl.sampler.FixedEpisodes`).
    :ivar fd_step: the finite-difference step as a rule (θ, v) ↦ ε (overrides ``MAMLTRPOConfig.fd_eps``).
    :ivar policy_init: called once on a freshly built policy (not on one passed in), with torch's global RNG
        seeded by the policy's init seed (restored afterwards), e.g. to initialise it as another implementation did.
    :ivar env_wrappers: callables ``VectorEnv -> VectorEnv`` wrapping every batched env (picklable: module-level),
        e.g. Gymnasium action or observation wrappers.
    """

    name: str = ""
    stage_sampler: StageSampler | None = None
    fd_step: Callable[[torch.Tensor, torch.Tensor], float] | None = None
    policy_init: Callable[[GaussianMLPPolicy], None] | None = None
    env_wrappers: tuple[EnvWrapper, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Extensions.name must be a str, got {self.name!r}")
        plugged = any(x is not None for x in (self.stage_sampler, self.fd_step, self.policy_init))
        if not self.name and (plugged or self.env_wrappers):
            raise ValueError("Extensions need a name (stored in checkpoints so that they are loaded with them)")
        object.__setattr__(self, "env_wrappers", tuple(self.env_wrappers))


def build_policy(
    obs_dim: int,
    act_dim: int,
    *,
    hidden_sizes: Sequence[int],
    init_log_std: float,
    dtype: torch.dtype,
    seed: int,
    kind: str = "mlp",
    context_dim: int = 2,
) -> GaussianMLPPolicy:
    """A :class:`GaussianMLPPolicy` (``kind="mlp"``) or :class:`ContextGaussianMLPPolicy` (``"context"``) for the
    env's ``obs_dim``/``act_dim``, its initial weights drawn from ``seed`` (the global torch RNG is untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy: GaussianMLPPolicy
        if kind == "context":
            policy = ContextGaussianMLPPolicy(
                obs_dim, act_dim, context_dim=context_dim, hidden_sizes=hidden_sizes, init_log_std=init_log_std
            )
        else:
            policy = GaussianMLPPolicy(obs_dim, act_dim, hidden_sizes=hidden_sizes, init_log_std=init_log_std)
    return policy.to(dtype)


def policy_dims_from_state(policy_state: Mapping[str, Any], kind: str = "mlp") -> tuple[int, int]:
    """The env's ``(obs_dim, act_dim)`` of a saved :func:`build_policy` policy, read from its state dict's shapes.

    The first layer's input width is ``obs_dim`` (plus the context size for ``kind="context"``, whose MLP sees
    ``[observation, z]``) and ``log_std`` has one entry per action dimension.

    :raises KeyError: (or ``IndexError``/``AttributeError``) if ``policy_state`` lacks those parameters.
    """
    obs_dim = policy_state["layers.0.weight"].shape[1]
    act_dim = policy_state["log_std"].shape[0]
    if kind == "context":
        obs_dim -= policy_state[CONTEXT_PARAM].shape[0]
    return int(obs_dim), int(act_dim)


def make_policy(obs_dim: int, act_dim: int, config: MAMLTRPOConfig, seed: int) -> GaussianMLPPolicy:
    """Build the policy of ``config.policy`` (a :class:`GaussianMLPPolicy`, or a
    :class:`ContextGaussianMLPPolicy` for ``"context"``) for the env's ``obs_dim``/``act_dim``, with its initial
    weights drawn from ``seed`` (the global torch RNG is left untouched)."""
    return build_policy(
        obs_dim, act_dim, hidden_sizes=config.hidden_sizes, init_log_std=config.init_log_std,
        dtype=config.torch_dtype, seed=seed, kind=config.policy, context_dim=config.context_dim,
    )


@dataclass
class MetaBatch:
    """Everything one meta-iteration samples (Alg. 3 lines 3-8), fixed during the TRPO meta-step.

    :ivar train: per inner step, the pre-update episodes ``[T, N, R]`` and their advantages.
    :ivar valid: the post-update episodes D'_i sampled with θ'_i (the meta-objective's data).
    :ivar old_log_probs: log π_θ'_i(a|s) on ``valid`` at sampling time (importance-sampling denominators).
    :ivar old_dist: π_θ'_i(·|s) on ``valid`` at sampling time (the KL's reference).
    :ivar task_returns: ``[N]`` mean episode return of every task before adaptation and after each inner step
        (taken before :meth:`StageSampler.for_losses <metarl.rl.sampler.StageSampler.for_losses>`).
    :ivar task_success: the same for the fraction of successful episodes (:meth:`BatchEpisodes.success_rates
        <metarl.rl.episodes.BatchEpisodes.success_rates>`); empty when the env reports no ``info["success"]``.
    """

    tasks: list[Any]
    train: list[tuple[BatchEpisodes, torch.Tensor]]
    valid: BatchEpisodes
    valid_advantages: torch.Tensor
    old_log_probs: torch.Tensor
    old_dist: torch.distributions.Normal
    task_returns: list[torch.Tensor]
    timing: dict[str, float]
    task_success: list[torch.Tensor] = field(default_factory=list)

    @property
    def num_tasks(self) -> int:
        return self.valid.num_tasks

    @property
    def returns(self) -> list[float]:
        """Mean episode return over the tasks (each task weighted alike) before adaptation and after each step."""
        return [r.mean().item() for r in self.task_returns]

    def stage_metrics(self) -> dict[str, float]:
        """``train/return_before_adapt``, ``train/return_after_<k>_steps`` (intermediate steps) and
        ``train/return_after_adapt``; the same keys with ``success`` for an env that reports success."""
        out: dict[str, float] = {}
        for name, per_stage in (("return", self.task_returns), ("success", self.task_success)):
            values = [r.mean().item() for r in per_stage]
            if not values:
                continue
            out[f"train/{name}_before_adapt"] = values[0]
            out[f"train/{name}_after_adapt"] = values[-1]
            for k, value in enumerate(values[1:-1], start=1):
                out[f"train/{name}_after_{k}_steps"] = value
        return out


def direction_returns(batch: MetaBatch) -> dict[str, float]:
    """Mean training return before and after adaptation per direction, for direction tasks (half-cheetah and ant
    goal direction: tasks with a ``direction`` of ±1); ``{}`` for other tasks.

    Keys ``train/return_before_adapt_forward`` / ``_backward`` and ``train/return_after_adapt_forward`` /
    ``_backward``, for the directions the meta-batch has (a policy that learns one direction first shows here).
    """
    directions = [getattr(task, "direction", None) for task in batch.tasks]
    if not directions or any(d not in DIRECTION_NAMES for d in directions):
        return {}
    sign = torch.as_tensor(directions)
    before, after = batch.task_returns[0], batch.task_returns[-1]  # [N] per task
    out: dict[str, float] = {}
    for value, name in DIRECTION_NAMES.items():
        chosen = sign == value
        if bool(chosen.any()):
            out[f"train/return_before_adapt_{name}"] = before[chosen].mean().item()
            out[f"train/return_after_adapt_{name}"] = after[chosen].mean().item()
    return out


def _append_success(task_success: list[torch.Tensor], episodes: BatchEpisodes) -> None:
    """Append the episodes' per-task success rates to ``task_success`` when the env reports success."""
    rates = episodes.success_rates()
    if rates is not None:
        task_success.append(rates)


class _RejectedStep(Exception):
    """Raised inside a meta-iteration that cannot produce a meta-step (cause: a key of :data:`REJECT_CAUSES`)."""

    def __init__(self, cause: int, task_returns: Sequence[torch.Tensor] = ()) -> None:
        super().__init__(REJECT_CAUSES[cause])
        self.cause = cause
        self.task_returns = list(task_returns)


def _rejected_metrics(cause: int, loss_before: float = math.nan, grad_norm: float = math.nan) -> dict[str, float]:
    """The ``trpo/*`` metrics of a rejected meta-step (θ unchanged)."""
    return {
        "trpo/accepted": 0.0, "trpo/kl": 0.0, "trpo/loss_before": loss_before, "trpo/loss_after": loss_before,
        "trpo/step_fraction": 0.0, "trpo/ls_steps": 0.0, "trpo/grad_norm": grad_norm, "trpo/curvature": math.nan,
        "trpo/rejected": 1.0, "trpo/reject_cause": float(cause), "trpo/line_search_failed": 0.0,
    }


class MAMLTRPO:
    """MAML with a TRPO meta-step (Finn et al. 2017, Alg. 3, App. A.2). See the module docstring.

    :param config: hyper-parameters (paper defaults).
    :param policy: an existing policy to continue from (e.g. loaded from a checkpoint); built from the seed if None.
    :param extensions: the extension points a run plugs in (:class:`Extensions`); none by default.
    """

    def __init__(
        self,
        config: MAMLTRPOConfig,
        policy: GaussianMLPPolicy | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        if policy is not None and isinstance(policy, ContextGaussianMLPPolicy) != (config.policy == "context"):
            raise ValueError(
                f"MAMLTRPOConfig.policy is {config.policy!r} but the given policy is a {type(policy).__name__}"
            )
        self.config = config
        self.extensions = extensions or Extensions()
        self.stage_sampler: StageSampler = self.extensions.stage_sampler or FixedEpisodes()
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        self.task_rng = np.random.default_rng(seeds[0])
        self.reset_rng = np.random.default_rng(seeds[1])
        self.noise = torch.Generator().manual_seed(int(seeds[2].generate_state(1)[0]))
        self.rollouts = PolicyRollouts(
            config.env_id,
            config.meta_batch_size,
            config.fast_batch_size,
            workers=config.workers,
            env_kwargs=config.env_kwargs,
            dtype=config.torch_dtype,
            sampler=config.sampler,
            env_wrappers=self.extensions.env_wrappers,
        )
        if policy is None:
            init_seed = int(seeds[3].generate_state(1)[0])
            policy = make_policy(self.rollouts.observation_dim, self.rollouts.action_dim, config, init_seed)
            if self.extensions.policy_init is not None:
                # torch's global RNG seeded with the init seed (and restored after): an init that draws is
                # reproducible, and may repeat another implementation's draws exactly
                with torch.random.fork_rng(devices=[]), torch.no_grad():
                    torch.manual_seed(init_seed)
                    self.extensions.policy_init(policy)
        self.policy = policy
        self.baseline = LinearFeatureBaseline()
        self.iteration = 0

    # ----------------------------------------------------------------- pieces of one meta-iteration
    def _params(self) -> maml.Params:
        return self.policy.named_params()

    def _next_seed(self) -> int:
        return int(self.reset_rng.integers(0, 2**31 - 1))

    def inner_adapt(
        self,
        stacked: maml.Params,
        episodes: BatchEpisodes,
        advantages: torch.Tensor,
        step_size: float,
        first_order: bool,
    ) -> maml.Params:
        """One REINFORCE step for every task at once (Alg. 3 lines 6-7), on the parameters the policy declares
        adaptable (all for MAML, only z for the context learner; see :func:`reinforce_step`)."""
        return reinforce_step(self.policy, stacked, episodes, advantages, step_size, first_order)

    def adapt_all(
        self,
        params: maml.Params,
        train: Sequence[tuple[BatchEpisodes, torch.Tensor]],
        first_order: bool,
        num_tasks: int,
    ) -> maml.Params:
        """θ'_i for every task from θ, replaying the inner steps on their fixed episodes."""
        stacked = maml.stack_params(params, num_tasks)
        for episodes, advantages in train:
            stacked = self.inner_adapt(stacked, episodes, advantages, self.config.fast_lr, first_order)
        return stacked

    def sample_episodes(self, stacked: maml.Params, tasks: Sequence[Any]) -> BatchEpisodes:
        """The rollouts of one sampling stage with per-task parameters ``stacked``, as the stage sampler gathers
        them from rounds of ``fast_batch_size`` rollouts per task (one reset seed per round; one round by default)."""

        def sample_round() -> BatchEpisodes:
            return self.rollouts.sample(self.policy, stacked, tasks, self._next_seed(), self.noise)

        return self.stage_sampler.collect(sample_round, self.rollouts)

    def _advantages(self, episodes: BatchEpisodes) -> tuple[BatchEpisodes, torch.Tensor]:
        """Per-task baseline, GAE and normalised advantages of ``episodes``, then what the losses see of them
        (:meth:`StageSampler.for_losses <metarl.rl.sampler.StageSampler.for_losses>`)."""
        cfg = self.config
        advantages = compute_advantages(episodes, self.baseline, cfg.gamma, cfg.gae_lambda)
        return self.stage_sampler.for_losses(episodes, advantages)

    def collect(self) -> MetaBatch:
        """Sample a meta-batch: tasks, pre-update rollouts and inner steps, post-update rollouts (lines 3-8)."""
        cfg = self.config
        t_start = time.perf_counter()
        self.rollouts.times = SamplerTimes()
        tasks = self.rollouts.sample_tasks(cfg.meta_batch_size, self.task_rng)
        params = self._params()
        train: list[tuple[BatchEpisodes, torch.Tensor]] = []
        stacked = maml.stack_params({k: v.detach() for k, v in params.items()}, cfg.meta_batch_size)
        task_returns = []
        task_success: list[torch.Tensor] = []
        t_adapt = 0.0
        for _ in range(cfg.num_steps):
            episodes = self.sample_episodes(stacked, tasks)
            task_returns.append(episodes.mean_returns())
            _append_success(task_success, episodes)
            t0 = time.perf_counter()
            episodes, advantages = self._advantages(episodes)
            train.append((episodes, advantages))
            # θ' used only to sample the next rollouts: no graph needed (the meta-step replays the adaptation)
            leaf = {k: v.detach().requires_grad_(True) for k, v in stacked.items()}
            adapted = self.inner_adapt(leaf, episodes, advantages, cfg.fast_lr, first_order=True)
            stacked = {k: v.detach() for k, v in adapted.items()}
            t_adapt += time.perf_counter() - t0
            if not all(bool(torch.isfinite(v).all()) for v in stacked.values()):
                raise _RejectedStep(1, task_returns)
        valid = self.sample_episodes(stacked, tasks)
        task_returns.append(valid.mean_returns())
        _append_success(task_success, valid)
        valid, valid_adv = self._advantages(valid)
        with torch.no_grad():
            old_dist = self.policy.forward_batched(valid.observations, stacked, task_dim=1)
            old_log_probs = old_dist.log_prob(valid.actions).sum(-1)
        timing = {
            "time/sampling": time.perf_counter() - t_start - t_adapt,
            "time/sampling_env": self.rollouts.times.env,
            "time/sampling_policy": self.rollouts.times.policy,
            "time/inner_adaptation": t_adapt,
        }
        return MetaBatch(tasks, train, valid, valid_adv, old_log_probs, old_dist, task_returns, timing, task_success)

    def meta_objective(
        self, batch: MetaBatch, flat_theta: torch.Tensor, first_order: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(surrogate loss, mean KL) of the adapted policies as a function of the flat θ (Alg. 3 line 10).

        The inner steps are replayed on the fixed pre-update episodes, keeping the graph (second order) unless
        ``first_order``.  When ``flat_theta`` does not require grad (line search: only the value is wanted), θ is
        made a fresh leaf and the inner gradient is taken without a graph — same value, cheaper.
        """
        first_order = self.config.first_order if first_order is None else first_order
        if not flat_theta.requires_grad:
            flat_theta = flat_theta.detach().requires_grad_(True)
            first_order = True
        theta = unflatten_like(flat_theta, self._params())
        adapted = self.adapt_all(theta, batch.train, first_order, batch.num_tasks)
        return surrogate_and_kl(
            self.policy, adapted, batch.valid, batch.valid_advantages, batch.old_log_probs, batch.old_dist
        )

    def make_kl_fvp(self, batch: MetaBatch, theta0: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The damped Fisher-vector product v ↦ (∇²KL(θ0) + λI) v of the meta-step's mean KL on ``batch``.

        ``hvp="fd"``/``"fd-forward"``/``"exact"``: central / forward finite differences / double backprop of ∇KL
        (:func:`metarl.optim.make_fvp`; the step ε of ``extensions.fd_step`` or ``config.fd_eps``).
        ``hvp="gn"``: :func:`metarl.optim.make_gauss_newton_fvp` with z = [μ, log σ] of the adapted policies on
        every post-update sample and the diagonal Gaussian KL metric M = [1/σ_old², 2] weighted like
        :func:`metarl.rl.objectives.surrogate_and_kl`'s mean (per task over its real steps, then over tasks),
        which is the KL Hessian at θ0 exactly (∂KL/∂z = 0 there).
        """
        cfg = self.config
        kl = lambda flat: self.meta_objective(batch, flat)[1]  # noqa: E731
        if cfg.hvp == "exact":
            return make_fvp(kl, theta0, kind="exact", damping=cfg.cg_damping)
        if cfg.hvp in ("fd", "fd-forward"):
            step: FDStep | None = self.extensions.fd_step or cfg.fd_eps
            scheme = "forward" if cfg.hvp == "fd-forward" else "central"
            return make_fvp(kl, theta0, kind="fd", damping=cfg.cg_damping, eps=step, fd_scheme=scheme)
        mask = batch.valid.mask  # [T, N, R]
        weight = (mask / mask.sum(dim=(0, 2), keepdim=True).clamp_min(1.0) / batch.num_tasks).unsqueeze(-1)
        old_std = batch.old_dist.stddev.expand_as(batch.old_dist.mean)
        metric = torch.stack([weight / old_std**2, 2.0 * weight.expand_as(old_std)])

        # z = [μ, log σ] of π_θ'_i on D'_i, in the metric's dtype (float64 in float64 runs: a float32 cast there had
        # put the products ~1e-8 relative off the exact KL Hessian)
        def outputs(flat: torch.Tensor) -> torch.Tensor:
            theta = unflatten_like(flat, self._params())
            adapted = self.adapt_all(theta, batch.train, cfg.first_order, batch.num_tasks)
            dist = self.policy.forward_batched(batch.valid.observations, adapted, task_dim=1)
            return torch.stack([dist.mean, dist.stddev.expand_as(dist.mean).log()]).to(metric.dtype)

        return make_gauss_newton_fvp(outputs, theta0, metric, damping=cfg.cg_damping)

    def step(self) -> dict[str, float]:
        """One meta-iteration (Alg. 3). Returns a metrics dict with namespaced keys; the caller logs it."""
        t_start = time.perf_counter()
        try:
            batch = self.collect()
        except _RejectedStep as rejected:
            self.iteration += 1
            before = rejected.task_returns[0].mean().item() if rejected.task_returns else math.nan
            return {**_rejected_metrics(rejected.cause), "time/iteration": time.perf_counter() - t_start,
                    "train/return_before_adapt": before, "train/return_after_adapt": math.nan}
        t0 = time.perf_counter()
        theta0 = flatten(self._params()).detach()
        metrics = self._trpo_step(
            lambda flat: self.meta_objective(batch, flat),
            self.make_kl_fvp(batch, theta0),
            theta0,
        )
        self.iteration += 1
        metrics.update(batch.timing)
        metrics["time/meta_step"] = time.perf_counter() - t0
        metrics["time/iteration"] = time.perf_counter() - t_start
        metrics.update(batch.stage_metrics())
        metrics.update(self._policy_diagnostics(batch))
        metrics.update(direction_returns(batch))
        return metrics

    def _policy_diagnostics(self, batch: MetaBatch) -> dict[str, float]:
        """How wide the policy is and where its adapted means sit relative to the action bounds: the mean of
        ``log_std`` after the meta-step, the mean |μ| of the adapted policies on their post-update samples
        (in the policy's action units), and the fraction of those means outside [-1, 1] in those units
        (the env clips to its own bounds, e.g. ±0.1 on MetaNav2D, unless an action wrapper maps them)."""
        mask = batch.valid.mask.unsqueeze(-1).expand_as(batch.old_dist.mean)
        mean_abs = batch.old_dist.mean.abs()[mask > 0]
        return {
            "policy/log_std": float(self.policy.log_std.detach().mean()),
            "policy/adapted_mean_abs": float(mean_abs.mean()) if mean_abs.numel() else float("nan"),
            "policy/adapted_mean_outside_unit": float((mean_abs > 1.0).float().mean()) if mean_abs.numel() else float("nan"),
        }

    def _trpo_step(
        self,
        meta_objective: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
        fvp: Callable[[torch.Tensor], torch.Tensor],
        theta0: torch.Tensor,
    ) -> dict[str, float]:
        """TRPO (Schulman et al. 2015) on the meta-objective: CG on the KL Hessian (``fvp``, see
        :meth:`make_kl_fvp`), backtracking line search."""
        cfg = self.config
        theta = theta0.clone().requires_grad_(True)
        loss0, _ = meta_objective(theta)
        if not bool(torch.isfinite(loss0)):
            return _rejected_metrics(2, loss_before=loss0.item())
        grad = torch.autograd.grad(loss0, theta)[0]
        grad_norm = grad.norm().item()
        if not math.isfinite(grad_norm):
            return _rejected_metrics(3, loss_before=loss0.item(), grad_norm=grad_norm)
        products_finite = True

        def checked_fvp(v: torch.Tensor) -> torch.Tensor:
            nonlocal products_finite
            product = fvp(v)
            products_finite = products_finite and bool(torch.isfinite(product).all())
            return product

        direction = trpo_step_direction(grad, checked_fvp, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters)
        if not (products_finite and bool(torch.isfinite(direction.full_step).all())):
            return _rejected_metrics(4, loss_before=loss0.item(), grad_norm=grad_norm)
        finite_candidates = 0

        def evaluate(flat: torch.Tensor) -> tuple[float, float]:
            nonlocal finite_candidates
            loss, kl = meta_objective(flat.detach())
            loss_value, kl_value = loss.item(), kl.item()
            finite_candidates += math.isfinite(loss_value) and math.isfinite(kl_value)
            return loss_value, kl_value

        result = backtracking_line_search(
            theta0,
            direction.full_step,
            direction.expected_improve,
            evaluate,
            max_kl=cfg.max_kl,
            ratio=LS_BACKTRACK_RATIO,
            max_steps=LS_MAX_STEPS,
            loss0=loss0.item(),
        )
        if not result.accepted and finite_candidates == 0:
            return _rejected_metrics(5, loss_before=loss0.item(), grad_norm=grad_norm)
        self._set_params(result.theta)
        return {
            "trpo/accepted": float(result.accepted),
            "trpo/kl": float(result.kl),
            "trpo/loss_before": loss0.item(),
            "trpo/loss_after": float(result.loss),
            "trpo/step_fraction": float(result.step_fraction),
            "trpo/ls_steps": float(result.n_steps),
            "trpo/grad_norm": grad_norm,
            "trpo/curvature": direction.curvature,
            "trpo/rejected": 0.0,
            "trpo/reject_cause": 0.0,
            "trpo/line_search_failed": float(not result.accepted),
        }

    def _set_params(self, flat: torch.Tensor) -> None:
        live = dict(self.policy.named_parameters())
        with torch.no_grad():
            for name, value in unflatten_like(flat, self._params()).items():
                live[name].copy_(value)

    # ----------------------------------------------------------------- state for checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": {k: v.detach().clone() for k, v in self.policy.state_dict().items()},
            "config": self.config.to_dict(),
            "extensions": self.extensions.name,
            "iteration": self.iteration,
            "rng": {name: generator_state(gen) for name, gen in self._generators().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("extensions", "")
        if saved != self.extensions.name:
            raise ValueError(
                f"the state was written with extensions {saved!r} but this agent has {self.extensions.name!r}: "
                "load it with the same extensions (reproductions/ for a paper's original settings)"
            )
        self.policy.load_state_dict(state["policy"])
        self.iteration = int(state["iteration"])
        for name, gen in self._generators().items():
            set_generator_state(gen, state["rng"][name], name=f"rng[{name!r}]")

    def _generators(self) -> dict[str, np.random.Generator | torch.Generator]:
        return {"task": self.task_rng, "reset": self.reset_rng, "noise": self.noise}

    def close(self) -> None:
        self.rollouts.close()
