"""Supervised MAML: sinusoid tasks, the batched meta-learner, the adapters and baselines, the example script."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from agents.supervised import (
    MAMLClassifier,
    MAMLClassifierConfig,
    MAMLRegressor,
    MAMLRegressorConfig,
    OracleRegressor,
    PretrainedRegressor,
    conv4,
    mlp,
)
from metarl.logger import read_csv
from metarl.supervised import (
    MetaLearnerConfig,
    SinusoidTasks,
    SupervisedMetaLearner,
    TaskBatch,
    accuracy_task_metric,
    cross_entropy_task_loss,
    mse_task_loss,
    tune_step_size,
    with_task_inputs,
)
from reproductions.cli import flag_help

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def tiny_learner(batching: str = "vmap", dtype=torch.float64, **config) -> SupervisedMetaLearner:
    model = mlp(1, (6, 5), 1, seed=3).to(dtype)
    return SupervisedMetaLearner(model, mse_task_loss, MetaLearnerConfig(batching=batching, **config))


def sinusoid_batch(n=4, k=5, q=6, seed=0, dtype=torch.float64) -> TaskBatch:
    return SinusoidTasks(dtype=dtype).sample(n, k, q, rng(seed))


def bn_conv_net(n_way: int = 3) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4, track_running_stats=False), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, n_way),
        ).double()


def classification_batch(n=3, n_way=3, shots=2, queries=2, size=6, seed=0, dtype=torch.float64) -> TaskBatch:
    g = torch.Generator().manual_seed(seed)
    k, q = n_way * shots, n_way * queries
    labels_s = torch.arange(n_way).repeat_interleave(shots).expand(n, k).clone()
    labels_q = torch.arange(n_way).repeat_interleave(queries).expand(n, q).clone()
    prototypes = torch.randn(n, n_way, 1, size, size, generator=g, dtype=dtype)

    def images(labels: torch.Tensor) -> torch.Tensor:
        base = torch.stack([prototypes[i, labels[i]] for i in range(n)])
        return base + 0.3 * torch.randn(base.shape, generator=g, dtype=dtype)

    return TaskBatch(images(labels_s), labels_s, images(labels_q), labels_q)


# ============================================================================================ tasks
class TestSinusoidTasks:
    def test_shapes_dtype_and_support_of_the_distribution(self):
        tasks = SinusoidTasks()
        batch, params = tasks.sample_with_params(50, 10, 7, rng(1))
        assert tuple(batch.support_x.shape) == (50, 10, 1) and tuple(batch.query_y.shape) == (50, 7, 1)
        assert batch.support_x.dtype == torch.float32
        assert batch.validate() is batch and (batch.n_tasks, batch.k_support, batch.k_query) == (50, 10, 7)
        assert np.all((0.1 <= params.amplitude) & (params.amplitude <= 5.0))
        assert np.all((0.0 <= params.phase) & (params.phase <= math.pi))
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        assert x.min() >= -5.0 and x.max() <= 5.0
        # y = A sin(x - phase), per task
        expected = params.amplitude[:, None] * np.sin(batch.support_x[..., 0].double().numpy() - params.phase[:, None])
        np.testing.assert_allclose(batch.support_y[..., 0].numpy(), expected, rtol=1e-5, atol=1e-5)

    def test_seeding(self):
        tasks = SinusoidTasks()
        a, b, c = (tasks.sample(5, 3, 4, rng(s)) for s in (7, 7, 8))
        assert all(torch.equal(u, v) for u, v in zip(a, b))
        assert not torch.equal(a.support_x, c.support_x)
        # sample == sample_with_params(...)[0] for the same generator state
        d, _ = tasks.sample_with_params(5, 3, 4, rng(7))
        assert all(torch.equal(u, v) for u, v in zip(a, d))

    def test_global_rng_is_not_used(self):
        np.random.seed(0)
        state = np.random.get_state()[1].copy()
        SinusoidTasks().sample(3, 2, 2, rng(0))
        SinusoidTasks().evaluation_set(4, 3, 5, seed=1)
        assert np.array_equal(np.random.get_state()[1], state)

    def test_evaluation_set_is_fixed_and_support_sets_are_nested(self):
        tasks = SinusoidTasks()
        ev = tasks.evaluation_set(30, max_k_support=20, k_query=100, seed=5)
        again = tasks.evaluation_set(30, max_k_support=20, k_query=100, seed=5)
        assert np.array_equal(ev.support_x, again.support_x) and np.array_equal(ev.params.phase, again.params.phase)
        b5, b20 = ev.batch(5), ev.batch(20)
        assert torch.equal(b5.support_x, b20.support_x[:, :5]) and torch.equal(b5.query_x, b20.query_x)
        assert b5.k_query == 100 and ev.n_tasks == 30
        # the tasks do not depend on how many support points were drawn
        small = tasks.evaluation_set(30, max_k_support=5, k_query=100, seed=5)
        assert np.array_equal(small.params.amplitude, ev.params.amplitude)
        assert torch.equal(small.batch(5).support_x, b5.support_x)
        other = tasks.evaluation_set(30, 20, 100, seed=6)
        assert not np.array_equal(other.params.amplitude, ev.params.amplitude)

    def test_task_inputs_for_the_oracle(self):
        batch, params = SinusoidTasks().sample_with_params(3, 4, 2, rng(0))
        wide = with_task_inputs(batch, params)
        assert tuple(wide.support_x.shape) == (3, 4, 3)
        np.testing.assert_allclose(wide.query_x[:, 0, 1:].numpy(), params.as_array(), rtol=1e-6)
        assert torch.equal(wide.support_y, batch.support_y)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"amplitude": (5.0, 0.1)}, "amplitude"),
            ({"amplitude": (0.0, 1.0)}, "amplitude"),
            ({"phase": (0.0, float("inf"))}, "phase"),
            ({"x_range": (1.0, 1.0)}, "x_range"),
            ({"dtype": torch.int64}, "dtype"),
        ],
    )
    def test_bad_distribution_parameters(self, kwargs, message):
        with pytest.raises((ValueError, TypeError), match=message):
            SinusoidTasks(**kwargs)

    def test_bad_sampling_arguments(self):
        tasks = SinusoidTasks()
        with pytest.raises(ValueError, match="k_support must be >= 1"):
            tasks.sample(3, 0, 2, rng())
        with pytest.raises(TypeError, match="n_tasks must be an int"):
            tasks.sample(2.5, 3, 2, rng())
        with pytest.raises(TypeError, match="numpy.random.Generator"):
            tasks.sample(3, 2, 2, np.random)  # the global RNG module is refused
        ev = tasks.evaluation_set(4, max_k_support=10, k_query=5)
        with pytest.raises(ValueError, match="k_support=20 exceeds the 10 support points"):
            ev.batch(20)


class TestTaskBatchValidation:
    def test_mismatched_shapes_are_named(self):
        b = sinusoid_batch()
        with pytest.raises(ValueError, match="number of tasks"):
            TaskBatch(b.support_x, b.support_y, b.query_x[:2], b.query_y[:2]).validate()
        with pytest.raises(ValueError, match="support_y has 4"):
            TaskBatch(b.support_x, b.support_y[:, :4], b.query_x, b.query_y).validate()
        with pytest.raises(ValueError, match="example shapes"):
            TaskBatch(b.support_x, b.support_y, b.query_x.expand(-1, -1, 2), b.query_y).validate()
        with pytest.raises(ValueError, match=r"\[N, K, \.\.\.\]"):
            TaskBatch(b.support_x[0, :, 0], b.support_y, b.query_x, b.query_y).validate()
        with pytest.raises(TypeError, match="query_y must be a torch.Tensor"):
            TaskBatch(b.support_x, b.support_y, b.query_x, b.query_y.numpy()).validate()

    def test_learner_refuses_a_bad_batch(self):
        learner = tiny_learner()
        b = sinusoid_batch()
        with pytest.raises(ValueError, match="support_y"):
            learner.step(TaskBatch(b.support_x, b.support_y[:, :2], b.query_x, b.query_y))
        with pytest.raises(ValueError, match="differ in shape"):
            # a consistent batch whose targets do not fit the model's output
            learner.step(TaskBatch(b.support_x, b.support_y.expand(-1, -1, 2), b.query_x, b.query_y.expand(-1, -1, 2)))


# ========================================================================================= learner
class TestMetaGradient:
    def test_second_order_meta_gradient_matches_finite_differences(self):
        learner = tiny_learner(inner_steps=2, inner_lr=0.3)
        batch = sinusoid_batch(n=3, k=4, q=5, seed=2)
        learner.meta_loss(batch).loss.backward()
        analytic = {k: p.grad.clone() for k, p in learner.params.items()}
        g = torch.Generator().manual_seed(0)
        eps = 1e-6
        for _ in range(3):
            direction = {k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in learner.params.items()}
            values = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for k, p in learner.params.items():
                        p.add_(sign * eps * direction[k])
                values.append(float(learner.meta_loss(batch).loss.detach()))
                with torch.no_grad():
                    for k, p in learner.params.items():
                        p.sub_(sign * eps * direction[k])
            numeric = (values[0] - values[1]) / (2 * eps)
            exact = sum(float((analytic[k] * direction[k]).sum()) for k in analytic)
            assert numeric == pytest.approx(exact, rel=1e-5, abs=1e-8)

        # the check has teeth: the first-order gradient differs from the finite differences
        first = tiny_learner(inner_steps=2, inner_lr=0.3, first_order=True)
        first.meta_loss(batch).loss.backward()
        gap = sum(float((first.params[k].grad - analytic[k]).norm()) for k in analytic)
        assert gap > 1e-3 * sum(float(v.norm()) for v in analytic.values())

    def test_first_order_gradient_is_the_query_gradient_at_the_adapted_parameters(self):
        learner = tiny_learner(inner_steps=1, inner_lr=0.2, first_order=True)
        batch = sinusoid_batch(n=2, k=3, q=4, seed=4)
        learner.meta_loss(batch).loss.backward()
        expected = {k: torch.zeros_like(p) for k, p in learner.params.items()}
        for i in range(batch.n_tasks):
            theta = {k: p.detach().clone().requires_grad_() for k, p in learner.params.items()}
            support = mse_task_loss(torch.func.functional_call(learner.model, theta, (batch.support_x[i],))[None],
                                    batch.support_y[i : i + 1]).sum()
            grads = torch.autograd.grad(support, list(theta.values()))
            adapted = {k: (v - 0.2 * g).detach().requires_grad_() for (k, v), g in zip(theta.items(), grads)}
            query = mse_task_loss(torch.func.functional_call(learner.model, adapted, (batch.query_x[i],))[None],
                                  batch.query_y[i : i + 1]).sum() / batch.n_tasks
            for k, g in zip(adapted, torch.autograd.grad(query, list(adapted.values()))):
                expected[k] += g
        for k, p in learner.params.items():
            torch.testing.assert_close(p.grad, expected[k])


class TestBatchedEqualsLoop:
    @pytest.mark.parametrize("first_order", [False, True])
    def test_regression(self, first_order):
        batch = sinusoid_batch(n=5, k=4, q=3, seed=1)
        out = {}
        for batching in ("vmap", "loop"):
            learner = tiny_learner(batching, inner_steps=2, inner_lr=0.1, first_order=first_order)
            result = learner.meta_loss(batch)
            result.loss.backward()
            out[batching] = (result.task_losses.detach(), {k: p.grad for k, p in learner.params.items()})
        torch.testing.assert_close(out["vmap"][0], out["loop"][0], rtol=1e-10, atol=1e-12)
        for k in out["vmap"][1]:
            torch.testing.assert_close(out["vmap"][1][k], out["loop"][1][k], rtol=1e-9, atol=1e-12)

    def test_batchnorm_classifier_values_and_meta_gradients(self):
        batch = classification_batch()
        out = {}
        for batching in ("vmap", "loop"):
            learner = SupervisedMetaLearner(bn_conv_net(), cross_entropy_task_loss,
                                            MetaLearnerConfig(batching=batching, inner_lr=0.4, inner_steps=2))
            result = learner.meta_loss(batch)
            result.loss.backward()
            out[batching] = (result.task_losses.detach(), {k: p.grad for k, p in learner.params.items()})
        torch.testing.assert_close(out["vmap"][0], out["loop"][0])
        for k in out["vmap"][1]:
            assert out["vmap"][1][k].abs().sum() > 0, k  # BatchNorm affine parameters are meta-learned too
            torch.testing.assert_close(out["vmap"][1][k], out["loop"][1][k])

    def test_batchnorm_statistics_are_per_task(self):
        """Transductive per-task batch norm: a task's predictions do not depend on the other tasks."""
        learner = SupervisedMetaLearner(bn_conv_net(), cross_entropy_task_loss, MetaLearnerConfig(inner_lr=0.4))
        batch = classification_batch(n=3)
        full = learner.adapt_batch(batch.support_x, batch.support_y, steps=1).predict(batch.query_x)
        alone = learner.adapt(batch.support_x[1], batch.support_y[1], steps=1).predict(batch.query_x[1])
        torch.testing.assert_close(full[1], alone)

    def test_evaluation_is_the_same_for_both_paths(self):
        batch = sinusoid_batch(n=4, k=5, q=6, seed=3)
        curves = [tiny_learner(b, inner_lr=0.05).evaluate(batch, steps=3) for b in ("vmap", "loop")]
        np.testing.assert_allclose(curves[0].loss, curves[1].loss, rtol=1e-10)


