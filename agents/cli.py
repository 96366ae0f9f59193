"""Command-line tools installed with the package: ``metarl-train``, ``metarl-evaluate``, ``metarl-render``.

Each parses a dataclass with `tyro <https://brentyi.github.io/tyro/>`_ (chosen over simple-parsing for its
docstring-per-field help and nested-dataclass flattening), so every option's ``--help`` text is the field's
docstring, and the flags are the library's own config fields::

    metarl-train --env-id MetaNav2D-v0 --iterations 500 --run-dir runs/nav
    metarl-train --run-dir runs/nav --iterations 500 --resume          # continue a stopped run
    metarl-evaluate --checkpoint runs/nav/best.pt --out runs/nav/evaluation.json
    metarl-render --checkpoint runs/nav/best.pt --out-dir videos/nav
    metarl-train --env-id mypackage.tasks:PointGoal-v0 --iterations 100   # your own task distribution

``--env-id`` takes any Gymnasium id whose single env has the task protocol (:mod:`envs.protocol`), in Gymnasium's
``module:Id`` spelling too (the module is imported, from the current directory as with ``python -m``); an env
without the protocol is refused in one line naming what it lacks (exit status 1).

Checkpoints trained through a reproduction's extensions (``reproductions/``) are refused with a message naming
them: their reproduction's own scripts supply the extensions.

A rejected input — a bad option value, a run folder another process trains in, a ``--resume`` without a checkpoint
or with options that differ from the checkpoint's, a full disk — ends the command with one line on stderr naming
the option or file and a non-zero exit status, never a traceback (:func:`parse_cli` for the options).  Set
``METARL_TRACEBACK=1`` to see the traceback instead (e.g. to report a bug).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import tyro

from agents.maml_trpo import MAMLTRPOConfig
from agents.training import TrainingConfig

__all__ = [
    "EvaluateArgs",
    "RenderArgs",
    "TrainArgs",
    "evaluate_main",
    "metarl_evaluate",
    "metarl_render",
    "metarl_train",
    "given_options",
    "parse_cli",
    "parse_env_kwargs",
    "render_main",
    "train_config",
    "train_main",
]

log = logging.getLogger("metarl.cli")
ArgsT = TypeVar("ArgsT")


def parse_cli(cls: type[ArgsT], argv: Sequence[str] | None, prog: str, description: str | None = None) -> ArgsT:
    """``tyro.cli(cls)``, except that a value the config classes reject (their ``ValueError``, e.g.
    ``invalid MAMLTRPOConfig.fast_lr = inf``) ends the command with the one line ``<prog>: <message>`` (exit
    status 1) instead of tyro's framed error box.

    The interception uses tyro's parse-error hook (``tyro._errors.on_parse_error``, experimental in tyro 1.x); with
    a tyro that lacks it, tyro's own box is shown, which names the same field and value (exit status 2).

    :param description: the ``--help`` text (default: the class docstring).
    """
    description = cls.__doc__ if description is None else description
    hook = getattr(getattr(tyro, "_errors", None), "on_parse_error", None)
    if hook is None:
        return tyro.cli(cls, args=argv, description=description)

    def one_line(event: Any) -> None:
        message = getattr(event, "message", None)
        if type(event).__name__ == "InstantiationFailure" and message:
            raise SystemExit(f"{prog}: {message}")

    with hook(one_line):
        return tyro.cli(cls, args=argv, description=description)


def given_options(argv: Sequence[str] | None, names: Sequence[str]) -> set[str]:
    """The fields among ``names`` whose flag (``--fast-lr``, ``--fast_lr=0.5``, ``--no-first-order``) is on the
    command line ``argv`` (``sys.argv[1:]`` when None): what a user asked for, as opposed to a default."""
    tokens = sys.argv[1:] if argv is None else list(argv)
    flags = {t[2:].split("=", 1)[0].replace("_", "-") for t in tokens if t.startswith("--")}
    flags |= {f.removeprefix("no-") for f in flags}
    return {name for name in names if name.replace("_", "-") in flags}


def _fail(prog: str, exc: BaseException) -> NoReturn:
    """End command ``prog`` with the one line ``<prog>: <exc>`` (exit status 1); with ``METARL_TRACEBACK=1`` in the
    environment re-raise ``exc`` with its traceback (call it inside the ``except`` block)."""
    if os.environ.get("METARL_TRACEBACK", "") not in ("", "0"):
        raise exc
    raise SystemExit(f"{prog}: {exc}") from None


def _import_from_cwd() -> None:
    """Put the current directory on ``sys.path`` as ``python -m`` does, so that ``--env-id module:Id`` (and a
    checkpoint trained on such an id) finds a module of the directory the command runs in: Gymnasium imports
    ``module``, which registers ``Id``.  Worker processes inherit the path."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _setup(torch_threads: int | None, malloc_tuning: bool = False) -> None:
    """Logging to stderr (progress lines when not in a terminal), env registration, threads, allocator."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    import metarl
    from metarl.video import use_headless_gl

    use_headless_gl()  # MuJoCo renders through EGL unless the user chose otherwise
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    if malloc_tuning:
        metarl.keep_freed_memory()


def parse_env_kwargs(text: str) -> dict:
    """The ``--env-kwargs`` option of the command-line tools: a JSON object of env constructor kwargs.

    :raises SystemExit: one line naming the flag when ``text`` is not a JSON object.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--env-kwargs: not a JSON object ({exc}): {text!r}; e.g. '{{\"frame_skip\": 1}}'") from None
    if not isinstance(value, dict):
        raise SystemExit(f"--env-kwargs: not a JSON object: {text!r}; e.g. '{{\"frame_skip\": 1}}'")
    return value


