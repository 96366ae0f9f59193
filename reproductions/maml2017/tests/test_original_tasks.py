"""The original code's held-out test tasks (reproductions.maml2017.original_tasks) and their use through the
evaluation's explicit task list (reproductions.maml2017.evaluate, ``task_set="original"``)."""

from __future__ import annotations

import numpy as np
import pytest

import metarl  # noqa: F401  (registers the env ids)
from agents.evaluation import EvaluationConfig, held_out_tasks
from envs.mujoco_batch import DirectionTask, VelocityTask
from envs.nav2d import GoalTask
from metarl.rl.sampler import PolicyRollouts
from reproductions.maml2017.original_tasks import ORIGINAL_TEST_DRAWS, original_test_tasks


def test_nav_goals_are_the_test_scripts_seed_1_draws():
    goals = original_test_tasks("MetaNav2D-v0")
    assert len(goals) == 40 and all(isinstance(g, GoalTask) for g in goals)
    # np.random.seed(1); np.random.uniform(-0.5, 0.5, (40, 2)): the first draws of MT19937 seeded with 1 are
    # 0.417022..., 0.720324..., 0.000114..., 0.302333...
    np.testing.assert_allclose(goals[0].goal, (0.417022004702574 - 0.5, 0.7203244934421581 - 0.5))
    np.testing.assert_allclose(goals[1].goal, (0.00011437481734488664 - 0.5, 0.30233257263183977 - 0.5))
    assert original_test_tasks("MetaNav2D-v0", 2) == goals[:2]  # fewer tasks: the first ones


def test_direction_tasks_threshold_the_goal_velocity_at_the_middle_of_its_range():
    cheetah = original_test_tasks("MetaCheetahDir-v0")
    velocities = np.random.RandomState(1).uniform(0.0, 2.0, 40)
    assert [t.direction for t in cheetah] == [-1 if v < 1.0 else 1 for v in velocities]
    assert all(isinstance(t, DirectionTask) for t in cheetah)
    assert sum(t.direction == 1 for t in cheetah) == 18  # 18 forward, 22 backward: not balanced
    ant = original_test_tasks("MetaAntDir-v0")  # the ant-direction script seeds 2 and splits at 1.5
    assert [t.direction for t in ant] == [-1 if v < 1.5 else 1 for v in np.random.RandomState(2).uniform(0, 3, 40)]


def test_velocity_tasks_are_the_draws_themselves():
    cheetah, ant = original_test_tasks("MetaCheetahVel-v0"), original_test_tasks("MetaAntVel-v0")
    assert all(isinstance(t, VelocityTask) for t in cheetah + ant)
    np.testing.assert_allclose([t.velocity for t in cheetah], np.random.RandomState(1).uniform(0.0, 2.0, 40))
    np.testing.assert_allclose([t.velocity for t in ant], np.random.RandomState(1).uniform(0.0, 3.0, 40))
    assert set(ORIGINAL_TEST_DRAWS) == {"MetaNav2D-v0", "MetaCheetahVel-v0", "MetaCheetahDir-v0", "MetaAntVel-v0",
                                        "MetaAntDir-v0"}


def test_bad_requests_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="MetaNav2DFamily-v0.*no original held-out tasks"):
        original_test_tasks("MetaNav2DFamily-v0")
    for bad in (0, 41, 2.0, True):
        with pytest.raises(ValueError, match="num_tasks must be an int in 1..40"):
            original_test_tasks("MetaNav2D-v0", bad)


def test_original_tasks_differ_from_the_seeds_draw():
    rollouts = PolicyRollouts("MetaNav2D-v0", 3, 1)
    try:
        sampled = held_out_tasks(rollouts, EvaluationConfig(num_tasks=3))
        reseeded = held_out_tasks(rollouts, EvaluationConfig(num_tasks=3, seed=7))
    finally:
        rollouts.close()
    original = original_test_tasks("MetaNav2D-v0", 3)
    assert sampled != original and reseeded != original and sampled != reseeded