class TestBatchableModels:
    def test_running_statistics_are_refused_with_the_fix_in_the_message(self):
        net = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        with pytest.raises(ValueError, match=r"layer '1' \(BatchNorm1d\).*track_running_stats=False"):
            SupervisedMetaLearner(net, mse_task_loss)

    def test_dropout_is_refused(self):
        with pytest.raises(ValueError, match="Dropout"):
            SupervisedMetaLearner(nn.Sequential(nn.Linear(1, 4), nn.Dropout(0.5)), mse_task_loss)

    @pytest.mark.parametrize("pooling", ["max", "stride"])
    def test_conv4_shapes(self, pooling):
        net = conv4(n_way=5, image_shape=(1, 28, 28), width=8, pooling=pooling, seed=0)
        assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 5)
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        assert len(bns) == 4 and not any(m.track_running_stats for m in bns)
        assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 4
        # seeded, and the global torch RNG is left alone
        state = torch.random.get_rng_state()
        again = conv4(n_way=5, image_shape=(1, 28, 28), width=8, pooling=pooling, seed=0)
        assert torch.equal(torch.random.get_rng_state(), state)
        assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))

    def test_conv4_bad_arguments(self):
        with pytest.raises(ValueError, match="pooling"):
            conv4(pooling="avg")
        with pytest.raises(ValueError, match="too small"):
            conv4(image_shape=(1, 8, 8), pooling="max")
        with pytest.raises(ValueError, match="n_way"):
            conv4(n_way=1)


