"""The training loop of the meta-RL agents: iterate, log, checkpoint, resume.

``train(agent, TrainingConfig(...))`` runs ``agent.step()`` until ``iterations`` meta-iterations are done, logging
every metrics dict to ``progress.csv`` and TensorBoard, writing ``last.pt`` after every iteration (atomically) and
``best.pt`` whenever the smoothed post-adaptation return improves (the paper keeps the best checkpoint of a run).
With ``resume=True`` a run restarts from ``last.pt`` — parameters, iteration and every RNG — so a crashed or killed
run continues exactly where it stopped.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.maml_trpo import MAMLTRPO, Extensions, MAMLTRPOConfig, make_policy, policy_dims_from_state
from metarl.checkpoint import CheckpointError, CheckpointManager, load_checkpoint
from metarl.logger import Logger
from metarl.progress import progress
from metarl.rl.policy import GaussianMLPPolicy

__all__ = ["TrainingConfig", "checkpoint_extensions", "load_agent", "load_policy", "train"]

CHECKPOINT_KIND = "maml_trpo"
BEST_METRIC = "train/return_after_adapt_smoothed"
#: written into a warm-started run's directory (:func:`warm_start_record`); read by benchmarks/reproduce_maml.py
WARM_START_FILE = "warm_start.json"


@dataclass
class TrainingConfig:
    """Where and how long to train."""

    run_dir: str = "runs/maml_trpo"
    """Folder for checkpoints (last.pt, best.pt), progress.csv, TensorBoard logs."""
    iterations: int = 500
    """Total meta-iterations (the paper trains up to 500)."""
    resume: bool = False
    """Continue from run_dir/last.pt if it exists (parameters, iteration, RNG state)."""
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


def train(agent: MAMLTRPO | Any, config: TrainingConfig) -> dict[str, Any]:
    """Run ``agent`` up to ``config.iterations`` meta-iterations; returns a summary dict.

    ``agent`` is a :class:`MAMLTRPO` or any meta-RL agent with the same surface (``config.env_id``, ``iteration``,
    ``step() -> metrics`` with ``train/return_before_adapt``/``train/return_after_adapt``/``time/iteration``,
    ``state_dict``/``load_state_dict``); its checkpoints are tagged with ``agent.checkpoint_kind`` (default
    ``"maml_trpo"``) so that one agent's checkpoint is never loaded as another's.

    If ``config.resume`` and ``run_dir/last.pt`` exists, the agent's state is restored from it first (its config
    must match the agent's env); otherwise ``run_dir`` must not already hold a run (no silent overwrite).
    """
    run_dir = Path(config.run_dir)
    kind = getattr(agent, "checkpoint_kind", CHECKPOINT_KIND)
    manager = CheckpointManager(run_dir, keep_best_by=BEST_METRIC, mode="max", kind=kind)
    history: deque[float] = deque(maxlen=config.best_window)
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
        agent.load_state_dict(state)
        history.extend(state.get("return_history", []))
    start = agent.iteration
    logger = Logger(run_dir, use_tensorboard=config.tensorboard, purge_step=start + 1)
    if start == 0:
        logger.log_config(agent.config.to_dict())
    last_metrics: dict[str, float] = {}
    try:
        bar = progress(
            range(start, config.iterations),
            desc=f"{getattr(agent, 'display_name', 'MAML-TRPO')} {agent.config.env_id}",
            disable=None if config.progress else True,
        )
        for _ in bar:
            metrics = agent.step()
            history.append(metrics["train/return_after_adapt"])
            metrics[BEST_METRIC] = sum(history) / len(history)
            logger.log(agent.iteration, metrics)
            state = agent.state_dict()
            state["metrics"] = metrics
            state["return_history"] = list(history)
            manager.save(state)
            last_metrics = metrics
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
