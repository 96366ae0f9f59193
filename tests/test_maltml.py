"""MALTML (Devos & Dandi): sinusoid families, the two-level objective and its third-order gradient, the
first-order variant, the test-time protocol, checkpoints, and the example script."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from agents.maltml import (
    MALTML,
    MALTMLConfig,
    adapt_families,
    adapt_tasks,
    evaluate_family_adaptation,
    repeat_per_task,
)
from metarl.maml import batched_functional_forward, stack_params
from metarl.supervised.families import FamilyBatch, SinusoidFamilies
from metarl.supervised.learner import mse_task_loss

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def tanh_net(seed: int = 0) -> nn.Module:
    """A tiny smooth network (tanh: no ReLU kinks for the finite differences), float64."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)).double()


def small_batch(seed: int = 0, families: int = 2, tasks: int = 2, k: int = 3, q: int = 2, goal: int = 2,
                goal_query: int = 3) -> FamilyBatch:
    return SinusoidFamilies(dtype=torch.float64).sample(families, tasks, k, q, goal, goal_query,
                                                        np.random.default_rng(seed))


def f(model: nn.Module, params: dict, x: torch.Tensor) -> torch.Tensor:
    return torch.func.functional_call(model, params, (x,))


def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (pred - y).pow(2).mean()


def naive_objective(model, params, batch, alpha, beta, gamma, r=1, m=1, r_goal=1):
    """Eq. (3) written as plain loops over families, tasks and goal tasks (Alg. 1, no batching)."""
    total = 0.0
    names = list(params)
    for j in range(batch.n_families):
        theta_j = dict(params)
        for _ in range(m):  # Eq. (2), m times
            family_loss = 0.0
            for i in range(batch.n_tasks):
                theta_i = dict(theta_j)
                for _ in range(r):  # Eq. (1), r times, on K examples
                    loss = mse(f(model, theta_i, batch.support_x[j, i]), batch.support_y[j, i])
                    grads = torch.autograd.grad(loss, [theta_i[n] for n in names], create_graph=True)
                    theta_i = {n: theta_i[n] - alpha * g for n, g in zip(names, grads)}
                family_loss = family_loss + mse(f(model, theta_i, batch.query_x[j, i]), batch.query_y[j, i])
            grads = torch.autograd.grad(family_loss, [theta_j[n] for n in names], create_graph=True)
            theta_j = {n: theta_j[n] - beta * g for n, g in zip(names, grads)}
        for c in range(batch.n_goal):
            theta_c = dict(theta_j)
            for _ in range(r_goal):
                loss = mse(f(model, theta_c, batch.goal_support_x[j, c]), batch.goal_support_y[j, c])
                grads = torch.autograd.grad(loss, [theta_c[n] for n in names], create_graph=True)
                theta_c = {n: theta_c[n] - gamma * g for n, g in zip(names, grads)}
            total = total + mse(f(model, theta_c, batch.goal_query_x[j, c]), batch.goal_query_y[j, c])
    return total


def flat_grad(loss: torch.Tensor, tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, tensors)])


# ================================================================================== families
def recovered_phase(x: torch.Tensor, y: torch.Tensor) -> float:
    """Fit y = a sin x + b cos x exactly (noise-free data); A sin(x − φ) gives a = A cos φ, b = −A sin φ."""
    design = torch.stack([torch.sin(x[:, 0]), torch.cos(x[:, 0])], dim=1)
    a, b = torch.linalg.lstsq(design, y).solution[:, 0].tolist()
    return math.atan2(-b, a)


