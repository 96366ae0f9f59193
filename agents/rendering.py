"""Watch adaptation happen: rollout videos of a MAML-TRPO policy after 0, 1, ..., N gradient steps on one task.

For one held-out task the policy is adapted exactly as the evaluation protocol does it (MAML paper, section 5.3 and
App. A.2; :func:`agents.evaluation.evaluate_adaptation`): sample ``R`` rollouts of the task with the current
parameters, fit the linear feature baseline, compute GAE advantages, take one first-order REINFORCE step (step size
0.1 for the first step, 0.05 after), repeat on fresh rollouts.  The parameters before adaptation and after every
step are then played once each in a ``render_mode="rgb_array"`` env with the policy's **mean** action
(deterministic, clipped to the action space), from the same initial state, and written as

* ``step0.mp4 ... stepN.mp4`` — one clip per gradient step (``step0`` = pre-update), each labelled
  ``step k | return R`` (the return of that deterministic episode) over the task's caption
  (:func:`envs.base.describe_task`: ``goal velocity 1.27 m/s``, ``run backward (-x)``, ``goal (0.12, -0.30)``);
* ``adaptation_tiled.mp4`` — all steps side by side (:func:`metarl.video.save_adaptation_videos`);
* ``trajectories.png`` — for the 2D navigation envs, the goal and the trajectories before and after 1..N steps on
  one plot, like the bottom row of the MAML paper's Fig. 4;
* ``summary.json`` — the task, the step sizes, the clip returns (and ``clip_success`` when the env reports
  ``info["success"]``, e.g. Meta-World) and the mean return of the rollouts each adaptation step learned from.

The default task is task ``task_index`` of the evaluation set (:func:`agents.evaluation.held_out_tasks` with the
evaluation seed), so ``task_index=0`` shows the first task the adaptation curve is measured on.

>>> paths = render_adaptation("runs/maml_trpo/best.pt", "videos/MetaNav2D-v0", steps=3)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import gymnasium
import numpy as np
import torch

import metarl  # noqa: F401  (registers the env ids)
from agents import paper_settings
from agents.evaluation import EvaluationConfig, adaptation_steps, held_out_tasks
from agents.maml_trpo import Extensions
from agents.training import checkpoint_extensions, load_policy
from envs.base import describe_task
from envs.protocol import env_spec
from metarl import maml
from metarl.jsonio import json_ready
from metarl.progress import progress
from metarl.rl.policy import GaussianMLPPolicy, env_actions
from metarl.rl.sampler import PolicyRollouts
from metarl.video import Frame, record_rollout, save_adaptation_videos, use_headless_gl

__all__ = [
    "DEFAULT_STEP_SIZES",
    "DEFAULT_TASK_SEED",
    "LOCOMOTION_TILE_SIZE",
    "AdaptationTrace",
    "adapted_params_per_step",
    "adaptation_trace",
    "render_adaptation",
]

#: Seed of the held-out task set: the evaluation's (so task ``i`` here is task ``i`` of the adaptation curve).
DEFAULT_TASK_SEED: int = EvaluationConfig.seed
#: Tile ``(width, height)`` of the tiled clip for the MuJoCo envs (their frames are 480x480 by default).
LOCOMOTION_TILE_SIZE: tuple[int, int] = (240, 240)
#: Step sizes of the adaptation steps at evaluation (paper App. A.2: 0.1 for the first step, 0.05 after).
DEFAULT_STEP_SIZES: tuple[float, ...] = tuple(EvaluationConfig().step_sizes)
#: Env ids whose observation is the point's (x, y) position and whose task has a ``goal``: a trajectory plot is drawn.
NAVIGATION_ENVS: tuple[str, ...] = ("MetaNav2D-v0", "MetaNav2DFamily-v0")

PathLike = str | os.PathLike[str]
#: Half-width of the trajectory plot's view (as the MetaNav2D frames: the goal square plus a margin).
_NAV_VIEW = 0.6


class AdaptationTrace(NamedTuple):
    """What :func:`adaptation_trace` returns.

    :ivar params: ``steps + 1`` parameter dicts (detached, unstacked): ``params[0]`` is θ, ``params[k]`` the
        parameters after ``k`` REINFORCE steps on the task.
    :ivar sampled_returns: ``steps`` numbers: the mean return of the ``R`` stochastic rollouts that step ``k`` learned
        from (sampled with ``params[k]``); the same numbers :func:`agents.evaluation.evaluate_adaptation` reports.
    :ivar step_sizes: the step size used for each of the ``steps`` steps.
    """

    params: list[maml.Params]
    sampled_returns: list[float]
    step_sizes: list[float]


# --------------------------------------------------------------------------------------------- validation
def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_optional_int(name: str, value: Any, minimum: int) -> int | None:
    return None if value is None else _check_int(name, value, minimum)


def _check_step_sizes(step_sizes: Any) -> tuple[float, ...]:
    if isinstance(step_sizes, (str, bytes)) or not isinstance(step_sizes, Sequence) or len(step_sizes) == 0:
        raise ValueError(f"step_sizes must be a non-empty sequence of numbers > 0, got {step_sizes!r}")
    out = []
    for i, value in enumerate(step_sizes):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"step_sizes[{i}] must be a finite number > 0, got {value!r}")
        out.append(float(value))
    return tuple(out)


def _check_env_id(env_id: Any) -> str:
    env_spec(env_id)  # ValueError naming an unknown id; "module:Id" imports the module
    return env_id


# --------------------------------------------------------------------------------------------- adaptation
def _adapt_on_task(
    policy: GaussianMLPPolicy,
    rollouts: PolicyRollouts,
    task: Any,
    steps: int,
    config: EvaluationConfig,
    params: maml.Params | None,
    show_progress: bool,
) -> AdaptationTrace:
    """The evaluation's adaptation loop for ONE task (``rollouts`` has one task); see :func:`adaptation_trace`.

    Runs :func:`agents.evaluation.adaptation_steps`, the very loop evaluation uses, so with the same seed, task
    and rollouts a one-task evaluation samples the very same episodes.
    """
    trace = AdaptationTrace([], [], [])
    bar = progress(
        adaptation_steps(policy, rollouts, [task], config, params, num_steps=steps),
        desc=f"adapt {rollouts.env_id}", total=steps + 1, disable=None if show_progress else True,
    )
    for k, episodes, stacked in bar:
        trace.params.append({name: value[0].clone() for name, value in stacked.items()})
        if k == steps:
            break
        trace.sampled_returns.append(float(episodes.mean_returns().mean()))
        trace.step_sizes.append(config.step_size(k))
        bar.set_postfix(sampled_return=f"{trace.sampled_returns[-1]:.1f}")
    return trace


def adaptation_trace(
    policy: GaussianMLPPolicy,
    env_id: str,
    task: Any,
    steps: int,
    step_sizes: Sequence[float] = DEFAULT_STEP_SIZES,
    rollouts: int | None = None,
    seed: int = 0,
    *,
    params: maml.Params | None = None,
    gamma: float = EvaluationConfig.gamma,
    gae_lambda: float = EvaluationConfig.gae_lambda,
    workers: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    show_progress: bool = True,
) -> AdaptationTrace:
    """Adapt ``policy`` to ``task`` for ``steps`` REINFORCE steps as the evaluation does; keep every step's params.

    Step ``k`` samples ``rollouts`` fresh episodes of ``task`` with the current parameters, fits the linear feature
    baseline (Duan et al. 2016) on them, computes GAE(γ, λ) advantages normalised per task and takes
    θ_{k+1} = θ_k − α_k ∇ L_REINFORCE(θ_k) (first order, MAML paper Alg. 3 lines 6-7), α_k from ``step_sizes``
    (the last value repeats).

    :param policy: the (meta-trained) policy; its live parameters are the starting point unless ``params`` is given.
    :param env_id: the task-distribution env id the rollouts are sampled in.
    :param task: a task of that env (e.g. from ``env.unwrapped.sample_tasks``).
    :param steps: number of adaptation steps (>= 0).
    :param step_sizes: step sizes (> 0) per step; the last value repeats (paper: 0.1 then 0.05).
    :param rollouts: rollouts per step; None = the paper's evaluation value (40 navigation, 20 locomotion).
    :param seed: seed of the env resets and action noise (same derivation as :class:`EvaluationConfig.seed`).
    :param params: start from these parameters instead of the policy's own.
    :param gamma: discount of the advantages.
    :param gae_lambda: GAE λ.
    :param workers: sampler processes.
    :param env_kwargs: extra env constructor kwargs.
    :param show_progress: progress bar over the steps.
    """
    env_id = _check_env_id(env_id)
    steps = _check_int("steps", steps, 0)
    rollouts = _check_optional_int("rollouts", rollouts, 1)
    config = EvaluationConfig(
        num_tasks=1,
        num_steps=steps,
        step_sizes=_check_step_sizes(step_sizes),
        rollouts_per_task=rollouts,
        gamma=gamma,
        gae_lambda=gae_lambda,
        seed=_check_int("seed", seed, 0),
        workers=_check_int("workers", workers, 1),
        env_kwargs=dict(env_kwargs or {}),
    )
    dtype = next(policy.parameters()).dtype
    sampler = PolicyRollouts(
        env_id, 1, rollouts or paper_settings.eval_rollouts(env_id), config.workers, config.env_kwargs, dtype=dtype
    )
    try:
        return _adapt_on_task(policy, sampler, task, steps, config, params, show_progress)
    finally:
        sampler.close()


def adapted_params_per_step(
    policy: GaussianMLPPolicy,
    env_id: str,
    task: Any,
    steps: int,
    step_sizes: Sequence[float] = DEFAULT_STEP_SIZES,
    rollouts: int | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> list[maml.Params]:
    """The parameters before adaptation and after each of ``steps`` REINFORCE steps on ``task``
    (``steps + 1`` detached dicts); see :func:`adaptation_trace` for the arguments (``kwargs`` are passed on)."""
    return adaptation_trace(policy, env_id, task, steps, step_sizes, rollouts, seed, **kwargs).params


# ---------------------------------------------------------------------------------------------- rendering
class _RecordObservations(gymnasium.Wrapper):
    """Keeps the observations of the current episode (reset observation first) and whether it succeeded: ``None``
    when the env reports no ``info["success"]``, else True once any step's flag is set (Meta-World's measure)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.observations: list[np.ndarray] = []
        self.succeeded: bool | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.observations = [np.array(obs, copy=True)]
        self.succeeded = None
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.observations.append(np.array(obs, copy=True))
        if "success" in info:
            self.succeeded = bool(self.succeeded) or bool(info["success"])
        return obs, reward, terminated, truncated, info


