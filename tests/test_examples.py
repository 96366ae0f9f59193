"""Smoke runs of the example scripts with tiny budgets, and a kill-and-resume of the training script."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: tiny sizes for the installed training command (metarl-train, agents/cli.py)
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
    assert "usage:" in result.stdout
    if "─ options ─" in result.stdout:  # tyro scripts: each option's docstring is its help, same or next line
        rows = [line.strip("│ ") for line in result.stdout.splitlines() if line.startswith("│")]
        flags = [i for i, row in enumerate(rows) if row.startswith("--")]
        assert len(flags) >= 3, result.stdout
        for i in flags:
            same_line = len(rows[i].split("  ", 1)) > 1 and rows[i].split("  ", 1)[1].strip()
            next_line = i + 1 < len(rows) and rows[i + 1] and not rows[i + 1].startswith(("--", "-h", "─"))
            assert same_line or next_line, f"{script}: {rows[i]} has no help"
        return
    lines = result.stdout.splitlines()
    lines = lines[lines.index("options:"):]  # the option listing, after the description and its examples
    # every option line of argparse's help has an explanation (on the same or the next line)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("--") and "  " not in stripped:
            assert i + 1 < len(lines) and lines[i + 1].startswith(" " * 10), f"{script}: {stripped} has no help"


TYRO_SCRIPTS = ("train_maml_trpo.py", "evaluate.py", "render_adaptation.py")  # the one-page API scripts


def _example(script: str):
    """The example script imported as a module (its ``main(Args)`` runs in this process)."""
    spec = importlib.util.spec_from_file_location(f"example_{script[:-3]}", ROOT / "examples" / script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_train_evaluate_and_render_examples_end_to_end(tmp_path, monkeypatch):
    """The three one-page scripts on tiny sizes (the paper's defaults patched smaller): training writes its run,
    the evaluation script reads the best checkpoint, the render script writes its clips."""
    from agents import EvaluationConfig, MAMLTRPOConfig

    train_script, eval_script, render_script = (_example(s) for s in TYRO_SCRIPTS)
    monkeypatch.setenv("METARL_NO_PROGRESS", "1")
    monkeypatch.setattr(train_script, "MAMLTRPOConfig", functools.partial(
        MAMLTRPOConfig, meta_batch_size=3, fast_batch_size=3, hidden_sizes=(8, 8)))
    small_evaluation = functools.partial(EvaluationConfig, num_tasks=3, rollouts_per_task=2)
    monkeypatch.setattr(train_script, "EvaluationConfig", functools.partial(small_evaluation, num_steps=1))
    monkeypatch.setattr(eval_script, "EvaluationConfig", small_evaluation)
    monkeypatch.setattr(train_script.metarl, "keep_freed_memory", lambda: None)  # leave this process's allocator
    run_dir = tmp_path / "run"
    curve = train_script.main(train_script.Args(iterations=2, run_dir=str(run_dir), seed=3))
    assert curve["steps"] == [0, 1] and len(curve["per_task"][0]) == 3
    assert len((run_dir / "progress.csv").read_text().strip().splitlines()) == 3  # header + 2 iterations
    assert (run_dir / "evaluation.png").stat().st_size > 0
    resumed = train_script.main(train_script.Args(iterations=3, run_dir=str(run_dir), seed=3, resume=True))
    assert len((run_dir / "progress.csv").read_text().strip().splitlines()) == 4 and resumed["steps"] == [0, 1]

    out = tmp_path / "eval.json"
    evaluated = eval_script.main(eval_script.Args(checkpoint=run_dir / "best.pt", out=out, eval_steps=2, seed=7))
    assert evaluated["steps"] == [0, 1, 2] and json.loads(out.read_text())["mean"] == evaluated["mean"]
    assert evaluated["config"]["seed"] == 7 and out.with_suffix(".png").stat().st_size > 0

    paths = render_script.main(render_script.Args(checkpoint=run_dir / "best.pt", out_dir=tmp_path / "video",
                                                  steps=1, format="gif"))
    names = {path.name for path in paths}
    assert {"step0.gif", "step1.gif", "adaptation_tiled.gif", "summary.json"} <= names
    assert all(path.stat().st_size > 0 for path in paths)


def test_a_bad_checkpoint_ends_with_one_error_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("garbage")
    result = run("evaluate.py", "--checkpoint", str(bad))
    assert result.returncode != 0 and "bad.pt" in result.stderr, result.stderr
    result = run("evaluate.py")  # the checkpoint is required
    assert result.returncode == 2 and "--checkpoint" in result.stderr and "Traceback" not in result.stderr


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from agents.cli import train_main; train_main()", *args]


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    """SIGKILL a metarl-train run mid-way; --resume continues from last.pt to the requested total."""
    run_dir = tmp_path / "run"
    args = _cli("--iterations", "200", "--run-dir", str(run_dir), "--eval-tasks", "0", *TINY)
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
    result = subprocess.run(_cli("--iterations", str(done + 2), "--run-dir", str(run_dir), "--resume",
                                 "--eval-tasks", "0", *TINY), capture_output=True, text=True, timeout=240, env=env,
                            cwd=ROOT)
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


@pytest.mark.parametrize("env_id, family", [("MetaAntVel-v0", "locomotion"), ("MetaCheetahDir-v0", "locomotion"),
                                            ("MetaNav2D-v0", "navigation")])
def test_train_oracle_fills_the_preset_of_the_env_given(env_id, family):
    """examples/train_oracle.py: PPO settings not on the command line come from --env-id's family preset (it once
    filled the navigation preset whatever --env-id said: an ant oracle got 200k steps at lr 3e-4)."""
    from agents.cli import parse_cli
    from agents.oracle import PPO_PRESETS

    script = _example("train_oracle.py")
    config = parse_cli(script.Args, ["--env-id", env_id], "train_oracle.py", script.__doc__).oracle
    preset = PPO_PRESETS[family]
    assert (config.env_id, config.total_timesteps, config.learning_rate, config.gamma, config.normalize_observations) \
        == (env_id, preset.total_timesteps, preset.learning_rate, preset.gamma, preset.normalize_observations)
    given = parse_cli(script.Args, ["--env-id", env_id, "--total-timesteps", "300"], "train_oracle.py", "").oracle
    assert given.total_timesteps == 300 and given.learning_rate == preset.learning_rate
