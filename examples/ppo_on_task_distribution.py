"""Stable-Baselines3 PPO on a plain ``gymnasium.make("MetaCheetahVel-v0")``: every episode is a new task.

A metarl env made the ordinary way is a task *distribution* (MAML paper, Finn et al. 2017, sec. 5.3): each
``reset()`` draws a goal velocity with the env's seeded RNG unless a task is fixed.  So a standard RL library
trains on many tasks without knowing about them.  This script logs the task of every episode PPO sees and
writes them to ``--out`` (JSON); it is a demonstration of the task protocol, not a tuned learner.

    python examples/ppo_on_task_distribution.py --steps 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np
import tyro
from stable_baselines3 import PPO

import metarl  # noqa: F401  (registers the metarl env ids)
from metarl.jsonio import write_json


class EpisodeTaskLog(gymnasium.Wrapper):
    """Records ``(task, return, length)`` of every finished episode of the wrapped task env."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.episodes: list[dict] = []
        self._return = 0.0
        self._length = 0

    def reset(self, **kwargs):
        self._return, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            task = self.env.unwrapped.task
            self.episodes.append({"task": float(task.velocity), "return": self._return, "length": self._length})
        return obs, reward, terminated, truncated, info


@dataclass
class Args:
    env_id: str = "MetaCheetahVel-v0"
    """A metarl velocity env (MetaCheetahVel-v0 or MetaAntVel-v0)."""
    steps: int = 20_000
    """PPO environment steps."""
    seed: int = 0
    """Seed of PPO and of the env's task draws."""
    out: Path = Path("runs/ppo_task_distribution/episodes.json")
    """Where the per-episode task log is written (JSON)."""


def main(args: Args) -> dict:
    env = EpisodeTaskLog(gymnasium.make(args.env_id))
    env.reset(seed=args.seed)
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=64, seed=args.seed, device="cpu", verbose=0)
    model.learn(total_timesteps=args.steps)
    tasks = np.array([e["task"] for e in env.episodes])
    summary = {"env_id": args.env_id, "steps": args.steps, "seed": args.seed, "episodes": len(env.episodes),
               "distinct_tasks": int(np.unique(tasks).size), "task_min": float(tasks.min()),
               "task_max": float(tasks.max()), "episode_log": env.episodes}
    write_json(args.out, summary)
    for e in env.episodes[:5] + env.episodes[-3:]:
        print(f"goal velocity {e['task']:.3f}  return {e['return']:9.1f}  ({e['length']} steps)")
    print(f"{len(tasks)} episodes, {summary['distinct_tasks']} distinct goal velocities in "
          f"[{tasks.min():.3f}, {tasks.max():.3f}]; log: {args.out}")
    return summary


if __name__ == "__main__":
    main(tyro.cli(Args))
