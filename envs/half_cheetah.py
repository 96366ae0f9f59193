"""HalfCheetah goal-velocity and goal-direction task distributions (MAML paper, Finn et al. 2017, section 5.3).

``MetaCheetahVel-v0`` / ``MetaCheetahDir-v0`` and their batched forms ``MetaCheetahVelVectorEnv`` /
``MetaCheetahDirVectorEnv`` (returned by ``gymnasium.make_vec``).  The robot is Gymnasium's HalfCheetah v5
(``half_cheetah.xml``, ``frame_skip=5``, v5 reset noise and observation); the rewards follow the MAML paper's
rllab environments (``half_cheetah_env_rand.py`` / ``half_cheetah_env_rand_direc.py``, App. A.2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from envs.mujoco_batch import DirectionTask, LocomotionMDP, VelocityTask, check_bools
from envs.mujoco_tasks import RobotTaskFamilyEnv, RobotTaskFamilyVectorEnv

__all__ = [
    "DirectionTask",
    "HalfCheetahMDP",
    "MetaCheetahDirEnv",
    "MetaCheetahDirVectorEnv",
    "MetaCheetahVelEnv",
    "MetaCheetahVelVectorEnv",
    "VelocityTask",
]

#: goal velocities of MetaCheetahVel-v0 are drawn from U[0, 2] m/s (MAML paper, section 5.3)
CHEETAH_VELOCITY_RANGE: tuple[float, float] = (0.0, 2.0)
#: 0.5 * 0.1 in rllab's half_cheetah_env_rand(_direc).py
CHEETAH_CTRL_COST_WEIGHT = 0.05


class HalfCheetahMDP(LocomotionMDP):
    """HalfCheetah observation/reward/termination over batches (see :class:`MetaCheetahVelEnv`)."""

    reward_terms = ("reward_forward", "reward_ctrl")

    def __init__(
        self,
        *,
        velocity_task: bool,
        xml_file: str = "half_cheetah.xml",
        frame_skip: int = 5,
        ctrl_cost_weight: float = CHEETAH_CTRL_COST_WEIGHT,
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
    ) -> None:
        check_bools(exclude_current_positions_from_observation=exclude_current_positions_from_observation)
        super().__init__(
            xml_file=xml_file,
            frame_skip=frame_skip,
            velocity_task=velocity_task,
            forward_bonus=0.0,
            ctrl_cost_weight=ctrl_cost_weight,
            contact_cost_weight=0.0,
            contact_force_range=(-1.0, 1.0),
            survive_reward=0.0,
            reset_noise_scale=reset_noise_scale,
            contact_forces=False,
        )
        self._skip = 1 if exclude_current_positions_from_observation else 0

    def observation(self, qpos: np.ndarray, qvel: np.ndarray, contact_forces: np.ndarray) -> np.ndarray:
        """``[qpos[skip:], qvel]`` per row (Gymnasium HalfCheetah v5)."""
        return np.concatenate((qpos[:, self._skip :], qvel), axis=1)

    def terminated(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The HalfCheetah never terminates."""
        return np.zeros(qpos.shape[0], dtype=bool)


class _MetaHalfCheetahEnv(RobotTaskFamilyEnv):
    """The single HalfCheetah task envs: :class:`HalfCheetahMDP` with the MAML paper's goal-velocity range."""

    mdp_type = HalfCheetahMDP
    velocity_range = CHEETAH_VELOCITY_RANGE


