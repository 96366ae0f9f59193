"""Train the oracle of the MAML paper (section 5.3, baseline (c)) with stable-baselines3 PPO, then evaluate it.

The oracle is "an oracle policy which receives the parameters of the task as input": PPO trained on
observations with the task vector appended, a new task drawn at every episode.  It is not adapted at test
time; its return bounds what adaptation can reach (paper: -2.3 on 2D navigation, -54.5 on cheetah velocity,
442.7 on cheetah direction).  PPO settings not given on the command line come from the env family's preset
(2D navigation: SB3/PPO-paper defaults, ~200k steps; locomotion: rl-baselines3-zoo's tuned HalfCheetah, 1M steps).

At the end the oracle is evaluated on held-out tasks — the same tasks as ``examples/evaluate.py`` for the same
``--eval-seed`` — and the result is written as JSON next to the model.  Every PPO option is a flag of its own
(``--help``).

Examples::

    python examples/train_oracle.py --env-id MetaNav2D-v0 --out runs/oracle_nav2d/oracle.pt
    python examples/train_oracle.py --env-id MetaCheetahVel-v0 --out runs/oracle_cheetah_vel/oracle.pt
    python examples/train_oracle.py --env-id MetaCheetahDir-v0 --env-kwargs '{"frame_skip": 1}'  # a 0.01 s step
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import tyro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents import paper_settings  # noqa: E402
from agents.cli import parse_cli, parse_env_kwargs  # noqa: E402
from agents.evaluation import EvaluationConfig, held_out_tasks  # noqa: E402
from agents.oracle import OracleConfig, evaluate_oracle, load_oracle, train_oracle  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.rl.sampler import PolicyRollouts  # noqa: E402
from metarl.stats import mean_ci  # noqa: E402

PAPER_REFERENCE = ROOT / "benchmarks" / "paper_reference.json"


def paper_oracle(env_id: str) -> float | None:
    """The MAML paper's oracle return for ``env_id`` (None when it reports none)."""
    try:
        return json.loads(PAPER_REFERENCE.read_text())["rl"].get(env_id, {}).get("oracle")
    except (OSError, ValueError):
        return None


def evaluate(model_path: Path, num_tasks: int, rollouts: int | None, seed: int) -> dict[str, Any]:
    """Per-task returns of the saved oracle on ``num_tasks`` held-out tasks (MAML evaluation's task recipe)."""
    oracle = load_oracle(model_path)
    config = oracle.config
    rollouts = paper_settings.eval_rollouts(config.env_id) if rollouts is None else rollouts
    evaluation = EvaluationConfig(num_tasks=num_tasks, seed=seed, rollouts_per_task=rollouts,
                                  env_kwargs=config.env_kwargs)
    sampler = PolicyRollouts(config.env_id, 1, 1, env_kwargs=config.env_kwargs)
    try:
        tasks = held_out_tasks(sampler, evaluation)
    finally:
        sampler.close()
    returns = evaluate_oracle(oracle, config.env_id, tasks, rollouts_per_task=rollouts, seed=seed,
                              env_kwargs=config.env_kwargs)
    mean, ci = mean_ci(returns) if len(returns) > 1 else (float(returns[0]), float("nan"))
    return {
        "env_id": config.env_id,
        "env_kwargs": dict(config.env_kwargs),
        "model": str(model_path),
        "num_tasks": num_tasks,
        "rollouts_per_task": rollouts,
        "seed": seed,
        "mean": mean,
        "ci95": ci,
        "per_task": [float(r) for r in returns],
        "paper_oracle": paper_oracle(config.env_id),
        "train_wall_clock_seconds": oracle.metadata.get("wall_clock_seconds"),
        "train_timesteps": oracle.metadata.get("timesteps"),
    }


@dataclass
class Args:
    oracle: Annotated[OracleConfig, tyro.conf.OmitArgPrefixes]
    """The PPO settings; those not given are filled from the family preset of --env-id (OracleConfig)."""
    env_kwargs: str = "{}"
    """Env constructor kwargs as a JSON object, e.g. '{"frame_skip": 1}'; stored with the model, so evaluation
    rebuilds the same env."""
    out: Path | None = None
    """Oracle artifact to write (.pt: weights, settings and observation statistics, loadable without unpickling
    code); <name>_eval.json goes beside it (default: runs/oracle_<env id>/oracle.pt)."""
    eval_tasks: int = 40
    """Held-out tasks of the final evaluation; 0 skips it (the paper: 40)."""
    eval_rollouts: int | None = None
    """Rollouts per held-out task; None = the paper's (40 navigation, 20 locomotion)."""
    eval_seed: int = 12345
    """Seed of the held-out tasks and resets (12345, as examples/evaluate.py)."""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_cli(Args, argv, "train_oracle.py", __doc__)
    if args.eval_tasks < 0:
        raise SystemExit(f"--eval-tasks: must be >= 0, got {args.eval_tasks}")
    if args.eval_rollouts is not None and args.eval_rollouts < 1:
        raise SystemExit(f"--eval-rollouts: must be >= 1 (or None: the paper's), got {args.eval_rollouts}")
    try:
        config = replace(args.oracle, env_kwargs={**args.oracle.env_kwargs, **parse_env_kwargs(args.env_kwargs)})
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"train_oracle.py: {exc}") from None
    torch.set_num_threads(config.torch_threads)
    out = args.out or ROOT / "runs" / f"oracle_{config.env_id}" / "oracle.pt"
    print(f"training the oracle on {config.env_id} for {config.total_timesteps} steps "
          f"({config.n_envs} envs x {config.n_steps} steps per update) -> {out}", flush=True)
    path = train_oracle(config, out)
    trained = load_oracle(path).metadata
    print(f"trained in {trained['wall_clock_seconds']:.0f} s; mean return of the last training episodes "
          f"{trained['train_episode_return_mean_last_100']}", flush=True)

    if args.eval_tasks == 0:
        return {"model": str(path)}
    result = evaluate(path, args.eval_tasks, args.eval_rollouts, args.eval_seed)
    eval_path = path.with_name(path.stem + "_eval.json")
    write_json(eval_path, result)
    paper = result["paper_oracle"]
    print(f"oracle on {result['num_tasks']} held-out tasks: {result['mean']:.2f} ± {result['ci95']:.2f}"
          + (f" (MAML paper's oracle: {paper})" if paper is not None else ""))
    print(f"wrote {path} and {eval_path}")
    return result


if __name__ == "__main__":
    main()
