"""MAML-TRPO agent: configuration, determinism, the meta-objective's derivatives, resume and checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import metarl  # noqa: F401
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig, direction_returns
from agents.training import TrainingConfig, load_agent, load_policy, train
from metarl.checkpoint import CheckpointError
from metarl.optim import flatten, make_fvp
from metarl.rl.policy import GaussianMLPPolicy

TINY = dict(env_id="MetaNav2D-v0", meta_batch_size=3, fast_batch_size=4, hidden_sizes=(8, 8), seed=3)


def tiny_agent(**overrides) -> MAMLTRPO:
    return MAMLTRPO(MAMLTRPOConfig(**{**TINY, **overrides}))


def params_of(agent: MAMLTRPO) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in agent.policy.named_params().items()}


def test_paper_defaults_depend_on_env():
    nav = MAMLTRPOConfig(env_id="MetaNav2D-v0")
    assert (nav.meta_batch_size, nav.fast_batch_size, nav.fast_lr, nav.max_kl) == (20, 20, 0.1, 0.01)
    cheetah = MAMLTRPOConfig(env_id="MetaCheetahDir-v0")
    assert cheetah.meta_batch_size == 40 and cheetah.fast_batch_size == 20
    assert MAMLTRPOConfig(env_id="MetaAntDir-v0").fast_batch_size == 40


@pytest.mark.parametrize(
    "field, value",
    [("fast_lr", -0.1), ("max_kl", 0.0), ("num_steps", -1), ("hvp", "magic"), ("dtype", "float16"),
     ("env_id", "NoSuchEnv-v0"), ("ls_backtrack_ratio", 1.5), ("workers", 0), ("hidden_bias_init", "ones"),
     ("fvp_precision", "float16")],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        MAMLTRPOConfig(**{**TINY, field: value})


def test_config_round_trips_through_dict():
    config = MAMLTRPOConfig(**TINY)
    assert MAMLTRPOConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        MAMLTRPOConfig.from_dict({**config.to_dict(), "bogus": 1})


def test_same_seed_gives_identical_first_three_iterations():
    runs = []
    for _ in range(2):
        agent = tiny_agent()
        metrics = [agent.step() for _ in range(3)]
        runs.append((metrics, params_of(agent)))
        agent.close()
    (m1, p1), (m2, p2) = runs
    for a, b in zip(m1, m2):
        for key in a:
            if not key.startswith("time/"):
                assert a[key] == b[key], key
    for name in p1:
        assert torch.equal(p1[name], p2[name]), name
    # a different seed gives a different run
    other = tiny_agent(seed=4)
    other.step()
    assert not torch.equal(params_of(other)["layers.0.weight"], p1["layers.0.weight"])
    other.close()


def test_step_improves_surrogate_within_trust_region():
    agent = tiny_agent()
    metrics = agent.step()
    agent.close()
    assert metrics["trpo/accepted"] == 1.0
    assert metrics["trpo/loss_after"] < metrics["trpo/loss_before"]
    assert 0.0 < metrics["trpo/kl"] <= agent.config.max_kl


@pytest.mark.parametrize("num_steps", [0, 2])
def test_zero_and_multiple_inner_steps(num_steps):
    agent = tiny_agent(num_steps=num_steps)
    metrics = agent.step()
    agent.close()
    assert metrics["trpo/accepted"] == 1.0
    if num_steps == 2:
        assert "train/return_after_1_steps" in metrics
    else:  # no inner step: pre- and post-update rollouts are the same policy's
        assert "train/return_after_1_steps" not in metrics


def _float64_batch(first_order: bool = False):
    """A trained tiny agent in float64 and one fixed meta-batch.  Its policy uses tanh: with ReLU, a unit whose
    pre-activation lies within θ ± h of its kink makes a finite difference disagree with the (correct) analytic
    derivative for a reason unrelated to what these tests check (seen here: FD 0.011 at h = 1e-4 vs 0.021)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        policy = GaussianMLPPolicy(2, 2, hidden_sizes=TINY["hidden_sizes"], activation=torch.nn.Tanh)
    agent = MAMLTRPO(MAMLTRPOConfig(**{**TINY, "dtype": "float64", "first_order": first_order}),
                     policy=policy.to(torch.float64))
    # one meta-step first, so the derivatives are checked at a point reached by training, not at the init
    agent.step()
    batch = agent.collect()
    theta = flatten(agent.policy.named_params()).detach()
    return agent, batch, theta


