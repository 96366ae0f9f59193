"""Sample-budget batches: how the original MAML code collected its episodes.

The MAML paper's text speaks of "rollouts" per task, but the original code (cbfinn/maml_rl, built on rllab)
collects a *budget of samples*: rllab's ``VectorizedSampler`` runs ``n_envs`` environment slots side by side,
each slot resetting as soon as its episode ends (terminated, or the horizon reached), and stops at the first
step at which the *completed* episodes hold at least ``batch_size`` samples; the episodes still running then
are dropped.  The MAML test scripts (e.g. ``test_maml_point.py``: ``batch_size=4000``, ``max_path_length=100``,
so 40 slots) report the mean return of the kept episodes.

When every episode runs to the horizon this is the same as ``slots`` rollouts.  When episodes end early
(MetaNav2D terminates within 0.01 of the goal) it gives more, shorter episodes — more data for the
adaptation step — and the kept set leans towards short episodes, because an episode still running at the stop
is more likely a long one.

Episodes of one task are independent draws, so the procedure is reproduced exactly from a padded batch of
rollouts: rollout ``r`` is episode ``r // slots`` of slot ``r % slots``; :func:`budget_keep_mask` finds the stop
step and the kept episodes, and :func:`sample_budget_batch` samples further rounds of ``slots`` rollouts until
every slot has been simulated past the stop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from metarl.rl.episodes import BatchEpisodes

__all__ = ["budget_keep_mask", "concat_rollouts", "gather_episodes", "sample_budget_batch"]


def budget_keep_mask(lengths: torch.Tensor, slots: int, budget: int) -> torch.Tensor | None:
    """The episodes a sample-budget collector keeps, or ``None`` if more rollouts are needed to know.

    :param lengths: ``[N, R]`` episode lengths (every episode ≥ 1 step), R a multiple of ``slots``; rollout ``r``
        is episode ``r // slots`` of slot ``r % slots``, which starts when that slot's previous episode ends.
    :param slots: environment slots stepped together (rllab's ``n_envs``).
    :param budget: samples to collect per task (rllab's ``batch_size``).
    :returns: ``[N, R]`` bool, True for the episodes completed by the stop step — the first step at which the
        completed episodes of the task hold ≥ ``budget`` samples (every episode ending on that step included).
        ``None`` when some task has too few rollouts: its completed episodes hold fewer than ``budget`` samples,
        or one of its slots ran out of episodes before the stop step.
    """
    if lengths.ndim != 2:
        raise ValueError(f"lengths must be [N, R]; got shape {tuple(lengths.shape)}")
    if slots < 1 or budget < 1:
        raise ValueError(f"slots and budget must be >= 1; got slots={slots}, budget={budget}")
    n, r = lengths.shape
    if r % slots:
        raise ValueError(f"the number of rollouts ({r}) must be a multiple of slots ({slots})")
    if bool((lengths < 1).any()):
        raise ValueError("every episode must have at least one step")
    per_slot = lengths.to(torch.int64).reshape(n, r // slots, slots)
    ends = torch.cumsum(per_slot, dim=1).reshape(n, r)  # step at which each episode completes
    order = torch.argsort(ends, dim=1, stable=True)
    completed = torch.cumsum(torch.gather(lengths.to(torch.int64), 1, order), dim=1)
    if bool((completed[:, -1] < budget).any()):
        return None
    first = torch.searchsorted(completed, torch.full((n, 1), budget, dtype=torch.int64))  # [N, 1]
    stop = torch.gather(torch.gather(ends, 1, order), 1, first)  # [N, 1]
    last_end_per_slot = ends.reshape(n, r // slots, slots)[:, -1, :]  # [N, slots]
    if bool((last_end_per_slot < stop).any()):
        return None
    return ends <= stop


def gather_episodes(episodes: BatchEpisodes, keep: torch.Tensor) -> BatchEpisodes:
    """The kept episodes of every task, packed first: ``[T, N, R']`` with R' the largest kept count.

    A task with fewer kept episodes is filled up with empty episodes (mask 0 on every step), which every
    consumer ignores (:meth:`BatchEpisodes.mean_returns`, the baseline fit, advantages and losses all mask).
    """
    if tuple(keep.shape) != (episodes.num_tasks, episodes.rollouts_per_task):
        raise ValueError(
            f"keep must be [N, R] = {(episodes.num_tasks, episodes.rollouts_per_task)}; got {tuple(keep.shape)}"
        )
    keep = keep.to(torch.bool)
    width = max(int(keep.sum(dim=1).max()), 1)
    # kept rollouts first (stable, so in sampling order), then the dropped ones
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]  # [N, R']
    kept = torch.gather(keep, 1, order)

    def take(x: torch.Tensor) -> torch.Tensor:
        index = order.reshape(1, *order.shape, *([1] * (x.ndim - 3))).expand(x.shape[0], -1, -1, *x.shape[3:])
        return torch.gather(x, 2, index)

    mask = take(episodes.mask) * kept.unsqueeze(0).to(episodes.mask.dtype)
    return BatchEpisodes(take(episodes.observations), take(episodes.actions), take(episodes.rewards), mask)


def concat_rollouts(batches: list[BatchEpisodes]) -> BatchEpisodes:
    """Batches of the same tasks and horizon joined along the rollout dimension."""
    return BatchEpisodes(*(torch.cat([getattr(b, f) for b in batches], dim=2)
                           for f in ("observations", "actions", "rewards", "mask")))


def sample_budget_batch(
    sample_round: Callable[[], BatchEpisodes], budget: int, max_rounds: int = 200
) -> BatchEpisodes:
    """Collect a sample-budget batch (the original MAML code's) from rounds of rollouts.

    :param sample_round: samples one round — ``slots`` fresh rollouts per task (``[T, N, slots]``), where
        ``slots`` is the collector's number of environment slots.
    :param budget: samples per task (rllab's ``batch_size``; the MAML scripts use slots × horizon).
    :param max_rounds: give up after this many rounds (only reached by episodes a few steps long).
    :returns: the kept episodes packed by :func:`gather_episodes`.
    """
    rounds = [sample_round()]
    slots = rounds[0].rollouts_per_task
    while True:
        batch = rounds[0] if len(rounds) == 1 else concat_rollouts(rounds)
        keep = budget_keep_mask(batch.lengths, slots, budget)
        if keep is not None:
            return gather_episodes(batch, keep)
        if len(rounds) >= max_rounds:
            raise RuntimeError(
                f"sample budget of {budget} samples not reached after {max_rounds} rounds of {slots} rollouts "
                f"(shortest episode {int(batch.lengths.min())} steps)"
            )
        rounds.append(sample_round())
