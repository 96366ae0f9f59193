"""Batched MuJoCo simulation shared by the single and the vectorized locomotion envs.

(Why one file of ~880 lines: the batched simulator, the robot maths written once over arrays, and the single and
batched env classes built on both must stay in lock-step — the tests compare them step for step — and splitting
them would spread one contract over three modules.)

Sampling dominates the cost of MAML-RL (Finn et al. 2017, App. A.2: 20-40 tasks x 20-40 rollouts x 200 steps per
meta-iteration), so the locomotion envs step ``B`` copies of one robot in one call:

- :class:`MujocoBatch` holds ``B`` ``MjData`` over ONE ``MjModel`` and steps them in a tight loop
  (``mujoco.mj_step(model, data, nstep=frame_skip)`` per copy, then ``mj_rnePostConstraint`` when contact forces
  are needed, exactly as Gymnasium's ``MujocoEnv.do_simulation``), gathering ``qpos``/``qvel``/``cfrc_ext`` into
  preallocated ``[B, ...]`` arrays.  ``mj_step`` releases the GIL, so ``num_threads > 1`` splits the copies over a
  thread pool; the result is bit-identical to the serial loop because every copy owns its ``MjData``.
- :class:`LocomotionMDP` holds the observation, reward, termination and start-state maths of one robot as
  functions over those arrays.  The single env (:class:`MetaLocomotionEnv`, ``B = 1`` over its own ``MjData``) and
  the vectorized env (:class:`MetaLocomotionVectorEnv`) both call the same methods, so they cannot drift apart.

MuJoCo's own batched APIs were measured (mujoco 4.0, this 2-core machine) and not used:

- ``mujoco.rollout`` restarts the constraint solver's warm start on every call and does not return it, so chained
  one-env-step calls drift from ``mj_step`` by ~1e-15 per step, which the contact-rich dynamics amplify to O(1)
  differences within 200 steps; with one thread it was slower than the plain loop.
- ``mujoco.batch.Batch`` is bit-identical to the loop and took the same CPU time per step with one thread (its
  state rows save the Python gathering, which costs ~1-2 us of a 50-300 us env step), but it cannot run
  ``mj_rnePostConstraint``, so Ant's ``cfrc_ext`` (contact cost and observation) would be missing or differ from
  Gymnasium's Ant v5.  One stepping path for every robot and for the single env was preferred.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import DEFAULT_SIZE, MujocoEnv, expand_model_path
from gymnasium.vector import AutoresetMode

from envs.base import (
    NO_TASK_OPTION,
    FixableTaskMixin,
    as_generator,
    check_actions,
    check_int,
    check_task_type,
    task_option,
)
from envs.vector_base import TaskVectorEnv

__all__ = [
    "DirectionTask",
    "DirectionTaskDistribution",
    "LocomotionMDP",
    "MetaLocomotionEnv",
    "MetaLocomotionVectorEnv",
    "MujocoBatch",
    "TaskDistribution",
    "VelocityTask",
    "VelocityTaskDistribution",
    "load_model",
]


# --------------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class VelocityTask:
    """Run forward at a goal velocity (MAML paper, section 5.3: "goal velocity")."""

    velocity: float
    """Goal forward (+x) velocity of the torso, in m/s."""

    def __post_init__(self) -> None:
        if isinstance(self.velocity, bool) or not isinstance(
            self.velocity, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"VelocityTask.velocity must be a real number, got {type(self.velocity).__name__}: "
                f"{self.velocity!r}"
            )
        object.__setattr__(self, "velocity", float(self.velocity))
        if not math.isfinite(self.velocity):
            raise ValueError(f"VelocityTask.velocity must be finite, got {self.velocity}")

    def describe(self) -> str:
        """A caption for rendered frames (see :func:`envs.base.describe_task`)."""
        return f"goal velocity {self.velocity:.2f} m/s"


@dataclass(frozen=True)
class DirectionTask:
    """Run as fast as possible in a direction along x (MAML paper, section 5.3: "goal direction")."""

    direction: int
    """``+1`` runs forward (+x), ``-1`` runs backward (-x)."""

    def __post_init__(self) -> None:
        value = self.direction
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                value = int(value)
            else:
                raise TypeError(
                    f"DirectionTask.direction must be an int (+1 or -1), got {type(value).__name__}: "
                    f"{value!r}"
                )
        object.__setattr__(self, "direction", int(value))

    def describe(self) -> str:
        """A caption for rendered frames (see :func:`envs.base.describe_task`)."""
        return "run forward (+x)" if self.direction > 0 else "run backward (-x)"


class TaskDistribution:
    """A task distribution p(T) of a locomotion env: sampling, validation and the numbers the reward needs."""

    task_type: ClassVar[type]

    def sample(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` tasks with ``rng``."""
        raise NotImplementedError

    def check(self, task: Any, env_id: str) -> Any:
        """Return ``task`` if it is of the right type and inside the support, else raise TypeError/ValueError."""
        raise NotImplementedError

    def parameter(self, task: Any) -> float:
        """The one number the reward uses (goal velocity or direction)."""
        raise NotImplementedError

    @property
    def default(self) -> Any:
        """The task installed when none is given (deterministic, so it draws no random numbers)."""
        raise NotImplementedError

    def task_vector(self, task: Any) -> np.ndarray:
        """The task parameters as a float32 vector (for oracle policies)."""
        return np.array([self.parameter(task)], dtype=np.float32)