def test_goal_and_meta_tasks_share_their_family_and_families_differ():
    batch, params = SinusoidFamilies(dtype=torch.float64).sample_with_params(6, 5, 5, 5, 2, 5, np.random.default_rng(3))
    batch.validate()
    phases = []
    for j in range(batch.n_families):
        found = [recovered_phase(torch.cat([batch.support_x[j, i], batch.query_x[j, i]]),
                                 torch.cat([batch.support_y[j, i], batch.query_y[j, i]])) for i in range(5)]
        found += [recovered_phase(torch.cat([batch.goal_support_x[j, c], batch.goal_query_x[j, c]]),
                                  torch.cat([batch.goal_support_y[j, c], batch.goal_query_y[j, c]])) for c in range(2)]
        # every meta-finetuning task and every goal task of family j is a sine with the family's phase
        np.testing.assert_allclose(found, params.phase[j], atol=1e-9)
        phases.append(found[0])
        # ... and the tasks of a family differ (amplitudes)
        assert len(set(np.round(params.amplitude[j], 6))) == 5
    assert np.min(np.diff(np.sort(phases))) > 1e-3  # the families of a batch differ
    assert all(0.0 <= p <= math.pi for p in phases)
    assert np.all((params.amplitude >= 0.1) & (params.amplitude <= 5.0))
    for x in (batch.support_x, batch.query_x, batch.goal_support_x, batch.goal_query_x):
        assert x.min() >= -5.0 and x.max() <= 5.0


def test_flattened_layout_is_family_major():
    batch, params = SinusoidFamilies(dtype=torch.float64).sample_with_params(3, 4, 5, 2, 2, 3, np.random.default_rng(0))
    meta, goal = batch.meta_tasks(), batch.goal_tasks()
    assert meta.n_tasks == 12 and goal.n_tasks == 6
    flat = params.meta_task_params()
    np.testing.assert_allclose(flat(meta.support_x.numpy()), meta.support_y.numpy(), atol=1e-12)
    np.testing.assert_allclose(params.goal_task_params()(goal.query_x.numpy()), goal.query_y.numpy(), atol=1e-12)


def test_evaluation_set_is_fixed_by_its_seed():
    fam = SinusoidFamilies()
    a = fam.evaluation_set(4, 5, 5, 5, 2, 10, seed=7)
    b = fam.evaluation_set(4, 5, 5, 5, 2, 10, seed=7)
    c = fam.evaluation_set(4, 5, 5, 5, 2, 10, seed=8)
    wider = fam.evaluation_set(4, 5, 5, 5, 2, 30, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.batch, b.batch))
    assert not torch.equal(a.batch.support_x, c.batch.support_x)
    # more goal query points do not change the families or their meta-finetuning data
    np.testing.assert_array_equal(a.params.phase, wider.params.phase)
    assert torch.equal(a.batch.support_x, wider.batch.support_x)
    assert torch.equal(a.batch.goal_query_x, wider.batch.goal_query_x[:, :, :10])


def test_family_batch_validation_errors():
    batch = small_batch()
    with pytest.raises(ValueError, match="same K support examples"):
        batch._replace(goal_support_x=batch.goal_support_x[:, :, :2],
                       goal_support_y=batch.goal_support_y[:, :, :2]).validate()
    with pytest.raises(ValueError, match="number of families"):
        batch._replace(query_x=batch.query_x[:1], query_y=batch.query_y[:1]).validate()
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        SinusoidFamilies().sample(2, 2, 2, 2, 2, 2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="amplitude"):
        SinusoidFamilies(amplitude=(0.0, 5.0))


