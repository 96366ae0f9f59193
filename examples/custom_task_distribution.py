"""Your own task distribution: ONE env with sample_tasks(n, rng), set_task(task) and task, meta-trained by MAML-TRPO.

    python examples/custom_task_distribution.py
    metarl-train --env-id examples.custom_task_distribution:PointGoal1D-v0 --iterations 20   # the CLI, same env
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agents import MAMLTRPO, EvaluationConfig, MAMLTRPOConfig, TrainingConfig, evaluate_adaptation, train  # noqa: E402


@dataclass(frozen=True)
class Goal:
    x: float


class PointGoal1D(gymnasium.Env):
    """A point starts at x = 0 and moves by 0.1 a, a in [-1, 1]; reward -|x - goal|; a task is a goal ~ U[-1, 1]."""

    def __init__(self) -> None:
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.task, self._fixed = None, None  # the current episode's task; the one set_task fixed

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> list[Goal]:
        rng = self.np_random if rng is None else rng  # seeded generators only, never np.random
        return [Goal(float(x)) for x in rng.uniform(-1.0, 1.0, n)]

    def set_task(self, task: Goal | None) -> None:
        self._fixed = task  # fixed from the next reset on; None: a new task at every reset

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.task = self._fixed or self.sample_tasks(1)[0]
        self.x = 0.0
        return np.array([self.x], np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.x += 0.1 * float(np.clip(action[0], -1.0, 1.0))
        return np.array([self.x], np.float32), -abs(self.x - self.task.x), False, False, {}


if "PointGoal1D-v0" not in gymnasium.registry:
    gymnasium.register("PointGoal1D-v0", entry_point=PointGoal1D, max_episode_steps=20)
if __name__ == "__main__":
    agent = MAMLTRPO(MAMLTRPOConfig(env_id="PointGoal1D-v0", meta_batch_size=10, fast_batch_size=10, seed=0))
    protocol = EvaluationConfig(num_tasks=20, rollouts_per_task=10, num_steps=2)  # return after 0, 1, 2 steps
    before = evaluate_adaptation(agent.policy, "PointGoal1D-v0", protocol, show_progress=False)
    run = Path("runs/custom_task_distribution")  # run again: continues (here: already done) instead of refusing
    train(agent, TrainingConfig(run_dir=str(run), iterations=20, resume=(run / "last.pt").exists()))
    after = evaluate_adaptation(agent.policy, "PointGoal1D-v0", protocol, show_progress=False)
    agent.close()
    for name, curve in (("before", before), ("after", after)):
        print(f"{name} training: return after 0/1/2 gradient steps", " / ".join(f"{m:.2f}" for m in curve["mean"]))
