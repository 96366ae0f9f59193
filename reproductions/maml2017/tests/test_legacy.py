"""Pre-split configs and checkpoints (reproductions.maml2017.legacy): each removed option maps onto today's
config or a quirk, what cannot be repeated is refused with the field named, and a migrated checkpoint loads with
its quirks' extensions only."""

from __future__ import annotations

import pytest
import torch

import metarl  # noqa: F401  (registers the env ids)
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND, checkpoint_extensions, load_agent
from metarl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from reproductions.maml2017.legacy import convert_config, main, migrate_checkpoint
from reproductions.maml2017.presets import extensions_for

TINY = dict(env_id="MetaNav2D-v0", meta_batch_size=2, fast_batch_size=2, hidden_sizes=[8], seed=1)
#: the removed fields at their pre-split defaults
OLD_DEFAULTS = dict(batch="episodes", fd_scheme="central", fd_eps="auto", step_curvature="cg_residual",
                    fvp_subsample=1.0, fvp_precision="float32", hidden_bias_init="uniform", action_scaling="clip",
                    ls_max_steps=15, ls_backtrack_ratio=0.8)


def old_config(**changes) -> dict:
    return {**MAMLTRPOConfig(**TINY).to_dict(), **OLD_DEFAULTS, **changes}


def test_defaults_convert_to_todays_defaults_without_quirks():
    config, quirks = convert_config(old_config())
    assert quirks == () and MAMLTRPOConfig.from_dict(config) == MAMLTRPOConfig(**TINY)
    # configs written before some of the fields existed
    config, quirks = convert_config(MAMLTRPOConfig(**TINY).to_dict())
    assert quirks == () and MAMLTRPOConfig.from_dict(config) == MAMLTRPOConfig(**TINY)


@pytest.mark.parametrize("changes, hvp, quirks", [
    ({"fd_scheme": "forward"}, "fd-forward", ()),
    ({"hvp": "gn", "fd_scheme": "central", "fd_eps": None}, "gn", ()),  # the old stored default on gn
    ({"hvp": "exact", "fd_scheme": None}, "exact", ()),
    ({"fd_eps": "maml_code"}, "fd", ("maml_code_fd_step",)),
    ({"batch": "samples"}, "fd", ("sample_budget",)),
    ({"hidden_bias_init": "zeros"}, "fd", ("zero_hidden_biases",)),
    ({"action_scaling": "rescale"}, "fd", ("rescale_actions",)),
    ({"env_id": "MetaCheetahDir-v0", "env_kwargs": {"frame_skip": 1, "rllab_observation": True}}, "fd",
     ("torso_com_observation",)),
    ({"fd_eps": "maml_code", "batch": "samples", "hidden_bias_init": "zeros", "action_scaling": "rescale",
      "fast_lr": 0.5}, "fd", ("maml_code_fd_step", "rescale_actions", "sample_budget", "zero_hidden_biases")),
])
def test_each_old_option_maps_to_an_hvp_kind_or_a_quirk(changes, hvp, quirks):
    config, got = convert_config(old_config(**changes))
    assert got == quirks
    parsed = MAMLTRPOConfig.from_dict(config)
    assert parsed.hvp == hvp and parsed.fd_eps is None
    assert not set(OLD_DEFAULTS) & set(config)
    assert "rllab_observation" not in parsed.env_kwargs
    if "env_kwargs" in changes:
        assert parsed.env_kwargs == {"frame_skip": 1}
    if "fast_lr" in changes:
        assert parsed.fast_lr == 0.5


@pytest.mark.parametrize("field, changes", [
    ("fvp_subsample", {"fvp_subsample": 0.25}),
    ("ls_max_steps", {"ls_max_steps": 10}),
    ("ls_backtrack_ratio", {"ls_backtrack_ratio": 0.5}),
    ("step_curvature", {"step_curvature": "product"}),
    ("fd_eps", {"fd_eps": "rllab"}),  # in float32: not what "auto" chose there (the "scaled" step)
    ("fd_scheme", {"hvp": "gn", "fd_scheme": "forward"}),
    ("fvp_precision", {"fvp_precision": "float16"}),
    ("batch", {"batch": "steps"}),
    ("hidden_bias_init", {"hidden_bias_init": "ones"}),
    ("action_scaling", {"action_scaling": "squash"}),
    ("rllab_reset", {"env_kwargs": {"rllab_reset": True}}),
])
def test_unrepeatable_values_are_refused_naming_the_field(field, changes):
    with pytest.raises(ValueError, match=f"legacy (config field|env_kwargs) {field} = "):
        convert_config(old_config(**changes))


