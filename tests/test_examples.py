"""Smoke runs of the example scripts with tiny budgets, and a kill-and-resume of the training script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--meta-batch-size", "3", "--fast-batch-size", "3", "--hidden-sizes", "8", "8", "--no-tensorboard"]


def run(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )


@pytest.mark.parametrize(
    "script", ["train_maml_trpo.py", "evaluate.py", "render_adaptation.py", "demo.py", "maltml_nav2d.py"]
)
def test_help_explains_every_option(script):
    result = run(script, "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lines = lines[lines.index("options:"):]  # the option listing, after the description and its examples
    # every option line of argparse's help has an explanation (on the same or the next line)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("--") and "  " not in stripped:
            assert i + 1 < len(lines) and lines[i + 1].startswith(" " * 10), f"{script}: {stripped} has no help"


def test_train_then_evaluate(tmp_path):
    run_dir = tmp_path / "run"
    result = run("train_maml_trpo.py", "--env", "MetaNav2D-v0", "--iterations", "2", "--run-dir", str(run_dir),
                 "--eval-tasks", "3", "--eval-rollouts", "2", "--eval-steps", "1", "--env-kwarg", "goal_tolerance=0.02",
                 *TINY)
    assert result.returncode == 0, result.stderr
    curve = json.loads((run_dir / "evaluation.json").read_text())
    assert curve["steps"] == [0, 1] and len(curve["per_task"][0]) == 3
    # --env-kwarg reaches the run's config and the evaluation builds the same env
    assert json.loads((run_dir / "config.json").read_text())["env_kwargs"] == {"goal_tolerance": 0.02}
    assert curve["config"]["env_kwargs"] == {"goal_tolerance": 0.02}
    assert (run_dir / "evaluation.png").stat().st_size > 0
    assert len((run_dir / "progress.csv").read_text().strip().splitlines()) == 3  # header + 2 iterations

    out = tmp_path / "eval.json"
    result = run("evaluate.py", "--checkpoint", str(run_dir / "best.pt"), "--steps", "2", "--tasks", "2",
                 "--rollouts", "2", "--task-set", "original", "--out", str(out))
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(out.read_text())
    assert evaluated["steps"] == [0, 1, 2] and evaluated["config"]["task_set"] == "original"
    # the original code's first two test goals (np.random.seed(1), U[-0.5, 0.5]^2)
    goals = [coordinate for task in evaluated["tasks"] for coordinate in task["goal"]]
    assert goals == pytest.approx([-0.082977995297426, 0.2203244934421581, -0.4998856251826551, -0.19766742736816023])
    assert out.with_suffix(".png").exists()

    # reproduce_maml.py --collect-only: the run's curve plus any evaluation_<label>.json as extra evaluations
    alt = run_dir / "evaluation_halved.json"
    result = run("evaluate.py", "--checkpoint", str(run_dir / "last.pt"), "--steps", "2", "--tasks", "2",
                 "--rollouts", "2", "--step-sizes", "0.5", "0.25", "--batch", "samples", "--out", str(alt))
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(ROOT))
    from benchmarks.reproduce_maml import collect

    report = collect("tiny", run_dir, tmp_path / "results", tmp_path / "checkpoints")
    assert report["mean"] == curve["mean"] and report["iterations"] == 2
    # the training returns per iteration travel with the result (MetaNav2D logs no per-direction returns)
    training = report["training_curve"]
    assert training["step"] == [1, 2] and len(training["return_after_adapt"]) == 2
    assert set(training) == {"step", "return_before_adapt", "return_after_adapt"}
    extra = report["extra_evaluations"]["halved"]
    assert extra["step_sizes"] == [0.5, 0.25] and extra["steps"] == [0, 1, 2] and extra["batch"] == "samples"
    assert extra["checkpoint"] == str(run_dir / "last.pt")
    assert json.loads((tmp_path / "results" / "tiny.json").read_text()) == report
    assert report["evaluated_checkpoint"] == "best.pt"
    assert (tmp_path / "checkpoints" / "tiny.pt").read_bytes() == (run_dir / "best.pt").read_bytes()
    # a run reported from its last checkpoint (the original code's snapshot_mode="last") commits that one
    (run_dir / "evaluation.json").write_text(json.dumps({**curve, "checkpoint": str(run_dir / "last.pt")}))
    report = collect("tiny", run_dir, tmp_path / "results", tmp_path / "checkpoints")
    assert report["evaluated_checkpoint"] == "last.pt"
    assert (tmp_path / "checkpoints" / "tiny.pt").read_bytes() == (run_dir / "last.pt").read_bytes()
    assert "first_logged_iteration" not in report
    # resumed from a checkpoint whose earlier log is gone: the time covers only the logged iterations, and says so
    lines = (run_dir / "progress.csv").read_text().splitlines()
    (run_dir / "progress.csv").write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    report = collect("tiny", run_dir, tmp_path / "results", tmp_path / "checkpoints")
    assert report["first_logged_iteration"] == 2 and report["iterations"] == 2


@pytest.fixture(scope="module")
def one_iteration_run(tmp_path_factory):
    """A finished one-iteration training run (finite-difference products), shared by the tests below."""
    first = tmp_path_factory.mktemp("one_iteration") / "run"
    result = run("train_maml_trpo.py", "--iterations", "1", "--run-dir", str(first), "--eval-tasks", "0", *TINY)
    assert result.returncode == 0, result.stderr
    return first


def test_warm_start_begins_a_new_run_from_a_checkpoint_policy(tmp_path, one_iteration_run):
    """--init-from: a new run (iteration 0, its own settings) whose first policy is the checkpoint's."""
    first = one_iteration_run
    sys.path[:0] = [str(ROOT / "examples"), str(ROOT)]
    from train_maml_trpo import warm_started_agent

    from agents.maml_trpo import MAMLTRPOConfig
    from agents.training import load_policy

    saved, _ = load_policy(first / "best.pt")
    config = MAMLTRPOConfig(meta_batch_size=3, fast_batch_size=3, hidden_sizes=(8, 8), hvp="gn", seed=5)
    agent = warm_started_agent(config, first / "best.pt")
    try:
        assert agent.iteration == 0 and agent.config.hvp == "gn"
        for name, value in saved.state_dict().items():
            assert torch.equal(agent.policy.state_dict()[name], value), name
    finally:
        agent.close()

    second = tmp_path / "second"
    result = run("train_maml_trpo.py", "--iterations", "1", "--run-dir", str(second), "--eval-tasks", "0",
                 "--init-from", str(first / "best.pt"), "--hvp", "gn", *TINY)
    assert result.returncode == 0, result.stderr
    assert len((second / "progress.csv").read_text().strip().splitlines()) == 2
    record = json.loads((second / "warm_start.json").read_text())  # provenance for the results
    assert record["init_from"] == str(first / "best.pt") and record["source_iterations"] == 1
    assert record["source_config"]["hvp"] == "fd"
    result = run("evaluate.py", "--checkpoint", str(second / "best.pt"), "--steps", "1", "--tasks", "2",
                 "--rollouts", "2", "--out", str(second / "evaluation.json"))
    assert result.returncode == 0, result.stderr
    from benchmarks.reproduce_maml import collect

    report = collect("warm", second, tmp_path / "results", tmp_path / "checkpoints")
    assert report["warm_start"] == record and report["iterations"] == 1

    wider = [*TINY[:4], "--hidden-sizes", "16", "16", "--no-tensorboard"]
    result = run("train_maml_trpo.py", "--iterations", "1", "--run-dir", str(tmp_path / "bad"), "--eval-tasks",
                 "0", "--init-from", str(first / "best.pt"), *wider)
    assert result.returncode != 0 and "hidden_sizes is (8, 8)" in result.stderr, result.stderr
    result = run("train_maml_trpo.py", "--run-dir", str(second), "--resume", "--init-from", str(first / "best.pt"))
    assert result.returncode != 0 and "--resume" in result.stderr