@dataclass
class TrainArgs:
    """Train MAML-TRPO (Finn et al. 2017, Alg. 3 + App. A.2) on a task-distribution env, then evaluate it.

    Writes into --run-dir: last.pt / best.pt checkpoints (atomic, resumable with --resume), progress.csv,
    train.log, TensorBoard logs, and evaluation.json + evaluation.png (the adaptation curve; --eval-tasks 0 skips).
    """

    algo: Annotated[MAMLTRPOConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=MAMLTRPOConfig)
    training: Annotated[TrainingConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=TrainingConfig)
    env_kwargs: str = "{}"
    """Extra env constructor kwargs as a JSON object, e.g. '{"frame_skip": 1}'."""
    eval_tasks: int = 40
    """Held-out tasks of the final evaluation (0 skips it)."""
    eval_steps: int = 3
    """Adaptation steps of the final evaluation."""
    eval_rollouts: int | None = None
    """Rollouts per task and step of the final evaluation; None = the paper's (40 navigation, 20 locomotion)."""
    torch_threads: int | None = None
    """torch intra-op threads (None = one per core; with --resume, the checkpoint's run's); 1 when running jobs side
    by side. A resumed run is bit-identical to an uninterrupted one only with the same thread count."""
    malloc_tuning: bool = True
    """Keep freed memory in the process (glibc mallopt; measured 20-40 % faster meta-steps, see
    metarl.malloc_tuning)."""

    def __post_init__(self) -> None:
        _check_evaluation_options(self)


@dataclass
class EvaluateArgs:
    """Return after 0..N adaptation steps on held-out tasks (MAML paper 5.3): JSON + PNG beside the paper's curve."""

    checkpoint: Path
    """A MAML-TRPO checkpoint (best.pt / last.pt of a run)."""
    out: Path | None = None
    """Output JSON file (a PNG goes beside it); default: evaluation.json next to the checkpoint."""
    eval_tasks: int = 40
    """Held-out tasks."""
    eval_steps: int = 3
    """Adaptation steps."""
    eval_rollouts: int | None = None
    """Rollouts per task and step; None = the paper's (40 navigation, 20 locomotion)."""
    step_sizes: tuple[float, ...] = (0.1, 0.05)
    """Step size per adaptation step, the last repeating (the paper: 0.1 then 0.05)."""
    seed: int = 12345
    """Seed of the held-out tasks, resets and action noise."""
    workers: int = 1
    """Sampler processes (at most tasks x rollouts, the env copies stepped at once)."""
    torch_threads: int | None = None
    """torch intra-op threads (None = one per core)."""

    def __post_init__(self) -> None:
        _check_evaluation_options(self)


@dataclass
class RenderArgs:
    """Render a checkpoint adapting to one held-out task: one clip per gradient step plus a tiled clip."""

    checkpoint: Path
    """A MAML-TRPO checkpoint."""
    out_dir: Path = Path("videos/adaptation")
    """Output folder: step0..stepN clips, adaptation_tiled, trajectories.png (navigation), summary.json."""
    steps: int = 3
    """Adaptation steps N (clips for 0..N)."""
    task_index: int = 0
    """Which held-out task (0 = the evaluation's first)."""
    seed: int = 0
    """Seed of the adaptation rollouts and of the clips' initial state."""
    format: Literal["mp4", "gif"] = "mp4"
    """Video format."""
    fps: float | None = None
    """Frames per second; None = the env's."""
    width: int | None = None
    """Frame width; None = the env's default."""
    height: int | None = None
    """Frame height; None = the env's default."""
    max_steps: int | None = None
    """Render at most this many env steps per clip; None = the whole episode."""
    rollouts: int | None = None
    """Rollouts per adaptation step; None = the paper's evaluation value (40 navigation, 20 locomotion)."""
    workers: int = 1
    """Sampler processes for the adaptation rollouts."""


