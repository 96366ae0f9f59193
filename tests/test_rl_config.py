"""The config plumbing shared by the RL agents (agents/rl_config.py) and the policy-shape inference of their
checkpoint loaders: dict round trips, error messages, checkpoints written before the sharing still load."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import metarl  # noqa: F401  (registers the envs)
from agents.evaluation import AdaptationStepsConfig, EvaluationConfig
from agents.maltml_rl import CHECKPOINT_KIND, FamilyEvaluationConfig, MALTMLRLConfig, load_maltml_rl_policy
from agents.maml_trpo import MAMLTRPOConfig, build_policy, policy_dims_from_state
from agents.rl_config import PolicyConfigMixin, check_fields
from metarl.checkpoint import CheckpointError, save_checkpoint


@dataclass
class _Toy(PolicyConfigMixin):
    hidden_sizes: tuple[int, ...] = (3,)
    dtype: str = "float64"
    extra: dict[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(self.hidden_sizes)


def test_check_fields_names_the_first_invalid_field() -> None:
    toy = _Toy(extra={"a": 1})
    check_fields(toy, {"hidden_sizes": True, "dtype": True})
    with pytest.raises(ValueError, match=r"^invalid _Toy\.dtype = 'float64'$"):
        check_fields(toy, {"hidden_sizes": True, "dtype": False, "extra": False})


def test_mixin_dict_round_trip_and_dtype() -> None:
    toy = _Toy(hidden_sizes=(4, 5), extra={"a": 1})
    data = toy.to_dict()
    assert data == {"hidden_sizes": [4, 5], "dtype": "float64", "extra": {"a": 1}}
    data["extra"]["a"] = 2  # a deep copy: the config is untouched
    assert toy.extra == {"a": 1}
    assert _Toy.from_dict(toy.to_dict()) == toy
    assert toy.torch_dtype is torch.float64
    with pytest.raises(ValueError, match=r"unknown _Toy fields: \['bogus'\]"):
        _Toy.from_dict({"bogus": 1})


@pytest.mark.parametrize(
    "config",
    [MAMLTRPOConfig(hidden_sizes=(8,), dtype="float64"), MALTMLRLConfig(hidden_sizes=(8,), dtype="float64")],
    ids=["maml_trpo", "maltml_rl"],
)
def test_agent_configs_keep_their_checkpoint_form(config: MAMLTRPOConfig | MALTMLRLConfig) -> None:
    data = config.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(config)] and data["hidden_sizes"] == [8]
    assert type(config).from_dict(data) == config and config.torch_dtype is torch.float64
    with pytest.raises(ValueError, match=rf"unknown {type(config).__name__} fields: \['bogus'\]"):
        type(config).from_dict({**data, "bogus": 1})


@pytest.mark.parametrize("kind", ["mlp", "context"])
def test_policy_dims_from_state(kind: str) -> None:
    policy = build_policy(5, 3, hidden_sizes=(8,), init_log_std=0.0, dtype=torch.float32, seed=0, kind=kind,
                          context_dim=2)
    assert policy_dims_from_state(policy.state_dict(), kind) == (5, 3)
    with pytest.raises(KeyError, match="log_std"):
        policy_dims_from_state({"layers.0.weight": torch.zeros(8, 5)})


def test_family_evaluation_shares_the_adaptation_settings() -> None:
    shared = {f.name for f in dataclasses.fields(AdaptationStepsConfig)}
    assert shared == {"num_steps", "step_sizes", "gamma", "gae_lambda", "seed", "workers", "sampler", "env_kwargs"}
    for cls in (EvaluationConfig, FamilyEvaluationConfig):
        assert issubclass(cls, AdaptationStepsConfig)
        assert cls().seed == 12345 and cls().step_sizes == (0.1, 0.05) and cls().num_steps == 3
    assert EvaluationConfig(7).num_tasks == 7  # positional arguments are still the subclass's own fields
    assert FamilyEvaluationConfig(step_sizes=[0.3]).step_size(4) == 0.3
    with pytest.raises(ValueError, match=r"invalid FamilyEvaluationConfig\.step_sizes = \(\)"):
        FamilyEvaluationConfig(step_sizes=())
    with pytest.raises(ValueError, match=r"EvaluationConfig\.step_sizes must be non-empty"):
        EvaluationConfig(step_sizes=())


def _save_maltml_checkpoint(path: Path, policy_state: dict[str, torch.Tensor]) -> None:
    """A MALTML checkpoint as the agent wrote it before the configs shared their plumbing (config as a dict)."""
    config = {
        "env_id": "MetaNav2DFamily-v0", "family_batch_size": 2, "tasks_per_family": 2, "rollouts_per_task": 2,
        "query_rollouts": 3, "task_lr": 0.1, "family_lr": 0.1, "family_steps": 2, "outer_lr": 0.1,
        "outer_optimizer": "sgd", "gamma": 0.99, "gae_lambda": 1.0, "hidden_sizes": [8], "init_log_std": 0.0,
        "dtype": "float32", "workers": 1, "seed": 0, "env_kwargs": {},
    }
    save_checkpoint(path, {"policy": policy_state, "config": config, "iteration": 1}, kind=CHECKPOINT_KIND)


def test_old_maltml_checkpoint_loads_and_bad_policy_is_refused(tmp_path: Path) -> None:
    policy = build_policy(2, 2, hidden_sizes=(8,), init_log_std=0.0, dtype=torch.float32, seed=4)
    _save_maltml_checkpoint(tmp_path / "old.pt", policy.state_dict())
    loaded, config = load_maltml_rl_policy(str(tmp_path / "old.pt"))
    assert config.hidden_sizes == (8,) and config.family_batch_size == 2
    for name, value in policy.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value, rtol=0, atol=0, msg=name)
    broken = {k: v for k, v in policy.state_dict().items() if k != "log_std"}
    _save_maltml_checkpoint(tmp_path / "broken.pt", broken)
    with pytest.raises(CheckpointError, match=r"has no usable policy parameters \('log_std'\)"):
        load_maltml_rl_policy(str(tmp_path / "broken.pt"))


def test_maml_trpo_config_holds_only_what_a_meta_rl_user_sets() -> None:
    """22 fields; the original code's quirks are not options (they live in reproductions/maml2017), and a
    config dict that still names one is refused with the names listed."""
    assert [f.name for f in dataclasses.fields(MAMLTRPOConfig)] == [
        "env_id", "env_kwargs", "meta_batch_size", "fast_batch_size", "num_steps", "fast_lr", "first_order",
        "gamma", "gae_lambda", "max_kl", "cg_iters", "cg_damping", "hvp", "fd_eps", "hidden_sizes", "init_log_std",
        "policy", "context_dim", "dtype", "workers", "sampler", "seed",
    ]
    assert "action_scaling" not in {f.name for f in dataclasses.fields(MALTMLRLConfig)}
    old = {**MAMLTRPOConfig().to_dict(), "action_scaling": "clip", "fd_scheme": "central", "batch": "episodes"}
    with pytest.raises(ValueError, match=r"unknown MAMLTRPOConfig fields: \['action_scaling', 'batch', 'fd_scheme'\]"):
        MAMLTRPOConfig.from_dict(old)
    policy = build_policy(2, 2, hidden_sizes=(4,), init_log_std=0.0, dtype=torch.float32, seed=0)
    assert not hasattr(policy, "action_scaling")


def test_shipped_checkpoints_load_with_todays_config() -> None:
    """Every canonical MAML-TRPO checkpoint loads with today's config; the comparison learners are the library's
    (no extensions), the reproductions' name theirs; the oracles (oracle_*.pt) load as oracles."""
    from agents.oracle import load_oracle
    from agents.training import checkpoint_extensions, load_policy

    everything = sorted((Path(__file__).resolve().parents[1] / "checkpoints").glob("*.pt"))
    oracles = [path for path in everything if path.name.startswith("oracle_")]
    assert [load_oracle(path).config.env_id for path in oracles] == ["MetaAntDir-v0", "MetaAntVel-v0", "MetaCheetahDir-v0",
                                                                     "MetaNav2D-v0"]
    shipped = [path for path in everything if path not in oracles]
    names = {path.name: checkpoint_extensions(path) for path in shipped}
    assert names["pretrained_nav2d.pt"] == names["context_nav2d.pt"] == ""
    assert all(name == "" or name.startswith("maml2017:") for name in names.values()), names
    for path in shipped:
        policy, config = load_policy(str(path))
        action_dims = {"nav2d": 2, "cheetah": 6, "ml1_reach": 4, "ant": 8}  # Meta-World arm: 3-d move + gripper
        expected = [dim for key, dim in action_dims.items() if key in path.name]
        assert [policy_dims_from_state(policy.state_dict(), config.policy)[1]] == expected, path.name
    _, pretrained = load_policy(str(shipped[[p.name for p in shipped].index("pretrained_nav2d.pt")]))
    assert (pretrained.env_id, pretrained.num_steps) == ("MetaNav2D-v0", 0)
