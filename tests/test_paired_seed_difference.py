"""benchmarks/paired_seed_difference.py: A − B per shared training seed, mean ± 95% CI over those seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.paired_seed_difference import main, paired_difference  # noqa: E402

EVALUATION = {"num_steps": 1, "step_sizes": [0.1], "gamma": 0.99, "gae_lambda": 1.0, "seed": 12345,
              "batch": "episodes", "num_tasks": 40, "rollouts_per_task": 20}


def _aggregate(per_seed: dict[str, list[float]], **config) -> dict:
    return {"env_id": "MetaCheetahDir-v0", "steps": [0, 1], "evaluation": dict(EVALUATION),
            "evaluated_checkpoint": "last.pt", "per_seed": per_seed, "config": {"max_kl": 0.02, **config}}


def test_difference_is_paired_by_seed_over_the_shared_seeds_only():
    a = _aggregate({"1": [-40.0, 130.0], "2": [-38.0, 320.0], "3": [-44.0, 200.0]}, hvp="fd", fd_scheme="forward")
    b = _aggregate({"1": [-45.0, 132.0], "2": [-38.0, 365.0], "4": [-42.0, 85.0]}, hvp="gn", fd_scheme="central")
    out = paired_difference(a, b)
    assert out["seeds"] == [1, 2]
    assert out["per_seed_difference"] == {"1": [5.0, -2.0], "2": [0.0, -45.0]}
    np.testing.assert_allclose(out["mean_difference"], [2.5, -23.5])
    half = stats.t.ppf(0.975, 1) * np.std([-2.0, -45.0], ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(out["ci95_over_seeds"][1], half)
    # what the comparison is about; the "central" stored on the old gn config is no difference taken
    assert out["settings_a_vs_b"] == {"hvp": ["fd", "gn"], "fd_scheme": ["forward", None], "fd_eps": ["auto", None]}


def test_refuses_different_protocols_and_too_few_shared_seeds():
    a = _aggregate({"1": [0.0, 1.0], "2": [0.0, 2.0]})
    b = _aggregate({"1": [0.0, 1.0], "2": [0.0, 2.0]})
    b["evaluation"]["step_sizes"] = [0.5]
    with pytest.raises(ValueError, match="evaluation.step_sizes"):
        paired_difference(a, b)
    with pytest.raises(ValueError, match="at least two training seeds.*shared: \\[1\\]"):
        paired_difference(a, _aggregate({"1": [0.0, 1.0], "3": [0.0, 2.0]}))


def test_keys_written_before_they_existed_take_their_defaults():
    """A result file written before ``evaluation.task_set`` or ``config.fd_eps`` existed was evaluated on the
    sampled tasks and trained with the 'auto' step: no protocol or settings difference from one that says so."""
    a = _aggregate({"1": [0.0, 1.0], "2": [0.0, 2.0]}, hvp="fd", fd_eps="auto")
    b = _aggregate({"1": [0.0, 1.5], "2": [0.0, 2.5]}, hvp="fd")
    a["evaluation"]["task_set"] = "sampled"
    out = paired_difference(a, b)
    assert out["settings_a_vs_b"] == {}
    a["evaluation"]["task_set"] = "original"
    with pytest.raises(ValueError, match="evaluation.task_set 'original' vs None"):
        paired_difference(a, b)
    a["evaluation"]["task_set"] = "sampled"
    a["config"]["fd_eps"] = "maml_code"
    assert paired_difference(a, b)["settings_a_vs_b"] == {"fd_eps": ["maml_code", "auto"]}


def test_main_reads_single_run_files_and_writes_the_json(tmp_path):
    def run(seed: int, mean: list[float], **config) -> Path:
        path = tmp_path / f"run_{config.get('fd_scheme')}_{seed}.json"
        data = {"env_id": "MetaCheetahDir-v0", "steps": [0, 1], "mean": mean, "evaluation": dict(EVALUATION),
                "evaluated_checkpoint": "last.pt", "iterations": 100,
                "config": {"seed": seed, "workers": 1, "hvp": "fd", **config}}
        path.write_text(json.dumps(data))
        return path

    a = [run(2, [-40.0, 318.0], fd_scheme="forward"), run(4, [-43.0, 76.0], fd_scheme="forward")]
    b = [run(2, [-41.0, 330.0], fd_scheme="central"), run(4, [-42.0, 70.0], fd_scheme="central")]
    result = main(["--name", "paired_x", "--out-dir", str(tmp_path), "--a-runs", *map(str, a),
                   "--b-runs", *map(str, b)])
    assert json.loads((tmp_path / "paired_x.json").read_text())["mean_difference"] == result["mean_difference"]
    np.testing.assert_allclose(result["mean_difference"], [0.0, -3.0])
    assert result["settings_a_vs_b"] == {"fd_scheme": ["forward", "central"]}
    with pytest.raises(SystemExit):
        main(["--name", "../escape", "--a-runs", *map(str, a), "--b-runs", *map(str, b)])
