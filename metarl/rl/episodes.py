"""Padded episode batches of a meta-batch, laid out ``[T, N, R, ...]`` (time, task, rollout).

MAML-RL samples R rollouts for each of N tasks (MAML Alg. 3 lines 5 and 8).  Episodes of different lengths
(e.g. MetaNav2D terminates when the goal is reached, the ant terminates when it falls) are padded to the
horizon T and a ``mask`` marks the real steps, so every later computation is one tensor expression over the
whole meta-batch instead of a loop over ragged paths.

An env whose step ``info`` has a numeric ``"success"`` flag (Meta-World, Yu et al. 2019, arXiv:1910.10897) also
gets a per-episode success flag, ``BatchEpisodes.success``; batches of other envs have ``success=None``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["BatchEpisodes", "mask_from_dones"]


def mask_from_dones(dones: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The step mask of padded episodes from per-step done flags (``terminated | truncated``), time first.

    A step is real iff the episode had not ended *before* it — the step on which the env reports
    terminated/truncated is itself real (it produced a reward), every later step is padding::

        mask[t] = 1  ⇔  dones[s] = 0 for all s < t

    :param dones: ``[T, ...]`` booleans (or 0/1 numbers).
    :returns: a ``torch.bool`` tensor of the same shape.
    """
    d = (dones if isinstance(dones, torch.Tensor) else torch.as_tensor(np.asarray(dones))).to(torch.bool)
    if d.ndim == 0:
        raise ValueError("dones must have a leading time dimension; got a scalar")
    # exclusive cumulative count of earlier dones: done_before[t] = Σ_{s<t} dones[s]
    done_before = torch.cumsum(d.to(torch.int64), dim=0) - d.to(torch.int64)
    return done_before == 0


