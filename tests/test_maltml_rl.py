"""MALTML for RL (agents/maltml_rl.py): known-answer family step, the first-order outer update, the test-time
protocol and resumable training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import metarl  # noqa: F401
from agents import maltml_rl
from agents.maltml_rl import (
    MALTMLRL,
    FamilyEvaluationConfig,
    MALTMLRLConfig,
    evaluate_family_adaptation,
    family_step,
    family_task_sampler,
    family_tasks,
    load_maltml_rl_policy,
    tune_family_step,
)
from agents.training import TrainingConfig, train
from metarl import maml
from metarl.rl.baseline import LinearFeatureBaseline
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.objectives import compute_advantages, reinforce_loss
from metarl.rl.policy import GaussianMLPPolicy

TINY = dict(family_batch_size=2, tasks_per_family=2, rollouts_per_task=2, query_rollouts=3, family_steps=2,
            hidden_sizes=(8,))


def _episodes(rng: np.random.Generator, n_tasks: int, rollouts: int, horizon: int = 6) -> BatchEpisodes:
    dones = np.zeros((horizon, n_tasks, rollouts))
    dones[-1] = 1
    dones[3, 0, 0] = 1  # one short episode: padded steps must be ignored
    return BatchEpisodes.from_numpy(
        rng.normal(size=(horizon, n_tasks, rollouts, 2)), rng.normal(size=(horizon, n_tasks, rollouts, 2)),
        rng.normal(size=(horizon, n_tasks, rollouts)), dones=dones, dtype=torch.float64,
    )


class _FixedRollouts:
    """Returns pre-drawn episodes whatever the parameters (to make the family step hand-checkable)."""

    def __init__(self, episodes: BatchEpisodes) -> None:
        self.episodes = episodes

    def sample(self, policy, params, tasks, seed, noise):  # noqa: ANN001 - the PolicyRollouts signature
        return self.episodes


class _FixedFamilyRollouts:
    def __init__(self, support: BatchEpisodes, query: BatchEpisodes) -> None:
        self.support, self.query = _FixedRollouts(support), _FixedRollouts(query)


def test_family_step_matches_per_task_loop() -> None:
    """θ'_j = θ_j − β Σ_{i∈j} ∇L^query_i(θ_j − α ∇L^support_i(θ_j)), computed task by task by hand."""
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,)).double()
    n_fam, per_fam, alpha, beta = 2, 3, 0.3, 0.2
    rng = np.random.default_rng(1)
    support, query = _episodes(rng, n_fam * per_fam, 4), _episodes(rng, n_fam * per_fam, 5)
    theta = {k: v.detach() for k, v in policy.named_params().items()}
    fam = {k: v + 0.01 * torch.randn(n_fam, *v.shape, dtype=v.dtype) for k, v in theta.items()}

    new, record = family_step(
        policy, fam, [None] * (n_fam * per_fam), per_fam, _FixedFamilyRollouts(support, query), task_lr=alpha,
        family_lr=beta, gamma=0.99, gae_lambda=1.0, reset_rng=np.random.default_rng(0), noise=torch.Generator(),
    )

    baseline = LinearFeatureBaseline()
    adv_s = compute_advantages(support, baseline, 0.99, 1.0)
    adv_q = compute_advantages(query, baseline, 0.99, 1.0)
    idx = lambda i: torch.tensor([i])  # noqa: E731
    for j in range(n_fam):
        total = {k: torch.zeros_like(v[j]) for k, v in fam.items()}
        for t in range(per_fam):
            i = j * per_fam + t
            start = {k: v[j : j + 1].clone().requires_grad_(True) for k, v in fam.items()}
            loss = reinforce_loss(policy, start, support.select_tasks(idx(i)), adv_s[:, i : i + 1])
            grads = torch.autograd.grad(loss, list(start.values()))
            adapted = {k: (v - alpha * g).detach().requires_grad_(True) for (k, v), g in zip(start.items(), grads)}
            loss_q = reinforce_loss(policy, adapted, query.select_tasks(idx(i)), adv_q[:, i : i + 1])
            for (k, _), g in zip(adapted.items(), torch.autograd.grad(loss_q, list(adapted.values()))):
                total[k] += g[0]
        for k in fam:
            expected = fam[k][j] - beta * total[k]
            torch.testing.assert_close(new[k][j], expected, rtol=1e-10, atol=1e-12, msg=f"family {j}, {k}")
    assert record["return_support"] == pytest.approx(support.episode_returns().mean().item())
    assert record["return_query"] == pytest.approx(query.episode_returns().mean().item())


