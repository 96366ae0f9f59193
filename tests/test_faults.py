"""Faults a careful user provokes (issue 32): concurrent writers, kills, corrupt and malicious files, non-finite
meta-steps, resumes that would hide what they do, bad option values, a full disk, a dead sampler worker.

Every test runs a tiny MAML-TRPO on MetaNav2D-v0 (or none at all); the whole file takes well under a minute.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import metarl  # noqa: F401  (registers the env ids)
from agents import maml_trpo
from agents.cli import train_main
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.resume import ResumeConfigError
from agents.training import MetaStepsRejected, TrainingConfig, train
from metarl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metarl.logger import read_csv
from metarl.rl.sampler import MultiprocessVectorStepper, SamplerWorkerError
from metarl.run_lock import RunLock, RunLockError, lock_holder

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(env_id="MetaNav2D-v0", meta_batch_size=2, fast_batch_size=2, hidden_sizes=(8,), cg_iters=2, seed=1)
TINY_FLAGS = ["--env-id", "MetaNav2D-v0", "--meta-batch-size", "2", "--fast-batch-size", "2", "--hidden-sizes", "8",
              "--cg-iters", "2", "--seed", "1", "--eval-tasks", "0", "--no-tensorboard", "--no-progress"]


def _train(run_dir: Path, iterations: int, **kwargs) -> dict:
    agent = MAMLTRPO(MAMLTRPOConfig(**{**TINY, **kwargs.pop("algo", {})}))
    try:
        return train(agent, TrainingConfig(run_dir=str(run_dir), iterations=iterations, tensorboard=False,
                                           progress=False, **kwargs))
    finally:
        agent.close()


def _policy(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["policy"]


def _cli_error(argv: list[str]) -> str:
    """The message of a metarl-train call that must fail: one line, no traceback."""
    with pytest.raises(SystemExit) as info:
        train_main(argv)
    message = str(info.value.code)
    assert info.value.code not in (0, None) and "\n" not in message and "Traceback" not in message, message
    return message


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path / "run" (killed with SIGKILL at the end)."""
    run_dir = tmp_path / "run"
    code = "import sys, time; from metarl.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); print('held', " \
           "flush=True); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc, run_dir
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


# ------------------------------------------------------------------------------------------ one writer per folder
def test_a_second_writer_is_refused_naming_the_holders_pid(holder):
    proc, run_dir = holder
    with pytest.raises(RunLockError, match=rf"in use by pid {proc.pid} "):
        _train(run_dir, 1)
    assert not (run_dir / "progress.csv").exists() and not (run_dir / "last.pt").exists()
    message = _cli_error([*TINY_FLAGS, "--iterations", "1", "--run-dir", str(run_dir)])
    assert message.startswith("metarl-train: run directory") and f"pid {proc.pid} " in message
    message = _cli_error(["--resume", "--iterations", "1", "--run-dir", str(run_dir)])  # a resume is a writer too
    assert f"pid {proc.pid} " in message


def test_the_command_line_exits_non_zero_with_one_line_naming_the_holder(holder):
    proc, run_dir = holder
    result = subprocess.run([sys.executable, "-c", "from agents.cli import metarl_train; metarl_train()", *TINY_FLAGS,
                             "--iterations", "1", "--run-dir", str(run_dir)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result.stderr
    assert f"in use by pid {proc.pid} " in result.stderr


def test_a_stale_lock_of_a_killed_run_is_taken_over_with_a_message(holder, caplog):
    proc, run_dir = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock_holder(run_dir)["pid"] == proc.pid  # the record stays, the kernel dropped the lock
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 1)
    assert f"took over the lock of {run_dir} left by pid {proc.pid}" in caplog.text and "no longer running" in caplog.text
    assert lock_holder(run_dir) is None  # released cleanly at the end of the run


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path):
    with RunLock(tmp_path) as outer, RunLock(tmp_path) as inner:
        assert outer.held and inner.held and lock_holder(tmp_path)["pid"] == os.getpid()
    assert lock_holder(tmp_path) is None
    with RunLock(tmp_path):  # free again
        pass


def test_temp_files_of_a_killed_write_are_removed_when_a_run_starts(tmp_path, caplog):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stray = [run_dir / ".last.pt.a1b2c3d4.tmp", run_dir / ".progress.csv.x_y9z8w7.tmp"]
    for path in stray:
        path.write_bytes(b"half a checkpoint")
    (run_dir / "notes.tmp").write_text("not ours")
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 1)
    assert not any(p.exists() for p in stray) and (run_dir / "notes.tmp").exists()
    assert "removed 2 temporary file(s) of interrupted writes" in caplog.text and stray[0].name in caplog.text
    assert "removed 2 temporary file(s)" in (run_dir / "train.log").read_text()


