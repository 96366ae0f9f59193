"""The few-shot / meta-augmentation example and benchmark scripts, run in-process with tiny budgets, and the shared
experiment code of :mod:`agents.meta_augmentation` (validation-based model selection, task wiring)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.meta_augmentation import (  # noqa: E402
    FewShotConfig,
    LabelSchemeStudyConfig,
    NMESinusoidConfig,
    load_fewshot_data,
    nme_task_source,
    paper_inner_loop,
    train_with_validation,
)
from agents.supervised import MAMLClassifier, MAMLRegressor, MAMLRegressorConfig  # noqa: E402
from metarl.cli_args import field_docstrings  # noqa: E402
from metarl.logger import read_csv  # noqa: E402
from metarl.supervised.augmentation import NMESinusoid  # noqa: E402
from metarl.supervised.data import EpisodeSampler, nearest_neighbour_accuracy  # noqa: E402

SCRIPTS = {
    "classification": "examples/classification.py",
    "meta_augmentation": "examples/meta_augmentation.py",
    "bench_glyphs": "benchmarks/bench_glyphs.py",
    "bench_meta_augmentation": "benchmarks/bench_meta_augmentation.py",
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


# ============================================================================================ --help
@pytest.mark.parametrize("name, argv", [
    ("classification", []), ("bench_glyphs", []), ("bench_meta_augmentation", []),
    ("meta_augmentation", ["sinusoid"]), ("meta_augmentation", ["labels"]),
])
def test_help_explains_every_option(name, argv, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exit_info:
        script(name).main([*argv, "--help"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    lines = lines[lines.index("options:"):]
    options = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("--"):
            options += 1
            # argparse puts the help on the same line (after two spaces) or on the next, indented line
            has_help = "  " in stripped or (i + 1 < len(lines) and lines[i + 1].startswith(" " * 10))
            assert has_help, f"{name} {argv}: {stripped} has no help"
    assert options >= 10


def test_meta_augmentation_help_lists_both_experiments(capsys):
    with pytest.raises(SystemExit):
        script("meta_augmentation").main(["--help"])
    out = capsys.readouterr().out
    assert "sinusoid" in out and "labels" in out


@pytest.mark.parametrize("cls", [FewShotConfig, NMESinusoidConfig, LabelSchemeStudyConfig])
def test_every_config_field_is_documented(cls):
    docs = field_docstrings(cls)
    assert {f.name for f in dataclasses.fields(cls)} == set(docs)
    assert all(len(text) > 15 for text in docs.values())


# ============================================================================ classification example
def test_classification_digits_end_to_end_and_resume(tmp_path, capsys):
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
def test_bad_options_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script("classification").main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_omniglot_root_that_does_not_exist_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="images_background"):
        script("classification").main(["--dataset", "omniglot", "--root", str(tmp_path / "nowhere"),
                                       "--run-dir", str(tmp_path / "run"), *TINY])


# ======================================================================================= benchmarks
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
    with pytest.raises(ValueError, match="eval_seed"):
        bench.main([*common, "--run-dir", str(tmp_path / "c"), "--settings", "5way_5shot", "--methods", "fomaml",
                    "--update", "--eval-seed", "99"])


def test_bench_meta_augmentation_schema(tmp_path, glyphs_args):
    out = tmp_path / "meta_augmentation.json"
    labels_args = [f"--labels-{a[2:]}" if a.startswith("--") and a != "--no-progress" else a
                   for a in [*glyphs_args, *TINY]]
    report = script("bench_meta_augmentation").main([
        "--run-dir", str(tmp_path / "runs"), "--out", str(out),
        "--sinusoid-seeds", "0", "1", "--sinusoid-iterations", "20", "--sinusoid-val-every", "10",
        "--sinusoid-eval-tasks", "10", "--sinusoid-val-tasks", "5", "--sinusoid-log-every", "5",
        *labels_args, "--labels-iterations", "2", "--labels-val-every", "1",
    ])
    assert json.loads(out.read_text()) == report and out.with_suffix(".png").stat().st_size > 0
    summary = report["sinusoid"]["summary"]
    assert set(summary) == {"pretrained", "maml", "maml_aug"}
    for entry in summary.values():
        for variant in ("final", "best_val"):
            assert entry[variant]["steps"] == list(range(11)) and len(entry[variant]["per_seed"]) == 2
    assert set(report["sinusoid_direction"]) == {"final", "best_val"}
    assert report["sinusoid_direction"]["final"]["n_seeds"] == 2
    # the pretrained baseline's step size is tuned (on validation tasks); MAML fine-tunes with its own alpha
    assert summary["maml"]["final"]["step_size"] == [0.01, 0.01]
    labels = report["labels"]
    assert set(labels["summary"]) == {"non_mutually_exclusive", "intrashuffle", "intershuffle"}
    assert labels["headline_variant"] == "best_val"
    assert set(report["labels_direction"]) == {"compared", "intershuffle_ge_intrashuffle",
                                               "intrashuffle_gt_non_mutually_exclusive"}
    runs = labels["runs"]
    # paired differences on the same test tasks: the mean equals the difference of the two accuracies
    pair = labels["paired"]["intershuffle_minus_intrashuffle"]
    inter, intra = (labels["summary"][s]["best_val"]["accuracy"] for s in ("intershuffle", "intrashuffle"))
    assert pair["ci_over"] == "tasks" and pair["mean"] == pytest.approx(inter - intra)
    assert len(runs["intershuffle"]["0"]["test"]["best_val"]["per_task_accuracy"]) == 10
    assert runs["non_mutually_exclusive"]["0"]["learner"]["label_scheme"].startswith("NonMutuallyExclusive")
    assert runs["intrashuffle"]["0"]["learner"]["label_scheme"].startswith("IntraShuffle")


def test_bench_meta_augmentation_update_runs_one_part_and_keeps_the_other(tmp_path, glyphs_args):
    out = tmp_path / "meta_augmentation.json"
    labels_args = [f"--labels-{a[2:]}" if a.startswith("--") and a != "--no-progress" else a
                   for a in [*glyphs_args, *TINY]]
    bench = script("bench_meta_augmentation")
    sinusoid_args = ["--sinusoid-seeds", "0", "--sinusoid-iterations", "4", "--sinusoid-val-every", "2",
                     "--sinusoid-eval-tasks", "5", "--sinusoid-val-tasks", "3", "--sinusoid-log-every", "2"]
    first = bench.main(["--run-dir", str(tmp_path / "a"), "--out", str(out), "--parts", "sinusoid", *sinusoid_args])
    assert "labels" not in first
    second = bench.main(["--run-dir", str(tmp_path / "b"), "--out", str(out), "--parts", "labels", "--update",
                         *labels_args, "--labels-iterations", "2", "--labels-val-every", "1",
                         "--labels-schemes", "intrashuffle"])
    assert second["sinusoid"] == first["sinusoid"] and second["sinusoid_direction"] == first["sinusoid_direction"]
    assert set(second["labels"]["summary"]) == {"intrashuffle"}
    seconds = second["wall_clock_seconds"]
    assert seconds["kept_from_earlier_run"] == ["sinusoid"]
    assert seconds["sinusoid"] == first["wall_clock_seconds"]["sinusoid"] and "labels" in seconds
    # without --update the other part is not carried over
    third = bench.main(["--run-dir", str(tmp_path / "b"), "--out", str(out), "--parts", "labels",
                        *labels_args, "--labels-iterations", "2", "--labels-val-every", "1",
                        "--labels-schemes", "intrashuffle"])
    assert "sinusoid" not in third


def test_meta_augmentation_example_runs_both_experiments(tmp_path):
    main = script("meta_augmentation").main
    nme = main(["sinusoid", "--run-dir", str(tmp_path), "--seeds", "3", "--methods", "maml", "maml_aug",
                "--iterations", "10", "--val-every", "0", "--eval-tasks", "5", "--log-every", "5", "--no-progress"])
    assert set(nme["summary"]) == {"maml", "maml_aug"} and nme["summary"]["maml"]["best_val"] is None
    assert (tmp_path / "nme_sinusoid.json").exists() and (tmp_path / "nme_sinusoid.png").exists()
    study = main(["labels", "--run-dir", str(tmp_path), "--dataset", "digits", "--val-every", "0",
                  "--schemes", "non_mutually_exclusive", "intershuffle", "--iterations", "2", *TINY])
    assert set(study["summary"]) == {"non_mutually_exclusive", "intershuffle"} and study["order"] is None
    assert (tmp_path / "label_schemes.png").exists()


# ================================================================================ shared experiment code
def test_paper_inner_loop_matches_app_a1():
    assert paper_inner_loop(5) == (1, 0.4, 3)
    assert paper_inner_loop(20) == (5, 0.1, 5)
    cfg = FewShotConfig(n_way=20, inner_lr=0.2)
    assert cfg.resolved_inner_loop == (5, 0.2, 5)


def test_nme_augmentation_adds_one_offset_per_task_to_support_and_query():
    tasks = NMESinusoid(seed=0)
    cfg = NMESinusoidConfig(meta_batch_size=8)
    offsets = {}
    for method in ("maml", "maml_aug"):
        batch = nme_task_source(method, tasks, cfg)(np.random.default_rng(0))
        x = torch.cat([batch.support_x, batch.query_x], dim=1)[..., 0].numpy()
        y = torch.cat([batch.support_y, batch.query_y], dim=1)[..., 0].numpy()
        by_start = {tasks.interval(i)[0]: i for i in range(tasks.n_tasks)}
        task_ids = [by_start[float(np.floor(x[t, 0] * 2) / 2)] for t in range(x.shape[0])]  # width-0.5 intervals
        assert set(task_ids) <= set(NMESinusoid.split_tasks("train"))
        truth = np.stack([tasks.function(i, x[t]) for t, i in enumerate(task_ids)])
        residual = y - truth
        np.testing.assert_allclose(residual, residual[:, :1].repeat(residual.shape[1], 1), atol=1e-5)
        offsets[method] = residual[:, 0]
    assert np.abs(offsets["maml"]).max() < 1e-5
    assert np.abs(offsets["maml_aug"]).max() <= 1.0 and offsets["maml_aug"].std() > 0.1


def _tiny_regressor() -> MAMLRegressor:
    return MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(8,), meta_batch_size=2, k_shot=3, k_query=3))


def test_train_with_validation_keeps_the_best_and_resumes_without_revalidating(tmp_path):
    scores = iter([0.3, 0.9, 0.5])
    snapshots = {}
    agent = _tiny_regressor()
    source = agent.task_source()

    def validate() -> float:
        snapshots[agent.learner.iteration] = {k: v.detach().clone() for k, v in agent.params.items()}
        return next(scores)

    out = train_with_validation(agent.learner, source, 6, validate=validate, val_every=2, run_dir=tmp_path,
                                progress_bar=False, log=lambda _: None)
    assert [h["iteration"] for h in out.history] == [2, 4, 6]
    assert out.best_iteration == 4 and out.best_score == 0.9
    for name, value in out.best_params.items():
        torch.testing.assert_close(value, snapshots[4][name])
    assert not torch.equal(out.best_params[next(iter(out.best_params))], agent.params[next(iter(agent.params))])

    # a resumed run to 8 iterations validates only the new segment and keeps the earlier best
    calls = []
    again = _tiny_regressor()
    out2 = train_with_validation(again.learner, again.task_source(), 8, validate=lambda: calls.append(1) or 0.1,
                                 val_every=2, run_dir=tmp_path, resume=True, progress_bar=False, log=lambda _: None)
    assert len(calls) == 1 and out2.iterations == 8
    assert out2.best_iteration == 4 and [h["iteration"] for h in out2.history] == [2, 4, 6, 8]
    for name, value in out2.best_params.items():
        torch.testing.assert_close(value, snapshots[4][name])

    # minimisation picks the lowest score
    low = train_with_validation(_tiny_regressor().learner, source, 4, validate=iter([2.0, 1.0]).__next__,
                                val_every=2, mode="min", progress_bar=False, log=lambda _: None)
    assert low.best_iteration == 4 and low.best_score == 1.0
