"""reproductions.maml2017.return_terms: an episode's reward terms add up to its return, the health check's end is
recorded with the torso height that caused it, and the command analyses a checkpoint after 0..k steps."""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest

import metarl  # noqa: F401  (registers the env ids)
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from agents.training import CHECKPOINT_KIND
from metarl.checkpoint import save_checkpoint
from reproductions.maml2017.return_terms import episode_terms, main


@pytest.mark.parametrize("action", [0.0, 1.0])
def test_the_reward_terms_of_an_ant_episode_add_up_to_its_return(action):
    env = gymnasium.make("MetaAntVel-v0")
    env.unwrapped.set_task(env.unwrapped.sample_tasks(1, rng=np.random.default_rng(0))[0])
    out = episode_terms(env, lambda obs: np.full(8, action, dtype=np.float32), seed=3)
    terms = sum(v for k, v in out.items() if k.startswith("reward_"))
    assert set(k for k in out if k.startswith("reward_")) == {"reward_forward", "reward_ctrl", "reward_contact",
                                                              "reward_survive"}
    assert terms == pytest.approx(out["return"], abs=1e-9)
    assert out["reward_survive"] == pytest.approx(0.05 * out["length"])
    if out["terminated"]:  # the health check ended it: the torso left [0.2, 1.0] m
        assert not 0.2 <= out["final_torso_z"] <= 1.0, out
    else:
        assert out["length"] == 200
    env.close()


def test_the_command_reports_every_step_for_each_task(tmp_path):
    agent = MAMLTRPO(MAMLTRPOConfig(env_id="MetaAntVel-v0", meta_batch_size=2, fast_batch_size=2, seed=0))
    save_checkpoint(tmp_path / "c.pt", agent.state_dict(), kind=CHECKPOINT_KIND)
    agent.close()
    out = tmp_path / "terms.json"
    result = main(["--checkpoint", str(tmp_path / "c.pt"), "--tasks", "2", "--rollouts", "1", "--steps", "1",
                   "--out", str(out)])
    assert json.loads(out.read_text())["after_steps"] == result["after_steps"]
    assert len(result["after_steps"]) == 2 and len(result["per_task"]) == 2
    for step in result["after_steps"]:
        assert 1 <= step["length"] <= 200 and 0.0 <= step["ended_above_1m_share"] <= step["terminated_share"] <= 1.0
        assert step["reward_forward"] + step["reward_ctrl"] + step["reward_contact"] + step["reward_survive"] \
            == pytest.approx(step["return"], abs=0.01)  # means of rounded per-task values
    assert result["per_task"][0]["task"].startswith("goal velocity")


def test_env_kwargs_reach_the_episodes_and_the_adaptation(tmp_path, monkeypatch):
    """--env-kwargs changes the env the analysis runs (here the control step), and a bad value names the flag."""
    import reproductions.maml2017.return_terms as module

    agent = MAMLTRPO(MAMLTRPOConfig(env_id="MetaAntVel-v0", meta_batch_size=2, fast_batch_size=2, seed=0))
    save_checkpoint(tmp_path / "c.pt", agent.state_dict(), kind=CHECKPOINT_KIND)
    agent.close()
    seen = []
    real_trace = module.adaptation_trace
    monkeypatch.setattr(module, "adaptation_trace",
                        lambda *a, **k: seen.append(k["env_kwargs"]) or real_trace(*a, **k))
    result = main(["--checkpoint", str(tmp_path / "c.pt"), "--tasks", "1", "--rollouts", "1", "--steps", "0",
                   "--env-kwargs", '{"frame_skip": 2}'])
    assert result["env_kwargs"] == {"frame_skip": 2} and seen == [{"frame_skip": 2}]
    with pytest.raises(SystemExit, match="--env-kwargs"):
        main(["--checkpoint", str(tmp_path / "c.pt"), "--env-kwargs", "[1]"])
