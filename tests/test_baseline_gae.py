"""Tests of padded episodes, discounted returns, GAE, per-task normalisation and the linear feature baseline
(metarl/rl/episodes.py, metarl/rl/advantages.py, metarl/rl/baseline.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from metarl.rl.advantages import discounted_returns, gae, normalize_per_task
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.episodes import BatchEpisodes, mask_from_dones

NAN = float("nan")


# ----------------------------------------------------------------------------------------------- episodes
def test_mask_from_dones_keeps_the_terminal_step():
    dones = np.array([[0, 0], [1, 0], [0, 0], [0, 1]], dtype=bool)  # [T=4, B=2]
    mask = mask_from_dones(dones)
    assert mask.tolist() == [[True, True], [True, True], [False, True], [False, True]]


def _episodes(mask: list[list[float]], seed: int = 0) -> BatchEpisodes:
    """[T, N=len(mask[0]) // 1, R] helper: mask given as [T][N*R] rows, reshaped to [T, N, R] with R = 2."""
    m = torch.tensor(mask, dtype=torch.float64)
    horizon, nr = m.shape
    m = m.view(horizon, nr // 2, 2)
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(horizon, nr // 2, 2, 3, generator=g, dtype=torch.float64)
    act = torch.randn(horizon, nr // 2, 2, 1, generator=g, dtype=torch.float64)
    rew = torch.randn(horizon, nr // 2, 2, generator=g, dtype=torch.float64)
    return BatchEpisodes(obs, act, rew, m)


def test_batch_episodes_sizes_returns_task_and_dtype():
    ep = _episodes([[1, 1, 1, 1], [1, 0, 1, 1], [1, 0, 0, 1]])  # T=3, N=2, R=2
    assert (ep.horizon, ep.num_tasks, ep.rollouts_per_task, ep.obs_dim, ep.act_dim) == (3, 2, 2, 3, 1)
    assert ep.lengths.tolist() == [[3, 1], [2, 3]]
    expected = (ep.rewards * ep.mask).sum(0)
    torch.testing.assert_close(ep.episode_returns(), expected)
    ep_nan = BatchEpisodes(ep.observations, ep.actions, torch.where(ep.mask.bool(), ep.rewards, NAN), ep.mask)
    torch.testing.assert_close(ep_nan.episode_returns(), expected)  # padding never leaks, even NaN
    t1 = ep.task(1)
    assert t1.num_tasks == 1 and t1.lengths.tolist() == [[2, 3]]
    torch.testing.assert_close(t1.rewards[:, 0], ep.rewards[:, 1])
    assert ep.to(torch.float32).observations.dtype == torch.float32
    with pytest.raises(IndexError, match="task index 2 is out of range for 2 tasks"):
        ep.task(2)


def test_batch_episodes_from_numpy_and_validation():
    dones = np.zeros((3, 1, 2), dtype=bool)
    dones[0, 0, 0] = True
    ep = BatchEpisodes.from_numpy(
        np.zeros((3, 1, 2, 4)), np.zeros((3, 1, 2, 2)), np.ones((3, 1, 2)), dones=dones
    )
    assert ep.dtype == torch.float32 and ep.lengths.tolist() == [[1, 3]]
    with pytest.raises(ValueError, match="exactly one of mask= or dones="):
        BatchEpisodes.from_numpy(np.zeros((3, 1, 2, 4)), np.zeros((3, 1, 2, 2)), np.ones((3, 1, 2)))
    with pytest.raises(ValueError, match="BatchEpisodes.mask must be non-increasing in time"):
        BatchEpisodes.from_numpy(
            np.zeros((2, 1, 1, 1)),
            np.zeros((2, 1, 1, 1)),
            np.ones((2, 1, 1)),
            mask=np.array([0, 1]).reshape(2, 1, 1),
        )
    with pytest.raises(
        ValueError, match=r"BatchEpisodes.actions has shape \(3, 1, 3, 2\).*rewards' \(3, 1, 2\)"
    ):
        BatchEpisodes.from_numpy(
            np.zeros((3, 1, 2, 4)), np.zeros((3, 1, 3, 2)), np.ones((3, 1, 2)), dones=dones
        )
    with pytest.raises(ValueError, match="BatchEpisodes.rewards must have 3 dims"):
        BatchEpisodes(torch.zeros(3, 1, 2, 4), torch.zeros(3, 1, 2, 2), torch.zeros(3, 2), torch.ones(3, 2))


# ----------------------------------------------------------------------------------------------- returns / GAE
def _hand_case():
    """Two 3-step rollouts of one task, [T=3, N=1, R=2]; the second ended after 2 steps (padded with junk)."""
    rewards = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, NAN]], dtype=torch.float64).view(3, 1, 2)
    values = torch.tensor([[0.5, 0.5], [1.0, 1.0], [1.5, 99.0]], dtype=torch.float64).view(3, 1, 2)
    mask = torch.tensor([[1, 1], [1, 1], [1, 0]], dtype=torch.float64).view(3, 1, 2)
    return rewards, values, mask


def test_discounted_returns_known_answer():
    rewards, _, mask = _hand_case()
    ret = discounted_returns(rewards, mask, gamma=0.9)
    # full episode: R2 = 3, R1 = 2 + .9*3 = 4.7, R0 = 1 + .9*4.7 = 5.23;  padded one: R1 = 2, R0 = 2.8, R2 = 0
    expected = torch.tensor([[5.23, 2.8], [4.7, 2.0], [3.0, 0.0]], dtype=torch.float64).view(3, 1, 2)
    torch.testing.assert_close(ret, expected)


def test_gae_known_answer_with_padding():
    rewards, values, mask = _hand_case()
    adv = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # full episode: δ2 = 3 − 1.5 = 1.5 (no bootstrap after the end), δ1 = 2 + .9*1.5 − 1 = 2.35,
    #   δ0 = 1 + .9*1 − .5 = 1.4;  A2 = 1.5, A1 = 2.35 + .72*1.5 = 3.43, A0 = 1.4 + .72*3.43 = 3.8696
    # padded one: V2 (=99 on padding) is ignored: δ1 = 2 + 0 − 1 = 1, A1 = 1, A0 = 1.4 + .72*1 = 2.12, A2 = 0
    expected = torch.tensor([[3.8696, 2.12], [3.43, 1.0], [1.5, 0.0]], dtype=torch.float64).view(3, 1, 2)
    torch.testing.assert_close(adv, expected)
    # λ = 0: one-step TD residuals
    td = gae(rewards, values, mask, gamma=0.9, lam=0.0)
    torch.testing.assert_close(
        td, torch.tensor([[1.4, 1.4], [2.35, 1.0], [1.5, 0.0]], dtype=torch.float64).view(3, 1, 2)
    )


def test_gae_lambda_one_equals_returns_minus_values():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 9, (3, 4), generator=g)
    mask = (torch.arange(8).view(8, 1, 1) < lengths).to(torch.float64)
    rewards = torch.randn(8, 3, 4, generator=g, dtype=torch.float64)
    values = torch.randn(8, 3, 4, generator=g, dtype=torch.float64)
    adv = gae(rewards, values, mask, gamma=0.99, lam=1.0)
    torch.testing.assert_close(adv, (discounted_returns(rewards, mask, 0.99) - values) * mask)


def test_gae_rejects_bad_arguments():
    r, v, m = _hand_case()
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]; got 1.5"):
        gae(r, v, m, gamma=1.5)
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]; got -0.1"):
        gae(r, v, m, lam=-0.1)
    with pytest.raises(ValueError, match="shapes must match"):
        gae(r, v[:2], m)