# ============================================================================ second-order objective
@pytest.mark.parametrize("r,m", [(1, 1), (2, 2)])
def test_batched_objective_equals_the_loops_of_algorithm_1(r, m):
    batch = small_batch(1)
    cfg = MALTMLConfig(task_lr=0.3, family_lr=0.2, goal_lr=0.3, task_steps=r, family_steps=m, hidden_sizes=(3,))
    agent = MALTML(cfg, model=tanh_net())
    out = agent.outer_loss(batch)
    params = list(agent.params.values())
    reference = naive_objective(agent.model, dict(agent.params), batch, 0.3, 0.2, 0.3, r=r, m=m, r_goal=r)
    torch.testing.assert_close(out.loss, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flat_grad(out.loss, params), flat_grad(reference, params), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("learn_step_sizes", [False, True])
def test_third_order_outer_gradient_matches_finite_differences(learn_step_sizes):
    """∇_θ of Eq. (3) through both levels (and through log α, log β, log γ when learned) vs central differences."""
    batch = small_batch(2)
    cfg = MALTMLConfig(task_lr=0.3, family_lr=0.2, goal_lr=0.3, learn_step_sizes=learn_step_sizes, hidden_sizes=(3,))
    agent = MALTML(cfg, model=tanh_net(1))
    tensors = list(agent.params.values()) + list((agent.log_step_sizes or {}).values())
    analytic = flat_grad(agent.outer_loss(batch).loss, tensors)

    eps = 1e-6
    numeric = []
    for tensor in tensors:
        flat = tensor.data.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            values = []
            for sign in (1, -1):
                flat[i] = old + sign * eps
                with torch.enable_grad():
                    values.append(agent.outer_loss(batch).loss.item())
            flat[i] = old
            numeric.append((values[0] - values[1]) / (2 * eps))
    numeric_t = torch.tensor(numeric, dtype=torch.float64)
    rel = (analytic - numeric_t).norm() / numeric_t.norm()
    assert rel <= 1e-4, f"relative error {rel:.2e}"

    if not learn_step_sizes:
        # the test can fail: a gradient that drops the graph of either level is far off
        model, theta, goal = agent.model, dict(agent.params), batch.goal_tasks()
        for task_first_order, family_first_order in ((False, True), (True, False)):
            shallow = adapt_families(model, mse_task_loss, stack_params(theta, batch.n_families), batch,
                                     family_steps=1, family_lr=0.2, task_steps=1, task_lr=0.3,
                                     task_first_order=task_first_order, family_first_order=family_first_order)
            tuned = adapt_tasks(model, mse_task_loss, repeat_per_task(shallow, batch.n_goal), goal.support_x,
                                goal.support_y, 1, 0.3, first_order=False)
            loss = mse_task_loss(batched_functional_forward(model, tuned, goal.query_x), goal.query_y).sum()
            truncated = flat_grad(loss, list(agent.params.values()))
            assert (truncated - numeric_t).norm() / numeric_t.norm() > 1e-2


def test_learned_step_sizes_move_and_fixed_ones_do_not():
    batch = small_batch(4)
    agent = MALTML(MALTMLConfig(learn_step_sizes=True, hidden_sizes=(3,), task_lr=0.05, family_lr=0.05,
                                goal_lr=0.05), model=tanh_net())
    before = agent.step_size_values()
    metrics = agent.step(batch)
    after = agent.step_size_values()
    assert all(after[k] != before[k] for k in before) and "step_size/family_lr" in metrics
    fixed = MALTML(MALTMLConfig(hidden_sizes=(3,)), model=tanh_net())
    fixed.step(batch)
    assert fixed.step_sizes() == {"task_lr": 0.001, "family_lr": 0.01, "goal_lr": 0.001}


# ============================================================================ first-order variant
def linear_batch() -> FamilyBatch:
    """Two families, two tasks each, hand-picked numbers (f(x) = w x, so every gradient is 2(w·Sxx − Sxy))."""
    t = lambda values: torch.tensor(values, dtype=torch.float64)[..., None]  # noqa: E731
    support_x = t([[[1.0, 2.0], [1.0, -1.0]], [[2.0, 0.0], [0.5, 1.0]]])
    support_y = t([[[2.0, 3.0], [0.0, -2.0]], [[1.0, 1.0], [1.0, 3.0]]])
    query_x = t([[[1.0], [2.0]], [[1.0], [-1.0]]])
    query_y = t([[[1.0], [5.0]], [[0.0], [2.0]]])
    return FamilyBatch(support_x, support_y, query_x, query_y, support_x[:, :1], support_y[:, :1],
                       query_x[:, :1], query_y[:, :1])


def hand_first_order_update(w, batch, alpha, beta, eta, m):
    def grad(w, x, y):  # d/dw mean((w x − y)^2) = 2 (w mean(x²) − mean(x y))
        x, y = x[:, 0].tolist(), y[:, 0].tolist()
        return 2 * (w * sum(a * a for a in x) - sum(a * b for a, b in zip(x, y))) / len(x)

    total = 0.0
    for j in range(2):
        wj = w
        for _ in range(m):  # Ṽ^m: first-order family steps
            g = 0.0
            for i in range(2):
                wi = wj - alpha * grad(wj, batch.support_x[j, i], batch.support_y[j, i])
                g += grad(wi, batch.query_x[j, i], batch.query_y[j, i])  # FOMAML: gradient at θ'_i
            wj -= beta * g
        total += wj - w
    return w + eta * total  # θ ← θ + η Σ_j (θ'_j − θ)


def test_first_order_update_is_theta_plus_eta_sum_of_family_differences():
    batch = linear_batch()
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.5)
    cfg = MALTMLConfig(variant="first_order", family_steps=3, task_lr=0.1, family_lr=0.05, outer_lr=0.3)
    agent = MALTML(cfg, model=model)
    theta_j = agent.family_update(batch, create_graph=False)["weight"].detach()
    expected = hand_first_order_update(0.5, batch, 0.1, 0.05, 0.3, 3)
    agent.step(batch)
    assert agent.params["weight"].item() == pytest.approx(expected, abs=1e-13)
    assert agent.params["weight"].item() == pytest.approx(0.5 + 0.3 * float((theta_j - 0.5).sum()), abs=1e-13)
    assert expected != pytest.approx(0.5)


