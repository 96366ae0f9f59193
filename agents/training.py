"""The training loop of the meta-RL agents: iterate, log, checkpoint, resume.

``train(agent, TrainingConfig(...))`` runs ``agent.step()`` until ``iterations`` meta-iterations are done, logging
every metrics dict to ``progress.csv`` and TensorBoard, writing ``last.pt`` after every iteration (atomically) and
``best.pt`` whenever the smoothed post-adaptation return improves (the paper keeps the best checkpoint of a run).
With ``resume=True`` a run restarts from ``last.pt`` — parameters, iteration and every RNG — so a crashed or killed
run continues exactly where it stopped.

One run writes into a folder at a time: ``train`` holds the folder's :class:`~metarl.run_lock.RunLock` for the whole
run (a second writer gets a :class:`~metarl.run_lock.RunLockError` naming the holder's pid), and on taking it removes
the temporary files a killed checkpoint write left behind (:func:`metarl.atomic.remove_stale_temp_files`).
"""

from __future__ import annotations

import errno
import logging
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agents.maml_trpo import (
    MAMLTRPO,
    REJECT_CAUSES,
    Extensions,
    MAMLTRPOConfig,
    make_policy,
    policy_dims_from_state,
)
from agents.resume import THREADS_KEY, ConfigChange, check_resume_config, log_resume
from metarl.atomic import remove_stale_temp_files
from metarl.checkpoint import CheckpointError, CheckpointManager, load_checkpoint
from metarl.logger import Logger
from metarl.progress import progress
from metarl.rl.policy import GaussianMLPPolicy
from metarl.run_lock import RunLock

__all__ = ["MetaStepsRejected", "TrainingConfig", "checkpoint_extensions", "load_agent", "load_policy", "train"]

CHECKPOINT_KIND = "maml_trpo"
BEST_METRIC = "train/return_after_adapt_smoothed"
#: written into a warm-started run's directory (:func:`warm_start_record`); read by benchmarks/reproduce_maml.py
WARM_START_FILE = "warm_start.json"
_log = logging.getLogger("metarl.training")


