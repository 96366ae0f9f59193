"""The maml2017 presets' quirks as library extensions (reproductions.maml2017.presets): the finite-difference
step and the bias init of the original code, the Extensions built from a set of quirks and their name, a tiny
training run with them, and the checkpoint check of the name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

import metarl  # noqa: F401  (registers the env ids)
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import TrainingConfig, checkpoint_extensions, load_agent, train
from metarl.checkpoint import CheckpointError
from metarl.optim import exact_hvp, finite_difference_hvp, flatten, make_fvp, unflatten_like
from metarl.rl.policy import GaussianMLPPolicy
from metarl.rl.sampler import FixedEpisodes
from reproductions.maml2017.presets import (
    PRESETS,
    QUIRKS,
    evaluation_stage_sampler,
    extensions_for,
    maml_code_fd_step,
    quirks_of,
    zero_hidden_biases,
)
from reproductions.maml2017.sample_budget import PerTaskSampleBudget, SharedSampleBudget
from reproductions.maml2017.wrappers import rescale_actions, torso_center_of_mass

TINY = dict(env_id="MetaNav2D-v0", meta_batch_size=2, fast_batch_size=2, hidden_sizes=(8,), seed=1)


def _kl_problem():
    """The mean KL of a float64 Gaussian MLP policy to its own initial distribution on fixed observations."""
    torch.manual_seed(0)  # test-only: fixed init
    policy = GaussianMLPPolicy(4, 2, hidden_sizes=(16, 16)).double()
    params = {k: v.detach() for k, v in policy.named_params().items()}
    obs = torch.randn(256, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        old = policy(obs, params)
    old = Normal(old.loc, old.scale)

    def kl(flat):
        return kl_divergence(old, policy(obs, unflatten_like(flat, params))).sum(-1).mean()

    def grad_fn(flat, create_graph=False):
        leaf = flat if flat.requires_grad else flat.detach().requires_grad_(True)
        return torch.autograd.grad(kl(leaf), leaf, create_graph=create_graph)[0]

    return flatten(params), kl, grad_fn


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_maml_code_fd_step_is_one_over_the_parameter_norm_and_a_wide_secant():
    """ε = 1/(‖θ‖ + 1e-8), the base_eps of 1 the original code's TRPO ran with (its slice count, passed
    positionally).  The product is then the secant [∇f(θ+εv) − ∇f(θ−εv)] / 2ε over a perturbation of ‖v‖/‖θ‖:
    close to H v for a short v, far from it for a long one (as the step direction CG returns)."""
    theta, kl, grad_fn = _kl_problem()
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert maml_code_fd_step(theta, v) == pytest.approx(1.0 / (float(theta.norm()) + 1e-8), rel=1e-12)
    assert maml_code_fd_step(theta.float(), v.float()) == pytest.approx(1.0 / (float(theta.norm()) + 1e-8), rel=1e-6)
    assert maml_code_fd_step(theta, 7.0 * v) == maml_code_fd_step(theta, v)  # v does not enter
    exact = exact_hvp(lambda t: grad_fn(t, create_graph=True), theta, v / v.norm())
    short = finite_difference_hvp(grad_fn, theta, 1e-3 * v / v.norm(), eps=maml_code_fd_step) / 1e-3
    long = finite_difference_hvp(grad_fn, theta, 30.0 * v / v.norm(), eps=maml_code_fd_step) / 30.0
    assert _rel(short, exact) <= 1e-4, f"short v: relative error {_rel(short, exact):.1e}"
    assert _rel(long, exact) >= 1e-2, f"long v: the secant should differ from H v; {_rel(long, exact):.1e}"
    # as a rule it reaches the products through make_fvp
    torch.testing.assert_close(make_fvp(kl, theta, kind="fd", damping=0.0, eps=maml_code_fd_step)(30.0 * v / v.norm()),
                               30.0 * long, rtol=1e-12, atol=0)


def test_zero_hidden_biases_is_the_original_codes_init_drawn_as_the_pre_split_library_drew_it():
    """Zero biases everywhere and Glorot-uniform weights, drawn (under torch's RNG seeded as the agent seeds it) as
    the pre-split hidden_bias_init="zeros" did: the nn.Linear layers' own draws, then one Glorot draw per
    weight — computed here with bare nn.Linear layers."""
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(6, 6), init_log_std=-0.5)
    assert torch.count_nonzero(policy(torch.zeros(1, 2)).mean) > 0  # the library's draw: off the kink
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(11)
        zero_hidden_biases(policy)
        torch.manual_seed(11)
        layers = [torch.nn.Linear(i, o) for i, o in ((2, 6), (6, 6), (6, 2))]
        for layer in layers:
            torch.nn.init.xavier_uniform_(layer.weight)
    for i, layer in enumerate(layers):
        assert torch.count_nonzero(policy.get_parameter(f"layers.{i}.bias")) == 0, f"layers.{i}.bias"
        assert torch.equal(policy.get_parameter(f"layers.{i}.weight").detach(), layer.weight.detach()), i
    torch.testing.assert_close(policy.log_std.detach(), torch.full((2,), -0.5))
    assert torch.count_nonzero(policy(torch.zeros(4, 2)).mean) == 0  # mean action 0 at a zero observation


def test_the_agent_draws_zero_hidden_biases_from_the_policys_init_seed():
    extensions = extensions_for(["zero_hidden_biases"])
    state = torch.get_rng_state()
    first, second = (MAMLTRPO(MAMLTRPOConfig(**TINY), extensions=extensions) for _ in range(2))
    other = MAMLTRPO(MAMLTRPOConfig(**{**TINY, "seed": 2}), extensions=extensions)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left as it was
    for name, value in first.policy.state_dict().items():
        assert torch.equal(second.policy.state_dict()[name], value), name
    assert not torch.equal(other.policy.layers[0].weight, first.policy.layers[0].weight)
    assert all(torch.count_nonzero(layer.bias) == 0 for agent in (first, other) for layer in agent.policy.layers)
    for agent in (first, second, other):
        agent.close()


def test_extensions_for_a_set_of_quirks_and_back():
    assert extensions_for([]) is None and quirks_of("") == ()
    every = extensions_for(reversed(list(QUIRKS)))
    assert every.name == ("maml2017:maml_code_fd_step+rescale_actions+sample_budget+torso_com_observation"
                          "+zero_hidden_biases")
    assert quirks_of(every.name) == tuple(sorted(QUIRKS))
    assert isinstance(every.stage_sampler, SharedSampleBudget)
    assert every.fd_step is maml_code_fd_step and every.policy_init is zero_hidden_biases
    assert every.env_wrappers == (torso_center_of_mass, rescale_actions)  # observation first, actions outside
    nav = extensions_for(["sample_budget", "sample_budget", "rescale_actions"])
    assert nav.name == "maml2017:rescale_actions+sample_budget" and nav.env_wrappers == (rescale_actions,)
    assert nav.fd_step is None and nav.policy_init is None
    assert isinstance(evaluation_stage_sampler(["sample_budget"]), PerTaskSampleBudget)
    assert isinstance(evaluation_stage_sampler(["zero_hidden_biases"]), FixedEpisodes)
    with pytest.raises(ValueError, match=r"unknown maml2017 quirks \['wide_eps'\]"):
        extensions_for(["wide_eps", "sample_budget"])
    with pytest.raises(ValueError, match="not the maml2017 reproduction's"):
        quirks_of("other:sample_budget")
    with pytest.raises(ValueError, match="unknown maml2017 quirks"):
        quirks_of("maml2017:sample_budget+nope")
    for env_id, presets in PRESETS.items():  # every preset names known quirks and a valid config
        for preset in presets.values():
            extensions_for(preset.quirks)
            MAMLTRPOConfig(env_id=env_id, **preset.config)


def test_a_reproduction_trains_one_tiny_iteration_and_its_checkpoint_names_its_extensions(tmp_path):
    """The MetaNav2D original_code quirks (all four extension points) drive one tiny MAML-TRPO iteration: zero
    hidden biases at the start, [-1, 1] actions, sample-budget stages; the checkpoint stores the name, and
    load_agent refuses it without the same extensions."""
    preset = PRESETS["MetaNav2D-v0"]["original_code"]
    extensions = extensions_for(preset.quirks)
    agent = MAMLTRPO(MAMLTRPOConfig(**TINY, **preset.config), extensions=extensions)
    assert torch.count_nonzero(agent.policy.get_parameter("layers.0.bias")) == 0
    np.testing.assert_array_equal(agent.rollouts.stepper.action_high, [1.0, 1.0])
    assert agent.stage_sampler is extensions.stage_sampler
    summary = train(agent, TrainingConfig(run_dir=str(tmp_path / "run"), iterations=1, tensorboard=False))
    metrics = agent.step()
    assert summary["iterations"] == 1 and torch.isfinite(torch.tensor(metrics["trpo/loss_after"]))
    assert agent.state_dict()["extensions"] == extensions.name
    agent.close()
    path = tmp_path / "run" / "last.pt"
    assert checkpoint_extensions(path) == extensions.name
    assert quirks_of(checkpoint_extensions(path)) == tuple(sorted(preset.quirks))
    with pytest.raises(CheckpointError, match="trained with extensions 'maml2017:maml_code_fd_step"):
        load_agent(path)
    with pytest.raises(CheckpointError, match="got 'maml2017:sample_budget'"):
        load_agent(path, extensions=extensions_for(["sample_budget"]))
    resumed = load_agent(path, extensions=extensions_for(quirks_of(checkpoint_extensions(path))))
    assert resumed.iteration == 1 and resumed.extensions.name == extensions.name
    resumed.close()