class VelocityTaskDistribution(TaskDistribution):
    """Goal velocity ``v_goal ~ U[low, high]``."""

    task_type = VelocityTask

    def __init__(self, low: float, high: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"velocity range must be finite with low < high, got [{low}, {high}]")
        self.low = float(low)
        self.high = float(high)

    def sample(self, n: int, rng: np.random.Generator) -> list[VelocityTask]:
        return [VelocityTask(float(v)) for v in rng.uniform(self.low, self.high, size=n)]

    def check(self, task: Any, env_id: str) -> VelocityTask:
        check_task_type(task, VelocityTask, env_id)
        if not self.low <= task.velocity <= self.high:
            raise ValueError(
                f"goal velocity {task.velocity:g} is outside [{self.low:g}, {self.high:g}] for {env_id}"
            )
        return task

    def parameter(self, task: VelocityTask) -> float:
        return task.velocity

    @property
    def default(self) -> VelocityTask:
        return VelocityTask(0.5 * (self.low + self.high))

    def __repr__(self) -> str:
        return f"VelocityTaskDistribution(low={self.low:g}, high={self.high:g})"


class DirectionTaskDistribution(TaskDistribution):
    """Direction ``d in {-1, +1}``, each with probability 1/2."""

    task_type = DirectionTask

    def sample(self, n: int, rng: np.random.Generator) -> list[DirectionTask]:
        return [DirectionTask(int(d)) for d in rng.choice(np.array([-1, 1]), size=n)]

    def check(self, task: Any, env_id: str) -> DirectionTask:
        check_task_type(task, DirectionTask, env_id)
        if task.direction not in (-1, 1):
            raise ValueError(f"direction {task.direction} is not -1 or +1 for {env_id}")
        return task

    def parameter(self, task: DirectionTask) -> float:
        return float(task.direction)

    @property
    def default(self) -> DirectionTask:
        return DirectionTask(1)

    def __repr__(self) -> str:
        return "DirectionTaskDistribution(-1 or +1)"


# ------------------------------------------------------------------------------------------ model loading
#: MuJoCo >= 3.3 warns (and writes MUJOCO_LOG.TXT into the working directory) when it compiles Gymnasium's
#: half_cheetah.xml, which still uses ``<compiler settotalmass=...>``; the compiled model is unchanged.
_KNOWN_COMPILER_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)


def load_model(xml_file: str, width: int = DEFAULT_SIZE, height: int = DEFAULT_SIZE) -> mujoco.MjModel:
    """Compile an MJCF model; bare file names are looked up in Gymnasium's MuJoCo assets.

    The offscreen framebuffer is grown (never shrunk) to ``width x height`` as Gymnasium's ``MujocoEnv`` does.
    MuJoCo's deprecation warning for Gymnasium's own ``half_cheetah.xml`` is silenced (it would otherwise write
    ``MUJOCO_LOG.TXT`` into the caller's working directory); every other compiler warning is re-raised as a
    Python ``RuntimeWarning``.
    """
    path = expand_model_path(os.fspath(xml_file))
    messages: list[str] = []
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(messages.append)
    try:
        model = mujoco.MjModel.from_xml_path(path)
    finally:
        mujoco.set_mju_user_warning(previous)
    for message in messages:
        if not message.startswith(_KNOWN_COMPILER_WARNINGS):
            warnings.warn(f"MuJoCo warning while loading {path}: {message}", RuntimeWarning, stacklevel=2)
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, int(width))
    model.vis.global_.offheight = max(model.vis.global_.offheight, int(height))
    return model


