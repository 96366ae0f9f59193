"""Smoke test of the MAML 2017 RL reproduction (reproductions/maml2017): a tiny run of each preset's extension
points through training, checkpointing, loading and the original code's evaluation protocol."""

from __future__ import annotations

import pytest

import metarl  # noqa: F401
from agents.training import TrainingConfig, checkpoint_extensions, load_agent, train
from reproductions.maml2017.evaluate import evaluate_checkpoint
from reproductions.maml2017.presets import extensions_for, quirks_of
from reproductions.maml2017.train import build_agent

TINY = {"meta_batch_size": 2, "fast_batch_size": 2, "hidden_sizes": (8,)}


@pytest.mark.parametrize(("env_id", "tasks"), [("MetaNav2D-v0", 2), ("MetaCheetahDir-v0", 2)])
def test_original_code_preset_trains_saves_and_evaluates(tmp_path, env_id, tasks):
    agent = build_agent(env_id, "original_code", seed=3, overrides=TINY)
    try:
        train(agent, TrainingConfig(run_dir=str(tmp_path), iterations=1, tensorboard=False, progress=False))
    finally:
        agent.close()
    last = tmp_path / "last.pt"
    quirks = quirks_of(checkpoint_extensions(last))
    assert "zero_hidden_biases" in quirks, quirks
    with pytest.raises(ValueError, match="extensions"):
        load_agent(last)  # the library alone refuses a reproduction's checkpoint
    load_agent(last, extensions=extensions_for(quirks)).close()
    for task_set in ("sampled", "original"):
        curve = evaluate_checkpoint(last, task_set, num_tasks=tasks, num_steps=1, show_progress=False, rollouts=2)
        assert len(curve["mean"]) == 2 and all(abs(m) < 1e4 for m in curve["mean"]), curve["mean"]
        assert curve["task_set"] == task_set and curve["quirks"] == list(quirks)
