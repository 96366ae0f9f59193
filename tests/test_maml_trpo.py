"""MAML-TRPO agent: configuration, determinism, the meta-objective's derivatives, resume and checkpoints."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

import metarl  # noqa: F401
from agents.maml_trpo import (
    LS_BACKTRACK_RATIO,
    LS_MAX_STEPS,
    MAMLTRPO,
    Extensions,
    MAMLTRPOConfig,
    direction_returns,
)
from agents.training import TrainingConfig, checkpoint_extensions, load_agent, load_policy, train
from metarl.checkpoint import CheckpointError
from metarl.optim import flatten, make_fvp
from metarl.rl.episodes import BatchEpisodes
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import FixedEpisodes

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
    [("fast_lr", -0.1), ("max_kl", 0.0), ("num_steps", -1), ("hvp", "magic"), ("hvp", "fd-backward"),
     ("dtype", "float16"), ("workers", 0), ("fd_eps", -1e-3), ("fd_eps", "maml_code"), ("meta_batch_size", True),
     ("cg_iters", 2.5), ("seed", -1), ("fast_lr", float("nan")), ("sampler", "dask"), ("env_kwargs", [1])],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^invalid MAMLTRPOConfig\.{field} = {re.escape(repr(value))}"):
        MAMLTRPOConfig(**{**TINY, field: value})


def test_an_unregistered_env_id_is_named():
    with pytest.raises(ValueError, match="MAMLTRPOConfig.env_id 'NoSuchEnv-v0' is not a registered"):
        MAMLTRPOConfig(**{**TINY, "env_id": "NoSuchEnv-v0"})
    assert MAMLTRPOConfig(**{**TINY, "env_id": "envs.nav2d:MetaNav2D-v0"}).env_id == "envs.nav2d:MetaNav2D-v0"


def test_the_line_search_is_rllabs():
    assert (LS_MAX_STEPS, LS_BACKTRACK_RATIO) == (15, 0.8)


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
    assert metrics["trpo/curvature"] > 0 and "trpo/step_curvature" not in metrics
    assert 0 < metrics["trpo/step_fraction"] <= 1 and metrics["trpo/ls_steps"] < LS_MAX_STEPS


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
def test_finite_difference_hvp_agrees_with_exact_on_the_meta_kl(fd_scheme):  # make_fvp's own scheme names
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


@pytest.mark.parametrize("hvp", ["exact", "gn"])
def test_a_difference_step_needs_finite_difference_products(hvp):
    with pytest.raises(ValueError, match=f"fd_eps = 0.001 needs hvp='fd' or 'fd-forward', got '{hvp}'"):
        MAMLTRPOConfig(**{**TINY, "hvp": hvp, "fd_eps": 1e-3})
    for fd in ("fd", "fd-forward"):
        assert MAMLTRPOConfig(**{**TINY, "hvp": fd, "fd_eps": 1e-3}).fd_eps == 1e-3


def test_finite_differences_are_central_with_the_default_step_by_default():
    config = MAMLTRPOConfig(**TINY)
    assert (config.hvp, config.fd_eps) == ("fd", None)  # DESIGN.md's formula, the original code's
    stored = MAMLTRPOConfig(**TINY, hvp="fd-forward", fd_eps=0.25).to_dict()
    assert MAMLTRPOConfig.from_dict(stored) == MAMLTRPOConfig(**TINY, hvp="fd-forward", fd_eps=0.25)


def _kl_product(agent: MAMLTRPO) -> torch.Tensor:
    batch = agent.collect()
    theta0 = flatten(agent._params()).detach()
    return agent.make_kl_fvp(batch, theta0)(torch.ones_like(theta0))


def test_the_finite_difference_step_reaches_the_products_as_a_number_or_a_rule():
    """config.fd_eps (a number) and Extensions.fd_step (a rule (θ, v) ↦ ε, which wins over fd_eps) reach
    make_fvp: a wide step gives another product than the default on the same batch, and a rule returning that
    number gives the very same product as the number."""
    products = {}
    seen = []

    def wide(theta, v):
        seen.append((theta.clone(), v.clone()))
        return 0.5

    for name, overrides, extensions in (
        ("default", {}, None),
        ("number", {"fd_eps": 0.5}, None),
        ("rule", {"fd_eps": 1e-6}, Extensions(name="test:wide_fd_step", fd_step=wide)),
    ):
        agent = MAMLTRPO(MAMLTRPOConfig(**{**TINY, "dtype": "float64", **overrides}), extensions=extensions)
        products[name] = _kl_product(agent)
        if name == "rule":
            assert len(seen) == 1 and torch.equal(seen[0][0], flatten(agent._params()).detach())
            assert torch.equal(seen[0][1], torch.ones_like(seen[0][0]))
        agent.close()
    rel = float((products["number"] - products["default"]).norm() / products["default"].norm())
    assert rel > 1e-3, f"fd_eps=0.5 and the default step agree to {rel:.1e}; fd_eps did not reach make_fvp"
    torch.testing.assert_close(products["rule"], products["number"], rtol=0, atol=0)


@pytest.mark.parametrize("hvp, at_construction, per_product", [("fd", 0, 2), ("fd-forward", 1, 1)])
def test_forward_differences_take_one_gradient_per_product(hvp, at_construction, per_product, monkeypatch):
    """hvp='fd-forward': ∇KL(θ_old) once when the product is built, then one gradient per product; 'fd' (central)
    two per product."""
    agent = tiny_agent(hvp=hvp)
    batch = agent.collect()
    theta = flatten(agent._params()).detach()
    calls = {"n": 0}
    objective = agent.meta_objective

    def counted(*args, **kwargs):
        calls["n"] += 1
        return objective(*args, **kwargs)

    monkeypatch.setattr(agent, "meta_objective", counted)
    fvp = agent.make_kl_fvp(batch, theta)
    assert calls["n"] == at_construction
    for _ in range(3):
        fvp(torch.ones_like(theta))
    assert calls["n"] == at_construction + 3 * per_product
    agent.close()


def test_forward_difference_meta_step_matches_the_central_one():
    """A meta-step with hvp='fd-forward' takes nearly the same TRPO step as 'fd' (float64: both are close to the
    exact KL Hessian) — the option changes the cost, not the algorithm."""
    steps = {}
    for hvp in ("fd", "fd-forward"):
        agent = tiny_agent(hvp=hvp, dtype="float64")
        before = flatten(agent._params()).detach().clone()
        metrics = agent.step()
        assert metrics["trpo/accepted"] == 1.0, (hvp, metrics)
        steps[hvp] = flatten(agent._params()).detach() - before
        agent.close()
    rel = float((steps["fd-forward"] - steps["fd"]).norm() / steps["fd"].norm())
    assert 0 < rel < 1e-3, f"forward vs central meta-step: relative difference {rel:.1e}"


@pytest.mark.parametrize("hvp", ["fd-forward", "exact", "gn"])
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


class _TwoRounds:
    """A test StageSampler: two rounds per stage joined along the rollouts, and advantages shifted by 1 for the
    losses; it records what it is given."""

    def __init__(self) -> None:
        self.rollouts: list[object] = []
        self.collected: list[BatchEpisodes] = []
        self.for_losses_given: list[BatchEpisodes] = []

    def collect(self, sample_round, rollouts):
        self.rollouts.append(rollouts)
        first, second = sample_round(), sample_round()
        assert first.horizon == second.horizon  # no early ends with a 1e-12 goal tolerance
        episodes = BatchEpisodes(*(torch.cat([getattr(first, f), getattr(second, f)], dim=2)
                                   for f in ("observations", "actions", "rewards", "mask")))
        self.collected.append(episodes)
        return episodes

    def for_losses(self, episodes, advantages):
        self.for_losses_given.append(episodes)
        return episodes, advantages + 1.0


def test_a_stage_sampler_gathers_the_episodes_and_shapes_what_the_losses_see():
    """Extensions.stage_sampler: its collect (given the agent's rollouts) makes every stage's episodes, and what
    its for_losses returns is what the losses are computed on — here advantages + 1, which moves the surrogate at
    θ_old (ratio 1, no inner step) by exactly -1."""
    kwargs = {**TINY, "num_steps": 0, "env_kwargs": {"goal_tolerance": 1e-12}}
    sampler = _TwoRounds()
    agent = MAMLTRPO(MAMLTRPOConfig(**kwargs), extensions=Extensions(name="test:two_rounds", stage_sampler=sampler))
    assert agent.stage_sampler is sampler
    plain = MAMLTRPO(MAMLTRPOConfig(**kwargs))
    assert isinstance(plain.stage_sampler, FixedEpisodes)
    batch = agent.collect()
    assert sampler.rollouts == [agent.rollouts] and len(sampler.collected) == 1
    assert batch.valid is sampler.collected[0] and sampler.for_losses_given == [batch.valid]
    assert batch.valid.rollouts_per_task == 2 * TINY["fast_batch_size"]
    shifted = agent.meta_objective(batch, flatten(agent._params()).detach())[0].item()
    unshifted_batch = dataclasses.replace(batch, valid_advantages=batch.valid_advantages - 1.0)
    unshifted = agent.meta_objective(unshifted_batch, flatten(agent._params()).detach())[0].item()
    assert shifted == pytest.approx(unshifted - 1.0, rel=1e-5)
    metrics = agent.step()
    assert len(sampler.collected) == 2 and metrics["trpo/accepted"] == 1.0
    one_round = plain.collect()
    assert one_round.valid.rollouts_per_task == TINY["fast_batch_size"]
    agent.close()
    plain.close()


def test_extensions_need_a_name_when_anything_is_plugged_in():
    assert Extensions().name == "" and Extensions(name="x").env_wrappers == ()
    for plugged in ({"stage_sampler": FixedEpisodes()}, {"fd_step": lambda t, v: 1.0},
                    {"policy_init": lambda p: None}, {"env_wrappers": (lambda env: env,)}):
        with pytest.raises(ValueError, match="Extensions need a name"):
            Extensions(**plugged)
    with pytest.raises(TypeError, match="Extensions.name must be a str"):
        Extensions(name=3)  # type: ignore[arg-type]
    assert isinstance(Extensions(name="w", env_wrappers=[lambda env: env]).env_wrappers, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Extensions(name="x").name = "y"  # type: ignore[misc]


def _log_std_minus_one(policy: GaussianMLPPolicy) -> None:
    policy.log_std.fill_(-1.0)  # in place on a parameter: needs the no_grad the agent calls it under
    _log_std_minus_one.calls.append(policy)


_log_std_minus_one.calls = []


def test_policy_init_runs_on_a_freshly_built_policy_only():
    _log_std_minus_one.calls.clear()
    extensions = Extensions(name="test:log_std", policy_init=_log_std_minus_one)
    built = MAMLTRPO(MAMLTRPOConfig(**TINY), extensions=extensions)
    plain = MAMLTRPO(MAMLTRPOConfig(**TINY))
    assert _log_std_minus_one.calls == [built.policy]
    assert torch.equal(built.policy.log_std.detach(), torch.full((2,), -1.0))
    for name, value in params_of(plain).items():  # the rest is the seed's init
        if name != "log_std":
            assert torch.equal(params_of(built)[name], value), name
    given = GaussianMLPPolicy(2, 2, hidden_sizes=TINY["hidden_sizes"])
    resumed = MAMLTRPO(MAMLTRPOConfig(**TINY), policy=given, extensions=extensions)
    assert resumed.policy is given and _log_std_minus_one.calls == [built.policy]
    assert torch.equal(given.log_std.detach(), torch.zeros(2))
    for agent in (built, plain, resumed):
        agent.close()


def test_policy_init_draws_from_the_policys_init_seed_and_leaves_the_global_rng():
    draws: list[float] = []

    def draw(policy: GaussianMLPPolicy) -> None:
        draws.append(torch.rand(()).item())

    extensions = Extensions(name="test:draw", policy_init=draw)
    state = torch.get_rng_state()
    agents = [MAMLTRPO(MAMLTRPOConfig(**{**TINY, "seed": seed}), extensions=extensions) for seed in (3, 3, 4)]
    assert torch.equal(torch.get_rng_state(), state)
    assert draws[0] == draws[1] != draws[2]
    for agent in agents:
        agent.close()


def test_env_wrappers_wrap_the_agents_sampler():
    from gymnasium.wrappers.vector import TransformObservation

    def doubled(env):
        return TransformObservation(env, lambda obs: 2.0 * obs, env.observation_space)

    agent = MAMLTRPO(MAMLTRPOConfig(**TINY), extensions=Extensions(name="test:doubled", env_wrappers=(doubled,)))
    plain = tiny_agent()
    wrapped_batch, plain_batch = agent.collect(), plain.collect()
    first = wrapped_batch.train[0][0].observations[0]  # the reset state, before the policies differ
    torch.testing.assert_close(first, 2.0 * plain_batch.train[0][0].observations[0])
    agent.close()
    plain.close()


def test_the_extensions_name_is_stored_and_checked(tmp_path):
    """state_dict() carries the extensions' name; an agent with other extensions refuses the state, and
    load_agent refuses a checkpoint whose stored name differs from the extensions given (CheckpointError)."""
    extensions = Extensions(name="test:log_std", policy_init=_log_std_minus_one)
    agent = MAMLTRPO(MAMLTRPOConfig(**TINY), extensions=extensions)
    assert agent.state_dict()["extensions"] == "test:log_std"
    train(agent, TrainingConfig(run_dir=str(tmp_path / "run"), iterations=1, tensorboard=False))
    state = agent.state_dict()
    agent.close()
    plain = tiny_agent()
    assert plain.state_dict()["extensions"] == ""
    with pytest.raises(ValueError, match="written with extensions 'test:log_std' but this agent has ''"):
        plain.load_state_dict(state)
    plain.close()
    path = tmp_path / "run" / "last.pt"
    assert checkpoint_extensions(path) == "test:log_std"
    with pytest.raises(CheckpointError, match="trained with extensions 'test:log_std', got ''"):
        load_agent(path)
    with pytest.raises(CheckpointError, match="trained with extensions 'test:log_std', got 'test:other'"):
        load_agent(path, extensions=Extensions(name="test:other", policy_init=_log_std_minus_one))
    resumed = load_agent(path, extensions=extensions)
    assert resumed.iteration == 1 and resumed.extensions is extensions
    for name, value in state["policy"].items():
        assert torch.equal(resumed.policy.state_dict()[name], value), name
    resumed.close()
    library = tiny_agent()
    train(library, TrainingConfig(run_dir=str(tmp_path / "lib"), iterations=1, tensorboard=False))
    library.close()
    assert checkpoint_extensions(tmp_path / "lib" / "last.pt") == ""
    with pytest.raises(CheckpointError, match="trained with extensions '', got 'test:log_std'"):
        load_agent(tmp_path / "lib" / "last.pt", extensions=extensions)