def _check_evaluation_options(args: TrainArgs | EvaluateArgs) -> None:
    """The evaluation and thread options, checked when parsed (before any training): one line naming the flag."""
    checks = {
        "eval_tasks": (args.eval_tasks >= 0, "an int >= 0 (0 skips the evaluation)"),
        "eval_steps": (args.eval_steps >= 0, "an int >= 0"),
        "eval_rollouts": (args.eval_rollouts is None or args.eval_rollouts >= 1, "an int >= 1, or None (the paper's)"),
        "torch_threads": (args.torch_threads is None or args.torch_threads >= 1, "an int >= 1, or None"),
    }
    for name, (ok, expected) in checks.items():
        if not ok:
            raise ValueError(f"--{name.replace('_', '-')} must be {expected}; got {getattr(args, name)!r}")


def _refuse_extensions(checkpoint: Path) -> None:
    from agents.training import checkpoint_extensions

    name = checkpoint_extensions(checkpoint)
    if name:
        raise SystemExit(f"{checkpoint} was trained with the extensions {name!r}: use its reproduction's scripts "
                         "(see reproductions/README.md), which supply them")


def _evaluate(checkpoint: Path, out: Path, tasks: int, steps: int, rollouts: int | None,
              step_sizes: tuple[float, ...], seed: int, workers: int) -> dict:
    from agents.evaluation import EvaluationConfig, evaluate_adaptation, plot_curves, write_curve
    from agents.paper_settings import paper_curve
    from agents.training import load_policy

    policy, config = load_policy(checkpoint)
    evaluation = EvaluationConfig(num_tasks=tasks, num_steps=steps, step_sizes=step_sizes, rollouts_per_task=rollouts,
                                  seed=seed, workers=workers, env_kwargs=config.env_kwargs, gamma=config.gamma,
                                  gae_lambda=config.gae_lambda)
    curve = evaluate_adaptation(policy, config.env_id, evaluation)
    curve["checkpoint"] = str(checkpoint)
    write_curve(curve, out)
    reference = paper_curve(config.env_id)
    plot_curves({"MAML (ours)": curve}, out.with_suffix(".png"), title=config.env_id,
                reference={"MAML (paper)": reference} if reference else None)
    for k, (mean, ci) in enumerate(zip(curve["mean"], curve["ci95"])):
        success = (f"   success rate {curve['success_rate'][k]:.3f} ± {curve['success_ci95'][k]:.3f}"
                   if "success_rate" in curve else "")
        print(f"after {k} step(s): {mean:9.2f} ± {ci:.2f}{success}")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return curve


def train_main(argv: list[str] | None = None) -> dict:
    """``metarl-train``: see :class:`TrainArgs`.

    With ``--resume`` the run continues with the checkpoint's config; the algorithm options given on the command
    line replace its values, and :func:`agents.training.train` refuses any that differs (naming it) unless
    ``--resume-with-changes``; the torch thread count is the checkpoint's unless ``--torch-threads`` is given.
    """
    _import_from_cwd()
    args = parse_cli(TrainArgs, argv, "metarl-train")
    _setup(args.torch_threads, args.malloc_tuning)
    from agents.training import MetaStepsRejected, train
    from metarl.rl.sampler import SamplerWorkerError
    from metarl.run_lock import RunLock, RunLockError

    run_dir = Path(args.training.run_dir)
    try:
        with ExitStack() as lock:
            if run_dir.is_dir():  # a live run's folder is refused before its files are read
                lock.enter_context(RunLock(run_dir))
            agent = _train_agent(args, argv)  # a bad config or env fails here, before a run folder is made
            lock.enter_context(RunLock(run_dir))  # re-entrant
            try:
                summary = train(agent, args.training)
            finally:
                agent.close()
            if args.eval_tasks > 0:
                curve = _evaluate(run_dir / "best.pt", run_dir / "evaluation.json", args.eval_tasks,
                                  args.eval_steps, args.eval_rollouts, (0.1, 0.05), 12345, agent.config.workers)
                summary["evaluation"] = {"mean": curve["mean"], "ci95": curve["ci95"]}
    except (ValueError, OSError, RunLockError, MetaStepsRejected, SamplerWorkerError) as exc:
        _fail("metarl-train", exc)
    return summary


