"""A task-distribution env written as a user would: only the single env, no batched form.

Registered on import as ``TargetSpeed-v0`` (and ``DiscreteSpeed-v0``, the same with a discrete action space), so the tests reach it as ``"tests.task_envs:TargetSpeed-v0"`` (Gymnasium's
``module:Id`` spelling, which imports this module, in worker processes too).  Unlike the built-in envs it has
start-state noise (so reset seeds matter), early termination (so done-stays-done matters) and an info dict.

``PointReach-v0`` (:class:`PointReachEnv`) reports a per-step ``info["success"]`` flag and has a held-out task set
(``sample_test_tasks``), as Meta-World ML1 does, with dynamics simple enough that every flag is known in advance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

ENV_ID = "tests.task_envs:TargetSpeed-v0"
HORIZON = 30


@dataclass(frozen=True)
class SpeedTask:
    speed: float


class TargetSpeedEnv(gymnasium.Env):
    """A cart on a line: obs (x, v); action a in [-1, 1]; v' = 0.9 v + 0.1 a, x' = x + v'; reward -|v' - speed|;
    terminates when |x| > 1; x0 ~ U(-0.05, 0.05) from ``np_random``.  Task: a target speed ~ U(-0.2, 0.2),
    drawn at each reset unless one was fixed with ``set_task``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.render_mode = render_mode
        self.task: SpeedTask | None = None
        self._fixed: SpeedTask | None = None

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> list[SpeedTask]:
        rng = self.np_random if rng is None else rng
        return [SpeedTask(float(s)) for s in rng.uniform(-0.2, 0.2, n)]

    def set_task(self, task: SpeedTask | None) -> None:
        if task is not None and not isinstance(task, SpeedTask):
            raise TypeError(f"task must be a SpeedTask, got {task!r}")
        self._fixed = task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.task = self._fixed if self._fixed is not None else self.sample_tasks(1)[0]
        self._state = np.array([self.np_random.uniform(-0.05, 0.05), 0.0])
        return self._state.astype(np.float32), {"start": float(self._state[0])}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        x, v = self._state
        v = 0.9 * v + 0.1 * float(np.clip(action, -1.0, 1.0)[0])
        self._state = np.array([x + v, v])
        error = abs(v - self.task.speed)
        return self._state.astype(np.float32), -error, bool(abs(x + v) > 1.0), False, {"speed_error": error}

    def render(self) -> np.ndarray:
        frame = np.zeros((8, 32, 3), dtype=np.uint8)
        frame[:, int(np.clip((self._state[0] + 1.0) * 15.5, 0, 31))] = 255
        return frame


class DiscreteSpeedEnv(TargetSpeedEnv):
    """The same task protocol with two discrete actions (push left, push right): no Gaussian policy can act in it."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.Discrete(2)


for _name, _entry in (("TargetSpeed-v0", "TargetSpeedEnv"), ("DiscreteSpeed-v0", "DiscreteSpeedEnv")):
    if _name not in gymnasium.registry:
        gymnasium.register(_name, entry_point=f"tests.task_envs:{_entry}", max_episode_steps=HORIZON)


REACH_ID = "tests.task_envs:PointReach-v0"
REACH_HORIZON = 30
#: the held-out goals of PointReach-v0 (``sample_test_tasks``); the train goals are U(-0.5, 0.5) draws
TEST_GOALS: tuple[float, ...] = (-0.4, -0.2, 0.15, 0.2, 0.4, 0.7)


@dataclass(frozen=True)
class GoalTask1D:
    goal: float


class PointReachEnv(gymnasium.Env):
    """A point on a line, Meta-World-style success: obs (x,); x0 = 0; x' = x + 0.1 clip(a, -1, 1); reward
    -|x' - goal|; ``info["success"]`` is 1.0 at a step whose |x' - goal| < 0.03, else 0.0 (reaching the goal does
    not end the episode); terminates when |x'| > 1.  Train tasks: goal ~ U(-0.5, 0.5) (``sample_tasks``); held-out
    tasks: the fixed :data:`TEST_GOALS` (``sample_test_tasks``, drawn without repeats)."""

    metadata = {"render_modes": [], "render_fps": 10}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.task: GoalTask1D | None = None
        self._fixed: GoalTask1D | None = None
        self._x = 0.0

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> list[GoalTask1D]:
        rng = self.np_random if rng is None else rng
        return [GoalTask1D(float(g)) for g in rng.uniform(-0.5, 0.5, n)]

    def sample_test_tasks(self, n: int, rng: np.random.Generator | None = None) -> list[GoalTask1D]:
        if n > len(TEST_GOALS):
            raise ValueError(f"n = {n} is more than the {len(TEST_GOALS)} held-out goals")
        rng = self.np_random if rng is None else rng
        return [GoalTask1D(TEST_GOALS[i]) for i in rng.permutation(len(TEST_GOALS))[:n]]

    def set_task(self, task: GoalTask1D | None) -> None:
        if task is not None and not isinstance(task, GoalTask1D):
            raise TypeError(f"task must be a GoalTask1D, got {task!r}")
        self._fixed = task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.task = self._fixed if self._fixed is not None else self.sample_tasks(1)[0]
        self._x = 0.0
        return np.array([self._x]), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._x += 0.1 * float(np.clip(action, -1.0, 1.0)[0])
        distance = abs(self._x - self.task.goal)
        return np.array([self._x]), -distance, abs(self._x) > 1.0, False, {"success": float(distance < 0.03)}


if "PointReach-v0" not in gymnasium.registry:
    gymnasium.register("PointReach-v0", entry_point="tests.task_envs:PointReachEnv", max_episode_steps=REACH_HORIZON)
