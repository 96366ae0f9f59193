"""The supervised example scripts (examples/sinusoid.py, classification.py, meta_augmentation.py,
maltml_sinusoid.py) run in-process with tiny budgets, and the library's validation-based model selection
(:func:`agents.meta_augmentation.train_with_validation`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from agents.meta_augmentation import SwappedParams, train_with_validation
from agents.supervised import MAMLRegressor, MAMLRegressorConfig
from reproductions.cli import flag_help

ROOT = Path(__file__).resolve().parents[1]


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses defined by the script look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("name", ["sinusoid", "classification", "meta_augmentation", "maltml_sinusoid"])
def test_examples_are_short_and_explain_every_option(name, capsys, monkeypatch):
    assert len((ROOT / "examples" / f"{name}.py").read_text().splitlines()) <= 80
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exit_info:
        example(name).main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    flags = flag_help(out)
    assert len(flags) >= 4 and all(flags.values()), flags


def test_sinusoid_example(tmp_path, capsys):
    curves = example("sinusoid").main(["--iterations", "3", "--eval-steps", "2", "--eval-tasks", "8", "--tune-tasks", "4", "--save", str(tmp_path / "maml.pt")])
    assert set(curves) == {"maml", "pretrained"} and set(curves["maml"]) == {5, 10}
    assert len(curves["maml"][5]) == 3 and curves["maml"][5][0] == curves["maml"][10][0]  # same tasks at 0 steps
    assert MAMLRegressor.load(tmp_path / "maml.pt").learner.iteration == 3
    assert "K=10" in capsys.readouterr().out


def test_classification_example(tmp_path, capsys):
    result = example("classification").main(["--iterations", "2", "--eval-tasks", "6", "--width", "4",
                                              "--max-classes", "30", "--cache-dir", str(tmp_path)])
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["nearest_neighbour"] <= 1.0
    assert "after 3 steps" in capsys.readouterr().out  # App. A.1: 3 test-time steps for 5-way


def test_meta_augmentation_example(capsys):
    curves = example("meta_augmentation").main(["--iterations", "3", "--eval-tasks", "5"])
    assert set(curves) == {"MAML", "MAML + augmentation"} and all(len(c) == 11 for c in curves.values())
    assert curves["MAML"][0] != curves["MAML + augmentation"][0]  # trained on different targets


def test_maltml_sinusoid_example(tmp_path):
    curve = example("maltml_sinusoid").main(["--iterations", "2", "--eval-families", "3", "--variant", "first_order",
                                             "--save", str(tmp_path / "maltml.pt")])
    assert curve["n_families"] == 3 and len(curve["loss_mean"]) == 11
    assert json.dumps(curve)


# ============================================================================ validation-based model selection
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


def test_swapped_params_restores_the_learner():
    agent = _tiny_regressor()
    before = {k: v.detach().clone() for k, v in agent.params.items()}
    zeros = {k: torch.zeros_like(v) for k, v in before.items()}
    with SwappedParams(agent.learner, zeros) as learner:
        assert all(torch.count_nonzero(v) == 0 for v in learner.params.values())
    for name, value in agent.params.items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