class TestAdaptation:
    def test_regressor_adaptation_reduces_the_support_loss(self):
        agent = MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(16, 16)))
        batch = SinusoidTasks().sample(1, 10, 10, rng(3))
        x, y = batch.support_x[0], batch.support_y[0]
        before = float(mse_task_loss(agent.adapt(x, y, steps=0).predict(x)[None], y[None]))
        after = float(mse_task_loss(agent.adapt(x, y, steps=10, step_size=0.01).predict(x)[None], y[None]))
        assert after < 0.9 * before
        assert agent.adapt(x, y, steps=3).predict(torch.zeros(7, 1)).shape == (7, 1)

    def test_conv_classifier_adaptation_reduces_the_support_loss(self):
        config = MAMLClassifierConfig(n_way=3, image_shape=(1, 16, 16), width=8)
        agent = MAMLClassifier(config)
        batch = classification_batch(n=1, n_way=3, shots=2, size=16, dtype=torch.float32)
        x, y = batch.support_x[0], batch.support_y[0]

        def support_loss(steps: int) -> float:
            logits = agent.adapt(x, y, steps=steps).predict(x)
            return float(cross_entropy_task_loss(logits[None], y[None]))

        assert support_loss(3) < 0.8 * support_loss(0)

    def test_adaptation_does_not_touch_the_meta_parameters(self):
        learner = tiny_learner()
        before = {k: p.detach().clone() for k, p in learner.params.items()}
        batch = sinusoid_batch()
        learner.adapt_batch(batch.support_x, batch.support_y, steps=3)
        learner.evaluate(batch, steps=2)
        assert all(torch.equal(before[k], p) for k, p in learner.params.items())
        assert all(p.grad is None for p in learner.params.values())

    def test_adapt_rejects_bad_shapes(self):
        learner = tiny_learner()
        with pytest.raises(ValueError, match="disagree"):
            learner.adapt(torch.zeros(5, 1, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64))
        with pytest.raises(TypeError, match="support_x must be a tensor"):
            learner.adapt(np.zeros((5, 1)), torch.zeros(5, 1))
        predictor = learner.adapt_batch(torch.zeros(2, 3, 1, dtype=torch.float64),
                                        torch.zeros(2, 3, 1, dtype=torch.float64), steps=1)
        with pytest.raises(ValueError, match=r"N=2"):
            predictor.predict(torch.zeros(3, 4, 1, dtype=torch.float64))


