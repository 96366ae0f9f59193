"""The README's MAML-TRPO table states every training setting that differs between the committed runs."""

from __future__ import annotations

import json

import benchmarks.make_readme as make_readme


def _run(name: str, **config: object) -> dict:
    return {
        "benchmark": name, "env_id": "MetaCheetahDir-v0", "steps": [0, 1], "mean": [-50.0, 250.0],
        "ci95": [40.0, 60.0], "paper_maml": [-50.7, 293.2], "iterations": 100, "train_seconds": 3600.0,
        "config": {"fast_lr": 0.1, "meta_batch_size": 40, "fast_batch_size": 20, **config},
        "evaluation": {"step_sizes": [0.1, 0.05]},
    }


def test_rl_table_shows_non_default_trust_region_bias_init_and_env_kwargs(tmp_path, monkeypatch):
    (tmp_path / "maml_a.json").write_text(json.dumps(_run("maml_a")))  # an old config: no optional keys
    (tmp_path / "maml_b.json").write_text(json.dumps(_run(
        "maml_b", max_kl=0.02, hidden_bias_init="zeros", action_scaling="rescale", fast_batch_size=10,
        env_kwargs={"frame_skip": 1}, hvp="gn", fd_scheme="central", fvp_precision="bfloat16")))  # old gn: "central" stored
    (tmp_path / "maml_c.json").write_text(json.dumps(_run("maml_c", hvp="fd", fd_scheme="forward")))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    rows = {line.split("[")[-1].split("]")[0]: line for line in make_readme.rl_table() if "](benchmarks" in line}
    # a config without the key was written when fd products took central differences only; fd rows always name
    # their difference (the default changed to forward), gn rows never do
    assert ("α 0.1, 40 tasks × 20 rollouts, clip, hidden biases uniform, fd FVP (central differences), "
            "test steps 0.1 / 0.05" in rows["maml_a.json"])
    assert "hidden biases uniform, fd FVP (forward differences), test steps" in rows["maml_c.json"]
    assert "max KL" not in rows["maml_a.json"]  # the paper's 0.01 is not repeated on every row
    assert "env " not in rows["maml_a.json"]  # no env constructor arguments: nothing to state
    assert "bfloat16" not in rows["maml_a.json"]
    assert ("40 tasks × 10 rollouts, rescale, hidden biases zeros, max KL 0.02, gn FVP in bfloat16, env frame_skip=1, "
            "test steps" in rows["maml_b.json"])
    assert "| 60 min |" in rows["maml_b.json"]


def _comparison(env_kwargs: dict) -> dict:
    curve = {"mean": [-40.0, 10.0], "ci95": [20.0, 25.0], "step_sizes": [0.3]}
    return {
        "env_id": "MetaCheetahDir-v0", "tasks": [{}] * 40, "methods": {"random": curve},
        "config": {"evaluation": {"env_kwargs": env_kwargs}},
    }


def test_comparison_heading_states_env_kwargs(tmp_path, monkeypatch):
    (tmp_path / "compare_a.json").write_text(json.dumps(_comparison({})))
    (tmp_path / "compare_b.json").write_text(json.dumps(_comparison({"frame_skip": 1})))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    headings = [line for line in make_readme.comparison_tables() if line.startswith("### ")]
    assert headings[0].startswith("### MetaCheetahDir-v0: MAML vs")  # default env: no arguments to state
    assert headings[1].startswith("### MetaCheetahDir-v0, frame_skip=1: MAML vs"), headings[1]
    assert "| random | -40.0 ± 20.0 | 10.0 ± 25.0 | 0.3 |" in make_readme.comparison_tables()