def test_first_order_adam_outer_update_moves_by_the_learning_rate():
    batch = linear_batch()
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.5)
    agent = MALTML(MALTMLConfig(variant="first_order", family_steps=2, task_lr=0.1, family_lr=0.05,
                                outer_lr=0.01, first_order_outer="adam"), model=model)
    delta = hand_first_order_update(0.5, batch, 0.1, 0.05, 1.0, 2) - 0.5
    agent.step(batch)
    # Adam's first step is −lr · g / |g| with g = −Σ_j (θ'_j − θ)
    assert agent.params["weight"].item() == pytest.approx(0.5 + 0.01 * math.copysign(1.0, delta), abs=1e-7)


def test_config_errors_are_specific():
    with pytest.raises(ValueError, match="m > 1"):
        MALTMLConfig(variant="first_order", family_steps=1)
    with pytest.raises(ValueError, match="learn_step_sizes"):
        MALTMLConfig(variant="first_order", learn_step_sizes=True)
    with pytest.raises(ValueError, match="variant"):
        MALTMLConfig(variant="third_order")
    with pytest.raises(ValueError, match="family_lr"):
        MALTMLConfig(family_lr=-0.01)
    assert MALTMLConfig().m == 1 and MALTMLConfig(variant="first_order").m == 5
    with pytest.raises(ValueError, match="outer_loss is the second-order"):
        MALTML(MALTMLConfig(variant="first_order", hidden_sizes=(3,))).outer_loss(small_batch().to(dtype=torch.float32))


