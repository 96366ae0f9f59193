"""2D point navigation to a goal: ``MetaNav2D-v0`` and ``MetaNav2DFamily-v0``.

(Why one file of ~660 lines: the dynamics are written once and used by the single, the batched and the family
envs, whose docstrings are their specs; most of the length is those specs.)

The 2D navigation benchmark of MAML (Finn et al. 2017, section 5.3): a point agent moves in the plane and must
reach a goal position drawn uniformly from the unit square ``[-0.5, 0.5]^2``; the goal is the task.
``MetaNav2DFamily-v0`` adds the task *families* of MALTML (Devos & Dandi): axis-aligned crops of the square whose
goals form one family.

The maths (dynamics, reward, termination) is written once, in :func:`nav2d_dynamics` and :func:`nav2d_outcome`,
over arrays of ``B`` points; the single env calls them with ``B = 1`` and the vector env with all ``B`` sub-envs
in one array operation, so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import error, spaces
from gymnasium.utils import EzPickle
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from envs.base import (
    NO_TASK_OPTION,
    FixableTaskMixin,
    as_generator,
    can_render,
    check_actions,
    check_task_type,
    task_option,
)
from envs.vector_base import TaskVectorEnv, check_task_count

__all__ = [
    "FAMILY_SIDE_RANGE",
    "GOAL_RANGE",
    "Family",
    "GoalTask",
    "MetaNav2DEnv",
    "MetaNav2DFamilyEnv",
    "MetaNav2DFamilyVectorEnv",
    "MetaNav2DVectorEnv",
    "nav2d_dynamics",
    "nav2d_outcome",
    "render_nav2d_frame",
]

#: goals (and family crops) live in the square [GOAL_RANGE[0], GOAL_RANGE[1]]^2
GOAL_RANGE: tuple[float, float] = (-0.5, 0.5)
#: MALTML family crops: each side length ~ U[FAMILY_SIDE_RANGE] (of the square's side length 1.0)
FAMILY_SIDE_RANGE: tuple[float, float] = (0.25, 0.75)
#: slack for floating-point round-off when checking a family's sides
_FAMILY_TOL = 1e-9
#: the rendered view spans [-_VIEW_HALF_WIDTH, _VIEW_HALF_WIDTH]^2 in world units
_VIEW_HALF_WIDTH = 0.6


def _number_pair(value: Any, owner: str) -> tuple[float, float]:
    """``value`` as a pair of finite Python floats, or a ``TypeError`` / ``ValueError`` naming ``owner``."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{owner} must be a pair of numbers, got {type(value).__name__}: {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{owner} must be a pair of numbers, got {type(value).__name__}: {value!r}") from None
    if len(items) != 2:
        raise ValueError(f"{owner} must have 2 entries (x, y), got {len(items)}: {value!r}")
    try:
        pair = (float(items[0]), float(items[1]))
    except (TypeError, ValueError):
        raise TypeError(f"{owner} must be a pair of numbers, got {value!r}") from None
    if not all(np.isfinite(pair)):
        raise ValueError(f"{owner} must be finite, got {pair}")
    return pair


@dataclass(frozen=True)
class GoalTask:
    """A 2D navigation task: the goal position ``(x, y)`` the point must reach."""

    goal: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "goal", _number_pair(self.goal, "GoalTask.goal"))

    def describe(self) -> str:
        """A caption for rendered frames (see :func:`envs.base.describe_task`)."""
        return f"goal ({self.goal[0]:.2f}, {self.goal[1]:.2f})"


