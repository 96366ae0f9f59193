"""One robot's two MAML task families (goal velocity, goal direction) as single and batched envs.

The MAML paper (Finn et al. 2017, section 5.3) gives every locomotion robot the same two task distributions: run
at a goal velocity ``v_goal ~ U[low, high]`` or run along a direction ``d in {-1, +1}``.  A robot module
(:mod:`envs.half_cheetah`, :mod:`envs.ant`) therefore only defines its :class:`~envs.mujoco_batch.LocomotionMDP`
subclass and its velocity range; :class:`RobotTaskFamilyEnv` and :class:`RobotTaskFamilyVectorEnv` build the
single and the batched env from them.

The robot's keyword arguments (``xml_file``, ``frame_skip``, cost weights, ...) are those of its MDP class, whose
signature holds their one set of defaults: the single and the batched env forward them unchanged, so sub-env ``i``
of the batched env and the single env given the same kwargs run the same MDP.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from gymnasium.envs.mujoco.mujoco_env import DEFAULT_SIZE
from gymnasium.utils import EzPickle
from gymnasium.vector import AutoresetMode

from envs.mujoco_batch import (
    DirectionTaskDistribution,
    LocomotionMDP,
    MetaLocomotionEnv,
    MetaLocomotionVectorEnv,
    TaskDistribution,
    VelocityTaskDistribution,
)

__all__ = ["RobotTaskFamily", "RobotTaskFamilyEnv", "RobotTaskFamilyVectorEnv"]


class RobotTaskFamily:
    """Which robot an env class simulates and which of its two task families it samples from.

    Robot modules set :attr:`mdp_type` and :attr:`velocity_range`; each concrete env sets :attr:`velocity_task`.
    """

    #: the robot's observation/reward/termination maths; its keyword arguments are the env's robot kwargs
    mdp_type: ClassVar[type[LocomotionMDP]]
    #: support ``(low, high)`` of the goal velocity of the velocity task family
    velocity_range: ClassVar[tuple[float, float]]
    #: ``True`` for the goal-velocity family, ``False`` for the goal-direction family
    velocity_task: ClassVar[bool]

    @classmethod
    def make_task_distribution(cls) -> TaskDistribution:
        """``v_goal ~ U[velocity_range]`` for the velocity family, ``d in {-1, +1}`` for the direction family."""
        if cls.velocity_task:
            return VelocityTaskDistribution(*cls.velocity_range)
        return DirectionTaskDistribution()

    @classmethod
    def make_mdp(cls, robot_kwargs: Mapping[str, Any]) -> LocomotionMDP:
        """The robot's MDP for this task family (``TypeError``/``ValueError`` on bad robot kwargs)."""
        return cls.mdp_type(velocity_task=cls.velocity_task, **robot_kwargs)

    @classmethod
    def robot_kwargs_with_defaults(cls, robot_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Every robot kwarg, in the order of :attr:`mdp_type`'s signature: ``robot_kwargs`` or its default."""
        parameters = inspect.signature(cls.mdp_type).parameters
        return {
            name: robot_kwargs.get(name, parameter.default)
            for name, parameter in parameters.items()
            if name != "velocity_task"
        }


class RobotTaskFamilyEnv(RobotTaskFamily, MetaLocomotionEnv, EzPickle):
    """Single env of one robot and task family; the robot kwargs go to :attr:`mdp_type` (see the subclass docs).

    ``EzPickle`` keeps every constructor kwarg, defaults included, so pickles and copies rebuild the same env (with
    the task current at the time of the copy).
    """

    def __init__(
        self,
        task: Any | None = None,
        *,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
        camera_name: str | None = "track",
        default_camera_config: dict[str, float | int] | None = None,
        **robot_kwargs: Any,
    ) -> None:
        mdp = self.make_mdp(robot_kwargs)
        render_kwargs: dict[str, Any] = {
            "render_mode": render_mode,
            "width": width,
            "height": height,
            "camera_name": camera_name,
            "default_camera_config": default_camera_config,
        }
        EzPickle.__init__(self, task=task, **self.robot_kwargs_with_defaults(robot_kwargs), **render_kwargs)
        MetaLocomotionEnv.__init__(self, mdp, self.make_task_distribution(), task, **render_kwargs)


class RobotTaskFamilyVectorEnv(RobotTaskFamily, MetaLocomotionVectorEnv):
    """Batched env of one robot and task family; the robot kwargs go to :attr:`mdp_type` (see the subclass docs)."""

    def __init__(
        self,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        tasks: Sequence[Any] | None = None,
        task: Any | None = None,
        num_threads: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
        camera_name: str | None = "track",
        **robot_kwargs: Any,
    ) -> None:
        super().__init__(
            num_envs,
            self.make_mdp(robot_kwargs),
            self.make_task_distribution(),
            max_episode_steps=max_episode_steps,
            render_mode=render_mode,
            tasks=tasks,
            task=task,
            width=width,
            height=height,
            camera_name=camera_name,
            num_threads=num_threads,
            autoreset_mode=autoreset_mode,
        )
