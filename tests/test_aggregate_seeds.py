"""benchmarks/aggregate_seeds.py: the mean over training seeds of reproduce_maml result files."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.aggregate_seeds import aggregate, main  # noqa: E402


def _result(seed: int, mean: list[float]) -> dict:
    return {
        "benchmark": f"maml_x_seed{seed}", "env_id": "MetaNav2D-v0", "steps": [0, 1, 2],
        "mean": mean, "ci95": [1.0] * len(mean), "paper_maml": [-40.4, -11.7, -3.3],
        "iterations": 100, "evaluated_checkpoint": "last.pt",
        "config": {"env_id": "MetaNav2D-v0", "fast_lr": 0.5, "meta_batch_size": 20, "fast_batch_size": 20,
                   "max_kl": 0.02, "seed": seed, "workers": seed, "hidden_bias_init": "zeros", "action_scaling": "rescale", "fvp_subsample": 1.0},
        "evaluation": {"num_steps": 2, "step_sizes": [0.5, 0.25], "gamma": 0.99, "gae_lambda": 1.0, "seed": 12345,
                       "batch": "samples", "num_tasks": 40, "rollouts_per_task": 40, "workers": 2},
    }


def test_mean_and_t_interval_over_seeds():
    curves = {1: [-40.0, -12.0, -4.0], 2: [-38.0, -14.0, -6.0], 3: [-42.0, -10.0, -2.0]}
    out = aggregate({f"s{s}.json": _result(s, c) for s, c in curves.items()})
    assert out["seeds"] == [1, 2, 3] and out["per_seed"]["2"] == curves[2]
    assert out["mean"] == pytest.approx([-40.0, -12.0, -4.0])
    # every column has sample std 2 over 3 seeds: half-width t_{0.975, 2} * 2 / sqrt(3)
    assert out["ci95_over_seeds"] == pytest.approx([stats.t.ppf(0.975, 2) * 2 / 3**0.5] * 3)
    assert "seed" not in out["config"] and "workers" not in out["config"]  # workers may differ between seeds
    assert out["evaluated_checkpoint"] == "last.pt" and out["evaluation"]["batch"] == "samples"


def test_protocol_keys_written_later_read_as_their_defaults():
    """A result evaluated before ``task_set`` existed drew its tasks with the seed: it aggregates with one that
    says ``"sampled"``, and the aggregate states the protocol."""
    new = _result(2, [-1.0, -2.0, -3.0])
    new["evaluation"]["task_set"] = "sampled"
    out = aggregate({"a.json": _result(1, [-1.0, -2.0, -3.0]), "b.json": new})
    assert out["evaluation"]["task_set"] == "sampled"


def test_aggregates_a_further_evaluation_by_its_label():
    results = {}
    for seed, curve in ((1, [-41.0, -12.0, -4.0]), (2, [-39.0, -10.0, -2.0])):
        r = _result(seed, [0.0, 0.0, 0.0])
        r["extra_evaluations"] = {"original_tasks": {
            "mean": curve, "ci95": [1.0] * 3, "checkpoint": "runs/x/last.pt",
            "evaluation": {**r["evaluation"], "task_set": "original"}}}
        results[f"s{seed}.json"] = r
    out = aggregate(results, "original_tasks")
    assert out["mean"] == pytest.approx([-40.0, -11.0, -3.0]) and out["per_seed"]["2"] == [-39.0, -10.0, -2.0]
    assert out["evaluation"]["task_set"] == "original" and out["evaluation_label"] == "original_tasks"
    assert "evaluation_label" not in aggregate(results)  # the main evaluations: zeros
    # evaluations attached to the committed copies (checkpoints/<name>.pt) are of the main evaluation's checkpoint
    for seed, r in ((1, results["s1.json"]), (2, results["s2.json"])):
        r["checkpoint"] = f"checkpoints/maml_x_seed{seed}.pt"
        r["extra_evaluations"]["original_tasks"]["checkpoint"] = f"/repo/checkpoints/maml_x_seed{seed}.pt"
    assert aggregate(results, "original_tasks")["evaluated_checkpoint"] == "last.pt"
    with pytest.raises(ValueError, match=r"s1\.json has no further evaluation 'episodes'"):
        aggregate(results, "episodes")
    del results["s2.json"]["extra_evaluations"]["original_tasks"]["evaluation"]  # collected before it was kept
    with pytest.raises(ValueError, match="collected before its protocol was kept"):
        aggregate(results, "original_tasks")


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["config"].update(fast_lr=0.1), r"config\.fast_lr: 0\.5 vs 0\.1"),
    (lambda r: r["evaluation"].update(batch="episodes"), r"evaluation\.batch: 'samples' vs 'episodes'"),
    (lambda r: r.update(evaluated_checkpoint="best.pt"), r"result\.evaluated_checkpoint"),
    (lambda r: r.update(env_id="MetaCheetahDir-v0"), r"env_id: 'MetaNav2D-v0' vs 'MetaCheetahDir-v0'"),
    (lambda r: r["config"].update(seed=1), r"b\.json: training seed 1 appears twice"),
    (lambda r: r["evaluation"].update(task_set="original"), r"evaluation\.task_set: 'sampled' vs 'original'"),
])
def test_refuses_results_that_differ_in_more_than_the_seed(change, message):
    other = copy.deepcopy(_result(2, [-1.0, -2.0, -3.0]))
    change(other)
    with pytest.raises(ValueError, match=message):
        aggregate({"a.json": _result(1, [-1.0, -2.0, -3.0]), "b.json": other})
    with pytest.raises(ValueError, match="at least two"):
        aggregate({"a.json": _result(1, [-1.0, -2.0, -3.0])})


def test_cli_writes_the_aggregate_and_make_readme_lists_it(tmp_path, monkeypatch, capsys):
    paths = []
    for seed, curve in ((1, [-40.0, -12.0, -4.0]), (2, [-38.0, -14.0, -6.0])):
        paths.append(tmp_path / f"maml_x_seed{seed}.json")
        paths[-1].write_text(json.dumps(_result(seed, curve)))
    result = main([*map(str, paths), "--name", "seeds_x", "--out-dir", str(tmp_path)])
    assert json.loads((tmp_path / "seeds_x.json").read_text()) == json.loads(json.dumps(result))
    import benchmarks.make_readme as make_readme

    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    table = "\n".join(make_readme.seed_aggregate_tables())
    assert "over 2 training seeds (1, 2)" in table and "| **mean over seeds** | **-39.0** ± " in table
    assert "| paper (MAML) | -40.4 | -11.7 | -3.3 |" in table and "sample-budget batches" in table
    assert "20 tasks × 20 rollouts, rescale, hidden biases zeros, max KL 0.02" in table
    with pytest.raises(SystemExit):
        main([str(paths[0]), str(tmp_path / "missing.json"), "--name", "seeds_y", "--out-dir", str(tmp_path)])
    assert "result files not found" in capsys.readouterr().err