def test_meta_gradient_matches_finite_differences():
    """The second-order meta-gradient through the REINFORCE inner step equals a central finite difference of
    the meta-objective (float64); the first-order gradient does not."""
    agent, batch, theta = _float64_batch()
    leaf = theta.clone().requires_grad_(True)
    loss, _ = agent.meta_objective(batch, leaf, first_order=False)
    grad = torch.autograd.grad(loss, leaf)[0]
    leaf_fo = theta.clone().requires_grad_(True)
    loss_fo, _ = agent.meta_objective(batch, leaf_fo, first_order=True)
    grad_fo = torch.autograd.grad(loss_fo, leaf_fo)[0]
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        direction = torch.randn(theta.shape, generator=generator, dtype=torch.float64)
        direction /= direction.norm()
        h = 1e-5
        plus, _ = agent.meta_objective(batch, theta + h * direction)
        minus, _ = agent.meta_objective(batch, theta - h * direction)
        numeric = (plus - minus).item() / (2 * h)
        analytic = torch.dot(grad, direction).item()
        assert abs(numeric - analytic) <= 1e-4 * max(abs(numeric), 1e-3), (numeric, analytic)
    assert (grad - grad_fo).norm() > 1e-3 * grad.norm()
    agent.close()


@pytest.mark.parametrize("fd_scheme", ["central", "forward"])
def test_finite_difference_hvp_agrees_with_exact_on_the_meta_kl(fd_scheme):
    agent, batch, theta = _float64_batch()

    def kl(flat):
        return agent.meta_objective(batch, flat, first_order=False)[1]

    # move away from θ_old so that the KL Hessian is taken at a generic point too
    generator = torch.Generator().manual_seed(1)
    for point in (theta, theta + 1e-2 * torch.randn(theta.shape, generator=generator, dtype=torch.float64)):
        fd = make_fvp(kl, point, kind="fd", damping=0.0, fd_scheme=fd_scheme)
        exact = make_fvp(kl, point, kind="exact", damping=0.0)
        v = torch.randn(theta.shape, generator=generator, dtype=torch.float64)
        hv_fd, hv_exact = fd(v), exact(v)
        rel = ((hv_fd - hv_exact).norm() / hv_exact.norm()).item()
        assert rel < 1e-4, rel
    agent.close()


def test_gauss_newton_fvp_equals_the_exact_meta_kl_hessian_at_theta_old():
    """hvp="gn": Jᵀ M J through the second-order inner step equals the KL Hessian at θ_old (float64)."""
    agent, batch, theta = _float64_batch()
    agent.config.hvp = "gn"
    gn = agent.make_kl_fvp(batch, theta)
    exact = make_fvp(lambda flat: agent.meta_objective(batch, flat, first_order=False)[1], theta, kind="exact",
                     damping=agent.config.cg_damping)
    generator = torch.Generator().manual_seed(5)
    for _ in range(2):
        v = torch.randn(theta.shape, generator=generator, dtype=torch.float64)
        rel = ((gn(v) - exact(v)).norm() / exact(v).norm()).item()
        # float64 round-off only (a float32 cast of the outputs once left 1e-8 here, at every point)
        assert rel < 1e-12, f"Gauss-Newton vs exact meta-KL Hessian-vector product: relative error {rel:.1e}"
    agent.close()


@pytest.mark.parametrize("overrides", [{"hvp": "fd"}, {"hvp": "exact"}, {"hvp": "gn", "dtype": "float64"}])
def test_bfloat16_products_need_gauss_newton_in_float32(overrides):
    with pytest.raises(ValueError, match="fvp_precision='bfloat16' needs hvp='gn' and dtype='float32'"):
        MAMLTRPOConfig(**{**TINY, "fvp_precision": "bfloat16", **overrides})


@pytest.mark.parametrize("hvp", ["exact", "gn"])
@pytest.mark.parametrize("scheme", ["forward", "central"])
def test_a_difference_scheme_needs_finite_difference_products(hvp, scheme):
    with pytest.raises(ValueError, match=f"fd_scheme='{scheme}' needs hvp='fd'.*got hvp='{hvp}'"):
        MAMLTRPOConfig(**{**TINY, "hvp": hvp, "fd_scheme": scheme})
    with pytest.raises(ValueError, match="MAMLTRPOConfig.fd_scheme must be one of .*got 'backward'"):
        MAMLTRPOConfig(**{**TINY, "fd_scheme": "backward"})


