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

The original *trainer* (``batch_maml_polopt.py``) collects differently from the test scripts: one slot per task
(``n_envs = meta_batch_size``) and one budget for the whole meta-batch (``batch_size`` = fast_batch_size ×
horizon × meta_batch_size), so the stop step is shared by all tasks (:func:`shared_budget_keep_mask`,
``sample_budget_batch(..., shared=True)``).  A task whose policy reaches its goal in 5 steps then gets some 400
episodes.  Padded to the horizon they would make the meta-step 20 times as slow, so :func:`pack_steps` moves
each task's real steps into one column once the advantages are computed: the policy-gradient losses, the KL
and the Fisher-vector products are per-step means per task and take the same values on the packed batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from metarl.rl.episodes import BatchEpisodes

__all__ = [
    "PerTaskSampleBudget",
    "SharedSampleBudget",
    "budget_keep_mask",
    "concat_rollouts",
    "gather_episodes",
    "pack_steps",
    "sample_budget_batch",
    "shared_budget_keep_mask",
]



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


def shared_budget_keep_mask(lengths: torch.Tensor, budget: int) -> torch.Tensor | None:
    """The episodes the original MAML trainer keeps: one env slot per task, one budget for all tasks.

    ``batch_maml_polopt.py`` runs rllab's ``VectorizedSampler`` with ``n_envs = meta_batch_size`` (slot i runs
    task i) and ``batch_size`` = fast_batch_size × horizon × meta_batch_size, so every task is stepped until the
    first step at which the completed episodes of *all* tasks hold ≥ ``budget`` samples.  This is
    :func:`budget_keep_mask` on the episodes of all tasks interleaved as the slots of a single collector.

    :param lengths: ``[N, R]`` episode lengths; rollout ``r`` of task ``i`` is the ``r``-th episode of slot ``i``.
    :param budget: samples over all tasks.
    :returns: ``[N, R]`` bool, the kept episodes, or ``None`` when more rollouts are needed to know.
    """
    if lengths.ndim != 2:
        raise ValueError(f"lengths must be [N, R]; got shape {tuple(lengths.shape)}")
    n, r = lengths.shape
    interleaved = lengths.t().reshape(1, r * n)  # entry k·N + i = episode k of slot i
    keep = budget_keep_mask(interleaved, slots=n, budget=budget)
    return None if keep is None else keep.reshape(r, n).t()