class TestEvaluationProtocol:
    def test_every_step_uses_the_same_support_points(self):
        """Spy on the loss: every inner step sees exactly the task's K support points (MAML 5.1)."""
        seen: list[torch.Tensor] = []

        def spy(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            seen.append(targets.detach().clone())
            return mse_task_loss(predictions, targets)

        model = mlp(1, (6,), 1, seed=0).double()
        learner = SupervisedMetaLearner(model, spy, MetaLearnerConfig(inner_lr=0.05))
        batch = sinusoid_batch(n=3, k=5, q=7)
        learner.evaluate(batch, steps=4)
        support_calls = [t for t in seen if t.shape[1] == 5]
        query_calls = [t for t in seen if t.shape[1] == 7]
        assert len(support_calls) == 4 and len(query_calls) == 5
        assert all(torch.equal(t, batch.support_y) for t in support_calls)
        assert all(torch.equal(t, batch.query_y) for t in query_calls)

    def test_curve_matches_plain_gradient_descent(self):
        learner = tiny_learner(inner_lr=0.05)
        batch = sinusoid_batch(n=2, k=5, q=7, seed=9)
        curve = learner.evaluate(batch, steps=3, step_size=(0.05, 0.02))
        assert curve.steps == [0, 1, 2, 3] and curve.step_sizes == [0.05, 0.02, 0.02]
        for i in range(2):
            theta = {k: p.detach().clone() for k, p in learner.params.items()}
            for s, alpha in enumerate([None, 0.05, 0.02, 0.02]):
                if alpha is not None:
                    theta = {k: v.requires_grad_() for k, v in theta.items()}
                    loss = ((torch.func.functional_call(learner.model, theta, (batch.support_x[i],))
                             - batch.support_y[i]) ** 2).mean()
                    grads = torch.autograd.grad(loss, list(theta.values()))
                    theta = {k: (v - alpha * g).detach() for (k, v), g in zip(theta.items(), grads)}
                pred = torch.func.functional_call(learner.model, theta, (batch.query_x[i],))
                assert curve.loss[i, s] == pytest.approx(float(((pred - batch.query_y[i]) ** 2).mean()), rel=1e-9)

    def test_chunking_does_not_change_results_and_ci_is_reported(self):
        batch = sinusoid_batch(n=7, k=4, q=5)
        a = tiny_learner(eval_chunk_size=2).evaluate(batch, steps=2)
        b = tiny_learner(eval_chunk_size=100).evaluate(batch, steps=2)
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-12)
        summary = a.to_dict(per_task=True)
        assert len(summary["loss_mean"]) == 3 and all(h > 0 for h in summary["loss_ci95"])
        assert summary["loss_mean"][0] == pytest.approx(float(a.loss[:, 0].mean()))
        json.dumps(summary)

    def test_classification_metric(self):
        learner = SupervisedMetaLearner(bn_conv_net(), cross_entropy_task_loss, MetaLearnerConfig(inner_lr=0.4),
                                        metric=accuracy_task_metric, metric_name="accuracy")
        curve = learner.evaluate(classification_batch(), steps=2)
        assert curve.metric.shape == (3, 3) and np.all((curve.metric >= 0) & (curve.metric <= 1))
        assert curve.to_dict()["metric_name"] == "accuracy"