def test_random_init_table_has_one_row_per_variant_and_the_paper(tmp_path, monkeypatch):
    def variant(env_kwargs: dict, mean: list[float]) -> dict:
        return {"env_kwargs": env_kwargs, "seeds": [{"seed": 0}, {"seed": 1}],
                "over_seeds": {"mean": mean, "ci95": [1.0, 2.0], "n_seeds": 2},
                "gain_over_seeds": {"mean": [0.0, mean[1] - mean[0]], "ci95": [0.0, 3.0], "n_seeds": 2}}

    report = {"env_id": "MetaCheetahDir-v0", "protocol": {"architecture": "2 x 100 ReLU, zero hidden biases"},
              "paper_random_init": [-35.7, 21.8],
              "variants": [variant({}, [-40.0, -10.0]), variant({"frame_skip": 1, "rllab_reset": True}, [-30.0, 5.0])]}
    (tmp_path / "random_init_x.json").write_text(json.dumps(report))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    lines = make_readme.random_init_tables()
    assert "mean over 2 initialisation seeds" in lines[0] and "random_init_x.json" in lines[0]
    assert "| defaults | -40.0 ± 1.0 | -10.0 ± 2.0 | 30.0 ± 3.0 |" in lines
    assert "| frame_skip=1, rllab_reset=True | -30.0 ± 1.0 | 5.0 ± 2.0 | 35.0 ± 3.0 |" in lines
    assert "| paper (random init) | -35.7 | 21.8 | 57.5 |" in lines


def test_speed_table_names_the_difference_scheme_of_fd_rows_only(tmp_path, monkeypatch):
    def row(hvp: str, fd_scheme: str | None, precision: str = "float32") -> dict:
        return {"hvp": hvp, "fd_scheme": fd_scheme, "fvp_precision": precision, "fvp_subsample": 1.0, "workers": 1,
                "sampling": 0.5, "inner_adaptation": 0.1, "meta_step": 1.0, "iteration": 1.6}

    (tmp_path / "maml_trpo_speed.json").write_text(json.dumps({
        "env_id": "MetaNav2D-v0", "config": "paper",
        # gn rows written before the fix carry the config's "central"; new ones carry None
        "results": [row("fd", "central"), row("fd", "forward"), row("gn", "central"), row("gn", None, "bfloat16")],
    }))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    labels = [line.split("|")[1].strip() for line in make_readme.speed_table() if line.startswith("| ")][1:]  # skip the header
    assert labels == ["fd (central)", "fd (forward)", "gn", "gn"], labels


def test_speed_tables_one_per_file_main_first_with_the_malloc_setting(tmp_path, monkeypatch):
    row = {"hvp": "fd", "fd_scheme": "central", "fvp_precision": "float32", "fvp_subsample": 1.0, "workers": 1,
           "sampling": 0.5, "inner_adaptation": 0.1, "meta_step": 1.0, "iteration": 1.6}
    files = {
        "maml_trpo_speed_cheetah_dir": ("MetaCheetahDir-v0", {"malloc_tuning": "applied"}),
        "maml_trpo_speed": ("MetaNav2D-v0", {"malloc_tuning": "applied"}),
        "maml_trpo_speed_no_malloc_tuning": ("MetaNav2D-v0", {"malloc_tuning": "disabled by METARL_MALLOC_TUNING=0"}),
        "maml_trpo_speed_old": ("MetaNav2D-v0", {}),
    }
    for name, (env_id, machine) in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"env_id": env_id, "config": "paper", "results": [row], "machine": machine}))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    headings = [line for line in make_readme.speed_table() if line.startswith("### ")]
    assert [h.split("`")[1] for h in headings] == [
        "maml_trpo_speed.json", "maml_trpo_speed_cheetah_dir.json", "maml_trpo_speed_no_malloc_tuning.json",
        "maml_trpo_speed_old.json"]
    assert headings[1].startswith("### MAML-TRPO seconds per meta-iteration (MetaCheetahDir-v0, paper;")
    assert headings[0].endswith("malloc tuning on)")
    assert headings[2].endswith("malloc tuning off (disabled by METARL_MALLOC_TUNING=0))")
    assert headings[3].endswith("malloc tuning off (measured before metarl.malloc_tuning))")


