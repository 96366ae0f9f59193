"""The comparison of the MAML paper's RL experiments: every learner on the SAME held-out tasks (Figs. 4-5).

Finn et al. 2017, section 5.3: adaptation to new tasks is compared for "models that are initialized with MAML,
conventional pretraining on the same set of tasks, random initialization, and an oracle policy that receives the
goal position as input", and App. C.2 adds the context-vector learner of Rei (2015).  All of them are built from
the MAML-TRPO machinery, not re-implemented:

===============  ==============================================================================================
``maml``         a MAML-TRPO checkpoint; evaluated with the paper's step sizes (0.1, then 0.05; App. A.2).
``pretrained``   a checkpoint of the same trainer with ``num_steps=0`` (one policy trained with TRPO on all
                 tasks); fine-tuned with the same REINFORCE steps, step size tuned on training tasks.
``random``       an untrained policy of the same architecture (seeded); step size tuned the same way.
``context``      a checkpoint trained with ``policy="context"``: the inner steps adapt only the context vector z.
``oracle``       any ``predict_fn(observation ++ task vector) -> action`` (e.g. an SB3 PPO policy trained on
                 :class:`envs.wrappers.TaskInObservation`); evaluated WITHOUT adaptation — one rollout batch per
                 task, the same value reported at every step.
===============  ==============================================================================================

Every method is evaluated by :func:`agents.evaluation.evaluate_adaptation` on the identical task list and the
identical evaluation seed (so the reset seeds and action-noise stream are shared too).  Step sizes of the
fine-tuned baselines are chosen by :func:`tune_step_size` on *training* tasks drawn with a different seed — the
paper's "automatically tuned step size" for the pretrained baseline (section 5.1), never tuned on the test tasks.

Result (:func:`comparison_report`, written by :func:`write_comparison`)::

    {"env_id": ..., "tasks": [...],
     "methods": {name: {"steps", "mean", "ci95", "per_task", "step_sizes", "notes", "tuning", "source"}},
     "config": {"evaluation": {...}, "tuning": {...}}}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

import gymnasium
import numpy as np

from agents.evaluation import (
    EvaluationConfig,
    evaluate_adaptation,
    evaluation_rngs,
    held_out_tasks,
    plot_curves,
    write_curve,
)
from agents.maml_trpo import MAMLTRPOConfig, make_policy
from agents.oracle import evaluate_oracle as run_oracle
from agents.training import load_policy
from envs.wrappers import TaskInObservation
from metarl.checkpoint import CheckpointError
from metarl.jsonio import json_ready
from metarl.rl.context_policy import ContextGaussianMLPPolicy
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import PolicyRollouts
from metarl.stats import mean_ci

__all__ = [
    "DEFAULT_TUNING_CANDIDATES",
    "METHOD_KEYS",
    "MethodSpec",
    "OracleSpec",
    "PolicySpec",
    "StepSizeSearch",
    "TuningConfig",
    "compare_methods",
    "comparison_report",
    "context_method",
    "evaluate_oracle",
    "load_checkpoint_for",
    "maml_method",
    "pretrained_method",
    "random_method",
    "sb3_oracle",
    "tune_step_size",
    "write_comparison",
]

#: step sizes tried for the fine-tuned baselines: log-spaced (×~3) around the paper's α = 0.1 (App. A.2)
DEFAULT_TUNING_CANDIDATES: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
#: the keys of every method's entry in the report (plus "tuning" and "source")
METHOD_KEYS: tuple[str, ...] = ("steps", "mean", "ci95", "per_task", "step_sizes", "notes")

#: ``predict_fn(observations [B, obs_dim + task_dim]) -> actions [B, act_dim]`` (numpy in, numpy out)
PredictFn: TypeAlias = Callable[[np.ndarray], np.ndarray]


# ------------------------------------------------------------------------------------------------ method specs
@dataclass
class PolicySpec:
    """A Gaussian policy evaluated with test-time REINFORCE fine-tuning (maml, pretrained, random, context).

    :ivar policy: the policy (its class decides which parameters the inner steps adapt).
    :ivar step_sizes: the fine-tuning schedule; ``None`` = the evaluation config's (the paper's 0.1, 0.05).
    :ivar tune_candidates: if given, one constant step size is chosen among these by :func:`tune_step_size` on
        training tasks (exclusive with ``step_sizes``).
    :ivar notes: free text recorded in the results.
    :ivar source: where the policy came from (checkpoint path, "untrained (seed 0)", ...).
    :ivar config: the training config of the checkpoint (or the architecture of an untrained policy).
    """

    policy: GaussianMLPPolicy
    step_sizes: tuple[float, ...] | None = None
    tune_candidates: tuple[float, ...] | None = None
    notes: str = ""
    source: str | None = None
    config: MAMLTRPOConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.policy, GaussianMLPPolicy):
            raise TypeError(f"PolicySpec.policy must be a GaussianMLPPolicy, got {type(self.policy).__name__}")
        if self.step_sizes is not None and self.tune_candidates is not None:
            raise ValueError("PolicySpec: give step_sizes or tune_candidates, not both")
        if self.step_sizes is not None:
            self.step_sizes = _positive_floats(self.step_sizes, "PolicySpec.step_sizes")
        if self.tune_candidates is not None:
            self.tune_candidates = _positive_floats(self.tune_candidates, "PolicySpec.tune_candidates")


@dataclass
class OracleSpec:
    """The oracle of the MAML paper (section 5.3, "receives the parameters of the task as input"), no adaptation.

    :ivar predict_fn: maps a batch of observations with the task vector appended, exactly as
        :class:`envs.wrappers.TaskInObservation` builds them (``[B, obs_dim + task_dim]``, the wrapper's dtype),
        to actions ``[B, act_dim]``; e.g. ``lambda obs: ppo.predict(obs, deterministic=True)[0]``
        (see :func:`sb3_oracle`).
    :ivar notes: free text recorded in the results.
    :ivar source: where the oracle came from (e.g. the SB3 model path).
    """

    predict_fn: PredictFn
    notes: str = ""
    source: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.predict_fn):
            raise TypeError(f"OracleSpec.predict_fn must be callable, got {type(self.predict_fn).__name__}")


#: what :func:`compare_methods` accepts per method
MethodSpec: TypeAlias = PolicySpec | OracleSpec


@dataclass
class TuningConfig:
    """Where the step sizes of the fine-tuned baselines are tuned: training tasks, never the test tasks."""

    num_tasks: int = 20
    """Training tasks drawn for tuning (with ``seed``)."""
    seed: int = 2017
    """Seed of the tuning tasks and rollouts; must differ from the evaluation seed."""
    num_steps: int | None = None
    """Adaptation steps scored while tuning; None = the evaluation's."""
    rollouts_per_task: int | None = None
    """Rollouts per step while tuning; None = the evaluation's."""

    def __post_init__(self) -> None:
        if self.num_tasks < 1:
            raise ValueError(f"TuningConfig.num_tasks must be >= 1, got {self.num_tasks}")
        if self.num_steps is not None and self.num_steps < 1:
            raise ValueError(f"TuningConfig.num_steps must be >= 1 (or None), got {self.num_steps}")
        if self.rollouts_per_task is not None and self.rollouts_per_task < 1:
            raise ValueError(f"TuningConfig.rollouts_per_task must be >= 1 (or None), got {self.rollouts_per_task}")

    def evaluation_config(self, evaluation: EvaluationConfig) -> EvaluationConfig:
        """The evaluation protocol of ``evaluation`` moved to the tuning tasks (seed, task count, steps)."""
        return replace(
            evaluation,
            num_tasks=self.num_tasks,
            seed=self.seed,
            num_steps=self.num_steps if self.num_steps is not None else evaluation.num_steps,
            rollouts_per_task=evaluation.rollouts_per_task if self.rollouts_per_task is None else self.rollouts_per_task,
        )


def _positive_floats(values: Sequence[float], owner: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError(f"{owner} is empty")
    bad = [v for v in out if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"{owner} must be finite and > 0; got {bad[0]!r} in {list(out)}")
    return out


# ------------------------------------------------------------------------------------------------ step sizes
@dataclass(frozen=True)
class StepSizeSearch:
    """Outcome of :func:`tune_step_size`.

    :ivar chosen: the selected step size (one of ``candidates``).
    :ivar candidates: the step sizes tried, in order.
    :ivar scores: per candidate, the mean return over adaptation steps 1..N on the tuning tasks.
    :ivar curves: per candidate, the mean return after 0..N steps.
    :ivar seed: the tuning seed; :ivar num_tasks: tuning tasks; :ivar num_steps: steps scored.
    """

    chosen: float
    candidates: tuple[float, ...]
    scores: tuple[float, ...]
    curves: tuple[tuple[float, ...], ...]
    seed: int
    num_tasks: int
    num_steps: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "candidates": list(self.candidates),
            "scores": list(self.scores),
            "curves": [list(c) for c in self.curves],
            "seed": self.seed,
            "num_tasks": self.num_tasks,
            "num_steps": self.num_steps,
            "criterion": "mean return over adaptation steps 1..num_steps on training tasks",
        }


def tune_step_size(
    policy: GaussianMLPPolicy,
    env_id: str,
    candidates: Sequence[float] = DEFAULT_TUNING_CANDIDATES,
    config: EvaluationConfig | None = None,
    test_seed: int | None = None,
    show_progress: bool = False,
) -> StepSizeSearch:
    """Choose a constant fine-tuning step size for ``policy`` among ``candidates`` on training tasks.

    The MAML paper fine-tunes its pretrained baseline "using an automatically tuned step size" (section 5.1); for
    RL we run the evaluation protocol (``config``: tasks, rollouts, REINFORCE steps) once per candidate on tasks
    drawn with ``config.seed`` — the same tasks and random streams for every candidate — and keep the candidate
    with the best mean return over steps 1..N (the pre-update return does not depend on it).  Ties go to the
    earlier candidate; a candidate whose returns are not finite scores -inf.

    :param config: the tuning protocol; ``config.step_sizes`` is ignored (each candidate is used at every step).
        Default: ``EvaluationConfig(num_tasks=20, seed=TuningConfig().seed)``.
    :param test_seed: the seed of the test tasks; tuning on it is refused (it would tune on the test set).
    :raises ValueError: empty/non-positive candidates, ``config.num_steps == 0``, or ``config.seed == test_seed``.
    """
    candidates = _positive_floats(candidates, "candidates")
    if len(set(candidates)) != len(candidates):
        raise ValueError(f"candidates has duplicates: {list(candidates)}")
    config = config or EvaluationConfig(num_tasks=TuningConfig().num_tasks, seed=TuningConfig().seed)
    if config.num_steps < 1:
        raise ValueError("tune_step_size needs EvaluationConfig.num_steps >= 1 (there is no step size to tune at 0)")
    if test_seed is not None and config.seed == test_seed:
        raise ValueError(
            f"tuning seed {config.seed} equals the test seed: step sizes must be tuned on training tasks, not on "
            "the held-out test tasks"
        )
    scores: list[float] = []
    curves: list[tuple[float, ...]] = []
    for alpha in candidates:
        curve = evaluate_adaptation(
            policy, env_id, replace(config, step_sizes=(alpha,)), show_progress=show_progress
        )
        after = curve["mean"][1:]
        score = float(np.mean(after))
        scores.append(score if math.isfinite(score) else -math.inf)
        curves.append(tuple(float(m) for m in curve["mean"]))
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))  # ties -> earliest candidate
    return StepSizeSearch(
        chosen=candidates[best],
        candidates=candidates,
        scores=tuple(scores),
        curves=tuple(curves),
        seed=config.seed,
        num_tasks=config.num_tasks,
        num_steps=config.num_steps,
    )