def test_finite_differences_default_to_the_central_scheme_and_other_products_take_none():
    assert MAMLTRPOConfig(**TINY).fd_scheme == "central"  # DESIGN.md's formula, the original code's
    assert MAMLTRPOConfig(**TINY, fd_scheme="forward").fd_scheme == "forward"
    assert MAMLTRPOConfig(**TINY, hvp="gn").fd_scheme is None
    assert MAMLTRPOConfig(**TINY, hvp="exact").fd_scheme is None
    stored = MAMLTRPOConfig(**TINY, fd_scheme="forward").to_dict()
    assert MAMLTRPOConfig.from_dict(stored).fd_scheme == "forward"  # explicit in the checkpoint: survives defaults


def test_the_finite_difference_step_rule_is_an_fd_setting_and_reaches_the_products():
    assert MAMLTRPOConfig(**TINY).fd_eps == "auto"
    assert MAMLTRPOConfig(**TINY, hvp="gn").fd_eps is None
    with pytest.raises(ValueError, match="fd_eps='maml_code' needs hvp='fd'.*got hvp='gn'"):
        MAMLTRPOConfig(**TINY, hvp="gn", fd_eps="maml_code")
    with pytest.raises(ValueError, match="MAMLTRPOConfig.fd_eps must be one of .*got 'huge'"):
        MAMLTRPOConfig(**TINY, fd_eps="huge")
    stored = MAMLTRPOConfig(**TINY, fd_eps="maml_code").to_dict()
    assert MAMLTRPOConfig.from_dict(stored).fd_eps == "maml_code"
    # the same batch and direction: the wide step of 'maml_code' gives another product than 'auto'
    products = {}
    for rule in ("auto", "maml_code"):
        agent = tiny_agent(fd_eps=rule, dtype="float64")
        batch = agent.collect()
        theta0 = flatten(agent._params()).detach()
        v = torch.ones_like(theta0)
        products[rule] = agent.make_kl_fvp(batch, theta0)(v)
        agent.close()
    rel = float((products["maml_code"] - products["auto"]).norm() / products["auto"].norm())
    assert rel > 1e-3, f"'maml_code' and 'auto' products agree to {rel:.1e}; the rule did not reach make_fvp"


def test_the_step_curvature_setting_reaches_the_trpo_step():
    with pytest.raises(ValueError, match="MAMLTRPOConfig.step_curvature must be one of .*got 'guess'"):
        MAMLTRPOConfig(**TINY, step_curvature="guess")
    curvatures = {}
    for how in ("cg_residual", "product"):
        agent = tiny_agent(hvp="fd", fd_eps="maml_code", step_curvature=how, dtype="float64")
        curvatures[how] = agent.step()["trpo/step_curvature"]
        agent.close()
    # the same first batch and the same CG direction; the wide secant along s is not CG's assembled sᵀHs
    assert curvatures["product"] != pytest.approx(curvatures["cg_residual"], rel=1e-6), curvatures


@pytest.mark.parametrize("stored, expected", [
    ({"hvp": "fd"}, "central"),  # written before the key existed: central differences were the only ones
    ({"hvp": "fd", "fd_scheme": "central"}, "central"),
    ({"hvp": "fd", "fd_scheme": "forward"}, "forward"),
    ({"hvp": "gn", "fd_scheme": "central"}, None),  # the old default, stored though gn takes no differences
    ({"hvp": "exact", "fd_scheme": "central"}, None),
])
def test_checkpoint_configs_keep_the_difference_scheme_they_were_trained_with(stored, expected):
    data = {**MAMLTRPOConfig(**TINY).to_dict(), **stored}
    if "fd_scheme" not in stored:
        del data["fd_scheme"]
    assert MAMLTRPOConfig.from_dict(data).fd_scheme == expected


def test_forward_difference_meta_step_matches_the_central_one():
    """A meta-step with fd_scheme='forward' takes nearly the same TRPO step as 'central' (float64: both are
    close to the exact KL Hessian) — the option changes the cost, not the algorithm."""
    steps = {}
    for scheme in ("central", "forward"):
        agent = tiny_agent(hvp="fd", fd_scheme=scheme, dtype="float64")
        before = flatten(agent._params()).detach().clone()
        metrics = agent.step()
        assert metrics["trpo/accepted"] == 1.0, (scheme, metrics)
        steps[scheme] = flatten(agent._params()).detach() - before
        agent.close()
    rel = float((steps["forward"] - steps["central"]).norm() / steps["central"].norm())
    assert 0 < rel < 1e-3, f"forward vs central meta-step: relative difference {rel:.1e}"


