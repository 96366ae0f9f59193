"""Tests of the TRPO pieces (metarl/optim.py): CG, finite-difference vs exact HVPs, the TRPO step and the
backtracking line search."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from metarl.optim import (
    backtracking_line_search,
    conjugate_gradient,
    default_fd_eps,
    exact_hvp,
    finite_difference_hvp,
    flatten,
    make_fvp,
    make_gauss_newton_fvp,
    trpo_step_direction,
    unflatten_like,
)
from metarl.rl.policy import GaussianMLPPolicy


def _spd(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, n, generator=g, dtype=torch.float64)
    return q.T @ q / n + 0.1 * torch.eye(n, dtype=torch.float64)


# ------------------------------------------------------------------------------------------------ flat params
def test_flatten_unflatten_roundtrip_and_errors():
    params = {"a": torch.arange(6.0).view(2, 3), "b": torch.tensor([7.0])}
    flat = flatten(params)
    assert flat.tolist() == [0, 1, 2, 3, 4, 5, 7]
    back = unflatten_like(flat, params)
    assert list(back) == ["a", "b"] and all(torch.equal(back[k], params[k]) for k in params)
    with pytest.raises(ValueError, match="flat has 6 elements but params hold 7"):
        unflatten_like(flat[:6], params)


# ------------------------------------------------------------------------------------------------ CG
def test_conjugate_gradient_solves_spd_system():
    a = _spd(8)
    b = torch.randn(8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iters=8, residual_tol=1e-30)
    expected = torch.linalg.solve(a, b)
    rel = float((x - expected).norm() / expected.norm())
    assert rel < 1e-8, f"CG with n iterations must solve an n×n SPD system exactly (rel err {rel:.1e})"
    # fewer iterations: a worse but still improving approximation (CG minimises the A-norm error)
    errs = [float((conjugate_gradient(lambda v: a @ v, b, iters=k) - expected).norm()) for k in (1, 3, 6)]
    assert errs[0] > errs[1] > errs[2], errs


def test_conjugate_gradient_edge_cases():
    assert torch.equal(conjugate_gradient(lambda v: v, torch.zeros(3)), torch.zeros(3))
    # negative curvature on the first direction: stop and return the iterate so far (x = 0)
    assert torch.equal(conjugate_gradient(lambda v: -v, torch.ones(3)), torch.zeros(3))
    with pytest.raises(ValueError, match="iters must be an int >= 1; got 0"):
        conjugate_gradient(lambda v: v, torch.ones(3), iters=0)
    with pytest.raises(ValueError, match="b contains NaN or inf"):
        conjugate_gradient(lambda v: v, torch.tensor([1.0, math.nan]))


# ------------------------------------------------------------------------------------------------ HVPs
def test_hvps_on_a_quadratic():
    a = _spd(5)
    theta = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    v = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def grad_fn(t):  # ∇(½ θᵀAθ) = Aθ, differentiable when t requires grad
        return a @ t

    torch.testing.assert_close(exact_hvp(grad_fn, theta, v), a @ v)
    torch.testing.assert_close(finite_difference_hvp(grad_fn, theta, v), a @ v)  # exact for a quadratic
    fvp = make_fvp(lambda t: 0.5 * t @ (a @ t), theta, kind="exact", damping=0.1)
    torch.testing.assert_close(fvp(v), a @ v + 0.1 * v)


def _kl_problem(dtype: torch.dtype):
    """KL(π_old ‖ π_θ) of a small Gaussian MLP policy as a function of the flat θ, evaluated at θ_old."""
    torch.manual_seed(0)  # test-only: the same initial weights for the float32 and float64 copies
    policy = GaussianMLPPolicy(3, 2, hidden_sizes=(16, 16)).to(dtype)
    params = {k: v.detach() for k, v in policy.named_params().items()}
    obs = torch.randn(256, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)
    with torch.no_grad():
        old = policy(obs, params)

    def kl(flat: torch.Tensor) -> torch.Tensor:
        return kl_divergence(old, policy(obs, unflatten_like(flat, params))).sum(-1).mean()

    def grad_fn(flat: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        flat = flat if flat.requires_grad else flat.detach().requires_grad_(True)
        return torch.autograd.grad(kl(flat), flat, create_graph=create_graph)[0]

    return flatten(params), kl, grad_fn


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def _scaled_eps(theta: torch.Tensor, v: torch.Tensor, exponent: float = 1.0 / 3.0) -> float:
    """The round-off-balanced step ‖εv‖ = u^exponent · (1 + ‖θ‖/√D) in θ's own dtype (default_fd_eps's float32
    rule, written out so that it can be tried in float64)."""
    u = torch.finfo(theta.dtype).eps / 2
    return u**exponent * (1.0 + float(theta.double().norm()) / math.sqrt(theta.numel())) / float(v.double().norm())


def test_finite_difference_hvp_matches_exact_hvp_float64():
    theta, kl, grad_fn = _kl_problem(torch.float64)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    v = v / v.norm()
    exact = exact_hvp(lambda t: grad_fn(t, create_graph=True), theta, v)
    fd = finite_difference_hvp(grad_fn, theta, v)  # rllab's ε = 1e-8 / (‖θ‖ + 1e-8)
    print(f"float64 FD-HVP relative error: rllab ε {_rel(fd, exact):.1e}", end="")
    assert _rel(fd, exact) <= 1e-4, f"float64 FD-HVP (rllab ε) relative error {_rel(fd, exact):.1e}"
    fd_scaled = finite_difference_hvp(grad_fn, theta, v, eps=_scaled_eps(theta, v))
    print(f", scaled ε {_rel(fd_scaled, exact):.1e}")
    assert _rel(fd_scaled, exact) <= 1e-8, (
        f"float64 FD-HVP (scaled ε) relative error {_rel(fd_scaled, exact):.1e}"
    )
    # make_fvp builds the same products, plus damping
    for kind in ("fd", "exact"):
        torch.testing.assert_close(
            make_fvp(kl, theta, kind=kind, damping=1e-3)(v), exact + 1e-3 * v, rtol=1e-4, atol=1e-8, msg=kind
        )


def test_default_fd_eps_is_rllabs_rule_in_float64_and_the_scaled_step_in_float32():
    theta, _, _ = _kl_problem(torch.float64)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert default_fd_eps(theta, v) == pytest.approx(1e-8 / (float(theta.norm()) + 1e-8), rel=1e-12)
    assert default_fd_eps(theta, 3.0 * v) == default_fd_eps(theta, v)  # rllab's rule ignores ‖v‖
    theta32, v32 = theta.float(), v.float()
    assert default_fd_eps(theta32, v32) == pytest.approx(_scaled_eps(theta32, v32), rel=1e-9)
    assert default_fd_eps(theta32, v32, "forward") == pytest.approx(_scaled_eps(theta32, v32, 0.5), rel=1e-9)
    assert default_fd_eps(theta32, torch.zeros_like(v32)) == 1.0
    with pytest.raises(ValueError, match="scheme must be one of .*got 'backward'"):
        default_fd_eps(theta, v, "backward")  # type: ignore[arg-type]


def test_fd_eps_may_be_a_function_of_theta_and_v():
    """eps=callable: called with (θ, v) for every product and used as ε, in finite_difference_hvp and make_fvp;
    its value is validated like a number's."""
    theta, kl, grad_fn = _kl_problem(torch.float64)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def rule(t: torch.Tensor, d: torch.Tensor) -> float:
        seen.append((t, d))
        return 0.25 / float(d.norm())

    by_rule = finite_difference_hvp(grad_fn, theta, v, eps=rule)
    assert len(seen) == 1 and torch.equal(seen[0][0], theta) and torch.equal(seen[0][1], v)
    torch.testing.assert_close(by_rule, finite_difference_hvp(grad_fn, theta, v, eps=0.25 / float(v.norm())),
                               rtol=0, atol=0)
    seen.clear()
    fvp = make_fvp(kl, theta, kind="fd", damping=0.0, eps=rule)
    torch.testing.assert_close(fvp(v), by_rule, rtol=0, atol=0)
    fvp(2.0 * v)
    assert len(seen) == 2 and torch.equal(seen[1][1], 2.0 * v)  # once per product, with that product's v
    with pytest.raises(ValueError, match="eps must be a finite number > 0; got -1.0"):
        finite_difference_hvp(grad_fn, theta, v, eps=lambda t, d: -1.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        finite_difference_hvp(grad_fn, theta, v, eps="rllab")  # type: ignore[arg-type]  # rule names are gone
    with pytest.raises(ValueError, match="eps, fd_scheme and grad_at_theta are only used by kind='fd'"):
        make_fvp(kl, theta, kind="exact", eps=rule)


def test_finite_difference_hvp_float32_default_eps_is_safe():
    """In float32 the default ("scaled") ε must give a usable HVP, where rllab's float64 ε does not.

    Tolerance 1e-2.  The relative step is δ = u^(1/3) ≈ 4.9e-3 (u = 2^-24).  For a smooth f the central
    difference has truncation error O(δ²) and round-off error O(u/δ) ≈ 1.2e-5, each times a problem-dependent
    constant; with ReLU units the gradient has kinks and the truncation error becomes O(δ) (a fraction ~δ of
    the units switch between θ ± εv).  Measured: 0.8e-3…2.7e-3 on this 16×16 policy (256 samples),
    6e-4 on the 100×100 policy of the paper with 2000 samples, where δ = u^(1/3) is the best of
    {0.03, 0.1, 0.3, 1, 3}·u^(1/3).  1e-2 keeps a margin over the worst case while still failing for a
    wrong ε (rllab's ε: ~0.6; 10× the default: ~9e-3 here and growing).  CG/TRPO need only a few digits.
    """
    theta64, _, grad_fn64 = _kl_problem(torch.float64)
    theta32, _, grad_fn32 = _kl_problem(torch.float32)
    for seed, scale in ((5, 1.0), (6, 1e-3), (7, 1e2)):  # the rule must not depend on ‖v‖
        v = torch.randn(theta64.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        v = scale * v / v.norm()
        exact = exact_hvp(lambda t: grad_fn64(t, create_graph=True), theta64, v)
        fd32 = finite_difference_hvp(grad_fn32, theta32, v.float())
        assert fd32.dtype == torch.float32
        print(f"float32 FD-HVP (scaled ε), ‖v‖={scale}: relative error {_rel(fd32, exact):.1e}")
        assert _rel(fd32, exact) <= 1e-2, (
            f"float32 FD-HVP, ‖v‖={scale}: relative error {_rel(fd32, exact):.1e}"
        )
    # the float64 rule applied in float32 perturbs θ below its round-off: the product is garbage
    bad = finite_difference_hvp(grad_fn32, theta32, v.float(), eps=default_fd_eps(theta64, v))
    print(f"float32 with rllab's ε: relative error {_rel(bad, exact):.1e}")
    assert _rel(bad, exact) > 0.3, "expected rllab's 1e-8-scale ε to fail in float32"


def test_forward_difference_hvp_matches_exact_and_costs_one_gradient_per_product():
    """scheme="forward": [∇f(θ+εv) − ∇f(θ)] / ε.  float64 within 1e-4 (rllab's ε) and 1e-6 (scaled ε, u^(1/2));
    float32 within 1e-2 like the central difference; make_fvp evaluates ∇f(θ) once, then one gradient per
    product (the central difference takes two)."""
    theta, kl, grad_fn = _kl_problem(torch.float64)
    theta32, _, grad_fn32 = _kl_problem(torch.float32)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    v = v / v.norm()
    exact = exact_hvp(lambda t: grad_fn(t, create_graph=True), theta, v)
    errors = {
        "rllab": _rel(finite_difference_hvp(grad_fn, theta, v, scheme="forward"), exact),
        "scaled": _rel(finite_difference_hvp(grad_fn, theta, v, eps=_scaled_eps(theta, v, 0.5), scheme="forward"),
                       exact),
        "float32": _rel(finite_difference_hvp(grad_fn32, theta32, v.float(), scheme="forward"), exact),
    }
    print("forward-difference HVP relative errors:", {k: f"{e:.1e}" for k, e in errors.items()})
    assert errors["rllab"] <= 1e-4 and errors["scaled"] <= 1e-6 and errors["float32"] <= 1e-2, errors
    # the forward step is u^(1/2)-scaled, the central one u^(1/3)-scaled
    assert default_fd_eps(theta32, v.float(), scheme="forward") < default_fd_eps(theta32, v.float()) / 10

    calls = {"n": 0}

    def counted_kl(flat: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return kl(flat)

    for scheme, expected_calls in (("forward", 1 + 3), ("central", 2 * 3)):
        calls["n"] = 0
        fvp = make_fvp(counted_kl, theta, kind="fd", damping=1e-3, fd_scheme=scheme)
        for _ in range(3):
            torch.testing.assert_close(fvp(v), exact + 1e-3 * v, rtol=1e-4, atol=1e-8, msg=scheme)
        assert calls["n"] == expected_calls, f"{scheme}: {calls['n']} gradient evaluations for 3 products"


def test_a_known_gradient_at_theta_replaces_its_evaluation():
    """make_fvp(..., fd_scheme='forward', grad_at_theta=g): the products use g for ∇f(θ) and evaluate no
    gradient at θ; given the true gradient they equal the products that compute it."""
    theta, kl, _ = _kl_problem(torch.float64)
    v = torch.linspace(-1.0, 1.0, theta.numel(), dtype=torch.float64)
    calls = {"n": 0}

    def counted_kl(flat: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return kl(flat)

    computed = make_fvp(counted_kl, theta, kind="fd", damping=0.0, fd_scheme="forward")
    assert calls["n"] == 1  # ∇f(θ) at construction
    leaf = theta.clone().requires_grad_(True)
    (true_grad,) = torch.autograd.grad(kl(leaf), leaf)
    calls["n"] = 0
    given = make_fvp(counted_kl, theta, kind="fd", damping=0.0, fd_scheme="forward", grad_at_theta=true_grad)
    assert calls["n"] == 0
    product = given(v)
    assert calls["n"] == 1  # ∇f(θ + εv) only
    torch.testing.assert_close(product, computed(v), rtol=0, atol=0)
    # a wrong gradient shows: the product shifts by −g/ε
    shifted = make_fvp(kl, theta, kind="fd", damping=0.0, fd_scheme="forward", grad_at_theta=true_grad + 1.0)
    assert not torch.allclose(shifted(v), computed(v))


def test_finite_difference_scheme_is_validated():
    theta, kl, grad_fn = _kl_problem(torch.float64)
    with pytest.raises(ValueError, match="scheme must be one of .*; got 'backward'"):
        finite_difference_hvp(grad_fn, theta, theta, scheme="backward")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fd_scheme must be one of .*; got 'backward'"):
        make_fvp(kl, theta, kind="fd", fd_scheme="backward")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps, fd_scheme and grad_at_theta are only used by kind='fd'"):
        make_fvp(kl, theta, kind="exact", fd_scheme="forward")
    with pytest.raises(ValueError, match="eps, fd_scheme and grad_at_theta are only used by kind='fd'"):
        make_fvp(kl, theta, kind="exact", grad_at_theta=theta)
    with pytest.raises(ValueError, match="grad_at_theta is only used by fd_scheme='forward'"):
        make_fvp(kl, theta, kind="fd", grad_at_theta=theta)
    with pytest.raises(ValueError, match="grad_at_theta is only used by scheme='forward'"):
        finite_difference_hvp(grad_fn, theta, theta, grad_at_theta=theta)
    with pytest.raises(ValueError, match="grad_at_theta must have the shape of theta"):
        finite_difference_hvp(grad_fn, theta, theta, scheme="forward", grad_at_theta=theta[:3])


def test_gauss_newton_fvp_equals_exact_kl_hessian_through_an_inner_step():
    """At θ_old the KL Hessian through a second-order MAML step is exactly Jᵀ M J (no third derivatives)."""
    from metarl.maml import adapt, stack_params

    torch.manual_seed(1)  # test-only: fixed init
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,)).double()
    params = {k: v.detach() for k, v in policy.named_params().items()}
    g = torch.Generator().manual_seed(2)
    n_tasks = 3
    obs, act, adv, obs_v = (
        torch.randn(n_tasks, 20, d, generator=g, dtype=torch.float64) for d in (2, 2, 1, 2)
    )

    def dist(flat):  # the adapted policies π_{θ'_i} on the validation observations, θ'_i = θ − α∇L_i(θ)
        def inner(p):
            return -(policy.forward_batched(obs, p).log_prob(act).sum(-1) * adv[..., 0]).mean(-1).sum()

        adapted = adapt(stack_params(unflatten_like(flat, params), n_tasks), inner, steps=1, step_size=0.5)
        return policy.forward_batched(obs_v, adapted)

    theta0 = flatten(params)
    old = dist(theta0.clone().requires_grad_(True))
    old = Normal(old.loc.detach(), old.scale.detach())

    def kl(flat):
        return kl_divergence(old, dist(flat)).sum(-1).mean()

    def outputs(flat):
        d = dist(flat)
        return torch.cat([d.loc.reshape(-1), d.scale.log().reshape(-1)])

    count = old.loc.shape[0] * old.loc.shape[1]  # KL averaged over tasks × samples
    metric = torch.cat([(1 / old.scale**2).reshape(-1), torch.full((old.scale.numel(),), 2.0)]) / count
    fvp = make_gauss_newton_fvp(outputs, theta0, metric.double(), damping=1e-3)
    exact = make_fvp(kl, theta0, kind="exact", damping=1e-3)
    for seed in (3, 4):
        v = torch.randn(theta0.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        assert _rel(fvp(v), exact(v)) < 1e-10, (
            f"Gauss-Newton vs exact KL Hessian: {_rel(fvp(v), exact(v)):.1e}"
        )
    with pytest.raises(ValueError, match=r"metric has shape \(3,\) but outputs_fn returned"):
        make_gauss_newton_fvp(outputs, theta0, torch.ones(3, dtype=torch.float64))


# ------------------------------------------------------------------------------------------------ TRPO
def _trpo_problem():
    """A one-batch policy-gradient problem: surrogate L(θ) = −E[π_θ(a|s)/π_old(a|s) · A], KL(π_old ‖ π_θ)."""
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,)).double()
    params = {k: v.detach() for k, v in policy.named_params().items()}
    g = torch.Generator().manual_seed(11)
    obs = torch.randn(200, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        old = policy(obs, params)
        actions = old.loc + old.scale * torch.randn(200, 2, generator=g, dtype=torch.float64)
        old_logp = old.log_prob(actions).sum(-1)
    adv = actions[:, 0] - actions[:, 1]  # reward pushes the mean along (+1, −1)

    def dist(flat: torch.Tensor) -> Normal:
        return policy(obs, unflatten_like(flat, params))

    def loss(flat: torch.Tensor) -> torch.Tensor:
        return -(torch.exp(dist(flat).log_prob(actions).sum(-1) - old_logp) * adv).mean()

    def kl(flat: torch.Tensor) -> torch.Tensor:
        return kl_divergence(old, dist(flat)).sum(-1).mean()

    def evaluate(flat: torch.Tensor) -> tuple[float, float]:
        return float(loss(flat)), float(kl(flat))

    theta0 = flatten(params)
    leaf = theta0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(leaf), leaf)
    return theta0, grad, kl, evaluate


def test_trpo_step_improves_surrogate_within_trust_region():
    theta0, grad, kl, evaluate = _trpo_problem()
    max_kl = 0.01
    direction = trpo_step_direction(grad, make_fvp(kl, theta0, kind="fd"), max_kl=max_kl, cg_iters=10)
    assert direction.beta > 0 and direction.expected_improve > 0
    # β makes the quadratic KL model ½ΔθᵀHΔθ equal max_kl: the true KL of the full step is close to it
    _, kl_full = evaluate(theta0 + direction.full_step)
    assert 0.5 * max_kl < kl_full < 2 * max_kl, f"KL of the full step {kl_full:.4f} vs max_kl {max_kl}"
    loss0, _ = evaluate(theta0)
    result = backtracking_line_search(
        theta0, direction.full_step, direction.expected_improve, evaluate, max_kl=max_kl
    )
    assert result.accepted
    assert result.loss < loss0 and result.kl <= max_kl
    assert result.step_fraction == pytest.approx(0.8 ** (result.n_steps - 1))
    assert evaluate(result.theta) == (result.loss, result.kl)


def test_line_search_rejects_bad_steps_and_restores_theta_exactly():
    theta0, grad, kl, evaluate = _trpo_problem()
    snapshot = theta0.clone()
    direction = trpo_step_direction(grad, make_fvp(kl, theta0, kind="fd"), max_kl=0.01)
    applied: list[torch.Tensor] = []

    # (1) an ascent direction: the surrogate never improves
    result = backtracking_line_search(
        theta0, -direction.full_step, direction.expected_improve, evaluate, apply=applied.append
    )
    assert not result.accepted and result.n_steps == 15 and result.step_fraction == 0.0
    assert result.theta is theta0 and torch.equal(theta0, snapshot), "θ0 must be returned untouched"
    assert applied[-1] is theta0, "apply must be called with θ0 on rejection"

    # (2) a descent direction far outside the trust region: every backtracked step still violates KL
    huge = 1e4 * direction.full_step
    result = backtracking_line_search(theta0, huge, 1e4 * direction.expected_improve, evaluate)
    assert not result.accepted and result.theta is theta0 and torch.equal(theta0, snapshot)
    assert evaluate(theta0 + 0.8**14 * huge)[1] > 0.01  # really a KL rejection

    # (3) NaN losses are never accepted
    result = backtracking_line_search(theta0, direction.full_step, 1.0, lambda t: (math.nan, 0.0), loss0=1.0)
    assert not result.accepted and result.theta is theta0


def test_line_search_accept_ratio_and_argument_errors():
    theta0 = torch.zeros(2, dtype=torch.float64)
    step = torch.tensor([1.0, 0.0], dtype=torch.float64)

    def evaluate(t):  # loss improves by 1e-3 per unit step, far below the predicted 1.0
        return -1e-3 * float(t[0]), 0.0

    assert backtracking_line_search(theta0, step, 1.0, evaluate, loss0=0.0).accepted
    strict = backtracking_line_search(theta0, step, 1.0, evaluate, loss0=0.0, accept_ratio=0.1)
    assert not strict.accepted
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\); got 1.5"):
        backtracking_line_search(theta0, step, 1.0, evaluate, ratio=1.5)
    with pytest.raises(ValueError, match="max_kl must be a finite number > 0; got 0"):
        backtracking_line_search(theta0, step, 1.0, evaluate, max_kl=0)
    with pytest.raises(ValueError, match="theta0 and full_step must be flat vectors of the same shape"):
        backtracking_line_search(theta0, step[:1], 1.0, evaluate)