# ------------------------------------------------------------------------------------------- the physics
class _StepWorkers:
    """``n`` persistent daemon threads that each run one chunk of a step while the caller's thread runs another.

    A step hands work over with one ``Event.set`` per worker and waits on one ``Event`` per worker — cheaper than
    a ``ThreadPoolExecutor`` round trip (futures, queue), which at B = 20 copies of a fast robot cost as much as
    the physics it parallelised.  The caller runs the first chunk itself, so ``num_threads = 2`` starts one thread.
    """

    def __init__(self, n: int) -> None:
        self._jobs: list[tuple[Callable[[list[int]], None], list[int]] | None] = [None] * n
        self._errors: list[BaseException | None] = [None] * n
        self._start = [threading.Event() for _ in range(n)]
        self._done = [threading.Event() for _ in range(n)]
        self._threads = [
            threading.Thread(target=self._loop, args=(k,), name=f"mujoco_batch-{k}", daemon=True) for k in range(n)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, k: int) -> None:
        while True:
            self._start[k].wait()
            self._start[k].clear()
            job = self._jobs[k]
            if job is None:  # close()
                self._done[k].set()
                return
            try:
                job[0](job[1])
            except BaseException as exc:  # re-raised in the caller's thread
                self._errors[k] = exc
            self._done[k].set()

    def run(self, fn: Callable[[list[int]], None], chunks: Sequence[list[int]]) -> None:
        """``fn(chunk)`` for every chunk, the first in the calling thread; returns when all are done."""
        others = chunks[1:]
        if len(others) > len(self._threads):
            raise ValueError(f"{len(chunks)} chunks for {len(self._threads) + 1} threads")
        for k, chunk in enumerate(others):
            self._jobs[k] = (fn, chunk)
            self._done[k].clear()
            self._start[k].set()
        try:
            fn(chunks[0])
        finally:
            for k in range(len(others)):
                self._done[k].wait()
        for k in range(len(others)):
            error, self._errors[k] = self._errors[k], None
            if error is not None:
                raise error

    def close(self) -> None:
        for k, thread in enumerate(self._threads):
            self._jobs[k] = None
            self._done[k].clear()
            self._start[k].set()
            thread.join()