# ============================================================================ test-time protocol
def test_evaluation_protocol_before_and_after_the_family_meta_update():
    eval_set = SinusoidFamilies(dtype=torch.float64).evaluation_set(5, 3, 4, 3, 2, 20, seed=11)
    batch = eval_set.batch
    model = tanh_net(2)
    theta = dict(model.named_parameters())
    curve = evaluate_family_adaptation(model, theta, batch, task_lr=0.2, family_lr=0.1, goal_lr=0.05, steps=3,
                                       chunk_families=2)
    assert curve.loss.shape == (5, 2, 4) and curve.loss_without_meta_update.shape == (5, 2, 4)
    for j in range(5):
        # step 0 before the meta-update: θ itself on the goal tasks' test points
        for c in range(2):
            direct = mse(f(model, theta, batch.goal_query_x[j, c]), batch.goal_query_y[j, c]).item()
            assert curve.loss_without_meta_update[j, c, 0] == pytest.approx(direct, rel=1e-10)
        # step 0 after the meta-update: θ'_j = θ − β ∇ Σ_i L_i(θ − α ∇L_i) (exact Eq. 2, by loops)
        names = list(theta)
        family_loss = 0.0
        for i in range(3):
            loss = mse(f(model, theta, batch.support_x[j, i]), batch.support_y[j, i])
            grads = torch.autograd.grad(loss, [theta[n] for n in names], create_graph=True)
            adapted = {n: theta[n] - 0.2 * g for n, g in zip(names, grads)}
            family_loss = family_loss + mse(f(model, adapted, batch.query_x[j, i]), batch.query_y[j, i])
        grads = torch.autograd.grad(family_loss, [theta[n] for n in names])
        theta_j = {n: theta[n].detach() - 0.1 * g for n, g in zip(names, grads)}
        for c in range(2):
            after = mse(f(model, theta_j, batch.goal_query_x[j, c]), batch.goal_query_y[j, c]).item()
            assert curve.loss[j, c, 0] == pytest.approx(after, rel=1e-10)
    summary = curve.to_dict(per_family=True)
    assert summary["before_meta_update_0_steps"] == pytest.approx(curve.loss_without_meta_update[:, :, 0].mean())
    assert len(summary["loss_per_family"]) == 5 and len(summary["loss_mean"]) == 4
    # the default (relu) agent evaluates through the same function
    agent = MALTML(MALTMLConfig(hidden_sizes=(4,), eval_steps=2))
    assert agent.evaluate(SinusoidFamilies().evaluation_set(3, 5, 5, 5, 2, 7, seed=1)).loss.shape == (3, 2, 3)


# ============================================================================ training and checkpoints
@pytest.mark.parametrize("variant", ["second_order", "first_order"])
def test_resumed_training_equals_an_uninterrupted_run(tmp_path, variant):
    cfg = MALTMLConfig(variant=variant, hidden_sizes=(5,), n_families=2, n_tasks=2, n_goal=1,
                       family_steps=None if variant == "second_order" else 2)
    straight = MALTML(cfg)
    straight.fit(4, run_dir=tmp_path / "straight", progress_bar=False, log_every=1)
    first = MALTML(cfg)
    first.fit(2, run_dir=tmp_path / "resumed", progress_bar=False, checkpoint_every=1)
    with pytest.raises(FileExistsError):
        MALTML(cfg).fit(4, run_dir=tmp_path / "resumed", progress_bar=False)
    second = MALTML(cfg)
    result = second.fit(4, run_dir=tmp_path / "resumed", resume=True, progress_bar=False)
    assert result.start_iteration == 2 and result.iterations == 4
    for name, value in straight.params.items():
        torch.testing.assert_close(second.params[name], value, rtol=0, atol=0)
    loaded = MALTML.load(tmp_path / "straight" / "last.pt")
    assert loaded.iteration == 4
    for name, value in straight.params.items():
        torch.testing.assert_close(loaded.params[name], value, rtol=0, atol=0)
    with pytest.raises(ValueError, match="another MALTMLConfig"):
        MALTML(MALTMLConfig(variant=variant, hidden_sizes=(5,), n_families=3, n_tasks=2, n_goal=1,
                            family_steps=cfg.family_steps)).load_state_dict(straight.state_dict())


def test_a_few_second_order_steps_reduce_the_goal_error():
    """Not a benchmark: on a fixed batch, 30 outer steps must lower the post-adaptation goal error."""
    batch = SinusoidFamilies().sample(4, 3, 5, 5, 2, 5, np.random.default_rng(0))
    agent = MALTML(MALTMLConfig(hidden_sizes=(20, 20), outer_lr=0.01))
    first = agent.step(batch)["train/goal_loss_after_finetune"]
    for _ in range(30):
        last = agent.step(batch)["train/goal_loss_after_finetune"]
    assert last < 0.7 * first
