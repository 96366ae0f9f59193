"""TRPO machinery for the meta-optimiser (Schulman et al. 2015, "Trust Region Policy Optimization", App. C;
MAML Sec. 5.3 / App. A.2: "we use TRPO as the meta-optimizer ... we use finite differences to compute the
Hessian-vector products for TRPO").

TRPO solves  min_θ L(θ)  s.t.  KL(θ_old, θ) ≤ δ  by

1. the search direction s = H⁻¹ g from :func:`conjugate_gradient` (g = ∇L, H = ∇²KL, the Fisher matrix),
   using only Hessian-vector products (:func:`finite_difference_hvp`, :func:`exact_hvp`, :func:`make_fvp`);
2. the largest step along −s allowed by the quadratic KL model, β = sqrt(2δ / sᵀHs)
   (:func:`trpo_step_direction`);
3. a backtracking line search on the true loss and KL (:func:`backtracking_line_search`).

In MAML-TRPO the KL is taken between the *adapted* policies, so ∇KL already contains second derivatives
through the inner step; the finite-difference HVP then needs only those (an exact HVP would need third
derivatives — the reason the paper uses finite differences).

Everything here works on flat parameter vectors (:func:`flatten` / :func:`unflatten_like`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple

import torch

from metarl.maml import Params

__all__ = [
    "LineSearchResult",
    "TRPODirection",
    "backtracking_line_search",
    "conjugate_gradient",
    "FDScheme",
    "FDStep",
    "FD_SCHEMES",
    "default_fd_eps",
    "exact_hvp",
    "finite_difference_hvp",
    "flatten",
    "make_fvp",
    "make_gauss_newton_fvp",
    "trpo_step_direction",
    "unflatten_like",
]

#: rllab's ``FiniteDifferenceHvp(base_eps=1e-8)`` (sandbox/rocky/tf/optimizers/conjugate_gradient_optimizer.py)
FD_BASE_EPS_FLOAT64 = 1e-8


# --------------------------------------------------------------------------------------------- flat params
def flatten(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate the tensors of ``params`` (in dict order) into one flat vector (differentiable)."""
    if not params:
        raise ValueError("params is empty")
    return torch.cat([value.reshape(-1) for value in params.values()])


def unflatten_like(flat: torch.Tensor, params: Mapping[str, torch.Tensor]) -> Params:
    """Split ``flat`` back into a dict shaped like ``params`` (views of ``flat``; differentiable).

    The inverse of :func:`flatten`: ``unflatten_like(flatten(p), p)`` equals ``p`` entry by entry.
    """
    if flat.ndim != 1:
        raise ValueError(f"flat must be a 1-d vector; got shape {tuple(flat.shape)}")
    sizes = [value.numel() for value in params.values()]
    if flat.numel() != sum(sizes):
        raise ValueError(f"flat has {flat.numel()} elements but params hold {sum(sizes)}")
    chunks = torch.split(flat, sizes)
    return {name: chunk.view(value.shape) for (name, value), chunk in zip(params.items(), chunks)}


# --------------------------------------------------------------------------------------------- CG
def conjugate_gradient(
    Avp: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iters: int = 10,
    residual_tol: float = 1e-10,
) -> torch.Tensor:
    """Approximately solve A x = b for a symmetric positive-definite A given only products v ↦ A v.

    The conjugate-gradient method (Demmel 1997, Applied Numerical Linear Algebra, p. 312, as in rllab's
    ``krylov.cg``), started from x = 0; TRPO uses 10 iterations (Schulman et al. 2015, App. C).  Stops early
    when the squared residual rᵀr drops below ``residual_tol``, or when a direction of non-positive (or
    non-finite) curvature pᵀAp ≤ 0 shows A is not numerically positive definite — then the iterate so far is
    returned.

    :param Avp: v ↦ A v (e.g. a damped Fisher-vector product from :func:`make_fvp`).
    :param b: right-hand side (1-d).
    :returns: x ≈ A⁻¹ b, detached.
    """
    return _cg(Avp, b, iters, residual_tol)[0]