def test_outer_update_is_theta_plus_eta_sum_of_family_displacements(monkeypatch: pytest.MonkeyPatch) -> None:
    """First-order MALTML (paper 3.2): θ ← θ + η Σ_j (θ'_j − θ), with θ'_j given."""
    agent = MALTMLRL(MALTMLRLConfig(**TINY, outer_lr=0.25))
    try:
        theta = {k: v.detach().clone() for k, v in agent.policy.named_params().items()}
        shifts = {k: torch.arange(2 * v.numel(), dtype=v.dtype).reshape(2, *v.shape) / 100 for k, v in theta.items()}

        def fake_meta_finetune(policy, params, tasks, per_family, rollouts, **kwargs):  # noqa: ANN001
            assert len(tasks) == 2 * 2 and per_family == 2
            return {k: params[k] + shifts[k] for k in params}, [{"return_support": -1.0, "return_query": -0.5}]

        monkeypatch.setattr(maltml_rl, "meta_finetune", fake_meta_finetune)
        metrics = agent.step()
        for name, value in agent.policy.named_params().items():
            torch.testing.assert_close(value.detach(), theta[name] + 0.25 * shifts[name].sum(0), msg=name)
        assert metrics["train/return_before_adapt"] == -1.0 and metrics["train/return_after_adapt"] == -0.5
    finally:
        agent.close()


def test_family_tasks_lie_in_their_family() -> None:
    sampler = family_task_sampler("MetaNav2DFamily-v0")
    rng = np.random.default_rng(3)
    families = sampler.sample_families(4, rng)
    tasks = family_tasks(sampler, families, 5, rng)
    assert len(tasks) == 20
    for k, task in enumerate(tasks):
        assert families[k // 5].contains(task.goal), (k, task, families[k // 5])
    assert len({(f.low, f.high) for f in families}) == 4  # families differ across the batch
    sampler.close()


def test_env_without_families_is_refused() -> None:
    with pytest.raises(ValueError, match="no task families"):
        family_task_sampler("MetaNav2D-v0")


@pytest.mark.parametrize(
    ("field", "value"),
    [("family_steps", 1), ("family_lr", 0.0), ("outer_optimizer", "rmsprop"), ("tasks_per_family", 0),
     ("env_id", "NoSuchEnv-v0")],
)
def test_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"MALTMLRLConfig.{field} = "):
        MALTMLRLConfig(**{field: value})


def test_evaluation_schema_and_determinism() -> None:
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,))
    config = FamilyEvaluationConfig(num_families=2, tasks_per_family=2, goal_tasks_per_family=2,
                                    rollouts_per_task=2, query_rollouts=2, goal_rollouts=3, num_steps=2)
    a = evaluate_family_adaptation(policy, "MetaNav2DFamily-v0", config)
    b = evaluate_family_adaptation(policy, "MetaNav2DFamily-v0", config)
    assert a["with_family_update"]["mean"] == b["with_family_update"]["mean"]
    # meta-finetuning tasks and goal tasks of family f come from family f's crop
    from envs.nav2d import Family

    for f, family in enumerate(a["families"]):
        crop = Family(low=tuple(family["low"]), high=tuple(family["high"]))
        for task in a["meta_tasks"][2 * f : 2 * f + 2] + a["goal_tasks"][2 * f : 2 * f + 2]:
            assert crop.contains(task["goal"]), (f, task, family)
    for key in ("with_family_update", "without_family_update"):
        curve = a[key]
        assert curve["steps"] == [0, 1, 2] and len(curve["mean"]) == 3 and len(curve["per_task"][0]) == 4
    # the family update moves the goal tasks' starting point ...
    assert a["with_family_update"]["mean"][0] != a["without_family_update"]["mean"][0]
    # ... and with no family step both curves start from θ with the same streams
    zero = FamilyEvaluationConfig(**{**config.__dict__, "family_steps": 0})
    c = evaluate_family_adaptation(policy, "MetaNav2DFamily-v0", zero)
    assert c["with_family_update"]["per_task"] == c["without_family_update"]["per_task"]


def test_tuning_refuses_the_test_seed() -> None:
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,))
    with pytest.raises(ValueError, match="test seed"):
        tune_family_step(policy, "MetaNav2DFamily-v0", [0.1], [1], FamilyEvaluationConfig(seed=5), test_seed=5)


def test_training_resumes_exactly(tmp_path) -> None:  # noqa: ANN001
    def run(run_dir, iterations: int) -> None:  # noqa: ANN001
        agent = MALTMLRL(MALTMLRLConfig(**TINY, outer_optimizer="adam", outer_lr=1e-3))
        try:
            train(agent, TrainingConfig(run_dir=str(run_dir), iterations=iterations,
                                        resume=(run_dir / "last.pt").exists(), tensorboard=False, progress=False))
        finally:
            agent.close()

    run(tmp_path / "straight", 2)
    run(tmp_path / "resumed", 1)
    run(tmp_path / "resumed", 2)
    a, _ = load_maltml_rl_policy(str(tmp_path / "straight" / "last.pt"))
    b, config = load_maltml_rl_policy(str(tmp_path / "resumed" / "last.pt"))
    assert config.outer_optimizer == "adam"
    for (name, x), (_, y) in zip(a.named_params().items(), b.named_params().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)


def test_repeat_per_task_sums_gradients() -> None:
    x = torch.arange(6.0).reshape(2, 3).requires_grad_(True)
    out = maml.repeat_per_task({"w": x}, 4)["w"]
    assert out.shape == (8, 3) and torch.equal(out[4], x[1])
    (out * torch.arange(8.0)[:, None]).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([[6.0] * 3, [22.0] * 3]))