def test_line_search_diagnostic_reports_the_backtracking_path(tmp_path, one_iteration_run):
    run_dir = one_iteration_run
    out = tmp_path / "ls.json"
    args = [sys.executable, str(ROOT / "benchmarks" / "diagnose_line_search.py"), "--checkpoint",
            str(run_dir / "best.pt"), "--batches", "1", "--candidates", "4", "--fvp-fractions", "0.5", "1.0",
            "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, cwd=ROOT,
                          env={**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert set(report["summary"]) == {"0.5", "1.0"} and len(report["batches"]) == 2
    for row in report["batches"]:
        assert row["step_fractions"] == pytest.approx([1.0, 0.8, 0.64, 0.512])
        assert len(row["kl"]) == len(row["surrogate_improvement"]) == 4
        # the accepted point is the first with KL <= max_kl and a positive improvement, as in training
        first = next((s for s, kl, imp in zip(row["step_fractions"], row["kl"], row["surrogate_improvement"])
                      if kl <= report["max_kl"] and imp > 0), None)
        assert row["accepted_step_fraction"] == first
    bad = subprocess.run(args[:-2] + ["--fvp-fractions", "1.5", "--out", str(out)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert bad.returncode != 0 and "--fvp-fractions must lie in (0, 1], got [1.5]" in bad.stderr


def test_a_bad_checkpoint_or_option_ends_with_one_error_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("garbage")
    result = run("evaluate.py", "--checkpoint", str(bad))
    assert result.returncode == 2, result.stderr
    assert "bad.pt" in result.stderr and "Traceback" not in result.stderr  # one error line, not a traceback
    result = run("evaluate.py", "--checkpoint", str(ROOT / "checkpoints" / "maml_nav2d.pt"), "--tasks", "0")
    assert result.returncode == 2 and "EvaluationConfig.num_tasks must be >= 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("train_maml_trpo.py", "--fast-lr", "-1", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and "error: invalid MAMLTRPOConfig.fast_lr = -1.0" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()
    (tmp_path / "crashed").mkdir()
    (tmp_path / "crashed" / "last.pt").write_text("truncated")
    result = run("train_maml_trpo.py", "--resume", "--run-dir", str(tmp_path / "crashed"))
    assert result.returncode == 2 and "--resume: checkpoint" in result.stderr and "last.pt" in result.stderr
    result = run("train_maml_trpo.py", "--init-from", str(tmp_path / "none.pt"), "--run-dir", str(tmp_path / "warm"))
    assert result.returncode == 2 and "--init-from:" in result.stderr and "none.pt" in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    """SIGKILL a training run mid-way; --resume continues from last.pt to the requested total."""
    run_dir = tmp_path / "run"
    args = [sys.executable, str(ROOT / "examples" / "train_maml_trpo.py"), "--iterations", "200",
            "--run-dir", str(run_dir), "--eval-tasks", "0", *TINY]
    env = {**os.environ, "METARL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    csv = run_dir / "progress.csv"
    while time.time() < deadline and (not csv.exists() or len(csv.read_text().splitlines()) < 4):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(csv.read_text().strip().splitlines()) - 1
    assert 3 <= done < 200
    result = run("train_maml_trpo.py", "--iterations", str(done + 2), "--run-dir", str(run_dir), "--resume",
                 "--eval-tasks", "0", *TINY)
    assert result.returncode == 0, result.stderr
    steps = [int(line.split(",")[0]) for line in csv.read_text().strip().splitlines()[1:]]
    # the run continued from its last checkpoint: every iteration logged once, none lost, none repeated
    assert steps == list(range(1, done + 3))


def test_maltml_nav2d_trains_and_evaluates(tmp_path):
    run_dir = tmp_path / "maltml"
    result = run("maltml_nav2d.py", "--iterations", "2", "--run-dir", str(run_dir), "--family-batch-size", "2",
                 "--tasks-per-family", "2", "--rollouts-per-task", "2", "--query-rollouts", "2",
                 "--family-steps", "2", "--hidden-sizes", "8", "--no-tensorboard", "--eval-families", "2",
                 "--eval-steps", "1")
    assert result.returncode == 0, result.stderr
    report = json.loads((run_dir / "evaluation.json").read_text())
    assert report["with_family_update"]["steps"] == [0, 1]
    assert len(report["with_family_update"]["per_task"][0]) == 4  # 2 families x 2 goal tasks
    assert (run_dir / "evaluation.png").stat().st_size > 0


def test_summarize_runs_reads_settings_trajectory_and_evaluation(tmp_path, one_iteration_run):
    out = tmp_path / "summary.json"
    args = [sys.executable, str(ROOT / "benchmarks" / "summarize_runs.py"), str(one_iteration_run),
            "--question", "smoke", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(out.read_text())["runs"]
    assert run["iterations"] == 1 and run["config"]["meta_batch_size"] == 3
    assert [row["iteration"] for row in run["trajectory"]] == [1]
    assert "evaluation" not in run  # trained with --eval-tasks 0
    bad = subprocess.run([*args[:2], str(tmp_path), "--question", "x", "--out", str(out)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode != 0 and "no progress.csv" in bad.stderr


def test_training_curve_keeps_logged_columns_and_writes_gaps_as_null():
    sys.path.insert(0, str(ROOT))
    from benchmarks.reproduce_maml import training_curve

    nan = float("nan")
    progress = {
        "step": [1, 2, 3], "train/return_before_adapt": [-50.0, -45.123, -40.0],
        "train/return_after_adapt": [10.0, 20.0, 30.0],
        # per-direction columns that appeared from iteration 2 on; one never logged
        "train/return_before_adapt_forward": [nan, -30.0, -20.0], "train/return_after_adapt_backward": [nan] * 3,
        "time/iteration": [1.0, 1.0, 1.0],
    }
    curve = training_curve(progress)
    assert curve == {
        "step": [1, 2, 3], "return_before_adapt": [-50.0, -45.12, -40.0], "return_after_adapt": [10.0, 20.0, 30.0],
        "return_before_adapt_forward": [None, -30.0, -20.0],
    }
    json.dumps(curve, allow_nan=False)  # valid JSON


def test_attach_evaluation_adds_a_further_evaluation_of_the_committed_checkpoint(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks.reproduce_maml import attach_evaluation

    results, checkpoints = tmp_path / "results", tmp_path / "checkpoints"
    results.mkdir()
    checkpoints.mkdir()
    (results / "x.json").write_text(json.dumps({"mean": [1.0, 2.0]}))
    (checkpoints / "x.pt").write_bytes(b"policy")
    config = {"step_sizes": [0.1, 0.05], "batch": "episodes", "task_set": "original", "num_tasks": 40}
    evaluation = {"steps": [0, 1], "mean": [3.0, 4.0], "ci95": [0.5, 0.5], "config": config,
                  "checkpoint": str(checkpoints / "x.pt")}
    (tmp_path / "eval.json").write_text(json.dumps(evaluation))
    result = attach_evaluation("x", "original_tasks", tmp_path / "eval.json", results, checkpoints)
    extra = json.loads((results / "x.json").read_text())["extra_evaluations"]["original_tasks"]
    assert extra == result["extra_evaluations"]["original_tasks"]
    assert extra["mean"] == [3.0, 4.0] and extra["task_set"] == "original" and extra["evaluation"] == config
    assert result["mean"] == [1.0, 2.0]  # the main evaluation is untouched
    # an evaluation of another checkpoint would describe another policy
    (tmp_path / "other.json").write_text(json.dumps({**evaluation, "checkpoint": str(tmp_path / "runs" / "last.pt")}))
    with pytest.raises(ValueError, match="not the committed checkpoint"):
        attach_evaluation("x", "other", tmp_path / "other.json", results, checkpoints)
