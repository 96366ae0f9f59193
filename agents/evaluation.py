"""Adaptation curves: return after 0..N policy-gradient steps on held-out tasks (MAML paper Figs. 4-5).

Protocol of the paper (section 5.3 and App. A.2): for each of 40 held-out tasks, sample rollouts with the
current parameters (40 per step for 2D navigation, 20 for locomotion), record their mean return, take one
REINFORCE step on those same rollouts (step size 0.1 for the first step, 0.05 after), and repeat.  The reported
number per step is the mean over tasks with a 95% confidence interval across tasks.  For an env that reports a
per-step ``info["success"]`` flag (Meta-World, Yu et al. 2019, arXiv:1910.10897, section 4.3: an episode succeeds
if the flag is 1 at any step) the success rate per step is reported beside the return, with the same interval.

Held-out tasks are the env's held-out set when it has one (``sample_test_tasks``, e.g. Meta-World ML1's 50 test
variations), else fresh seeded draws from its distribution (:func:`envs.base.sample_held_out_tasks`).

Extension points (used by reproductions/ to repeat an original implementation's protocol): an explicit task
list (``tasks=``), a :class:`~metarl.rl.sampler.StageSampler` for how each step's episodes are gathered, and
``env_wrappers`` around the batched env.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents import paper_settings
from metarl import maml
from metarl.jsonio import json_ready
from metarl.progress import progress
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.objectives import compute_advantages, reinforce_step
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import SAMPLERS, EnvWrapper, FixedEpisodes, PolicyRollouts, StageSampler
from metarl.stats import mean_ci

__all__ = [
    "AdaptationStepsConfig",
    "EvaluationConfig",
    "adaptation_steps",
    "evaluate_adaptation",
    "held_out_tasks",
    "plot_curves",
    "write_curve",
]


@dataclass(kw_only=True)
class AdaptationStepsConfig:
    """The test-time adaptation of :func:`adaptation_steps` (defaults: the paper's protocol), shared by the MAML
    evaluation (:class:`EvaluationConfig`) and MALTML's goal tasks (:class:`agents.maltml_rl.FamilyEvaluationConfig`).

    Keyword-only, so the positional arguments of the subclasses are their own fields, in their own order.
    """

    num_steps: int = 3
    """Adaptation steps; returns are reported after 0..num_steps steps."""
    step_sizes: Sequence[float] = (0.1, 0.05)
    """Step size per adaptation step; the last value repeats (paper: 0.1 then 0.05)."""
    gamma: float = 0.99
    """Discount for the advantages of the adaptation steps."""
    gae_lambda: float = 1.0
    """GAE λ for the adaptation steps."""
    seed: int = 12345
    """Seed of the held-out tasks (and families), env resets and action noise (distinct from training seeds;
    validation and test use different seeds)."""
    workers: int = 1
    """Sampler processes (or Ray actors with sampler='ray')."""
    sampler: str = field(default="process", metadata={"choices": SAMPLERS})
    """Sampler backend: 'process' (this process, or `workers` processes) or 'ray' (`workers` Ray actors)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra env constructor kwargs."""

    def step_size(self, k: int) -> float:
        """The step size of adaptation step ``k`` (0-based): ``step_sizes[k]``, the last one repeating."""
        return self.step_sizes[min(k, len(self.step_sizes) - 1)]


@dataclass
class EvaluationConfig(AdaptationStepsConfig):
    """How to measure an adaptation curve (defaults: the paper's protocol); the adaptation settings are those of
    :class:`AdaptationStepsConfig` (keyword-only)."""

    num_tasks: int = 40
    """Held-out tasks."""
    rollouts_per_task: int | None = None
    """Rollouts per step; None = the paper's value for the env (40 nav, 20 locomotion)."""

    def __post_init__(self) -> None:
        if self.num_tasks < 1:
            raise ValueError(f"EvaluationConfig.num_tasks must be >= 1, got {self.num_tasks}")
        if self.num_steps < 0:
            raise ValueError(f"EvaluationConfig.num_steps must be >= 0, got {self.num_steps}")
        if self.rollouts_per_task is not None and self.rollouts_per_task < 1:
            raise ValueError(f"EvaluationConfig.rollouts_per_task must be >= 1 (or None: the paper's), got "
                             f"{self.rollouts_per_task}")
        if self.seed < 0:
            raise ValueError(f"EvaluationConfig.seed must be >= 0, got {self.seed}")
        if self.workers < 1:
            raise ValueError(f"EvaluationConfig.workers must be >= 1, got {self.workers}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"EvaluationConfig.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not self.step_sizes or any(not s > 0 for s in self.step_sizes):
            raise ValueError(f"EvaluationConfig.step_sizes must be non-empty and > 0, got {self.step_sizes}")
        self.step_sizes = tuple(float(s) for s in self.step_sizes)


def held_out_tasks(rollouts: PolicyRollouts, config: EvaluationConfig) -> list[Any]:
    """The evaluation tasks (the same for every method), drawn with child [0] of ``SeedSequence(config.seed)``:
    from the env's held-out set when it has one (``sample_test_tasks``, e.g. Meta-World ML1's test variations),
    else from its task distribution (:func:`envs.base.sample_held_out_tasks`)."""
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    return rollouts.sample_held_out_tasks(config.num_tasks, rng)


def evaluation_rngs(config: AdaptationStepsConfig) -> tuple[torch.Generator, np.random.Generator]:
    """The action-noise generator and the reset-seed generator of an evaluation: children [1] and [2] of
    ``SeedSequence(config.seed)`` (child [0] draws the tasks), so every method evaluated with the same seed sees
    the same reset seeds — the first draw of the reset generator seeds the pre-update rollouts."""
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    noise = torch.Generator().manual_seed(int(seeds[1].generate_state(1)[0]))
    return noise, np.random.default_rng(seeds[2])


def sample_step(
    rollouts: PolicyRollouts,
    policy: GaussianMLPPolicy,
    params: maml.Params,
    tasks: Sequence[Any],
    stage_sampler: StageSampler,
    reset_rng: np.random.Generator,
    noise: torch.Generator,
) -> BatchEpisodes:
    """The episodes of one adaptation step as ``stage_sampler`` gathers them from rounds of
    ``rollouts.rollouts_per_task`` rollouts per task (one round by default); each round takes one reset seed from
    ``reset_rng``."""

    def sample_round() -> BatchEpisodes:
        return rollouts.sample(policy, params, tasks, int(reset_rng.integers(0, 2**31 - 1)), noise)

    return stage_sampler.collect(sample_round, rollouts)


def adaptation_steps(
    policy: GaussianMLPPolicy,
    rollouts: PolicyRollouts,
    tasks: Sequence[Any],
    config: AdaptationStepsConfig,
    params: maml.Params | None = None,
    num_steps: int | None = None,
    per_task_params: maml.Params | None = None,
    stage_sampler: StageSampler | None = None,
) -> Iterator[tuple[int, BatchEpisodes, maml.Params]]:
    """The test-time adaptation loop of the paper, shared by evaluation and rendering.

    Yields ``(k, episodes, stacked_params)`` for k = 0..num_steps: the rollouts sampled with the parameters after
    k REINFORCE steps (per-task linear baseline, GAE, one first-order step of size ``config.step_size(k)`` on
    those very rollouts, on the parameters the policy declares adaptable — only z for the context learner), and
    those parameters (leading task dim).  Seeding: ``SeedSequence(config.seed)``
    children [1] (action noise) and [2] (reset seeds), so the same seed, tasks and rollouts give the same episodes.

    The start is ``params`` (or the policy's own) for every task, or ``per_task_params`` — already stacked with a
    leading dim of ``len(tasks)``, e.g. each goal task starting from its family's meta-finetuned parameters (MALTML).
    ``stage_sampler`` gathers each step's episodes (:class:`~metarl.rl.sampler.FixedEpisodes` by default); the
    adaptation step uses the gathered episodes as they are.
    """
    num_steps = config.num_steps if num_steps is None else num_steps
    stage_sampler = stage_sampler or FixedEpisodes()
    noise, reset_rng = evaluation_rngs(config)
    baseline = LinearFeatureBaseline()
    if per_task_params is not None:
        if params is not None:
            raise ValueError("pass params or per_task_params, not both")
        bad = {k: tuple(v.shape) for k, v in per_task_params.items() if v.ndim == 0 or v.shape[0] != len(tasks)}
        if bad:
            raise ValueError(f"per_task_params need a leading dim of len(tasks) = {len(tasks)}; got shapes {bad}")
        stacked = {k: v.detach() for k, v in per_task_params.items()}
    else:
        base = params if params is not None else policy.named_params()
        stacked = maml.stack_params({k: v.detach() for k, v in base.items()}, len(tasks))
    for k in range(num_steps + 1):
        episodes = sample_step(rollouts, policy, stacked, tasks, stage_sampler, reset_rng, noise)
        yield k, episodes, stacked
        if k == num_steps:
            return
        advantages = compute_advantages(episodes, baseline, config.gamma, config.gae_lambda)
        leaf = {name: value.detach().requires_grad_(True) for name, value in stacked.items()}
        adapted = reinforce_step(policy, leaf, episodes, advantages, config.step_size(k), first_order=True)
        stacked = {name: value.detach() for name, value in adapted.items()}


def evaluate_adaptation(
    policy: GaussianMLPPolicy,
    env_id: str,
    config: EvaluationConfig | None = None,
    params: maml.Params | None = None,
    tasks: Sequence[Any] | None = None,
    show_progress: bool = True,
    *,
    stage_sampler: StageSampler | None = None,
    env_wrappers: Sequence[EnvWrapper] = (),
) -> dict[str, Any]:
    """Adaptation curve of ``policy`` (or ``params``) on held-out tasks of ``env_id``.

    :param tasks: the held-out tasks (``config.num_tasks`` of them); None = drawn from the env's distribution
        with ``config.seed`` (:func:`held_out_tasks`).
    :param stage_sampler: how each step's episodes are gathered (default: ``rollouts_per_task`` per task).
    :param env_wrappers: wrap the batched env (e.g. the action map the policy was trained with).
    :returns: ``{"env_id", "steps": [0..N], "mean": [...], "ci95": [...], "per_task": [[...]], "tasks": [...],
        "config": {...}}`` where ``per_task[k][i]`` is the mean return of task i after k steps; for an env that
        reports ``info["success"]`` also ``"success_rate"``, ``"success_ci95"`` (mean over tasks of each task's
        fraction of successful rollouts, 95% Student-t interval over tasks) and ``"per_task_success"``.
    """
    config = config or EvaluationConfig()
    rollouts_per_task = config.rollouts_per_task
    if rollouts_per_task is None:
        rollouts_per_task = paper_settings.eval_rollouts(env_id)
    dtype = next(policy.parameters()).dtype
    rollouts = PolicyRollouts(
        env_id, config.num_tasks, rollouts_per_task, config.workers, config.env_kwargs, dtype=dtype,
        sampler=config.sampler, env_wrappers=env_wrappers,
    )
    try:
        if tasks is None:
            tasks = held_out_tasks(rollouts, config)
        if len(tasks) != config.num_tasks:
            raise ValueError(f"got {len(tasks)} tasks, EvaluationConfig.num_tasks is {config.num_tasks}")
        per_task: list[list[float]] = []
        per_task_success: list[list[float]] = []
        steps = adaptation_steps(policy, rollouts, tasks, config, params, stage_sampler=stage_sampler)
        for _, episodes, _ in progress(steps, desc=f"evaluate {env_id}", total=config.num_steps + 1,
                                       disable=None if show_progress else True):
            per_task.append(episodes.mean_returns().tolist())
            rates = episodes.success_rates()
            if rates is not None:
                per_task_success.append(rates.tolist())
    finally:
        rollouts.close()
    curve: dict[str, Any] = {"env_id": env_id, "steps": list(range(config.num_steps + 1)),
                             **_summary(per_task, "mean", "ci95"), "per_task": per_task}
    if per_task_success:
        if len(per_task_success) != len(per_task):
            raise RuntimeError(f"{env_id} reported info['success'] at some adaptation steps only")
        curve.update(_summary(per_task_success, "success_rate", "success_ci95"))
        curve["per_task_success"] = per_task_success
    return {**curve, "tasks": json_ready(list(tasks)), "config": {**asdict(config), "rollouts_per_task": rollouts_per_task}}


def _summary(per_task: list[list[float]], mean_key: str, ci_key: str) -> dict[str, list[float]]:
    """``{mean_key: [...], ci_key: [...]}``: per step, the mean over tasks and its 95% CI (:func:`metarl.stats.mean_ci`)."""
    means, cis = zip(*(mean_ci(np.asarray(values)) for values in per_task))
    return {mean_key: [float(m) for m in means], ci_key: [float(c) for c in cis]}


def write_curve(result: dict[str, Any] | dict[str, dict[str, Any]], path: str | Path) -> Path:
    """Write an evaluation result (or ``{method: result}``) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path


def plot_curves(
    curves: dict[str, dict[str, Any]],
    path: str | Path,
    title: str = "",
    reference: dict[str, Sequence[float] | float] | None = None,
    log_scale: bool = False,
) -> Path:
    """Plot return vs number of gradient steps like the paper's Figs. 4-5 (mean ± 95% CI per method).

    ``reference`` maps a label to the paper's curve (a list per step, or a single number drawn as a line).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, curve in curves.items():
        steps = np.asarray(curve["steps"])
        mean = np.asarray(curve["mean"])
        ci = np.asarray(curve["ci95"])
        (line,) = ax.plot(steps, mean, marker="o", label=label)
        ax.fill_between(steps, mean - ci, mean + ci, color=line.get_color(), alpha=0.2)
    for label, ref in (reference or {}).items():
        if isinstance(ref, (int, float)):
            ax.axhline(ref, linestyle=":", color="gray", label=label)
        else:
            ax.plot(range(len(ref)), ref, linestyle="--", marker="x", label=label)
    if log_scale:
        ax.set_yscale("symlog")
    ax.set_xlabel("number of gradient steps")
    ax.set_ylabel("average return")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
