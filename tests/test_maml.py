"""Tests of the meta-learner core (metarl/maml.py): exact second-order meta-gradients, FOMAML, batched tasks,
step-size schedules and error messages."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from metarl.maml import (
    adapt,
    batched_functional_forward,
    functional_forward,
    inner_step_size,
    stack_params,
)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)  # test-only: fixed init of a throwaway module
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def _task_data(seed: int, n: int = 10) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    amp, phase = 0.5 + 2 * torch.rand((), generator=g), 3 * torch.rand((), generator=g)
    xs = 10 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 5
    xq = 10 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 5
    return xs, amp * torch.sin(xs + phase), xq, amp * torch.sin(xq + phase)


def _meta_objective(model: nn.Module, params, data, steps=2, step_size=(0.1, 0.05), first_order=False):
    """MAML Alg. 2: adapt on the support set, return the query loss at θ'."""
    xs, ys, xq, yq = data

    def support_loss(p):
        return ((functional_forward(model, p, xs) - ys) ** 2).mean()

    adapted = adapt(params, support_loss, steps=steps, step_size=step_size, first_order=first_order)
    return ((functional_forward(model, adapted, xq) - yq) ** 2).mean()


def test_second_order_meta_gradient_matches_finite_differences():
    model = _mlp()
    data = _task_data(1)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    meta = _meta_objective(model, params, data)
    grads = torch.autograd.grad(meta, list(params.values()))
    analytic = torch.cat([g.reshape(-1) for g in grads])

    # central finite differences of the whole meta-objective J(θ) = L_q(θ − α∇L_s(θ) ...), coordinate-wise
    flat = torch.cat([p.detach().reshape(-1) for p in params.values()])
    shapes = [(k, v.shape, v.numel()) for k, v in params.items()]

    def J(vec: torch.Tensor) -> float:
        out, i = {}, 0
        for k, shape, n in shapes:
            out[k] = vec[i : i + n].view(shape).clone().requires_grad_(True)
            i += n
        return float(_meta_objective(model, out, data).detach())

    h = 1e-6
    numeric = torch.zeros_like(flat)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = h
        numeric[i] = (J(flat + e) - J(flat - e)) / (2 * h)
    rel = float((analytic - numeric).norm() / numeric.norm())
    print(f"meta-gradient rel err vs FD {rel:.2e}")
    assert rel <= 1e-4, f"second-order meta-gradient is off from finite differences by {rel:.2e} (relative)"

    # FOMAML drops the Hessian term (I − α∇²L_s): its gradient must differ measurably from the exact one
    fo = _meta_objective(model, params, data, first_order=True)
    fo_grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(fo, list(params.values()))])
    assert torch.allclose(fo.detach(), meta.detach()), "first_order must not change the adapted values"
    rel_fo = float((fo_grad - analytic).norm() / analytic.norm())
    print(f"first-order vs second-order rel diff {rel_fo:.2e}")
    assert rel_fo > 1e-2, f"first-order gradient is indistinguishable from second order ({rel_fo:.2e})"


def test_first_order_gradient_is_query_gradient_at_adapted_params():
    model = _mlp()
    xs, ys, xq, yq = _task_data(2)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    meta = _meta_objective(model, params, (xs, ys, xq, yq), steps=1, step_size=0.1, first_order=True)
    fo_grad = torch.autograd.grad(meta, list(params.values()))
    # FOMAML: ∇_θ L_q(θ') ≈ ∇_{θ'} L_q(θ') (MAML Sec. 5.2)
    adapted = adapt(params, lambda p: ((functional_forward(model, p, xs) - ys) ** 2).mean(), 1, 0.1, True)
    leaf = {k: v.detach().requires_grad_(True) for k, v in adapted.items()}
    direct = torch.autograd.grad(
        ((functional_forward(model, leaf, xq) - yq) ** 2).mean(), list(leaf.values())
    )
    for a, b in zip(fo_grad, direct):
        torch.testing.assert_close(a, b)


def test_batched_adapt_equals_loop_of_single_task_adapts():
    model = _mlp()
    n_tasks = 4
    tasks = [_task_data(10 + i) for i in range(n_tasks)]
    xs, ys, xq, yq = (torch.stack([t[j] for t in tasks]) for j in range(4))  # [N, K, 1]

    base = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    stacked = stack_params(base, n_tasks)

    def batched_support(p):  # Σ_i L_i(θ_i): the "batched tasks" trick
        return ((batched_functional_forward(model, p, xs) - ys) ** 2).mean(dim=(1, 2)).sum()

    adapted = adapt(stacked, batched_support, steps=2, step_size=(0.1, 0.05))
    meta_batched = ((batched_functional_forward(model, adapted, xq) - yq) ** 2).mean(dim=(1, 2)).sum()
    grads_batched = torch.autograd.grad(meta_batched, list(base.values()))

    meta_loop = 0.0
    for i, data in enumerate(tasks):
        xs_i, ys_i = data[0], data[1]

        def support_loss(p, x=xs_i, y=ys_i):
            return ((functional_forward(model, p, x) - y) ** 2).mean()

        single = adapt(base, support_loss, 2, (0.1, 0.05))
        for k in base:
            torch.testing.assert_close(adapted[k][i], single[k], msg=f"task {i} param {k} differs")
        meta_loop = meta_loop + ((functional_forward(model, single, data[2]) - data[3]) ** 2).mean()
    grads_loop = torch.autograd.grad(meta_loop, list(base.values()))
    torch.testing.assert_close(meta_batched, meta_loop)
    for k, a, b in zip(base, grads_batched, grads_loop):
        torch.testing.assert_close(a, b, msg=f"outer gradient of {k} differs between batched and loop")