@pytest.mark.parametrize("num_steps", [1, 2])
def test_forward_differences_skip_the_kl_gradient_at_theta_old_only_when_it_is_zero(num_steps, monkeypatch):
    """The adapted policies at θ_old reproduce the sampling distributions bit for bit, so ∇KL(θ_old) = 0 and
    the forward-difference products skip evaluating it — with exactly the products that evaluate it; when the
    reference distribution differs, the gradient is evaluated as before."""
    agent = tiny_agent(hvp="fd", fd_scheme="forward", num_steps=num_steps)
    batch = agent.collect()
    theta = flatten(agent._params()).detach()
    assert agent.reproduces_old_dist(batch, theta)

    def kl(flat):
        return agent.meta_objective(batch, flat)[1]

    leaf = theta.clone().requires_grad_(True)
    (grad_at_theta,) = torch.autograd.grad(kl(leaf), leaf)
    assert torch.count_nonzero(grad_at_theta) == 0

    evaluated = make_fvp(kl, theta, kind="fd", damping=agent.config.cg_damping, fd_scheme="forward")
    calls = {"n": 0}
    objective = agent.meta_objective

    def counted(*args, **kwargs):
        calls["n"] += 1
        return objective(*args, **kwargs)

    monkeypatch.setattr(agent, "meta_objective", counted)
    skipped = agent.make_kl_fvp(batch, theta)
    assert calls["n"] == 0, "∇KL(θ_old) was evaluated though it is zero"
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(skipped(v), evaluated(v), rtol=0, atol=0)

    # a reference distribution the adapted policies do not reproduce: no skipping
    shifted = dataclasses.replace(
        batch, old_dist=torch.distributions.Normal(batch.old_dist.mean + 1e-3, batch.old_dist.stddev)
    )
    assert not agent.reproduces_old_dist(shifted, theta)
    calls["n"] = 0
    agent.make_kl_fvp(shifted, theta)
    assert calls["n"] == 1
    agent.close()


@pytest.mark.parametrize("num_steps", [1, 2])  # the factored one-step form and the general one
def test_bfloat16_fisher_products_stay_close_to_float32(num_steps):
    """fvp_precision='bfloat16' (matrix products in bfloat16 under autocast): the product is within 2 % of the
    float32 one, but not identical (the option must really change the arithmetic), and the CG direction agrees."""
    from metarl.optim import conjugate_gradient

    agent = tiny_agent(hvp="gn", num_steps=num_steps, hidden_sizes=(32, 32))
    agent.step()
    batch = agent.collect()
    theta = flatten(agent.policy.named_params()).detach()
    full = agent.make_kl_fvp(batch, theta)
    agent.config.fvp_precision = "bfloat16"
    low = agent.make_kl_fvp(batch, theta)
    generator = torch.Generator().manual_seed(2)
    v = torch.randn(theta.shape, generator=generator)
    exact, approx = full(v), low(v)
    assert approx.dtype == torch.float32
    rel = ((approx - exact).norm() / exact.norm()).item()
    assert 0 < rel < 2e-2, f"bfloat16 vs float32 Fisher-vector product: relative error {rel:.1e}"
    g = torch.randn(theta.shape, generator=generator)
    s_full, s_low = conjugate_gradient(full, g, 10), conjugate_gradient(low, g, 10)
    cosine = (s_full @ s_low / (s_full.norm() * s_low.norm())).item()
    assert cosine > 0.99, f"CG directions differ: cosine {cosine:.4f}"
    agent.close()


def test_bfloat16_products_train():
    agent = tiny_agent(hvp="gn", fvp_precision="bfloat16")
    metrics = agent.step()
    agent.close()
    assert metrics["trpo/accepted"] == 1.0 and metrics["trpo/kl"] <= agent.config.max_kl


@pytest.mark.parametrize("hvp", ["exact", "gn"])
def test_hvp_options_train(hvp):
    agent = tiny_agent(hvp=hvp)
    metrics = agent.step()
    agent.close()
    assert metrics["trpo/accepted"] == 1.0


