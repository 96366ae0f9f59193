"""Meta-World ML1 as a metarl task distribution: ``MetaWorldML1-reach-v3``, ``-push-v3``, ``-pick-place-v3``.

Meta-World (Yu et al. 2019, "Meta-World: A Benchmark and Evaluation for Multi-Task and Meta Reinforcement
Learning", CoRL 2019, arXiv:1910.10897) is a suite of 50 Sawyer-arm manipulation tasks.  Its simplest meta-RL
benchmark, **ML1**, takes one of them (e.g. ``reach-v3``) and varies the initial object and goal positions: 50
*train* variations to meta-train on and 50 held-out *test* variations to adapt to (section 4.3).  The ``-v3`` tasks
and the Gymnasium API are those of Meta-World+ (McLean et al. 2025, "Meta-World+: An Improved, Standardized, RL
Benchmark", NeurIPS 2025 Datasets & Benchmarks, arXiv:2505.11289; PyPI ``metaworld==3.1.1``).

:class:`MetaWorldML1Env` wraps one Meta-World env and one ``metaworld.ML1`` benchmark behind the metarl task
protocol (:mod:`envs.base`), so MAML-TRPO, SB3 and plain Gymnasium code see ML1 as a task distribution:
``sample_tasks`` draws train variations, the optional protocol method ``sample_test_tasks`` draws the held-out
test variations (:func:`envs.base.sample_held_out_tasks` picks it for evaluation), ``set_task`` accepts either.

``metaworld`` is an optional dependency (``pip install "metarl[metaworld]"``; it pins ``mujoco==3.3.0``, so it
lives in its own virtual env, ``make test-metaworld``).  It is imported only when an env is made: importing this
module, :mod:`envs` or :mod:`metarl` never needs it, and without it making an env raises one ``ImportError`` line
that says what to install.  (Importing ``metaworld`` also registers Meta-World's own ``Meta-World/...`` ids.)
"""

from __future__ import annotations

import functools
import math
import pickle
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import error, spaces
from gymnasium.utils import EzPickle
from numpy.typing import NDArray

from envs.base import (
    NO_TASK_OPTION,
    FixableTaskMixin,
    as_generator,
    can_render,
    check_actions,
    check_int,
    check_task_type,
    task_option,
)
from envs.vector_base import check_task_count

__all__ = [
    "DEFAULT_CAMERA",
    "INSTALL_HINT",
    "SPLITS",
    "ML1Task",
    "MetaWorldML1Env",
    "import_metaworld",
    "ml1_benchmark",
]

#: the one line raised when ``metaworld`` cannot be imported
INSTALL_HINT = (
    'Meta-World is not installed: pip install "metarl[metaworld]" (it pins mujoco==3.3.0, so give it its own '
    "virtual env; `make test-metaworld` builds .venv-metaworld)"
)
#: the two task sets of an ML1 benchmark
SPLITS: tuple[str, ...] = ("train", "test")
#: default camera: a fixed corner view that shows the whole arm, the table and the goal (reach-v3, push-v3)
DEFAULT_CAMERA = "corner3"


def import_metaworld() -> ModuleType:
    """``import metaworld``, or an ``ImportError`` whose one line says how to install it."""
    try:
        import metaworld
    except ModuleNotFoundError as exc:  # metaworld itself, or one of its own dependencies (e.g. packaging)
        raise ImportError(f"{INSTALL_HINT} [import metaworld failed: no module named {exc.name!r}]") from None
    return metaworld


@functools.lru_cache(maxsize=16)
def ml1_benchmark(env_name: str, benchmark_seed: int) -> Any:
    """``metaworld.ML1(env_name, seed=benchmark_seed)``, built once per process (it resets a Meta-World env 100
    times to draw its variations: seconds).  Train variations come from ``benchmark_seed``, test variations from
    ``benchmark_seed + 1`` (Meta-World's rule), drawn with the global NumPy state saved and restored around them.

    :raises ImportError: without ``metaworld`` (:data:`INSTALL_HINT`).
    :raises ValueError: naming ``env_name`` and listing the valid ML1 names.
    """
    metaworld = import_metaworld()
    names = list(metaworld.ML1.ENV_NAMES)
    if env_name not in names:
        raise ValueError(f"env_name {env_name!r} is not a Meta-World ML1 task; valid names: {', '.join(names)}")
    return metaworld.ML1(env_name, seed=benchmark_seed)


