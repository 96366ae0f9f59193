"""What a locomotion return is made of: a checkpoint's episodes on held-out tasks, split into the env's reward terms.

The diagnosis tool of issue 33 (a number far from the MAML paper's): for each of the first ``--tasks`` held-out tasks
of the evaluation (the same tasks, same seed), the policy is adapted as the evaluation adapts it
(:func:`agents.rendering.adaptation_trace`, REINFORCE steps of 0.1 then 0.05), and after 0..``--steps`` steps
``--rollouts`` stochastic episodes are run in a single env with the task fixed.  Per step it reports the mean of
each ``reward_*`` term of the env's ``info`` summed over the episode (for the ant: the forward term
``1 - |v - v_goal|`` or ``d * v``, the control, contact and survive terms), the episode length, the share of
episodes ended by the health check (terminated before the horizon), the torso's height when the episode ended (the
ant's check ends it outside [0.2, 1.0] m) and the torso's mean x velocity against the goal — so a low return can be read as "walks at the wrong speed", "falls", or "pays in costs"::

    python -m reproductions.maml2017.return_terms --checkpoint runs/maml_ant_vel_paper_text_seed1/best.pt \\
        --tasks 10 --rollouts 5 --out reproductions/maml2017/results/return_terms_ant_vel_seed1.json

The MAML paper's ant rewards are rllab's (Finn et al. 2017, App. A.1; ``envs/ant.py``); Gymnasium's v5 ant is the
model.  Library checkpoints only (a checkpoint trained with a reproduction's extensions is refused).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import tyro

from agents.cli import parse_env_kwargs
from agents.evaluation import EvaluationConfig
from agents.maml_trpo import make_policy
from agents.rendering import adaptation_trace
from agents.training import checkpoint_extensions, load_policy
from envs.base import describe_task, sample_held_out_tasks
from metarl.jsonio import write_json
from metarl.rl.policy import env_actions

__all__ = ["Args", "episode_terms", "main"]


@dataclass
class Args:
    checkpoint: Path
    """A MAML-TRPO checkpoint of the library (best.pt / last.pt) on a MuJoCo locomotion env."""
    tasks: int = 10
    """Held-out tasks analysed: the first N of the evaluation's 40 (same seed, same tasks)."""
    steps: int = 1
    """Adaptation steps: terms are reported after 0..steps steps."""
    rollouts: int = 5
    """Stochastic episodes per task and step on which the terms are summed."""
    seed: int = EvaluationConfig.seed
    """Seed of the held-out tasks and of the adaptation's sampling (the evaluation's by default)."""
    untrained: bool = False
    """Analyse a freshly initialised policy of the checkpoint's config (init seed 0) instead of its parameters:
    the random-initialisation learner's starting point."""
    env_kwargs: str = "{}"
    """JSON object merged over the checkpoint's env kwargs for this analysis only (adaptation and episodes), e.g.
    '{"frame_skip": 2}' for the ant at rllab's 0.02 s control step; the policy is not retrained."""
    out: Path | None = None
    """JSON file written (None: print only)."""


def episode_terms(env: Any, act: Any, seed: int) -> dict[str, float]:
    """One episode of ``env`` (its task already fixed) under ``act``: each ``reward_*`` info term summed, the
    return, the length, whether the health check ended it, and the mean ``x_velocity``."""
    obs, _ = env.reset(seed=seed)
    sums: dict[str, float] = {}
    velocities, total, length, terminated, truncated = [], 0.0, 0, False, False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(act(obs))
        total += float(reward)
        length += 1
        for key, value in info.items():
            if key.startswith("reward_"):
                sums[key] = sums.get(key, 0.0) + float(value)
        if "x_velocity" in info:
            velocities.append(float(info["x_velocity"]))
    data = getattr(env.unwrapped, "data", None)  # MuJoCo envs: the torso height the health check reads
    return {**sums, "return": total, "length": length, "terminated": bool(terminated),
            "mean_x_velocity": float(np.mean(velocities)) if velocities else float("nan"),
            "final_torso_z": float(data.qpos[2]) if data is not None else float("nan")}


def _sampling_policy(policy: Any, params: dict, space: Any, generator: torch.Generator) -> Any:
    """obs -> an action drawn from the policy's Gaussian under ``params``, clipped as the samplers clip it."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            dist = policy(torch.as_tensor(np.asarray(obs), dtype=torch.float32), params)
            action = dist.mean + dist.stddev * torch.randn(dist.mean.shape, generator=generator)
        return env_actions(action.to(torch.float64).numpy(), space.low, space.high).astype(space.dtype)

    return act


def _mean_of(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k in rows[0] if k != "terminated"]
    out = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}
    out["terminated_share"] = round(float(np.mean([r["terminated"] for r in rows])), 3)
    # the ant's health check (rllab's and Gymnasium's) ends an episode outside [0.2, 1.0] m: which bound ended it
    out["ended_above_1m_share"] = round(float(np.mean([r["terminated"] and r["final_torso_z"] > 1.0 for r in rows])), 3)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    import gymnasium

    import metarl  # noqa: F401  (registers the env ids)

    if checkpoint_extensions(args.checkpoint):
        raise SystemExit(f"return_terms: {args.checkpoint} was trained with reproduction extensions; not supported")
    policy, config = load_policy(args.checkpoint)
    if args.untrained:
        policy = make_policy(policy.obs_dim, policy.act_dim, config, seed=0)
    env_kwargs = {**config.env_kwargs, **parse_env_kwargs(args.env_kwargs)}
    env = gymnasium.make(config.env_id, **env_kwargs)
    rng = np.random.default_rng(np.random.SeedSequence(args.seed).spawn(1)[0])  # the evaluation's task draw
    tasks = sample_held_out_tasks(env, EvaluationConfig.num_tasks, rng)[: args.tasks]
    generator = torch.Generator().manual_seed(args.seed)
    per_task = []
    for index, task in enumerate(tasks):
        trace = adaptation_trace(policy, config.env_id, task, args.steps, seed=args.seed, env_kwargs=env_kwargs,
                                 show_progress=False)
        env.unwrapped.set_task(task)
        steps = []
        for params in trace.params:
            act = _sampling_policy(policy, params, env.action_space, generator)
            rows = [episode_terms(env, act, seed=args.seed + 1000 * index + r) for r in range(args.rollouts)]
            steps.append(_mean_of(rows))
        per_task.append({"task": describe_task(task), "goal": getattr(task, "velocity", getattr(task, "direction", None)),
                         "after_steps": steps})
        print(f"task {index} ({describe_task(task)}): " + "; ".join(
            f"step {k}: return {s['return']:.1f}, v {s['mean_x_velocity']:.2f} m/s, length {s['length']:.0f}"
            for k, s in enumerate(steps)), flush=True)
    summary = [{key: round(float(np.mean([t["after_steps"][k][key] for t in per_task])), 3)
                for key in per_task[0]["after_steps"][k]} for k in range(args.steps + 1)]
    result = {"checkpoint": str(args.checkpoint), "untrained": args.untrained, "env_id": config.env_id,
              "env_kwargs": env_kwargs, "tasks": args.tasks,
              "rollouts": args.rollouts, "seed": args.seed, "after_steps": summary, "per_task": per_task,
              "command": " ".join(["python -m reproductions.maml2017.return_terms", *sys.argv[1:]])}
    for k, s in enumerate(summary):
        print(f"after {k} step(s): " + ", ".join(f"{key} {value}" for key, value in s.items()))
    if args.out is not None:
        write_json(args.out, result)
    env.close()
    return result


if __name__ == "__main__":
    main()