def _mean_action_fn(
    policy: GaussianMLPPolicy, params: maml.Params, space: gymnasium.spaces.Box
) -> Callable[[np.ndarray], np.ndarray]:
    """obs -> the policy's mean action under ``params``, clipped to the env's action space as the samplers do
    (:func:`metarl.rl.policy.env_actions`; deterministic video)."""
    low, high = space.low, space.high

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean = policy(torch.as_tensor(np.asarray(obs)), params).mean
        return env_actions(mean.to(torch.float64).numpy(), low, high).astype(space.dtype)

    return act


def _plot_navigation(
    trajectories: Sequence[np.ndarray], goal: Sequence[float], returns: Sequence[float], title: str, path: Path
) -> Path:
    """Goal and trajectories before and after 1..N steps on one plot (MAML paper Fig. 4, bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 5.6))
    ax.add_patch(plt.Rectangle((-0.5, -0.5), 1.0, 1.0, fill=False, color="0.7", linestyle=":", linewidth=1))
    ax.plot([trajectories[0][0, 0]], [trajectories[0][0, 1]], "ks", markersize=6, label="start")
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(trajectories), 2)))
    for k, (trajectory, ret) in enumerate(zip(trajectories, returns)):
        name = "pre-update" if k == 0 else f"{k} step" + ("s" if k > 1 else "")
        leaves = " - leaves the view" if np.abs(trajectory).max() > _NAV_VIEW else ""
        ax.plot(trajectory[:, 0], trajectory[:, 1], "-", color=colors[k], linewidth=1.6,
                label=f"{name} (return {ret:.1f}){leaves}")
        ax.plot(trajectory[-1, 0], trajectory[-1, 1], "o", color=colors[k], markersize=4)
    ax.plot([goal[0]], [goal[1]], "r*", markersize=14, label="goal position")
    # the same view as the video frames: the goal square [-0.5, 0.5]^2 with a margin
    ax.set_xlim(-_NAV_VIEW, _NAV_VIEW)
    ax.set_ylim(-_NAV_VIEW, _NAV_VIEW)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _disable_shadows(env: gymnasium.Env) -> None:
    """Turn off MuJoCo's shadows and reflections (about 7x faster CPU rendering through EGL; no-op for
    non-MuJoCo envs).  Uses the viewer of Gymnasium's ``MujocoRenderer``, created here if needed."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None:
        return
    import mujoco

    scene = renderer._get_viewer("rgb_array").scn  # Gymnasium keeps one offscreen viewer per render mode
    scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
    scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0