# =========================================================================================== config
class TestConfigs:
    @pytest.mark.parametrize(
        ("cls", "kwargs", "field"),
        [
            (MetaLearnerConfig, {"inner_lr": -0.1}, "inner_lr"),
            (MetaLearnerConfig, {"inner_steps": -1}, "inner_steps"),
            (MetaLearnerConfig, {"batching": "threads"}, "batching"),
            (MetaLearnerConfig, {"outer_lr": float("nan")}, "outer_lr"),
            (MAMLRegressorConfig, {"k_shot": 0}, "k_shot"),
            (MAMLRegressorConfig, {"meta_batch_size": 2.5}, "meta_batch_size"),
            (MAMLRegressorConfig, {"hidden_sizes": ()}, "hidden_sizes"),
            (MAMLClassifierConfig, {"n_way": 1}, "n_way"),
            (MAMLClassifierConfig, {"image_shape": (28, 28)}, "image_shape"),
        ],
    )
    def test_bad_values_name_the_field(self, cls, kwargs, field):
        with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field}"):
            cls(**kwargs)

    def test_paper_defaults(self):
        reg = MAMLRegressorConfig()
        assert (reg.hidden_sizes, reg.k_shot, reg.inner_lr, reg.inner_steps, reg.outer_lr, reg.meta_batch_size) == (
            (40, 40), 10, 0.01, 1, 1e-3, 25)
        cls = MAMLClassifierConfig()
        assert (cls.inner_lr, cls.inner_steps, cls.eval_steps, cls.n_way, cls.width) == (0.4, 1, 3, 5, 64)
        agent = MAMLRegressor()
        sizes = [tuple(p.shape) for p in agent.params.values()]
        assert sizes == [(40, 1), (40,), (40, 40), (40,), (1, 40), (1,)]

    def test_diverging_meta_loss_is_loud(self):
        learner = tiny_learner(dtype=torch.float32)
        with torch.no_grad():
            next(iter(learner.params.values())).fill_(float("nan"))
        with pytest.raises(FloatingPointError, match="inner_lr"):
            learner.step(sinusoid_batch(dtype=torch.float32))