@dataclass
class TrainingConfig:
    """Where and how long to train."""

    run_dir: str = "runs/maml_trpo"
    """Folder for checkpoints (last.pt, best.pt), progress.csv, TensorBoard logs."""
    iterations: int = 500
    """Total meta-iterations (the paper trains up to 500)."""
    resume: bool = False
    """Continue from run_dir/last.pt (parameters, iteration, RNG state); refused when there is none, or when the
    agent's config differs from the checkpoint's (see resume_with_changes). Bit-identical to an uninterrupted run
    with the same config and torch thread count (stored in the checkpoint; a different count is warned about)."""
    resume_with_changes: bool = False
    """With resume: accept a config that differs from the checkpoint's, logging every changed field (old -> new);
    the run then no longer continues exactly. The sampler's workers/backend may always change."""
    max_consecutive_rejections: int = 5
    """Stop the run (MetaStepsRejected; non-zero exit from the command line) after this many meta-steps in a row
    were rejected for a non-finite surrogate, meta-gradient or KL (0 = never stop). Each rejection keeps the
    parameters and is logged, with its cause, in progress.csv (trpo/rejected, trpo/reject_cause) and train.log."""
    best_window: int = 10
    """Iterations averaged for the best-checkpoint metric (post-adaptation return)."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""
    progress: bool = True
    """Show progress: a bar in a terminal, else a log line every ~5 % of the run (METARL_NO_PROGRESS=1: none)."""

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"TrainingConfig.iterations must be >= 0, got {self.iterations}")
        if self.best_window < 1:
            raise ValueError(f"TrainingConfig.best_window must be >= 1, got {self.best_window}")
        if self.max_consecutive_rejections < 0:
            raise ValueError(
                f"TrainingConfig.max_consecutive_rejections must be >= 0, got {self.max_consecutive_rejections}"
            )


class MetaStepsRejected(RuntimeError):
    """A run stopped because ``TrainingConfig.max_consecutive_rejections`` meta-steps in a row were rejected.

    :ivar iteration: the last iteration done (``last.pt`` holds it; its parameters are those before the rejections).
    :ivar causes: the reject cause of each of those iterations (:data:`agents.maml_trpo.REJECT_CAUSES`).
    """

    def __init__(self, iteration: int, causes: list[str]) -> None:
        self.iteration = iteration
        self.causes = causes
        counts = {cause: causes.count(cause) for cause in causes}
        super().__init__(
            f"stopped at iteration {iteration}: the last {len(causes)} meta-steps were all rejected ("
            + ", ".join(f"{n} x {cause}" for cause, n in counts.items())
            + f"); the parameters are those of iteration {iteration - len(causes)} (kept in last.pt). The inner "
            "step size (fast_lr) or the trust region (max_kl) is probably too large for this policy"
        )


def train(agent: MAMLTRPO | Any, config: TrainingConfig) -> dict[str, Any]:
    """Run ``agent`` up to ``config.iterations`` meta-iterations; returns a summary dict.

    ``agent`` is a :class:`MAMLTRPO` or any meta-RL agent with the same surface (``config.env_id``, ``iteration``,
    ``step() -> metrics`` with ``train/return_before_adapt``/``train/return_after_adapt``/``time/iteration``,
    ``state_dict``/``load_state_dict``); its checkpoints are tagged with ``agent.checkpoint_kind`` (default
    ``"maml_trpo"``) so that one agent's checkpoint is never loaded as another's.

    With ``config.resume`` the agent's state is restored from ``run_dir/last.pt`` first (refused when there is
    none, when it was trained on another env, or — unless ``config.resume_with_changes`` — when the agent's config
    differs from the checkpoint's); without it ``run_dir`` must not already hold a run (no silent overwrite).
    The run holds ``run_dir``'s :class:`~metarl.run_lock.RunLock` throughout.

    :raises metarl.run_lock.RunLockError: another process trains in ``run_dir``.
    :raises agents.resume.ResumeConfigError: the resumed config differs from the checkpoint's.
    :raises MetaStepsRejected: ``config.max_consecutive_rejections`` meta-steps in a row were rejected.
    """
    with RunLock(config.run_dir):
        removed = remove_stale_temp_files(config.run_dir)
        return _train_locked(agent, config, removed)


def _train_locked(agent: MAMLTRPO | Any, config: TrainingConfig, removed_temp_files: list[Path]) -> dict[str, Any]:
    run_dir = Path(config.run_dir)
    kind = getattr(agent, "checkpoint_kind", CHECKPOINT_KIND)
    manager = CheckpointManager(run_dir, keep_best_by=BEST_METRIC, mode="max", kind=kind)
    history: deque[float] = deque(maxlen=config.best_window)
    rejected: list[str] = []  # causes of the meta-steps rejected in a row up to now
    resumed: tuple[list[ConfigChange], dict[str, Any]] | None = None
    if manager.last_path.exists():
        if not config.resume:
            raise FileExistsError(
                f"{manager.last_path} exists: pass resume=True (--resume) to continue that run, or choose a new run_dir"
            )
        state = manager.resume()
        assert state is not None
        saved_env = state["config"]["env_id"]
        if saved_env != agent.config.env_id:
            raise CheckpointError(manager.last_path, f"was trained on {saved_env}, the agent is for {agent.config.env_id}")
        changes = check_resume_config(manager.last_path, state["config"], agent.config.to_dict(),
                                      config.resume_with_changes)
        agent.load_state_dict(state)
        resumed = (changes, state)
        history.extend(state.get("return_history", []))
        rejected = list(state.get("rejected_in_a_row", []))
    elif config.resume:
        raise FileNotFoundError(errno.ENOENT, "resume=True (--resume) but there is no checkpoint to continue",
                                str(manager.last_path))
    start = agent.iteration
    logger = Logger(run_dir, use_tensorboard=config.tensorboard, purge_step=start + 1)
    if removed_temp_files:
        _log.warning("removed %d temporary file(s) of interrupted writes from %s: %s", len(removed_temp_files),
                     run_dir, ", ".join(p.name for p in removed_temp_files))
    if resumed is not None:
        log_resume(manager.last_path, *resumed)
    if start == 0:
        logger.log_config(agent.config.to_dict())
    elif start >= config.iterations:
        _log.warning("%s is already at iteration %d (iterations=%d): nothing to train", manager.last_path, start,
                     config.iterations)
    else:
        _log.info("resuming %s at iteration %d of %d", manager.last_path, start, config.iterations)
    last_metrics: dict[str, float] = {}
    try:
        bar = progress(
            range(start, config.iterations),
            desc=f"{getattr(agent, 'display_name', 'MAML-TRPO')} {agent.config.env_id}",
            disable=None if config.progress else True,
        )
        for _ in bar:
            metrics = agent.step()
            rejected = _note_meta_step(agent.iteration, metrics, rejected)
            history.append(metrics["train/return_after_adapt"])
            metrics[BEST_METRIC] = sum(history) / len(history)
            logger.log(agent.iteration, metrics)
            state = agent.state_dict()
            state["metrics"] = metrics
            state["return_history"] = list(history)
            state["rejected_in_a_row"] = rejected
            state[THREADS_KEY] = torch.get_num_threads()
            manager.save(state)
            last_metrics = metrics
            if config.max_consecutive_rejections and len(rejected) >= config.max_consecutive_rejections:
                raise MetaStepsRejected(agent.iteration, rejected)
            bar.set_postfix(
                before=f"{metrics['train/return_before_adapt']:.1f}",
                after=f"{metrics['train/return_after_adapt']:.1f}",
                s_per_it=f"{metrics['time/iteration']:.2f}",
            )
    finally:
        logger.close()
    best = manager.best_value
    return {
        "run_dir": str(run_dir),
        "iterations": agent.iteration,
        "best_metric": None if best is None or math.isnan(best) else best,
        "last_metrics": last_metrics,
    }


def _note_meta_step(iteration: int, metrics: dict[str, float], rejected: list[str]) -> list[str]:
    """Log a rejected meta-step or a line search that accepted no step; the causes of the rejections in a row."""
    code = int(metrics.get("trpo/reject_cause", 0) or 0)
    if code:
        cause = REJECT_CAUSES.get(code, f"cause {code}")
        rejected = [*rejected, cause]
        _log.warning("iteration %d: meta-step rejected (%s); the parameters were kept (%d rejected in a row)",
                     iteration, cause, len(rejected))
        return rejected
    if metrics.get("trpo/line_search_failed"):
        _log.warning("iteration %d: the line search accepted no step within max_kl (%d steps tried); the parameters "
                     "were kept", iteration, int(metrics.get("trpo/ls_steps", 0)))
    return []


def load_policy(path: str | Path) -> tuple[GaussianMLPPolicy, MAMLTRPOConfig]:
    """The policy and config stored in a MAML-TRPO checkpoint (no sampler is built).

    The policy class follows the saved ``config.policy``: a :class:`GaussianMLPPolicy` for ``"mlp"``, a
    :class:`~metarl.rl.context_policy.ContextGaussianMLPPolicy` for ``"context"``.
    """
    state = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
    config = MAMLTRPOConfig.from_dict(dict(state["config"]))
    try:
        obs_dim, act_dim = policy_dims_from_state(state["policy"], config.policy)
    except (KeyError, IndexError, AttributeError) as exc:
        raise CheckpointError(path, f"has no usable {config.policy!r} policy parameters (missing {exc})") from exc
    policy = make_policy(obs_dim, act_dim, config, seed=0)
    try:
        policy.load_state_dict(state["policy"])
    except RuntimeError as exc:
        raise CheckpointError(path, f"policy parameters do not fit the config: {exc}") from exc
    return policy, config


def checkpoint_extensions(path: str | Path) -> str:
    """The name of the :class:`~agents.maml_trpo.Extensions` a MAML-TRPO checkpoint was trained with (``""``:
    none, the library alone).  A policy trained with extensions (e.g. an action wrapper) only behaves as trained
    when evaluated with them too."""
    state = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
    return str(state.get("extensions", ""))


def load_agent(path: str | Path, workers: int | None = None, extensions: Extensions | None = None) -> MAMLTRPO:
    """A full agent (sampler included) restored from a checkpoint, ready to continue training.

    :param extensions: the extensions the checkpoint was trained with (refused when their name differs from the
        stored one, e.g. a reproduction's checkpoint loaded without them).
    """
    state = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
    saved = str(state.get("extensions", ""))
    given = extensions.name if extensions is not None else ""
    if saved != given:
        raise CheckpointError(path, f"was trained with extensions {saved!r}, got {given!r}"
                              + (" (load it through reproductions/, which supplies them)" if saved else ""))
    config = dict(state["config"])
    if workers is not None:
        config["workers"] = workers
    agent = MAMLTRPO(MAMLTRPOConfig.from_dict(config), extensions=extensions)
    agent.load_state_dict(state)
    return agent


def warm_start_record(path: str | Path) -> dict[str, Any]:
    """Where a warm-started run's initial policy came from: the checkpoint's path, the meta-iterations it had
    trained, and its config (so that a result can state the whole training history, e.g. "100 iterations with
    25 % FVP, then 90 with every task")."""
    state = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
    metrics = state.get("metrics") or {}
    return {
        "init_from": str(path),
        "source_iterations": int(state["iteration"]),
        "source_config": dict(state["config"]),
        "source_best_metric": float(metrics[BEST_METRIC]) if BEST_METRIC in metrics else None,
    }
