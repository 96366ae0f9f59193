"""benchmarks/make_docs.py: docs/results.md and the headline tables, every number read from the result files."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchmarks.make_docs as make_docs  # noqa: E402


def _canonical(**changes) -> dict:
    out = {
        "canonical": "maml_trpo_nav2d", "algorithm": "MAML-TRPO", "benchmark": "MetaNav2D-v0", "env_id": "MetaNav2D-v0",
        "metric": "return", "config": {}, "seeds": [1, 2],
        "per_seed": {"1": {"steps": [0, 1, 2, 3], "mean": [-40.0, -12.0, -4.0, -3.0], "ci95": [5.0, 2.0, 1.0, 0.5],
                           "ci95_over": "tasks"},
                     "2": {"steps": [0, 1, 2, 3], "mean": [-38.0, -10.0, -2.0, -1.0], "ci95": [5.0, 2.0, 1.0, 0.5],
                           "ci95_over": "tasks"}},
        "steps": [0, 1, 2, 3], "mean": [-39.0, -11.0, -3.0, -2.0], "ci95": [12.7, 12.7, 12.7, 12.7],
        "ci95_over": "seeds", "curves": {},
        "paper": {"steps": [0, 1, 2, 3], "mean": [-40.4, -11.7, -3.3, -3.2], "source": "paper_reference.json"},
        "commit": {}, "wall_time_seconds": {"total": 1200.0}, "checkpoints": ["checkpoints/a.pt"],
        "sources": [], "notes": ["a note"],
    }
    return {**out, **changes}


def _write(tmp_path: Path, monkeypatch, **files: dict) -> None:
    for name, data in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    monkeypatch.setattr(make_docs, "RESULTS", tmp_path)


def test_headline_row_is_the_mean_over_seeds_against_the_paper(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, maml_trpo_nav2d=_canonical())
    rows = make_docs.headline_rows(make_docs.canonical(), "")
    assert rows[2] == ("| MAML-TRPO | MetaNav2D-v0 | return, 0 / 1 / 2 / 3 | -40.4 / -11.7 / -3.3 / -3.2 "
                       "| -39.0 / -11.0 / -3.0 / -2.0 | 2 | [maml_trpo_nav2d.json](benchmarks/results/maml_trpo_nav2d.json) |")
    assert len(rows) == 3  # header, rule, one row: files that are not canonical are not listed


def test_comparison_table_gives_each_learner_ours_and_the_papers_value_after_the_last_step(tmp_path, monkeypatch):
    curve = {"steps": [0, 1, 2, 3], "ci95": [1.0] * 4, "ci95_over": "tasks"}
    comparison = _canonical(
        canonical="comparison_cheetah_dir", benchmark="MetaCheetahDir-v0", seeds=[1],
        methods={"maml": {**curve, "mean": [1.0, 2.0, 3.0, 4.0]}, "random": {**curve, "mean": [5.0, 6.0, 7.0, 8.0]},
                 "oracle": {**curve, "mean": [9.0] * 4}},
        paper={"steps": [0, 1, 2, 3], "methods": {"maml": [0.1, 0.2, 0.3, 0.4], "random_init": [0.5, 0.6, 0.7, 0.8],
                                                  "oracle": 442.7}, "source": "s"})
    _write(tmp_path, monkeypatch, comparison_cheetah_dir=comparison)
    rows = make_docs.headline_rows(make_docs.canonical(), "")
    assert len(rows) == 8  # an empty headline table (no other file), the sentence, the comparison table
    assert rows[-1] == ("| MetaCheetahDir-v0 | 3 | 4.0 (0.4) | – | 8.0 (0.8) | 9.0 (442.7) | – | – "
                        "| [comparison_cheetah_dir.json](benchmarks/results/comparison_cheetah_dir.json) |")
    comparison["ordering"] = {"order": "oracle > maml > random", "holds_after_step": {"1": True, "2": False, "3": True}}
    _write(tmp_path, monkeypatch, comparison_cheetah_dir=comparison)
    assert "| oracle > MAML > random: yes / no / yes |" in make_docs.headline_rows(make_docs.canonical(), "")[-1]
    assert rows[-3].startswith("| benchmark | return after step | MAML-TRPO | pretrained | random init |")


def test_result_table_lists_every_seed_and_the_interval_over_seeds(tmp_path, monkeypatch):
    lines = make_docs.result_table("maml_trpo_nav2d", _canonical())
    text = "\n".join(lines)
    assert "mean ± 95% CI over seeds; 2 training seed(s) (1, 2)" in text
    assert "| **ours** (2 seeds) | -39.0 ± 12.7 | -11.0 ± 12.7 | -3.0 ± 12.7 | -2.0 ± 12.7 |" in lines
    assert "| seed 2 | -38.0 ± 5.0 | -10.0 ± 2.0 | -2.0 ± 1.0 | -1.0 ± 0.5 |" in lines
    assert "| paper | -40.4 | -11.7 | -3.3 | -3.2 |" in lines
    assert "- a note" in lines and "20 min in total" in text
    one_seed = _canonical(seeds=[1], ci95_over="tasks", ci95=[math.nan] * 4)
    assert "| **ours** (1 seed) | -39.0 | -11.0 | -3.0 | -2.0 |" in make_docs.result_table("maml_trpo_nav2d", one_seed)


def test_seed_overview_counts_seeds_that_reach_the_paper(tmp_path):
    aggregate = {"env_id": "MetaNav2D-v0", "iterations": 100,
                 "config": {"fast_lr": 0.5, "hvp": "fd", "fd_scheme": "central", "batch": "samples"},
                 "evaluation": {"step_sizes": [0.5, 0.25], "batch": "samples", "task_set": "original"},
                 "per_seed": {"1": [-40.0, -11.0, -3.0, -3.0], "2": [-40.0, -12.0, -3.0, -3.0]},
                 "mean": [-40.0, -11.5, -3.0, -3.0], "paper_maml": [-40.4, -11.7, -3.3, -3.2]}
    (tmp_path / "seeds_x.json").write_text(json.dumps(aggregate))
    (tmp_path / "maml_x.json").write_text("{}")  # not an aggregate: not listed
    rows = make_docs.seed_overview_rows(tmp_path)
    assert len(rows) == 3
    assert "| -11.0 – -12.0 |" not in rows[2] and "| -12.0 – -11.0 |" in rows[2]
    assert "| 1 / 1 of 2 |" in rows[2]  # seed 2 is below the paper after one step
    assert "sample-budget training" in rows[2] and "the original code's held-out tasks" in rows[2]


def test_only_the_marked_block_is_rewritten_and_a_missing_block_is_an_error(tmp_path):
    text = f"intro\n{make_docs.START}\nold\n{make_docs.END}\noutro\n"
    assert make_docs.with_headline(text, ["new"], tmp_path) == f"intro\n{make_docs.START}\nnew\n{make_docs.END}\noutro\n"
    with pytest.raises(ValueError, match="has no"):
        make_docs.with_headline("no markers", ["new"], tmp_path / "README.md")


def test_generated_files_are_up_to_date_and_readme_is_short():
    assert make_docs.main(["--check"]) == 0
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