def _true_first(flags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of the ``[N, M]`` bool ``flags``, the column order that puts its True entries first (stable, so in
    their original order), cut to the largest True count of any row (at least 1), and that count per row."""
    counts = flags.sum(dim=1)
    width = max(int(counts.max()), 1)
    return torch.argsort((~flags).to(torch.int8), dim=1, stable=True)[:, :width], counts


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
    order, _ = _true_first(keep)  # [N, R']: kept rollouts first, in sampling order
    kept = torch.gather(keep, 1, order)

    def take(x: torch.Tensor) -> torch.Tensor:
        index = order.reshape(1, *order.shape, *([1] * (x.ndim - 3))).expand(x.shape[0], -1, -1, *x.shape[3:])
        return torch.gather(x, 2, index)

    mask = take(episodes.mask) * kept.unsqueeze(0).to(episodes.mask.dtype)
    return BatchEpisodes(take(episodes.observations), take(episodes.actions), take(episodes.rewards), mask)


def concat_rollouts(batches: list[BatchEpisodes]) -> BatchEpisodes:
    """Batches of the same tasks joined along the rollout dimension.  The sampler stops a round once all its
    episodes have ended, so rounds may be shorter than the horizon: they are padded (mask 0) to the longest."""
    horizon = max(b.horizon for b in batches)

    def padded(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.new_zeros(horizon - x.shape[0], *x.shape[1:])]) if x.shape[0] < horizon else x

    return BatchEpisodes(*(torch.cat([padded(getattr(b, f)) for b in batches], dim=2)
                           for f in ("observations", "actions", "rewards", "mask")))


def sample_budget_batch(
    sample_round: Callable[[], BatchEpisodes], budget: int, max_rounds: int = 200, shared: bool = False
) -> BatchEpisodes:
    """Collect a sample-budget batch (the original MAML code's) from rounds of rollouts.

    :param sample_round: samples one round of fresh rollouts per task (``[T, N, R]``).  Per-task budgets
        (``shared=False``, the test scripts): R is the collector's number of environment slots per task.
        Shared budget (``shared=True``, the trainer): R is any round size — all R are further episodes of the
        task's single slot.
    :param budget: samples per task (``shared=False``: rllab's ``batch_size``; the MAML test scripts use
        slots × horizon), or over all tasks (``shared=True``: the trainer's rollouts × horizon × tasks).
    :param max_rounds: give up after this many rounds (only reached by episodes a few steps long).
    :param shared: one slot per task and one budget for all tasks (:func:`shared_budget_keep_mask`).
    :returns: the kept episodes packed by :func:`gather_episodes`.
    """
    rounds = [sample_round()]
    slots = rounds[0].rollouts_per_task
    while True:
        batch = rounds[0] if len(rounds) == 1 else concat_rollouts(rounds)
        keep = (shared_budget_keep_mask(batch.lengths, budget) if shared
                else budget_keep_mask(batch.lengths, slots, budget))
        if keep is not None:
            return gather_episodes(batch, keep)
        if len(rounds) >= max_rounds:
            raise RuntimeError(
                f"sample budget of {budget} samples not reached after {max_rounds} rounds of {slots} rollouts "
                f"(shortest episode {int(batch.lengths.min())} steps)"
            )
        rounds.append(sample_round())


def pack_steps(episodes: BatchEpisodes, *per_step: torch.Tensor) -> tuple[BatchEpisodes, ...]:
    """Each task's real steps moved into one column: ``[S, N, 1, ...]``, S the most real steps of any task.

    For the per-step consumers only — the policy-gradient losses, the KL, the Fisher-vector products
    (:mod:`metarl.rl.objectives`), which average over the real steps of each task and so take the same values
    on the packed batch.  Its columns are not episodes: compute returns, baselines and advantages before packing
    and pass the advantages (or any ``[T, N, R]`` per-step tensor) as ``per_step`` to pack them alike.

    :returns: the packed batch, followed by the packed ``per_step`` tensors.
    """
    real = episodes.mask.bool()  # [T, N, R]
    n = episodes.num_tasks
    order, counts = _true_first(real.permute(1, 2, 0).reshape(n, -1))  # over [N, R·T]: real steps first
    width = order.shape[1]

    def pack(x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[:3]) != tuple(real.shape):
            raise ValueError(f"per-step tensors must be [T, N, R] = {tuple(real.shape)}; got {tuple(x.shape)}")
        trailing = x.shape[3:]
        flat = x.permute(1, 2, 0, *range(3, x.ndim)).reshape(n, -1, *trailing)  # [N, R·T, ...]
        index = order.reshape(n, width, *([1] * len(trailing))).expand(n, width, *trailing)
        return torch.gather(flat, 1, index).transpose(0, 1).unsqueeze(2)  # [S, N, 1, ...]

    mask = (torch.arange(width).unsqueeze(1) < counts.unsqueeze(0)).to(episodes.dtype).unsqueeze(-1)
    packed = BatchEpisodes(pack(episodes.observations), pack(episodes.actions), pack(episodes.rewards), mask)
    return (packed, *(pack(x) for x in per_step))


class SharedSampleBudget:
    """:class:`metarl.rl.sampler.StageSampler` of the original MAML *trainer* (``batch_maml_polopt.py``): one
    env slot per task and one budget of ``num_tasks × rollouts_per_task × horizon`` samples for the whole
    meta-batch (:func:`sample_budget_batch` with ``shared=True``); the losses see each task's real steps packed
    into one column (:func:`pack_steps`), which leaves their values unchanged and the meta-step as cheap as with
    fixed episodes."""

    def collect(self, sample_round: Callable[[], BatchEpisodes], rollouts: Any) -> BatchEpisodes:
        budget = rollouts.num_tasks * rollouts.rollouts_per_task * rollouts.horizon
        return sample_budget_batch(sample_round, budget, shared=True)

    def for_losses(self, episodes: BatchEpisodes, advantages: torch.Tensor) -> tuple[BatchEpisodes, torch.Tensor]:
        packed, packed_advantages = pack_steps(episodes, advantages)
        return packed, packed_advantages


class PerTaskSampleBudget:
    """:class:`metarl.rl.sampler.StageSampler` of the original MAML *test scripts* (e.g. ``test_maml_point.py``:
    ``batch_size=4000``, ``max_path_length=100``): per task, ``rollouts_per_task`` auto-resetting slots and a
    budget of ``rollouts_per_task × horizon`` samples, the episodes still running at the stop dropped."""

    def collect(self, sample_round: Callable[[], BatchEpisodes], rollouts: Any) -> BatchEpisodes:
        return sample_budget_batch(sample_round, budget=rollouts.rollouts_per_task * rollouts.horizon)

    def for_losses(self, episodes: BatchEpisodes, advantages: torch.Tensor) -> tuple[BatchEpisodes, torch.Tensor]:
        return episodes, advantages
