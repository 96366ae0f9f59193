"""MALTML for reinforcement learning: learning to meta-learn over families of navigation tasks.

Devos & Dandi, "Model-Agnostic Learning to Meta-Learn" (../shared/papers/001_e31b76c425e02054.txt), applied to the
RL setting the paper proposes in section 4 ("2D Navigation": every family is a random crop of the unit square with
sides of 25-75 % of its length, every task a goal inside the crop) — ``MetaNav2DFamily-v0``.  The losses at both
levels are policy-gradient losses, exactly those of MAML-TRPO (Finn et al. 2017, Alg. 3):

=============================  =====================================================================================
task level, Eq. (1)            ``θ'_i = θ_j − α ∇L_Ti(π_θj)``: one REINFORCE step (per-task linear baseline, GAE,
                               normalised advantages) on K rollouts of task i sampled with θ_j — the very
                               :func:`metarl.rl.objectives.reinforce_step` of MAML-TRPO's inner loop
family level, Eq. (2)          ``θ'_j = θ_j − β Σ_i ∇L_Ti(π_θ'i)`` on Q fresh rollouts sampled with every θ'_i
                               (:func:`family_step`: :func:`metarl.maml.adapt` whose loss itself runs the task
                               step — the same adaptation function at two levels)
first-order MALTML (3.2)       per family, m > 1 first-order family steps ``θ'_j = Ṽ^m_j(θ)`` on the family's L
                               tasks (fresh rollouts each step), then ``θ ← θ + η Σ_j (θ'_j − θ)`` (``sgd``) or
                               Adam on the pseudo-gradient ``−Σ_j (θ'_j − θ)`` (:meth:`MALTMLRL.step`); no goal
                               fine-tuning is needed in training ("due to the nature of our two-level first-order
                               approximation, goal task finetuning is not required anymore")
test-time protocol (3.1)       for a new family: meta-finetune θ on its L tasks (K + Q rollouts per task and
                               family step), then adapt to each goal task of the family with the REINFORCE steps
                               of the MAML evaluation (0.1 then 0.05, 40 rollouts per step) and measure the return
                               after 0..N steps, both from θ'_j and from θ (:func:`evaluate_family_adaptation`)
=============================  =====================================================================================

Only the first-order variant is implemented for RL (the issue's minimum): the second-order outer gradient would
differentiate through sampled rollouts at two levels, which the score-function losses used here do not estimate.
The baseline of the comparison (``benchmarks/bench_maltml_nav2d.py``) is MAML-TRPO trained on the same env with
the families ignored, given the identical test-time meta-finetuning.

Batching: all F·L tasks of a family batch are rolled out in ONE batched env with one batched policy forward per
time step (:class:`metarl.rl.sampler.PolicyRollouts`), θ is stacked per family and repeated per task
(:func:`metarl.maml.repeat_per_task`), so a family step is one ``adapt`` call for every family at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch

from agents.evaluation import AdaptationStepsConfig, adaptation_steps
from agents.maml_trpo import build_policy, policy_dims_from_state
from agents.rl_config import PolicyConfigMixin, check_fields
from metarl import maml
from metarl.checkpoint import CheckpointError, load_checkpoint
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.objectives import compute_advantages, reinforce_loss, reinforce_step
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import SAMPLERS, PolicyRollouts
from metarl.seeding import generator_state, set_generator_state
from metarl.stats import mean_ci

__all__ = [
    "CHECKPOINT_KIND",
    "FamilyEvaluationConfig",
    "FamilyStepRollouts",
    "MALTMLRL",
    "MALTMLRLConfig",
    "evaluate_family_adaptation",
    "family_step",
    "family_tasks",
    "family_task_sampler",
    "load_maltml_rl_policy",
    "meta_finetune",
    "tune_family_step",
]

CHECKPOINT_KIND = "maltml_rl"


def family_task_sampler(env_id: str, env_kwargs: dict[str, Any] | None = None) -> Any:
    """The unwrapped single env of ``env_id``, used only for its task API (``sample_families``/``sample_tasks``).

    :raises ValueError: if the env has no task families (MALTML needs ``sample_families``).
    """
    env = gymnasium.make(env_id, **(env_kwargs or {})).unwrapped
    if not callable(getattr(env, "sample_families", None)):
        env.close()
        raise ValueError(f"{env_id} has no task families (no sample_families); MALTML needs e.g. MetaNav2DFamily-v0")
    return env


def family_tasks(sampler: Any, families: Sequence[Any], n: int, rng: np.random.Generator) -> list[Any]:
    """``n`` tasks of every family, family-major (``[f0 t0, f0 t1, ..., f1 t0, ...]``), drawn with ``rng``."""
    return [task for family in families for task in sampler.sample_tasks(n, rng, family=family)]


class FamilyStepRollouts:
    """The two samplers of a family step over ``num_tasks`` tasks: K rollouts per task for the task-level step
    and Q for the family-level step (one batched env when K == Q)."""

    def __init__(
        self,
        env_id: str,
        num_tasks: int,
        support_rollouts: int,
        query_rollouts: int,
        *,
        workers: int = 1,
        env_kwargs: dict[str, Any] | None = None,
        dtype: torch.dtype = torch.float32,
        sampler: str = "process",
    ) -> None:
        self.support = PolicyRollouts(env_id, num_tasks, support_rollouts, workers, env_kwargs, dtype=dtype,
                                      sampler=sampler)
        if query_rollouts == support_rollouts:
            self.query = self.support
        else:
            self.query = PolicyRollouts(env_id, num_tasks, query_rollouts, workers, env_kwargs, dtype=dtype,
                                        sampler=sampler)

    def close(self) -> None:
        self.support.close()
        if self.query is not self.support:
            self.query.close()


def family_step(
    policy: GaussianMLPPolicy,
    family_params: maml.Params,
    tasks: Sequence[Any],
    tasks_per_family: int,
    rollouts: FamilyStepRollouts,
    *,
    task_lr: float,
    family_lr: float,
    gamma: float,
    gae_lambda: float,
    reset_rng: np.random.Generator,
    noise: torch.Generator,
    baseline: LinearFeatureBaseline | None = None,
) -> tuple[maml.Params, dict[str, float]]:
    """One first-order family-level step ``Ṽ^1_j`` for every family at once (MALTML Eq. (2), Alg. 1 line 10).

    ``family_params`` are stacked ``[F, *shape]``; ``tasks`` holds ``tasks_per_family`` (L) tasks per family,
    family-major.  For every task: K rollouts with θ_j, one REINFORCE step of size α (Eq. (1), first order),
    Q rollouts with θ'_i; then ``θ'_j = θ_j − β Σ_{i∈j} ∇L_Ti(π_θ'i)`` on those.  Implemented as one
    :func:`metarl.maml.adapt` call (first order) whose loss runs the task step, so the gradient that reaches each
    family slice is the sum of its tasks' post-step policy gradients.

    :returns: the new detached ``[F, *shape]`` parameters and the mean returns before (``return_support``, with
        θ_j) and after (``return_query``, with θ'_i) the task step.
    """
    baseline = baseline or LinearFeatureBaseline()
    n_families = next(iter(family_params.values())).shape[0]
    if len(tasks) != n_families * tasks_per_family:
        raise ValueError(
            f"family_step got {len(tasks)} tasks for {n_families} families x {tasks_per_family} tasks per family"
        )
    record: dict[str, float] = {}

    def family_loss(params: maml.Params) -> torch.Tensor:
        per_task = maml.repeat_per_task(params, tasks_per_family)
        support = rollouts.support.sample(policy, per_task, tasks, int(reset_rng.integers(0, 2**31 - 1)), noise)
        support_adv = compute_advantages(support, baseline, gamma, gae_lambda)
        # Eq. (1): θ'_i = θ_j − α ∇L_Ti(θ_j); first order, so ∂θ'_i/∂θ_j = I (paper 3.2's approximation)
        adapted = reinforce_step(policy, per_task, support, support_adv, task_lr, first_order=True)
        query = rollouts.query.sample(policy, adapted, tasks, int(reset_rng.integers(0, 2**31 - 1)), noise)
        query_adv = compute_advantages(query, baseline, gamma, gae_lambda)
        record["return_support"] = support.episode_returns().mean().item()
        record["return_query"] = query.episode_returns().mean().item()
        # Σ over all F·L tasks: family j's slice of the gradient is Σ_{i∈j} ∇L_Ti(θ'_i)
        return reinforce_loss(policy, adapted, query, query_adv)

    leaf = {name: value.detach().requires_grad_(True) for name, value in family_params.items()}
    updated = maml.adapt(leaf, family_loss, steps=1, step_size=family_lr, first_order=True)
    return {name: value.detach() for name, value in updated.items()}, record


def meta_finetune(
    policy: GaussianMLPPolicy,
    params: maml.Params,
    families_tasks: Sequence[Any],
    tasks_per_family: int,
    rollouts: FamilyStepRollouts,
    *,
    steps: int,
    task_lr: float,
    family_lr: float,
    gamma: float,
    gae_lambda: float,
    reset_rng: np.random.Generator,
    noise: torch.Generator,
) -> tuple[maml.Params, list[dict[str, float]]]:
    """``θ'_j = Ṽ^m_j(θ)`` for every family: ``steps`` (m) first-order family steps from the shared θ on each
    family's L tasks, fresh rollouts every step (paper 3.1 at test time, 3.2 in first-order training).

    :returns: the ``[F, *shape]`` family parameters and each step's returns (see :func:`family_step`).
    """
    n_families = len(families_tasks) // tasks_per_family
    current = maml.stack_params({k: v.detach() for k, v in params.items()}, n_families)
    baseline = LinearFeatureBaseline()
    history = []
    for _ in range(steps):
        current, record = family_step(
            policy, current, families_tasks, tasks_per_family, rollouts, task_lr=task_lr, family_lr=family_lr,
            gamma=gamma, gae_lambda=gae_lambda, reset_rng=reset_rng, noise=noise, baseline=baseline,
        )
        history.append(record)
    return current, history


def _family_step_checks(config: MALTMLRLConfig | FamilyEvaluationConfig) -> dict[str, bool]:
    """Validity of the settings of :func:`meta_finetune`'s family steps (L, K, Q, α, β) that training and the
    test-time protocol share (for :func:`agents.rl_config.check_fields`)."""
    return {
        "tasks_per_family": config.tasks_per_family >= 1,
        "rollouts_per_task": config.rollouts_per_task >= 1,
        "query_rollouts": config.query_rollouts >= 1,
        "task_lr": config.task_lr > 0,
        "family_lr": config.family_lr > 0,
    }


@dataclass
class MALTMLRLConfig(PolicyConfigMixin):
    """First-order MALTML for RL (paper 3.2).  Task-level settings are MAML-TRPO's (App. A.2 of the MAML paper:
    α = 0.1, 20 rollouts per task); the family and outer settings are ours (the MALTML paper gives none for RL)."""

    env_id: str = field(default="MetaNav2DFamily-v0", metadata={"aliases": ("env",)})
    """Registered env id with task families (``sample_families``)."""
    family_batch_size: int = 10
    """Families per outer iteration (the paper's family batch for sinusoids)."""
    tasks_per_family: int = 5
    """L: tasks of a family used for its meta-finetuning (the paper's 5-task setting)."""
    rollouts_per_task: int = 20
    """K: rollouts per task for the task-level REINFORCE step."""
    query_rollouts: int = 20
    """Q: rollouts per task, sampled after the task step, for the family-level step."""
    task_lr: float = 0.1
    """α: task-level REINFORCE step size (MAML-TRPO's)."""
    family_lr: float = 0.1
    """β: family-level step size."""
    family_steps: int = 3
    """m: first-order family steps per family and outer iteration (the first-order variant needs m > 1)."""
    outer_lr: float = 0.1
    """η of θ ← θ + η Σ_j (θ'_j − θ) ('sgd'), or Adam's learning rate ('adam')."""
    outer_optimizer: str = field(default="sgd", metadata={"choices": ("sgd", "adam")})
    """'sgd' = the paper's update θ ← θ + η Σ_j (θ'_j − θ); 'adam' = Adam on the pseudo-gradient −Σ_j (θ'_j − θ)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE λ (1.0 as MAML-TRPO)."""
    hidden_sizes: tuple[int, ...] = (100, 100)
    """Policy MLP hidden layers (as MAML-TRPO's)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy."""
    dtype: str = field(default="float32", metadata={"choices": ("float32", "float64")})
    """Tensor dtype of the policy."""
    workers: int = 1
    """Sampler processes (1 = in-process batched env)."""
    seed: int = 0
    """One seed for families, tasks, env resets, action noise and the policy initialisation."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the env constructor."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check_fields(self, {
            "family_batch_size": self.family_batch_size >= 1,
            **_family_step_checks(self),
            "family_steps": self.family_steps >= 2,
            "outer_lr": self.outer_lr > 0,
            "outer_optimizer": self.outer_optimizer in ("sgd", "adam"),
            "gamma": 0 < self.gamma <= 1,
            "gae_lambda": 0 <= self.gae_lambda <= 1,
            "dtype": self.dtype in ("float32", "float64"),
            "workers": self.workers >= 1,
            "env_id": self.env_id in gymnasium.registry,
        })


class MALTMLRL:
    """First-order MALTML with policy-gradient losses (module docstring); trained by :func:`agents.training.train`.

    :param config: hyper-parameters.
    :param policy: an existing policy to continue from; built from the seed if None.
    """

    checkpoint_kind = CHECKPOINT_KIND
    display_name = "MALTML"

    def __init__(self, config: MALTMLRLConfig, policy: GaussianMLPPolicy | None = None) -> None:
        self.config = config
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        self.task_rng = np.random.default_rng(seeds[0])
        self.reset_rng = np.random.default_rng(seeds[1])
        self.noise = torch.Generator().manual_seed(int(seeds[2].generate_state(1)[0]))
        self.sampler = family_task_sampler(config.env_id, config.env_kwargs)
        self.rollouts = FamilyStepRollouts(
            config.env_id, config.family_batch_size * config.tasks_per_family, config.rollouts_per_task,
            config.query_rollouts, workers=config.workers, env_kwargs=config.env_kwargs, dtype=config.torch_dtype,
        )
        support = self.rollouts.support
        self.policy = policy or build_policy(
            support.observation_dim, support.action_dim, hidden_sizes=config.hidden_sizes,
            init_log_std=config.init_log_std, dtype=config.torch_dtype,
            seed=int(seeds[3].generate_state(1)[0]),
        )
        self.optimizer = (
            torch.optim.Adam(self.policy.parameters(), lr=config.outer_lr) if config.outer_optimizer == "adam" else None
        )
        self.iteration = 0

    def step(self) -> dict[str, float]:
        """One outer iteration of first-order MALTML (paper 3.2); returns namespaced metrics."""
        cfg = self.config
        t_start = time.perf_counter()
        families = self.sampler.sample_families(cfg.family_batch_size, self.task_rng)
        tasks = family_tasks(self.sampler, families, cfg.tasks_per_family, self.task_rng)
        theta = {k: v.detach() for k, v in self.policy.named_params().items()}
        family_params, history = meta_finetune(
            self.policy, theta, tasks, cfg.tasks_per_family, self.rollouts, steps=cfg.family_steps,
            task_lr=cfg.task_lr, family_lr=cfg.family_lr, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda,
            reset_rng=self.reset_rng, noise=self.noise,
        )
        # θ ← θ + η Σ_j (θ'_j − θ)   (paper 3.2, following Nichol et al. 2018)
        delta = {k: (family_params[k] - theta[k]).sum(dim=0) for k in theta}
        live = dict(self.policy.named_parameters())
        with torch.no_grad():
            if self.optimizer is None:
                for name, d in delta.items():
                    live[name].add_(d, alpha=cfg.outer_lr)
            else:
                for name, d in delta.items():
                    live[name].grad = -d
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        metrics = {
            "train/return_before_adapt": history[0]["return_support"],
            "train/return_after_task_step": history[0]["return_query"],
            "train/return_after_adapt": history[-1]["return_query"],
            "train/return_family_adapted": history[-1]["return_support"],
            "train/outer_step_norm": float(torch.sqrt(sum((d**2).sum() for d in delta.values()))),
            "time/iteration": time.perf_counter() - t_start,
        }
        return metrics

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "policy": {k: v.detach().clone() for k, v in self.policy.state_dict().items()},
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "rng": {name: generator_state(gen) for name, gen in self._generators().items()},
        }
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.iteration = int(state["iteration"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        for name, gen in self._generators().items():
            set_generator_state(gen, state["rng"][name], name=f"rng[{name!r}]")

    def _generators(self) -> dict[str, np.random.Generator | torch.Generator]:
        return {"task": self.task_rng, "reset": self.reset_rng, "noise": self.noise}

    def close(self) -> None:
        self.rollouts.close()
        self.sampler.close()


def load_maltml_rl_policy(path: str) -> tuple[GaussianMLPPolicy, MALTMLRLConfig]:
    """The policy and config of a :class:`MALTMLRL` checkpoint."""
    state = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
    config = MALTMLRLConfig.from_dict(dict(state["config"]))
    try:
        obs_dim, act_dim = policy_dims_from_state(state["policy"])
        policy = build_policy(
            obs_dim, act_dim, hidden_sizes=config.hidden_sizes, init_log_std=config.init_log_std,
            dtype=config.torch_dtype, seed=0,
        )
        policy.load_state_dict(state["policy"])
    except (KeyError, IndexError, RuntimeError) as exc:
        raise CheckpointError(path, f"has no usable policy parameters ({exc})") from exc
    return policy, config


@dataclass
class FamilyEvaluationConfig(AdaptationStepsConfig):
    """The test-time protocol of MALTML (paper 3.1) for RL: held-out families, meta-finetuning on L tasks of each,
    then the MAML evaluation's REINFORCE steps on the family's goal tasks.  The same for every method.

    The goal-task adaptation settings (``num_steps``, ``step_sizes``, ``gamma``, ``gae_lambda``, ``seed``,
    ``workers``, ``env_kwargs``; keyword-only) are those of :class:`agents.evaluation.AdaptationStepsConfig`,
    shared with the MAML evaluation; ``gamma``/``gae_lambda`` also serve the meta-finetuning."""

    num_families: int = 20
    """Held-out families."""
    tasks_per_family: int = 5
    """L: tasks of a family used for meta-finetuning."""
    goal_tasks_per_family: int = 2
    """Goal tasks per family (20 x 2 = 40 goal tasks, the MAML evaluation's count)."""
    rollouts_per_task: int = 20
    """K: rollouts per meta-finetuning task for the task step."""
    query_rollouts: int = 20
    """Q: rollouts per meta-finetuning task for the family step."""
    task_lr: float = 0.1
    """α of the meta-finetuning's task steps."""
    family_lr: float = 0.1
    """β of the meta-finetuning's family steps (tuned per method on validation families in the benchmark)."""
    family_steps: int = 1
    """m: family steps of the meta-finetuning."""
    goal_rollouts: int = 40
    """Rollouts per goal task and step (MAML's 40 for navigation)."""

    def __post_init__(self) -> None:
        self.step_sizes = tuple(float(s) for s in self.step_sizes)
        check_fields(self, {
            "num_families": self.num_families >= 1,
            "goal_tasks_per_family": self.goal_tasks_per_family >= 1,
            "sampler": self.sampler in SAMPLERS,
            **_family_step_checks(self),
            "family_steps": self.family_steps >= 0,
            "num_steps": self.num_steps >= 0,
            "step_sizes": bool(self.step_sizes) and all(s > 0 for s in self.step_sizes),
            "goal_rollouts": self.goal_rollouts >= 1,
        })


def _curve(per_step: list[list[float]]) -> dict[str, Any]:
    means, cis = zip(*(mean_ci(np.asarray(r)) for r in per_step))
    return {"steps": list(range(len(per_step))), "mean": [float(m) for m in means],
            "ci95": [float(c) for c in cis], "per_task": per_step}


def evaluate_family_adaptation(
    policy: GaussianMLPPolicy, env_id: str, config: FamilyEvaluationConfig | None = None
) -> dict[str, Any]:
    """Goal-task returns on held-out families after 0..N adaptation steps, with and without the family meta-update.

    Families, meta-finetuning tasks and goal tasks are drawn from child [0] of ``SeedSequence(config.seed)``, the
    meta-finetuning's resets and noise from children [1] and [2], and the goal-task adaptation uses the MAML
    evaluation's streams (:func:`agents.evaluation.adaptation_steps`, seed ``config.seed``) — identical for every
    method evaluated with the same config.

    :returns: ``{"with_family_update": curve, "without_family_update": curve, "family_steps": [...], "config"}``
        where a curve is ``{"steps", "mean", "ci95", "per_task"}`` over the goal tasks; step 0 of the two curves
        is the paper's "0 steps before and after the family meta-update".
    """
    config = config or FamilyEvaluationConfig()
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    task_rng = np.random.default_rng(seeds[0])
    reset_rng = np.random.default_rng(seeds[1])
    noise = torch.Generator().manual_seed(int(seeds[2].generate_state(1)[0]))
    dtype = next(policy.parameters()).dtype
    sampler = family_task_sampler(env_id, config.env_kwargs)
    n_goal = config.num_families * config.goal_tasks_per_family
    family_rollouts = FamilyStepRollouts(
        env_id, config.num_families * config.tasks_per_family, config.rollouts_per_task, config.query_rollouts,
        workers=config.workers, env_kwargs=config.env_kwargs, dtype=dtype, sampler=config.sampler,
    )
    goal_rollouts = PolicyRollouts(env_id, n_goal, config.goal_rollouts, config.workers, config.env_kwargs, dtype,
                                   sampler=config.sampler)
    try:
        families = sampler.sample_families(config.num_families, task_rng)
        meta_tasks = family_tasks(sampler, families, config.tasks_per_family, task_rng)
        goal_tasks = family_tasks(sampler, families, config.goal_tasks_per_family, task_rng)
        theta = {k: v.detach() for k, v in policy.named_params().items()}
        family_params, history = meta_finetune(
            policy, theta, meta_tasks, config.tasks_per_family, family_rollouts, steps=config.family_steps,
            task_lr=config.task_lr, family_lr=config.family_lr, gamma=config.gamma, gae_lambda=config.gae_lambda,
            reset_rng=reset_rng, noise=noise,
        )
        per_goal = maml.repeat_per_task(family_params, config.goal_tasks_per_family)
        curves = {}
        for name, kwargs in (("without_family_update", {}), ("with_family_update", {"per_task_params": per_goal})):
            per_step = [
                episodes.mean_returns().tolist()
                for _, episodes, _ in adaptation_steps(policy, goal_rollouts, goal_tasks, config, **kwargs)
            ]
            curves[name] = _curve(per_step)
    finally:
        family_rollouts.close()
        goal_rollouts.close()
        sampler.close()
    return {
        "env_id": env_id,
        **curves,
        "family_steps": history,
        "families": [asdict(f) for f in families],
        "meta_tasks": [asdict(t) for t in meta_tasks],
        "goal_tasks": [asdict(t) for t in goal_tasks],
        "config": asdict(config),
    }


def tune_family_step(
    policy: GaussianMLPPolicy,
    env_id: str,
    family_lrs: Sequence[float],
    family_steps: Sequence[int],
    config: FamilyEvaluationConfig,
    test_seed: int | None = None,
) -> dict[str, Any]:
    """Choose the test-time meta-finetuning (β, m) for ``policy`` on validation families (``config.seed``).

    Every (β, m) of the grid runs :func:`evaluate_family_adaptation` on the same families and random streams;
    the score is the mean goal-task return over steps 0..N after the family update.  The benchmark tunes every
    compared method on the same grid, so neither side is tuned alone.

    :raises ValueError: for an empty grid or when ``config.seed == test_seed`` (tuning on the test families).
    """
    if not family_lrs or not family_steps:
        raise ValueError(f"empty tuning grid: family_lrs={list(family_lrs)}, family_steps={list(family_steps)}")
    if test_seed is not None and config.seed == test_seed:
        raise ValueError(f"tuning seed {config.seed} equals the test seed; tune on validation families")
    table = []
    for beta in family_lrs:
        for m in family_steps:
            trial = FamilyEvaluationConfig(**{**asdict(config), "family_lr": float(beta), "family_steps": int(m)})
            result = evaluate_family_adaptation(policy, env_id, trial)
            score = float(np.mean(result["with_family_update"]["mean"]))
            table.append({"family_lr": float(beta), "family_steps": int(m),
                          "score": score if np.isfinite(score) else float("-inf")})
    best = max(table, key=lambda row: row["score"])  # ties: the first in grid order
    return {"family_lr": best["family_lr"], "family_steps": best["family_steps"], "table": table,
            "seed": config.seed}