def _counted_quadratic() -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor], list[int]]:
    """A known SPD H (6×6), a gradient g, the product v ↦ H v, and the list its calls are counted in."""
    a = _spd(6, seed=4)
    g = torch.randn(6, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    calls: list[int] = []

    def fvp(v: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return a @ v

    return a, g, fvp, calls


def test_trpo_direction_scaling_on_a_known_quadratic():
    a, g, fvp, calls = _counted_quadratic()
    d = trpo_step_direction(g, fvp, max_kl=0.02, cg_iters=6, residual_tol=1e-30)
    s = torch.linalg.solve(a, g)
    torch.testing.assert_close(d.direction, s)
    assert d.curvature == pytest.approx(float(s @ a @ s), rel=1e-8)  # sᵀHs from CG's residual
    assert d.beta == pytest.approx(math.sqrt(2 * 0.02 / float(s @ a @ s)), rel=1e-8)
    assert 0.5 * float(d.full_step @ a @ d.full_step) == pytest.approx(0.02, rel=1e-8)  # ½ΔθᵀHΔθ = δ
    assert d.expected_improve == pytest.approx(-float(g @ d.full_step))
    assert len(calls) == 6, "no Fisher-vector product beyond the CG iterations"


def test_trpo_step_length_takes_the_curvature_from_cgs_residual():
    """sᵀHs comes from CG's residual (H s = g − r), not from a further product along s: for a product that is not
    linear in v (a wide secant) it is the value CG assembled, which differs from sᵀ·fvp(s)."""
    a, g, _, _ = _counted_quadratic()

    def widening(v):  # curvature that grows with the size of v, like a secant of wide finite differences
        return a @ v * (1.0 + float(v.norm()) ** 2)

    d = trpo_step_direction(g, widening, max_kl=0.02, cg_iters=6)
    assert d.beta == pytest.approx(math.sqrt(2 * 0.02 / d.curvature), rel=1e-12)
    assert d.curvature != pytest.approx(float(d.direction @ widening(d.direction)), rel=1e-3)
    with pytest.raises(TypeError, match="curvature"):
        trpo_step_direction(g, widening, curvature="product")  # type: ignore[call-arg]  # the option is gone


def test_trpo_direction_with_non_positive_curvature_gives_zero_step():
    g = torch.ones(3, dtype=torch.float64)
    direction = trpo_step_direction(g, lambda v: torch.zeros_like(v), max_kl=0.01)
    assert direction.beta == 0.0 and torch.equal(direction.full_step, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="kind must be 'fd' or 'exact'; got 'pearlmutter'"):
        make_fvp(lambda t: t.sum(), g, kind="pearlmutter")


def test_line_search_keeps_autograd_enabled_for_maml_evaluations():
    """Evaluating a candidate in MAML-TRPO re-runs the inner gradient step, so autograd must stay on."""
    from metarl.maml import adapt

    target = torch.tensor([1.0, -1.0], dtype=torch.float64)

    def evaluate(flat):  # loss after one inner SGD step on ½‖w − target‖² from w = flat
        w = flat.detach().requires_grad_(True)
        adapted = adapt(
            {"w": unflatten_like(w, {"w": target})["w"]},
            lambda p: 0.5 * ((p["w"] - target) ** 2).sum(),
            steps=1,
            step_size=0.5,
            first_order=True,
        )
        return ((adapted["w"] - target) ** 2).sum(), torch.tensor(0.0)

    theta0 = torch.zeros(2, dtype=torch.float64)
    result = backtracking_line_search(theta0, target.clone(), 1.0, evaluate)
    assert result.accepted and result.step_fraction == 1.0 and result.loss == pytest.approx(0.0)
