"""The held-out tasks of the original MAML code's test scripts (cbfinn/maml_rl), whose result files hold the
per-step means the paper plots — an explicit task list for :func:`agents.evaluation.evaluate_adaptation`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from envs.mujoco_batch import DirectionTask, VelocityTask
from envs.nav2d import GoalTask

__all__ = ["ORIGINAL_TEST_DRAWS", "ORIGINAL_TEST_TASKS", "OriginalTestDraw", "original_test_tasks"]


class OriginalTestDraw(NamedTuple):
    """How an original test script drew its held-out goals: ``np.random.seed(seed)`` then
    ``np.random.uniform(low, high, size=(40, *shape))``, read as ``kind``: ``"goal"`` (2-D positions),
    ``"velocity"`` or ``"direction"`` (backward below the middle of ``[low, high]``)."""

    seed: int
    low: float
    high: float
    shape: tuple[int, ...]
    kind: str


#: The held-out goals of the original code's test scripts (cbfinn/maml_rl, ``maml_examples/test_maml_point.py``,
#: ``test_maml_cheetah.py``, ``test_maml_cheetah_direc.py``, ``test_maml_ant.py``, ``test_maml_ant_direc.py``),
#: whose result files hold the per-step means the paper plots.  The goal-direction envs draw a goal velocity and
#: run backward when it is below the middle of the range (rllab's ``HalfCheetahEnvRandDirec`` /
#: ``AntEnvRandDirec``: ``-1.0 if goal_vel < 1.0 else 1.0``, 1.5 for the ant).
ORIGINAL_TEST_DRAWS: dict[str, OriginalTestDraw] = {
    "MetaNav2D-v0": OriginalTestDraw(1, -0.5, 0.5, (2,), "goal"),
    "MetaCheetahVel-v0": OriginalTestDraw(1, 0.0, 2.0, (), "velocity"),
    "MetaCheetahDir-v0": OriginalTestDraw(1, 0.0, 2.0, (), "direction"),
    "MetaAntVel-v0": OriginalTestDraw(1, 0.0, 3.0, (), "velocity"),
    "MetaAntDir-v0": OriginalTestDraw(2, 0.0, 3.0, (), "direction"),
}
ORIGINAL_TEST_TASKS = 40
"""How many held-out tasks the original test scripts evaluate."""


def original_test_tasks(env_id: str, num_tasks: int = ORIGINAL_TEST_TASKS) -> list[Any]:
    """The first ``num_tasks`` of the original code's 40 held-out tasks of ``env_id`` (see
    :data:`ORIGINAL_TEST_DRAWS`), as this package's task objects.  numpy's legacy ``RandomState`` reproduces the
    scripts' ``np.random.seed`` draws exactly.

    :raises ValueError: for an env the original code did not test, or ``num_tasks`` outside 1..40.
    """
    draw = ORIGINAL_TEST_DRAWS.get(env_id)
    if draw is None:
        raise ValueError(f"env_id={env_id!r} has no original held-out tasks; those exist for {sorted(ORIGINAL_TEST_DRAWS)}")
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or not 1 <= num_tasks <= ORIGINAL_TEST_TASKS:
        raise ValueError(f"num_tasks must be an int in 1..{ORIGINAL_TEST_TASKS} for the original held-out tasks; "
                         f"got {num_tasks!r}")
    goals = np.random.RandomState(draw.seed).uniform(draw.low, draw.high, size=(ORIGINAL_TEST_TASKS, *draw.shape))
    goals = goals[:num_tasks]
    if draw.kind == "goal":
        return [GoalTask(goal=(float(x), float(y))) for x, y in goals]
    if draw.kind == "direction":
        middle = (draw.low + draw.high) / 2
        return [DirectionTask(-1 if goal < middle else 1) for goal in goals]
    return [VelocityTask(float(goal)) for goal in goals]