# ------------------------------------------------------------------------------------------ resume says what it does
def test_resume_refuses_a_changed_config_naming_each_field(tmp_path, caplog):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    with pytest.raises(ResumeConfigError, match=r"fast_lr: 0\.1 -> 0\.3; max_kl: 0\.01 -> 0\.02 "):
        _train(run_dir, 2, resume=True, algo={"fast_lr": 0.3, "max_kl": 0.02})
    assert load_checkpoint(run_dir / "last.pt")["iteration"] == 1
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 2, resume=True, resume_with_changes=True, algo={"fast_lr": 0.3})
    assert "changed config: fast_lr: 0.1 -> 0.3" in caplog.text
    assert load_checkpoint(run_dir / "last.pt")["config"]["fast_lr"] == 0.3
    # the command line: the checkpoint's config, with the flags given on top (refused when they differ)
    message = _cli_error(["--resume", "--iterations", "3", "--run-dir", str(run_dir), "--fast-lr", "0.5"])
    assert "fast_lr: 0.3 -> 0.5" in message and "--resume-with-changes" in message


def test_resume_without_a_checkpoint_is_refused_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint to continue") as info:
        _train(tmp_path / "empty", 2, resume=True)
    assert info.value.filename == str(tmp_path / "empty" / "last.pt")
    message = _cli_error(["--resume", "--iterations", "2", "--run-dir", str(tmp_path / "empty")])
    assert f"there is no checkpoint {tmp_path / 'empty' / 'last.pt'} to continue" in message


def test_resume_past_the_requested_iterations_says_so(tmp_path, caplog):
    run_dir = tmp_path / "run"
    _train(run_dir, 2)
    with caplog.at_level(logging.WARNING, logger="metarl"):
        summary = _train(run_dir, 2, resume=True)
    assert "is already at iteration 2 (iterations=2): nothing to train" in caplog.text
    assert summary["iterations"] == 2 and len(read_csv(run_dir / "progress.csv")["step"]) == 2


def test_a_checkpoint_of_the_previous_version_resumes(tmp_path, caplog):
    """A last.pt as written before issue 32 — no digest, no thread count, no rejection record, no lock file, and a
    config without a field added since — resumes without complaint and continues where it stopped."""
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    (run_dir / "run.lock").unlink()
    old = load_checkpoint(run_dir / "last.pt")
    for key in ("sha256", "torch_threads", "rejected_in_a_row"):
        del old[key]
    old["format_version"] = 1
    del old["config"]["context_dim"]  # as if the field did not exist then
    torch.save(old, run_dir / "last.pt")
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 2, resume=True)
    assert "changed config" not in caplog.text and "torch threads" not in caplog.text
    assert load_checkpoint(run_dir / "last.pt")["iteration"] == 2


def test_the_torch_thread_count_is_stored_and_a_different_one_is_named(tmp_path, caplog):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    state = load_checkpoint(run_dir / "last.pt")
    assert state["torch_threads"] == torch.get_num_threads()
    state = {k: v for k, v in state.items() if k not in ("format", "format_version", "kind", "saved_at", "versions",
                                                         "sha256")}
    state["torch_threads"] = torch.get_num_threads() + 3
    save_checkpoint(run_dir / "last.pt", state, kind="maml_trpo")
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 2, resume=True)
    assert (f"trained with {torch.get_num_threads() + 3} torch threads, this process uses "
            f"{torch.get_num_threads()}") in caplog.text