def _finite_floats(value: Any, owner: str) -> tuple[float, ...]:
    """``value`` as a non-empty tuple of finite Python floats, or a ``TypeError`` / ``ValueError`` naming it."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{owner} must be a sequence of numbers, got {type(value).__name__}: {value!r}")
    try:
        floats = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner} must be a sequence of numbers, got {value!r}") from None
    if not floats or not all(math.isfinite(v) for v in floats):
        raise ValueError(f"{owner} must be a non-empty sequence of finite numbers, got {value!r}")
    return floats


@dataclass(frozen=True)
class ML1Task:
    """One ML1 variation: variation ``index`` of the ``split`` ("train" or "test") task list of ``env_name``.

    ``rand_vec`` is Meta-World's random vector of that variation, which fixes the start of every episode: the
    initial object position then the goal position (for ``reach-v3``, ``push-v3`` and ``pick-place-v3``:
    object ``xyz`` then goal ``xyz``).  Get tasks from an env (:meth:`MetaWorldML1Env.sample_tasks`,
    :meth:`~MetaWorldML1Env.sample_test_tasks`, :attr:`~MetaWorldML1Env.train_tasks`,
    :attr:`~MetaWorldML1Env.test_tasks`); an env accepts a task only if it is exactly one of its own (same task
    name, split, index and positions, i.e. the same ``benchmark_seed``).
    """

    env_name: str
    split: str
    index: int
    rand_vec: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.env_name, str):
            raise TypeError(f"ML1Task.env_name must be a str, got {type(self.env_name).__name__}: {self.env_name!r}")
        if self.split not in SPLITS:
            raise ValueError(f"ML1Task.split must be one of {SPLITS}, got {self.split!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)):
            raise TypeError(f"ML1Task.index must be an int, got {type(self.index).__name__}: {self.index!r}")
        if self.index < 0:
            raise ValueError(f"ML1Task.index must be >= 0, got {self.index}")
        object.__setattr__(self, "index", int(self.index))
        object.__setattr__(self, "rand_vec", _finite_floats(self.rand_vec, "ML1Task.rand_vec"))

    def describe(self) -> str:
        """A caption for rendered frames (see :func:`envs.base.describe_task`)."""
        return f"{self.env_name}, {self.split} variation {self.index}"


def _draw(tasks: tuple[ML1Task, ...], n: int, rng: np.random.Generator) -> list[ML1Task]:
    """``n`` tasks from the finite list ``tasks``: successive random permutations, so a draw repeats no task until
    every task has been drawn (a meta-batch of 20 holds 20 distinct variations); each draw is uniform."""
    picks: list[int] = []
    while len(picks) < n:
        picks.extend(int(i) for i in rng.permutation(len(tasks))[: n - len(picks)])
    return [tasks[i] for i in picks]


class MetaWorldML1Env(FixableTaskMixin, gym.Env[NDArray[np.float64], NDArray[np.float32]], EzPickle):
    """One Meta-World ML1 benchmark as a task distribution (``MetaWorldML1-reach-v3``, ``-push-v3``,
    ``-pick-place-v3``; any of the 50 task names through ``env_name=``).

    ## Description
    A simulated Sawyer arm on a table must ``reach`` a goal with its gripper, ``push`` a puck to a goal, or
    ``pick-place`` a puck at a goal in the air, etc. (Yu et al. 2019, Meta-World, section 4; the ``-v3`` tasks and
    Gymnasium API of Meta-World+, McLean et al. 2025).  An ML1 *task* (:class:`ML1Task`) is one variation of the
    initial object and goal positions: ``metaworld.ML1(env_name, seed=benchmark_seed)`` draws 50 train and 50
    held-out test variations.  The goal is not observed, so the policy has to find it from rewards.  Each step is
    Meta-World's own ``SawyerXYZEnv.step`` (the wrapped env is ``self.metaworld_env``).

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: the end-effector displacement ``(dx, dy, dz)`` (times 1 cm) and the gripper
    torque.  A finite action outside the box is clipped to it (what Meta-World and MuJoCo's control range do
    anyway); a wrong shape or a NaN/inf raises ``ValueError``.

    ## Observation Space
    Meta-World's 39-d ``Box`` (float64): hand ``xyz``, gripper opening, up to two objects' position and
    quaternion (14, zero-padded), the same 18 values of the previous step, and 3 goal values that ML1 zeroes
    (``partially_observable``); the goal never enters the observation.  (Gymnasium's passive checker warns once per
    ``make`` that some bounds are equal: those 3 zeroed goal values.)

    ## Rewards
    Meta-World's reward for the task (``reward_function_version="v2"``, in ``[0, 10]``; ``"v1"`` gives the
    original CoRL 2019 rewards, see Meta-World+ section 4).  ``info`` is Meta-World's, as floats:
    ``success`` (1.0 when the task's success criterion holds at this step, e.g. ``reach-v3``: gripper within 5 cm
    of the goal), ``near_object``, ``grasp_success``, ``grasp_reward``, ``in_place_reward``, ``obj_to_target``,
    ``unscaled_reward``.  Meta-World scores an episode as a success if ``info["success"]`` is 1 at any step.

    ## Starting State
    Deterministic given the task: Meta-World moves the hand to its start pose and puts the object and goal where
    the task's ``rand_vec`` says.  With no task fixed, ``reset`` first draws the episode's task uniformly from the
    50 train variations with ``np_random`` (so ``reset(seed=s)`` reproduces tasks and observations).

    ## Episode End
    - Termination: never (Meta-World does not end an episode on success).
    - Truncation: after 500 steps, Meta-World's ``max_path_length``, by the TimeLimit that ``max_episode_steps``
      at registration adds; the env itself never truncates (any ``max_episode_steps`` works).

    ## Task distribution
    ``ML1Task(env_name, split, index, rand_vec)``.  ``sample_tasks(n, rng)`` draws train variations,
    ``sample_test_tasks(n, rng)`` held-out test variations (an optional protocol method: see
    :func:`envs.base.sample_held_out_tasks`); both go through random permutations of the 50, so up to 50 draws are
    distinct.  ``train_tasks`` / ``test_tasks`` list all 50 of each.  ``set_task`` accepts either split (``reset``
    draws only train variations); the new task takes effect at the next ``reset``, where Meta-World places the
    object and goal.  ``task_vector(task)`` is ``rand_vec`` (float32) and ``task_space`` its ``Box``.  A task of
    another ML1 benchmark (other name, split, index out of range, other positions) raises ``ValueError``, another
    type ``TypeError``.

    ## Arguments
    | Parameter | Type | Default | Description |
    |---|---|---|---|
    | ``env_name`` | str | ``"reach-v3"`` | Meta-World task name (``ValueError`` lists the 50 valid ones) |
    | ``task`` | ML1Task \\| None | None | a fixed task; ``None``: draw a train variation per reset |
    | ``benchmark_seed`` | int | 0 | seed of ``metaworld.ML1``: train variations from it, test from it + 1 |
    | ``reward_function_version`` | str | ``"v2"`` | Meta-World's reward, ``"v2"`` or ``"v1"`` |
    | ``render_mode`` | str \\| None | None | ``"rgb_array"`` renders headless (``MUJOCO_GL=egl``) |
    | ``camera_name`` | str \\| None | ``"corner3"`` | a camera of the Meta-World model (``None``: free camera) |
    | ``width``, ``height`` | int | 480 | frame size in pixels |

    Meta-World's fixed ``corner*`` cameras look at the table upside down (their image "up" axis points down in the
    world); frames from any camera whose up axis points below the horizon are turned by 180 degrees.

    Task protocol (:mod:`envs.base`): with no task fixed, every reset draws a train variation; ``set_task(t)``,
    ``env.task = t``, ``reset(options={"task": t})`` or ``task=t`` fix ``t`` until changed; ``set_task(None)`` /
    ``reset(options={"task": None})`` go back to drawing; other reset option keys raise ``ValueError``.  There is
    no native batched form: ``gymnasium.make_vec(id, num_envs=B, vectorization_mode="sync")`` (or the library's
    generic batching) steps ``B`` copies.

    ## Version History
    - v3: Meta-World's ``-v3`` tasks (``metaworld==3.1.1``), ``MetaWorldML1-<task>``.

    Source: Yu et al. (2019), Meta-World, CoRL 2019 (arXiv:1910.10897), section 4.3 (ML1) and App. D.7;
    McLean et al. (2025), Meta-World+, NeurIPS 2025 Datasets & Benchmarks (arXiv:2505.11289).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 80}

    def __init__(
        self,
        env_name: str = "reach-v3",
        task: ML1Task | None = None,
        benchmark_seed: int = 0,
        reward_function_version: str = "v2",
        render_mode: str | None = None,
        camera_name: str | None = DEFAULT_CAMERA,
        width: int = 480,
        height: int = 480,
    ) -> None:
        EzPickle.__init__(
            self,
            env_name=env_name,
            task=task,
            benchmark_seed=benchmark_seed,
            reward_function_version=reward_function_version,
            render_mode=render_mode,
            camera_name=camera_name,
            width=width,
            height=height,
        )
        if not isinstance(env_name, str):
            raise TypeError(f"env_name must be a str, got {type(env_name).__name__}: {env_name!r}")
        self.env_id = f"MetaWorldML1-{env_name}"
        check_int("benchmark_seed", benchmark_seed, minimum=0)
        check_int("width", width, minimum=1)
        check_int("height", height, minimum=1)
        if reward_function_version not in ("v1", "v2"):
            raise ValueError(
                f"reward_function_version must be 'v1' or 'v2' for {self.env_id}, got {reward_function_version!r}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']} for {self.env_id}, "
                f"got {render_mode!r}"
            )
        benchmark = ml1_benchmark(env_name, int(benchmark_seed))
        self.env_name = env_name
        self.render_mode = render_mode
        self._metaworld_tasks = {"train": list(benchmark.train_tasks), "test": list(benchmark.test_tasks)}
        self._tasks = {
            split: tuple(_as_ml1_task(env_name, split, i, mw) for i, mw in enumerate(self._metaworld_tasks[split]))
            for split in SPLITS
        }
        self.metaworld_env = benchmark.train_classes[env_name](
            reward_function_version=reward_function_version,
            render_mode=render_mode,
            camera_name=camera_name,
            width=int(width),
            height=int(height),
        )
        # the TimeLimit of the registration truncates; Meta-World's own limit would raise past 500 steps
        self.metaworld_env.max_path_length = np.iinfo(np.int64).max
        self._camera_id = _camera_id(self.metaworld_env.model, camera_name, self.env_id)
        self.metadata = {**type(self).metadata, "render_fps": int(round(1.0 / self.metaworld_env.dt))}
        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.observation_space = self.metaworld_env.observation_space
        reset_space = self.metaworld_env._random_reset_space
        self.task_space = spaces.Box(
            reset_space.low.astype(np.float32), reset_space.high.astype(np.float32), dtype=np.float32
        )
        self._task: ML1Task | None = None
        self._task_fixed = False
        self._needs_reset = True
        if task is not None:
            self.set_task(task)

    # --------------------------------------------------------------------------------------------- task API
    @property
    def train_tasks(self) -> tuple[ML1Task, ...]:
        """The 50 meta-training variations of this benchmark, in Meta-World's order."""
        return self._tasks["train"]

    @property
    def test_tasks(self) -> tuple[ML1Task, ...]:
        """The 50 held-out meta-test variations of this benchmark, in Meta-World's order."""
        return self._tasks["test"]

    def validate_task(self, task: Any) -> ML1Task:
        """``task`` if it is one of this benchmark's variations; ``TypeError`` / ``ValueError`` otherwise."""
        check_task_type(task, ML1Task, self.env_id)
        if task.env_name != self.env_name:
            raise ValueError(f"task is for {task.env_name!r}, this env is {self.env_id}: {task!r}")
        tasks = self._tasks[task.split]
        if task.index >= len(tasks):
            raise ValueError(
                f"task index {task.index} is outside the {len(tasks)} {task.split} variations of {self.env_id}"
            )
        if task != tasks[task.index]:
            raise ValueError(
                f"task {task!r} is not {task.split} variation {task.index} of {self.env_id} "
                f"({tasks[task.index]!r}); was it drawn with another benchmark_seed?"
            )
        return task

    def _install_task(self, task: ML1Task) -> None:
        self._task = task
        self.metaworld_env.set_task(self._metaworld_tasks[task.split][task.index])

    def sample_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[ML1Task]:
        """Draw ``n`` of the 50 train variations with ``rng`` (default: this env's ``np_random``); up to 50 draws
        are distinct (random permutations)."""
        return _draw(self.train_tasks, check_task_count(n), as_generator(rng, self.np_random))

    def sample_test_tasks(self, n: int, rng: np.random.Generator | int | None = None) -> list[ML1Task]:
        """Draw ``n`` of the 50 held-out test variations, like :meth:`sample_tasks` (the optional protocol method
        evaluation uses through :func:`envs.base.sample_held_out_tasks`)."""
        return _draw(self.test_tasks, check_task_count(n), as_generator(rng, self.np_random))

    def task_vector(self, task: ML1Task | None = None) -> NDArray[np.float32]:
        """The task's ``rand_vec`` (initial object position, goal position) as float32; default: the current
        task."""
        task = self._task if task is None else self.validate_task(task)
        if task is None:
            raise RuntimeError(f"{self.env_id} has no task yet; reset it or call set_task first")
        return np.asarray(task.rand_vec, dtype=np.float32)

    # ---------------------------------------------------------------------------------------------- the MDP
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """Meta-World's reset for the episode's task.  ``options={"task": t}`` fixes ``t`` first (``None``: back
        to drawing); with no task fixed, a train variation is drawn with ``np_random``."""
        task = task_option(options, self.env_id)
        super().reset(seed=seed)
        if task is not NO_TASK_OPTION:
            self.set_task(task)
        if not self._task_fixed:
            index = int(self.np_random.integers(len(self.train_tasks)))
            self._install_task(self.train_tasks[index])
        obs, info = self.metaworld_env.reset()
        self._needs_reset = False
        return np.asarray(obs, dtype=np.float64), dict(info)

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float64], float, bool, bool, dict[str, float]]:
        """Meta-World's step with the (clipped) action; never terminates or truncates (see Episode End)."""
        if self._needs_reset:
            raise error.ResetNeeded(f"Cannot call {self.env_id} step() before reset()")
        action = np.clip(check_actions(action, (4,), self.env_id), -1.0, 1.0)
        obs, reward, _, _, info = self.metaworld_env.step(action)
        return (
            np.asarray(obs, dtype=np.float64),
            float(reward),
            False,
            False,
            {key: float(value) for key, value in info.items()},
        )

    def render(self) -> NDArray[np.uint8] | None:
        """An ``(height, width, 3)`` uint8 frame from ``camera_name`` (upright; see Arguments)."""
        if not can_render(self):
            return None
        frame = np.asarray(self.metaworld_env.render())
        if self._camera_id is not None and self.metaworld_env.data.cam_xmat[self._camera_id][7] < 0.0:
            frame = frame[::-1, ::-1]  # the camera's image "up" axis (xmat column 1) points down: turn 180 degrees
        return np.ascontiguousarray(frame)

    def close(self) -> None:
        self.metaworld_env.close()
        super().close()


def _as_ml1_task(env_name: str, split: str, index: int, metaworld_task: Any) -> ML1Task:
    """The :class:`ML1Task` of Meta-World's ``Task(env_name, data)`` (``data`` pickles its ``rand_vec``)."""
    rand_vec = np.asarray(pickle.loads(metaworld_task.data)["rand_vec"], dtype=np.float64)
    return ML1Task(env_name=env_name, split=split, index=index, rand_vec=tuple(rand_vec.tolist()))


def _camera_id(model: Any, camera_name: str | None, env_id: str) -> int | None:
    """The model id of ``camera_name`` (``None`` for the free camera); ``ValueError`` listing the model's cameras."""
    if camera_name is None:
        return None
    import mujoco  # present whenever metaworld is

    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
    if camera_name not in names:
        raise ValueError(f"camera_name {camera_name!r} is not a camera of {env_id}; valid: {names} or None")
    return names.index(camera_name)
