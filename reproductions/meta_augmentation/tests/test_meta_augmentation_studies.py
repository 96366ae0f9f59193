"""The meta-augmentation studies (reproductions/meta_augmentation): the NME-sinusoid and label-scheme runners and
the benchmark script, in-process with tiny budgets."""

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

from metarl.supervised.augmentation import NMESinusoid
from reproductions.cli import flag_help
from reproductions.maml2017.supervised.fewshot import FewShotConfig
from reproductions.meta_augmentation.label_schemes import LabelSchemeStudyConfig, run_label_schemes
from reproductions.meta_augmentation.nme_sinusoid import NMESinusoidConfig, nme_task_source, run_nme_sinusoid

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = {"bench_meta_augmentation": "reproductions/meta_augmentation/bench_meta_augmentation.py"}
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


def test_help_explains_every_option(capsys, monkeypatch):
    flags = help_flags("bench_meta_augmentation", capsys, monkeypatch)
    assert len(flags) >= 10 and all(flags.values()), flags


@pytest.mark.parametrize("cls, prefix", [(NMESinusoidConfig, "sinusoid"), (LabelSchemeStudyConfig, "labels")])
def test_every_config_field_is_a_documented_flag(cls, prefix, capsys, monkeypatch):
    flags = help_flags("bench_meta_augmentation", capsys, monkeypatch)
    for f in dataclasses.fields(cls):
        assert len(flags[f"--{prefix}.{f.name.replace('_', '-')}"]) > 15, f.name


# ======================================================================================= benchmark
def test_bench_meta_augmentation_schema(tmp_path, glyphs_args):
    out = tmp_path / "meta_augmentation.json"
    labels_args = [f"--labels.{a[2:]}" if a.startswith("--") and a != "--no-progress" else a
                   for a in [*glyphs_args, *TINY]]
    report = script("bench_meta_augmentation").main([
        "--run-dir", str(tmp_path / "runs"), "--out", str(out),
        "--sinusoid.seeds", "0", "1", "--sinusoid.iterations", "20", "--sinusoid.val-every", "10",
        "--sinusoid.eval-tasks", "10", "--sinusoid.val-tasks", "5", "--sinusoid.log-every", "5",
        *labels_args, "--labels.iterations", "2", "--labels.val-every", "1",
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
    labels_args = [f"--labels.{a[2:]}" if a.startswith("--") and a != "--no-progress" else a
                   for a in [*glyphs_args, *TINY]]
    bench = script("bench_meta_augmentation")
    sinusoid_args = ["--sinusoid.seeds", "0", "--sinusoid.iterations", "4", "--sinusoid.val-every", "2",
                     "--sinusoid.eval-tasks", "5", "--sinusoid.val-tasks", "3", "--sinusoid.log-every", "2"]
    first = bench.main(["--run-dir", str(tmp_path / "a"), "--out", str(out), "--parts", "sinusoid", *sinusoid_args])
    assert "labels" not in first
    second = bench.main(["--run-dir", str(tmp_path / "b"), "--out", str(out), "--parts", "labels", "--update",
                         *labels_args, "--labels.iterations", "2", "--labels.val-every", "1",
                         "--labels.schemes", "intrashuffle"])
    assert second["sinusoid"] == first["sinusoid"] and second["sinusoid_direction"] == first["sinusoid_direction"]
    assert set(second["labels"]["summary"]) == {"intrashuffle"}
    seconds = second["wall_clock_seconds"]
    assert seconds["kept_from_earlier_run"] == ["sinusoid"]
    assert seconds["sinusoid"] == first["wall_clock_seconds"]["sinusoid"] and "labels" in seconds
    # without --update the other part is not carried over
    third = bench.main(["--run-dir", str(tmp_path / "b"), "--out", str(out), "--parts", "labels",
                        *labels_args, "--labels.iterations", "2", "--labels.val-every", "1",
                        "--labels.schemes", "intrashuffle"])
    assert "sinusoid" not in third


def test_runners_without_validation_and_on_digits(tmp_path):
    pytest.importorskip("sklearn", reason="the digits set is the optional extra metarl[digits]")
    nme = run_nme_sinusoid(NMESinusoidConfig(seeds=(3,), methods=("maml", "maml_aug"), iterations=10, val_every=0,
                                             eval_tasks=5, log_every=5),
                           tmp_path / "nme", progress_bar=False, log=lambda _: None)
    assert set(nme["summary"]) == {"maml", "maml_aug"} and nme["summary"]["maml"]["best_val"] is None
    assert set(nme["paired"]) == {"final"}
    base = FewShotConfig(dataset="digits", val_every=0, iterations=2, width=4, meta_batch_size=2, eval_tasks=10,
                         val_tasks=5, log_every=1)
    study = run_label_schemes(LabelSchemeStudyConfig(schemes=("non_mutually_exclusive", "intershuffle")), base,
                              tmp_path / "labels", progress_bar=False, log=lambda _: None)
    assert set(study["summary"]) == {"non_mutually_exclusive", "intershuffle"} and study["order"] is None
    assert study["headline_variant"] == "final"


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