# ------------------------------------------------------------------------------------------------ builders
def load_checkpoint_for(path: str | Path, env_id: str, role: str) -> tuple[GaussianMLPPolicy, MAMLTRPOConfig]:
    """:func:`agents.training.load_policy`, refusing a checkpoint trained on another env than ``env_id``.

    :param role: the method the checkpoint is meant for (named in the error, e.g. ``"maml"``).
    :raises CheckpointError: (a ``ValueError``) naming the checkpoint's env and ``env_id``.
    """
    policy, config = load_policy(path)
    if config.env_id != env_id:
        raise CheckpointError(
            path, f"the {role} checkpoint was trained on {config.env_id}, but the comparison is on {env_id}"
        )
    return policy, config


def maml_method(path: str | Path, env_id: str) -> PolicySpec:
    """The MAML learner: a MAML-TRPO checkpoint (``policy="mlp"``, ``num_steps >= 1``), paper step sizes."""
    policy, config = load_checkpoint_for(path, env_id, "maml")
    if config.policy != "mlp":
        raise CheckpointError(path, f"the maml checkpoint has policy={config.policy!r}; expected 'mlp'")
    if config.num_steps < 1:
        raise CheckpointError(
            path, "the maml checkpoint was trained with num_steps=0 (that is the pretrained baseline)"
        )
    return PolicySpec(
        policy,
        notes=f"MAML-TRPO, trained with {config.num_steps} inner step(s) of size {config.fast_lr}",
        source=str(path),
        config=config,
    )


