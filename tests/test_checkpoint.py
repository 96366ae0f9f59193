"""Tests for metarl.checkpoint: round trip, atomicity, clear errors, last/best management."""

from __future__ import annotations

import dataclasses
import enum
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from metarl import checkpoint as ckpt_mod
from metarl.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    save_checkpoint,
    to_checkpoint_state,
)
from metarl.seeding import RNGStreams, capture_rng_state, restore_rng_state


@dataclasses.dataclass
class _Inner:
    hidden: tuple[int, ...] = (100, 100)


@dataclasses.dataclass
class _Config:
    env_id: str = "MetaNav2D-v0"
    inner_lr: float = 0.1
    meta_batch: int = 20
    net: _Inner = dataclasses.field(default_factory=_Inner)
    out_dir: Path = Path("runs/x")


class _Mode(enum.Enum):
    FIRST = "first_order"


def _state(iteration: int = 3, ret: float = -10.0) -> dict:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {
        "params": {k: v for k, v in model.named_parameters()},
        "config": _Config(),
        "optimizer": opt.state_dict(),
        "iteration": iteration,
        "metrics": {"eval/return": ret, "trpo/kl": np.float32(0.004)},
    }


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_round_trip_tensors_config_optimizer_and_rng(tmp_path):
    state = _state()
    streams = RNGStreams.from_seed(0)
    streams.tasks.random(7)
    state["rng"] = {"streams": streams.state_dict(), "global": capture_rng_state()}
    state["mode"] = _Mode.FIRST
    path = tmp_path / "deep" / "dir" / "c.pt"  # parent dirs are created
    save_checkpoint(path, state, kind="maml_trpo")
    expected_np = streams.tasks.random(5)
    expected_torch = torch.rand(3, generator=streams.torch_sample)
    expected_global = torch.rand(2)

    out = load_checkpoint(path, expected_kind="maml_trpo")
    assert out["kind"] == "maml_trpo" and out["format_version"] == FORMAT_VERSION
    for name, param in state["params"].items():
        assert torch.equal(out["params"][name], param.detach())
        assert not out["params"][name].requires_grad
    assert out["config"] == dataclasses.asdict(_Config()) | {"out_dir": "runs/x"}
    assert out["config"]["net"]["hidden"] == (100, 100)
    assert _Config(**{**out["config"], "net": _Inner(**out["config"]["net"])}).inner_lr == 0.1
    assert out["iteration"] == 3 and out["mode"] == "first_order"
    assert out["metrics"]["trpo/kl"] == pytest.approx(0.004) and type(out["metrics"]["trpo/kl"]) is float

    # the optimizer state loads back into a fresh optimizer
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt.load_state_dict(out["optimizer"])
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])

    # RNG state restored -> the same next random numbers
    fresh = RNGStreams.from_seed(0)
    fresh.load_state_dict(out["rng"]["streams"])
    restore_rng_state(out["rng"]["global"])
    assert np.array_equal(fresh.tasks.random(5), expected_np)
    assert torch.equal(torch.rand(3, generator=fresh.torch_sample), expected_torch)
    assert torch.equal(torch.rand(2), expected_global)


def test_file_loads_with_plain_weights_only_torch_load(tmp_path):
    save_checkpoint(tmp_path / "c.pt", _state(), kind="k")
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert raw["format"] == "metarl.checkpoint"


def test_numpy_arrays_become_tensors_and_views_are_compacted():
    big = torch.arange(1000.0)
    out = to_checkpoint_state({"a": np.arange(4, dtype=np.float32), "view": big[:2]})
    assert isinstance(out["a"], torch.Tensor) and out["a"].tolist() == [0, 1, 2, 3]
    assert out["view"].untyped_storage().nbytes() == 2 * 4


@pytest.mark.parametrize(("bad", "where", "hint"), [
    ({"rng": np.random.default_rng(0)}, r"state\['rng'\]", "generator_state"),
    ({"net": {"model": torch.nn.Linear(1, 1)}}, r"state\['net'\]\['model'\]", r"state_dict\(\)"),
    ({"x": [1, object()]}, r"state\['x'\]\[1\]", "cannot store a builtins.object"),
    ({"s": {1, 2}}, r"state\['s'\]", "cannot store a builtins.set"),
])
def test_unsupported_objects_are_rejected_at_save_time(tmp_path, bad, where, hint):
    with pytest.raises(TypeError, match=where) as info:
        save_checkpoint(tmp_path / "c.pt", bad, kind="k")
    assert re.search(hint, str(info.value))
    assert not (tmp_path / "c.pt").exists()
    assert _files(tmp_path) == [], "a rejected save must leave no temp file"


def test_kind_is_required_and_consistent(tmp_path):
    with pytest.raises(ValueError, match="non-empty string kind"):
        save_checkpoint(tmp_path / "c.pt", {"a": 1})
    with pytest.raises(ValueError, match="kind='a' disagrees with state\\['kind'\\]='b'"):
        save_checkpoint(tmp_path / "c.pt", {"kind": "b"}, kind="a")
    with pytest.raises(ValueError, match="reserved key"):
        save_checkpoint(tmp_path / "c.pt", {"format_version": 9}, kind="a")
    save_checkpoint(tmp_path / "c.pt", {"kind": "from_state", "x": 1})
    assert load_checkpoint(tmp_path / "c.pt", "from_state")["x"] == 1