# ================================================================================= fit / checkpoint
class TestFitAndResume:
    def test_resume_continues_identically(self, tmp_path):
        config = MAMLRegressorConfig(hidden_sizes=(8,), meta_batch_size=3, k_shot=4, k_query=4)
        straight = MAMLRegressor(config)
        full = straight.fit(6, run_dir=tmp_path / "a", checkpoint_every=3, log_every=1, progress_bar=False)

        first = MAMLRegressor(config)
        first.fit(3, run_dir=tmp_path / "b", checkpoint_every=3, log_every=1, progress_bar=False)
        resumed = MAMLRegressor(config)
        rest = resumed.fit(6, run_dir=tmp_path / "b", resume=True, checkpoint_every=3, log_every=1,
                           progress_bar=False)
        assert rest.start_iteration == 3 and rest.iterations == 6
        for k, p in straight.params.items():
            assert torch.equal(p, resumed.params[k]), k
        assert rest.history["train/query_loss_after_adapt"] == full.history["train/query_loss_after_adapt"][3:]
        assert read_csv(tmp_path / "b")["step"] == list(range(6))
        # the optimizer state was restored too: one more step stays identical
        batch = SinusoidTasks().sample(3, 4, 4, rng(11))
        straight.learner.step(batch)
        resumed.learner.step(batch)
        assert all(torch.equal(p, resumed.params[k]) for k, p in straight.params.items())

    def test_existing_run_is_not_overwritten_and_config_must_match(self, tmp_path):
        config = MAMLRegressorConfig(hidden_sizes=(4,), meta_batch_size=2)
        MAMLRegressor(config).fit(2, run_dir=tmp_path, progress_bar=False)
        with pytest.raises(FileExistsError, match="resume=True"):
            MAMLRegressor(config).fit(4, run_dir=tmp_path, progress_bar=False)
        with pytest.raises(ValueError, match="inner_lr"):
            MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(4,), meta_batch_size=2, inner_lr=0.02)).fit(
                4, run_dir=tmp_path, resume=True, progress_bar=False)

    def test_callback_and_save_load_roundtrip(self, tmp_path):
        seen = []
        agent = MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(4,), meta_batch_size=2))
        agent.fit(5, log_every=2, callback=lambda it, m: seen.append(it), progress_bar=False)
        assert seen == [0, 1, 3, 4]
        path = agent.save(tmp_path / "model.pt")
        loaded = MAMLRegressor.load(path)
        assert loaded.learner.iteration == 5
        assert all(torch.equal(p, loaded.params[k]) for k, p in agent.params.items())
        with pytest.raises(ValueError, match="not a MAMLClassifier"):
            MAMLClassifier.load(path)

    def test_fit_argument_errors(self):
        agent = MAMLRegressor(MAMLRegressorConfig(hidden_sizes=(4,)))
        with pytest.raises(ValueError, match="iterations"):
            agent.fit(-1)
        with pytest.raises(TypeError, match="task_source"):
            agent.learner.fit("tasks", 3)


