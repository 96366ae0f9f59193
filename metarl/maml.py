"""The meta-learner core: gradient-based fast adaptation of a parameter dict (MAML, Finn et al. 2017).

This is the ONE place in metarl that knows how to adapt parameters.  RL (MAML Alg. 3, loss = REINFORCE
surrogate), supervised learning (MAML Alg. 2, loss = MSE / cross-entropy) and MALTML (adaptation used at two
levels) all call :func:`adapt`.

Parameters are plain ``dict[str, Tensor]`` (:data:`Params`) and models are called functionally through
:func:`torch.func.functional_call`, so adapted parameters never overwrite a module's own ``nn.Parameter``\\ s.

**Batched tasks.**  A meta-batch of N tasks is adapted in ONE autograd call instead of a Python loop: the
parameters are *stacked* with a leading task dimension (:func:`stack_params`, shape ``[N, *shape]``) and the
loss function returns the **sum** of the per-task losses ``Σ_i L_i(θ_i)``.  Because task i's loss depends only
on its own slice ``θ_i``, the cross terms of the gradient vanish:

    ∂/∂θ_i Σ_j L_j(θ_j) = ∂L_i/∂θ_i        (the i-th slice of the stacked gradient)

so one backward pass returns every per-task inner gradient at once, and the update ``θ'_i = θ_i − α ∇L_i(θ_i)``
is a single tensor expression over all tasks.  The loss must be a *sum* over tasks, not a mean: a mean would
silently scale every inner step by 1/N.  The forward pass over stacked parameters is
:func:`batched_functional_forward` (``vmap`` over ``functional_call``) or a model's own batched forward
(e.g. :meth:`metarl.rl.policy.GaussianMLPPolicy.forward_batched`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import torch
from torch import nn

__all__ = [
    "Params",
    "StepSize",
    "adapt",
    "batched_functional_forward",
    "functional_forward",
    "inner_step_size",
    "repeat_per_task",
    "stack_params",
]

#: A model's parameters (or adapted parameters) by name, as returned by ``dict(module.named_parameters())``.
Params: TypeAlias = dict[str, torch.Tensor]

#: What :func:`adapt` accepts as ``step_size`` (see its docstring).
StepSize: TypeAlias = (
    float | torch.Tensor | Sequence[float] | Callable[[int], float] | Mapping[str, torch.Tensor]
)


def _check_scalar_step(value: Any, where: str) -> float | torch.Tensor:
    """Validate one scalar step size α (a positive finite number, or a 0-d tensor that may be learned)."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            raise ValueError(f"{where} must be a scalar; got a tensor of shape {tuple(value.shape)}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a real number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{where} must be a finite number > 0; got {value!r}")
    return value


def inner_step_size(step_size: StepSize, k: int) -> float | torch.Tensor | Mapping[str, torch.Tensor]:
    """The step size α_k of inner step ``k`` (0-based) under the schedule ``step_size`` (see :func:`adapt`).

    A sequence shorter than the number of steps repeats its last value, so ``(0.1, 0.05)`` gives the schedule
    the MAML paper evaluates RL with (App. A.2: α = 0.1 for the first step, 0.05 for all later ones).
    """
    if isinstance(step_size, Mapping):
        return step_size
    if isinstance(step_size, torch.Tensor) or isinstance(step_size, numbers.Real):
        return _check_scalar_step(step_size, "step_size")
    if isinstance(step_size, (str, bytes)):
        raise TypeError(
            f"step_size must be a number, a sequence, a callable or a dict; got str {step_size!r}"
        )
    if isinstance(step_size, Sequence):
        if len(step_size) == 0:
            raise ValueError("step_size is an empty sequence; give at least one step size")
        value = step_size[min(k, len(step_size) - 1)]
        return _check_scalar_step(value, f"step_size[{min(k, len(step_size) - 1)}]")
    if callable(step_size):
        return _check_scalar_step(step_size(k), f"step_size({k})")
    raise TypeError(
        f"step_size must be a number, a sequence, a callable k -> α or a dict of tensors; "
        f"got {type(step_size).__name__}"
    )


def _check_step_dict(step_size: Mapping[str, torch.Tensor], params: Params, adapted: list[str]) -> None:
    """Meta-SGD per-parameter step sizes: one tensor per adapted parameter, broadcastable to its shape."""
    missing = [name for name in adapted if name not in step_size]
    extra = [name for name in step_size if name not in params]
    if missing or extra:
        raise ValueError(
            f"step_size dict must have exactly one entry per adapted parameter; "
            f"missing {missing}, unknown {extra}"
        )
    for name in adapted:
        alpha = step_size[name]
        if not isinstance(alpha, torch.Tensor):
            raise TypeError(f"step_size[{name!r}] must be a tensor; got {type(alpha).__name__}")
        shape = tuple(params[name].shape)
        try:
            broadcast = torch.broadcast_shapes(tuple(alpha.shape), shape)
        except RuntimeError:
            broadcast = None
        if broadcast != shape:
            raise ValueError(
                f"step_size[{name!r}] has shape {tuple(alpha.shape)}, which does not broadcast to the "
                f"parameter's shape {shape}"
            )


