"""benchmarks/bench_random_init_variants.py: untrained-policy adaptation curves per env variant, over seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_random_init_variants import main, mean_over_seeds  # noqa: E402


def test_mean_over_seeds_is_the_student_t_interval_of_the_seed_means() -> None:
    curves = [[-10.0, 0.0], [-12.0, 4.0], [-8.0, 5.0]]
    out = mean_over_seeds(curves)
    assert out["n_seeds"] == 3
    np.testing.assert_allclose(out["mean"], [-10.0, 3.0])
    half = stats.t.ppf(0.975, 2) * np.std([0.0, 4.0, 5.0], ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(out["ci95"][1], half)


def test_runs_each_variant_and_seed_on_the_same_tasks(tmp_path, capsys) -> None:
    out = tmp_path / "random.json"
    report = main(["--env", "MetaNav2D-v0", "--variant", "{}", "--variant", '{"max_step": 0.05}', "--seeds", "0", "1",
                   "--steps", "1", "--tasks", "2", "--rollouts", "2", "--tune-candidates", "0.1",
                   "--tune-tasks", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert [v["env_kwargs"] for v in report["variants"]] == [{}, {"max_step": 0.05}]
    for variant in report["variants"]:
        assert [run["seed"] for run in variant["seeds"]] == [0, 1]
        means = [run["mean"] for run in variant["seeds"]]
        np.testing.assert_allclose(variant["over_seeds"]["mean"], np.mean(means, axis=0))
        np.testing.assert_allclose(variant["gain_over_seeds"]["mean"][1], np.mean([m[1] - m[0] for m in means]))
    # two seeds draw two different policies; two variants change the env
    first, second = report["variants"][0]["seeds"]
    assert first["mean"] != second["mean"]
    assert report["paper_random_init"] == [-82.7, -58.0, -53.8, -46.8]
    assert "2 seeds" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--variant", "[1]"], "JSON object of env kwargs"),
        (["--variant", "{bad"], "must be a JSON object"),
        (["--variant", "{}", "--variant", "{}"], "the same variant is given twice"),
        (["--variant", "{}", "--seeds", "1", "1"], "a seed is given twice"),
    ],
)
def test_bad_arguments_are_named(argv: list[str], message: str, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--env", "MetaNav2D-v0", "--out", str(tmp_path / "x.json"), *argv])
    assert message in capsys.readouterr().err
