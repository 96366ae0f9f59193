"""Tests of GaussianMLPPolicy (metarl/rl/policy.py): functional and batched forwards, shapes, dtypes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from metarl.maml import adapt, stack_params
from metarl.rl.policy import GaussianMLPPolicy, sample_action


def _perturbed_stack(policy: GaussianMLPPolicy, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        k: v.detach() + 0.1 * torch.randn((n, *v.shape), generator=g, dtype=v.dtype)
        for k, v in policy.named_params().items()
    }


def test_parameters_init_and_names():
    policy = GaussianMLPPolicy(3, 2, hidden_sizes=(5, 4), init_log_std=-0.5)
    shapes = {k: tuple(v.shape) for k, v in policy.named_params().items()}
    assert shapes == {
        "layers.0.weight": (5, 3),
        "layers.0.bias": (5,),
        "layers.1.weight": (4, 5),
        "layers.1.bias": (4,),
        "layers.2.weight": (2, 4),
        "layers.2.bias": (2,),
        "log_std": (2,),
    }
    assert all(v.requires_grad for v in policy.named_params().values())
    assert policy.named_params()["log_std"] is policy.log_std  # live parameters, not copies
    torch.testing.assert_close(policy.log_std.detach(), torch.full((2,), -0.5))
    assert torch.count_nonzero(policy.get_parameter("layers.2.bias")) == 0  # zero output bias: mean action 0
    for i, fan_in in ((0, 3), (1, 5)):  # hidden biases off zero so no ReLU starts on its kink for obs = 0
        b = policy.get_parameter(f"layers.{i}.bias").detach()
        assert torch.all(b != 0) and float(b.abs().max()) <= 1 / math.sqrt(fan_in)
    for i in range(3):
        w = policy.get_parameter(f"layers.{i}.weight").detach()
        bound = math.sqrt(6.0 / sum(w.shape))  # Glorot-uniform support
        assert float(w.abs().max()) <= bound and float(w.std()) > 0.2 * bound


def test_no_hidden_bias_init_option():
    """Hidden biases are always U(±1/sqrt(fan_in)); a different init is applied after construction (zeros:
    reproductions/maml2017's zero_hidden_biases)."""
    with pytest.raises(TypeError, match="hidden_bias_init"):
        GaussianMLPPolicy(2, 2, hidden_bias_init="zeros")  # type: ignore[call-arg]


def test_forward_default_params_equal_explicit_params_and_log_prob_shapes():
    policy = GaussianMLPPolicy(2, 3)
    obs = torch.randn(7, 4, 2)
    dist = policy(obs)
    assert dist.loc.shape == (7, 4, 3) and dist.scale.shape == (7, 4, 3)
    same = policy(obs, policy.named_params())
    torch.testing.assert_close(dist.loc, same.loc)
    torch.testing.assert_close(dist.scale, torch.ones(7, 4, 3))  # init_log_std = 0  →  σ = 1
    actions = torch.randn(7, 4, 3)
    assert dist.log_prob(actions).sum(-1).shape == (7, 4)
    # log N(a; μ, 1) summed over 3 dims
    manual = (-0.5 * (actions - dist.loc) ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    torch.testing.assert_close(dist.log_prob(actions).sum(-1), manual)


def test_batched_forward_equals_per_task_forwards():
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(16, 16))
    n_tasks, rollouts = 4, 5
    stacked = _perturbed_stack(policy, n_tasks)
    obs = torch.randn(n_tasks, rollouts, 2)
    dist = policy.forward_batched(obs, stacked)
    assert dist.loc.shape == (n_tasks, rollouts, 2) and dist.scale.shape == (n_tasks, rollouts, 2)
    for i in range(n_tasks):
        single = policy(obs[i], {k: v[i] for k, v in stacked.items()})
        torch.testing.assert_close(dist.loc[i], single.loc, msg=f"mean of task {i}")
        torch.testing.assert_close(dist.scale[i], single.scale, msg=f"std of task {i}")

    # the [T, N, R, obs_dim] episode layout, task dimension 1
    horizon = 3
    obs_tnr = torch.randn(horizon, n_tasks, rollouts, 2)
    dist_tnr = policy.forward_batched(obs_tnr, stacked, task_dim=1)
    assert dist_tnr.loc.shape == (horizon, n_tasks, rollouts, 2)
    actions = torch.randn(horizon, n_tasks, rollouts, 2)
    logp = dist_tnr.log_prob(actions).sum(-1)
    assert logp.shape == (horizon, n_tasks, rollouts)
    for i in range(n_tasks):
        single = policy(obs_tnr[:, i], {k: v[i] for k, v in stacked.items()})
        torch.testing.assert_close(logp[:, i], single.log_prob(actions[:, i]).sum(-1))

    # an un-stacked entry is shared by all tasks
    shared = dict(stacked, log_std=policy.log_std)
    torch.testing.assert_close(policy.forward_batched(obs, shared).scale, torch.ones(n_tasks, rollouts, 2))


def test_batched_forward_supports_second_order_adaptation():
    """The batched forward is differentiable twice: a batched MAML step equals per-task steps."""
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,)).double()
    n_tasks = 3
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(n_tasks, 6, 2, generator=g, dtype=torch.float64)
    act = torch.randn(n_tasks, 6, 2, generator=g, dtype=torch.float64)
    adv = torch.randn(n_tasks, 6, generator=g, dtype=torch.float64)
    theta = policy.named_params()

    def batched_loss(p):  # Σ_i of the per-task REINFORCE surrogate
        return -(policy.forward_batched(obs, p).log_prob(act).sum(-1) * adv).mean(-1).sum()

    adapted = adapt(stack_params(theta, n_tasks), batched_loss, steps=1, step_size=0.1)
    outer = policy.forward_batched(obs, adapted).log_prob(act).sum()
    grads = torch.autograd.grad(outer, list(theta.values()))
    loop_outer = 0.0
    for i in range(n_tasks):

        def task_loss(p, i=i):
            return -(policy(obs[i], p).log_prob(act[i]).sum(-1) * adv[i]).mean()

        single = adapt(theta, task_loss, 1, 0.1)
        loop_outer = loop_outer + policy(obs[i], single).log_prob(act[i]).sum()
    loop_grads = torch.autograd.grad(loop_outer, list(theta.values()))
    for name, a, b in zip(theta, grads, loop_grads):
        torch.testing.assert_close(a, b, msg=f"outer gradient of {name}")