def pretrained_method(
    path: str | Path, env_id: str, candidates: Sequence[float] = DEFAULT_TUNING_CANDIDATES
) -> PolicySpec:
    """The pretrained baseline: a checkpoint of the same trainer with ``num_steps=0`` (TRPO on all tasks, MAML
    section 5.3), fine-tuned at test time with a step size tuned on training tasks."""
    policy, config = load_checkpoint_for(path, env_id, "pretrained")
    if config.policy != "mlp":
        raise CheckpointError(path, f"the pretrained checkpoint has policy={config.policy!r}; expected 'mlp'")
    if config.num_steps != 0:
        raise CheckpointError(
            path, f"the pretrained checkpoint was trained with num_steps={config.num_steps}; the pretrained "
            "baseline is MAML-TRPO with num_steps=0"
        )
    return PolicySpec(
        policy,
        tune_candidates=tuple(candidates),
        notes="multi-task TRPO (MAML-TRPO with num_steps=0); constant fine-tuning step size tuned on training tasks",
        source=str(path),
        config=config,
    )


def context_method(path: str | Path, env_id: str) -> PolicySpec:
    """The context-vector learner (Rei 2015, MAML App. C.2): a checkpoint trained with ``policy="context"``;
    evaluated with the paper's step sizes, adapting only z."""
    policy, config = load_checkpoint_for(path, env_id, "context")
    if not isinstance(policy, ContextGaussianMLPPolicy):
        raise CheckpointError(path, f"the context checkpoint has policy={config.policy!r}; expected 'context'")
    return PolicySpec(
        policy,
        notes=f"context vector z (dim {config.context_dim}) appended to the observation; only z is adapted",
        source=str(path),
        config=config,
    )