# ------------------------------------------------------------------------------------------ non-finite meta-steps
def _poison(monkeypatch, agent_iterations: set[int] | None, kind: str = "loss") -> None:
    """Make the meta-objective's surrogate non-finite (``kind="loss"``), its gradient non-finite (``"grad"``) or
    rise at every step away from θ (``"uphill"``: + 1e6 KL, same value and gradient at θ) during the meta-steps of
    the given iterations (0-based; None = all)."""
    original = maml_trpo.surrogate_and_kl
    state = {"iteration": 0}
    original_step = MAMLTRPO.step

    def step(self):
        state["iteration"] = self.iteration
        return original_step(self)

    def surrogate_and_kl(policy, adapted, *args, **kwargs):
        loss, kl = original(policy, adapted, *args, **kwargs)
        if agent_iterations is None or state["iteration"] in agent_iterations:
            if kind == "loss":
                loss = loss * float("nan")
            elif kind == "uphill":
                loss = loss + 1e6 * kl
            else:  # finite value, NaN gradient: d/dx sqrt(|0 x|) = inf * 0
                loss = loss + (0.0 * next(iter(adapted.values())).sum()).abs().sqrt()
        return loss, kl

    monkeypatch.setattr(MAMLTRPO, "step", step)
    monkeypatch.setattr(maml_trpo, "surrogate_and_kl", surrogate_and_kl)


@pytest.mark.parametrize(("kind", "cause"), [("loss", 2), ("grad", 3)])
def test_a_non_finite_meta_step_is_rejected_and_the_run_goes_on(tmp_path, monkeypatch, caplog, kind, cause):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    before = _policy(run_dir / "last.pt")
    _poison(monkeypatch, {1}, kind)
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(run_dir, 2, resume=True)
    after = _policy(run_dir / "last.pt")
    assert all(torch.equal(before[k], after[k]) for k in before), "a rejected step must keep θ bit for bit"
    name = maml_trpo.REJECT_CAUSES[cause]
    assert f"iteration 2: meta-step rejected ({name}); the parameters were kept" in caplog.text
    _train(run_dir, 3, resume=True)  # and the run goes on
    log = read_csv(run_dir / "progress.csv")
    assert log["step"] == [1, 2, 3]
    assert log["trpo/rejected"] == [0.0, 1.0, 0.0] and log["trpo/reject_cause"] == [0.0, float(cause), 0.0]
    assert log["trpo/accepted"][2] == 1.0