def _cg(
    Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int, residual_tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Conjugate gradient returning (x, r) with the residual r = b − A x maintained by the recursion."""
    if isinstance(iters, bool) or not isinstance(iters, numbers.Integral) or iters < 1:
        raise ValueError(f"iters must be an int >= 1; got {iters!r}")
    if b.ndim != 1:
        raise ValueError(f"b must be a 1-d vector; got shape {tuple(b.shape)}")
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b contains NaN or inf")
    b = b.detach()
    x = torch.zeros_like(b)
    r = b.clone()  # residual r = b − A x
    p = b.clone()  # search direction
    rdotr = torch.dot(r, r)
    for _ in range(iters):
        if rdotr.item() < residual_tol:
            break
        z = Avp(p).detach()
        curvature = torch.dot(p, z)
        if not bool(torch.isfinite(curvature)) or curvature.item() <= 0.0:
            break  # A is not positive definite along p: keep the iterate so far
        alpha = rdotr / curvature  # step length along p
        x = x + alpha * p
        r = r - alpha * z
        new_rdotr = torch.dot(r, r)
        p = r + (new_rdotr / rdotr) * p  # A-conjugate next direction
        rdotr = new_rdotr
    return x, r


# --------------------------------------------------------------------------------------------- HVPs
#: the finite-difference step: a number, or a function (θ, v) ↦ ε (e.g. a rule of an original implementation)
FDStep = float | Callable[[torch.Tensor, torch.Tensor], float]
#: "central": [∇f(θ+εv) − ∇f(θ−εv)] / 2ε (rllab ``symmetric=True``, two gradients per product);
#: "forward": [∇f(θ+εv) − ∇f(θ)] / ε with ∇f(θ) computed once (rllab ``symmetric=False``, one gradient per
#: product after the first)
FDScheme = Literal["central", "forward"]
FD_SCHEMES: tuple[str, ...] = ("central", "forward")


def _check_fd_scheme(scheme: str, name: str = "scheme") -> None:
    if scheme not in FD_SCHEMES:
        raise ValueError(f"{name} must be one of {FD_SCHEMES}; got {scheme!r}")


def default_fd_eps(theta: torch.Tensor, v: torch.Tensor, scheme: FDScheme = "central") -> float:
    """The default finite-difference step ε of :func:`finite_difference_hvp` for this θ, v, dtype and scheme.

    * float64: rllab's rule ε = base_eps / (‖θ‖ + 1e-8), base_eps = 1e-8 (``FiniteDifferenceHvp``,
      ``sandbox/rocky/tf/optimizers/conjugate_gradient_optimizer.py``, ``symmetric=True``: the paper's).  The θ ± εv
      perturbation has norm 1e-8·‖v‖/‖θ‖, so the accuracy depends on ‖v‖ (~3e-6 relative error for ‖v‖ = 1,
      ~4e-3 for ‖v‖ = 1e-3 on the test policy).  In float32 this perturbation is below the rounding error of θ
      and the product would be garbage, hence:
    * float32 (and lower): ε from the perturbation size, ‖εv‖ = u^(1/3) · (1 + ‖θ‖/√D), u the unit round-off of
      θ's dtype and D = θ.numel().  u^(1/3) balances the O(ε²) truncation error of the central difference
      against its O(u/ε) rounding error (≈ 4.9e-3 in float32); (1 + ‖θ‖/√D) is the root-mean-square parameter
      scale, so each coordinate moves by about u^(1/3) of its typical size, whatever ‖v‖ is.  (With ReLU units
      the truncation error is O(ε), not O(ε²), because a few units switch sides between θ ± εv; on the paper's
      100×100 ReLU policy u^(1/3) was still the best of {0.03, 0.1, 0.3, 1, 3}·u^(1/3) in float32, relative
      error 6e-4 vs the exact HVP.)  For the ``"forward"`` scheme the exponent is 1/2 (its truncation error is
      O(ε), so u^(1/2) balances it: ≈ 2.4e-4 in float32).

    tests/test_optim.py checks both against the exact float64 HVP.
    """
    _check_fd_scheme(scheme)
    theta_norm = float(torch.linalg.vector_norm(theta.detach().to(torch.float64)))
    if theta.dtype == torch.float64:
        return FD_BASE_EPS_FLOAT64 / (theta_norm + 1e-8)
    v_norm = float(torch.linalg.vector_norm(v.detach().to(torch.float64)))
    if v_norm == 0.0:
        return 1.0  # Hv = 0; any ε gives it
    unit_roundoff = torch.finfo(theta.dtype).eps / 2
    rms_scale = 1.0 + theta_norm / math.sqrt(theta.numel())
    exponent = 1.0 / 3.0 if scheme == "central" else 0.5
    return unit_roundoff**exponent * rms_scale / v_norm


def finite_difference_hvp(
    grad_fn: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    v: torch.Tensor,
    eps: FDStep | None = None,
    scheme: FDScheme = "central",
    grad_at_theta: torch.Tensor | None = None,
) -> torch.Tensor:
    """H v by a finite difference of gradients (the approach of MAML Sec. 5.3; rllab ``FiniteDifferenceHvp``).

    * ``scheme="central"`` (rllab's ``symmetric=True``, the default): [∇f(θ + εv) − ∇f(θ − εv)] / 2ε, two
      gradient evaluations per product.
    * ``scheme="forward"`` (rllab's ``symmetric=False``): [∇f(θ + εv) − ∇f(θ)] / ε, one gradient evaluation
      per product when ∇f(θ) is passed as ``grad_at_theta`` (:func:`make_fvp` computes it once for all CG
      iterations).  Its truncation error is O(ε) instead of O(ε²); with ReLU units the central difference is
      O(ε) too (units switch sides), so in float32 on the paper's policy the two are about equally accurate.

    :param grad_fn: flat θ ↦ flat ∇f(θ).  It is given a fresh detached tensor and must build its own graph
        (e.g. ``θ.requires_grad_()``, unflatten, evaluate f, ``torch.autograd.grad``).
    :param theta: the flat point θ (1-d).
    :param v: the flat direction (same shape and dtype).
    :param eps: the step ε, a function (θ, v) ↦ ε, or ``None`` for :func:`default_fd_eps` (rllab's rule in
        float64, a round-off-aware step in float32).
    :param scheme: ``"central"`` or ``"forward"``.
    :param grad_at_theta: ∇f(θ) for ``scheme="forward"`` (computed here when ``None``).
    :returns: the approximate H v, detached.
    """
    _check_flat_pair(theta, v)
    _check_fd_scheme(scheme)
    if grad_at_theta is not None and scheme != "forward":
        raise ValueError("grad_at_theta is only used by scheme='forward'")
    if eps is None:
        eps = default_fd_eps(theta, v, scheme)
    elif callable(eps):
        eps = eps(theta, v)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0; got {eps!r}")
    theta, v = theta.detach(), v.detach()
    g_plus = _checked_grad(grad_fn, theta + eps * v, theta)  # ∇f(θ + εv)
    if scheme == "central":
        g_minus = _checked_grad(grad_fn, theta - eps * v, theta)  # ∇f(θ − εv)
        return (g_plus - g_minus) / (2.0 * eps)
    if grad_at_theta is None:
        grad_at_theta = _checked_grad(grad_fn, theta, theta)  # ∇f(θ)
    elif grad_at_theta.shape != theta.shape:
        raise ValueError(
            f"grad_at_theta must have the shape of theta {tuple(theta.shape)}; got {tuple(grad_at_theta.shape)}"
        )
    return (g_plus - grad_at_theta.detach()) / eps


def _checked_grad(
    grad_fn: Callable[[torch.Tensor], torch.Tensor], point: torch.Tensor, theta: torch.Tensor
) -> torch.Tensor:
    grad = grad_fn(point).detach()
    if grad.shape != theta.shape:
        raise ValueError(
            f"grad_fn must return a flat gradient of shape {tuple(theta.shape)}; got {tuple(grad.shape)}"
        )
    return grad


def exact_hvp(
    grad_fn_with_graph: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    v: torch.Tensor,
) -> torch.Tensor:
    """H v = ∇_θ (∇f(θ)ᵀ v) by double backpropagation (Pearlmutter 1994; rllab ``PerlmutterHvp``).

    :param grad_fn_with_graph: flat θ ↦ flat ∇f(θ) computed with ``create_graph=True`` (so it can be
        differentiated again).  It is given a detached leaf with ``requires_grad=True``.
    :param theta: the flat point θ.
    :param v: the flat direction.
    :returns: H v, detached.  For many products at one θ, :func:`make_fvp` with ``kind="exact"`` builds ∇f
        once and reuses its graph.
    """
    _check_flat_pair(theta, v)
    with torch.enable_grad():
        leaf = theta.detach().requires_grad_(True)
        grad = grad_fn_with_graph(leaf)
        if not grad.requires_grad:
            raise ValueError("grad_fn_with_graph returned a gradient without a graph; use create_graph=True")
        (hv,) = torch.autograd.grad(
            grad, leaf, grad_outputs=v.detach(), allow_unused=True, materialize_grads=True
        )
    return hv.detach()


def _check_flat_pair(theta: torch.Tensor, v: torch.Tensor) -> None:
    if theta.ndim != 1 or v.shape != theta.shape:
        raise ValueError(
            f"theta and v must be flat vectors of the same shape; got {tuple(theta.shape)} and {tuple(v.shape)}"
        )
    if v.dtype != theta.dtype:
        raise TypeError(f"v has dtype {v.dtype} but theta has {theta.dtype}")


def make_fvp(
    f: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    kind: Literal["fd", "exact"] = "fd",
    damping: float = 1e-5,
    eps: FDStep | None = None,
    fd_scheme: FDScheme = "central",
    grad_at_theta: torch.Tensor | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The damped Fisher-vector product v ↦ (∇²f(θ) + damping·I) v of a scalar function f (the mean KL).

    :param f: flat θ ↦ scalar f(θ), differentiable (in MAML-TRPO: the mean KL between the adapted policies
        of θ_old and of θ, with the inner step taken at second order so that ∇f is exact).
    :param theta: the flat point (θ_old).
    :param kind: ``"fd"`` — :func:`finite_difference_hvp` (two gradients of f per product, as MAML/rllab);
        ``"exact"`` — double backprop; ∇f(θ) is built once with ``create_graph=True`` and each product is one
        more backward pass through it (needs third derivatives through a second-order inner step).
    :param damping: λ of the damping term λv (rllab ``reg_coeff=1e-5``); keeps CG well posed.
    :param eps: finite-difference step, a function (θ, v) ↦ ε, or ``None`` for :func:`default_fd_eps`
        (``kind="fd"`` only).
    :param fd_scheme: ``"central"`` (two gradients of f per product) or ``"forward"`` (∇f(θ) once, when the
        product is built, then one gradient per product); ``kind="fd"`` only, see :func:`finite_difference_hvp`.
    :param grad_at_theta: ∇f(θ) when the caller knows it (``fd_scheme="forward"`` only), e.g. exactly zero for
        a KL at its own reference point; it is then not computed, saving one gradient evaluation.
    """
    if not (math.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0; got {damping!r}")
    if theta.ndim != 1:
        raise ValueError(f"theta must be a flat vector; got shape {tuple(theta.shape)}")
    theta = theta.detach()

    if kind == "fd":

        def grad_fn(point: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                leaf = point.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(f(leaf), leaf, allow_unused=True, materialize_grads=True)
            return grad

        _check_fd_scheme(fd_scheme, "fd_scheme")
        if grad_at_theta is not None and fd_scheme != "forward":
            raise ValueError("grad_at_theta is only used by fd_scheme='forward'")
        # forward differences: ∇f(θ) once (unless given), shared by every product
        g0 = grad_at_theta
        if fd_scheme == "forward" and g0 is None:
            g0 = _checked_grad(grad_fn, theta, theta)

        def fvp(v: torch.Tensor) -> torch.Tensor:
            return finite_difference_hvp(grad_fn, theta, v, eps, fd_scheme, g0) + damping * v.detach()

        return fvp

    if kind == "exact":
        if eps is not None or fd_scheme != "central" or grad_at_theta is not None:
            raise ValueError("eps, fd_scheme and grad_at_theta are only used by kind='fd'")
        with torch.enable_grad():
            leaf = theta.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)  # ∇f(θ) with its graph

        def fvp_exact(v: torch.Tensor) -> torch.Tensor:
            _check_flat_pair(theta, v)
            # ∇_θ (∇f(θ)ᵀ v) = H v; keep the graph of ∇f for the next CG iteration
            (hv,) = torch.autograd.grad(
                grad,
                leaf,
                grad_outputs=v.detach(),
                retain_graph=True,
                allow_unused=True,
                materialize_grads=True,
            )
            return hv.detach() + damping * v.detach()

        return fvp_exact

    raise ValueError(f"kind must be 'fd' or 'exact'; got {kind!r}")


def make_gauss_newton_fvp(
    outputs_fn: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    metric: torch.Tensor,
    damping: float = 1e-5,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The damped Fisher-vector product v ↦ (Jᵀ M J + damping·I) v, exact for a KL at its minimum θ_old.

    Write the mean KL as a function of the distribution parameters, f(θ) = D(z(θ)), z = ``outputs_fn(θ)``
    (e.g. the concatenated means and log-stds of the adapted policy on every sample).  Then

        ∇²f(θ) = Jᵀ ∇²D J + Σ_k ∂D/∂z_k ∇²z_k,    J = ∂z/∂θ,

    and at θ = θ_old the second term vanishes (∂D/∂z = 0 at the KL's minimum), so ∇²f(θ_old) = Jᵀ M J with
    M = ∇²D the Fisher metric of the output distribution — the Gauss-Newton form of the Fisher matrix.  For the
    mean KL(π_old ‖ π) of diagonal Gaussians over B samples, with z = [μ, log σ] per sample and dimension,
    M is diagonal: ``metric = [1/σ_old², 2] / B``.

    Unlike :func:`make_fvp` (finite differences of ∇f, or exact double backprop through ∇f), this needs only
    J and Jᵀ: in MAML-TRPO, second derivatives through the inner step and no third derivatives, and no
    finite-difference error.  J v is obtained by the double-vjp trick (differentiate u ↦ Jᵀu, built once with
    ``create_graph=True``, with respect to u), so every product costs two backward passes through a graph that
    is built once here.

    :param outputs_fn: flat θ ↦ z (any shape), differentiable; for MAML-TRPO the inner step must be taken at
        second order (``adapt(..., first_order=False)``) so that J includes ∂θ'/∂θ = I − α∇²L_inner.
    :param theta: the flat point θ_old.
    :param metric: M as a tensor of z's shape (the diagonal of ∇²D at z(θ_old)).
    :param damping: λ of the damping term λv (rllab ``reg_coeff=1e-5``).
    """
    if not (math.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0; got {damping!r}")
    if theta.ndim != 1:
        raise ValueError(f"theta must be a flat vector; got shape {tuple(theta.shape)}")
    theta = theta.detach()
    metric = metric.detach()
    with torch.enable_grad():
        leaf = theta.clone().requires_grad_(True)
        z = outputs_fn(leaf)
        if z.shape != metric.shape:
            raise ValueError(
                f"metric has shape {tuple(metric.shape)} but outputs_fn returned {tuple(z.shape)}"
            )
        u = torch.zeros_like(z, requires_grad=True)
        (jt_u,) = torch.autograd.grad(z, leaf, grad_outputs=u, create_graph=True)  # Jᵀu, linear in u

    def fvp(v: torch.Tensor) -> torch.Tensor:
        _check_flat_pair(theta, v)
        (jv,) = torch.autograd.grad(jt_u, u, grad_outputs=v.detach(), retain_graph=True)  # J v
        (hv,) = torch.autograd.grad(z, leaf, grad_outputs=metric * jv, retain_graph=True)  # Jᵀ M J v
        return hv.detach() + damping * v.detach()

    return fvp


# --------------------------------------------------------------------------------------------- TRPO step
class TRPODirection(NamedTuple):
    """The TRPO step before the line search (:func:`trpo_step_direction`).

    :ivar full_step: the additive step Δθ = −β s (θ_new = θ_old + Δθ at step fraction 1).
    :ivar direction: s ≈ H⁻¹ g from conjugate gradient.
    :ivar beta: β = sqrt(2 δ / sᵀHs), 0 if the curvature sᵀHs is not positive.
    :ivar curvature: sᵀHs (with the damped H).
    :ivar expected_improve: the first-order predicted decrease of the loss, −gᵀΔθ = β gᵀs.
    """

    full_step: torch.Tensor
    direction: torch.Tensor
    beta: float
    curvature: float
    expected_improve: float


def trpo_step_direction(
    g: torch.Tensor,
    fvp: Callable[[torch.Tensor], torch.Tensor],
    max_kl: float = 0.01,
    cg_iters: int = 10,
    residual_tol: float = 1e-10,
) -> TRPODirection:
    """The TRPO natural-gradient step for minimising a loss with gradient g under KL ≤ max_kl.

    Schulman et al. 2015, App. C: solve H s = g by CG, then scale so the quadratic model of the KL,
    ½ (βs)ᵀ H (βs), equals δ = ``max_kl``::

        s = H⁻¹ g,    β = sqrt(2 δ / sᵀ H s),    Δθ = −β s

    sᵀHs is taken from CG's residual (H s = g − r), which saves one Fisher-vector product (rllab's optimizer
    spends one more product on it; the two agree for a product linear in v).
    If sᵀHs is not positive and finite (H not positive definite along s, e.g. a noisy finite-difference
    HVP), β = 0 and the step is zero, which the line search then rejects (no update, not a crash).

    :param g: flat gradient of the loss (the negative surrogate objective) at θ_old.
    :param fvp: v ↦ H v, e.g. :func:`make_fvp` (damped).
    :param max_kl: δ, the trust-region size (0.01 in MAML/rllab).
    :param cg_iters: CG iterations (10).
    """
    if not (math.isfinite(max_kl) and max_kl > 0):
        raise ValueError(f"max_kl must be a finite number > 0; got {max_kl!r}")
    g = g.detach()
    s, residual = _cg(fvp, g, cg_iters, residual_tol)
    hs = g - residual  # CG maintains r = g − H s, so H s = g − r: sᵀHs without another Fisher-vector product
    shs = float(torch.dot(s, hs))
    if math.isfinite(shs) and shs > 0.0:
        beta = math.sqrt(2.0 * max_kl / shs)  # β = sqrt(2δ / sᵀHs)
    else:
        beta = 0.0
    full_step = -beta * s
    expected_improve = beta * float(torch.dot(g, s))  # −gᵀΔθ
    return TRPODirection(full_step, s, beta, shs, expected_improve)


def _as_float(value: float | torch.Tensor) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


class LineSearchResult(NamedTuple):
    """Outcome of :func:`backtracking_line_search`.

    :ivar accepted: whether a step satisfied both conditions.
    :ivar theta: the accepted θ, or θ0 itself (restored, bit-for-bit) when rejected.
    :ivar step_fraction: the accepted fraction of the full step (ratio^k), 0.0 when rejected.
    :ivar loss: the loss at ``theta`` (loss0 when rejected).
    :ivar kl: the KL at ``theta`` (0.0 when rejected: θ0 is the old policy).
    :ivar n_steps: how many candidate steps were evaluated.
    """

    accepted: bool
    theta: torch.Tensor
    step_fraction: float
    loss: float
    kl: float
    n_steps: int


def backtracking_line_search(
    theta0: torch.Tensor,
    full_step: torch.Tensor,
    expected_improve: float,
    evaluate: Callable[[torch.Tensor], tuple[float | torch.Tensor, float | torch.Tensor]],
    max_kl: float = 0.01,
    ratio: float = 0.8,
    max_steps: int = 15,
    loss0: float | torch.Tensor | None = None,
    accept_ratio: float = 0.0,
    apply: Callable[[torch.Tensor], None] | None = None,
) -> LineSearchResult:
    """Backtracking line search of TRPO (Schulman et al. 2015, App. C; rllab ``ConjugateGradientOptimizer``).

    Tries θ = θ0 + ratio^k · full_step for k = 0, …, max_steps − 1 and accepts the first one with

        loss(θ) < loss0   and   KL(θ) ≤ max_kl

    (and, if ``accept_ratio > 0``, an actual improvement of at least ``accept_ratio · ratio^k ·
    expected_improve``, the extra test of Schulman's reference code; rllab/MAML use only the two above).
    NaN losses or KLs never pass.  If no step passes, the result is θ0 itself and ``accepted=False``.

    :param theta0: flat θ_old (never modified).
    :param full_step: flat Δθ (e.g. :attr:`TRPODirection.full_step`).
    :param expected_improve: first-order predicted decrease at the full step (``TRPODirection``).
    :param evaluate: θ ↦ (loss(θ), KL(θ_old, θ)); floats or 0-d tensors.  It is called with a detached θ and
        with autograd enabled (MAML-TRPO re-runs the inner gradient step inside it); wrap its body in
        ``torch.no_grad()`` yourself where no gradient is needed.
    :param max_kl: δ (0.01).
    :param ratio: backtracking factor (0.8).
    :param max_steps: number of candidates (15).
    :param loss0: loss(θ0) if already known; otherwise ``evaluate(theta0)`` is called once.
    :param accept_ratio: optional minimum ratio of actual to expected improvement (0 = rllab semantics).
    :param apply: optional ``θ -> None`` called once at the end with the result θ (θ0 when rejected), for
        callers whose ``evaluate`` writes θ into a model and must have it restored.
    """
    if theta0.ndim != 1 or full_step.shape != theta0.shape:
        raise ValueError(
            f"theta0 and full_step must be flat vectors of the same shape; got {tuple(theta0.shape)} "
            f"and {tuple(full_step.shape)}"
        )
    if not (math.isfinite(max_kl) and max_kl > 0):
        raise ValueError(f"max_kl must be a finite number > 0; got {max_kl!r}")
    if not (0.0 < ratio < 1.0):
        raise ValueError(f"ratio must be in (0, 1); got {ratio!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1; got {max_steps!r}")
    if not (math.isfinite(accept_ratio) and accept_ratio >= 0):
        raise ValueError(f"accept_ratio must be a finite number >= 0; got {accept_ratio!r}")

    # No torch.no_grad() here: in MAML-TRPO, evaluating a candidate θ re-runs the inner adaptation, which needs
    # autograd for the inner gradient.  The candidates themselves are detached.
    if loss0 is None:
        loss0, _ = evaluate(theta0.detach().clone())
    loss_before = _as_float(loss0)
    result = LineSearchResult(False, theta0, 0.0, loss_before, 0.0, max_steps)
    for k in range(max_steps):
        fraction = ratio**k
        candidate = theta0.detach() + fraction * full_step.detach()  # θ0 + ratio^k Δθ
        loss, kl = evaluate(candidate)
        loss, kl = _as_float(loss), _as_float(kl)
        improve = loss_before - loss
        ok = (
            loss < loss_before
            and kl <= max_kl
            and (accept_ratio == 0.0 or improve >= accept_ratio * fraction * expected_improve)
        )  # comparisons with NaN are False, so a NaN loss/KL is never accepted
        if ok:
            result = LineSearchResult(True, candidate, fraction, loss, kl, k + 1)
            break
    if apply is not None:
        apply(result.theta)
    return result