def _train_agent(args: TrainArgs, argv: list[str] | None) -> Any:
    """The agent ``metarl-train`` trains (:func:`train_config`); with ``--resume`` the torch thread count of the
    checkpoint's run too, unless ``--torch-threads`` is given."""
    from agents.maml_trpo import MAMLTRPO
    from agents.resume import THREADS_KEY

    config, state = train_config(args, argv)
    threads = None if state is None else state.get(THREADS_KEY)
    if args.torch_threads is None and isinstance(threads, int):
        import torch

        if threads != torch.get_num_threads():
            log.info("using the checkpoint's %d torch threads (this machine's default is %d)", threads,
                     torch.get_num_threads())
            torch.set_num_threads(threads)
    return MAMLTRPO(config)


def train_config(args: TrainArgs, argv: list[str] | None) -> tuple[MAMLTRPOConfig, dict[str, Any] | None]:
    """The config ``metarl-train`` trains with, and the resumed checkpoint's state (``None`` for a new run).

    A new run: the options, with the batch sizes not given resolved for ``--env-id`` (the paper's 40 tasks for
    locomotion, not the 20 of the default env). ``--resume``: the config of ``last.pt`` with the algorithm options
    given on the command line on top (:func:`agents.training.train` then refuses those that differ).

    :raises FileNotFoundError: ``--resume`` without ``last.pt``.
    """
    from dataclasses import replace

    from agents.training import CHECKPOINT_KIND
    from metarl.checkpoint import load_checkpoint

    given = given_options(argv, [f.name for f in fields(MAMLTRPOConfig)])
    config = replace(args.algo, env_kwargs={**args.algo.env_kwargs, **parse_env_kwargs(args.env_kwargs)})
    if not args.training.resume:
        unset = {name: None for name in ("meta_batch_size", "fast_batch_size") if name not in given}
        return replace(config, **unset), None
    last = Path(args.training.run_dir) / "last.pt"
    if not last.exists():
        raise FileNotFoundError(f"--resume: there is no checkpoint {last} to continue (drop --resume to start a run)")
    _refuse_extensions(last)
    state = load_checkpoint(last, expected_kind=CHECKPOINT_KIND)
    return MAMLTRPOConfig.from_dict({**state["config"], **{name: getattr(config, name) for name in given}}), state


def evaluate_main(argv: list[str] | None = None) -> dict:
    """``metarl-evaluate``: see :class:`EvaluateArgs`."""
    _import_from_cwd()
    args = parse_cli(EvaluateArgs, argv, "metarl-evaluate")
    _setup(args.torch_threads)
    out = args.out or args.checkpoint.with_name("evaluation.json")
    try:
        _refuse_extensions(args.checkpoint)
        return _evaluate(args.checkpoint, out, args.eval_tasks, args.eval_steps, args.eval_rollouts,
                         tuple(args.step_sizes), args.seed, args.workers)
    except (ValueError, FileNotFoundError) as exc:
        _fail("metarl-evaluate", exc)


def render_main(argv: list[str] | None = None) -> list[Path]:
    """``metarl-render``: see :class:`RenderArgs`."""
    _import_from_cwd()
    args = parse_cli(RenderArgs, argv, "metarl-render")
    _setup(None)
    from agents.rendering import render_adaptation

    try:
        _refuse_extensions(args.checkpoint)
        paths = render_adaptation(args.checkpoint, args.out_dir, steps=args.steps, task_index=args.task_index,
                                  seed=args.seed, fmt=args.format, fps=args.fps, width=args.width,
                                  height=args.height, max_steps=args.max_steps, rollouts=args.rollouts,
                                  workers=args.workers)
    except (ValueError, FileNotFoundError) as exc:
        _fail("metarl-render", exc)
    for path in paths:
        print(path)
    return paths


def metarl_train() -> None:
    """Console entry point of ``metarl-train`` (exit status 0 on success; the summary is in the run folder)."""
    train_main()


def metarl_evaluate() -> None:
    """Console entry point of ``metarl-evaluate``."""
    evaluate_main()


def metarl_render() -> None:
    """Console entry point of ``metarl-render``."""
    render_main()
