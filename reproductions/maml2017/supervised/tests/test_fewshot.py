"""Few-shot MAML classification runs (reproductions/maml2017/supervised/fewshot.py): the run_fewshot CLI and the
Glyphs benchmark, run in-process with tiny budgets."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from agents.supervised import MAMLClassifier
from metarl.logger import read_csv
from metarl.supervised.data import EpisodeSampler, nearest_neighbour_accuracy
from reproductions.cli import flag_help
from reproductions.maml2017.supervised.fewshot import FewShotConfig, load_fewshot_data, paper_inner_loop

ROOT = Path(__file__).resolve().parents[4]
SCRIPTS = {
    "classification": "reproductions/maml2017/supervised/run_fewshot.py",
    "bench_glyphs": "reproductions/maml2017/supervised/bench_glyphs.py",
}
#: a tiny conv4 and few tasks: every run below trains and evaluates in about a second
TINY = ["--width", "4", "--meta-batch-size", "2", "--eval-tasks", "10", "--val-tasks", "5", "--log-every", "1",
        "--no-progress"]


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / SCRIPTS[name])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses defined by the script look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def glyphs_args(tmp_path_factory) -> list[str]:
    """A 60-class Glyphs subset (42 train / 6 val / 12 test classes) rendered once into a private cache."""
    return ["--glyphs-max-classes", "60", "--cache-dir", str(tmp_path_factory.mktemp("glyphs_cache"))]


def help_flags(name, capsys, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exit_info:
        script(name).main(["--help"])
    assert exit_info.value.code == 0
    return flag_help(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["classification", "bench_glyphs"])
def test_help_explains_every_option(name, capsys, monkeypatch):
    flags = help_flags(name, capsys, monkeypatch)
    assert len(flags) >= 10 and all(flags.values()), flags


def test_every_config_field_is_a_documented_flag(capsys, monkeypatch):
    flags = help_flags("classification", capsys, monkeypatch)
    for f in dataclasses.fields(FewShotConfig):
        assert len(flags[f"--{f.name.replace('_', '-')}"]) > 15, f.name


# ============================================================================ run_fewshot
def test_classification_digits_end_to_end_and_resume(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="the digits set is the optional extra metarl[digits]")
    main = script("classification").main
    run_dir = tmp_path / "digits"
    argv = ["--dataset", "digits", "--val-every", "0", "--run-dir", str(run_dir), *TINY]
    result = main([*argv, "--iterations", "3"])
    assert result["iterations"] == 3 and result["learner"]["pooling"] == "stride"  # 8x8 digits
    assert (result["learner"]["inner_steps"], result["learner"]["inner_lr"], result["learner"]["eval_steps"]) == \
        (1, 0.4, 3)
    final = result["test"]["final"]
    assert final["curve"]["steps"] == [0, 1, 2, 3] and final["n_tasks"] == 10
    assert 0.0 <= final["accuracy"] <= 1.0 and final["ci95"] > 0
    assert result["test"]["best_val"] is None and result["validation"] == []
    assert (run_dir / "result.png").stat().st_size > 0
    assert json.loads((run_dir / "result.json").read_text()) == result

    # the 1-NN baseline was measured on exactly the tasks drawn from eval_seed on the test classes
    cfg = FewShotConfig(dataset="digits", val_every=0)
    test_split = load_fewshot_data(cfg).splits["test"]
    batch = EpisodeSampler(test_split, 5, 1, cfg.eval_queries).sample(10, np.random.default_rng(cfg.eval_seed))
    assert result["nearest_neighbour"]["accuracy"] == pytest.approx(float(nearest_neighbour_accuracy(batch).mean()))

    # an existing run is never silently overwritten; --resume continues it to the new total
    with pytest.raises(FileExistsError, match="resume"):
        main([*argv, "--iterations", "3"])
    resumed = main([*argv, "--iterations", "5", "--resume"])
    assert resumed["iterations"] == 5
    assert read_csv(run_dir)["step"] == [0, 1, 2, 3, 4]  # every iteration logged once
    capsys.readouterr()
    again = main([*argv, "--iterations", "5", "--resume"])
    assert again == resumed and "finished earlier" in capsys.readouterr().out


def test_classification_glyphs_keeps_the_best_validation_model(tmp_path, glyphs_args):
    run_dir = tmp_path / "glyphs"
    result = script("classification").main([*glyphs_args, *TINY, "--iterations", "4", "--val-every", "2",
                                            "--run-dir", str(run_dir)])
    assert result["dataset"]["classes"] == {"train": 42, "val": 6, "test": 12}
    history = result["validation"]
    assert [h["iteration"] for h in history] == [2, 4]
    best = result["test"]["best_val"]
    expected = max(history, key=lambda h: (h["score"], -h["iteration"]))
    assert best["iteration"] == expected["iteration"] and best["val_accuracy"] == expected["score"]
    agent = MAMLClassifier.load(run_dir / "best.pt")  # best.pt is a full, loadable learner checkpoint
    assert agent.learner.iteration == best["iteration"]


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "omniglot"], "--root PATH"),
    (["--dataset", "digits"], "--val-every 0"),
    (["--val-seed", "1234"], "different from eval_seed"),
])
def test_bad_options_are_clear_errors(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        script("classification").main(argv)
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err


def test_omniglot_root_that_does_not_exist_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="images_background"):
        script("classification").main(["--dataset", "omniglot", "--root", str(tmp_path / "nowhere"),
                                       "--run-dir", str(tmp_path / "run"), *TINY])


# ======================================================================================= benchmark
def test_bench_glyphs_schema(tmp_path, glyphs_args):
    out = tmp_path / "glyphs.json"
    report = script("bench_glyphs").main([*glyphs_args, *TINY, "--iterations", "2", "--val-every", "0",
                                          "--run-dir", str(tmp_path / "runs"), "--out", str(out)])
    assert json.loads(out.read_text()) == report and out.with_suffix(".png").stat().st_size > 0
    assert set(report["settings"]) == {"5way_1shot", "5way_5shot"}
    for entry in report["settings"].values():
        assert set(entry["methods"]) == {"maml", "fomaml", "pixel_1nn"}
        assert entry["methods"]["maml"]["learner"]["first_order"] is False
        assert entry["methods"]["fomaml"]["learner"]["first_order"] is True
        for method in ("maml", "fomaml", "pixel_1nn"):
            e = entry["methods"][method]
            assert 0.0 <= e["accuracy"] <= 1.0 and e["ci95"] > 0 and e["n_tasks"] == 10
        assert entry["methods"]["maml"]["iterations"] == 2 and entry["methods"]["maml"]["train_seconds"] > 0
    assert report["wall_clock_seconds"]["this_invocation"] > 0


def test_bench_glyphs_update_adds_one_run_and_keeps_the_rest(tmp_path, glyphs_args):
    out = tmp_path / "glyphs.json"
    common = [*glyphs_args, *TINY, "--iterations", "2", "--val-every", "0", "--out", str(out)]
    bench = script("bench_glyphs")
    first = bench.main([*common, "--run-dir", str(tmp_path / "a"), "--methods", "maml"])
    assert set(first["settings"]["5way_5shot"]["methods"]) == {"maml", "pixel_1nn"}
    update = bench.main([*common, "--run-dir", str(tmp_path / "b"), "--settings", "5way_5shot",
                         "--methods", "fomaml", "--update"])
    assert list(update["settings"]) == ["5way_1shot", "5way_5shot"]
    assert list(update["settings"]["5way_5shot"]["methods"]) == ["maml", "fomaml", "pixel_1nn"]
    assert update["settings"]["5way_1shot"] == first["settings"]["5way_1shot"]  # kept as it was
    assert update["settings"]["5way_5shot"]["methods"]["maml"] == first["settings"]["5way_5shot"]["methods"]["maml"]
    assert sorted(update["wall_clock_seconds"]["kept_from_earlier_run"]) == ["5way_1shot/maml", "5way_5shot/maml"]
    assert not (tmp_path / "b" / "5way_1shot").exists()  # only the requested run was trained
    with pytest.raises(SystemExit, match="eval_seed"):  # one line naming the setting, no traceback
        bench.main([*common, "--run-dir", str(tmp_path / "c"), "--settings", "5way_5shot", "--methods", "fomaml",
                    "--update", "--eval-seed", "99"])


def test_paper_inner_loop_matches_app_a1():
    assert paper_inner_loop(5) == (1, 0.4, 3)
    assert paper_inner_loop(20) == (5, 0.1, 5)
    cfg = FewShotConfig(n_way=20, inner_lr=0.2)
    assert cfg.resolved_inner_loop == (5, 0.2, 5)
