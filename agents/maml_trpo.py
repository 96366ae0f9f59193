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

With ``num_steps = 0`` the same code is plain multi-task TRPO ("pretrained" baseline of the paper), and with
``policy="context"`` it is the context-vector learner of App. C.2 (Rei 2015): the inner step adapts only the
policy's context vector z, the TRPO meta-step trains every parameter.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium
import numpy as np
import torch

from agents import paper_settings
from agents.rl_config import PolicyConfigMixin, check_fields
from metarl import maml
from metarl.optim import (
    FD_RULES,
    FD_SCHEMES,
    STEP_CURVATURES,
    FDRule,
    FDScheme,
    StepCurvature,
    backtracking_line_search,
    flatten,
    make_fvp,
    make_gauss_newton_fvp,
    make_one_step_gauss_newton_fvp,
    trpo_step_direction,
    unflatten_like,
)
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.context_policy import CONTEXT_PARAM, ContextGaussianMLPPolicy
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.objectives import (
    adapted_param_names,
    compute_advantages,
    reinforce_loss,
    reinforce_step,
    surrogate_and_kl,
)
from metarl.rl.policy import ACTION_SCALINGS, HIDDEN_BIAS_INITS, GaussianMLPPolicy
from metarl.rl.sample_budget import BATCH_MODES, pack_steps, sample_budget_batch
from metarl.rl.sampler import SAMPLERS, PolicyRollouts, SamplerTimes
from metarl.seeding import generator_state, set_generator_state

#: arithmetic of the Fisher-vector products (MAMLTRPOConfig.fvp_precision)
FVP_PRECISIONS = ("float32", "bfloat16")
#: finite difference of hvp='fd' when MAMLTRPOConfig.fd_scheme is not given: DESIGN.md's and the original code's
DEFAULT_FD_SCHEME = "central"
#: names of the goal directions of direction tasks (``DirectionTask.direction``)
DIRECTION_NAMES = {1: "forward", -1: "backward"}


def _stored_fd_setting(config: Mapping[str, Any], key: str, default: str) -> str | None:
    """A finite-difference setting of a stored config: its ``key`` for hvp='fd' (``default`` when missing: written
    before the key existed, when ``default`` was the only choice), None for hvp='exact'/'gn', which take none."""
    if config.get("hvp", "fd") != "fd":
        return None
    return config.get(key) or default


def stored_fd_scheme(config: Mapping[str, Any]) -> str | None:
    """The finite difference a stored config (checkpoint or result file) was trained with: ``'central'`` when
    the key is missing; None for hvp='exact'/'gn', whose configs stored the then-default ``'central'`` although
    their products take no differences."""
    return _stored_fd_setting(config, "fd_scheme", "central")


def stored_fd_eps(config: Mapping[str, Any]) -> str | None:
    """The finite-difference step rule a stored config was trained with: ``'auto'`` when the key is missing;
    None for hvp='exact'/'gn'."""
    return _stored_fd_setting(config, "fd_eps", "auto")


