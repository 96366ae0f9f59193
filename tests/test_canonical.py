"""benchmarks/canonical.py: canonical results built from raw result files, numbers unchanged, CIs via metarl.stats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchmarks.canonical as canonical  # noqa: E402
from metarl.stats import summarize_curve  # noqa: E402

CURVES = {1: [-40.0, -12.0, -4.0, -3.0], 2: [-38.0, -14.0, -6.0, -5.0], 3: [-42.0, -10.0, -2.0, -1.0]}


def _run(seed: int, mean: list[float]) -> dict:
    evaluation = {"num_steps": 3, "step_sizes": [0.5, 0.25], "seed": 12345, "batch": "samples", "num_tasks": 40}
    return {
        "env_id": "MetaNav2D-v0", "steps": [0, 1, 2, 3], "mean": mean, "ci95": [1.0, 2.0, 3.0, 4.0],
        "iterations": 100, "evaluated_checkpoint": "last.pt", "train_wall_clock_seconds": 100.0 * seed,
        "checkpoint": f"checkpoints/x_seed{seed}.pt",
        "config": {"env_id": "MetaNav2D-v0", "fast_lr": 0.5, "seed": seed, "workers": seed},
        "evaluation": evaluation,
        "extra_evaluations": {"original_tasks": {"steps": [0, 1, 2, 3], "mean": [m - 1.0 for m in mean],
                                                 "ci95": [0.5] * 4, "evaluation": {**evaluation, "task_set": "original"}}},
    }


def _aggregate(curves: dict[int, list[float]]) -> dict:
    summary = summarize_curve(list(curves.values()))
    return {"mean": summary["mean"], "ci95_over_seeds": summary["ci95"]}


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    """A repository root holding three seeds' result files, their aggregates and the paper reference."""
    results = tmp_path / canonical.MAML2017
    results.mkdir(parents=True)
    for seed, curve in CURVES.items():
        (results / f"run_seed{seed}.json").write_text(json.dumps(_run(seed, curve)))
    (results / "seeds_run.json").write_text(json.dumps(_aggregate(CURVES)))
    shifted = {s: [m - 1.0 for m in c] for s, c in CURVES.items()}
    (results / "seeds_run_original_tasks.json").write_text(json.dumps(_aggregate(shifted)))
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / canonical.PAPER_FILE, tmp_path / canonical.PAPER_FILE)
    monkeypatch.setattr(canonical, "ROOT", tmp_path)  # not a git repository: commits are None
    return results


def _build() -> dict:
    return canonical._rl_seed_runs("run_seed{seed}.json", [1, 2, 3], "seeds_run", "original_tasks", "MetaNav2D-v0",
                                   "MAML-TRPO", "MetaNav2D-v0", ["a note"])


def test_seed_runs_give_the_t_interval_over_seeds_and_keep_every_seed_curve(tree):
    out = _build()
    canonical.validate("x", out)
    assert out["seeds"] == [1, 2, 3] and out["ci95_over"] == "seeds"
    assert out["per_seed"]["2"]["mean"] == CURVES[2] and out["per_seed"]["2"]["ci95_over"] == "tasks"
    assert out["mean"] == pytest.approx([-40.0, -12.0, -4.0, -3.0])
    # every column has sample std 2 over 3 seeds: half-width t_{0.975, 2} * 2 / sqrt(3)
    assert out["ci95"] == pytest.approx([stats.t.ppf(0.975, 2) * 2 / 3**0.5] * 4)
    assert out["curves"]["original_tasks"]["mean"] == pytest.approx([-41.0, -13.0, -5.0, -4.0])
    assert out["curves"]["original_tasks"]["per_seed"]["3"]["mean"] == [-43.0, -11.0, -3.0, -2.0]
    assert out["paper"]["mean"] == [-40.4, -11.7, -3.3, -3.2] and "paper_reference.json" in out["paper"]["source"]
    assert out["wall_time_seconds"] == {"total": 600.0, "per_seed": {"1": 100.0, "2": 200.0, "3": 300.0}}
    assert out["checkpoints"] == [f"checkpoints/x_seed{s}.pt" for s in (1, 2, 3)]
    assert "seed" not in out["config"]["training"] and "workers" not in out["config"]["training"]
    assert out["commit"] == {f"{canonical.MAML2017}/run_seed{s}.json": None for s in (1, 2, 3)}
    assert set(out["sources"]) >= {f"{canonical.MAML2017}/seeds_run.json"}


def test_a_stored_aggregate_that_disagrees_is_refused(tree):
    wrong = _aggregate(CURVES)
    wrong["ci95_over_seeds"][1] += 0.01
    (tree / "seeds_run.json").write_text(json.dumps(wrong))
    with pytest.raises(canonical.SourceMismatch, match="ci95_over_seeds"):
        _build()


def test_validate_names_a_missing_field_and_an_inconsistent_interval(tree):
    out = _build()
    with pytest.raises(ValueError, match="lacks commit"):
        canonical.validate("x", {k: v for k, v in out.items() if k != "commit"})
    with pytest.raises(ValueError, match="env_id or dataset"):
        canonical.validate("x", {k: v for k, v in out.items() if k != "env_id"})
    with pytest.raises(ValueError, match="3 seeds but the CI is over tasks"):
        canonical.validate("x", {**out, "ci95_over": "tasks"})
    with pytest.raises(ValueError, match="needs at least two seeds"):
        canonical.validate("x", {**out, "seeds": [1]})
    with pytest.raises(ValueError, match="differ in length"):
        canonical.validate("x", {**out, "mean": out["mean"][:3]})


def test_source_commit_skips_commits_that_only_moved_the_file(tmp_path, monkeypatch):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    result = {"mean": [float(i) for i in range(40)], "path": "old/place.json"}  # indented: one line of many changes
    (tmp_path / "r.json").write_text(json.dumps(result, indent=2) + "\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "result"], check=True)
    produced = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "moved").mkdir()
    subprocess.run([*git, "mv", "r.json", "moved/r.json"], check=True)
    text = (tmp_path / "moved" / "r.json").read_text().replace("old/place.json", "new/place.json")
    (tmp_path / "moved" / "r.json").write_text(text)
    subprocess.run([*git, "commit", "-qam", "move"], check=True)
    monkeypatch.setattr(canonical, "ROOT", tmp_path)
    assert canonical.source_commit("moved/r.json") == produced


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git history for the commit fields")
def test_committed_canonical_files_are_up_to_date():
    assert canonical.main(["--check"]) == 0
    for name in canonical.BUILDERS:
        result = json.loads((canonical.OUT / f"{name}.json").read_text())
        canonical.validate(name, result)
        assert (canonical.OUT / f"{name}.png").exists()
        assert all((ROOT / path).exists() for path in result["sources"])


def test_paper_ordering_is_checked_after_every_step_against_the_learners_present():
    def curve(*values):
        return {"steps": [0, 1, 2, 3], "mean": list(values)}

    methods = {"maml": curve(0, 10, 20, 30), "pretrained": curve(5, 9, 21, 5), "random": curve(-5, 0, 0, 0),
               "oracle": curve(25, 25, 25, 25)}
    assert canonical.paper_ordering(methods) == {"order": "oracle > maml > pretrained, random",
                                                 "holds_after_step": {"1": True, "2": False, "3": False}}
    del methods["oracle"], methods["pretrained"]
    assert canonical.paper_ordering(methods) == {"order": "maml > random",
                                                 "holds_after_step": {"1": True, "2": True, "3": True}}
