"""Linear feature baseline (Duan et al. 2016, "Benchmarking Deep RL for Continuous Control"), fitted per task.

MAML Sec. 5.3: "For both learning and meta-learning updates, we use the standard linear feature baseline
proposed by Duan et al. (2016a), which is fitted separately at each iteration for each sampled task in the
batch."  This module fits the N tasks of a meta-batch at once: N ridge-regression systems solved as one
batched Cholesky factorisation in float64.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch

from metarl.rl.episodes import BatchEpisodes

__all__ = ["LinearFeatureBaseline"]


class LinearFeatureBaseline:
    """V(s_t) = φ(o_t, t)ᵀ c_i, one coefficient vector c_i per task i, fitted by ridge regression.

    Features (rllab ``LinearFeatureBaseline._features``)::

        φ(o, t) = [ô, ô², τ, τ², τ³, 1],   ô = clip(o, −10, 10),   τ = t / 100

    with t the time index within the episode (0 for the first step) and ô² elementwise, so
    F = 2·obs_dim + 4 features.

    Fit (rllab ``fit``), for each task on its own episodes, padded steps excluded (their rows are zero)::

        c_i = (Φ_iᵀ Φ_i + λ I)⁻¹ Φ_iᵀ R_i,   λ = reg_coeff

    If the solve fails (the Cholesky factorisation of Φᵀ Φ + λI breaks down) or its solution is not finite,
    λ is multiplied by 10 and that task is solved again, up to ``max_attempts`` attempts in total (rllab's
    loop: λ ∈ {1e-5, …, 1e-1}).  Only the failing tasks escalate.  A task that still fails falls back to the
    minimum-norm least-squares solution of its last system (what rllab's ``np.linalg.lstsq`` returns), or to
    zero coefficients if even that is not finite, with a ``RuntimeWarning``; predictions are never NaN.

    After :meth:`fit`, the fitted state is exposed for inspection: :attr:`coeffs` ``[N, F]`` (float64),
    :attr:`reg_coeffs` ``[N]`` (the λ each task was finally solved with) and :attr:`fallback` ``[N]`` (bool).

    :param reg_coeff: the initial ridge coefficient λ (1e-5 as rllab).
    :param max_attempts: number of λ values tried, ×10 each time (5 as rllab).
    """

    #: observations are clipped to [-obs_clip, obs_clip] before building features (rllab: 10)
    obs_clip: float = 10.0
    #: τ = t / time_scale (rllab: 100)
    time_scale: float = 100.0
    #: tasks are processed in chunks whose float64 design matrices take at most this many bytes
    chunk_bytes: int = 8 << 20

    def __init__(self, reg_coeff: float = 1e-5, max_attempts: int = 5) -> None:
        if isinstance(reg_coeff, bool) or not isinstance(reg_coeff, numbers.Real):
            raise TypeError(f"reg_coeff must be a real number; got {type(reg_coeff).__name__}")
        if not math.isfinite(reg_coeff) or reg_coeff <= 0:
            raise ValueError(
                f"reg_coeff must be a finite number > 0 (it is escalated ×10); got {reg_coeff!r}"
            )
        if (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, numbers.Integral)
            or max_attempts < 1
        ):
            raise ValueError(f"max_attempts must be an int >= 1; got {max_attempts!r}")
        self.reg_coeff = float(reg_coeff)
        self.max_attempts = int(max_attempts)
        self.coeffs: torch.Tensor | None = None
        self.reg_coeffs: torch.Tensor | None = None
        self.fallback: torch.Tensor | None = None

    # ------------------------------------------------------------------------------------------ features
    @classmethod
    def features(cls, observations: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """φ for every step: ``[T, N, R, obs_dim] -> [T, N, R, 2·obs_dim + 4]`` in float64.

        If ``mask`` (``[T, N, R]``) is given, the rows of padded steps are exactly zero (the observations are
        replaced with ``torch.where`` before anything else, so non-finite padding cannot leak into the fit).
        """
        if observations.ndim != 4:
            raise ValueError(
                f"observations must be [T, N, R, obs_dim]; got shape {tuple(observations.shape)}"
            )
        horizon, n_tasks, rollouts, _ = observations.shape
        if mask is None:
            mask = torch.ones(observations.shape[:3], dtype=torch.bool)
        design = cls._design(observations, mask)  # [N, F, T·R]
        return design.view(n_tasks, -1, horizon, rollouts).permute(2, 0, 3, 1)

    @classmethod
    def _design(cls, observations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The transposed design matrices Φ_iᵀ, ``[N, F, T·R]`` float64, with zero columns on padded steps.

        Feature-major so that every feature is one contiguous row (concatenation and the Gram product are
        then large contiguous block operations).
        """
        if observations.ndim != 4 or tuple(mask.shape) != tuple(observations.shape[:3]):
            raise ValueError(
                f"observations [T, N, R, obs_dim] and mask [T, N, R] do not match: "
                f"{tuple(observations.shape)} vs {tuple(mask.shape)}"
            )
        horizon, n_tasks, rollouts, obs_dim = observations.shape
        n_rows = horizon * rollouts
        real = mask.bool().permute(1, 0, 2).reshape(n_tasks, 1, n_rows)  # [N, 1, T·R]
        # padding -> 0 first (NaN-safe), then float64 and ô = clip(o, -10, 10)
        o = torch.where(real, observations.permute(1, 3, 0, 2).reshape(n_tasks, obs_dim, n_rows), 0.0)
        if not bool(torch.isfinite(o.sum())) and bool(torch.isnan(o).any()):  # cheap test first
            raise ValueError("episodes.observations contain NaN on real (unpadded) steps")
        o = o.to(torch.float64).clamp_(-cls.obs_clip, cls.obs_clip)
        tau = torch.arange(horizon, dtype=torch.float64) / cls.time_scale  # τ = t / 100
        time_feats = torch.stack([tau, tau**2, tau**3, torch.ones_like(tau)])  # [4, T]
        time_feats = time_feats.view(1, 4, horizon, 1).expand(n_tasks, 4, horizon, rollouts)
        time_feats = time_feats.reshape(n_tasks, 4, n_rows) * real  # zero on padded steps
        return torch.cat([o, o * o, time_feats], dim=1)  # [ô, ô², τ, τ², τ³, 1]

    def _chunks(self, episodes: BatchEpisodes) -> list[slice]:
        """Task slices whose float64 design is at most :attr:`chunk_bytes`: fresh multi-10-MB buffers cost more
        in page faults than the arithmetic (chunks of 8 MB: 2× faster on 40 tasks × 4000 steps × 38 features)."""
        per_task = (2 * episodes.obs_dim + 4) * episodes.horizon * episodes.rollouts_per_task * 8
        size = max(1, self.chunk_bytes // per_task)
        return [slice(i, min(i + size, episodes.num_tasks)) for i in range(0, episodes.num_tasks, size)]

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, episodes: BatchEpisodes, returns: torch.Tensor) -> LinearFeatureBaseline:
        """Fit one coefficient vector per task to the discounted ``returns`` ``[T, N, R]`` (real steps only)."""
        self._run(episodes, returns, predict=False)
        return self

    def fit_predict(self, episodes: BatchEpisodes, returns: torch.Tensor) -> torch.Tensor:
        """:meth:`fit` on ``(episodes, returns)`` then :meth:`predict` on the same episodes (as MAML/rllab do),
        building each design matrix once."""
        values = self._run(episodes, returns, predict=True)
        assert values is not None
        return values

    def _run(self, episodes: BatchEpisodes, returns: torch.Tensor, predict: bool) -> torch.Tensor | None:
        if not isinstance(episodes, BatchEpisodes):
            raise TypeError(f"episodes must be a BatchEpisodes; got {type(episodes).__name__}")
        if tuple(returns.shape) != tuple(episodes.rewards.shape):
            raise ValueError(
                f"returns must have the episodes' shape [T, N, R] = {tuple(episodes.rewards.shape)}; "
                f"got {tuple(returns.shape)}"
            )
        real = episodes.mask.bool()
        y_all = torch.where(real, returns.to(torch.float64), 0.0)  # R_t on real steps only
        if not bool(torch.isfinite(y_all).all()):
            raise ValueError("returns contain NaN or inf on real (unpadded) steps")
        n_tasks, n_feat = episodes.num_tasks, 2 * episodes.obs_dim + 4
        coeffs = torch.zeros(n_tasks, n_feat, dtype=torch.float64)
        reg = torch.full((n_tasks,), self.reg_coeff, dtype=torch.float64)
        fallback = torch.zeros(n_tasks, dtype=torch.bool)
        values = torch.zeros(episodes.rewards.shape, dtype=episodes.dtype) if predict else None
        for sl in self._chunks(episodes):
            xt = self._design(episodes.observations[:, sl], episodes.mask[:, sl])  # Φ_iᵀ [n, F, T·R]
            y = y_all[:, sl].permute(1, 0, 2).reshape(xt.shape[0], -1, 1)  # R_i [n, T·R, 1]
            gram = torch.bmm(xt, xt.transpose(1, 2))  # Φ_iᵀ Φ_i  [n, F, F]
            rhs = torch.bmm(xt, y).squeeze(-1)  # Φ_iᵀ R_i  [n, F]
            coeffs[sl], reg[sl], fallback[sl] = self._ridge(gram, rhs)
            if values is not None:
                values[:, sl] = self._values(xt, coeffs[sl], episodes).to(episodes.dtype)
        if bool(fallback.any()):
            idx = fallback.nonzero().squeeze(1)
            warnings.warn(
                f"LinearFeatureBaseline: the ridge solve failed for tasks {idx.tolist()} up to "
                f"reg_coeff={reg[idx].max().item():.1e}; used the least-squares fallback",
                RuntimeWarning,
                stacklevel=3,
            )
        self.coeffs, self.reg_coeffs, self.fallback = coeffs, reg, fallback
        return values

    def _ridge(
        self, gram: torch.Tensor, rhs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Solve every task's ridge system, escalating λ ×10 for the failing tasks only (rllab ``fit``).

        Returns (coefficients ``[n, F]``, final λ ``[n]``, fallback flags ``[n]``).
        """
        n_tasks, n_feat = rhs.shape
        coeffs = torch.zeros(n_tasks, n_feat, dtype=torch.float64)
        reg = torch.full((n_tasks,), self.reg_coeff, dtype=torch.float64)
        pending = torch.ones(n_tasks, dtype=torch.bool)
        for attempt in range(self.max_attempts):
            idx = pending.nonzero().squeeze(1)
            solution, ok = self._solve(gram[idx], rhs[idx], reg[idx])
            coeffs[idx[ok]] = solution[ok]
            pending[idx[ok]] = False
            if not bool(pending.any()):
                break
            if attempt + 1 < self.max_attempts:
                reg[pending] *= 10.0  # escalate λ for the failing tasks only
        if bool(pending.any()):
            idx = pending.nonzero().squeeze(1)
            system = gram[idx] + reg[idx].view(-1, 1, 1) * torch.eye(n_feat, dtype=torch.float64)
            # minimum-norm least squares (rllab solves every fit with np.linalg.lstsq); zeros if even that fails
            solution = torch.linalg.lstsq(system, rhs[idx].unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
            coeffs[idx] = torch.where(torch.isfinite(solution).all(-1, keepdim=True), solution, 0.0)
        return coeffs, reg, pending

    def _solve(
        self, gram: torch.Tensor, rhs: torch.Tensor, reg: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Solve (G_k + λ_k I) c_k = b_k for a batch of systems; returns (c ``[K, F]``, ok ``[K]`` bool).

        ok is False where the Cholesky factorisation breaks down (not positive definite in floating point) or
        the solution is not finite.
        """
        eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
        chol, info = torch.linalg.cholesky_ex(gram + reg.view(-1, 1, 1) * eye)
        solution = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        ok = (info == 0) & torch.isfinite(solution).all(dim=-1)
        return solution, ok

    # ------------------------------------------------------------------------------------------ predict
    def predict(self, episodes: BatchEpisodes) -> torch.Tensor:
        """V(s_t) = φ(o_t, t)ᵀ c_i for every step: ``[T, N, R]`` in the episodes' dtype, 0 on padded steps."""
        if self.coeffs is None:
            raise RuntimeError("LinearFeatureBaseline.predict called before fit")
        if episodes.num_tasks != self.coeffs.shape[0]:
            raise ValueError(
                f"the baseline was fitted on {self.coeffs.shape[0]} tasks; got episodes of "
                f"{episodes.num_tasks} tasks"
            )
        values = torch.zeros(episodes.rewards.shape, dtype=episodes.dtype)
        for sl in self._chunks(episodes):
            xt = self._design(episodes.observations[:, sl], episodes.mask[:, sl])
            values[:, sl] = self._values(xt, self.coeffs[sl], episodes).to(episodes.dtype)
        return values

    @staticmethod
    def _values(xt: torch.Tensor, coeffs: torch.Tensor, episodes: BatchEpisodes) -> torch.Tensor:
        """Φ_i c_i as ``[T, n, R]``; the padded columns of Φᵀ are 0, so V = 0 there."""
        values = torch.bmm(coeffs.unsqueeze(1), xt)  # [n, 1, T·R]
        return values.view(-1, episodes.horizon, episodes.rollouts_per_task).permute(1, 0, 2)