@dataclass(frozen=True, eq=False)
class BatchEpisodes:
    """R padded episodes for each of N tasks, time first.

    :ivar observations: ``[T, N, R, obs_dim]`` — o_t, the observation the action a_t was taken in.
    :ivar actions: ``[T, N, R, act_dim]`` — a_t.
    :ivar rewards: ``[T, N, R]`` — r_t = R(o_t, a_t).
    :ivar mask: ``[T, N, R]``, 1 on real steps and 0 on padding.  A step is real iff the env had not
        terminated/truncated *before* it (the terminal step itself is real), so ``mask`` is non-increasing in
        t.  Values on padded steps are arbitrary and every consumer ignores them.

    :ivar success: ``[N, R]`` or ``None``: 1 for an episode whose env reported ``info["success"]`` of 1 at any real
        step (Meta-World's rule: Yu et al. 2019, section 4.3; Meta-World's ``evaluation.py``), else 0; ``None`` when
        the env reports no success flag.

    All tensors share one floating dtype (``mask`` included, so it can multiply data directly).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    success: torch.Tensor | None = None

    def __post_init__(self) -> None:
        obs, act, rew, mask = self.observations, self.actions, self.rewards, self.mask
        for field, value, ndim in (
            ("observations", obs, 4),
            ("actions", act, 4),
            ("rewards", rew, 3),
            ("mask", mask, 3),
        ):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"BatchEpisodes.{field} must be a torch.Tensor; got {type(value).__name__}")
            if value.ndim != ndim:
                raise ValueError(
                    f"BatchEpisodes.{field} must have {ndim} dims ([T, N, R{', dim' if ndim == 4 else ''}]); "
                    f"got shape {tuple(value.shape)}"
                )
            if not value.is_floating_point():
                raise TypeError(f"BatchEpisodes.{field} must be floating point; got {value.dtype}")
            if value.dtype != rew.dtype:
                raise TypeError(f"BatchEpisodes.{field} has dtype {value.dtype}, rewards have {rew.dtype}")
        tnr = tuple(rew.shape)
        for field, value in (("observations", obs), ("actions", act), ("mask", mask)):
            if tuple(value.shape[:3]) != tnr:
                raise ValueError(
                    f"BatchEpisodes.{field} has shape {tuple(value.shape)}, whose [T, N, R] does not match "
                    f"rewards' {tnr}"
                )
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("BatchEpisodes.mask must contain only 0 and 1")
        if tnr[0] > 1 and bool((mask[1:] > mask[:-1]).any()):
            raise ValueError(
                "BatchEpisodes.mask must be non-increasing in time: once an episode has ended, every later "
                "step is padding"
            )
        if self.success is not None:
            self._check_success(self.success, tnr[1:], rew.dtype)

    @staticmethod
    def _check_success(success: torch.Tensor, nr: tuple[int, ...], dtype: torch.dtype) -> None:
        if not isinstance(success, torch.Tensor):
            raise TypeError(f"BatchEpisodes.success must be a torch.Tensor or None; got {type(success).__name__}")
        if tuple(success.shape) != nr:
            raise ValueError(f"BatchEpisodes.success must have shape [N, R] = {nr}; got {tuple(success.shape)}")
        if success.dtype != dtype:
            raise TypeError(f"BatchEpisodes.success has dtype {success.dtype}, rewards have {dtype}")
        if not bool(((success == 0) | (success == 1)).all()):
            raise ValueError("BatchEpisodes.success must contain only 0 and 1 (one flag per episode)")

    # ------------------------------------------------------------------------------------------- sizes
    @property
    def horizon(self) -> int:
        """T, the padded episode length."""
        return int(self.rewards.shape[0])

    @property
    def num_tasks(self) -> int:
        """N, the number of tasks."""
        return int(self.rewards.shape[1])

    @property
    def rollouts_per_task(self) -> int:
        """R, the number of rollouts per task."""
        return int(self.rewards.shape[2])

    @property
    def obs_dim(self) -> int:
        """Observation size."""
        return int(self.observations.shape[-1])

    @property
    def act_dim(self) -> int:
        """Action size."""
        return int(self.actions.shape[-1])

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype shared by all fields."""
        return self.rewards.dtype

    @property
    def lengths(self) -> torch.Tensor:
        """``[N, R]`` int64: the number of real steps of every episode."""
        return self.mask.sum(dim=0).to(torch.int64)

    # ------------------------------------------------------------------------------------------- values
    def episode_returns(self) -> torch.Tensor:
        """``[N, R]``: the undiscounted return Σ_t mask_t · r_t of every episode (padding excluded)."""
        return torch.where(self.mask.bool(), self.rewards, torch.zeros_like(self.rewards)).sum(dim=0)

    def mean_returns(self) -> torch.Tensor:
        """``[N]``: each task's mean episode return over its non-empty episodes.

        The same as ``episode_returns().mean(dim=1)`` for a full batch; batches packed by a sample-budget stage
        sampler (reproductions/maml2017/sample_budget.py) fill tasks up with empty episodes (no real step), which
        are not episodes and are left out of the mean.
        """
        return self._per_task_mean(self.episode_returns())

    def success_rates(self) -> torch.Tensor | None:
        """``[N]``: each task's fraction of successful episodes (over its non-empty episodes, as
        :meth:`mean_returns`), or ``None`` when the env reports no success flag."""
        return None if self.success is None else self._per_task_mean(self.success)

    def _per_task_mean(self, per_episode: torch.Tensor) -> torch.Tensor:
        """``[N]``: the mean of ``per_episode`` (``[N, R]``) over each task's non-empty episodes."""
        real = self.mask[0].bool() if self.horizon else torch.zeros(self.mask.shape[1:], dtype=torch.bool)
        counts = real.sum(dim=1)
        if bool((counts == 0).any()):
            raise ValueError(f"tasks {torch.nonzero(counts == 0).flatten().tolist()} have no episode")
        return torch.where(real, per_episode, torch.zeros_like(per_episode)).sum(dim=1) / counts

    def task(self, i: int) -> BatchEpisodes:
        """The episodes of task ``i`` as a batch with N = 1 (shapes ``[T, 1, R, ...]``; views, no copy)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"task index must be an int; got {type(i).__name__}")
        if not 0 <= i < self.num_tasks:
            raise IndexError(f"task index {i} is out of range for {self.num_tasks} tasks")
        sl = slice(int(i), int(i) + 1)
        return self._map(lambda x, time_first: x[:, sl] if time_first else x[sl])

    def select_tasks(self, indices: torch.Tensor) -> BatchEpisodes:
        """The episodes of the tasks ``indices`` (a 1-d long tensor), in that order: shapes ``[T, len, R, ...]``."""
        if indices.ndim != 1 or len(indices) == 0:
            raise ValueError(f"indices must be a non-empty 1-d tensor; got shape {tuple(indices.shape)}")
        if int(indices.min()) < 0 or int(indices.max()) >= self.num_tasks:
            raise IndexError(f"task indices {indices.tolist()} out of range for {self.num_tasks} tasks")
        return self._map(lambda x, time_first: x[:, indices] if time_first else x[indices])

    def to(self, dtype: torch.dtype) -> BatchEpisodes:
        """The same batch with every tensor cast to the floating ``dtype`` (e.g. ``torch.float64``)."""
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
        return self._map(lambda x, time_first: x.to(dtype))

    def _map(self, fn: Callable[[torch.Tensor, bool], torch.Tensor]) -> BatchEpisodes:
        """A batch of ``fn(tensor, time_first)`` of every field (``time_first``: False for ``success``, ``[N, R]``)."""
        return BatchEpisodes(
            fn(self.observations, True), fn(self.actions, True), fn(self.rewards, True), fn(self.mask, True),
            None if self.success is None else fn(self.success, False),
        )

    # ------------------------------------------------------------------------------------------- builders
    @classmethod
    def from_numpy(
        cls,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        mask: np.ndarray | None = None,
        *,
        dones: np.ndarray | None = None,
        success: np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> BatchEpisodes:
        """Build a batch from ``[T, N, R, ...]`` arrays (e.g. the sampler's buffers).

        Give exactly one of ``mask`` (1 on real steps) or ``dones`` (the per-step ``terminated | truncated``
        flags; the mask is then :func:`mask_from_dones`).  Padded steps may hold any finite or non-finite
        values.  ``success`` is the optional per-episode flag ``[N, R]``.  The arrays are copied into new tensors
        of ``dtype``.
        """
        if (mask is None) == (dones is None):
            raise ValueError("give exactly one of mask= or dones=")
        if mask is None:
            mask_t = mask_from_dones(np.asarray(dones))
        else:
            mask_t = torch.as_tensor(np.asarray(mask))
        return cls(
            torch.tensor(np.asarray(observations), dtype=dtype),
            torch.tensor(np.asarray(actions), dtype=dtype),
            torch.tensor(np.asarray(rewards), dtype=dtype),
            mask_t.to(dtype),
            None if success is None else torch.tensor(np.asarray(success), dtype=dtype),
        )