def random_method(
    env_id: str,
    architecture: MAMLTRPOConfig | None = None,
    seed: int = 0,
    candidates: Sequence[float] = DEFAULT_TUNING_CANDIDATES,
) -> PolicySpec:
    """Random initialisation: an untrained MLP policy of ``architecture`` (hidden sizes, log-std, dtype; default
    the paper's 2 x 100) drawn with ``seed``, fine-tuned with a step size tuned on training tasks."""
    architecture = architecture or MAMLTRPOConfig(env_id=env_id)
    if architecture.env_id != env_id:
        raise ValueError(f"random_method: architecture is for {architecture.env_id}, the comparison is on {env_id}")
    architecture = replace(architecture, policy="mlp")
    env = gymnasium.make(env_id, **architecture.env_kwargs)
    try:
        obs_space, act_space = env.observation_space, env.action_space
        assert obs_space.shape is not None and act_space.shape is not None
        policy = make_policy(int(np.prod(obs_space.shape)), int(np.prod(act_space.shape)), architecture, seed)
    finally:
        env.close()
    return PolicySpec(
        policy,
        tune_candidates=tuple(candidates),
        notes=f"untrained policy, hidden sizes {list(architecture.hidden_sizes)}, init seed {seed}; constant "
        "fine-tuning step size tuned on training tasks",
        source=f"untrained (seed {seed})",
        config=architecture,
    )


def _task_observation_space(env_id: str, env_kwargs: Mapping[str, Any]) -> gymnasium.spaces.Box:
    env = TaskInObservation(gymnasium.make(env_id, **env_kwargs))
    try:
        space = env.observation_space
        assert isinstance(space, gymnasium.spaces.Box)
        return space
    finally:
        env.close()