def test_resume_continues_exactly(tmp_path):
    straight = tiny_agent()
    train(straight, TrainingConfig(run_dir=str(tmp_path / "a"), iterations=4, tensorboard=False))
    expected = params_of(straight)
    straight.close()

    first = tiny_agent()
    train(first, TrainingConfig(run_dir=str(tmp_path / "b"), iterations=2, tensorboard=False))
    first.close()
    resumed = load_agent(tmp_path / "b" / "last.pt")
    assert resumed.iteration == 2
    summary = train(resumed, TrainingConfig(run_dir=str(tmp_path / "b"), iterations=4, resume=True, tensorboard=False))
    resumed.close()
    assert summary["iterations"] == 4
    for name, value in expected.items():
        assert torch.equal(params_of(resumed)[name], value), name
    rows = (tmp_path / "b" / "progress.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_training_refuses_to_overwrite_a_run(tmp_path):
    agent = tiny_agent()
    train(agent, TrainingConfig(run_dir=str(tmp_path), iterations=1, tensorboard=False))
    with pytest.raises(FileExistsError, match="resume"):
        train(agent, TrainingConfig(run_dir=str(tmp_path), iterations=2, tensorboard=False))
    agent.close()


def test_resume_refuses_another_env(tmp_path):
    agent = tiny_agent()
    train(agent, TrainingConfig(run_dir=str(tmp_path), iterations=1, tensorboard=False))
    agent.close()
    other = tiny_agent(env_id="MetaNav2DFamily-v0")
    with pytest.raises(CheckpointError, match="MetaNav2D-v0"):
        train(other, TrainingConfig(run_dir=str(tmp_path), iterations=2, resume=True, tensorboard=False))
    other.close()


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_policy(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_policy(corrupt)
    agent = tiny_agent()
    train(agent, TrainingConfig(run_dir=str(tmp_path / "run"), iterations=1, tensorboard=False))
    agent.close()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "run" / "last.pt").read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_policy(truncated)
    policy, config = load_policy(tmp_path / "run" / "best.pt")
    assert config == dataclasses.replace(MAMLTRPOConfig(**TINY))
    assert torch.equal(policy.named_params()["log_std"], params_of(agent)["log_std"])


def test_direction_tasks_log_their_returns_per_direction_and_other_tasks_do_not():
    """Per-direction training returns (the lean that predicts weak half-cheetah seeds) average, weighted by the
    directions' task counts, to the overall return; navigation tasks have no direction and get no such keys."""
    agent = MAMLTRPO(MAMLTRPOConfig(env_id="MetaCheetahDir-v0", meta_batch_size=6, fast_batch_size=2,
                                    hidden_sizes=(8, 8), seed=3))
    batch = agent.collect()
    out = direction_returns(batch)
    directions = torch.tensor([task.direction for task in batch.tasks])
    n_forward = int((directions == 1).sum())
    assert 0 < n_forward < 6, "seed 3 draws both directions"
    for when, episodes in (("before", batch.train[0][0]), ("after", batch.valid)):
        per_task = episodes.mean_returns()
        assert out[f"train/return_{when}_adapt_forward"] == pytest.approx(per_task[directions == 1].mean().item())
        weighted = (n_forward * out[f"train/return_{when}_adapt_forward"]
                    + (6 - n_forward) * out[f"train/return_{when}_adapt_backward"]) / 6
        assert weighted == pytest.approx(per_task.mean().item(), rel=1e-5)
    assert weighted == pytest.approx(batch.returns[-1], rel=1e-5)
    agent.close()
    nav = tiny_agent()
    assert direction_returns(nav.collect()) == {}
    assert not any("forward" in key for key in nav.step())
    nav.close()


def test_sample_budget_training_equals_episode_training_when_no_episode_ends_early():
    """batch='samples' (the original trainer's shared budget) with MetaNav2D's goal test switched off: every
    episode runs to the horizon, the budget is one round of full episodes, and only the packed layout differs."""
    runs = []
    for batch in ("episodes", "samples"):
        agent = tiny_agent(batch=batch, env_kwargs={"goal_tolerance": 1e-12})
        runs.append([agent.step() for _ in range(2)])
        agent.close()
    for episodes_row, samples_row in zip(*runs):
        for key in ("train/return_before_adapt", "train/return_after_adapt", "trpo/loss_before", "trpo/loss_after", "trpo/kl",
                    "trpo/grad_norm"):
            assert samples_row[key] == pytest.approx(episodes_row[key], rel=1e-4, abs=1e-7), key


def test_sample_budget_training_packs_many_short_episodes():
    """With a goal tolerance of 0.3 many episodes end early: the shared budget then holds more episodes than
    fast_batch_size per task, the meta-step sees each task's real steps in one column, and a step runs."""
    agent = tiny_agent(batch="samples", env_kwargs={"goal_tolerance": 0.3})
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
    with pytest.raises(ValueError, match="batch"):
        MAMLTRPOConfig(**{**TINY, "batch": "steps"})