class MetaCheetahVelEnv(_MetaHalfCheetahEnv):
    r"""HalfCheetah that must run at a goal velocity drawn per task: ``MetaCheetahVel-v0``.

    ## Description
    The planar HalfCheetah of Gymnasium v5 (9 links, 6 actuated hinges).  Each task is a goal forward velocity
    ``v_goal ~ U[0, 2]`` m/s (``VelocityTask(velocity)``); the agent must infer it from rewards and run at that
    speed (MAML paper, section 5.3, "goal velocity").

    ## Action Space
    ``Box(-1, 1, (6,), float32)``: torques of the ``bthigh bshin bfoot fthigh fshin ffoot`` motors.  A finite action
    outside the box is clipped to it (the torque MuJoCo applies anyway) and the control cost uses the clipped
    action, as the paper's rllab code did (Gymnasium v5 costs the unclipped action); a wrong shape or a NaN/inf
    raises ``ValueError``.

    ## Observation Space
    ``Box(-inf, inf, (17,), float64)`` as Gymnasium HalfCheetah v5: ``qpos[1:]`` (8: root z, root angle, 6 joint
    angles) then ``qvel`` (9: root x/z velocity, root angular velocity, 6 joint velocities).  The root x is
    excluded (``exclude_current_positions_from_observation=False`` puts it first, 18 values) and is reported in
    ``info["x_position"]``.  The task is not observed
    (``envs.wrappers.TaskInObservation`` appends it).

    ## Rewards
    ``reward = reward_forward + reward_ctrl``, where
    - ``reward_forward = -|v - v_goal|`` with ``v = (x_after - x_before) / dt`` the root (torso) x velocity over
      the step and ``dt = frame_skip * 0.01 = 0.05`` s;
    - ``reward_ctrl = -w_ctrl * sum_j a_j^2`` with ``w_ctrl = ctrl_cost_weight = 0.05`` and ``a`` the (clipped)
      action.

    ``info`` holds ``reward_forward``, ``reward_ctrl``, ``x_position`` (after the step) and ``x_velocity`` (``v``).

    ## Starting State
    As Gymnasium v5: ``qpos = qpos0 + U[-s, s]^9``, then ``qvel = N(0, s^2 I_9)``, ``s = reset_noise_scale``,
    drawn in this order from ``np_random``.  With no task fixed, the episode's task is drawn from ``np_random``
    first (so ``reset(seed=s)`` reproduces tasks and start states); a fixed task is kept until changed.

    ## Episode End
    - Termination: never.
    - Truncation: after 200 steps, by the TimeLimit that ``max_episode_steps`` at registration adds (MAML paper
      App. A.2 horizon); the env itself never truncates.

    ## Arguments
    | Parameter | Type | Default | Description |
    |---|---|---|---|
    | ``task`` | VelocityTask \| None | None | a fixed task; ``None``: draw one per reset (``VelocityTask(1.0)``, the centre of [0, 2], until the first reset) |
    | ``xml_file`` | str | ``"half_cheetah.xml"`` | MuJoCo model (bare names are Gymnasium's assets) |
    | ``frame_skip`` | int | 5 | physics steps of 0.01 s per env step (Gymnasium v5: 5; the original MAML code ran 1: rllab's ``half_cheetah.xml`` sets no frame skip, so its 200 steps span 2 s) |
    | ``ctrl_cost_weight`` | float | 0.05 | ``w_ctrl`` |
    | ``reset_noise_scale`` | float | 0.1 | ``s`` (Starting State) |
    | ``exclude_current_positions_from_observation`` | bool | True | drop the root x from the observation |
    | ``render_mode`` | str \| None | None | ``"rgb_array"`` renders headless (``MUJOCO_GL=egl``) |
    | ``width``, ``height`` | int | 480 | frame size |
    | ``camera_name`` | str \| None | ``"track"`` | model camera following the torso (``None``: free camera) |
    | ``default_camera_config`` | dict \| None | None | free-camera settings (with ``camera_name=None``) |

    Task protocol (:mod:`envs.base`): a plain ``gymnasium.make`` env draws a new task at every reset; ``set_task(t)``,
    ``env.task = t`` or ``reset(options={"task": t})`` fix ``t`` until changed, ``set_task(None)`` /
    ``reset(options={"task": None})`` go back to drawing; other reset option keys raise ``ValueError``.
    ``sample_tasks(n, rng)``, ``task_vector(task)`` = ``[v_goal]``.  Out-of-support goals raise
    ``ValueError``, other task types ``TypeError``.  ``gymnasium.make_vec("MetaCheetahVel-v0", num_envs=B)``
    returns :class:`MetaCheetahVelVectorEnv`.

    ## Version History
    - v0: initial version (Gymnasium HalfCheetah v5 model and conventions; reward of the MAML paper).

    Source: Finn, Abbeel, Levine (2017), "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
    section 5.3 and App. A.2; rllab ``half_cheetah_env_rand.py`` in the paper's code (cbfinn/maml_rl).
    """

    env_id: ClassVar[str] = "MetaCheetahVel-v0"
    velocity_task = True