def test_float64_and_numpy_observations():
    policy = GaussianMLPPolicy(2, 2).to(torch.float64)
    assert all(v.dtype == torch.float64 for v in policy.named_params().values())
    obs32 = torch.randn(4, 2)
    dist = policy(obs32)  # observations are cast to the policy's dtype
    assert dist.loc.dtype == torch.float64
    stacked = stack_params(policy.named_params(), 2)
    assert policy.forward_batched(torch.randn(2, 3, 2).numpy(), stacked).loc.dtype == torch.float64
    torch.testing.assert_close(dist.loc, policy(obs32.double()).loc)
    # float32 and float64 copies of the same weights agree to float32 precision
    policy32 = GaussianMLPPolicy(2, 2)
    policy32.load_state_dict({k: v.float() for k, v in policy.state_dict().items()})
    torch.testing.assert_close(policy32(obs32).loc.double(), dist.loc, rtol=1e-5, atol=1e-5)


def test_min_log_std_clamps_the_std():
    policy = GaussianMLPPolicy(2, 1, min_log_std=-1.0)
    with torch.no_grad():
        policy.log_std.fill_(-5.0)
    assert math.isclose(float(policy(torch.zeros(1, 2)).scale.detach()), math.exp(-1.0), rel_tol=1e-6)


def test_sample_action_uses_the_given_generator():
    policy = GaussianMLPPolicy(2, 2)
    dist = policy(torch.zeros(5, 2))
    a1 = sample_action(dist, torch.Generator().manual_seed(7))
    a2 = sample_action(dist, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a1, a2)
    assert a1.shape == (5, 2) and not a1.requires_grad
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        sample_action(dist, None)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="obs_dim must be an int >= 1; got 0"):
        GaussianMLPPolicy(0, 2)
    with pytest.raises(ValueError, match=r"hidden_sizes\[1\] must be an int >= 1; got -3"):
        GaussianMLPPolicy(2, 2, hidden_sizes=(4, -3))
    with pytest.raises(ValueError, match="has parameters"):
        GaussianMLPPolicy(2, 2, activation=nn.PReLU)
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(4,))
    with pytest.raises(ValueError, match="obs must have last dimension obs_dim=2; got shape \\(3, 5\\)"):
        policy(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"params is missing \['log_std'\]"):
        policy(torch.zeros(3, 2), {k: v for k, v in policy.named_params().items() if k != "log_std"})
    stacked = stack_params(policy.named_params(), 3)
    with pytest.raises(
        ValueError, match=r"stacked_params\['layers.0.weight'\] has shape \(3, 4, 2\); expected \[2"
    ):
        policy.forward_batched(torch.zeros(2, 5, 2), stacked)


def test_tanh_activation_function():
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(4,), activation=torch.tanh)
    p = policy.named_params()
    obs = torch.randn(3, 2)
    hidden = torch.tanh(obs @ p["layers.0.weight"].T + p["layers.0.bias"])
    torch.testing.assert_close(policy(obs).loc, hidden @ p["layers.1.weight"].T + p["layers.1.bias"])