@dataclass
class MAMLTRPOConfig(PolicyConfigMixin):
    """Configuration of :class:`MAMLTRPO`; defaults are the MAML paper's (App. A.2)."""

    env_id: str = field(default="MetaNav2D-v0", metadata={"aliases": ("env",)})
    """Registered task-distribution env id."""
    meta_batch_size: int | None = None
    """Tasks per meta-iteration; None = the paper's value (20 for navigation, 40 for locomotion)."""
    fast_batch_size: int | None = None
    """Rollouts per task per gradient step; None = the paper's value (20; 40 for ant direction)."""
    batch: str = field(default="episodes", metadata={"choices": BATCH_MODES})
    """How the rollouts of a step are counted. 'episodes': fast_batch_size episodes per task (the paper's
    text). 'samples': the original trainer's budget (cbfinn/maml_rl ``batch_maml_polopt.py``): one
    auto-resetting env slot per task and meta_batch_size × fast_batch_size × horizon samples over the whole
    meta-batch, episodes still running at the stop dropped.  It gives more, shorter episodes where the env
    terminates early (MetaNav2D at the goal: a task solved in 5 steps gets ~400) and the same batch where it
    never does (half-cheetah).  The inner steps and the meta-step see each task's steps packed into one column
    (:func:`metarl.rl.sample_budget.pack_steps`), so a meta-iteration costs about as much as with 'episodes'."""
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
    ls_max_steps: int = 15
    """Backtracking line-search steps."""
    ls_backtrack_ratio: float = 0.8
    """Line-search shrink factor."""
    hvp: str = field(default="fd", metadata={"choices": ("fd", "exact", "gn")})
    """Hessian-vector product of the mean KL: 'fd' (finite differences, the paper's method), 'exact' (double
    backprop) or 'gn' (Gauss-Newton Jᵀ M J: equal to the KL Hessian at θ_old, built once per meta-step and
    reused by every CG iteration, no third derivatives — the fastest)."""
    fd_scheme: str | None = field(default=None, metadata={"choices": FD_SCHEMES})
    """Finite difference of hvp='fd': 'central' (the default: [∇KL(θ+εv) − ∇KL(θ−εv)] / 2ε, rllab's
    symmetric=True, DESIGN.md's and the original code's; two gradient evaluations per product) or 'forward'
    ([∇KL(θ+εv) − ∇KL(θ)] / ε with ∇KL(θ) computed once per meta-step; one per product: 1.7 s per MetaNav2D
    meta-iteration where central takes 2.9 s).  On ReLU policies, whose kinks make the central difference O(ε)
    too, both are about as accurate; trained side by side, forward ended within 4 of central on MetaNav2D (3 seeds)
    and 11.7 ± 29.7 below it after one step on half-cheetah direction (4 seeds) (README, "Notes on fidelity").
    None = 'central' when hvp='fd'; the products of 'exact' and 'gn' take no differences, so give none."""
    fd_eps: str | None = field(default=None, metadata={"choices": FD_RULES})
    """Step ε of hvp='fd' (:func:`metarl.optim.default_fd_eps`): 'auto' (the default: rllab's 1e-8/‖θ‖ in
    float64, a round-off-balanced step in float32), 'rllab', 'scaled', or 'maml_code' — ε = 1/‖θ‖, the step the
    original MAML code's TRPO really took (it passed its slice count positionally as FiniteDifferenceHvp's
    base_eps), which makes each product a secant of ∇KL over a wide interval rather than the Hessian.  None =
    'auto' when hvp='fd'; 'exact' and 'gn' take no step, so give none."""
    step_curvature: str = field(default="cg_residual", metadata={"choices": STEP_CURVATURES})
    """How the TRPO step length β = sqrt(2δ / sᵀHs) gets sᵀHs (:func:`metarl.optim.trpo_step_direction`):
    'cg_residual' (the default: from CG's residual, no extra product) or 'product' (one more Fisher-vector
    product along s, as rllab's ConjugateGradientOptimizer; the two differ only for products that are not
    linear in v, such as fd_eps='maml_code')."""
    fvp_subsample: float = 1.0
    """Fraction of the meta-batch's tasks on which the KL Hessian-vector products are computed (rllab
    ConjugateGradientOptimizer's subsample_factor; 1.0 = every task, as the paper's runs)."""
    fvp_precision: str = field(default="float32", metadata={"choices": FVP_PRECISIONS})
    """Arithmetic of the Fisher-vector products (needs hvp='gn' and dtype='float32'): 'float32', or 'bfloat16'
    (the products' graphs are built under CPU autocast, so their matrix products run in bfloat16 with float32
    accumulation while the meta-gradient, the KL and the line search stay float32).  'bfloat16' is faster only
    on CPUs with native bfloat16 (AVX512-BF16 or AMX); the products then differ from float32 by ~0.2 % and the
    CG direction by a cosine above 0.999 (README, "Notes on fidelity")."""
    hidden_sizes: tuple[int, ...] = (100, 100)
    """Policy MLP hidden layers (2 x 100 ReLU in the paper)."""
    policy: str = field(default="mlp", metadata={"choices": ("mlp", "context")})
    """'mlp' (MAML: the inner step adapts every parameter) or 'context' (the Rei '15 context-vector learner of
    MAML App. C.2: a free vector z appended to the observation, the inner step adapts only z)."""
    context_dim: int = 2
    """Size of the context vector z of policy='context' (not stated in the paper; 2 = the nav goal's size)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy."""
    hidden_bias_init: str = field(default="uniform", metadata={"choices": HIDDEN_BIAS_INITS})
    """Hidden-layer biases at initialisation: 'uniform' (PyTorch's U(±1/sqrt(fan_in)), the default, needed by
    hvp='fd' on MetaNav2D whose start state (0, 0) would put every ReLU on its kink) or 'zeros' (the original
    code's; the initial mean action at a zero observation is then exactly 0)."""
    action_scaling: str = field(default="clip", metadata={"choices": ACTION_SCALINGS})
    """How the policy's actions reach the env: 'clip' passes them in env units, clipped to the action space;
    'rescale' maps [-1, 1] onto the action space then clips (rllab's normalize wrapper, which the original MAML
    code ran under: x0.1 on MetaNav2D).  'clip' is the default (the paper's text).  An early comparison that
    found 'rescale' learning much worse on MetaNav2D had used finite-difference products; with hvp='gn' both learn
    (README, "Notes on fidelity"), and the original point-env script's settings use 'rescale'."""
    dtype: str = field(default="float32", metadata={"choices": ("float32", "float64")})
    """Tensor dtype of the policy and the meta-step ('float32' or 'float64')."""
    workers: int = 1
    """Sampler processes (1 = in-process batched env; >1 = multi-process sampler), or Ray actors."""
    sampler: str = field(default="process", metadata={"choices": SAMPLERS})
    """Sampler backend: 'process' (this process, or `workers` processes on this machine) or 'ray' (`workers`
    Ray actors, on a local Ray instance or the cluster of RAY_ADDRESS; needs `pip install "metarl[ray]"`)."""
    seed: int = 0
    """One seed for tasks, env resets, action noise and the policy initialisation."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the env constructor."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MAMLTRPOConfig:
        """The config of ``data`` (a checkpoint's ``"config"``) with the finite difference it was trained with
        and step rule (:func:`stored_fd_scheme`, :func:`stored_fd_eps`: older configs lack the keys, or store
        ``'central'`` on gn/exact products)."""
        return super().from_dict({**data, "fd_scheme": stored_fd_scheme(data), "fd_eps": stored_fd_eps(data)})

    def __post_init__(self) -> None:
        if self.meta_batch_size is None:
            self.meta_batch_size = paper_settings.meta_batch_size(self.env_id)
        if self.fast_batch_size is None:
            self.fast_batch_size = paper_settings.fast_batch_size(self.env_id)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check_fields(self, {
            "meta_batch_size": self.meta_batch_size >= 1,
            "fast_batch_size": self.fast_batch_size >= 1,
            "num_steps": self.num_steps >= 0,
            "fast_lr": self.fast_lr > 0,
            "gamma": 0 < self.gamma <= 1,
            "gae_lambda": 0 <= self.gae_lambda <= 1,
            "max_kl": self.max_kl > 0,
            "cg_iters": self.cg_iters >= 1,
            "cg_damping": self.cg_damping >= 0,
            "ls_max_steps": self.ls_max_steps >= 1,
            "ls_backtrack_ratio": 0 < self.ls_backtrack_ratio < 1,
            "fvp_subsample": 0 < self.fvp_subsample <= 1,
            "workers": self.workers >= 1,
            "context_dim": self.context_dim >= 1,
        })
        if self.hvp not in ("fd", "exact", "gn"):
            raise ValueError(f"MAMLTRPOConfig.hvp must be 'fd', 'exact' or 'gn', got {self.hvp!r}")
        # the finite-difference settings: a default for hvp='fd', none for the products that take no differences
        for name, choices, default, role in (
            ("fd_scheme", FD_SCHEMES, DEFAULT_FD_SCHEME, "it chooses the finite difference"),
            ("fd_eps", FD_RULES, "auto", "it is the finite-difference step"),
        ):
            value = getattr(self, name)
            if value is None and self.hvp == "fd":
                setattr(self, name, default)
            elif value is not None and value not in choices:
                raise ValueError(f"MAMLTRPOConfig.{name} must be one of {choices}, got {value!r}")
            elif value is not None and self.hvp != "fd":
                raise ValueError(f"MAMLTRPOConfig.{name}={value!r} needs hvp='fd' ({role}), got hvp={self.hvp!r}")
        if self.step_curvature not in STEP_CURVATURES:
            raise ValueError(
                f"MAMLTRPOConfig.step_curvature must be one of {STEP_CURVATURES}, got {self.step_curvature!r}"
            )
        if self.fvp_precision not in FVP_PRECISIONS:
            raise ValueError(
                f"MAMLTRPOConfig.fvp_precision must be one of {FVP_PRECISIONS}, got {self.fvp_precision!r}"
            )
        if self.fvp_precision == "bfloat16" and (self.hvp != "gn" or self.dtype != "float32"):
            raise ValueError(
                "MAMLTRPOConfig.fvp_precision='bfloat16' needs hvp='gn' and dtype='float32' (finite differences "
                f"and float64 runs need full precision), got hvp={self.hvp!r}, dtype={self.dtype!r}"
            )
        if self.batch not in BATCH_MODES:
            raise ValueError(f"MAMLTRPOConfig.batch must be one of {BATCH_MODES}, got {self.batch!r}")
        if self.policy not in ("mlp", "context"):
            raise ValueError(f"MAMLTRPOConfig.policy must be 'mlp' or 'context', got {self.policy!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"MAMLTRPOConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"MAMLTRPOConfig.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.action_scaling not in ACTION_SCALINGS:
            raise ValueError(
                f"MAMLTRPOConfig.action_scaling must be one of {ACTION_SCALINGS}, got {self.action_scaling!r}"
            )
        if self.hidden_bias_init not in HIDDEN_BIAS_INITS:
            raise ValueError(
                f"MAMLTRPOConfig.hidden_bias_init must be one of {HIDDEN_BIAS_INITS}, got {self.hidden_bias_init!r}"
            )
        if self.env_id not in gymnasium.registry:
            raise ValueError(f"MAMLTRPOConfig.env_id {self.env_id!r} is not a registered env id")


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
    action_scaling: str = "clip",
    hidden_bias_init: str = "uniform",
) -> GaussianMLPPolicy:
    """A :class:`GaussianMLPPolicy` (``kind="mlp"``) or :class:`ContextGaussianMLPPolicy` (``"context"``) for the
    env's ``obs_dim``/``act_dim``, its initial weights drawn from ``seed`` (the global torch RNG is untouched),
    its actions meant for the env as ``action_scaling`` says (:func:`metarl.rl.policy.env_actions`)."""
    if action_scaling not in ACTION_SCALINGS:
        raise ValueError(f"action_scaling must be one of {ACTION_SCALINGS}; got {action_scaling!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy: GaussianMLPPolicy
        if kind == "context":
            policy = ContextGaussianMLPPolicy(
                obs_dim, act_dim, context_dim=context_dim, hidden_sizes=hidden_sizes, init_log_std=init_log_std,
                hidden_bias_init=hidden_bias_init,
            )
        else:
            policy = GaussianMLPPolicy(obs_dim, act_dim, hidden_sizes=hidden_sizes, init_log_std=init_log_std,
                                       hidden_bias_init=hidden_bias_init)
    policy.action_scaling = action_scaling
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
        action_scaling=config.action_scaling, hidden_bias_init=config.hidden_bias_init,
    )


@dataclass
class MetaBatch:
    """Everything one meta-iteration samples (Alg. 3 lines 3-8), fixed during the TRPO meta-step.

    :ivar train: per inner step, the pre-update episodes ``[T, N, R]`` and their advantages.
    :ivar valid: the post-update episodes D'_i sampled with θ'_i (the meta-objective's data).
    :ivar old_log_probs: log π_θ'_i(a|s) on ``valid`` at sampling time (importance-sampling denominators).
    :ivar old_dist: π_θ'_i(·|s) on ``valid`` at sampling time (the KL's reference).
    :ivar task_returns: ``[N]`` mean episode return of every task before adaptation and after each inner step
        (taken before packing: with ``batch="samples"`` the episodes above are packed per task, see
        :func:`metarl.rl.sample_budget.pack_steps`).
    """

    tasks: list[Any]
    train: list[tuple[BatchEpisodes, torch.Tensor]]
    valid: BatchEpisodes
    valid_advantages: torch.Tensor
    old_log_probs: torch.Tensor
    old_dist: torch.distributions.Normal
    task_returns: list[torch.Tensor]
    timing: dict[str, float]

    @property
    def num_tasks(self) -> int:
        return self.valid.num_tasks

    @property
    def returns(self) -> list[float]:
        """Mean episode return over the tasks (each task weighted alike) before adaptation and after each step."""
        return [r.mean().item() for r in self.task_returns]

    def subset(self, indices: torch.Tensor) -> MetaBatch:
        """The same meta-batch restricted to the tasks ``indices`` (for subsampled Fisher-vector products)."""
        old = torch.distributions.Normal(self.old_dist.mean[:, indices], self.old_dist.stddev[:, indices])
        return MetaBatch(
            [self.tasks[i] for i in indices.tolist()],
            [(episodes.select_tasks(indices), adv[:, indices]) for episodes, adv in self.train],
            self.valid.select_tasks(indices),
            self.valid_advantages[:, indices],
            self.old_log_probs[:, indices],
            old,
            [r[indices] for r in self.task_returns],
            self.timing,
        )


def direction_returns(batch: MetaBatch) -> dict[str, float]:
    """Mean training return before and after adaptation per direction, for direction tasks (half-cheetah and ant
    goal direction: tasks with a ``direction`` of ±1); ``{}`` for other tasks.

    Keys ``train/return_before_adapt_forward`` / ``_backward`` and ``train/return_after_adapt_forward`` /
    ``_backward``, for the directions the meta-batch has.  On ``MetaCheetahDir-v0`` the training seeds that stay
    below the paper are those whose pre-update policy leans backward (README, "What separates the seeds"), which
    these curves show during training.
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


class MAMLTRPO:
    """MAML with a TRPO meta-step (Finn et al. 2017, Alg. 3, App. A.2). See the module docstring.

    :param config: hyper-parameters (paper defaults).
    :param policy: an existing policy to continue from (e.g. loaded from a checkpoint); built from the seed if None.
    """

    def __init__(self, config: MAMLTRPOConfig, policy: GaussianMLPPolicy | None = None) -> None:
        if policy is not None and isinstance(policy, ContextGaussianMLPPolicy) != (config.policy == "context"):
            raise ValueError(
                f"MAMLTRPOConfig.policy is {config.policy!r} but the given policy is a {type(policy).__name__}"
            )
        self.config = config
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
        )
        init_seed = int(seeds[3].generate_state(1)[0])
        self.policy = policy or make_policy(
            self.rollouts.observation_dim, self.rollouts.action_dim, config, init_seed
        )
        self.policy.action_scaling = config.action_scaling  # the config decides what a given policy's actions mean
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
        """The rollouts of one sampling stage with per-task parameters ``stacked``: ``fast_batch_size`` episodes
        per task, or with ``batch="samples"`` the original trainer's shared sample budget (drawn in rounds of
        ``fast_batch_size`` rollouts per task until the stop step is settled; one reset seed per round)."""
        cfg = self.config

        def sample_round() -> BatchEpisodes:
            return self.rollouts.sample(self.policy, stacked, tasks, self._next_seed(), self.noise)

        if cfg.batch == "episodes":
            return sample_round()
        budget = cfg.meta_batch_size * cfg.fast_batch_size * self.rollouts.horizon
        return sample_budget_batch(sample_round, budget, shared=True)

    def _advantages(self, episodes: BatchEpisodes) -> tuple[BatchEpisodes, torch.Tensor]:
        """Per-task baseline, GAE and normalised advantages of ``episodes``; with ``batch="samples"`` the
        episodes and advantages are then packed per task for the losses (:func:`pack_steps`)."""
        cfg = self.config
        advantages = compute_advantages(episodes, self.baseline, cfg.gamma, cfg.gae_lambda)
        if cfg.batch == "samples":
            episodes, advantages = pack_steps(episodes, advantages)
        return episodes, advantages

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
        t_adapt = 0.0
        for _ in range(cfg.num_steps):
            episodes = self.sample_episodes(stacked, tasks)
            task_returns.append(episodes.mean_returns())
            t0 = time.perf_counter()
            episodes, advantages = self._advantages(episodes)
            train.append((episodes, advantages))
            # θ' used only to sample the next rollouts: no graph needed (the meta-step replays the adaptation)
            leaf = {k: v.detach().requires_grad_(True) for k, v in stacked.items()}
            adapted = self.inner_adapt(leaf, episodes, advantages, cfg.fast_lr, first_order=True)
            stacked = {k: v.detach() for k, v in adapted.items()}
            t_adapt += time.perf_counter() - t0
        valid = self.sample_episodes(stacked, tasks)
        task_returns.append(valid.mean_returns())
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
        return MetaBatch(tasks, train, valid, valid_adv, old_log_probs, old_dist, task_returns, timing)

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

        ``hvp="fd"``/``"exact"``: finite differences / double backprop of ∇KL (:func:`metarl.optim.make_fvp`).
        ``hvp="gn"``: :func:`metarl.optim.make_gauss_newton_fvp` with z = [μ, log σ] of the adapted policies on
        every post-update sample and the diagonal Gaussian KL metric M = [1/σ_old², 2] weighted like
        :func:`metarl.rl.objectives.surrogate_and_kl`'s mean (per task over its real steps, then over tasks),
        which is the KL Hessian at θ0 exactly (∂KL/∂z = 0 there).  With one inner step the product is
        factored per task (:func:`metarl.optim.make_one_step_gauss_newton_fvp`, same value, cheaper set-up).
        With ``fvp_precision="bfloat16"`` the gn set-up runs under CPU autocast (see :class:`MAMLTRPOConfig`).
        """
        cfg = self.config
        if cfg.hvp != "gn":
            # only the finite-difference products take a scheme (make_fvp refuses one for kind='exact')
            scheme: dict[str, Any] = (
                {"fd_scheme": cast(FDScheme, cfg.fd_scheme), "eps": cast(FDRule, cfg.fd_eps)} if cfg.hvp == "fd" else {}
            )
            if cfg.fd_scheme == "forward" and self.reproduces_old_dist(batch, theta0):
                scheme["grad_at_theta"] = torch.zeros_like(theta0)  # ∇KL(θ0) = 0 exactly, see below
            return make_fvp(lambda flat: self.meta_objective(batch, flat)[1], theta0, kind=cfg.hvp,
                            damping=cfg.cg_damping, **scheme)
        mask = batch.valid.mask  # [T, N, R]
        weight = (mask / mask.sum(dim=(0, 2), keepdim=True).clamp_min(1.0) / batch.num_tasks).unsqueeze(-1)
        old_std = batch.old_dist.stddev.expand_as(batch.old_dist.mean)
        metric = torch.stack([weight / old_std**2, 2.0 * weight.expand_as(old_std)])

        # z = [μ, log σ] of π_θ'_i on D'_i, in the metric's dtype: float32 from bfloat16 autocast, and float64 in
        # float64 runs (a float32 cast there had put the products ~1e-8 relative off the exact KL Hessian)
        def outputs_of(adapted: maml.Params) -> torch.Tensor:
            dist = self.policy.forward_batched(batch.valid.observations, adapted, task_dim=1)
            return torch.stack([dist.mean, dist.stddev.expand_as(dist.mean).log()])

        # bfloat16: the graphs the products differentiate are recorded under autocast, so their backward passes
        # (every CG product) run the matrix products in bfloat16 as well
        precision = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if cfg.fvp_precision == "bfloat16"
            else contextlib.nullcontext()
        )
        if len(batch.train) == 1 and not cfg.first_order:
            episodes, advantages = batch.train[0]
            with precision:
                return make_one_step_gauss_newton_fvp(
                    lambda stacked: reinforce_loss(self.policy, stacked, episodes, advantages),
                    lambda adapted: outputs_of(adapted).to(metric.dtype),
                    unflatten_like(theta0, self._params()),
                    batch.num_tasks,
                    cfg.fast_lr,
                    adapted_param_names(self.policy),
                    metric,
                    damping=cfg.cg_damping,
                )

        def outputs(flat: torch.Tensor) -> torch.Tensor:
            theta = unflatten_like(flat, self._params())
            return outputs_of(self.adapt_all(theta, batch.train, cfg.first_order, batch.num_tasks)).to(metric.dtype)

        with precision:
            return make_gauss_newton_fvp(outputs, theta0, metric, damping=cfg.cg_damping)

    def reproduces_old_dist(self, batch: MetaBatch, theta0: torch.Tensor) -> bool:
        """Whether the policies adapted from θ0 give ``batch.old_dist`` bit for bit on the post-update samples.

        Then the gradient of the mean KL at θ0 is exactly zero — ∂KL/∂μ = (μ − μ_old)/σ² and
        ∂KL/∂log σ = 1 − (σ_old² + (μ − μ_old)²)/σ² vanish term by term — and the forward finite difference
        [∇KL(θ0 + εv) − ∇KL(θ0)] / ε needs no gradient evaluation at θ0.  The check costs one first-order
        adaptation and one forward pass; if anything differs (it should not: the samples were drawn with these
        very parameters), ∇KL(θ0) is computed as before."""
        leaf = theta0.detach().requires_grad_(True)  # the inner gradient needs a graph to θ, not to ∇θ
        adapted = self.adapt_all(unflatten_like(leaf, self._params()), batch.train, True, batch.num_tasks)
        with torch.no_grad():
            dist = self.policy.forward_batched(batch.valid.observations, adapted, task_dim=1)
            return torch.equal(dist.mean, batch.old_dist.mean) and torch.equal(
                dist.stddev.expand_as(dist.mean), batch.old_dist.stddev.expand_as(batch.old_dist.mean)
            )

    def fvp_batch(self, batch: MetaBatch, fraction: float) -> MetaBatch:
        """The tasks of ``batch`` the Fisher-vector products use: all of them for ``fraction`` 1.0, else a random
        ``round(fraction · N)`` (at least 1) drawn with the agent's reset RNG (rllab's ``subsample_factor``)."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
        if fraction == 1.0:
            return batch
        k = max(1, round(fraction * batch.num_tasks))
        chosen = np.sort(self.reset_rng.choice(batch.num_tasks, size=k, replace=False))
        return batch.subset(torch.as_tensor(chosen, dtype=torch.long))

    def step(self) -> dict[str, float]:
        """One meta-iteration (Alg. 3). Returns a metrics dict with namespaced keys; the caller logs it."""
        t_start = time.perf_counter()
        batch = self.collect()
        t0 = time.perf_counter()
        theta0 = flatten(self._params()).detach()
        metrics = self._trpo_step(
            lambda flat: self.meta_objective(batch, flat),
            self.make_kl_fvp(self.fvp_batch(batch, self.config.fvp_subsample), theta0),
            theta0,
        )
        self.iteration += 1
        metrics.update(batch.timing)
        metrics["time/meta_step"] = time.perf_counter() - t0
        metrics["time/iteration"] = time.perf_counter() - t_start
        metrics["train/return_before_adapt"] = batch.returns[0]
        metrics["train/return_after_adapt"] = batch.returns[-1]
        for k, value in enumerate(batch.returns[1:-1], start=1):
            metrics[f"train/return_after_{k}_steps"] = value
        metrics.update(self._policy_diagnostics(batch))
        metrics.update(direction_returns(batch))
        return metrics

    def _policy_diagnostics(self, batch: MetaBatch) -> dict[str, float]:
        """How wide the policy is and where its adapted means sit relative to the action bounds: the mean of
        ``log_std`` after the meta-step, the mean |μ| of the adapted policies on their post-update samples
        (in the policy's action units), and the fraction of those means outside [-1, 1] in those units
        (with ``action_scaling="clip"`` the env clips to its own bounds, e.g. ±0.1 on MetaNav2D)."""
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
        grad = torch.autograd.grad(loss0, theta)[0]
        direction = trpo_step_direction(
            grad, fvp, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters, curvature=cast(StepCurvature, cfg.step_curvature)
        )

        def evaluate(flat: torch.Tensor) -> tuple[float, float]:
            loss, kl = meta_objective(flat.detach())
            return loss.item(), kl.item()

        result = backtracking_line_search(
            theta0,
            direction.full_step,
            direction.expected_improve,
            evaluate,
            max_kl=cfg.max_kl,
            ratio=cfg.ls_backtrack_ratio,
            max_steps=cfg.ls_max_steps,
            loss0=loss0.item(),
        )
        self._set_params(result.theta)
        return {
            "trpo/accepted": float(result.accepted),
            "trpo/kl": float(result.kl),
            "trpo/loss_before": loss0.item(),
            "trpo/loss_after": float(result.loss),
            "trpo/step_fraction": float(result.step_fraction),
            "trpo/ls_steps": float(result.n_steps),
            "trpo/grad_norm": grad.norm().item(),
            "trpo/step_curvature": direction.curvature,
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
            "iteration": self.iteration,
            "rng": {name: generator_state(gen) for name, gen in self._generators().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.iteration = int(state["iteration"])
        for name, gen in self._generators().items():
            set_generator_state(gen, state["rng"][name], name=f"rng[{name!r}]")

    def _generators(self) -> dict[str, np.random.Generator | torch.Generator]:
        return {"task": self.task_rng, "reset": self.reset_rng, "noise": self.noise}

    def close(self) -> None:
        self.rollouts.close()
