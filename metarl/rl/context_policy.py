"""Context-vector policy: the Rei (2015) comparison of the MAML paper (Finn et al. 2017, App. C.2).

"we concatenated a set of free parameters z to the input x, and only allowed the gradient steps to modify z,
rather than modifying the model parameters θ, as in MAML" (App. C.2; also the ICML rebuttal's "New
Comparisons: Rei '15").  The policy is therefore

    π_{θ, z}(a | o) = N(μ_θ([o, z]), diag(exp(log_std))²)

with ``z`` (parameter name ``"context"``) a free vector that is part of the policy's parameters.  Meta-training is
MAML-TRPO unchanged except that the inner REINFORCE step(s) adapt ``z`` only (:meth:`adapted_param_names`); the
TRPO meta-step trains θ, ``log_std`` *and* the initial ``z`` through the adapted ``z'``, exactly like MAML trains
θ through θ'.  The paper reports this learner on 2D navigation (App. C.2 Table 4: -42.42, -13.90, -5.17, -3.18
after 0..3 steps) and half-cheetah direction (Table 5).

The paper does not state the size of ``z``; :data:`DEFAULT_CONTEXT_DIM` = 2 matches the number of task parameters
of 2D navigation (the goal ``(x, y)``), the domain where the paper found the learner competitive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.distributions import Normal

from metarl.rl.policy import GaussianMLPPolicy

__all__ = ["CONTEXT_PARAM", "DEFAULT_CONTEXT_DIM", "ContextGaussianMLPPolicy"]

#: name of the context vector z among the policy's parameters
CONTEXT_PARAM = "context"
#: size of z when none is given (not stated in the paper; = the number of task parameters of 2D navigation)
DEFAULT_CONTEXT_DIM = 2


class ContextGaussianMLPPolicy(GaussianMLPPolicy):
    """A :class:`GaussianMLPPolicy` fed ``[observation, z]`` with ``z`` a free, zero-initialised parameter vector.

    Same interface as the plain policy — ``forward(obs, params)``, ``forward_batched(obs, stacked_params)``,
    ``named_params()`` — whose parameter dict has one more entry, ``"context"`` (shape ``[context_dim]``, or
    ``[N, context_dim]`` when stacked per task).  Observations are the env's (``observation_dim`` wide); the
    context is appended inside the forward pass, so samplers and episodes are unchanged.

    Attributes: ``observation_dim`` is the env observation size, ``context_dim`` the size of z, and the inherited
    ``obs_dim`` is the MLP's input width ``observation_dim + context_dim``.

    :param obs_dim: the env's observation size.
    :param act_dim: action size.
    :param context_dim: size of z (default :data:`DEFAULT_CONTEXT_DIM`; the paper does not give one).
    :param hidden_sizes: hidden layer widths ((100, 100) as in MAML Sec. 5.3).
    :param activation: hidden nonlinearity (see :class:`GaussianMLPPolicy`).
    :param init_log_std: initial log standard deviation.
    :param min_log_std: optional lower clamp of the log standard deviation.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        context_dim: int = DEFAULT_CONTEXT_DIM,
        hidden_sizes: Sequence[int] = (100, 100),
        activation: type[nn.Module] | Callable[[torch.Tensor], torch.Tensor] = nn.ReLU,
        init_log_std: float = 0.0,
        min_log_std: float | None = None,
    ) -> None:
        for field, value in (("obs_dim", obs_dim), ("context_dim", context_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be an int >= 1; got {value!r}")
        # the MLP sees [o, z]: its input width is obs_dim + context_dim
        super().__init__(
            obs_dim + context_dim,
            act_dim,
            hidden_sizes=hidden_sizes,
            activation=activation,
            init_log_std=init_log_std,
            min_log_std=min_log_std,
        )
        self.observation_dim = obs_dim
        self.context_dim = context_dim
        # z starts at zero (App. C.2 gives no initialisation; zero makes the pre-update policy a plain MLP of o)
        self.context = nn.Parameter(torch.zeros(context_dim))
        self._param_shapes[CONTEXT_PARAM] = self.context.shape

    def adapted_param_names(self) -> tuple[str, ...]:
        """The parameters the inner loop adapts: only z (App. C.2: "only allowed the gradient steps to modify z")."""
        return (CONTEXT_PARAM,)

    def _resolve(self, params: Mapping[str, torch.Tensor] | None) -> Mapping[str, torch.Tensor]:
        p = super()._resolve(params)
        if CONTEXT_PARAM not in p:
            raise ValueError(
                f"params is missing [{CONTEXT_PARAM!r}] (the context vector z); expected the keys of "
                "policy.named_params()"
            )
        return p

    def _env_obs(self, obs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        obs = torch.as_tensor(obs, dtype=dtype)
        if obs.ndim == 0 or obs.shape[-1] != self.observation_dim:
            raise ValueError(
                f"obs must have last dimension observation_dim={self.observation_dim} (the context is appended "
                f"by the policy); got shape {tuple(obs.shape)}"
            )
        return obs

    def forward(self, obs: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> Normal:
        """π_{θ,z}(· | obs) for one parameter set: the MLP evaluated on ``[obs, z]``.

        :param obs: ``[..., observation_dim]``.
        :param params: one parameter set (``context`` of shape ``[context_dim]``); default the live parameters.
        """
        p = self._resolve(params)
        x = self._env_obs(obs, p["log_std"].dtype)
        z = p[CONTEXT_PARAM]
        if z.shape != (self.context_dim,):
            raise ValueError(
                f"params[{CONTEXT_PARAM!r}] has shape {tuple(z.shape)}, expected ({self.context_dim},); "
                "use forward_batched for per-task (stacked) parameters"
            )
        x = torch.cat([x, z.expand(*x.shape[:-1], self.context_dim)], dim=-1)
        return super().forward(x, p)

    def forward_batched(
        self, obs: torch.Tensor, stacked_params: Mapping[str, torch.Tensor], task_dim: int = 0
    ) -> Normal:
        """π_{θ_i, z_i}(· | obs_i) for N tasks at once (see :meth:`GaussianMLPPolicy.forward_batched`).

        ``stacked_params["context"]`` is ``[N, context_dim]`` (one z_i per task, e.g. after adaptation) or
        ``[context_dim]`` (shared); each task's rows get its own z_i appended before the batched MLP.
        """
        p = self._resolve(stacked_params)
        x = self._env_obs(obs, p["log_std"].dtype)
        if x.ndim < 2:
            raise ValueError(f"obs must have a task dimension and obs_dim; got shape {tuple(x.shape)}")
        x = torch.movedim(x, task_dim, 0)  # [N, ..., observation_dim]
        n_tasks = x.shape[0]
        z = p[CONTEXT_PARAM]
        if z.shape == (n_tasks, self.context_dim):  # per task: [N, 1, ..., 1, context_dim]
            z = z.reshape(n_tasks, *([1] * (x.ndim - 2)), self.context_dim)
        elif z.shape != (self.context_dim,):
            raise ValueError(
                f"stacked_params[{CONTEXT_PARAM!r}] has shape {tuple(z.shape)}; expected "
                f"[{n_tasks}, {self.context_dim}] (one per task) or ({self.context_dim},) (shared)"
            )
        x = torch.cat([x, z.expand(*x.shape[:-1], self.context_dim)], dim=-1)
        return super().forward_batched(torch.movedim(x, 0, task_dim), p, task_dim=task_dim)
