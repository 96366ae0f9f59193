"""metarl.jsonio: strict, atomic JSON results files."""

from __future__ import annotations

import json
import math
import stat

import numpy as np
import pytest

from metarl.jsonio import write_json


def test_write_json_is_strict_and_converts_numpy(tmp_path):
    path = write_json(tmp_path / "sub" / "r.json", {"a": np.float32(1.5), "b": np.arange(3), "c": math.nan,
                                                    "d": [np.int64(2), math.inf]})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": [2, None]}


def test_write_json_leaves_no_temp_file_and_is_world_readable(tmp_path):
    path = write_json(tmp_path / "r.json", {"x": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_json_keeps_the_old_file_when_serialisation_fails(tmp_path):
    path = write_json(tmp_path / "r.json", {"x": 1})
    with pytest.raises(TypeError):
        write_json(path, {"x": object()})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