def test_consecutive_rejections_stop_the_run_with_a_clear_message(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    before = _policy(run_dir / "last.pt")
    _poison(monkeypatch, None)
    with pytest.raises(MetaStepsRejected, match=r"stopped at iteration 4: the last 3 meta-steps were all rejected "
                                                r"\(3 x non-finite surrogate loss\); the parameters are those of "
                                                r"iteration 1"):
        _train(run_dir, 10, resume=True, max_consecutive_rejections=3)
    state = load_checkpoint(run_dir / "last.pt")
    assert state["iteration"] == 4 and all(torch.equal(before[k], state["policy"][k]) for k in before)
    # the command line ends with one line and a non-zero status (and a resume counts on from the stored streak)
    message = _cli_error(["--resume", "--iterations", "10", "--run-dir", str(run_dir),
                          "--max-consecutive-rejections", "4"])
    assert message.startswith("metarl-train: stopped at iteration 5: the last 4 meta-steps were all rejected")


def test_a_line_search_that_accepts_nothing_is_logged_and_counted(tmp_path, monkeypatch, caplog):
    _poison(monkeypatch, None, "uphill")
    with caplog.at_level(logging.WARNING, logger="metarl"):
        _train(tmp_path / "run", 2)
    log = read_csv(tmp_path / "run" / "progress.csv")
    assert log["trpo/line_search_failed"] == [1.0, 1.0] and log["trpo/rejected"] == [0.0, 0.0]
    assert "iteration 1: the line search accepted no step within max_kl (15 steps tried)" in caplog.text


# ------------------------------------------------------------------------------------------ damaged files
def test_a_flipped_bit_in_a_checkpoint_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    path = run_dir / "last.pt"
    raw = bytearray(path.read_bytes())
    weight = _policy(path)["layers.0.weight"]
    at = bytes(raw).index(weight.numpy().tobytes()) + 5  # inside the tensor's data, which torch never checks
    raw[at] ^= 0x10
    path.write_bytes(raw)
    with pytest.raises(CheckpointError, match=rf"checkpoint {path}: fails its SHA-256 check"):
        load_checkpoint(path)
    message = _cli_error(["--resume", "--iterations", "2", "--run-dir", str(run_dir)])
    assert "fails its SHA-256 check" in message and str(path) in message


def test_a_full_disk_names_the_checkpoint_and_keeps_the_last_one(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _train(run_dir, 1)
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("iteration") == 2:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    message = _cli_error(["--resume", "--iterations", "3", "--run-dir", str(run_dir)])
    assert "No space left on device" in message and str(run_dir / "last.pt") in message
    assert load_checkpoint(run_dir / "last.pt")["iteration"] == 1
    assert not list(run_dir.glob(".*.tmp"))


def test_a_dead_sampler_worker_is_named(tmp_path):
    stepper = MultiprocessVectorStepper("MetaNav2D-v0", num_envs=2, workers=2, start_method="fork")
    try:
        victim = stepper._pool.procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        with pytest.raises(SamplerWorkerError, match=rf"sampler worker 1 \(pid {victim.pid}\) was killed by signal 9 "
                                                     r"during 'reset'"):
            stepper.reset(0)
    finally:
        stepper.close()


# ------------------------------------------------------------------------------------------ one line per bad value
@pytest.mark.parametrize(("flags", "expected"), [
    (["--fast-lr", "inf"], "invalid MAMLTRPOConfig.fast_lr = inf"),
    (["--max-kl", "inf"], "invalid MAMLTRPOConfig.max_kl = inf"),
    (["--cg-damping", "inf"], "invalid MAMLTRPOConfig.cg_damping = inf"),
    (["--seed", "-1"], "invalid MAMLTRPOConfig.seed = -1"),
    (["--hidden-sizes", "0", "8"], "invalid MAMLTRPOConfig.hidden_sizes = (0, 8)"),
    (["--torch-threads", "0"], "--torch-threads must be an int >= 1, or None; got 0"),
    (["--workers", "5"], "MAMLTRPOConfig.workers = 5 is more than the meta_batch_size x fast_batch_size = 4 env"),
    (["--eval-steps", "-1"], "--eval-steps must be an int >= 0; got -1"),
    (["--eval-tasks", "2", "--eval-rollouts", "0"], "--eval-rollouts must be an int >= 1"),
    (["--max-consecutive-rejections", "-1"], "TrainingConfig.max_consecutive_rejections must be >= 0, got -1"),
])
def test_a_bad_value_ends_the_command_with_one_line_before_training(tmp_path, flags, expected):
    run_dir = tmp_path / "run"
    message = _cli_error([*TINY_FLAGS, "--iterations", "1", "--run-dir", str(run_dir), *flags])
    assert message.startswith("metarl-train: ") and expected in message
    assert not (run_dir / "progress.csv").exists()


def test_metarl_train_resolves_the_batch_sizes_for_the_env_it_is_given():
    """tyro used to pass the default env's (MetaNav2D's) resolved 20 x 20 to every env, ant direction included."""
    from agents.cli import TrainArgs, parse_cli, train_config

    def sizes(argv):
        config, state = train_config(parse_cli(TrainArgs, argv, "metarl-train"), argv)
        return config.meta_batch_size, config.fast_batch_size

    assert sizes(["--env-id", "MetaAntDir-v0"]) == (40, 40)
    assert sizes(["--env-id", "MetaAntDir-v0", "--meta-batch-size", "4"]) == (4, 40)
    assert sizes([]) == (20, 20)


def test_an_absurd_worker_count_is_refused_by_the_sampler():
    cores = os.cpu_count() or 1
    with pytest.raises(ValueError, match=rf"workers = {8 * cores} is more than 4 x the {cores} CPU cores"):
        MultiprocessVectorStepper("MetaNav2D-v0", num_envs=10_000, workers=8 * cores)


def test_zero_evaluation_rollouts_are_refused_not_replaced_by_the_paper_value():
    from agents.comparison import TuningConfig
    from agents.evaluation import EvaluationConfig

    with pytest.raises(ValueError, match="EvaluationConfig.rollouts_per_task must be >= 1 .*got 0"):
        EvaluationConfig(rollouts_per_task=0)
    with pytest.raises(ValueError, match="TuningConfig.rollouts_per_task must be >= 1"):
        TuningConfig(rollouts_per_task=0)
    with pytest.raises(ValueError, match="EvaluationConfig.seed must be >= 0, got -1"):
        EvaluationConfig(seed=-1)


# ------------------------------------------------------------------------------------------ oracle files
class _Touch:
    """Unpickling this creates ``marker``: the stand-in for the code a malicious model file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _legacy_oracle_zip(tmp_path: Path, sidecar: bool = True, normalization: dict | None = None) -> Path:
    """An oracle as metarl wrote it before issue 32: an SB3 PPO zip and its JSON sidecar."""
    import json

    from stable_baselines3 import PPO

    from agents.oracle import ORACLE_KIND, OracleConfig, make_oracle_env, ppo_kwargs

    config = OracleConfig(env_id="MetaNav2D-v0", policy_hidden_sizes=(8,), value_hidden_sizes=(8,))
    env = make_oracle_env("MetaNav2D-v0")
    path = tmp_path / "legacy.zip"
    PPO("MlpPolicy", env, device="cpu", seed=0, policy_kwargs=ppo_kwargs(config)["policy_kwargs"]).save(path)
    env.close()
    if sidecar:
        meta = {"kind": ORACLE_KIND, "format_version": 1, "model_file": path.name, "config": config.to_dict(),
                "observation_dim": 2, "task_dim": 2, "action_dim": 2, "observation_normalization": normalization,
                "wall_clock_seconds": 1.0, "timesteps": 0}
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def _with_payload(zip_path: Path, payload: object, out: Path) -> Path:
    """``zip_path`` with its pickled policy class replaced by ``payload``'s pickle (SB3 cloudpickles it on load)."""
    import base64
    import json
    import pickle
    import zipfile

    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "data":
                fields = json.loads(data)
                fields["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(payload)).decode()
                data = json.dumps(fields).encode()
            dst.writestr(item, data)
    return out


def test_a_malicious_oracle_file_is_not_executed(tmp_path):
    from agents.oracle import load_oracle
    from examples.compare import main as compare

    marker = tmp_path / "pwned"
    evil_zip = _with_payload(_legacy_oracle_zip(tmp_path), _Touch(marker), tmp_path / "evil.zip")
    (tmp_path / "evil.json").write_text((tmp_path / "legacy.json").read_text())
    evil_pt = tmp_path / "evil.pt"
    torch.save({"policy": _Touch(marker)}, evil_pt)
    with pytest.raises(ValueError, match="is a stable-baselines3 zip: loading it unpickles code"):
        load_oracle(evil_zip)
    with pytest.raises(CheckpointError, match="not safe to unpickle"):
        load_oracle(evil_pt)
    for path in (evil_zip, evil_pt):
        with pytest.raises(SystemExit) as info:
            compare(["--env-id", "MetaNav2D-v0", "--oracle", str(path), "--methods", "oracle"])
        assert str(info.value.code).startswith("compare.py: ") and "\n" not in str(info.value.code)
    assert not marker.exists()
    # the files are truly malicious: the explicit flag is the only way their code runs
    with pytest.warns(UserWarning, match="unpickling the stable-baselines3 zip"), pytest.raises(ValueError):
        load_oracle(evil_zip, trust_pickle=True)
    assert marker.exists()


def test_a_legacy_oracle_zip_needs_the_flag_and_its_sidecar_and_converts_exactly(tmp_path):
    import numpy as np

    from agents.oracle import convert_legacy_oracle, load_oracle

    stats = {"mean": [0.1, -0.2, 0.0, 0.3], "var": [0.04, 0.09, 0.25, 0.01], "epsilon": 1e-8, "clip": 10.0}
    legacy = _legacy_oracle_zip(tmp_path, normalization=stats)
    with pytest.raises(ValueError, match="trust_pickle=True"):
        load_oracle(legacy)
    with pytest.warns(UserWarning, match="unpickling"):
        trusted = load_oracle(legacy, trust_pickle=True)
    with pytest.warns(UserWarning, match="unpickling"):
        converted = load_oracle(convert_legacy_oracle(legacy, tmp_path / "oracle.pt"))
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, size=(16, 4))
    np.testing.assert_array_equal(converted.predict_fn(obs), trusted.predict_fn(obs))
    assert converted.normalization is not None and converted.metadata["converted_from"] == "legacy.zip"
    unnormalised = converted.policy.predict(obs.astype(np.float32), deterministic=True)[0]
    assert not np.array_equal(unnormalised, converted.predict_fn(obs))  # the statistics matter
    # without its sidecar a legacy zip would act on unnormalised observations: refused, naming the sidecar
    legacy.with_suffix(".json").unlink()
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match=r"legacy\.json' is missing"):
        load_oracle(legacy, trust_pickle=True)


def test_metarl_traceback_shows_the_error_itself(tmp_path, monkeypatch):
    """The one-line errors hide tracebacks; METARL_TRACEBACK=1 lets the exception through (to report a bug)."""
    argv = ["--resume", "--iterations", "1", "--run-dir", str(tmp_path / "nothing")]
    assert "there is no checkpoint" in _cli_error(argv)
    monkeypatch.setenv("METARL_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="there is no checkpoint"):
        train_main(argv)