class MujocoBatch:
    """``B`` independent simulations (one ``MjData`` each) of one ``MjModel``.

    After :meth:`set_state` or :meth:`step` the arrays :attr:`qpos` ``[B, nq]``, :attr:`qvel` ``[B, nv]`` and (when
    ``contact_forces``) :attr:`cfrc_ext` ``[B, nbody, 6]`` hold every copy's state; :attr:`qpos_before` holds
    ``qpos`` from just before the last :meth:`step`.  The arrays are preallocated and overwritten in place.

    :param model: the shared model.
    :param datas: one ``MjData`` per copy (``B = len(datas)``).
    :param frame_skip: physics steps per env step (Gymnasium v5: 5, so ``dt = 5 x 0.01 s``).
    :param contact_forces: also run ``mj_rnePostConstraint`` after each env step and gather ``cfrc_ext``
        (needed by Ant's contact cost; Gymnasium's ``MujocoEnv`` always runs it).
    :param num_threads: split the copies over this many threads (``mj_step`` releases the GIL).  ``1`` steps them
        in the calling thread.  Results are identical for every value.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        datas: Sequence[mujoco.MjData],
        frame_skip: int,
        *,
        contact_forces: bool = False,
        num_threads: int = 1,
    ) -> None:
        if isinstance(frame_skip, bool) or not isinstance(frame_skip, (int, np.integer)) or frame_skip < 1:
            raise ValueError(f"frame_skip must be a positive int, got {frame_skip!r}")
        if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
        if len(datas) < 1:
            raise ValueError("MujocoBatch needs at least one MjData")
        self.model = model
        self.datas: list[mujoco.MjData] = list(datas)
        self.frame_skip = int(frame_skip)
        self.contact_forces = bool(contact_forces)
        self.num_threads = int(min(num_threads, len(self.datas)))
        n = len(self.datas)
        self._num_envs = n
        #: seconds per env step, ``model.opt.timestep * frame_skip`` (read once: MjOption access is slow)
        self.dt = float(model.opt.timestep) * self.frame_skip
        limited = model.actuator_ctrllimited.astype(bool)
        #: per-actuator control bounds (``-inf``/``inf`` for unlimited actuators)
        self.ctrl_low = np.where(limited, model.actuator_ctrlrange[:, 0], -np.inf)
        self.ctrl_high = np.where(limited, model.actuator_ctrlrange[:, 1], np.inf)
        self.qpos = np.zeros((n, model.nq))
        self.qvel = np.zeros((n, model.nv))
        self.qpos_before = np.zeros((n, model.nq))
        self.cfrc_ext = np.zeros((n, model.nbody, 6))
        # Views into each MjData's buffers, taken once: attribute access on MjData costs ~1 us per call.
        self._ctrl = [d.ctrl for d in self.datas]
        self._qpos = [d.qpos for d in self.datas]
        self._qvel = [d.qvel for d in self.datas]
        self._cfrc = [d.cfrc_ext for d in self.datas]
        for i in range(n):
            self._gather(i)
        self._workers: _StepWorkers | None = None

    @property
    def num_envs(self) -> int:
        return self._num_envs

    def _gather(self, i: int) -> None:
        self.qpos[i] = self._qpos[i]
        self.qvel[i] = self._qvel[i]
        if self.contact_forces:
            self.cfrc_ext[i] = self._cfrc[i]

    def set_state(self, i: int, qpos: np.ndarray, qvel: np.ndarray, *, reset_data: bool = True) -> None:
        """Put copy ``i`` in state ``(qpos, qvel)`` and run ``mj_forward``.

        With ``reset_data`` the rest of the ``MjData`` (time, warm start, controls, ...) is reset first with
        ``mj_resetData``, as ``MujocoEnv.reset`` does; without it only ``qpos``/``qvel`` change, as
        ``MujocoEnv.set_state`` does.
        """
        data = self.datas[i]
        if reset_data:
            mujoco.mj_resetData(self.model, data)
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        mujoco.mj_forward(self.model, data)
        self._gather(i)
        self.qpos_before[i] = self.qpos[i]

    def step(self, ctrl: np.ndarray, active: np.ndarray | None = None) -> None:
        """Apply ``ctrl[i]`` for ``frame_skip`` physics steps on every copy in ``active`` (all when ``None``).

        Copies not in ``active`` are left untouched (their ``qpos_before`` equals their ``qpos``).

        :param ctrl: ``[B, nu]`` float64 controls.
        :param active: indices (int array) of the copies to step.
        """
        np.copyto(self.qpos_before, self.qpos)
        indices = range(self._num_envs) if active is None else [int(i) for i in active]
        if self.num_threads == 1 or len(indices) < 2:
            self._step_indices(ctrl, indices)
            return
        if self._workers is None:
            self._workers = _StepWorkers(self.num_threads - 1)
        chunks = [c.tolist() for c in np.array_split(np.asarray(indices, dtype=np.int64), self.num_threads) if c.size]
        self._workers.run(lambda chunk: self._step_indices(ctrl, chunk), chunks)

    def _step_indices(self, ctrl: np.ndarray, indices: Sequence[int] | range) -> None:
        # The hot path: no per-env Python objects, no wrappers; locals for every lookup.
        model, datas, nstep = self.model, self.datas, self.frame_skip
        mj_step, mj_rne = mujoco.mj_step, mujoco.mj_rnePostConstraint
        ctrl_v, qpos_v, qvel_v, cfrc_v = self._ctrl, self._qpos, self._qvel, self._cfrc
        qpos, qvel, cfrc = self.qpos, self.qvel, self.cfrc_ext
        if self.contact_forces:
            for i in indices:
                data = datas[i]
                ctrl_v[i][:] = ctrl[i]
                mj_step(model, data, nstep)
                # cfrc_ext is only computed by the RNE post-constraint pass (Gymnasium MujocoEnv does the same).
                mj_rne(model, data)
                cfrc[i] = cfrc_v[i]
                qpos[i] = qpos_v[i]
                qvel[i] = qvel_v[i]
        else:
            for i in indices:
                ctrl_v[i][:] = ctrl[i]
                mj_step(model, datas[i], nstep)
                qpos[i] = qpos_v[i]
                qvel[i] = qvel_v[i]

    def close(self) -> None:
        """Stop the thread pool (if any)."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None