def test_direction_split_table_has_a_row_per_run_and_both_correlations(tmp_path, monkeypatch):
    def run(label: str, gap: float, fwd: list[float], bwd: list[float], mean: list[float]) -> dict:
        return {"label": label, "direction_gap_step0": gap, "forward": {"mean": fwd}, "backward": {"mean": bwd},
                "mean": mean}

    corr = {"pearson_r": -0.74, "pearson_p": 0.0145, "spearman_rho": -0.77, "spearman_p": 0.0092}
    (tmp_path / "cheetah_dir_direction_split.json").write_text(json.dumps({
        "env_id": "MetaCheetahDir-v0", "protocol": {"num_tasks": 40},
        "runs": [run("gn_seed4", 222.7, [-153.3, -32.9], [69.4, 202.5], [-42.0, 84.8])],
        "gap_vs_step1": {"num_runs": 1, "signed_gap": corr, "absolute_gap": None},
    }))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    lines = make_readme.direction_split_table()
    assert "| gn_seed4 | -153.3 / 69.4 | +222.7 | -32.9 / 202.5 | 84.8 |" in lines
    assert any("signed gap before adaptation over 1 runs: Spearman ρ -0.77 (p 0.009)" in line for line in lines)
    assert not any("|gap|" in line for line in lines)  # undefined correlations are not printed
    assert not any("in training" in line for line in lines)  # no training gaps measured: no column

    runs = [run("central_seed1", 180.0, [-134.9, 66.0], [45.1, 199.2], [-44.9, 132.6]),
            run("gn_seed2", -65.6, [-5.6, 396.6], [-71.2, 334.4], [-38.4, 365.5])]
    runs[0]["training_direction_gap"], runs[1]["training_direction_gap"] = 161.2, None  # gn_seed2: no log
    (tmp_path / "cheetah_dir_direction_split.json").write_text(json.dumps({
        "env_id": "MetaCheetahDir-v0", "protocol": {"num_tasks": 40}, "runs": runs,
        "gap_vs_step1": {"num_runs": 2, "signed_gap": None, "absolute_gap": None},
        "training_gap_vs_step1": {"iterations": [21, 30], "num_runs": 3, "signed_gap": corr, "absolute_gap": None},
        "groups": {"gn": {"runs": ["gn_seed1", "gn_seed2"], "mean": [-40.0, 200.0], "ci95": [2.0, 90.0],
                          "forward": [-50.0, 180.0], "backward": [-30.0, 220.0]}},
    }))
    lines = make_readme.direction_split_table()
    assert "| run | gap in training, iterations 21-30 | after 0: forward / backward |" in lines[2]
    assert "| central_seed1 | +161.2 | -134.9 / 45.1 | +180.0 |" in "\n".join(lines)
    assert "| gn_seed2 | – | -5.6 / -71.2 |" in "\n".join(lines)
    assert any("signed gap in training (iterations 21-30) over 3 runs" in line for line in lines)
    assert "| gn (2 seeds) | -40.0 ± 2.0 / 200.0 ± 90.0 | 180.0 / 220.0 |" in lines


def test_seed_overview_counts_seeds_reaching_the_paper_without_picking_one(tmp_path, monkeypatch):
    aggregate = {
        "env_id": "MetaNav2D-v0", "seeds": [1, 2, 3],
        "config": {"fast_lr": 0.5, "hvp": "gn", "batch": "samples", "env_kwargs": {}},
        "evaluation": {"step_sizes": [0.5, 0.25], "batch": "samples"},
        # seed 1 reaches the paper at every step, seed 2 after one step only, seed 3 nowhere
        "per_seed": {"1": [-38.0, -11.0, -3.0, -3.0], "2": [-38.0, -11.7, -4.0, -4.0], "3": [-40.0, -13.0, -5.0, -5.0]},
        "mean": [-38.7, -11.9, -4.0, -4.0], "ci95_over_seeds": [1.0, 1.0, 1.0, 1.0],
        "paper_maml": [-40.4, -11.7, -3.3, -3.2],
    }
    (tmp_path / "seeds_nav.json").write_text(json.dumps(aggregate))
    (tmp_path / "seeds_other.json").write_text(json.dumps({**aggregate, "paper_maml": None}))
    monkeypatch.setattr(make_readme, "RESULTS", tmp_path)
    rows = [line for line in make_readme.seed_overview_table() if "](benchmarks" in line]
    assert len(rows) == 2
    nav = rows[0]
    assert "| α 0.5, gn, sample-budget training, test steps 0.5 / 0.25, sample-budget batches | 3 |" in nav
    assert "| -38.7 / -11.9 / -4.0 / -4.0 | -13.0 – -11.0 | 2 / 1 of 3 | -40.4 / -11.7 / -3.3 / -3.2 |" in nav
    assert "| – | – | [seeds_other.json]" in rows[1]  # no paper curve: nothing to count