def test_normalize_per_task_mean_zero_std_one_on_real_steps():
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 11, (3, 5), generator=g)
    mask = (torch.arange(10).view(10, 1, 1) < lengths).to(torch.float64)
    scale = torch.tensor([1.0, 100.0, 1e-3], dtype=torch.float64).view(1, 3, 1)
    adv = (torch.randn(10, 3, 5, generator=g, dtype=torch.float64) + 3.0) * scale
    adv = torch.where(mask.bool(), adv, NAN)  # junk on padding must not matter
    out = normalize_per_task(adv, mask)
    assert bool(torch.isfinite(out).all())
    assert bool((out[~mask.bool()] == 0).all()), "padded steps must stay exactly 0"
    for i in range(3):
        real = out[:, i][mask[:, i].bool()]
        assert abs(float(real.mean())) < 1e-12, f"task {i} mean {float(real.mean())}"
        # std/(std + 1e-8) = 1 − 1e-5 for the task of scale 1e-3, hence rel_tol 1e-4
        assert math.isclose(float(real.std(unbiased=False)), 1.0, rel_tol=1e-4), f"task {i} std"
    # each task is standardised on its own: rescaling task 1 leaves task 0 unchanged
    adv2 = adv.clone()
    adv2[:, 1] *= 7.0
    torch.testing.assert_close(normalize_per_task(adv2, mask)[:, 0], out[:, 0])