class MetaCheetahDirEnv(_MetaHalfCheetahEnv):
    r"""HalfCheetah that must run forward or backward, the direction drawn per task: ``MetaCheetahDir-v0``.

    ## Description
    The planar HalfCheetah of Gymnasium v5 (9 links, 6 actuated hinges).  Each task is a direction
    ``d in {-1, +1}``, each with probability 1/2 (``DirectionTask(direction)``); the agent must run as fast as
    possible along ``d`` (MAML paper, section 5.3, "goal direction").

    ## Action Space
    ``Box(-1, 1, (6,), float32)``, as :class:`MetaCheetahVelEnv`.

    ## Observation Space
    ``Box(-inf, inf, (17,), float64)``: ``qpos[1:]`` then ``qvel``, as :class:`MetaCheetahVelEnv`.

    ## Rewards
    ``reward = reward_forward + reward_ctrl``, where
    - ``reward_forward = d * v`` with ``v = (x_after - x_before) / dt`` the root (torso) x velocity over the step
      and ``dt = frame_skip * 0.01 = 0.05`` s;
    - ``reward_ctrl = -w_ctrl * sum_j a_j^2`` with ``w_ctrl = ctrl_cost_weight = 0.05``.

    ``info`` holds ``reward_forward``, ``reward_ctrl``, ``x_position`` (after the step) and ``x_velocity`` (``v``).

    ## Starting State
    As Gymnasium v5: ``qpos = qpos0 + U[-s, s]^9``, then ``qvel = N(0, s^2 I_9)``, ``s = reset_noise_scale``.

    ## Episode End
    - Termination: never.
    - Truncation: after 200 steps (registration ``max_episode_steps``); the env itself never truncates.

    ## Arguments
    As :class:`MetaCheetahVelEnv`, except ``task`` (DirectionTask | None, default ``None``: draw per reset, ``DirectionTask(+1)`` until the first reset).
    ``task_vector(task)`` = ``[d]``; a direction other than +-1 raises ``ValueError``.
    ``gymnasium.make_vec("MetaCheetahDir-v0", num_envs=B)`` returns :class:`MetaCheetahDirVectorEnv`.

    ## Version History
    - v0: initial version (Gymnasium HalfCheetah v5 model and conventions; reward of the MAML paper).

    Source: Finn, Abbeel, Levine (2017), section 5.3 and App. A.2; rllab ``half_cheetah_env_rand_direc.py`` in the
    paper's code (cbfinn/maml_rl).
    """

    env_id: ClassVar[str] = "MetaCheetahDir-v0"
    velocity_task = False


class _MetaHalfCheetahVectorEnv(RobotTaskFamilyVectorEnv):
    """The batched HalfCheetah task envs: :class:`HalfCheetahMDP` with the MAML paper's goal-velocity range."""

    mdp_type = HalfCheetahMDP
    velocity_range = CHEETAH_VELOCITY_RANGE


