"""Sample-budget batches (the original MAML code's rllab VectorizedSampler): known answers, a step-by-step
simulation of the collector, packing, and the two StageSamplers (SharedSampleBudget for training,
PerTaskSampleBudget for evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import metarl  # noqa: F401
from agents.evaluation import EvaluationConfig, evaluate_adaptation
from agents.maml_trpo import MAMLTRPO, Extensions, MAMLTRPOConfig, make_policy
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.objectives import reinforce_loss, surrogate_and_kl
from metarl.rl.sampler import FixedEpisodes
from reproductions.maml2017.sample_budget import (
    PerTaskSampleBudget,
    SharedSampleBudget,
    budget_keep_mask,
    gather_episodes,
    pack_steps,
    sample_budget_batch,
    shared_budget_keep_mask,
)


def episodes_with_lengths(lengths: np.ndarray, horizon: int) -> BatchEpisodes:
    """A batch [T, N, R] whose episode (i, r) lasts lengths[i, r] steps with reward 1 per step (return = length)
    and observation = its rollout index (to trace packing)."""
    n, r = lengths.shape
    t = np.arange(horizon)[:, None, None]
    mask = (t < lengths[None]).astype(np.float32)
    obs = np.broadcast_to(np.arange(r, dtype=np.float32)[None, None, :, None], (horizon, n, r, 2)).copy()
    return BatchEpisodes.from_numpy(obs, np.zeros((horizon, n, r, 1)), np.ones((horizon, n, r)), mask=mask)


def simulate_collector(lengths_per_slot: list[list[int]], budget: int) -> set[tuple[int, int]]:
    """rllab's loop, literally: every slot steps once per iteration; an episode that ends adds its length to
    the completed count; stop after the iteration in which the count reaches the budget.  Returns the
    completed (slot, episode index) pairs."""
    slots = len(lengths_per_slot)
    episode = [0] * slots
    elapsed = [0] * slots
    completed, done = 0, set()
    while completed < budget:
        for s in range(slots):
            elapsed[s] += 1
            if elapsed[s] == lengths_per_slot[s][episode[s]]:
                done.add((s, episode[s]))
                completed += elapsed[s]
                episode[s] += 1
                elapsed[s] = 0
    return done


def test_known_answer_keeps_short_episodes_and_drops_the_running_one():
    # slot 0 runs 10-step episodes, slot 1 3-step ones; budget 10 samples.  Rollout r = episode r // 2 of slot r % 2.
    lengths = torch.tensor([[10, 3, 10, 3, 10, 3, 10, 3]])
    keep = budget_keep_mask(lengths, slots=2, budget=10)
    # stop at step 10: slot 0's first episode and slot 1's first three complete; slot 1's fourth (ends at 12) drops
    assert keep.tolist() == [[True, True, False, True, False, True, False, False]]


def test_needs_more_rollouts_when_a_slot_runs_out_or_the_budget_is_not_reached():
    # slot 1's two episodes end at 6, before the stop at step 10: what it ran next is unknown
    assert budget_keep_mask(torch.tensor([[10, 3, 10, 3]]), slots=2, budget=10) is None
    # completed episodes hold only 6 samples
    assert budget_keep_mask(torch.tensor([[3, 3]]), slots=2, budget=10) is None


def test_full_length_episodes_give_exactly_one_round():
    horizon, slots = 7, 4
    keep = budget_keep_mask(torch.full((3, 2 * slots), horizon), slots=slots, budget=slots * horizon)
    assert keep[:, :slots].all() and not keep[:, slots:].any()


def test_matches_a_step_by_step_simulation_of_the_collector():
    rng = np.random.default_rng(0)
    slots, per_slot, horizon = 5, 30, 20
    for trial in range(40):
        lengths = rng.integers(1, horizon + 1, size=(per_slot, slots))
        if trial % 2:
            lengths[:, rng.integers(slots)] = horizon  # one slot of long episodes, the rest mixed
        keep = budget_keep_mask(torch.as_tensor(lengths.reshape(1, -1)), slots=slots, budget=slots * horizon)
        assert keep is not None, "30 episodes per slot must cover a budget of 5 x 20 samples"
        expected = simulate_collector([list(lengths[:, s]) for s in range(slots)], budget=slots * horizon)
        kept = {(r % slots, r // slots) for r in np.flatnonzero(keep[0].numpy())}
        assert kept == expected, f"trial {trial}: mask keeps {sorted(kept - expected)} extra, " \
                                 f"misses {sorted(expected - kept)}"


def test_shared_budget_matches_the_trainer_collector_one_slot_per_task():
    """batch_maml_polopt: slot i runs task i, one budget of tasks x rollouts x horizon for the meta-batch."""
    rng = np.random.default_rng(1)
    tasks, per_task, horizon, rollouts = 4, 60, 20, 3
    for trial in range(40):
        lengths = rng.integers(1, horizon + 1, size=(tasks, per_task))
        lengths[rng.integers(tasks)] = horizon if trial % 2 else lengths[rng.integers(tasks)]
        budget = tasks * rollouts * horizon
        keep = shared_budget_keep_mask(torch.as_tensor(lengths), budget)
        assert keep is not None, "60 episodes per slot must cover 3 x 20 samples per task"
        expected = simulate_collector([list(lengths[i]) for i in range(tasks)], budget=budget)
        kept = {(int(i), int(r)) for i, r in zip(*np.nonzero(keep.numpy()))}
        assert kept == expected, f"trial {trial}: extra {sorted(kept - expected)}, missing {sorted(expected - kept)}"
    # every episode at the horizon: exactly `rollouts` episodes per task, as with a fixed number of episodes
    full = shared_budget_keep_mask(torch.full((tasks, 2 * rollouts), horizon), tasks * rollouts * horizon)
    assert full[:, :rollouts].all() and not full[:, rollouts:].any()
    # a slot that has not run past the stop step leaves the answer open
    assert shared_budget_keep_mask(torch.tensor([[10, 10], [2, 2]]), budget=20) is None


def test_shared_sample_budget_batch_draws_rounds_for_the_task_with_short_episodes():
    calls = []

    def sample_round() -> BatchEpisodes:
        calls.append(1)
        return episodes_with_lengths(np.array([[10, 10], [2, 2]]), horizon=10)  # task 1 ends every 2 steps

    batch = sample_budget_batch(sample_round, budget=40, shared=True)
    # completed by step t: 10*floor(t/10) + 2*floor(t/2) -> 36 at step 18, 40 at step 20 (task 0's 2nd
    # episode and task 1's 10th): task 1 needs 10 episodes = 5 rounds of 2
    assert len(calls) == 5
    assert batch.lengths.sum(dim=1).tolist() == [20, 20]
    assert sorted(batch.lengths[1].tolist()) == [2] * 10


def test_pack_steps_keeps_every_real_step_and_the_losses():
    rng = np.random.default_rng(2)
    horizon, tasks, rollouts = 9, 3, 5
    lengths = rng.integers(1, horizon + 1, size=(tasks, rollouts))
    lengths[1] = 0  # task 1 has 0-step filler episodes (as gather_episodes leaves) except the first
    lengths[1, 0] = 4
    t = np.arange(horizon)[:, None, None]
    mask = (t < lengths[None]).astype(np.float64)
    obs = rng.normal(size=(horizon, tasks, rollouts, 2))
    actions = rng.normal(size=(horizon, tasks, rollouts, 2))
    episodes = BatchEpisodes.from_numpy(obs, actions, rng.normal(size=mask.shape), mask=mask, dtype=torch.float64)
    advantages = torch.as_tensor(rng.normal(size=mask.shape))
    packed, packed_adv = pack_steps(episodes, advantages)
    assert tuple(packed.mask.shape) == (int(lengths.sum(axis=1).max()), tasks, 1)
    assert packed.mask.sum(dim=(0, 2)).tolist() == lengths.sum(axis=1).tolist()
    real = episodes.mask.bool()
    for i in range(tasks):  # the same real steps, in episode order
        expected = episodes.observations[:, i].transpose(0, 1)[real[:, i].t()]
        assert torch.equal(packed.observations[: int(lengths[i].sum()), i, 0], expected)
        assert torch.equal(packed_adv[: int(lengths[i].sum()), i, 0], advantages[:, i].t()[real[:, i].t()])

    policy = make_policy(2, 2, MAMLTRPOConfig(env_id="MetaNav2D-v0", hidden_sizes=(8, 8), dtype="float64"), seed=0)
    params = {k: v.detach().unsqueeze(0).expand(tasks, *v.shape) for k, v in policy.named_params().items()}
    with torch.no_grad():
        old = policy.forward_batched(episodes.observations, params, task_dim=1)
        old_packed = policy.forward_batched(packed.observations, params, task_dim=1)
        shifted = {k: v + 0.01 for k, v in params.items()}
        assert reinforce_loss(policy, shifted, packed, packed_adv).item() == pytest.approx(
            reinforce_loss(policy, shifted, episodes, advantages).item(), rel=1e-12)
        for a, b in zip(
            surrogate_and_kl(policy, shifted, packed, packed_adv, old_packed.log_prob(packed.actions).sum(-1),
                             old_packed),
            surrogate_and_kl(policy, shifted, episodes, advantages, old.log_prob(episodes.actions).sum(-1), old),
        ):
            assert a.item() == pytest.approx(b.item(), rel=1e-12)
    with pytest.raises(ValueError, match="per-step tensors"):
        pack_steps(episodes, advantages[:, :2])


def test_gather_packs_kept_episodes_and_mean_returns_ignores_the_filler():
    lengths = np.array([[10, 3, 10, 3, 10, 3, 10, 3], [10, 10, 10, 10, 10, 10, 10, 10]])
    episodes = episodes_with_lengths(lengths, horizon=10)
    keep = budget_keep_mask(episodes.lengths, slots=2, budget=19)
    packed = gather_episodes(episodes, keep)
    # both stop at step 10 (19 and 20 samples completed): task 0 keeps rollouts 0, 1, 3, 5 (returns 10, 3, 3, 3),
    # task 1 rollouts 0, 1 (returns 10, 10)
    assert packed.rollouts_per_task == 4
    assert packed.observations[0, 0, :, 0].tolist() == [0, 1, 3, 5]
    assert packed.lengths.tolist() == [[10, 3, 3, 3], [10, 10, 0, 0]]
    assert packed.mean_returns().tolist() == pytest.approx([19 / 4, 10.0])
    with pytest.raises(ValueError, match="keep must be"):
        gather_episodes(episodes, keep[:, :3])


def test_sample_budget_batch_draws_rounds_until_the_budget_is_settled():
    calls = []

    def sample_round() -> BatchEpisodes:
        calls.append(1)
        return episodes_with_lengths(np.array([[2, 10]]), horizon=10)  # slot 0: 2-step episodes, slot 1: 10-step

    batch = sample_budget_batch(sample_round, budget=20)
    # completed by step t: 2*floor(t/2) + 10*floor(t/10) -> stop at 10, which needs slot 0's 5th episode: 5 rounds
    assert len(calls) == 5
    assert sorted(batch.lengths[0].tolist()) == [2, 2, 2, 2, 2, 10]


def test_sample_budget_batch_gives_up_after_max_rounds():
    def sample_round() -> BatchEpisodes:
        return episodes_with_lengths(np.array([[1, 1]]), horizon=10)

    with pytest.raises(RuntimeError, match="not reached after 3 rounds"):
        sample_budget_batch(sample_round, budget=20, max_rounds=3)


def test_rounds_cut_short_by_the_sampler_are_padded_to_the_longest():
    """The sampler stops a round once every episode has ended, so a round of short episodes is shorter than
    the horizon; the rounds are joined with padding."""
    rounds = iter([episodes_with_lengths(np.array([[3, 10]]), horizon=10),
                   episodes_with_lengths(np.array([[3, 3]]), horizon=3)] * 5)
    batch = sample_budget_batch(lambda: next(rounds), budget=20)
    # slot 0 ends episodes at 3, 6, 9, 12; slot 1 at 10, 13: 22 samples completed at step 12, the stop
    assert batch.horizon == 10
    assert sorted(batch.lengths[0].tolist()) == [3, 3, 3, 3, 10]


def test_evaluation_per_task_budget_equals_fixed_episodes_when_nothing_terminates():
    """With goal_tolerance 1e-12 no MetaNav2D episode ends early, so the budget is one round of full episodes."""
    policy = make_policy(2, 2, MAMLTRPOConfig(env_id="MetaNav2D-v0", hidden_sizes=(8, 8)), seed=0)
    config = EvaluationConfig(num_tasks=3, num_steps=1, rollouts_per_task=4, env_kwargs={"goal_tolerance": 1e-12})
    curves = [evaluate_adaptation(policy, "MetaNav2D-v0", config, show_progress=False, stage_sampler=sampler)
              for sampler in (FixedEpisodes(), PerTaskSampleBudget())]
    assert curves[0]["per_task"] == curves[1]["per_task"]


def test_evaluation_per_task_budget_collects_more_episodes_when_episodes_end_early(monkeypatch):
    """With a goal tolerance wider than the square every episode ends after one step: the budget of
    rollouts x horizon samples is then rollouts x horizon one-step episodes per task."""
    policy = make_policy(2, 2, MAMLTRPOConfig(env_id="MetaNav2D-v0", hidden_sizes=(8, 8)), seed=0)
    config = EvaluationConfig(num_tasks=2, num_steps=0, rollouts_per_task=3, env_kwargs={"goal_tolerance": 2.0})
    seen = []
    sampler = PerTaskSampleBudget()
    original = sampler.collect

    def spy(*args, **kwargs):
        seen.append(original(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(sampler, "collect", spy)
    curve = evaluate_adaptation(policy, "MetaNav2D-v0", config, show_progress=False, stage_sampler=sampler)
    horizon = 100
    assert seen[0].lengths.sum(dim=1).tolist() == [3 * horizon] * 2
    assert seen[0].rollouts_per_task == 3 * horizon
    fixed = evaluate_adaptation(policy, "MetaNav2D-v0", config, show_progress=False, stage_sampler=FixedEpisodes())
    assert curve["per_task"][0] == seen[0].mean_returns().tolist() and fixed["per_task"] != curve["per_task"]


TINY = dict(env_id="MetaNav2D-v0", meta_batch_size=3, fast_batch_size=4, hidden_sizes=(8, 8), seed=3)


def _budget_agent(**overrides) -> MAMLTRPO:
    return MAMLTRPO(MAMLTRPOConfig(**{**TINY, **overrides}),
                    extensions=Extensions(name="maml2017:sample_budget", stage_sampler=SharedSampleBudget()))


def test_shared_budget_training_equals_episode_training_when_no_episode_ends_early():
    """The original trainer's shared budget with MetaNav2D's goal test switched off: every episode runs to the
    horizon, the budget is one round of full episodes, and only the packed layout differs."""
    runs = []
    for agent in (MAMLTRPO(MAMLTRPOConfig(**TINY, env_kwargs={"goal_tolerance": 1e-12})),
                  _budget_agent(env_kwargs={"goal_tolerance": 1e-12})):
        runs.append([agent.step() for _ in range(2)])
        agent.close()
    for episodes_row, samples_row in zip(*runs):
        for key in ("train/return_before_adapt", "train/return_after_adapt", "trpo/loss_before", "trpo/loss_after",
                    "trpo/kl", "trpo/grad_norm"):
            assert samples_row[key] == pytest.approx(episodes_row[key], rel=1e-4, abs=1e-7), key


def test_shared_budget_training_packs_many_short_episodes():
    """With a goal tolerance of 0.3 many episodes end early: the shared budget then holds more episodes than
    fast_batch_size per task, the meta-step sees each task's real steps in one column, and a step runs."""
    agent = _budget_agent(env_kwargs={"goal_tolerance": 0.3})
    cfg = agent.config
    gathered = agent.sample_episodes(
        {k: v.detach().unsqueeze(0).expand(cfg.meta_batch_size, *v.shape) for k, v in agent._params().items()},
        agent.rollouts.sample_tasks(cfg.meta_batch_size, agent.task_rng),
    )
    budget = cfg.meta_batch_size * cfg.fast_batch_size * agent.rollouts.horizon
    assert int(gathered.lengths.sum()) >= budget
    assert int((gathered.lengths > 0).sum()) > cfg.meta_batch_size * cfg.fast_batch_size, "no episode ended early"
    batch = agent.collect()
    assert batch.valid.rollouts_per_task == 1 and batch.train[0][0].rollouts_per_task == 1
    assert batch.valid.horizon == int(batch.valid.mask.sum(dim=0).max()), "packed rows beyond the longest task"
    metrics = agent.step()
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if k.startswith(("train/", "trpo/")))
    agent.close()