# ======================================================================================== baselines
class TestBaselines:
    def test_pretrained_has_no_inner_step_and_tunes_on_training_tasks(self):
        agent = PretrainedRegressor(MAMLRegressorConfig(hidden_sizes=(8,), meta_batch_size=4))
        assert agent.learner.config.inner_steps == 0
        agent.fit(20, progress_bar=False)
        result = agent.tune(k_shot=5, steps=2, n_tasks=10, candidates=(1e-4, 0.01, 100.0))
        assert result.best in (1e-4, 0.01) and math.isinf(result.scores[100.0])  # divergence scores inf

    def test_tune_step_size_prefers_the_obviously_better_step(self):
        learner = tiny_learner(inner_lr=0.01)
        b = sinusoid_batch(n=6, k=10, q=10)
        batch = TaskBatch(b.support_x, b.support_y, b.support_x, b.support_y)  # query = support: fitting helps
        result = tune_step_size(learner, batch, candidates=(1e-6, 0.05), steps=5)
        assert result.best == 0.05 and result.scores[0.05] < result.scores[1e-6]
        with pytest.raises(ValueError, match="steps >= 1"):
            tune_step_size(learner, batch, candidates=(0.1,), steps=0)

    def test_oracle_uses_task_parameters_and_does_not_adapt(self):
        agent = OracleRegressor(MAMLRegressorConfig(hidden_sizes=(8,), meta_batch_size=4))
        assert tuple(agent.params["0.weight"].shape) == (8, 3)
        agent.fit(5, progress_bar=False)
        ev = SinusoidTasks().evaluation_set(6, 5, 9, seed=2)
        curve = agent.evaluate(ev.batch(5), ev.params, steps=3)
        assert curve.loss.shape == (6, 4) and np.all(curve.loss == curve.loss[:, :1])
        assert agent.predict(ev.batch(5).query_x, ev.params).shape == (6, 9, 1)



# ========================================================================================== scripts
def test_speed_benchmark_help_explains_every_option(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("_bench_supervised_speed", ROOT / "benchmarks" / "bench_supervised_speed.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_bench_supervised_speed", module)  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    flags = flag_help(capsys.readouterr().out)
    assert {"--iterations", "--torch-threads", "--seed", "--out"} <= set(flags), flags
    assert all(text.strip() for text in flags.values()), {f: t for f, t in flags.items() if not t.strip()}