def test_evaluation_only_conversion_drops_the_meta_step_settings():
    """A 25 % Fisher subsample or rllab's extra curvature product change only training: for evaluation they are
    dropped; what the policy does (the quirks) is still converted or refused."""
    config, quirks = convert_config(old_config(fvp_subsample=0.25, step_curvature="product", ls_max_steps=10,
                                               hidden_bias_init="zeros"), for_evaluation=True)
    assert quirks == ("zero_hidden_biases",) and MAMLTRPOConfig.from_dict(config) == MAMLTRPOConfig(**TINY)
    with pytest.raises(ValueError, match="action_scaling"):
        convert_config(old_config(action_scaling="squash"), for_evaluation=True)


def _old_checkpoint(path, **changes) -> dict:
    agent = MAMLTRPO(MAMLTRPOConfig(**TINY))
    state = {**agent.state_dict(), "config": old_config(**changes), "iteration": 7}
    del state["extensions"]
    agent.close()
    save_checkpoint(path, state, kind=CHECKPOINT_KIND)
    return state


def test_a_migrated_checkpoint_keeps_its_policy_and_loads_only_with_its_quirks(tmp_path, capsys):
    old = _old_checkpoint(tmp_path / "old.pt", batch="samples", action_scaling="rescale")
    with pytest.raises(ValueError, match="unknown MAMLTRPOConfig fields"):
        load_agent(tmp_path / "old.pt")  # as written before the split, it no longer loads
    quirks = migrate_checkpoint(tmp_path / "old.pt", tmp_path / "new.pt")
    assert quirks == ("rescale_actions", "sample_budget")
    assert checkpoint_extensions(tmp_path / "new.pt") == "maml2017:rescale_actions+sample_budget"
    state = load_checkpoint(tmp_path / "new.pt", expected_kind=CHECKPOINT_KIND)
    assert state["legacy_config"] == old["config"] and state["iteration"] == 7
    with pytest.raises(CheckpointError, match="trained with extensions 'maml2017:rescale_actions\\+sample_budget'"):
        load_agent(tmp_path / "new.pt")
    agent = load_agent(tmp_path / "new.pt", extensions=extensions_for(quirks))
    assert agent.iteration == 7
    for name, value in old["policy"].items():
        assert torch.equal(agent.policy.state_dict()[name], value), name
    agent.close()
    with pytest.raises(ValueError, match="already migrated"):
        migrate_checkpoint(tmp_path / "new.pt", tmp_path / "again.pt")
    # the command line: in place, and one error line for a refused field
    _old_checkpoint(tmp_path / "inplace.pt", hidden_bias_init="zeros")
    main([str(tmp_path / "inplace.pt"), str(tmp_path / "inplace.pt")])
    assert "zero_hidden_biases" in capsys.readouterr().out
    assert checkpoint_extensions(tmp_path / "inplace.pt") == "maml2017:zero_hidden_biases"
    _old_checkpoint(tmp_path / "subsampled.pt", fvp_subsample=0.25)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "subsampled.pt"), str(tmp_path / "out.pt")])
    assert "fvp_subsample = 0.25" in capsys.readouterr().err and not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("dtype, rule", [("float32", "scaled"), ("float64", "rllab")])
def test_the_rule_auto_chose_for_the_dtype_maps_to_the_default_step(dtype, rule):
    parsed, quirks = convert_config(old_config(dtype=dtype, fd_eps=rule))
    assert "fd_eps" not in parsed or parsed["fd_eps"] is None
    assert "maml_code_fd_step" not in quirks


def test_bfloat16_products_are_refused_for_training_and_dropped_for_evaluation():
    with pytest.raises(ValueError, match="legacy config field fvp_precision = 'bfloat16'"):
        convert_config(old_config(hvp="gn", fvp_precision="bfloat16"))
    config, quirks = convert_config(old_config(hvp="gn", fvp_precision="bfloat16"), for_evaluation=True)
    assert config["hvp"] == "gn" and quirks == ()