class MetaCheetahVelVectorEnv(_MetaHalfCheetahVectorEnv):
    r"""Batched ``MetaCheetahVel-v0``: ``num_envs`` HalfCheetahs, one ``MjData`` each over one ``MjModel``.

    ## Description
    Sub-env ``i`` is :class:`MetaCheetahVelEnv` with task ``tasks[i]``: the same model, start-state draws (sub-env
    ``i`` seeded with ``seed + i``), dynamics, observation, reward and termination code, so it returns exactly
    what the single env returns for the same actions.  ``gymnasium.make_vec("MetaCheetahVel-v0", num_envs=B)``
    builds it with ``max_episode_steps=200``.

    ## Action Space
    ``Box(-1, 1, (B, 6), float32)``; actions must have shape ``(B, 6)`` and be finite (``ValueError``).

    ## Observation Space
    ``Box(-inf, inf, (B, 17), float64)``, rows as :class:`MetaCheetahVelEnv`.

    ## Rewards
    Per sub-env, :class:`MetaCheetahVelEnv`'s ``-|v - v_goal| - 0.05 * sum(a^2)``; ``0.0`` once its episode has
    ended.  ``info`` holds the single env's keys as ``[B]`` arrays with Gymnasium's ``"_key"`` masks.

    ## Starting State
    Per sub-env, :class:`MetaCheetahVelEnv`'s, drawn from that sub-env's own generator.

    ## Episode End
    Truncation at ``max_episode_steps`` per sub-env.
    Autoreset (``autoreset_mode``): ``NEXT_STEP`` by default, as Gymnasium's ``SyncVectorEnv`` (the step after a
    sub-env finished resets it); ``DISABLED`` keeps a finished sub-env frozen (last observation, reward 0, done
    flags kept) until it is reset, as the MAML samplers ask (:class:`envs.vector_base.TaskVectorEnv`).

    ## Arguments
    ``num_envs`` (int); ``max_episode_steps`` (int | None, default None); ``tasks`` (one VelocityTask per sub-env)
    or ``task`` (one for all; default: each sub-env draws per reset); ``autoreset_mode`` (default ``NEXT_STEP``);
    ``num_threads`` (int, default 1: threads stepping
    the copies, results are identical for every value); and :class:`MetaCheetahVelEnv`'s keyword arguments except
    ``default_camera_config`` (``render_mode="rgb_array"``: ``render()`` returns one frame per sub-env).
    Per-env tasks: ``set_tasks([...])``, ``set_attr("task", [...])``, ``call("set_task", ...)``,
    ``reset(options={"tasks": [...]})``.

    ## Version History
    - v0: initial version.

    Source: Finn et al. (2017), section 5.3 and App. A.2.
    """

    env_id: ClassVar[str] = "MetaCheetahVel-v0"
    velocity_task = True


class MetaCheetahDirVectorEnv(_MetaHalfCheetahVectorEnv):
    r"""Batched ``MetaCheetahDir-v0``: ``num_envs`` HalfCheetahs, one ``MjData`` each over one ``MjModel``.

    ## Description
    Sub-env ``i`` is :class:`MetaCheetahDirEnv` with task ``tasks[i]`` and seed ``seed + i``; it returns exactly
    what the single env returns for the same actions.  ``gymnasium.make_vec("MetaCheetahDir-v0", num_envs=B)``
    builds it with ``max_episode_steps=200``.

    ## Action Space
    ``Box(-1, 1, (B, 6), float32)``; actions must have shape ``(B, 6)`` and be finite (``ValueError``).

    ## Observation Space
    ``Box(-inf, inf, (B, 17), float64)``, rows as :class:`MetaCheetahDirEnv`.

    ## Rewards
    Per sub-env, :class:`MetaCheetahDirEnv`'s ``d * v - 0.05 * sum(a^2)``; ``0.0`` once its episode has ended.

    ## Starting State
    Per sub-env, :class:`MetaCheetahDirEnv`'s, drawn from that sub-env's own generator.

    ## Episode End
    As :class:`MetaCheetahVelVectorEnv` (truncation and autoreset per sub-env).

    ## Arguments
    As :class:`MetaCheetahVelVectorEnv`, with DirectionTask tasks.

    ## Version History
    - v0: initial version.

    Source: Finn et al. (2017), section 5.3 and App. A.2.
    """

    env_id: ClassVar[str] = "MetaCheetahDir-v0"
    velocity_task = False