# ------------------------------------------------------------------------------------------ the MDP maths
class LocomotionMDP:
    """Observation, reward, termination and start state of one locomotion robot, as functions over batches.

    Reward (per copy, ``v = (x_after - x_before) / dt`` of the root/torso x coordinate, ``a`` the action clipped to
    the actuators' control range):

    - ``reward_forward = -|v - v_goal| + forward_bonus`` for a velocity task, ``d * v`` for a direction task,
    - ``reward_ctrl = -ctrl_cost_weight * sum(a^2)``,
    - ``reward_contact = -contact_cost_weight * sum(clip(cfrc_ext, lo, hi)^2)`` (over every body; the clipped
      forces are computed once per step and shared with the observation),
    - ``reward_survive = survive_reward`` (a constant),
    - ``reward = reward_forward + reward_ctrl + reward_contact + reward_survive``.

    Subclasses define :meth:`observation` and :meth:`terminated`; everything is vectorized over the batch axis.
    """

    #: terms reported in ``info`` by :meth:`reward`
    reward_terms: tuple[str, ...] = ("reward_forward", "reward_ctrl")

    def __init__(
        self,
        *,
        xml_file: str,
        frame_skip: int,
        velocity_task: bool,
        forward_bonus: float,
        ctrl_cost_weight: float,
        contact_cost_weight: float,
        contact_force_range: tuple[float, float],
        survive_reward: float,
        reset_noise_scale: float,
        contact_forces: bool,
    ) -> None:
        check_int("frame_skip", frame_skip, minimum=1)
        check_real("ctrl_cost_weight", ctrl_cost_weight, minimum=0.0)
        check_real("contact_cost_weight", contact_cost_weight, minimum=0.0)
        check_real("reset_noise_scale", reset_noise_scale, minimum=0.0)
        check_real("forward_bonus", forward_bonus)
        check_real("survive_reward", survive_reward)
        self.contact_force_range = check_range("contact_force_range", contact_force_range)
        self.xml_file = xml_file
        self.frame_skip = int(frame_skip)
        self.velocity_task = bool(velocity_task)
        self.forward_bonus = float(forward_bonus)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.contact_cost_weight = float(contact_cost_weight)
        self.survive_reward = float(survive_reward)
        self.reset_noise_scale = float(reset_noise_scale)
        #: whether the reward/observation need ``cfrc_ext`` (decides whether the physics gathers it)
        self.contact_forces = bool(contact_forces)

    def observation_size(self, model: mujoco.MjModel) -> int:
        """Length of :meth:`observation`'s rows for ``model``."""
        data = mujoco.MjData(model)
        obs = self.observation(data.qpos[None], data.qvel[None], data.cfrc_ext[None])
        return int(obs.shape[1])

    def observation(self, qpos: np.ndarray, qvel: np.ndarray, contact_forces: np.ndarray) -> np.ndarray:
        """``[B, obs_dim]`` float64 observations from ``qpos [B, nq]``, ``qvel [B, nv]`` and the contact forces
        ``clip(cfrc_ext, *contact_force_range)`` ``[B, nbody, 6]`` (see :meth:`clip_contact_forces`)."""
        raise NotImplementedError

    def clip_contact_forces(self, cfrc_ext: np.ndarray) -> np.ndarray:
        """``clip(cfrc_ext, lo, hi)`` with ``(lo, hi) = contact_force_range`` (a new array)."""
        lo, hi = self.contact_force_range
        return np.minimum(np.maximum(cfrc_ext, lo), hi)

    def observe(self, batch: MujocoBatch, indices: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Observations of the copies ``indices`` of ``batch`` in their current state (used after a reset)."""
        forces = batch.cfrc_ext[indices]
        if self.contact_forces:
            forces = self.clip_contact_forces(forces)
        return self.observation(batch.qpos[indices], batch.qvel[indices], forces)

    def terminated(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """``[B]`` bool: whether each copy's episode ends in this state."""
        raise NotImplementedError

    def reward(
        self,
        x_velocity: np.ndarray,
        actions: np.ndarray,
        contact_forces: np.ndarray,
        task_parameter: np.ndarray,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``([B] rewards, {term: [B]})`` for velocities ``[B]``, (clipped) actions ``[B, nu]``, clipped contact
        forces ``[B, nbody, 6]`` and ``task_parameter [B]`` (goal velocity, or direction as +-1.0)."""
        if self.velocity_task:
            reward_forward = np.abs(x_velocity - task_parameter)
            np.negative(reward_forward, out=reward_forward)
            if self.forward_bonus:
                reward_forward += self.forward_bonus
        else:
            reward_forward = task_parameter * x_velocity
        reward_ctrl = np.einsum("ij,ij->i", actions, actions)
        reward_ctrl *= -self.ctrl_cost_weight
        reward = reward_forward + reward_ctrl
        terms = {"reward_forward": reward_forward, "reward_ctrl": reward_ctrl}
        if "reward_contact" in self.reward_terms:
            forces = contact_forces.reshape(contact_forces.shape[0], -1)
            reward_contact = np.einsum("ij,ij->i", forces, forces)
            reward_contact *= -self.contact_cost_weight
            reward += reward_contact
            terms["reward_contact"] = reward_contact
        if "reward_survive" in self.reward_terms:
            reward += self.survive_reward
            terms["reward_survive"] = np.full(reward.shape[0], self.survive_reward)
        return reward, terms

    def initial_state(
        self, rng: np.random.Generator, init_qpos: np.ndarray, init_qvel: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gymnasium v5 start state: ``qpos = qpos0 + U[-s, s]`` then ``qvel = qvel0 + s * N(0, 1)`` (in this order,
        from ``rng``), ``s = reset_noise_scale``."""
        s = self.reset_noise_scale
        qpos = init_qpos + rng.uniform(low=-s, high=s, size=init_qpos.size)
        qvel = init_qvel + s * rng.standard_normal(init_qvel.size)
        return qpos, qvel

    def step_info(self, batch: MujocoBatch, x_velocity: np.ndarray) -> dict[str, np.ndarray]:
        """State entries of ``info`` besides the reward terms (``[B]`` arrays)."""
        return {"x_position": batch.qpos[:, 0].copy(), "x_velocity": x_velocity}

    def reset_info(self, batch: MujocoBatch) -> dict[str, np.ndarray]:
        """``info`` entries returned by ``reset`` (``[B]`` arrays)."""
        return {"x_position": batch.qpos[:, 0].copy()}

    def step(
        self,
        batch: MujocoBatch,
        actions: np.ndarray,
        task_parameter: np.ndarray,
        active: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """One env step of the copies ``active`` (all when ``None``): ``(obs, reward, terminated, info)``, ``[B]``-rows.

        Actions are clipped to the actuators' control range, then applied for ``frame_skip`` physics steps; the
        control cost uses the clipped action (the torque MuJoCo applies; the paper's rllab code clipped too).  The
        single env calls this with ``B = 1`` and the vectorized env with ``B`` copies: one code path.
        """
        actions = np.minimum(np.maximum(actions, batch.ctrl_low), batch.ctrl_high)
        batch.step(actions, active)
        return self.evaluate(batch, actions, task_parameter)

    def evaluate(
        self, batch: MujocoBatch, actions: np.ndarray, task_parameter: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(obs, reward, terminated, info)`` after the physics has run with (clipped) ``actions``."""
        x_velocity = batch.qpos[:, 0] - batch.qpos_before[:, 0]
        x_velocity /= batch.dt
        forces = self.clip_contact_forces(batch.cfrc_ext) if self.contact_forces else batch.cfrc_ext
        obs = self.observation(batch.qpos, batch.qvel, forces)
        reward, terms = self.reward(x_velocity, actions, forces, task_parameter)
        terminated = self.terminated(batch.qpos, batch.qvel)
        info = self.step_info(batch, x_velocity)
        info.update(terms)
        return obs, reward, terminated, info


# --------------------------------------------------------------------------------------- argument checks
def check_real(name: str, value: Any, minimum: float | None = None) -> float:
    """``value`` as a float; ``TypeError`` unless a real number, ``ValueError`` unless finite and >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    if not math.isfinite(float(value)) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise ValueError(f"{name} must be finite{bound}, got {value!r}")
    return float(value)


def check_bools(**flags: Any) -> None:
    """``TypeError`` naming the first of ``flags`` (name=value) whose value is not a bool."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")


def check_range(name: str, value: Any) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of finite floats with ``low < high`` (``TypeError`` / ``ValueError``)."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}") from None
    lo, hi = check_real(f"{name}[0]", lo), check_real(f"{name}[1]", hi)
    if not lo < hi:
        raise ValueError(f"{name} must have low < high, got {value!r}")
    return lo, hi


def _check_state(qpos: Any, qvel: Any, model: mujoco.MjModel, env_id: str) -> tuple[np.ndarray, np.ndarray]:
    qpos = np.asarray(qpos, dtype=np.float64)
    qvel = np.asarray(qvel, dtype=np.float64)
    if qpos.shape != (model.nq,):
        raise ValueError(f"qpos has shape {qpos.shape}, expected ({model.nq},) for {env_id}")
    if qvel.shape != (model.nv,):
        raise ValueError(f"qvel has shape {qvel.shape}, expected ({model.nv},) for {env_id}")
    return qpos, qvel


# -------------------------------------------------------------------------------------------- single env
class MetaLocomotionEnv(FixableTaskMixin, MujocoEnv):
    """Base of the single locomotion envs: Gymnasium's ``MujocoEnv`` + the task API + a :class:`LocomotionMDP`.

    A step runs :meth:`LocomotionMDP.step` on a :class:`MujocoBatch` over this env's own ``MjData`` (``B = 1``):
    the same code as :class:`MetaLocomotionVectorEnv`.  Subclasses set :attr:`env_id`, call ``EzPickle.__init__``
    with their typed kwargs (``task`` as a keyword), then this constructor.

    Task protocol (:mod:`envs.base`): with no task fixed, every ``reset()`` first draws the episode's task with
    ``np_random`` and then the start state, so ``reset(seed=s)`` makes tasks and start states reproducible;
    ``set_task(t)`` / ``env.task = t`` / ``reset(options={"task": t})`` / ``task=t`` fix a task until changed, and
    ``set_task(None)`` / ``reset(options={"task": None})`` go back to drawing.  Before the first reset of an env
    with no fixed task, ``task`` is the distribution's deterministic default (the centre of a velocity range,
    direction ``+1``).  Other reset option keys raise ``ValueError`` naming them.
    """

    env_id: ClassVar[str] = "MetaLocomotion"
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        mdp: LocomotionMDP,
        distribution: TaskDistribution,
        task: Any | None,
        *,
        render_mode: str | None,
        width: int,
        height: int,
        camera_name: str | None,
        default_camera_config: dict[str, float | int] | None,
    ) -> None:
        check_int("width", width, minimum=1)
        check_int("height", height, minimum=1)
        if render_mode is not None and render_mode not in type(self).metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {type(self).metadata['render_modes']} for {self.env_id}, "
                f"got {render_mode!r}"
            )
        self._mdp = mdp
        self._distribution = distribution
        self._task_parameter = np.zeros(1)
        self._task: Any = None
        self._task_fixed = task is not None
        self._install_task(distribution.default if task is None else distribution.check(task, self.env_id))
        MujocoEnv.__init__(
            self,
            mdp.xml_file,
            mdp.frame_skip,
            observation_space=None,
            render_mode=render_mode,
            width=width,
            height=height,
            camera_name=camera_name,
            default_camera_config=default_camera_config,
        )
        self.metadata = {**type(self).metadata, "render_fps": int(np.round(1.0 / self.dt))}
        self.observation_space = spaces.Box(
            low=-np.inf, high=np.inf, shape=(mdp.observation_size(self.model),), dtype=np.float64
        )
        self._sim = MujocoBatch(
            self.model,
            [self.data],
            mdp.frame_skip,
            contact_forces=mdp.contact_forces,
        )
        self._action_shape = (int(self.model.nu),)

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        model = load_model(self.fullpath, self.width, self.height)
        return model, mujoco.MjData(model)

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set ``qpos``/``qvel`` and run ``mj_forward`` (as ``MujocoEnv.set_state``; ``ValueError`` on bad shapes)."""
        qpos, qvel = _check_state(qpos, qvel, self.model, self.env_id)
        self._sim.set_state(0, qpos, qvel, reset_data=False)

    # ----------------------------------------------------------------------------------------- task API
    # task / is_task_fixed / set_task: FixableTaskMixin
    @property
    def task_distribution(self) -> TaskDistribution:
        """The task distribution p(T) this env samples from."""
        return self._distribution

    def validate_task(self, task: Any) -> Any:
        """``task`` if it is in the distribution's support (``TypeError`` for a wrong type, ``ValueError``
        outside the support)."""
        return self._distribution.check(task, self.env_id)

    def _install_task(self, task: Any) -> None:
        self._task = task
        self._task_parameter[0] = self._distribution.parameter(task)

    def sample_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[Any]:
        """Draw ``n`` tasks from the task distribution with ``rng`` (default: this env's ``np_random``)."""
        check_int("n", n, minimum=0)
        return self._distribution.sample(int(n), as_generator(rng, self.np_random))

    def task_vector(self, task: Any | None = None) -> np.ndarray:
        """The parameters of ``task`` (default: the current task) as a float32 array of shape ``(1,)``."""
        task = self._task if task is None else self._distribution.check(task, self.env_id)
        return self._distribution.task_vector(task)

    # ------------------------------------------------------------------------------------------ the MDP
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the start state; ``options={"task": t}`` fixes ``t`` first (``None``: back to drawing).  With no
        task fixed, the episode's task is drawn with ``np_random`` (after seeding, before the start state)."""
        task = task_option(options, self.env_id)
        if task is not NO_TASK_OPTION:
            self.set_task(task)
        return super().reset(seed=seed)

    def reset_model(self) -> np.ndarray:
        if not self._task_fixed:
            self._install_task(self._distribution.sample(1, self.np_random)[0])
        qpos, qvel = self._mdp.initial_state(self.np_random, self.init_qpos, self.init_qvel)
        self._sim.set_state(0, qpos, qvel)
        return self._mdp.observe(self._sim)[0]

    def _get_reset_info(self) -> dict[str, float]:
        return {key: float(value[0]) for key, value in self._mdp.reset_info(self._sim).items()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        actions = check_actions(action, self._action_shape, self.env_id)[None]
        obs, reward, terminated, info = self._mdp.step(self._sim, actions, self._task_parameter)
        if self.render_mode == "human":
            self.render()
        # truncated is always False: max_episode_steps at registration adds the TimeLimit
        return obs[0], float(reward[0]), bool(terminated[0]), False, {k: float(v[0]) for k, v in info.items()}


# -------------------------------------------------------------------------------------------- vector env
class MetaLocomotionVectorEnv(TaskVectorEnv):
    """Base of the batched locomotion envs: ``B`` ``MjData`` over one ``MjModel``, one task per sub-env.

    Sub-env ``i`` equals the single env with the same task and kwargs, reset with seed ``seed + i`` and given the
    same actions (same :class:`MujocoBatch` stepping, same :class:`LocomotionMDP` maths, same start-state draws
    from its own generator).  Episode bookkeeping (truncation, done-stays-done, info masks) is
    :class:`~envs.vector_base.TaskVectorEnv`'s.  Rendering uses one ``mujoco.Renderer`` for all sub-envs.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int,
        mdp: LocomotionMDP,
        distribution: TaskDistribution,
        *,
        max_episode_steps: int | None,
        render_mode: str | None,
        tasks: Sequence[Any] | None,
        task: Any | None,
        width: int,
        height: int,
        camera_name: str | None,
        num_threads: int,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        check_int("num_envs", num_envs, minimum=1)
        check_int("width", width, minimum=1)
        check_int("height", height, minimum=1)
        check_int("num_threads", num_threads, minimum=1)
        if tasks is not None and task is not None:
            raise ValueError(
                f"pass either tasks= (one per sub-env) or task= (one for all) to {self.env_id}, not both"
            )
        if tasks is None and task is not None:
            tasks = [task] * int(num_envs)
        self._mdp = mdp
        self._distribution = distribution
        self._task_parameter = np.zeros(int(num_envs))
        self._width, self._height, self._camera_name = int(width), int(height), camera_name
        self.model = load_model(mdp.xml_file, width, height)
        self.init_qpos = self.model.qpos0.copy()
        self.init_qvel = np.zeros(self.model.nv)
        self._sim = MujocoBatch(
            self.model,
            [mujoco.MjData(self.model) for _ in range(int(num_envs))],
            mdp.frame_skip,
            contact_forces=mdp.contact_forces,
            num_threads=num_threads,
        )
        self._renderer: mujoco.Renderer | None = None
        low, high = self.model.actuator_ctrlrange.copy().astype(np.float32).T
        single_action_space = spaces.Box(low=low, high=high, dtype=np.float32)
        single_observation_space = spaces.Box(
            low=-np.inf, high=np.inf, shape=(mdp.observation_size(self.model),), dtype=np.float64
        )
        super().__init__(
            int(num_envs),
            single_observation_space,
            single_action_space,
            max_episode_steps=max_episode_steps,
            render_mode=render_mode,
            tasks=tasks,
            autoreset_mode=autoreset_mode,
        )
        self.metadata["render_fps"] = int(np.round(1.0 / self.dt))

    @property
    def dt(self) -> float:
        """Seconds per env step."""
        return self._sim.dt

    @property
    def datas(self) -> tuple[mujoco.MjData, ...]:
        """The ``MjData`` of every sub-env (read them; writing breaks the single-env equivalence)."""
        return tuple(self._sim.datas)

    def set_state(self, index: int, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set sub-env ``index``'s ``qpos``/``qvel`` and run ``mj_forward``, as the single env's ``set_state``.

        The observation returned by the next :meth:`step` reflects it; ``ValueError`` on a bad index or shape.
        """
        if (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < self.num_envs
        ):
            raise ValueError(f"index must be an int in [0, {self.num_envs}) for {self.env_id}, got {index!r}")
        qpos, qvel = _check_state(qpos, qvel, self.model, self.env_id)
        self._sim.set_state(int(index), qpos, qvel, reset_data=False)

    # ------------------------------------------------------------------------------ TaskVectorEnv hooks
    def validate_task(self, task: Any) -> Any:
        return self._distribution.check(task, self.env_id)

    def _sample_tasks(self, n: int, rng: np.random.Generator) -> list[Any]:
        return self._distribution.sample(n, rng)

    def task_vector(self, task: Any) -> np.ndarray:
        return self._distribution.task_vector(self.validate_task(task))

    def _on_tasks_changed(self, indices: np.ndarray) -> None:
        for i in indices:
            self._task_parameter[i] = self._distribution.parameter(self._tasks[i])

    def _reset_envs(self, indices: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        sim, rngs = self._sim, self._env_rngs
        for i in indices:
            qpos, qvel = self._mdp.initial_state(rngs[i], self.init_qpos, self.init_qvel)
            sim.set_state(int(i), qpos, qvel)
        obs = self._mdp.observe(sim, indices)
        info = {key: value[indices] for key, value in self._mdp.reset_info(sim).items()}
        return obs, info

    def _step_envs(
        self, actions: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        indices = None if active.all() else np.flatnonzero(active)
        return self._mdp.step(self._sim, actions, self._task_parameter, indices)

    def _render_env(self, index: int) -> np.ndarray:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=self._height, width=self._width)
        camera = -1 if self._camera_name is None else self._camera_name
        self._renderer.update_scene(self._sim.datas[index], camera=camera)
        return self._renderer.render().copy()

    def close_extras(self, **kwargs: Any) -> None:
        self._sim.close()
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
