"""Gaussian MLP policy with a state-independent learned log-std (MAML App. A.2 / Sec. 5.3).

The MAML RL experiments use "a neural network policy with two hidden layers of size 100, with ReLU
nonlinearities"; the action distribution is a diagonal Gaussian whose mean is the network output and whose
log standard deviation is a learned vector that does not depend on the state (as in rllab's
``GaussianMLPPolicy`` / maml_rl's ``MAMLGaussianMLPPolicy``).

The policy is purely functional over parameter dicts: ``policy(obs, params)`` evaluates it with *any*
parameters of the right names and shapes (e.g. the adapted θ'_i of :func:`metarl.maml.adapt`), and
:meth:`GaussianMLPPolicy.forward_batched` evaluates N tasks' parameter sets in one call (batched matmuls),
which the sampler uses at every time step and the meta-loss uses on the whole ``[T, N, R]`` batch.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from metarl.maml import Params

__all__ = ["GaussianMLPPolicy", "env_actions", "sample_action"]


class GaussianMLPPolicy(nn.Module):
    """π_θ(a | o) = N(μ_θ(o), diag(exp(log_std))²) with μ_θ an MLP and ``log_std`` a free parameter vector.

    Parameter names (the keys of :meth:`named_params`): ``layers.{i}.weight`` (shape ``[out, in]``),
    ``layers.{i}.bias`` (``[out]``) for the hidden and output layers, and ``log_std`` (``[act_dim]``).

    **Initialisation** follows the original MAML code (maml_rl ``MAMLGaussianMLPPolicy.create_MLP``):
    Xavier/Glorot-uniform weights (``tf.contrib.layers.xavier_initializer``), a zero output bias and
    ``log_std = log(init_std) = 0`` (``init_std=1.0``) — except the hidden biases, drawn U(±1/sqrt(fan_in))
    (PyTorch's default) so that no ReLU starts exactly on its kink for a zero observation (maml_rl used zeros;
    a different initialisation is applied after construction, e.g. by ``MAMLTRPO(..., policy_init=...)``).
    Glorot-uniform keeps
    the activation variance roughly constant through the layers; orthogonal init (common in PPO code) is not
    what the paper's policies used.

    :param obs_dim: observation size (the last dimension of ``obs``).
    :param act_dim: action size.
    :param hidden_sizes: hidden layer widths; (100, 100) as in MAML Sec. 5.3.
    :param activation: hidden nonlinearity, an ``nn.Module`` class (instantiated once, e.g. ``nn.ReLU``, the
        paper's choice) or a function ``Tensor -> Tensor`` (e.g. ``torch.tanh``, the maml_rl code default).
        It must have no parameters of its own.
    :param init_log_std: initial value of every entry of ``log_std`` (0.0 → σ = 1, as maml_rl).
    :param min_log_std: if given, ``log_std`` is clamped from below to this value in the forward pass
        (maml_rl uses ``min_std=1e-6``, i.e. ``min_log_std = log 1e-6 ≈ -13.8``); ``None`` disables the clamp.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: Sequence[int] = (100, 100),
        activation: type[nn.Module] | Callable[[torch.Tensor], torch.Tensor] = nn.ReLU,
        init_log_std: float = 0.0,
        min_log_std: float | None = None,
    ) -> None:
        super().__init__()
        for field, value in (("obs_dim", obs_dim), ("act_dim", act_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be an int >= 1; got {value!r}")
        hidden_sizes = tuple(hidden_sizes)
        for i, width in enumerate(hidden_sizes):
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ValueError(f"hidden_sizes[{i}] must be an int >= 1; got {width!r}")
        if min_log_std is not None and init_log_std < min_log_std:
            raise ValueError(f"init_log_std={init_log_std} is below min_log_std={min_log_std}")

        if inspect.isclass(activation):
            if not issubclass(activation, nn.Module):
                raise TypeError(f"activation class must be an nn.Module subclass; got {activation!r}")
            act_fn: Callable[[torch.Tensor], torch.Tensor] = activation()
        elif callable(activation):
            act_fn = activation
        else:
            raise TypeError(f"activation must be an nn.Module class or a callable; got {activation!r}")
        if isinstance(act_fn, nn.Module) and any(True for _ in act_fn.parameters()):
            raise ValueError(
                f"activation {act_fn!r} has parameters; they would not be adapted — use a parameter-free one"
            )

        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.hidden_sizes = hidden_sizes
        self.min_log_std = min_log_std
        self.activation = act_fn
        sizes = (obs_dim, *hidden_sizes, act_dim)
        self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        for i, layer in enumerate(self.layers):
            nn.init.xavier_uniform_(layer.weight)  # Glorot-uniform, as maml_rl's xavier_initializer
            if i == len(self.layers) - 1:
                nn.init.zeros_(layer.bias)  # zero output bias: initial mean action 0, as maml_rl
            else:
                # Hidden biases keep PyTorch's default U(±1/sqrt(fan_in)) instead of maml_rl's zeros: with ReLU
                # and zero biases, a zero observation (MetaNav2D's start state (0, 0)) puts every hidden unit
                # exactly on its kink, where the inner gradient is discontinuous and finite-difference
                # Hessian-vector products of the meta-KL are meaningless (the TRPO step is then rejected forever);
                # hvp="gn" and "exact" products do not have that problem.
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        # Names of the (weight, bias) pairs in forward order; fixed at construction.
        self._layer_names: tuple[tuple[str, str], ...] = tuple(
            (f"layers.{i}.weight", f"layers.{i}.bias") for i in range(len(self.layers))
        )
        self._param_shapes: dict[str, torch.Size] = {name: p.shape for name, p in self.named_parameters()}

    # ------------------------------------------------------------------------------------------------ params
    def named_params(self) -> Params:
        """The live parameters θ as a dict (the tensors are the module's own ``nn.Parameter`` objects)."""
        return dict(self.named_parameters())

    def _resolve(self, params: Mapping[str, torch.Tensor] | None) -> Mapping[str, torch.Tensor]:
        if params is None:
            return self.named_params()
        expected = (*(name for pair in self._layer_names for name in pair), "log_std")
        missing = [name for name in expected if name not in params]
        if missing:
            raise ValueError(f"params is missing {missing}; expected the keys of policy.named_params()")
        return params

    def _as_obs(self, obs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        obs = torch.as_tensor(obs, dtype=dtype)  # a numpy / float64 observation becomes the policy's dtype
        if obs.ndim == 0 or obs.shape[-1] != self.obs_dim:
            raise ValueError(
                f"obs must have last dimension obs_dim={self.obs_dim}; got shape {tuple(obs.shape)}"
            )
        return obs

    def _std(self, log_std: torch.Tensor) -> torch.Tensor:
        if self.min_log_std is not None:
            log_std = torch.clamp(log_std, min=self.min_log_std)  # σ ≥ exp(min_log_std), as maml_rl's min_std
        return torch.exp(log_std)

    # ------------------------------------------------------------------------------------------------ forward
    def forward(self, obs: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> Normal:
        """π_θ(· | obs) for one parameter set θ (``params``, default: the live parameters).

        :param obs: ``[..., obs_dim]``; any leading shape.
        :returns: a ``Normal`` with batch shape ``[..., act_dim]``; the log-density of an action vector is
            ``dist.log_prob(a).sum(-1)`` (independent dimensions).
        """
        p = self._resolve(params)
        x = self._as_obs(obs, p["log_std"].dtype)
        last = len(self._layer_names) - 1
        for i, (w_name, b_name) in enumerate(self._layer_names):
            x = torch.nn.functional.linear(x, p[w_name], p[b_name])  # h = W x + b
            if i < last:
                x = self.activation(x)
        std = self._std(p["log_std"]).expand_as(x)
        return Normal(x, std, validate_args=False)

    def forward_batched(
        self, obs: torch.Tensor, stacked_params: Mapping[str, torch.Tensor], task_dim: int = 0
    ) -> Normal:
        """π_{θ_i}(· | obs_i) for N tasks at once, each with its own parameters θ_i.

        One batched matmul per layer evaluates every task (used by the sampler at each time step and by the
        meta-loss on the ``[T, N, R, obs_dim]`` batch); it equals N separate :meth:`forward` calls.

        :param obs: observations with a task dimension of size N at ``task_dim`` (default 0, e.g.
            ``[N, R, obs_dim]``; pass ``task_dim=1`` for the ``[T, N, R, obs_dim]`` episode layout).
        :param stacked_params: ``{name: [N, *shape]}`` as produced by :func:`metarl.maml.stack_params` /
            :func:`metarl.maml.adapt`.  An entry of the un-stacked shape ``[*shape]`` is shared by all tasks.
        :returns: a ``Normal`` whose batch shape is ``obs.shape[:-1] + (act_dim,)`` (same layout as ``obs``).
            Like :meth:`forward`, it is built with ``validate_args=False`` (this is the hot path).
        """
        p = self._resolve(stacked_params)
        x = self._as_obs(obs, p["log_std"].dtype)
        if x.ndim < 2:
            raise ValueError(f"obs must have a task dimension and obs_dim; got shape {tuple(x.shape)}")
        x = torch.movedim(x, task_dim, 0)
        n_tasks = x.shape[0]
        lead_shape = x.shape[:-1]  # [N, ...]
        x = x.reshape(n_tasks, -1, self.obs_dim)  # [N, M, obs_dim]: all of a task's rows in one matrix
        last = len(self._layer_names) - 1
        for i, (w_name, b_name) in enumerate(self._layer_names):
            w, b = self._task_param(p, w_name, n_tasks), self._task_param(p, b_name, n_tasks)
            b = b.unsqueeze(-2) if b.ndim == 2 else b  # [N, 1, out] (per task) or [out] (shared)
            if w.ndim == 3:
                # h_i = b_i + x_i W_iᵀ for every task i in one fused batched GEMM: [N, M, in] @ [N, in, out]
                # (baddbmm is ~30% faster than matmul + add under double backward)
                x = _batched_affine(x, w, b)
            else:  # a weight shared by all tasks
                x = torch.nn.functional.linear(x, w) + b
            if i < last:
                x = self.activation(x)
        mean = x.reshape(*lead_shape, self.act_dim)
        log_std = self._task_param(p, "log_std", n_tasks)
        if log_std.ndim == 2:  # [N, act_dim] -> [N, 1, ..., 1, act_dim]
            log_std = log_std.reshape(n_tasks, *([1] * (mean.ndim - 2)), self.act_dim)
        std = self._std(log_std).expand_as(mean)
        mean, std = torch.movedim(mean, 0, task_dim), torch.movedim(std, 0, task_dim)
        return Normal(mean, std, validate_args=False)

    def _task_param(self, p: Mapping[str, torch.Tensor], name: str, n_tasks: int) -> torch.Tensor:
        """``p[name]`` checked to be either stacked ``[N, *shape]`` or shared ``[*shape]``."""
        value = p[name]
        shape = self._param_shapes[name]
        if value.shape[1:] == shape and value.shape[0] == n_tasks:
            return value
        if value.shape == shape:
            return value
        raise ValueError(
            f"stacked_params[{name!r}] has shape {tuple(value.shape)}; expected [{n_tasks}, *{tuple(shape)}] "
            f"(one per task) or {tuple(shape)} (shared)"
        )


def _batched_affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b_i + x_i W_iᵀ`` for every task i: ``[N, M, in]``, ``[N, out, in]``, ``[N, 1, out]`` or ``[out]``."""
    return torch.baddbmm(b, x, w.transpose(-1, -2))


def sample_action(dist: Normal, generator: torch.Generator) -> torch.Tensor:
    """Draw a ~ dist with an explicit generator (``Normal.sample`` would use torch's global RNG).

    a = μ + σ ⊙ ε,  ε ~ N(0, I) from ``generator``.  Returns a tensor shaped like ``dist.loc``, detached.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator (no global RNG); got {type(generator).__name__}"
        )
    with torch.no_grad():
        noise = torch.randn(dist.loc.shape, generator=generator, dtype=dist.loc.dtype, device=dist.loc.device)
        return dist.loc + dist.scale * noise


def env_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The actions the env receives for policy actions ``actions`` (``[..., act_dim]``) and a Box ``[low, high]``:
    ``clip(a, low, high)``.  A different map (e.g. rllab's ``normalize``, [-1, 1] onto the box) is a Gymnasium
    action wrapper around the env (``env_wrappers`` of the samplers, evaluation and rendering)."""
    return np.clip(actions, low, high)
