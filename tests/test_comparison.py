"""Comparison learners (agents/comparison.py, examples/compare.py) and the context-vector policy (MAML App. C.2)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("METARL_NO_PROGRESS", "1")

from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.comparison import (  # noqa: E402
    METHOD_KEYS,
    OracleSpec,
    PolicySpec,
    TuningConfig,
    compare_methods,
    comparison_report,
    context_method,
    evaluate_oracle,
    maml_method,
    pretrained_method,
    random_method,
    tune_step_size,
)
from agents.evaluation import EvaluationConfig, evaluate_adaptation, held_out_tasks  # noqa: E402
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig, make_policy  # noqa: E402
from agents.training import TrainingConfig, load_policy, train  # noqa: E402
from metarl.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from metarl.maml import stack_params  # noqa: E402
from metarl.rl.baseline import LinearFeatureBaseline  # noqa: E402
from metarl.rl.context_policy import ContextGaussianMLPPolicy  # noqa: E402
from metarl.rl.objectives import compute_advantages, reinforce_loss, reinforce_step  # noqa: E402
from metarl.rl.policy import GaussianMLPPolicy  # noqa: E402
from metarl.rl.sampler import PolicyRollouts  # noqa: E402

NAV = "MetaNav2D-v0"
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(env_id=NAV, meta_batch_size=3, fast_batch_size=4, hidden_sizes=(8, 8), seed=3)
EVAL = dict(num_tasks=3, num_steps=1, rollouts_per_task=2, seed=11)


def _checkpoint(path: Path, env_id: str = NAV, obs_dim: int = 2, act_dim: int = 2, **overrides) -> Path:
    """A checkpoint of an untrained tiny policy, in the layout training writes."""
    config = MAMLTRPOConfig(**{**TINY, "env_id": env_id, **overrides})
    policy = make_policy(obs_dim, act_dim, config, seed=0)
    save_checkpoint(path, {"policy": policy.state_dict(), "config": config.to_dict(), "iteration": 0, "rng": {}},
                    kind="maml_trpo")
    return path


def _nav_episodes(policy: GaussianMLPPolicy, n_tasks: int = 2, seed: int = 0):
    rollouts = PolicyRollouts(NAV, n_tasks, 3, dtype=torch.float64)
    try:
        tasks = rollouts.sample_tasks(n_tasks, np.random.default_rng(seed))
        stacked = stack_params({k: v.detach() for k, v in policy.named_params().items()}, n_tasks)
        episodes = rollouts.sample(policy, stacked, tasks, seed, torch.Generator().manual_seed(seed))
    finally:
        rollouts.close()
    return episodes, compute_advantages(episodes, LinearFeatureBaseline(), 0.99, 1.0)


def _scripted_oracle(obs: np.ndarray) -> np.ndarray:
    """Move straight to the goal read from the observation ``[x, y, goal_x, goal_y]`` (max step 0.1)."""
    assert obs.ndim == 2 and obs.shape[1] == 4 and obs.dtype == np.float32
    return np.clip(obs[:, 2:] - obs[:, :2], -0.1, 0.1)


# ------------------------------------------------------------------------------------------------ context policy
def test_context_policy_appends_z_and_starts_at_zero():
    policy = ContextGaussianMLPPolicy(2, 2, context_dim=3, hidden_sizes=(8,)).double()
    params = policy.named_params()
    assert "context" in params and torch.equal(params["context"], torch.zeros(3, dtype=torch.float64))
    assert policy.adapted_param_names() == ("context",)
    obs = torch.randn(5, 2, dtype=torch.float64)
    # the same network as a plain MLP fed [obs, z]
    plain = GaussianMLPPolicy(5, 2, hidden_sizes=(8,)).double()
    plain.load_state_dict({k: v for k, v in policy.state_dict().items() if k != "context"})
    z = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    mine = policy(obs, {**params, "context": z})
    ref = plain(torch.cat([obs, z.expand(5, 3)], dim=-1))
    torch.testing.assert_close(mine.mean, ref.mean)
    # batched with one z per task == per-task forwards
    zs = torch.randn(2, 3, dtype=torch.float64)
    stacked = {**stack_params({k: v.detach() for k, v in params.items()}, 2), "context": zs}
    obs_b = torch.randn(4, 2, 3, 2, dtype=torch.float64)  # [T, N, R, obs] layout
    batched = policy.forward_batched(obs_b, stacked, task_dim=1)
    for i in range(2):
        single = policy(obs_b[:, i], {**params, "context": zs[i]})
        torch.testing.assert_close(batched.mean[:, i], single.mean)
    with pytest.raises(ValueError, match="observation_dim=2"):
        policy(torch.zeros(5, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="context"):
        policy.forward_batched(obs_b, {**stacked, "context": torch.zeros(3, 3)}, task_dim=1)
    with pytest.raises(ValueError, match="context_dim"):
        ContextGaussianMLPPolicy(2, 2, context_dim=0)


def test_context_inner_step_changes_only_z_and_outer_gradient_reaches_every_parameter():
    policy = ContextGaussianMLPPolicy(2, 2, context_dim=2, hidden_sizes=(8, 8)).double()
    episodes, advantages = _nav_episodes(policy)
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in policy.named_params().items()}
    grads = {}
    for first_order in (False, True):
        stacked = stack_params(theta, 2)
        adapted = reinforce_step(policy, stacked, episodes, advantages, 0.5, first_order=first_order)
        assert list(adapted) == list(stacked)
        for name in stacked:
            if name == "context":
                assert not torch.equal(adapted[name], stacked[name])  # z moved, per task
                assert not torch.equal(adapted[name][0], adapted[name][1])
            else:
                assert adapted[name] is stacked[name]  # θ is not adapted, but stays in the graph
        outer = reinforce_loss(policy, adapted, episodes, advantages)
        grads[first_order] = dict(zip(theta, torch.autograd.grad(outer, list(theta.values()))))
        for name, grad in grads[first_order].items():
            assert grad.abs().sum() > 0, f"no outer gradient reaches {name} (first_order={first_order})"
    # the second-order term (through z' = z - α∇_z L(θ, z)) reaches the network weights
    assert not torch.allclose(grads[False]["layers.0.weight"], grads[True]["layers.0.weight"])
    # control: the plain MLP adapts every parameter through the same function
    mlp = GaussianMLPPolicy(2, 2, hidden_sizes=(8, 8)).double()
    leaf = stack_params({k: v.detach().requires_grad_(True) for k, v in mlp.named_params().items()}, 2)
    adapted = reinforce_step(mlp, leaf, episodes, advantages, 0.5)
    assert all(not torch.equal(adapted[k], leaf[k]) for k in leaf)


def test_context_config_is_validated():
    with pytest.raises(ValueError, match="policy"):
        MAMLTRPOConfig(**TINY, policy="lstm")
    with pytest.raises(ValueError, match="context_dim"):
        MAMLTRPOConfig(**TINY, policy="context", context_dim=0)
    with pytest.raises(ValueError, match="policy"):
        MAMLTRPO(MAMLTRPOConfig(**TINY, policy="context"), policy=GaussianMLPPolicy(2, 2, hidden_sizes=(8, 8)))


def test_context_maml_trpo_step_is_accepted_and_load_policy_rebuilds_it(tmp_path):
    agent = MAMLTRPO(MAMLTRPOConfig(**TINY, policy="context", context_dim=3))
    assert isinstance(agent.policy, ContextGaussianMLPPolicy)
    before = {k: v.detach().clone() for k, v in agent.policy.named_params().items()}
    try:
        summary = train(agent, TrainingConfig(run_dir=str(tmp_path / "run"), iterations=1, tensorboard=False,
                                              progress=False))
    finally:
        agent.close()
    metrics = summary["last_metrics"]
    assert metrics["trpo/accepted"] == 1.0 and 0 < metrics["trpo/kl"] <= agent.config.max_kl
    after = agent.policy.named_params()
    for name, value in before.items():  # the meta-step trains every parameter, z included
        assert not torch.equal(value, after[name].detach()), name

    policy, config = load_policy(tmp_path / "run" / "last.pt")
    assert isinstance(policy, ContextGaussianMLPPolicy) and config.policy == "context"
    assert (policy.observation_dim, policy.context_dim) == (2, 3)
    for name, value in after.items():
        assert torch.equal(policy.named_params()[name], value.detach()), name
    # an MLP checkpoint still loads as the plain policy
    plain, _ = load_policy(_checkpoint(tmp_path / "mlp.pt"))
    assert type(plain) is GaussianMLPPolicy


# ------------------------------------------------------------------------------------------------ comparison
def test_tune_step_size_picks_the_best_candidate_on_training_tasks():
    policy = make_policy(2, 2, MAMLTRPOConfig(**TINY), seed=1)
    config = EvaluationConfig(num_tasks=2, num_steps=2, rollouts_per_task=2, seed=5)
    search = tune_step_size(policy, NAV, (0.01, 0.3), config, test_seed=11)
    assert search.chosen in (0.01, 0.3) and search.candidates == (0.01, 0.3)
    assert search.chosen == search.candidates[int(np.argmax(search.scores))]
    for curve, score in zip(search.curves, search.scores):
        assert score == pytest.approx(np.mean(curve[1:]))
    # common random numbers: every candidate starts from the same rollouts of the same tasks
    assert search.curves[0][0] == search.curves[1][0]
    assert search.to_dict()["chosen"] == search.chosen and (search.seed, search.num_tasks) == (5, 2)
    with pytest.raises(ValueError, match="test seed"):
        tune_step_size(policy, NAV, (0.1,), config, test_seed=5)
    with pytest.raises(ValueError, match="num_steps"):
        tune_step_size(policy, NAV, (0.1,), EvaluationConfig(num_tasks=2, num_steps=0, rollouts_per_task=2))
    with pytest.raises(ValueError, match="candidates"):
        tune_step_size(policy, NAV, (0.1, -1.0), config)


def test_scripted_oracle_reaches_the_goals():
    config = EvaluationConfig(num_tasks=4, num_steps=0, rollouts_per_task=2, seed=3)
    rollouts = PolicyRollouts(NAV, 1, 1)
    tasks = held_out_tasks(rollouts, config)
    rollouts.close()
    returns = evaluate_oracle(_scripted_oracle, NAV, tasks, config)
    assert len(returns) == 4
    # at most ~7 steps of 0.1 to any goal of the unit square: the return is a few units (paper's oracle: -2.3)
    assert min(returns) > -4.0
    random_curve = evaluate_adaptation(make_policy(2, 2, MAMLTRPOConfig(**TINY), seed=0), NAV, config,
                                       tasks=tasks, show_progress=False)
    assert np.mean(returns) > random_curve["mean"][0] + 10
    with pytest.raises(ValueError, match="shape"):
        evaluate_oracle(lambda obs: np.zeros((1, 2)), NAV, tasks, config)


def test_compare_methods_uses_identical_tasks_and_writes_schema_and_png(tmp_path):
    maml_ckpt = _checkpoint(tmp_path / "maml.pt")
    pre_ckpt = _checkpoint(tmp_path / "pre.pt", num_steps=0)
    ctx_ckpt = _checkpoint(tmp_path / "ctx.pt", policy="context")
    methods = {
        "maml": maml_method(maml_ckpt, NAV),
        "pretrained": pretrained_method(pre_ckpt, NAV, candidates=(0.02, 0.2)),
        "random": random_method(NAV, MAMLTRPOConfig(**TINY), seed=4, candidates=(0.05,)),
        "context": context_method(ctx_ckpt, NAV),
        "oracle": OracleSpec(_scripted_oracle, notes="scripted"),
    }
    eval_config = EvaluationConfig(**EVAL)
    out = tmp_path / "cmp" / "compare.json"
    curves = compare_methods(NAV, methods, eval_config, TuningConfig(num_tasks=2, seed=99), out=out,
                             reference={"MAML (paper)": [-40.4, -11.7]}, log_scale=True)
    assert list(curves) == list(methods)
    tasks = curves["maml"]["tasks"]
    assert len(tasks) == 3 and all(curves[m]["tasks"] == tasks for m in curves)
    for name, curve in curves.items():
        assert curve["steps"] == [0, 1] and len(curve["per_task"]) == 2 and len(curve["per_task"][0]) == 3, name
    # identical tasks AND seeds: the maml entry equals a stand-alone evaluation with the same config
    alone = evaluate_adaptation(methods["maml"].policy, NAV, eval_config, show_progress=False)
    assert alone["per_task"] == curves["maml"]["per_task"]
    assert curves["maml"]["step_sizes"] == [0.1] and curves["maml"]["tuning"] is None
    # tuned baselines record the chosen step size, picked from their candidates
    pre = curves["pretrained"]
    assert pre["tuning"]["chosen"] in (0.02, 0.2) and pre["step_sizes"] == [pre["tuning"]["chosen"]]
    assert pre["tuning"]["seed"] == 99 and curves["random"]["step_sizes"] == [0.05]
    # the oracle is not adapted: the same value at every step, and it beats the untrained policies
    oracle = curves["oracle"]
    assert oracle["mean"][0] == oracle["mean"][1] and oracle["step_sizes"] == []
    assert oracle["mean"][0] > max(curves[m]["mean"][-1] for m in ("maml", "random", "context"))

    report = json.loads(out.read_text())
    assert set(report) >= {"env_id", "tasks", "methods"} and report["env_id"] == NAV
    assert report["tasks"] == json.loads(json.dumps(tasks)) and list(report["methods"]) == list(methods)
    for entry in report["methods"].values():
        assert set(METHOD_KEYS) <= set(entry)
    assert out.with_suffix(".png").stat().st_size > 0
    # a report refuses curves from different tasks
    other = dict(curves["oracle"], tasks=tasks[::-1])
    with pytest.raises(ValueError, match="different tasks"):
        comparison_report(NAV, {"maml": curves["maml"], "oracle": other})


def test_compare_methods_refuses_bad_inputs(tmp_path):
    eval_config = EvaluationConfig(**EVAL)
    with pytest.raises(ValueError, match="TuningConfig.seed"):
        compare_methods(NAV, {"oracle": OracleSpec(_scripted_oracle)}, eval_config, TuningConfig(seed=11))
    wrong = PolicySpec(GaussianMLPPolicy(3, 2, hidden_sizes=(8,)))
    with pytest.raises(ValueError, match="'bad'"):
        compare_methods(NAV, {"bad": wrong}, eval_config)
    with pytest.raises(ValueError, match="step_sizes or tune_candidates"):
        PolicySpec(wrong.policy, step_sizes=(0.1,), tune_candidates=(0.1,))
    with pytest.raises(CheckpointError, match="num_steps=0"):
        maml_method(_checkpoint(tmp_path / "pre.pt", num_steps=0), NAV)
    with pytest.raises(CheckpointError, match="num_steps=1"):
        pretrained_method(_checkpoint(tmp_path / "maml.pt"), NAV)
    with pytest.raises(CheckpointError, match="'context'"):
        context_method(tmp_path / "maml.pt", NAV)


def test_checkpoint_of_another_env_is_refused(tmp_path):
    cheetah = _checkpoint(tmp_path / "cheetah.pt", env_id="MetaCheetahVel-v0", obs_dim=20, act_dim=6)
    with pytest.raises(CheckpointError, match="trained on MetaCheetahVel-v0.*comparison is on MetaNav2D-v0"):
        maml_method(cheetah, NAV)
    from examples.compare import main

    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--maml", str(cheetah), "--out", str(tmp_path / "x.json")])
    assert str(info.value.code).startswith("compare.py: ") and "trained on MetaCheetahVel-v0" in str(info.value.code)
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--methods", "maml", "random"])  # maml requested without --maml
    assert "--maml was not given" in str(info.value.code)


def _untrained_oracle(path: Path, env_id: str = NAV) -> Path:
    """An oracle artifact (agents.oracle.save_oracle) of an untrained tiny PPO policy for ``env_id``."""
    from stable_baselines3 import PPO

    from agents.oracle import OracleConfig, OraclePolicy, make_oracle_env, ppo_kwargs, save_oracle

    config = OracleConfig(env_id=env_id, policy_hidden_sizes=(8,), value_hidden_sizes=(8,))
    env = make_oracle_env(env_id)
    model = PPO("MlpPolicy", env, device="cpu", seed=0, policy_kwargs=ppo_kwargs(config)["policy_kwargs"])
    obs_dim = env.env.observation_space.shape[0]
    save_oracle(OraclePolicy(model.policy, config, obs_dim, env.observation_space.shape[0] - obs_dim), path)
    env.close()
    return path


def test_cli_compares_with_an_sb3_oracle(tmp_path):
    from stable_baselines3 import PPO

    from examples.compare import main

    oracle = _untrained_oracle(tmp_path / "oracle.pt")
    maml_ckpt = _checkpoint(tmp_path / "maml.pt")
    out = tmp_path / "cmp.json"
    curves = main(["--env-id", NAV, "--maml", str(maml_ckpt), "--oracle", str(oracle),
                   "--methods", "maml", "random", "oracle", "--eval-steps", "1", "--eval-tasks", "2",
                   "--eval-rollouts", "2", "--tune-candidates", "0.1", "--tune-tasks", "2", "--out", str(out),
                   "--log-scale"])
    assert list(curves) == ["maml", "random", "oracle"]
    report = json.loads(out.read_text())
    assert report["methods"]["oracle"]["source"].endswith("oracle.pt")
    assert report["methods"]["random"]["step_sizes"] == [0.1]
    assert out.with_suffix(".png").exists()
    # an oracle of another env is refused with the env named
    other = _untrained_oracle(tmp_path / "cheetah.pt", "MetaCheetahVel-v0")
    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--oracle", str(other), "--methods", "oracle"])
    assert "was trained on MetaCheetahVel-v0, the comparison is on MetaNav2D-v0" in str(info.value.code)
    # a plain stable-baselines3 zip is unpickled only with --trust-pickle, and even then not without its sidecar
    PPO("MlpPolicy", gym.make(NAV), n_steps=8, batch_size=8, device="cpu").save(tmp_path / "plain.zip")
    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--oracle", str(tmp_path / "plain.zip"), "--methods", "oracle"])
    assert "is a stable-baselines3 zip" in str(info.value.code) and "--trust-pickle" in str(info.value.code)
    with pytest.raises(SystemExit) as info, pytest.warns(UserWarning, match="unpickling"):
        main(["--env-id", NAV, "--oracle", str(tmp_path / "plain.zip"), "--methods", "oracle", "--trust-pickle"])
    assert "plain.json' is missing" in str(info.value.code)


def test_cli_env_kwargs_reach_random_and_must_match_the_checkpoints(tmp_path):
    """--env-kwargs builds the env of a random-only comparison; with checkpoints it must equal their env kwargs."""
    from examples.compare import main

    out = tmp_path / "random.json"
    main(["--env-id", NAV, "--methods", "random", "--env-kwargs", '{"max_step": 0.05}', "--eval-steps", "1",
          "--eval-tasks", "2", "--eval-rollouts", "2", "--tune-candidates", "0.1", "--tune-tasks", "2",
          "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["config"]["evaluation"]["env_kwargs"] == {"max_step": 0.05}
    maml_ckpt = _checkpoint(tmp_path / "maml.pt")  # trained with no env kwargs
    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--maml", str(maml_ckpt), "--env-kwargs", '{"max_step": 0.05}', "--out", str(out)])
    assert "--env-kwargs {'max_step': 0.05} differs from the env kwargs" in str(info.value.code)
    with pytest.raises(SystemExit) as info:
        main(["--env-id", NAV, "--methods", "random", "--env-kwargs", "max_step=0.05"])
    assert "--env-kwargs: not a JSON object" in str(info.value.code)


def test_sb3_oracle_uses_the_trained_oracles_loader(tmp_path):
    """A zip from agents.oracle.train_oracle (JSON sidecar) is loaded with its own predict_fn (normalisation)."""
    from agents.comparison import sb3_oracle
    from agents.oracle import OracleConfig, load_oracle, train_oracle

    path = train_oracle(OracleConfig(env_id=NAV, seed=1, total_timesteps=256, n_envs=2, n_steps=128,
                                     batch_size=64, n_epochs=1), tmp_path / "oracle.pt")
    spec = sb3_oracle(path, NAV)
    assert "agents.oracle" in spec.notes and spec.source == str(path)
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(spec.predict_fn(obs), load_oracle(path).predict_fn(obs))
    with pytest.raises(ValueError, match="trained on MetaNav2D-v0"):
        sb3_oracle(path, "MetaNav2DFamily-v0")
    with pytest.raises(ValueError, match=r"env kwargs \{\}.*\{'max_step': 0.2\}"):
        sb3_oracle(path, NAV, {"max_step": 0.2})  # same shapes, another env: must not pass silently
    with pytest.raises(FileNotFoundError):
        sb3_oracle(tmp_path / "missing.pt", NAV)