def _fit_tile(width: int, height: int, bound: tuple[int, int]) -> tuple[int, int] | None:
    """The frame size shrunk (aspect kept) to fit ``bound``; None if it already fits (no upscaling)."""
    scale = min(bound[0] / width, bound[1] / height)
    if scale >= 1.0:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_adaptation(
    checkpoint: PathLike,
    out_dir: PathLike,
    steps: int = 3,
    task_index: int = 0,
    seed: int = 0,
    fmt: Literal["mp4", "gif"] = "mp4",
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
    tile_size: tuple[int, int] | None = None,
    *,
    env_id: str | None = None,
    max_steps: int | None = None,
    rollouts: int | None = None,
    step_sizes: Sequence[float] = DEFAULT_STEP_SIZES,
    task_seed: int = DEFAULT_TASK_SEED,
    workers: int = 1,
    show_progress: bool = True,
    shadows: bool = False,
    extensions: Extensions | None = None,
) -> list[Path]:
    """Render a MAML-TRPO checkpoint adapting to one held-out task: one clip per gradient step plus a tiled clip.

    :param checkpoint: a MAML-TRPO checkpoint (``best.pt`` / ``last.pt`` of a training run).
    :param out_dir: output directory (created).
    :param steps: adaptation steps N; clips are written for 0..N steps.
    :param task_index: which task of the held-out set (drawn as :func:`agents.evaluation.held_out_tasks` does with
        ``task_seed``): 0 is the first task of the evaluation.
    :param seed: seed of the adaptation rollouts (env resets, action noise) and of the videos' initial state
        (every clip starts from the same state).
    :param fmt: ``"mp4"`` or ``"gif"``.
    :param fps: frames per second; None = the env's ``render_fps`` (10 for navigation, 20 for the MuJoCo envs).
    :param width: rendered frame width in pixels; None = the env's default (256 navigation, 480 MuJoCo).
    :param height: rendered frame height in pixels; None = the env's default.
    :param tile_size: ``(width, height)`` of each tile of the tiled clip; None = the frame size, except for the
        MuJoCo envs, whose frames are shrunk to fit :data:`LOCOMOTION_TILE_SIZE` (240x240) to keep memory sane.
    :param env_id: if given, the checkpoint's env must be this one (else ``ValueError``).
    :param max_steps: render at most this many env steps per clip (a shorter preview; the label's return is over
        the steps shown); None = the whole episode (the env's horizon: 100 navigation, 200 MuJoCo). The adaptation
        rollouts always use the full horizon.
    :param rollouts: rollouts per adaptation step; None = the paper's evaluation value (40 nav, 20 locomotion).
    :param step_sizes: step size per adaptation step, the last repeating (paper: 0.1 then 0.05).
    :param task_seed: seed of the held-out task set (default: the evaluation's).
    :param workers: sampler processes for the adaptation rollouts.
    :param show_progress: progress bars over the adaptation and rendering steps.
    :param shadows: keep MuJoCo's shadows and reflections (off by default: ~7x faster rendering on CPU).
    :param extensions: those the checkpoint was trained with (checked by name); their ``env_wrappers`` wrap both the
        batched env of the adaptation rollouts and the single rendered env, so each must accept either.
    :return: the written files: ``step0.{fmt}`` .. ``stepN.{fmt}``, ``adaptation_tiled.{fmt}``, then
        ``trajectories.png`` (navigation envs only) and ``summary.json``.
    :raises FileNotFoundError: if ``checkpoint`` does not exist.
    :raises metarl.checkpoint.CheckpointError: if it is not a usable MAML-TRPO checkpoint.
    :raises ValueError: naming the bad argument, or if the checkpoint's env is not ``env_id``.
    """
    use_headless_gl()  # MUJOCO_GL=egl unless the user chose a backend (before MuJoCo is imported)
    # validate everything cheap before loading, sampling or rendering anything
    steps = _check_int("steps", steps, 0)
    task_index = _check_int("task_index", task_index, 0)
    seed = _check_int("seed", seed, 0)
    task_seed = _check_int("task_seed", task_seed, 0)
    if fmt not in ("mp4", "gif"):
        raise ValueError(f"fmt must be 'mp4' or 'gif', got {fmt!r}")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not fps > 0):
        raise ValueError(f"fps must be a positive number or None, got {fps!r}")
    width = _check_optional_int("width", width, 1)
    height = _check_optional_int("height", height, 1)
    if tile_size is not None:
        if isinstance(tile_size, (str, bytes)) or not isinstance(tile_size, Sequence) or len(tile_size) != 2:
            raise ValueError(f"tile_size must be a (width, height) pair of positive ints, got {tile_size!r}")
        tile_size = (_check_int("tile_size[0] (width)", tile_size[0], 1),
                     _check_int("tile_size[1] (height)", tile_size[1], 1))
    step_sizes = _check_step_sizes(step_sizes)
    max_steps = _check_optional_int("max_steps", max_steps, 1)
    checkpoint = Path(checkpoint)

    trained_with = checkpoint_extensions(checkpoint)
    extensions = extensions or Extensions()
    if trained_with != extensions.name:
        raise ValueError(f"checkpoint {checkpoint} was trained with extensions {trained_with!r}, "
                         f"got {extensions.name!r} (reproductions/ supply theirs)")
    wrappers = extensions.env_wrappers
    policy, train_config = load_policy(checkpoint)
    trained_env = train_config.env_id
    if env_id is not None and env_id != trained_env:
        raise ValueError(f"checkpoint {checkpoint} was trained on {trained_env}, not on the requested env {env_id}")
    env_kwargs = dict(train_config.env_kwargs)
    n_rollouts = _check_optional_int("rollouts", rollouts, 1) or paper_settings.eval_rollouts(trained_env)
    eval_config = EvaluationConfig(
        num_tasks=1,
        num_steps=steps,
        step_sizes=step_sizes,
        rollouts_per_task=n_rollouts,
        seed=seed,
        workers=_check_int("workers", workers, 1),
        env_kwargs=env_kwargs,
    )

    # 1. the task (task `task_index` of the held-out set) and the adapted parameters after 0..N steps
    sampler = PolicyRollouts(trained_env, 1, n_rollouts, eval_config.workers, env_kwargs,
                             dtype=next(policy.parameters()).dtype, env_wrappers=wrappers)
    try:
        task_set = EvaluationConfig(num_tasks=max(EvaluationConfig.num_tasks, task_index + 1), seed=task_seed)
        task = held_out_tasks(sampler, task_set)[task_index]
        trace = _adapt_on_task(policy, sampler, task, steps, eval_config, None, show_progress)
    finally:
        sampler.close()

    # 2. one deterministic episode per step, all from the same initial state
    size = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
    render_env = gymnasium.make(trained_env, render_mode="rgb_array", **env_kwargs, **size)
    for wrap in wrappers:
        render_env = wrap(render_env)
    env = _RecordObservations(render_env)
    env.unwrapped.set_task(task)  # the task protocol's set_task: the clips all play this task
    if not shadows:
        _disable_shadows(env)
    video_seed = int(np.random.SeedSequence(seed).spawn(4)[3].generate_state(1)[0] % (2**31 - 1))
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    if horizon is None:
        raise ValueError(f"{trained_env} has no max_episode_steps; cannot bound the rendered episodes")
    if max_steps is not None:
        horizon = min(horizon, max_steps)
    clips: list[list[Frame]] = []
    returns: list[float] = []
    lengths: list[int] = []
    successes: list[bool | None] = []
    trajectories: list[np.ndarray] = []
    try:
        render_fps = float(fps) if fps is not None else float(env.unwrapped.metadata.get("render_fps", 30))
        bar = progress(range(steps + 1), desc=f"render {trained_env}", disable=None if show_progress else True)
        for k in bar:
            act = _mean_action_fn(policy, trace.params[k], env.action_space)
            frames, ret, info = record_rollout(env, act, int(horizon), seed=video_seed)
            clips.append(frames)
            returns.append(ret)
            lengths.append(int(info["length"]))
            successes.append(env.succeeded)
            trajectories.append(np.stack(env.observations))
            bar.set_postfix(step=k, episode_return=f"{ret:.1f}")
    finally:
        env.close()

    # 3. the clips, the tiled clip, the trajectory plot and a summary
    out = Path(out_dir)
    if tile_size is None and trained_env in paper_settings.LOCOMOTION_ENVS:
        tile_size = _fit_tile(clips[0][0].shape[1], clips[0][0].shape[0], LOCOMOTION_TILE_SIZE)
    caption = describe_task(task)
    videos = save_adaptation_videos(clips, returns, out, fmt=fmt, fps=render_fps, tile_size=tile_size,
                                    caption=caption)
    del clips
    written = [videos[f"step{k}"] for k in range(steps + 1)] + [videos["tiled"]]
    if trained_env in NAVIGATION_ENVS:
        goal = tuple(float(g) for g in task.goal)
        title = f"{trained_env}, held-out task {task_index}: goal ({goal[0]:.2f}, {goal[1]:.2f})"
        written.append(_plot_navigation(trajectories, goal, returns, title, out / "trajectories.png"))
    summary = {
        "env_id": trained_env,
        "checkpoint": str(checkpoint),
        "task_index": task_index,
        "task_seed": task_seed,
        "task": json_ready(task),
        "caption": caption,
        "seed": seed,
        "steps": list(range(steps + 1)),
        "step_sizes": trace.step_sizes,
        "rollouts_per_step": n_rollouts,
        "clip_returns": returns,
        "clip_lengths": lengths,
        **({"clip_success": successes} if any(s is not None for s in successes) else {}),
        "sampled_returns": trace.sampled_returns,
        "fps": render_fps,
        "max_steps": max_steps,
        "files": [p.name for p in written],
    }
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2))
    written.append(summary_path)
    return written