@dataclass(frozen=True)
class Family:
    """A MALTML task family: the axis-aligned crop ``[low[0], high[0]] x [low[1], high[1]]`` of the goal square.

    Tasks of the family are goals drawn uniformly inside the crop.
    """

    low: tuple[float, float]
    high: tuple[float, float]

    def __post_init__(self) -> None:
        low = _number_pair(self.low, "Family.low")
        high = _number_pair(self.high, "Family.high")
        if not (low[0] < high[0] and low[1] < high[1]):
            raise ValueError(
                f"Family.low must be < Family.high in both coordinates, got low={low}, high={high}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def side_lengths(self) -> tuple[float, float]:
        """``(width, height)`` of the crop."""
        return (self.high[0] - self.low[0], self.high[1] - self.low[1])

    def contains(self, goal: tuple[float, float] | NDArray[np.floating]) -> bool:
        """Whether ``goal`` lies inside the crop (boundary included)."""
        x, y = _number_pair(goal, "goal")
        return self.low[0] <= x <= self.high[0] and self.low[1] <= y <= self.high[1]


# ---------------------------------------------------------------------------------------------------------------
# The maths, once, over arrays of B points (single env: B = 1)
# ---------------------------------------------------------------------------------------------------------------
def nav2d_dynamics(
    state: NDArray[np.float64], action: NDArray[np.float64], max_step: float
) -> NDArray[np.float64]:
    """Point dynamics ``s' = s + clip(a, -max_step, max_step)`` for ``state``/``action`` of shape ``(B, 2)``."""
    return state + np.minimum(np.maximum(action, -max_step), max_step)


def nav2d_outcome(
    state: NDArray[np.float64], goal: NDArray[np.float64], goal_tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    """Reward, termination and distance of the points ``state`` (``(B, 2)``) with goals ``goal`` (``(B, 2)``).

    ``reward = -||s' - goal||_2`` (the plain distance, as in the original MAML code) and
    ``terminated = |dx| < goal_tolerance and |dy| < goal_tolerance``.  Returns ``(reward, terminated, distance)``.
    """
    dx = state[:, 0] - goal[:, 0]
    dy = state[:, 1] - goal[:, 1]
    distance = np.sqrt(dx * dx + dy * dy)
    terminated = (np.abs(dx) < goal_tolerance) & (np.abs(dy) < goal_tolerance)
    return -distance, terminated, distance


def _sample_goals(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` goals ~ U[-0.5, 0.5]^2, shape ``(n, 2)``."""
    return rng.uniform(GOAL_RANGE[0], GOAL_RANGE[1], size=(n, 2))


def _sample_crops(n: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` MALTML crops ``(low, high)``: sides ~ U[0.25, 0.75], position uniform such that the crop fits."""
    sides = rng.uniform(FAMILY_SIDE_RANGE[0], FAMILY_SIDE_RANGE[1], size=(n, 2))
    span = GOAL_RANGE[1] - GOAL_RANGE[0]
    low = GOAL_RANGE[0] + rng.uniform(0.0, 1.0, size=(n, 2)) * (span - sides)
    high = np.minimum(low + sides, GOAL_RANGE[1])
    return low, high


def _goals_in(
    low: NDArray[np.float64], high: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """One goal uniform in each crop ``[low_i, high_i]`` (arrays of shape ``(n, 2)``)."""
    return low + rng.uniform(0.0, 1.0, size=low.shape) * (high - low)


def _goal_array(tasks: list[GoalTask]) -> NDArray[np.float64]:
    return np.array([task.goal for task in tasks], dtype=np.float64).reshape(len(tasks), 2)


def render_nav2d_frame(
    trail: NDArray[np.floating], goal: tuple[float, float] | NDArray[np.floating], *, width: int, height: int
) -> NDArray[np.uint8]:
    """Draw the goal square, the goal (green), the path since reset (blue) and the point (red).

    ``trail`` is the ``(T, 2)`` sequence of positions since reset (the last one is the current point).  Returns a
    ``(height, width, 3)`` uint8 image; the view spans ``[-0.6, 0.6]^2`` with ``y`` pointing up.
    """
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    scale = min(width, height) / (2.0 * _VIEW_HALF_WIDTH)

    def to_pixels(points: NDArray[np.floating]) -> NDArray[np.float64]:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.stack([width / 2.0 + points[:, 0] * scale, height / 2.0 - points[:, 1] * scale], axis=1)

    radius = max(2, round(min(width, height) / 64))
    thickness = max(0, round(min(width, height) / 256))
    lo, hi = GOAL_RANGE
    square = to_pixels(np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi], [lo, lo]]))
    _draw_polyline(frame, square, (150, 150, 150), thickness)
    _draw_disc(frame, to_pixels(np.asarray(goal))[0], radius + 1, (0, 170, 0))
    pixels = to_pixels(trail)
    if len(pixels) > 1:
        _draw_polyline(frame, pixels, (40, 90, 220), thickness)
    _draw_disc(frame, pixels[-1], radius, (220, 40, 40))
    return frame


def _draw_polyline(
    frame: NDArray[np.uint8], points: NDArray[np.float64], color: tuple[int, int, int], thickness: int
) -> None:
    """Draw the segments between consecutive pixel-space ``points`` (``(T, 2)`` as (col, row))."""
    p0, p1 = points[:-1], points[1:]
    # sample every segment at <= 0.5 px spacing, all segments in one array
    counts = np.ceil(np.linalg.norm(p1 - p0, axis=1) * 2.0).astype(np.int64) + 2
    counts = np.minimum(counts, 20_000)  # a point far outside the view must not allocate without bound
    segment = np.repeat(np.arange(len(p0)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    t = offsets / np.repeat(counts - 1, counts)
    samples = p0[segment] + t[:, None] * (p1 - p0)[segment]
    cols = np.rint(samples[:, 0]).astype(np.int64)
    rows = np.rint(samples[:, 1]).astype(np.int64)
    height, width = frame.shape[:2]
    for dr in range(-thickness, thickness + 1):
        for dc in range(-thickness, thickness + 1):
            r, c = rows + dr, cols + dc
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            frame[r[inside], c[inside]] = color


def _draw_disc(
    frame: NDArray[np.uint8], center: NDArray[np.float64], radius: int, color: tuple[int, int, int]
) -> None:
    """Fill the disc of ``radius`` pixels around ``center`` (col, row), clipped to the frame."""
    height, width = frame.shape[:2]
    c0, r0 = center
    rows = np.arange(max(0, int(np.floor(r0 - radius))), min(height, int(np.ceil(r0 + radius)) + 1))
    cols = np.arange(max(0, int(np.floor(c0 - radius))), min(width, int(np.ceil(c0 + radius)) + 1))
    if rows.size == 0 or cols.size == 0:
        return
    inside = (rows[:, None] - r0) ** 2 + (cols[None, :] - c0) ** 2 <= radius**2
    block = frame[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    block[inside] = color


def _check_positive(name: str, value: Any, env_id: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number for {env_id}, got {type(value).__name__}: {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 for {env_id}, got {value}")
    return float(value)


def _check_image_size(width: Any, height: Any, env_id: str) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int for {env_id}, got {type(value).__name__}: {value!r}")
        if value < 16:
            raise ValueError(f"{name} must be >= 16 pixels for {env_id}, got {value}")
    return int(width), int(height)


# ---------------------------------------------------------------------------------------------------------------
# Task distributions (shared by the single and the vector env)
# ---------------------------------------------------------------------------------------------------------------
class _Nav2DTasks:
    """The ``MetaNav2D-v0`` task distribution: goals ~ U[-0.5, 0.5]^2."""

    env_id: ClassVar[str] = "MetaNav2D-v0"
    np_random: np.random.Generator

    @property
    def task_space(self) -> spaces.Box:
        """The support of ``task_vector``: the goal square ``[-0.5, 0.5]^2``."""
        return spaces.Box(GOAL_RANGE[0], GOAL_RANGE[1], shape=(2,), dtype=np.float32)

    def validate_task(self, task: Any) -> GoalTask:
        """Return ``task`` if it is a :class:`GoalTask` with its goal in ``[-0.5, 0.5]^2``.

        Raises ``TypeError`` for another type and ``ValueError`` naming the goal when it is outside the square.
        """
        check_task_type(task, GoalTask, self.env_id)
        lo, hi = GOAL_RANGE
        if not all(lo <= g <= hi for g in task.goal):
            raise ValueError(f"goal {task.goal} is outside [{lo}, {hi}]^2 for {self.env_id}")
        return task

    def task_vector(self, task: GoalTask) -> NDArray[np.float32]:
        """The goal ``(x, y)`` as a float32 array of shape ``(2,)``."""
        return np.asarray(self.validate_task(task).goal, dtype=np.float32)

    def sample_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[GoalTask]:
        """Draw ``n`` goals ~ U[-0.5, 0.5]^2 with ``rng`` (Generator, int seed, or ``None`` for ``np_random``)."""
        return self._sample_tasks(check_task_count(n), as_generator(rng, self.np_random))

    def _sample_tasks(self, n: int, rng: np.random.Generator) -> list[GoalTask]:
        return [GoalTask(goal=(float(x), float(y))) for x, y in _sample_goals(n, rng)]


class _Nav2DFamilyTasks(_Nav2DTasks):
    """The ``MetaNav2DFamily-v0`` task distribution: MALTML families (crops) and goals inside them."""

    env_id: ClassVar[str] = "MetaNav2DFamily-v0"

    def validate_family(self, family: Any) -> Family:
        """Return ``family`` if it is a :class:`Family` crop inside the goal square with sides in [0.25, 0.75]."""
        if not isinstance(family, Family):
            raise TypeError(
                f"family must be a Family for {self.env_id}, got {type(family).__name__}: {family!r}"
            )
        lo, hi = GOAL_RANGE
        if not all(lo <= v <= hi for v in (*family.low, *family.high)):
            raise ValueError(
                f"family crop low={family.low}, high={family.high} is not inside [{lo}, {hi}]^2 for {self.env_id}"
            )
        side_lo, side_hi = FAMILY_SIDE_RANGE
        sides = family.side_lengths
        if not all(side_lo - _FAMILY_TOL <= s <= side_hi + _FAMILY_TOL for s in sides):
            raise ValueError(
                f"family side lengths {sides} are outside [{side_lo}, {side_hi}] for {self.env_id}"
            )
        return family

    def sample_families(self, n: int, rng: np.random.Generator | int | None = None) -> list[Family]:
        """Draw ``n`` families: each side length ~ U[0.25, 0.75], position uniform so the crop fits the square."""
        low, high = _sample_crops(check_task_count(n), as_generator(rng, self.np_random))
        return [
            Family(low=(float(a), float(b)), high=(float(c), float(d))) for (a, b), (c, d) in zip(low, high)
        ]

    def sample_tasks(
        self, n: int, rng: np.random.Generator | int | None = None, family: Family | None = None
    ) -> list[GoalTask]:
        """Draw ``n`` goals uniform inside ``family``'s crop; without a family, one fresh family per goal."""
        n = check_task_count(n)
        generator = as_generator(rng, self.np_random)
        if family is None:
            return self._sample_tasks(n, generator)
        family = self.validate_family(family)
        low = np.broadcast_to(np.asarray(family.low), (n, 2))
        high = np.broadcast_to(np.asarray(family.high), (n, 2))
        return [GoalTask(goal=(float(x), float(y))) for x, y in _goals_in(low, high, generator)]

    def _sample_tasks(self, n: int, rng: np.random.Generator) -> list[GoalTask]:
        low, high = _sample_crops(n, rng)
        return [GoalTask(goal=(float(x), float(y))) for x, y in _goals_in(low, high, rng)]


# ---------------------------------------------------------------------------------------------------------------
# Single envs
# ---------------------------------------------------------------------------------------------------------------
class MetaNav2DEnv(FixableTaskMixin, _Nav2DTasks, gym.Env[NDArray[np.float32], NDArray[np.float32]], EzPickle):
    """2D point navigation to a goal drawn from the unit square (``MetaNav2D-v0``).

    ## Description
    The 2D navigation task of MAML (Finn et al. 2017, section 5.3; the original code's ``2DNavigation-v0``).
    A point starts at the origin and moves by its (clipped) action every step; the task is the goal position.
    A plain ``gymnasium.make("MetaNav2D-v0")`` is the task distribution: each ``reset()`` draws a new goal with
    ``np_random`` unless a task is fixed by ``set_task(t)``, ``env.task = t``, ``reset(options={"task": t})`` or
    the ``task=`` kwarg; a fixed task stays until changed, and ``set_task(None)`` / ``reset(options={"task": None})``
    go back to drawing (see :mod:`envs.base`).  Other reset option keys raise ``ValueError``.

    ## Action Space
    ``Box(-0.1, 0.1, (2,), float32)``: the displacement ``(dx, dy)``.  Actions outside the box are clipped to
    ``[-max_step, max_step]`` (as the original code does); actions must have shape ``(2,)`` and be finite
    (``ValueError`` otherwise).

    ## Observation Space
    ``Box(-inf, inf, (2,), float32)``: the position ``s = (x, y)``.  The goal is not observed (use
    :class:`envs.wrappers.TaskInObservation` for an oracle).

    ## Rewards
    ``reward = -||s' - goal||_2``, the plain Euclidean distance after the move (the paper's text says "squared
    distance", but its numbers come from the plain distance).  ``info["reward_dist"]`` holds the same value and
    ``info["distance"] = ||s' - goal||_2``.

    ## Starting State
    ``s_0 = (0, 0)``, deterministic.  When no task is fixed, ``reset`` first draws the episode's goal from the task
    distribution with ``np_random`` (so ``reset(seed=s)`` makes the sequence of goals reproducible).

    ## Episode End
    - Termination: ``|x' - goal_x| < goal_tolerance`` and ``|y' - goal_y| < goal_tolerance`` (0.01).
    - Truncation: after 100 steps, by ``max_episode_steps`` at registration (the env itself never truncates).

    ## Task distribution
    ``GoalTask(goal=(x, y))`` with ``(x, y) ~ U[-0.5, 0.5]^2``; ``sample_tasks(n, rng)``; ``task_vector`` is the
    goal as float32.  A goal outside the square raises ``ValueError``, another task type ``TypeError``.

    ## Arguments
    - ``task`` (GoalTask | None, default ``None``): a fixed task; ``None`` draws one per reset (pickling keeps a
      fixed task).
    - ``max_step`` (float, default ``0.1``): the action bound, ``|a_i|`` is clipped to it.
    - ``goal_tolerance`` (float, default ``0.01``): per-coordinate distance at which the episode terminates.
    - ``render_mode`` (``"rgb_array"`` | None): ``render()`` draws the square, goal, path and point.
    - ``width``, ``height`` (int, default ``256``): frame size in pixels.

    ## Version History
    - v0: initial version (dynamics, reward and termination of the original MAML ``2DNavigation-v0``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: GoalTask | None = None,
        max_step: float = 0.1,
        goal_tolerance: float = 0.01,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
    ) -> None:
        EzPickle.__init__(
            self,
            task=task,
            max_step=max_step,
            goal_tolerance=goal_tolerance,
            render_mode=render_mode,
            width=width,
            height=height,
        )
        self._max_step = _check_positive("max_step", max_step, self.env_id)
        self._goal_tolerance = _check_positive("goal_tolerance", goal_tolerance, self.env_id)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']} for {self.env_id}, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._width, self._height = _check_image_size(width, height, self.env_id)
        self.action_space = spaces.Box(-self._max_step, self._max_step, shape=(2,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self._task: GoalTask | None = None
        self._task_fixed = False
        self._goal = np.zeros((1, 2), dtype=np.float64)
        self._state = np.zeros((1, 2), dtype=np.float64)
        self._trail: list[NDArray[np.float64]] = []
        self._needs_reset = True
        if task is not None:
            self.set_task(task)

    def _install_task(self, task: GoalTask) -> None:
        self._task = task
        self._goal = _goal_array([task])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Put the point at the origin.  ``options={"task": t}`` fixes ``t`` first (``None``: back to drawing);
        with no task fixed, the episode's goal is drawn with ``np_random``."""
        task = task_option(options, self.env_id)
        super().reset(seed=seed)
        if task is not NO_TASK_OPTION:
            self.set_task(task)
        if not self._task_fixed:
            self._install_task(self._sample_tasks(1, self.np_random)[0])
        self._state = np.zeros((1, 2), dtype=np.float64)
        self._trail = [self._state[0].copy()]
        self._needs_reset = False
        _, _, distance = nav2d_outcome(self._state, self._goal, self._goal_tolerance)
        return self._state[0].astype(np.float32), {"distance": float(distance[0])}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Move by ``clip(action, -max_step, max_step)``; reward ``-||s' - goal||_2``."""
        if self._needs_reset:
            raise error.ResetNeeded(f"Cannot call {self.env_id} step() before reset()")
        action = check_actions(action, (2,), self.env_id)
        self._state = nav2d_dynamics(self._state, action[None, :], self._max_step)
        reward, terminated, distance = nav2d_outcome(self._state, self._goal, self._goal_tolerance)
        self._trail.append(self._state[0].copy())
        info = {"distance": float(distance[0]), "reward_dist": float(reward[0])}
        return self._state[0].astype(np.float32), float(reward[0]), bool(terminated[0]), False, info

    def render(self) -> NDArray[np.uint8] | None:
        """An ``(height, width, 3)`` uint8 frame of the square, goal, path since reset and point."""
        if not can_render(self):
            return None
        return render_nav2d_frame(
            np.asarray(self._trail), self._goal[0], width=self._width, height=self._height
        )


class MetaNav2DFamilyEnv(_Nav2DFamilyTasks, MetaNav2DEnv):
    """2D point navigation with MALTML task families (``MetaNav2DFamily-v0``).

    ## Description
    The point-navigation env of :class:`MetaNav2DEnv` with the task *families* of MALTML (Devos & Dandi, the
    RL experiment): a family is an axis-aligned crop of the goal square, and its tasks are goals uniform inside
    the crop.  ``sample_families(n, rng)`` draws families; ``sample_tasks(n, rng, family=f)`` draws goals of
    family ``f``; ``sample_tasks(n, rng)`` without a family draws a fresh family for every goal.

    ## Action Space
    ``Box(-0.1, 0.1, (2,), float32)``, clipped to ``[-max_step, max_step]`` as in :class:`MetaNav2DEnv`.

    ## Observation Space
    ``Box(-inf, inf, (2,), float32)``: the position ``(x, y)``.

    ## Rewards
    ``reward = -||s' - goal||_2`` (``info["reward_dist"]``, ``info["distance"]``), as in :class:`MetaNav2DEnv`.

    ## Starting State
    ``s_0 = (0, 0)``.  With no task fixed, each ``reset`` draws a family and a goal in it with ``np_random``.

    ## Episode End
    - Termination: ``|dx| < 0.01`` and ``|dy| < 0.01``.
    - Truncation: after 100 steps (registration).

    ## Task distribution
    ``Family(low=(x0, y0), high=(x1, y1))`` with side lengths ``x1 - x0, y1 - y0 ~ U[0.25, 0.75]`` independently
    and ``x0 ~ U[-0.5, 0.5 - (x1 - x0)]`` (likewise ``y0``), so the crop lies inside ``[-0.5, 0.5]^2``;
    ``GoalTask(goal)`` with ``goal ~ U[crop]``.  Tasks outside the square raise ``ValueError``.

    ## Arguments
    Same as :class:`MetaNav2DEnv`: ``task``, ``max_step``, ``goal_tolerance``, ``render_mode``, ``width``,
    ``height``.

    ## Version History
    - v0: initial version.
    """


# ---------------------------------------------------------------------------------------------------------------
# Vector envs
# ---------------------------------------------------------------------------------------------------------------
class MetaNav2DVectorEnv(_Nav2DTasks, TaskVectorEnv):
    """``B`` copies of :class:`MetaNav2DEnv` stepped in one numpy operation (``make_vec("MetaNav2D-v0")``).

    ## Description
    All ``B`` points live in one ``(B, 2)`` float64 array and move with :func:`nav2d_dynamics` /
    :func:`nav2d_outcome`, the same functions the single env uses, so sub-env ``i`` reproduces the single env with
    the same task, seed ``seed + i`` and actions.  Each sub-env has its own task.

    ## Action Space
    ``Box(-0.1, 0.1, (B, 2), float32)``; actions are clipped; shape ``(B, 2)`` and finite values are required.

    ## Observation Space
    ``Box(-inf, inf, (B, 2), float32)``: the positions.

    ## Rewards
    ``reward_i = -||s'_i - goal_i||_2`` (``info["reward_dist"]``, ``info["distance"]``); ``0.0`` for a sub-env
    whose episode has ended.

    ## Starting State
    ``s_0 = (0, 0)`` for every reset sub-env; see :class:`envs.vector_base.TaskVectorEnv` for seeds, per-env
    tasks (``options={"tasks": [...]}``, ``set_attr("task", [...])``) and ``reset_mask``.

    ## Episode End
    - Termination: ``|dx_i| < 0.01`` and ``|dy_i| < 0.01``.
    - Truncation: ``max_episode_steps`` steps after the sub-env's reset (``make_vec`` passes 100).
    - Autoreset ``NEXT_STEP`` (default): the step after a sub-env finished resets it (reward 0, flags ``False``),
      as Gymnasium's ``SyncVectorEnv``; ``DISABLED``: a finished sub-env stays frozen (reward 0, flags ``True``)
      until it is reset (the MAML samplers' form).

    ## Arguments
    - ``num_envs`` (int, default ``1``): number of sub-envs ``B``.
    - ``tasks`` (sequence of GoalTask | None): per-env initial tasks; ``task`` (GoalTask | None): one for all.
    - ``max_episode_steps`` (int | None, default ``None``): truncation horizon (``make_vec`` passes 100).
    - ``autoreset_mode`` (``AutoresetMode``, default ``NEXT_STEP``): ``NEXT_STEP`` or ``DISABLED``.
    - ``max_step``, ``goal_tolerance``, ``render_mode``, ``width``, ``height``: as :class:`MetaNav2DEnv`.

    ## Version History
    - v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        tasks: list[GoalTask] | tuple[GoalTask, ...] | None = None,
        task: GoalTask | None = None,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_step: float = 0.1,
        goal_tolerance: float = 0.01,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
    ) -> None:
        self._max_step = _check_positive("max_step", max_step, self.env_id)
        self._goal_tolerance = _check_positive("goal_tolerance", goal_tolerance, self.env_id)
        self._width, self._height = _check_image_size(width, height, self.env_id)
        super().__init__(
            num_envs,
            spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32),
            spaces.Box(-self._max_step, self._max_step, shape=(2,), dtype=np.float32),
            max_episode_steps=max_episode_steps,
            render_mode=render_mode,
            autoreset_mode=autoreset_mode,
        )
        self._goals = np.zeros((self.num_envs, 2), dtype=np.float64)
        self._state = np.zeros((self.num_envs, 2), dtype=np.float64)
        # rendering only: positions after every reset/step, and where each sub-env's episode starts in it
        self._history: list[NDArray[np.float64]] = []
        self._history_start = np.zeros(self.num_envs, dtype=np.int64)
        if tasks is not None and task is not None:
            raise ValueError(f"pass either tasks= or task= to {type(self).__name__}, not both")
        if tasks is not None:
            self.set_tasks(tasks)
        elif task is not None:
            self.set_task(task)

    def _on_tasks_changed(self, indices: NDArray[np.intp]) -> None:
        self._goals[indices] = _goal_array([self._tasks[i] for i in indices])

    def _reset_envs(self, indices: NDArray[np.intp]) -> tuple[NDArray[np.float32], dict[str, NDArray[Any]]]:
        self._state[indices] = 0.0
        if self.render_mode is not None:
            if len(indices) == self.num_envs:
                self._history = []
            self._history.append(self._state.copy())
            self._history_start[indices] = len(self._history) - 1
        _, _, distance = nav2d_outcome(self._state[indices], self._goals[indices], self._goal_tolerance)
        return self._state[indices].astype(np.float32), {"distance": distance}

    def _step_envs(
        self, actions: NDArray[np.float64], active: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_], dict[str, NDArray[Any]]]:
        state = nav2d_dynamics(self._state, actions, self._max_step)
        if not active.all():
            state = np.where(active[:, None], state, self._state)
        self._state = state
        reward, terminated, distance = nav2d_outcome(state, self._goals, self._goal_tolerance)
        if self.render_mode is not None:
            self._history.append(state.copy())
        return (
            state.astype(np.float32),
            reward,
            terminated,
            {"distance": distance, "reward_dist": reward.copy()},
        )

    def _render_env(self, index: int) -> NDArray[np.uint8]:
        trail = np.array([positions[index] for positions in self._history[self._history_start[index] :]])
        return render_nav2d_frame(trail, self._goals[index], width=self._width, height=self._height)


class MetaNav2DFamilyVectorEnv(_Nav2DFamilyTasks, MetaNav2DVectorEnv):
    """``B`` copies of :class:`MetaNav2DFamilyEnv` in one numpy operation (``make_vec("MetaNav2DFamily-v0")``).

    ## Description
    :class:`MetaNav2DVectorEnv` with the MALTML family task distribution of :class:`MetaNav2DFamilyEnv`
    (``sample_families``, ``sample_tasks(n, rng, family=...)``).  A sub-env without a task draws a family and a
    goal in it with its own generator on reset, exactly like the single env.

    ## Action Space
    ``Box(-0.1, 0.1, (B, 2), float32)``, clipped.

    ## Observation Space
    ``Box(-inf, inf, (B, 2), float32)``.

    ## Rewards
    ``reward_i = -||s'_i - goal_i||_2``; ``0.0`` once sub-env ``i`` has finished.

    ## Starting State
    ``s_0 = (0, 0)``.

    ## Episode End
    Termination ``|dx_i| < 0.01`` and ``|dy_i| < 0.01``; truncation after ``max_episode_steps`` (100 via
    ``make_vec``); autoreset as :class:`MetaNav2DVectorEnv`.

    ## Arguments
    Same as :class:`MetaNav2DVectorEnv`.

    ## Version History
    - v0: initial version.
    """
