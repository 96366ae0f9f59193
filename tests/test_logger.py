"""Tests for metarl.logger (CSV + TensorBoard)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import sys

import numpy as np
import pytest
import torch

from metarl.logger import CSV_NAME, LOG_NAME, Logger, read_csv
from metarl.progress import progress


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_contents_and_new_keys_widen_header(tmp_path):
    with Logger(tmp_path, use_tensorboard=False) as logger:
        logger.log(0, {"train/return": -1.5, "trpo/kl": np.float32(0.25)})
        logger.log(1, {"train/return": -1.0, "trpo/kl": torch.tensor(0.5)})
        # the CSV is complete on disk after every call (flushed), before close()
        assert [r[0] for r in _rows(tmp_path / CSV_NAME)] == ["step", "0", "1"]
        logger.log(2, {"train/return": -0.5, "eval/return": 3.0})  # new key, trpo/kl missing
        assert logger.columns == ["step", "wall_time", "train/return", "trpo/kl", "eval/return"]

    rows = _rows(tmp_path / CSV_NAME)
    assert rows[0] == ["step", "wall_time", "train/return", "trpo/kl", "eval/return"]
    assert all(len(r) == 5 for r in rows), "every row must have the full width after a header rewrite"
    assert rows[1][2:] == ["-1.5", "0.25", ""]
    assert rows[3][2:] == ["-0.5", "", "3.0"]

    data = read_csv(tmp_path)  # a run directory works too
    assert data["step"] == [0, 1, 2]
    assert data["train/return"] == [-1.5, -1.0, -0.5]
    assert data["trpo/kl"][:2] == [0.25, 0.5] and math.isnan(data["trpo/kl"][2])
    assert math.isnan(data["eval/return"][0]) and data["eval/return"][2] == 3.0
    assert data["wall_time"][0] > 1e9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temp files left"


def test_nan_inf_and_full_precision_survive(tmp_path):
    with Logger(tmp_path, use_tensorboard=False) as logger:
        logger.log(0, {"a": float("nan"), "b": float("inf"), "c": 0.1 + 0.2})
    data = read_csv(tmp_path / CSV_NAME)
    assert math.isnan(data["a"][0]) and data["b"][0] == math.inf and data["c"][0] == 0.1 + 0.2


def test_bad_inputs_are_named_and_write_nothing(tmp_path):
    with Logger(tmp_path, use_tensorboard=False) as logger:
        logger.log(0, {"ok": 1.0})
        with pytest.raises(TypeError, match="metric 'vec' must be a real number"):
            logger.log(1, {"new": 1.0, "vec": np.zeros(3)})
        with pytest.raises(TypeError, match="metric 'name' must be a real number"):
            logger.log(1, {"name": "x"})
        with pytest.raises(ValueError, match="reserved"):
            logger.log(1, {"step": 1.0})
        with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
            logger.log(-1, {"ok": 1.0})
        with pytest.raises(ValueError, match="step must be an int"):
            logger.log(1.5, {"ok": 1.0})  # type: ignore[arg-type]
        assert logger.columns == ["step", "wall_time", "ok"], "a rejected row must not add columns"
    assert read_csv(tmp_path)["step"] == [0]
    with pytest.raises(RuntimeError, match="closed"):
        logger.log(1, {"ok": 2.0})
    logger.close()  # idempotent


def test_resume_appends_and_purge_step_drops_rows(tmp_path):
    with Logger(tmp_path, use_tensorboard=False) as logger:
        for step in range(5):
            logger.log(step, {"x": float(step)})
    with Logger(tmp_path, use_tensorboard=False) as logger:
        logger.log(5, {"x": 5.0, "y": 1.0})
    assert read_csv(tmp_path)["step"] == [0, 1, 2, 3, 4, 5]

    # resume from a checkpoint of step 2: steps >= 3 will be logged again
    with Logger(tmp_path, use_tensorboard=False, purge_step=3) as logger:
        assert logger.columns == ["step", "wall_time", "x", "y"]
        logger.log(3, {"x": 30.0})
    data = read_csv(tmp_path)
    assert data["step"] == [0, 1, 2, 3]
    assert data["x"] == [0.0, 1.0, 2.0, 30.0]


def test_torn_last_line_is_dropped_on_resume(tmp_path):
    with Logger(tmp_path, use_tensorboard=False) as logger:
        logger.log(0, {"x": 1.0})
    with open(tmp_path / CSV_NAME, "a") as f:
        f.write("1,17000,2.")  # a crash in the middle of a row
    with pytest.warns(UserWarning, match="incomplete last line"):
        logger = Logger(tmp_path, use_tensorboard=False)
    logger.log(1, {"x": 2.0})
    logger.close()
    assert read_csv(tmp_path)["x"] == [1.0, 2.0]


def test_foreign_csv_is_refused(tmp_path):
    (tmp_path / CSV_NAME).write_text("epoch,loss\n1,2\n")
    with pytest.raises(ValueError, match="not a metarl progress CSV"):
        Logger(tmp_path, use_tensorboard=False)


def test_read_csv_names_bad_cell(tmp_path):
    (tmp_path / CSV_NAME).write_text("step,wall_time,x\n0,1.0,abc\n")
    with pytest.raises(ValueError, match="line 2, column 'x': 'abc' is not a number"):
        read_csv(tmp_path)


def test_tensorboard_scalars_and_config(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    @dataclasses.dataclass
    class Cfg:
        lr: float = 0.1
        hidden: tuple[int, int] = (100, 100)

    with Logger(tmp_path) as logger:
        logger.log(0, {"train/return_after_adapt": -3.0, "trpo/kl": 0.01})
        logger.log(1, {"train/return_after_adapt": -2.0})
        cfg_path = logger.log_config(Cfg())
    assert json.loads(cfg_path.read_text()) == {"lr": 0.1, "hidden": [100, 100]}
    events = list(tmp_path.glob("events.out.tfevents.*"))
    assert events, "TensorBoard event file missing"
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert {"train/return_after_adapt", "trpo/kl"} <= set(acc.Tags()["scalars"])
    scalars = acc.Scalars("train/return_after_adapt")
    assert [(s.step, s.value) for s in scalars] == [(0, -3.0), (1, -2.0)]


# ---------------------------------------------------------------------------------- optional TensorBoard
def test_without_tensorboard_the_csv_is_written_and_the_reason_said_once(tmp_path, monkeypatch, caplog):
    import metarl.logger as logger_mod

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    monkeypatch.setattr(logger_mod, "_tensorboard_off_said", False)
    caplog.set_level(logging.WARNING, logger="metarl.logger")
    for run in ("a", "b"):
        with Logger(tmp_path / run) as logger:
            assert not logger.tensorboard
            logger.log(0, {"x": 1.0})
        assert read_csv(tmp_path / run)["x"] == [1.0]
        assert not list((tmp_path / run).glob("events.out.tfevents.*"))
    said = [r.getMessage() for r in caplog.records if r.name == "metarl.logger"]
    assert len(said) == 1, said
    assert "TensorBoard output is off" in said[0] and "metarl[tensorboard]" in said[0]


def test_use_tensorboard_false_says_nothing(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="metarl.logger")
    with Logger(tmp_path, use_tensorboard=False) as logger:
        assert not logger.tensorboard
    assert not caplog.records


# --------------------------------------------------------------------------------------------- train.log
def test_train_log_holds_the_progress_lines_while_the_logger_is_open(tmp_path, monkeypatch):
    monkeypatch.delenv("METARL_NO_PROGRESS", raising=False)  # tests/conftest.py sets it
    metarl_logger = logging.getLogger("metarl")
    handlers_before = list(metarl_logger.handlers)
    quiet = io.StringIO()  # not a terminal: progress lines
    with Logger(tmp_path, use_tensorboard=False):
        for _ in progress(range(3), desc="meta-iterations", file=quiet):
            pass
    list(progress(range(2), desc="after close", file=quiet))
    assert metarl_logger.handlers == handlers_before, "the run's handler must be removed on close"
    text = (tmp_path / LOG_NAME).read_text()
    assert [line.split(": ", 1)[1].split(" (")[0] for line in text.splitlines()] == [
        "meta-iterations: 1/3", "meta-iterations: 2/3", "meta-iterations: 3/3"]
    assert "metarl.progress INFO" in text and "after close" not in text


def test_train_log_can_be_turned_off(tmp_path):
    with Logger(tmp_path, use_tensorboard=False, train_log=False) as logger:
        logger.log(0, {"x": 1.0})
    assert not (tmp_path / LOG_NAME).exists()
