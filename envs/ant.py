"""Ant goal-velocity and goal-direction task distributions (MAML paper, Finn et al. 2017, section 5.3).

``MetaAntVel-v0`` / ``MetaAntDir-v0`` and their batched forms ``MetaAntVelVectorEnv`` / ``MetaAntDirVectorEnv``
(returned by ``gymnasium.make_vec``).  The robot is Gymnasium's Ant v5 (``ant.xml``, ``frame_skip=5``, v5 reset
noise, observation and health check); the rewards follow the MAML paper's rllab environments
(``ant_env_rand.py`` and ``ant_env_rand_direc.py``, App. A.2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from envs.mujoco_batch import (
    DirectionTask,
    LocomotionMDP,
    MujocoBatch,
    VelocityTask,
    check_bools,
    check_range,
)
from envs.mujoco_tasks import RobotTaskFamilyEnv, RobotTaskFamilyVectorEnv

__all__ = [
    "AntMDP",
    "DirectionTask",
    "MetaAntDirEnv",
    "MetaAntDirVectorEnv",
    "MetaAntVelEnv",
    "MetaAntVelVectorEnv",
    "VelocityTask",
]

#: goal velocities of MetaAntVel-v0 are drawn from U[0, 3] m/s (MAML paper, section 5.3)
ANT_VELOCITY_RANGE: tuple[float, float] = (0.0, 3.0)
#: the paper's "positive bonus so the ant does not end the episode" added to the velocity task's forward reward
ANT_VELOCITY_BONUS = 1.0
#: 0.5 * 1e-2 and 0.5 * 1e-3 in rllab's ant envs
ANT_CTRL_COST_WEIGHT = 0.005
ANT_CONTACT_COST_WEIGHT = 0.0005
ANT_SURVIVE_REWARD = 0.05


class AntMDP(LocomotionMDP):
    """Ant observation/reward/termination over batches (see :class:`MetaAntVelEnv`)."""

    reward_terms = ("reward_forward", "reward_ctrl", "reward_contact", "reward_survive")

    def __init__(
        self,
        *,
        velocity_task: bool,
        xml_file: str = "ant.xml",
        frame_skip: int = 5,
        ctrl_cost_weight: float = ANT_CTRL_COST_WEIGHT,
        contact_cost_weight: float = ANT_CONTACT_COST_WEIGHT,
        survive_reward: float = ANT_SURVIVE_REWARD,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.2, 1.0),
        contact_force_range: tuple[float, float] = (-1.0, 1.0),
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
        include_cfrc_ext_in_observation: bool = True,
    ) -> None:
        check_bools(
            terminate_when_unhealthy=terminate_when_unhealthy,
            exclude_current_positions_from_observation=exclude_current_positions_from_observation,
            include_cfrc_ext_in_observation=include_cfrc_ext_in_observation,
        )
        super().__init__(
            xml_file=xml_file,
            frame_skip=frame_skip,
            velocity_task=velocity_task,
            forward_bonus=ANT_VELOCITY_BONUS if velocity_task else 0.0,
            ctrl_cost_weight=ctrl_cost_weight,
            contact_cost_weight=contact_cost_weight,
            contact_force_range=contact_force_range,
            survive_reward=survive_reward,
            reset_noise_scale=reset_noise_scale,
            contact_forces=True,
        )
        self.healthy_z_range = check_range("healthy_z_range", healthy_z_range)
        self.terminate_when_unhealthy = bool(terminate_when_unhealthy)
        self._skip = 2 if exclude_current_positions_from_observation else 0
        self._include_cfrc_ext = bool(include_cfrc_ext_in_observation)

    def observation(self, qpos: np.ndarray, qvel: np.ndarray, contact_forces: np.ndarray) -> np.ndarray:
        """``[qpos[skip:], qvel, clip(cfrc_ext[1:])]`` per row (Gymnasium Ant v5); ``contact_forces`` is the
        clipped ``cfrc_ext``, ``[B, nbody, 6]``."""
        if self._include_cfrc_ext:
            forces = contact_forces[:, 1:].reshape(contact_forces.shape[0], -1)
            return np.concatenate((qpos[:, self._skip :], qvel, forces), axis=1)
        return np.concatenate((qpos[:, self._skip :], qvel), axis=1)

    def healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """``[B]`` bool: every ``qpos``/``qvel`` entry finite and torso z inside ``healthy_z_range``."""
        lo, hi = self.healthy_z_range
        z = qpos[:, 2]
        finite = np.isfinite(qpos).all(axis=1) & np.isfinite(qvel).all(axis=1)
        return finite & (lo <= z) & (z <= hi)

    def terminated(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Unhealthy (see :meth:`healthy`) when ``terminate_when_unhealthy``; never otherwise."""
        if not self.terminate_when_unhealthy:
            return np.zeros(qpos.shape[0], dtype=bool)
        return ~self.healthy(qpos, qvel)

    def step_info(self, batch: MujocoBatch, x_velocity: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`reset_info`'s torso position entries, then ``x_velocity`` and ``y_velocity`` over the step."""
        return {
            **self.reset_info(batch),
            "x_velocity": x_velocity,
            "y_velocity": (batch.qpos[:, 1] - batch.qpos_before[:, 1]) / batch.dt,
        }

    def reset_info(self, batch: MujocoBatch) -> dict[str, np.ndarray]:
        """Torso ``x_position``, ``y_position`` and ``distance_from_origin`` (of x, y)."""
        xy = batch.qpos[:, :2]
        return {
            "x_position": xy[:, 0].copy(),
            "y_position": xy[:, 1].copy(),
            "distance_from_origin": np.sqrt(np.einsum("ij,ij->i", xy, xy)),
        }


class _MetaAntEnv(RobotTaskFamilyEnv):
    """The single Ant task envs: :class:`AntMDP` with the MAML paper's Ant goal-velocity range."""

    mdp_type = AntMDP
    velocity_range = ANT_VELOCITY_RANGE


class MetaAntVelEnv(_MetaAntEnv):
    r"""Ant that must run forward at a goal velocity drawn per task: ``MetaAntVel-v0``.

    ## Description
    The quadruped Ant of Gymnasium v5 (a free-floating torso, four legs of two hinges each).  Each task is a goal
    forward (+x) velocity ``v_goal ~ U[0, 3]`` m/s (``VelocityTask(velocity)``); the agent must infer it from rewards
    and run at that speed (MAML paper, section 5.3, "goal velocity").

    ## Action Space
    ``Box(-1, 1, (8,), float32)``: torques of the ``hip_4 ankle_4 hip_1 ankle_1 hip_2 ankle_2 hip_3 ankle_3``
    motors (gear 150).  A finite action outside the box is clipped to it (the torque MuJoCo applies anyway) and the
    control cost uses the clipped action, as the paper's rllab code did through ``normalize`` (Gymnasium v5 costs the
    unclipped action); a wrong shape or a NaN/inf raises ``ValueError``.

    ## Observation Space
    ``Box(-inf, inf, (105,), float64)``, Gymnasium Ant v5's default: ``qpos[2:]`` (13: torso z, torso quaternion,
    8 joint angles), ``qvel`` (14: torso linear and angular velocity, 8 joint velocities) and the external contact
    forces ``clip(cfrc_ext[1:], -1, 1)`` of the 13 bodies (78, world body excluded), which Ant v5 includes by
    default and so does this env (``include_cfrc_ext_in_observation=False`` drops them: 27 values).  The torso x, y
    are excluded (``exclude_current_positions_from_observation=False`` adds them in front) and are reported in
    ``info``.  The contact forces come from ``mj_rnePostConstraint`` after the step (zero right after a reset, as
    in Ant v5).  The task is not observed (``envs.wrappers.TaskInObservation`` appends it).

    ## Rewards
    ``reward = reward_forward + reward_ctrl + reward_contact + reward_survive``, where
    - ``reward_forward = -|v - v_goal| + 1.0`` with ``v = (x_after - x_before) / dt`` the torso x velocity over the
      step (``qpos[0]``, the free joint's position, after minus before the step; Ant v5 instead differences
      ``body("torso").xpos``, which lags one physics substep), ``dt = frame_skip * 0.01 = 0.05`` s; the ``+1.0`` is
      the paper's "positive bonus so the ant does not end the episode";
    - ``reward_ctrl = -w_ctrl * sum_j a_j^2``, ``w_ctrl = ctrl_cost_weight = 0.005``, ``a`` the (clipped) action;
    - ``reward_contact = -w_contact * sum clip(cfrc_ext, -1, 1)^2`` over every body and component,
      ``w_contact = contact_cost_weight = 0.0005``;
    - ``reward_survive = 0.05`` (``survive_reward``) on every step, as in the paper's rllab env.

    ``info`` holds the four terms, ``x_position``, ``y_position``, ``distance_from_origin`` (torso, after the step),
    ``x_velocity`` (``v``) and ``y_velocity``.

    ## Starting State
    As Gymnasium v5: ``qpos = qpos0 + U[-s, s]^15``, then ``qvel = N(0, s^2 I_14)``, ``s = reset_noise_scale``,
    drawn in this order from ``np_random``.  With no task fixed, the episode's task is drawn from ``np_random``
    first (so ``reset(seed=s)`` reproduces tasks and start states); a fixed task is kept until changed.

    ## Episode End
    - Termination: the ant is unhealthy, i.e. the torso z is outside ``healthy_z_range = [0.2, 1.0]`` or any entry
      of ``qpos``/``qvel`` is not finite (only when ``terminate_when_unhealthy``, the default).
    - Truncation: after 200 steps, by the TimeLimit that ``max_episode_steps`` at registration adds (MAML paper
      App. A.2 horizon); the env itself never truncates.

    ## Arguments
    | Parameter | Type | Default | Description |
    |---|---|---|---|
    | ``task`` | VelocityTask \| None | None | a fixed task; ``None``: draw one per reset (``VelocityTask(1.5)``, the centre of [0, 3], until the first reset) |
    | ``xml_file`` | str | ``"ant.xml"`` | MuJoCo model (bare names are Gymnasium's assets) |
    | ``frame_skip`` | int | 5 | physics steps of 0.01 s per env step |
    | ``ctrl_cost_weight`` | float | 0.005 | ``w_ctrl`` |
    | ``contact_cost_weight`` | float | 0.0005 | ``w_contact`` |
    | ``survive_reward`` | float | 0.05 | ``reward_survive`` |
    | ``terminate_when_unhealthy`` | bool | True | end the episode when unhealthy |
    | ``healthy_z_range`` | tuple[float, float] | (0.2, 1.0) | healthy torso heights |
    | ``contact_force_range`` | tuple[float, float] | (-1.0, 1.0) | clip range of ``cfrc_ext`` (cost and observation) |
    | ``reset_noise_scale`` | float | 0.1 | ``s`` (Starting State) |
    | ``exclude_current_positions_from_observation`` | bool | True | drop the torso x, y from the observation |
    | ``include_cfrc_ext_in_observation`` | bool | True | append the clipped contact forces to the observation |
    | ``render_mode`` | str \| None | None | ``"rgb_array"`` renders headless (``MUJOCO_GL=egl``) |
    | ``width``, ``height`` | int | 480 | frame size |
    | ``camera_name`` | str \| None | ``"track"`` | model camera following the torso (``None``: free camera) |
    | ``default_camera_config`` | dict \| None | None | free-camera settings (with ``camera_name=None``) |

    Task protocol (:mod:`envs.base`): a plain ``gymnasium.make`` env draws a new task at every reset; ``set_task(t)``,
    ``env.task = t`` or ``reset(options={"task": t})`` fix ``t`` until changed, ``set_task(None)`` /
    ``reset(options={"task": None})`` go back to drawing; other reset option keys raise ``ValueError``.
    ``sample_tasks(n, rng)``, ``task_vector(task)`` = ``[v_goal]``.  Out-of-support goals raise
    ``ValueError``, other task types ``TypeError``.  ``gymnasium.make_vec("MetaAntVel-v0", num_envs=B)`` returns
    :class:`MetaAntVelVectorEnv`.

    ## Version History
    - v0: initial version (Gymnasium Ant v5 model and conventions; reward of the MAML paper).

    Source: Finn, Abbeel, Levine (2017), "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
    section 5.3 and App. A.2; rllab ``ant_env_rand.py`` in the paper's code (cbfinn/maml_rl).
    """

    env_id: ClassVar[str] = "MetaAntVel-v0"
    velocity_task = True


class MetaAntDirEnv(_MetaAntEnv):
    r"""Ant that must run forward or backward along x, the direction drawn per task: ``MetaAntDir-v0``.

    ## Description
    The quadruped Ant of Gymnasium v5.  Each task is a direction ``d in {-1, +1}`` along x, each with probability
    1/2 (``DirectionTask(direction)``); the agent must run as fast as possible along ``d`` (MAML paper, section 5.3,
    "goal direction").

    ## Action Space
    ``Box(-1, 1, (8,), float32)``, as :class:`MetaAntVelEnv`.

    ## Observation Space
    ``Box(-inf, inf, (105,), float64)``: ``qpos[2:]``, ``qvel``, ``clip(cfrc_ext[1:], -1, 1)``, as
    :class:`MetaAntVelEnv` (same ``include_cfrc_ext_in_observation`` kwarg).

    ## Rewards
    ``reward = reward_forward + reward_ctrl + reward_contact + reward_survive``, where
    - ``reward_forward = d * v`` with ``v = (x_after - x_before) / dt`` the torso x velocity over the step
      (``qpos[0]``), ``dt = 0.05`` s;
    - ``reward_ctrl = -0.005 * sum_j a_j^2``;
    - ``reward_contact = -0.0005 * sum clip(cfrc_ext, -1, 1)^2`` over every body and component;
    - ``reward_survive = 0.05`` on every step.

    ``info`` holds the same keys as :class:`MetaAntVelEnv`.

    ## Starting State
    As Gymnasium v5: ``qpos = qpos0 + U[-s, s]^15``, then ``qvel = N(0, s^2 I_14)``, ``s = reset_noise_scale``.

    ## Episode End
    - Termination: torso z outside ``[0.2, 1.0]`` or a non-finite ``qpos``/``qvel`` entry.
    - Truncation: after 200 steps (registration ``max_episode_steps``); the env itself never truncates.

    ## Arguments
    As :class:`MetaAntVelEnv`, except ``task`` (DirectionTask | None, default ``None``: draw per reset, ``DirectionTask(+1)`` until the first reset).
    ``task_vector(task)`` = ``[d]``; a direction other than +-1 raises ``ValueError``.
    ``gymnasium.make_vec("MetaAntDir-v0", num_envs=B)`` returns :class:`MetaAntDirVectorEnv`.

    ## Version History
    - v0: initial version (Gymnasium Ant v5 model and conventions; reward of the MAML paper).

    Source: Finn, Abbeel, Levine (2017), section 5.3 and App. A.2; rllab ``ant_env_rand_direc.py`` in the paper's
    code (cbfinn/maml_rl).
    """

    env_id: ClassVar[str] = "MetaAntDir-v0"
    velocity_task = False


class _MetaAntVectorEnv(RobotTaskFamilyVectorEnv):
    """The batched Ant task envs: :class:`AntMDP` with the MAML paper's Ant goal-velocity range."""

    mdp_type = AntMDP
    velocity_range = ANT_VELOCITY_RANGE


class MetaAntVelVectorEnv(_MetaAntVectorEnv):
    r"""Batched ``MetaAntVel-v0``: ``num_envs`` Ants, one ``MjData`` each over one ``MjModel``.

    ## Description
    Sub-env ``i`` is :class:`MetaAntVelEnv` with task ``tasks[i]``: the same model, start-state draws (sub-env ``i``
    seeded with ``seed + i``), dynamics, observation, reward and termination code, so it returns exactly what the
    single env returns for the same actions.  ``gymnasium.make_vec("MetaAntVel-v0", num_envs=B)`` builds it with
    ``max_episode_steps=200``.

    ## Action Space
    ``Box(-1, 1, (B, 8), float32)``; actions must have shape ``(B, 8)`` and be finite (``ValueError``).

    ## Observation Space
    ``Box(-inf, inf, (B, 105), float64)``, rows as :class:`MetaAntVelEnv`.

    ## Rewards
    Per sub-env, :class:`MetaAntVelEnv`'s
    ``-|v - v_goal| + 1.0 - 0.005 * sum(a^2) - 0.0005 * sum(clip(cfrc_ext, -1, 1)^2) + 0.05``; ``0.0`` once its
    episode has ended.  ``info`` holds the single env's keys as ``[B]`` arrays with Gymnasium's ``"_key"`` masks.

    ## Starting State
    Per sub-env, :class:`MetaAntVelEnv`'s, drawn from that sub-env's own generator.

    ## Episode End
    Termination per sub-env as :class:`MetaAntVelEnv`; truncation at ``max_episode_steps``.
    Autoreset (``autoreset_mode``): ``NEXT_STEP`` by default, as Gymnasium's ``SyncVectorEnv`` (the step after a
    sub-env finished resets it); ``DISABLED`` keeps a finished sub-env frozen (last observation, reward 0, done
    flags kept) until it is reset, as the MAML samplers ask (:class:`envs.vector_base.TaskVectorEnv`).

    ## Arguments
    ``num_envs`` (int); ``max_episode_steps`` (int | None, default None); ``tasks`` (one VelocityTask per sub-env)
    or ``task`` (one for all; default: each sub-env draws per reset); ``autoreset_mode`` (default ``NEXT_STEP``);
    ``num_threads`` (int, default 1: threads stepping
    the copies, results are identical for every value); and :class:`MetaAntVelEnv`'s keyword arguments except
    ``default_camera_config`` (``render_mode="rgb_array"``: ``render()`` returns one frame per sub-env).
    Per-env tasks: ``set_tasks([...])``, ``set_attr("task", [...])``, ``call("set_task", ...)``,
    ``reset(options={"tasks": [...]})``.

    ## Version History
    - v0: initial version.

    Source: Finn et al. (2017), section 5.3 and App. A.2.
    """

    env_id: ClassVar[str] = "MetaAntVel-v0"
    velocity_task = True


class MetaAntDirVectorEnv(_MetaAntVectorEnv):
    r"""Batched ``MetaAntDir-v0``: ``num_envs`` Ants, one ``MjData`` each over one ``MjModel``.

    ## Description
    Sub-env ``i`` is :class:`MetaAntDirEnv` with task ``tasks[i]`` and seed ``seed + i``; it returns exactly what
    the single env returns for the same actions.  ``gymnasium.make_vec("MetaAntDir-v0", num_envs=B)`` builds it
    with ``max_episode_steps=200``.

    ## Action Space
    ``Box(-1, 1, (B, 8), float32)``; actions must have shape ``(B, 8)`` and be finite (``ValueError``).

    ## Observation Space
    ``Box(-inf, inf, (B, 105), float64)``, rows as :class:`MetaAntDirEnv`.

    ## Rewards
    Per sub-env, :class:`MetaAntDirEnv`'s ``d * v - 0.005 * sum(a^2) - 0.0005 * sum(clip(cfrc_ext, -1, 1)^2)
    + 0.05``; ``0.0`` once its episode has ended.

    ## Starting State
    Per sub-env, :class:`MetaAntDirEnv`'s, drawn from that sub-env's own generator.

    ## Episode End
    As :class:`MetaAntVelVectorEnv` (termination, truncation and autoreset per sub-env).

    ## Arguments
    As :class:`MetaAntVelVectorEnv`, with DirectionTask tasks.

    ## Version History
    - v0: initial version.

    Source: Finn et al. (2017), section 5.3 and App. A.2.
    """

    env_id: ClassVar[str] = "MetaAntDir-v0"
    velocity_task = False