def test_step_size_schedule_is_applied():
    theta = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)

    def quadratic(p):  # L = ½‖θ‖², ∇L = θ, so θ_{k+1} = (1 − α_k) θ_k exactly
        return 0.5 * (p["w"] ** 2).sum()

    out = adapt({"w": theta}, quadratic, steps=3, step_size=[0.1, 0.05])
    expected = theta.detach() * (1 - 0.1) * (1 - 0.05) * (1 - 0.05)  # the last value repeats
    torch.testing.assert_close(out["w"].detach(), expected)

    out_fn = adapt({"w": theta}, quadratic, steps=3, step_size=lambda k: 0.1 / (k + 1))
    torch.testing.assert_close(out_fn["w"].detach(), theta.detach() * 0.9 * (1 - 0.05) * (1 - 0.1 / 3))

    assert [inner_step_size((0.1, 0.05), k) for k in range(4)] == [0.1, 0.05, 0.05, 0.05]
    assert adapt({"w": theta}, quadratic, steps=0)["w"] is theta


def test_meta_sgd_per_parameter_step_sizes_receive_gradients():
    theta = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor([0.1, 0.3], dtype=torch.float64, requires_grad=True)
    out = adapt({"w": theta}, lambda p: 0.5 * (p["w"] ** 2).sum(), steps=1, step_size={"w": alpha})
    torch.testing.assert_close(out["w"].detach(), theta.detach() * (1 - alpha.detach()))
    (d_alpha,) = torch.autograd.grad(out["w"].sum(), alpha)  # θ' = θ − α ⊙ θ  ⇒  ∂Σθ'/∂α = −θ
    torch.testing.assert_close(d_alpha, -theta.detach())

    scalar = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)  # a learned scalar α
    out = adapt({"w": theta}, lambda p: 0.5 * (p["w"] ** 2).sum(), steps=1, step_size=scalar)
    (d_scalar,) = torch.autograd.grad(out["w"].sum(), scalar)
    assert math.isclose(float(d_scalar), -float(theta.detach().sum()))


def test_constants_pass_through_and_no_grad_context_is_allowed():
    w = torch.tensor([1.0], requires_grad=True)
    c = torch.tensor([3.0])  # requires_grad=False: a constant, not adapted
    with torch.no_grad():  # test-time fine-tuning is often run under no_grad
        out = adapt(
            {"w": w, "c": c}, lambda p: (p["w"] * p["c"]).sum(), steps=1, step_size=0.5, first_order=True
        )
    assert out["c"] is c
    torch.testing.assert_close(out["w"], torch.tensor([1.0 - 0.5 * 3.0]))


def test_stack_params_gradient_sums_over_tasks():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    stacked = stack_params({"w": w}, 3)
    assert stacked["w"].shape == (3, 2)
    weights = torch.tensor([[1.0], [2.0], [3.0]])
    (g,) = torch.autograd.grad((stacked["w"] * weights).sum(), w)
    torch.testing.assert_close(g, torch.tensor([6.0, 6.0]))


def test_batched_functional_forward_matches_per_task_calls():
    model = _mlp()
    g = torch.Generator().manual_seed(0)
    stacked = {
        k: v.detach() + 0.1 * torch.randn((3, *v.shape), generator=g, dtype=v.dtype)
        for k, v in model.named_parameters()
    }
    x = torch.randn(3, 5, 1, generator=g, dtype=torch.float64)
    out = batched_functional_forward(model, stacked, x)
    for i in range(3):
        single = functional_forward(model, {k: v[i] for k, v in stacked.items()}, x[i])
        torch.testing.assert_close(out[i], single)
    with pytest.raises(ValueError, match="leading task dimension of size 3"):
        batched_functional_forward(model, stacked, x[:2])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": -1}, ValueError, "steps must be >= 0; got -1"),
        ({"steps": 1.5}, TypeError, "steps must be an int; got float 1.5"),
        ({"steps": True}, TypeError, "steps must be an int; got bool"),
        ({"step_size": 0.0}, ValueError, "step_size must be a finite number > 0; got 0.0"),
        ({"step_size": -0.1}, ValueError, r"step_size must be a finite number > 0; got -0.1"),
        ({"step_size": float("nan")}, ValueError, "step_size must be a finite number > 0; got nan"),
        ({"step_size": []}, ValueError, "step_size is an empty sequence"),
        (
            {"step_size": "0.1"},
            TypeError,
            "step_size must be a number, a sequence, a callable or a dict; got str",
        ),
        (
            {"step_size": [0.1, -1.0], "steps": 2},
            ValueError,
            r"step_size\[1\] must be a finite number > 0; got -1.0",
        ),
        ({"step_size": lambda k: 0.0}, ValueError, r"step_size\(0\) must be a finite number > 0"),
        ({"step_size": {"v": torch.ones(2)}}, ValueError, r"missing \['w'\], unknown \['v'\]"),
        ({"step_size": {"w": torch.ones(3)}}, ValueError, r"step_size\['w'\] has shape \(3,\).*shape \(2,\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(error, match=match):
        adapt({"w": w}, lambda p: p["w"].sum(), **kwargs)


def test_bad_loss_and_params_raise_clear_errors():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"loss_fn must return a scalar tensor .*got \(2,\)"):
        adapt({"w": w}, lambda p: p["w"] * 2)
    with pytest.raises(ValueError, match="no parameter requires grad"):
        adapt({"w": torch.ones(2)}, lambda p: p["w"].sum())
    with pytest.raises(TypeError, match=r"params\['w'\] must be a tensor; got list"):
        adapt({"w": [1.0]}, lambda p: p["w"])
    with pytest.raises(ValueError, match="n \\(the number of tasks\\) must be an int >= 1; got 0"):
        stack_params({"w": w}, 0)