# ----------------------------------------------------------------------------------------------- baseline
def _linear_data(n_tasks=3, horizon=100, rollouts=10, obs_dim=2, seed=0, lengths=None):
    g = torch.Generator().manual_seed(seed)
    obs = 3 * torch.rand(horizon, n_tasks, rollouts, obs_dim, generator=g, dtype=torch.float64) - 1.5
    if lengths is None:
        lengths = torch.randint(horizon // 2, horizon + 1, (n_tasks, rollouts), generator=g)
    mask = (torch.arange(horizon).view(horizon, 1, 1) < lengths).to(torch.float64)
    coeffs = torch.randn(n_tasks, 2 * obs_dim + 4, generator=g, dtype=torch.float64)
    phi = LinearFeatureBaseline.features(obs)
    returns = torch.einsum("tnrf,nf->tnr", phi, coeffs) * mask
    ep = BatchEpisodes(
        obs, torch.zeros(horizon, n_tasks, rollouts, 1, dtype=torch.float64), torch.zeros_like(returns), mask
    )
    return ep, returns, coeffs


def test_features_match_duan_et_al():
    obs = torch.tensor([0.5, -20.0], dtype=torch.float64).expand(3, 1, 1, 2)  # -20 is clipped to -10
    phi = LinearFeatureBaseline.features(obs)
    assert phi.shape == (3, 1, 1, 8)
    t = 2 / 100
    torch.testing.assert_close(
        phi[2, 0, 0], torch.tensor([0.5, -10, 0.25, 100, t, t**2, t**3, 1], dtype=torch.float64)
    )


def test_baseline_recovers_exact_linear_returns_per_task():
    ep, returns, coeffs = _linear_data()
    # with a negligible ridge term the exact coefficients come back (to round-off)
    exact = LinearFeatureBaseline(reg_coeff=1e-10).fit(ep, returns)
    torch.testing.assert_close(exact.coeffs, coeffs, rtol=0, atol=1e-7)
    # the default λ = 1e-5 biases the solution by O(λ / σ_min(ΦᵀΦ)) (measured 2.3e-4 here: τ, τ², τ³ are
    # nearly collinear) but the fitted values stay accurate
    baseline = LinearFeatureBaseline()
    values = baseline.fit_predict(ep, returns)
    assert values.shape == returns.shape
    torch.testing.assert_close(baseline.coeffs, coeffs, rtol=0, atol=2e-3)
    torch.testing.assert_close(values, returns, rtol=0, atol=1e-4)
    assert float((baseline.coeffs[0] - baseline.coeffs[1]).abs().max()) > 0.1, "tasks must get their own fit"
    # batched fit == fitting each task alone
    for i in range(ep.num_tasks):
        alone = LinearFeatureBaseline().fit(ep.task(i), returns[:, i : i + 1])
        torch.testing.assert_close(alone.coeffs[0], baseline.coeffs[i])
    assert baseline.reg_coeffs.tolist() == [1e-5] * 3 and not bool(baseline.fallback.any())
    # processing the tasks in chunks (one task per chunk here) changes nothing
    chunked = LinearFeatureBaseline()
    chunked.chunk_bytes = 1
    torch.testing.assert_close(chunked.fit_predict(ep, returns), values, rtol=0, atol=1e-12)
    torch.testing.assert_close(chunked.predict(ep), values, rtol=0, atol=1e-12)


def test_baseline_ignores_padded_steps():
    ep, returns, _ = _linear_data(seed=3)
    values = LinearFeatureBaseline().fit_predict(ep, returns)
    pad = ~ep.mask.bool()
    assert bool(pad.any())
    junk_obs = torch.where(pad.unsqueeze(-1), torch.full_like(ep.observations, NAN), ep.observations)
    junk_ret = torch.where(pad, torch.full_like(returns, 1e6), returns)
    junk = BatchEpisodes(junk_obs, ep.actions, ep.rewards, ep.mask)
    baseline = LinearFeatureBaseline()
    values_junk = baseline.fit_predict(junk, junk_ret)
    torch.testing.assert_close(values_junk, values)
    assert bool((values_junk[pad] == 0).all()), "predictions must be zero on padded steps"


def test_baseline_degenerate_designs_stay_finite():
    ep, returns, _ = _linear_data(n_tasks=3, seed=4)
    obs = ep.observations.clone()
    obs[:, 0] = 0.0  # task 0: constant observations (o, o² columns are all zero)
    obs[:, 1, :, 1] = obs[:, 1, :, 0]  # task 1: two identical observation dimensions (rank-deficient)
    mask = ep.mask.clone()
    mask[1:, 2] = 0.0  # task 2: single-step episodes (τ columns are all zero)
    ep = BatchEpisodes(obs, ep.actions, ep.rewards, mask)
    values = LinearFeatureBaseline().fit_predict(ep, returns * mask)
    assert bool(torch.isfinite(values).all())
    # no real steps at all: the fit is 0 and so are the predictions
    empty = BatchEpisodes(obs, ep.actions, ep.rewards, torch.zeros_like(mask))
    assert bool((LinearFeatureBaseline().fit_predict(empty, returns) == 0).all())


class _FailsBelow(LinearFeatureBaseline):
    """Reports a failed solve for systems whose first feature column is all zero while λ < threshold."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.calls: list[list[float]] = []

    def _solve(self, gram, rhs, reg):
        solution, ok = super()._solve(gram, rhs, reg)
        self.calls.append(reg.tolist())
        return solution, ok & ~((gram[:, 0, 0] == 0) & (reg < self.threshold))


def test_baseline_escalates_regularisation_only_for_failing_tasks():
    ep, returns, _ = _linear_data(n_tasks=3, seed=5)
    obs = ep.observations.clone()
    obs[:, 1, :, 0] = 0.0  # task 1 gets the "failing" design
    ep = BatchEpisodes(obs, ep.actions, ep.rewards, ep.mask)
    baseline = _FailsBelow(threshold=1e-3)
    values = baseline.fit_predict(ep, returns)
    assert [[round(r, 12) for r in call] for call in baseline.calls] == [[1e-5] * 3, [1e-4], [1e-3]]
    torch.testing.assert_close(baseline.reg_coeffs, torch.tensor([1e-5, 1e-3, 1e-5], dtype=torch.float64))
    assert not bool(baseline.fallback.any()) and bool(torch.isfinite(values).all())


def test_baseline_falls_back_to_least_squares_when_every_attempt_fails():
    ep, returns, _ = _linear_data(n_tasks=2, seed=6)
    obs = ep.observations.clone()
    obs[:, 0, :, 0] = 0.0
    ep = BatchEpisodes(obs, ep.actions, ep.rewards, ep.mask)
    baseline = _FailsBelow(threshold=math.inf)
    with pytest.warns(RuntimeWarning, match=r"ridge solve failed for tasks \[0\] up to reg_coeff=1.0e-01"):
        values = baseline.fit_predict(ep, returns)
    assert baseline.fallback.tolist() == [True, False] and len(baseline.calls) == 5
    assert bool(torch.isfinite(values).all())
    # the fallback is the least-squares solution of the last (λ = 0.1) ridge system of task 0
    phi = LinearFeatureBaseline.features(ep.observations, ep.mask)[:, 0].reshape(-1, 8)
    system = phi.T @ phi + 0.1 * torch.eye(8, dtype=torch.float64)
    expected = torch.linalg.lstsq(system, phi.T @ returns[:, 0].reshape(-1)).solution
    torch.testing.assert_close(baseline.coeffs[0], expected)
    assert baseline.reg_coeffs.tolist() == [pytest.approx(0.1), 1e-5]


def test_baseline_rejects_bad_input():
    ep, returns, _ = _linear_data()
    with pytest.raises(ValueError, match="reg_coeff must be a finite number > 0"):
        LinearFeatureBaseline(reg_coeff=0.0)
    with pytest.raises(ValueError, match=r"returns must have the episodes' shape \[T, N, R\]"):
        LinearFeatureBaseline().fit(ep, returns[:-1])
    bad = returns.clone()
    bad[0, 0, 0] = NAN  # a real step
    with pytest.raises(ValueError, match="returns contain NaN or inf on real"):
        LinearFeatureBaseline().fit(ep, bad)
    with pytest.raises(RuntimeError, match="predict called before fit"):
        LinearFeatureBaseline().predict(ep)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a normal fit must not warn
        LinearFeatureBaseline().fit(ep, returns)