def adapt(
    params: Params,
    loss_fn: Callable[[Params], torch.Tensor],
    steps: int = 1,
    step_size: StepSize = 0.1,
    first_order: bool = False,
) -> Params:
    """Take ``steps`` gradient-descent steps on ``loss_fn`` from ``params`` and return the adapted parameters.

    Implements the inner update of MAML (Alg. 1 line 6, Alg. 2 line 7, Alg. 3 line 7)::

        θ^(0) = θ,    θ^(k+1) = θ^(k) − α_k ∇_θ L(θ^(k)),    θ' = θ^(steps)

    With ``first_order=False`` each inner gradient is taken with ``create_graph=True``, so the returned θ' is a
    differentiable function of θ and a later ``backward`` of an outer loss L(θ') gives the exact second-order
    meta-gradient ``(I − α ∇²L(θ)) ∇L_outer(θ')`` (MAML Eq. 1; Hessian-vector products through the inner step).
    With ``first_order=True`` (FOMAML, MAML Sec. 5.2) the inner gradients are constants: θ' still depends on θ
    through the identity, so the outer gradient is ``∇L_outer(θ')`` evaluated at θ'.

    :param params: the starting parameters θ.  Tensors with ``requires_grad=False`` are treated as constants
        and are not adapted (e.g. a context-vector learner adapts only its context, MAML App. C.2).  They may
        be *stacked* (leading task dimension N, see :func:`stack_params`); then ``loss_fn`` must return the
        **sum** of the per-task losses and one backward pass yields all per-task gradients (module docstring).
    :param loss_fn: maps a parameter dict to a scalar loss L(θ) (for stacked parameters: Σ_i L_i(θ_i)).
        Called once per step.
    :param steps: number of inner gradient steps (≥ 0; 0 returns ``params`` unchanged, e.g. the "pretrained"
        comparison, which is MAML with no inner step).
    :param step_size: the inner step size α, one of

        * a positive float, used for every step (MAML App. A.2: α = 0.1 for RL);
        * a 0-d tensor (a learned scalar step size; gradients flow into it);
        * a sequence ``(α_0, α_1, ...)``; a sequence shorter than ``steps`` repeats its last value, so
          ``(0.1, 0.05)`` is the RL evaluation schedule of App. A.2;
        * a callable ``k -> α_k`` (k = 0, 1, ... is the step index);
        * a dict ``{name: tensor}`` of per-parameter (per-element) step sizes, broadcastable to each adapted
          parameter's shape — Meta-SGD (Li et al. 2017) style learned step sizes; the same tensors are used
          at every step and receive gradients from the outer loss.
    :param first_order: drop the second-order terms (FOMAML): the inner gradients are detached.
    :returns: a new dict with the same keys (and order) as ``params``; the adapted entries are
        θ^(steps), the constant entries are passed through.
    :raises TypeError: for a non-int ``steps``, a non-scalar loss or a malformed ``step_size``.
    :raises ValueError: for ``steps < 0``, a non-positive/non-finite step size, no adaptable parameter or a
        ``step_size`` dict that does not match the parameters.
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an int; got {type(steps).__name__} {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    if not isinstance(params, Mapping) or not params:
        raise ValueError("params must be a non-empty dict of tensors")
    for name, value in params.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"params[{name!r}] must be a tensor; got {type(value).__name__}")
    adapted = [name for name, value in params.items() if value.requires_grad]
    if not adapted:
        raise ValueError(
            "no parameter requires grad, so there is nothing to adapt; pass tensors with requires_grad=True "
            "(e.g. dict(module.named_parameters())) that were not derived under torch.no_grad()"
        )
    if isinstance(step_size, Mapping):
        _check_step_dict(step_size, params, adapted)
    else:
        inner_step_size(step_size, 0)  # validate the schedule's type up front, even when steps == 0

    current: Params = dict(params)
    # Inner gradients need autograd even if the caller evaluates under torch.no_grad() (test-time fine-tuning).
    with torch.enable_grad():
        for k in range(steps):
            loss = loss_fn(current)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                raise TypeError(
                    f"loss_fn must return a scalar tensor (the sum of per-task losses for stacked params); "
                    f"got {shape}"
                )
            # ∇_θ L(θ^(k)) for every adapted tensor; with create_graph the gradient is itself differentiable,
            # which is what makes the outer gradient second order (MAML Sec. 2.2, "a gradient through a gradient").
            grads = torch.autograd.grad(
                loss,
                [current[name] for name in adapted],
                create_graph=not first_order,
                allow_unused=True,
                materialize_grads=True,  # a parameter the loss does not touch gets a zero gradient
            )
            alpha = inner_step_size(step_size, k)
            updated = dict(current)
            for name, grad in zip(adapted, grads):
                if first_order:
                    grad = grad.detach()  # FOMAML: ∇L(θ^(k)) is a constant of the outer problem
                step = alpha[name] if isinstance(alpha, Mapping) else alpha
                # θ^(k+1) = θ^(k) − α_k ∇L(θ^(k))   (MAML Alg. 3 line 7)
                updated[name] = current[name] - step * grad
            current = updated
    return current


def stack_params(params: Params, n: int) -> Params:
    """Repeat every parameter along a new leading task dimension: ``[*shape] -> [n, *shape]``.

    The result is a broadcast view (``expand``, no copy), differentiable back to ``params``: the gradient of a
    loss w.r.t. the original θ is the sum over tasks of the per-task gradients — exactly the meta-gradient
    ``∇_θ Σ_i L_i(θ'_i)`` of MAML Alg. 3 line 10 when the loss is evaluated at the adapted stacked parameters.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (the number of tasks) must be an int >= 1; got {n!r}")
    return {name: value.unsqueeze(0).expand(n, *value.shape) for name, value in params.items()}


def repeat_per_task(params: Params, n: int) -> Params:
    """``[F, *shape] -> [F·n, *shape]``: every family's parameters repeated for its n tasks (family-major).

    Differentiable: the gradient w.r.t. family f's slice is the sum over its n tasks' slices.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (tasks per family) must be an int >= 1; got {n!r}")
    out = {}
    for name, value in params.items():
        f = value.shape[0]
        out[name] = value.unsqueeze(1).expand(f, n, *value.shape[1:]).reshape(f * n, *value.shape[1:])
    return out


def functional_forward(module: nn.Module, params: Mapping[str, torch.Tensor], *inputs: torch.Tensor) -> Any:
    """Call ``module`` with ``params`` in place of its own parameters (``torch.func.functional_call``).

    Parameters (and buffers) missing from ``params`` fall back to the module's own tensors.
    """
    return torch.func.functional_call(module, dict(params), inputs)


def batched_functional_forward(
    module: nn.Module, stacked_params: Mapping[str, torch.Tensor], *inputs: torch.Tensor
) -> Any:
    """Evaluate ``module`` once per task with per-task parameters, vectorised over the task dimension.

    ``stacked_params[name]`` has shape ``[N, *param_shape]`` and every input has a leading task dimension N;
    the output has a leading task dimension N.  Implemented as ``torch.func.vmap`` over
    :func:`functional_forward`, so it supports double backward (second-order MAML) for standard layers.
    The module must return tensors (or tuples/dicts of tensors) — ``vmap`` cannot return a distribution object;
    for :class:`~metarl.rl.policy.GaussianMLPPolicy` use its ``forward_batched`` (batched GEMMs, also faster).
    """
    if not stacked_params:
        raise ValueError("stacked_params is empty")
    sizes = {name: value.shape[0] if value.ndim > 0 else None for name, value in stacked_params.items()}
    n_tasks = next(iter(sizes.values()))
    bad = {name: size for name, size in sizes.items() if size is None or size != n_tasks}
    if bad:
        raise ValueError(
            f"every stacked parameter needs the same leading task dimension; got {sizes} (mismatch: {bad})"
        )
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[0] != n_tasks:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"inputs[{i}] must have a leading task dimension of size {n_tasks}; got {shape}")

    def single(task_params: dict[str, torch.Tensor], *task_inputs: torch.Tensor) -> Any:
        return torch.func.functional_call(module, task_params, task_inputs)

    return torch.func.vmap(single)(dict(stacked_params), *inputs)


def adapt_subset(
    params: Params,
    names: Sequence[str],
    loss_fn: Callable[[Params], torch.Tensor],
    steps: int = 1,
    step_size: StepSize = 0.1,
    first_order: bool = False,
) -> Params:
    """:func:`adapt` restricted to ``params[names]``; the other entries are held fixed.

    The fixed entries enter ``loss_fn`` unchanged and are *not* detached, so an outer loss of the result still
    differentiates through them (the meta-step trains every parameter, the inner step only ``names``), and —
    unless ``first_order`` — through the adapted entries' dependence on them (second order).  Returns a dict with
    the keys and order of ``params``.  With ``names`` covering every key this is exactly ``adapt``.
    """
    unknown = [name for name in names if name not in params]
    if unknown or not names:
        raise ValueError(f"adapted parameter names {list(names)} must be a non-empty subset of {list(params)}")
    if len(set(names)) == len(params):
        return adapt(params, loss_fn, steps=steps, step_size=step_size, first_order=first_order)
    fixed = {name: value for name, value in params.items() if name not in names}

    def subset_loss(subset: Params) -> torch.Tensor:
        return loss_fn({**fixed, **subset})

    adapted = adapt(
        {name: params[name] for name in names}, subset_loss, steps=steps, step_size=step_size,
        first_order=first_order,
    )
    return {name: adapted.get(name, value) for name, value in params.items()}