def test_crash_mid_write_keeps_previous_checkpoint_and_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"iteration": 1}, kind="k")
    before = path.read_bytes()

    written: list[Path] = []

    def crash(src, dst):  # the temp file is complete and fsynced at this point
        written.append(Path(src))
        assert Path(src).stat().st_size > 0
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(path, {"iteration": 2}, kind="k")
    monkeypatch.undo()

    assert written and written[0].parent == tmp_path, "the temp file must live next to the target"
    assert path.read_bytes() == before
    assert load_checkpoint(path)["iteration"] == 1
    assert _files(tmp_path) == ["last.pt"], "the partial temp file must be removed"


def test_interrupt_during_serialisation_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(obj, f):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "c.pt", {"a": 1}, kind="k")
    assert _files(tmp_path) == []


def test_missing_file_raises_file_not_found_naming_path(tmp_path):
    save_checkpoint(tmp_path / "last.pt", {"a": 1}, kind="k")
    missing = tmp_path / "best.pt"
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(missing)
    assert str(missing) in str(info.value)
    assert "last.pt" in str(info.value), "the message should list the checkpoints that do exist"
    assert info.value.filename == str(missing)


def test_truncated_file_raises_checkpoint_error_naming_path(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _state(), kind="k")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("content", "match"), [
    (b"", "is empty"),
    (b"this is not a checkpoint at all" * 4, "truncated or corrupt"),
])
def test_garbage_files_raise_checkpoint_error(tmp_path, content, match):
    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_directory_and_foreign_torch_files_are_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a metarl checkpoint .*state_dict"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"obj": np.zeros(3)}, tmp_path / "unsafe.pt")  # numpy pickles need code execution to load
    with pytest.raises(CheckpointError, match="not safe to unpickle"):
        load_checkpoint(tmp_path / "unsafe.pt")


def test_wrong_kind_and_newer_format_version(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": 1}, kind="maml_trpo")
    with pytest.raises(CheckpointError, match="holds a 'maml_trpo' checkpoint, expected 'maml_supervised'"):
        load_checkpoint(path, expected_kind="maml_supervised")
    raw = torch.load(path, weights_only=True)
    raw["format_version"] = FORMAT_VERSION + 1
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=f"newer metarl \\(format_version {FORMAT_VERSION + 1}"):
        load_checkpoint(path)


def test_manager_keeps_best_only_on_improvement(tmp_path):
    mgr = CheckpointManager(tmp_path / "run", keep_best_by="eval/return", kind="maml_trpo")
    assert mgr.resume() is None and mgr.load_best() is None and mgr.best_value is None

    assert mgr.save({"iteration": 0, "metrics": {"eval/return": -20.0}}) is True
    assert mgr.save({"iteration": 1, "metrics": {"eval/return": -10.0}}) is True
    best_bytes = mgr.best_path.read_bytes()
    assert mgr.save({"iteration": 2, "metrics": {"eval/return": -15.0}}) is False
    assert mgr.save({"iteration": 3, "metrics": {"eval/return": float("nan")}}) is False
    assert mgr.best_path.read_bytes() == best_bytes, "best.pt must not change without an improvement"

    assert mgr.resume()["iteration"] == 3
    best = mgr.load_best()
    assert best["iteration"] == 1
    assert best["checkpoint_metric"] == {"name": "eval/return", "mode": "max", "value": -10.0}
    assert mgr.best_value == -10.0
    assert _files(mgr.run_dir) == ["best.pt", "last.pt"]

    # a new manager on the same directory (a resumed run) knows the best so far
    again = CheckpointManager(tmp_path / "run", keep_best_by="eval/return", kind="maml_trpo")
    assert again.save({"iteration": 4, "metrics": {"eval/return": -12.0}}) is False
    assert again.save({"iteration": 5}, metric=-5.0) is True
    assert again.load_best()["iteration"] == 5


def test_manager_min_mode_metric_lookup_and_errors(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_best_by="loss", mode="min", kind="sup")
    assert mgr.save({"loss": 1.0})
    assert mgr.save({"loss": torch.tensor(0.5)})
    assert not mgr.save({"loss": 0.7})
    with pytest.raises(ValueError, match="metric 'loss' not found.*has \\['acc'\\]"):
        mgr.save({"metrics": {"acc": 1.0}})
    with pytest.raises(ValueError, match="metric 'loss' must be a real number"):
        mgr.save({"loss": "low"})
    other = CheckpointManager(tmp_path, keep_best_by="acc", kind="sup")
    with pytest.raises(CheckpointError, match="was kept by min 'loss'"):
        other.save({"acc": 1.0})
    with pytest.raises(CheckpointError, match="holds a 'sup' checkpoint, expected 'other'"):
        mgr.resume(expected_kind="other")
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        CheckpointManager(tmp_path, mode="up")  # type: ignore[arg-type]


def test_manager_without_best_tracking_and_corrupt_last(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_best_by=None, kind="k")
    assert mgr.save({"iteration": 0}) is False
    assert _files(tmp_path) == ["last.pt"]
    mgr.last_path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="last.pt"):
        mgr.resume()
