"""reproductions.maml2017.run_summary: a run folder's training record (iterations, summed iteration times over
resumed parts, the evaluated checkpoint's iteration), and one-line errors for a folder that is not a run."""

from __future__ import annotations

import json

import pytest

from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import TrainingConfig, train
from metarl.logger import read_csv
from reproductions.maml2017.run_summary import main


def _tiny_run(run_dir, iterations, resume=False):
    agent = MAMLTRPO(MAMLTRPOConfig(env_id="MetaNav2D-v0", meta_batch_size=2, fast_batch_size=2, num_steps=0,
                                    hidden_sizes=(8,), seed=0))
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir), iterations=iterations, resume=resume, progress=False,
                                    tensorboard=False))
    finally:
        agent.close()


def test_summary_of_a_resumed_run(tmp_path):
    run = tmp_path / "run"
    _tiny_run(run, 2)
    _tiny_run(run, 3, resume=True)  # a second part: the summary covers both
    out = tmp_path / "summary.json"
    summary = main(["--run-dir", str(run), "--checkpoint", "last.pt", "--out", str(out),
                    "--committed-as", "checkpoints/x.pt"])
    progress = read_csv(run / "progress.csv")
    assert json.loads(out.read_text()) == summary
    assert summary["iterations"] == 3 and summary["evaluated_iteration"] == 3
    assert summary["training_curve"]["step"] == [1, 2, 3]
    assert summary["train_seconds"] == pytest.approx(sum(progress["time/iteration"]), abs=0.05)
    assert summary["config"]["num_steps"] == 0 and summary["checkpoint"] == "checkpoints/x.pt"


def test_a_folder_without_a_run_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="--run-dir: no progress.csv"):
        main(["--run-dir", str(tmp_path), "--out", str(tmp_path / "s.json")])
    (tmp_path / "progress.csv").write_text("step\n")
    with pytest.raises(SystemExit, match="--checkpoint: no best.pt"):
        main(["--run-dir", str(tmp_path), "--out", str(tmp_path / "s.json")])