def sb3_oracle(path: str | Path, env_id: str, env_kwargs: Mapping[str, Any] | None = None, *,
               trust_pickle: bool = False) -> OracleSpec:
    """An :class:`OracleSpec` from an oracle of :func:`agents.oracle.train_oracle` (SB3 PPO trained on
    ``TaskInObservation(env_id)``), loaded with :func:`agents.oracle.load_oracle`: its ``predict_fn`` applies the
    saved observation normalisation.

    :param trust_pickle: also accept a legacy stable-baselines3 zip (with its JSON sidecar), which is unpickled —
        code in the file runs; only for files you trust.
    :raises FileNotFoundError: no such file (or a legacy zip without its sidecar).
    :raises ValueError: a legacy zip without ``trust_pickle``; the model was trained for another env or with other
        env kwargs, or its observation/action shapes do not fit ``TaskInObservation(env_id)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"oracle model {path} does not exist")
    expected = _task_observation_space(env_id, env_kwargs or {}).shape
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    act_shape = env.action_space.shape
    env.close()

    from agents import oracle as trained_oracle  # imports stable_baselines3: only when an oracle is asked for

    loaded = trained_oracle.load_oracle(path, trust_pickle=trust_pickle)
    if loaded.config.env_id != env_id:
        raise ValueError(f"oracle model {path} was trained on {loaded.config.env_id}, the comparison is on {env_id}")
    if dict(loaded.config.env_kwargs) != dict(env_kwargs or {}):
        raise ValueError(
            f"oracle model {path} was trained with env kwargs {dict(loaded.config.env_kwargs)}, the comparison "
            f"builds its env with {dict(env_kwargs or {})}"
        )
    if (loaded.input_dim,) != expected or (loaded.action_dim,) != act_shape:
        raise ValueError(
            f"oracle model {path} maps {loaded.input_dim} inputs to {loaded.action_dim} actions, but "
            f"TaskInObservation({env_id}) gives {expected} and the env acts with {act_shape}"
        )
    normalised = "with its observation normalisation" if loaded.normalization is not None else "unnormalised"
    return OracleSpec(loaded.predict_fn, notes=f"SB3 PPO oracle (agents.oracle), {normalised}, deterministic",
                      source=str(path))


# ------------------------------------------------------------------------------------------------ evaluation
def evaluate_oracle(
    predict_fn: PredictFn, env_id: str, tasks: Sequence[Any], config: EvaluationConfig
) -> list[float]:
    """Mean return per task of an oracle acting on ``observation ++ task_vector(task)`` (no adaptation).

    Runs :func:`agents.oracle.evaluate_oracle` with the evaluation's rollouts per task and the same first reset
    seed as the pre-update rollouts of every adapted method (:func:`agents.evaluation.evaluation_rngs`).
    """
    if len(tasks) != config.num_tasks:
        raise ValueError(f"got {len(tasks)} tasks, EvaluationConfig.num_tasks is {config.num_tasks}")
    _, reset_rng = evaluation_rngs(config)
    returns = run_oracle(
        predict_fn, env_id, list(tasks), rollouts_per_task=config.rollouts_per_task,
        seed=int(reset_rng.integers(0, 2**31 - 1)), env_kwargs=config.env_kwargs,
    )
    return [float(r) for r in returns]


def _policy_dims(policy: GaussianMLPPolicy) -> tuple[int, int]:
    """(env observation size, action size) a policy expects."""
    obs_dim = policy.observation_dim if isinstance(policy, ContextGaussianMLPPolicy) else policy.obs_dim
    return obs_dim, policy.act_dim


def compare_methods(
    env_id: str,
    methods: Mapping[str, MethodSpec],
    eval_config: EvaluationConfig | None = None,
    tuning: TuningConfig | None = None,
    out: str | Path | None = None,
    reference: Mapping[str, Sequence[float] | float] | None = None,
    log_scale: bool = False,
    show_progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Evaluate every method on the identical held-out tasks of ``env_id``; returns ``{method: curve}``.

    Each curve has ``steps`` (0..N), ``mean`` / ``ci95`` (across tasks) and ``per_task`` (``[k][i]`` = task i's
    mean return after k steps), ``step_sizes`` (the step size of each adaptation step actually used; ``[]`` for
    the oracle), ``notes``, ``tuning`` (:meth:`StepSizeSearch.to_dict` or ``None``), ``source`` and ``tasks``.

    :param methods: ``{name: PolicySpec | OracleSpec}`` (see :func:`maml_method`, :func:`pretrained_method`,
        :func:`random_method`, :func:`context_method`, :func:`sb3_oracle`); evaluated in this order.
    :param eval_config: the test protocol (default: the paper's — 40 tasks, 3 steps, 0.1 then 0.05).
    :param tuning: where tuned step sizes are chosen (default :class:`TuningConfig`; its seed must differ).
    :param out: if given, the JSON report is written there and the plot beside it (``.png``).
    :param reference: the paper's curves to draw (e.g. ``examples/evaluate.py: paper_curves``).
    :param log_scale: symlog y axis (the paper's 2D-navigation figure).
    """
    if not methods:
        raise ValueError("methods is empty: give at least one {name: MethodSpec}")
    eval_config = eval_config or EvaluationConfig()
    tuning = tuning or TuningConfig()
    if tuning.seed == eval_config.seed:
        raise ValueError(
            f"TuningConfig.seed ({tuning.seed}) equals EvaluationConfig.seed: step sizes must be tuned on "
            "training tasks, not on the test tasks"
        )
    for name, spec in methods.items():
        if not isinstance(spec, (PolicySpec, OracleSpec)):
            raise TypeError(f"methods[{name!r}] must be a PolicySpec or OracleSpec, got {type(spec).__name__}")
    probe = PolicyRollouts(env_id, 1, 1, env_kwargs=eval_config.env_kwargs)
    try:
        tasks = held_out_tasks(probe, eval_config)  # ONE task list for every method
        env_dims = (probe.observation_dim, probe.action_dim)
    finally:
        probe.close()
    for name, spec in methods.items():
        if isinstance(spec, PolicySpec) and _policy_dims(spec.policy) != env_dims:
            raise ValueError(
                f"methods[{name!r}]: the policy expects (observation, action) sizes {_policy_dims(spec.policy)}, "
                f"{env_id} has {env_dims}"
            )

    curves: dict[str, dict[str, Any]] = {}
    task_dicts = json_ready(list(tasks))
    for name, spec in methods.items():
        if isinstance(spec, OracleSpec):
            returns = evaluate_oracle(spec.predict_fn, env_id, tasks, eval_config)
            mean, ci = mean_ci(np.asarray(returns))
            n = eval_config.num_steps + 1
            curves[name] = {
                "steps": list(range(n)),
                "mean": [float(mean)] * n,
                "ci95": [float(ci)] * n,
                "per_task": [list(returns) for _ in range(n)],
                "step_sizes": [],
                "notes": " ".join(filter(None, [spec.notes, "(no adaptation: the same value at every step)"])),
                "tuning": None,
                "source": spec.source,
                "tasks": task_dicts,
            }
            continue
        search: StepSizeSearch | None = None
        config = eval_config
        if spec.tune_candidates is not None:
            search = tune_step_size(
                spec.policy, env_id, spec.tune_candidates, tuning.evaluation_config(eval_config),
                test_seed=eval_config.seed, show_progress=show_progress,
            )
            config = replace(eval_config, step_sizes=(search.chosen,))
        elif spec.step_sizes is not None:
            config = replace(eval_config, step_sizes=spec.step_sizes)
        curve = evaluate_adaptation(spec.policy, env_id, config, tasks=tasks, show_progress=show_progress)
        curves[name] = {
            **{key: curve[key] for key in ("steps", "mean", "ci95", "per_task")},
            "step_sizes": [config.step_size(k) for k in range(config.num_steps)],
            "notes": spec.notes + (f"; tuned step size {search.chosen}" if search is not None else ""),
            "tuning": search.to_dict() if search is not None else None,
            "source": spec.source,
            "tasks": curve["tasks"],
        }
    if out is not None:
        report = comparison_report(env_id, curves, eval_config, tuning)
        write_comparison(report, out, reference=reference, log_scale=log_scale)
    return curves


def comparison_report(
    env_id: str,
    curves: Mapping[str, Mapping[str, Any]],
    eval_config: EvaluationConfig | None = None,
    tuning: TuningConfig | None = None,
) -> dict[str, Any]:
    """The JSON report of :func:`compare_methods`' curves (schema in the module docstring).

    :raises ValueError: if the methods were not evaluated on the same tasks.
    """
    if not curves:
        raise ValueError("curves is empty")
    names = list(curves)
    tasks = curves[names[0]]["tasks"]
    for name in names[1:]:
        if curves[name]["tasks"] != tasks:
            raise ValueError(f"methods {names[0]!r} and {name!r} were evaluated on different tasks")
    report: dict[str, Any] = {
        "env_id": env_id,
        "tasks": tasks,
        "methods": {
            name: {
                **{key: curve[key] for key in METHOD_KEYS},
                "tuning": curve.get("tuning"),
                "source": curve.get("source"),
            }
            for name, curve in curves.items()
        },
    }
    if eval_config is not None or tuning is not None:
        report["config"] = {
            "evaluation": asdict(eval_config) if eval_config is not None else None,
            "tuning": asdict(tuning) if tuning is not None else None,
        }
    return report


def write_comparison(
    report: Mapping[str, Any],
    path: str | Path,
    reference: Mapping[str, Sequence[float] | float] | None = None,
    log_scale: bool = False,
) -> tuple[Path, Path]:
    """Write ``report`` as JSON at ``path`` and its plot (like MAML Figs. 4-5) beside it; returns both paths."""
    path = write_curve(dict(report), path)
    png = plot_curves(
        dict(report["methods"]),
        path.with_suffix(".png"),
        title=str(report["env_id"]),
        reference=dict(reference) if reference else None,
        log_scale=log_scale,
    )
    return path, png

