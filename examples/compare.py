"""Compare MAML with the paper's baselines on the same held-out tasks (MAML Figs. 4-5, App. C.2).

Every method is evaluated on the identical 40 held-out tasks and seeds: return after 0..N REINFORCE adaptation
steps (paper protocol, section 5.3 / App. A.2), mean ± 95% CI across tasks.

  maml        a MAML-TRPO checkpoint (--maml), step sizes 0.1 then 0.05
  pretrained  a checkpoint trained with --num-steps 0 (--pretrained); step size tuned on training tasks
  random      an untrained policy of the same architecture; step size tuned on training tasks
  context     a checkpoint trained with --policy context (--context); only the context vector is adapted
  oracle      an SB3 PPO model zip trained on TaskInObservation (--oracle); evaluated without adaptation

Writes a JSON report and a PNG beside it, with the paper's curves for the env.

Example::

    python examples/compare.py --env MetaNav2D-v0 --maml runs/maml_nav2d/best.pt \\
        --pretrained runs/pretrained_nav2d/best.pt --context runs/context_nav2d/best.pt \\
        --oracle runs/oracle_nav2d/model.zip --log-scale --out results/compare_nav2d.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.comparison import (  # noqa: E402
    DEFAULT_TUNING_CANDIDATES,
    MethodSpec,
    TuningConfig,
    compare_methods,
    context_method,
    maml_method,
    pretrained_method,
    random_method,
    sb3_oracle,
)
from agents.evaluation import EvaluationConfig  # noqa: E402
from agents.maml_trpo import MAMLTRPOConfig  # noqa: E402
from examples.evaluate import paper_curves  # noqa: E402
from metarl.cli_args import add_env_kwargs_argument, env_kwargs_from_args  # noqa: E402

METHODS = ("maml", "pretrained", "random", "oracle", "context")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="the env id compared on (every checkpoint must be for it)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated subset of {','.join(METHODS)} (default: random plus every method "
                             "whose checkpoint/model is given)")
    parser.add_argument("--maml", default=None, metavar="CKPT", help="MAML-TRPO checkpoint for 'maml'")
    parser.add_argument("--pretrained", default=None, metavar="CKPT",
                        help="checkpoint trained with --num-steps 0 for 'pretrained'")
    parser.add_argument("--context", default=None, metavar="CKPT",
                        help="checkpoint trained with --policy context for 'context'")
    parser.add_argument("--oracle", default=None, metavar="PATH",
                        help="stable-baselines3 PPO model zip trained on TaskInObservation(env) for 'oracle'")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps (default: 3)")
    parser.add_argument("--tasks", type=int, default=40, help="held-out test tasks (default: 40)")
    parser.add_argument("--rollouts", type=int, default=None,
                        help="rollouts per step (default: the paper's, 40 navigation / 20 locomotion)")
    parser.add_argument("--step-sizes", type=float, nargs="+", default=[0.1, 0.05],
                        help="step size per step for maml/context, the last repeats (default: 0.1 0.05)")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the held-out test tasks and rollouts")
    parser.add_argument("--tune-candidates", type=float, nargs="+", default=list(DEFAULT_TUNING_CANDIDATES),
                        help="step sizes tried for pretrained/random (default: %(default)s)")
    parser.add_argument("--tune-tasks", type=int, default=20, help="training tasks used for tuning (default: 20)")
    parser.add_argument("--tune-seed", type=int, default=TuningConfig().seed,
                        help="seed of the tuning tasks; must differ from --seed (default: %(default)s)")
    parser.add_argument("--tune-rollouts", type=int, default=None,
                        help="rollouts per step while tuning (default: as --rollouts)")
    parser.add_argument("--random-seed", type=int, default=0, help="initialisation seed of 'random' (default: 0)")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's; use 1 when running jobs side by side)")
    add_env_kwargs_argument(parser)
    parser.add_argument("--out", default=None,
                        help="output JSON path (default: comparison_<env>.json); the PNG goes beside it")
    parser.add_argument("--log-scale", action="store_true", help="symlog y axis (as the paper's 2D-navigation plot)")
    return parser


def _selected_methods(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    sources = {"maml": args.maml, "pretrained": args.pretrained, "context": args.context, "oracle": args.oracle}
    if args.methods is None:
        return [m for m in METHODS if m == "random" or sources.get(m)]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f"--methods: unknown method(s) {unknown}; choose from {','.join(METHODS)}")
    if len(set(methods)) != len(methods):
        parser.error(f"--methods lists a method twice: {args.methods}")
    for method in methods:
        if method in sources and not sources[method]:
            parser.error(f"--methods includes {method!r} but --{method} was not given")
    return methods


def build_methods(args: argparse.Namespace, methods: list[str]) -> tuple[dict[str, MethodSpec], dict]:
    """The specs of the selected methods and the env kwargs they run with: those their checkpoints were trained
    with, else ``--env-kwarg``'s (which must agree with the checkpoints' when both are given)."""
    specs: dict[str, MethodSpec] = {}
    if "maml" in methods:
        specs["maml"] = maml_method(args.maml, args.env)
    if "pretrained" in methods:
        specs["pretrained"] = pretrained_method(args.pretrained, args.env, args.tune_candidates)
    if "context" in methods:
        specs["context"] = context_method(args.context, args.env)
    configs = {name: spec.config for name, spec in specs.items() if spec.config is not None}
    env_kwargs = {name: config.env_kwargs for name, config in configs.items()}
    if len({repr(sorted(kw.items())) for kw in env_kwargs.values()}) > 1:
        raise ValueError(f"the checkpoints were trained with different env kwargs: {env_kwargs}")
    given = env_kwargs_from_args(args)
    trained = next(iter(env_kwargs.values()), None)  # None: no checkpoint says how its env was built
    if given and trained is not None and given != trained:
        raise ValueError(
            f"--env-kwarg {given} differs from the env kwargs the checkpoints were trained with: {env_kwargs}"
        )
    chosen = trained if trained is not None else given
    if "random" in methods:
        # same architecture as the MAML (else pretrained) checkpoint; the paper's 2 x 100 without one
        base = configs.get("maml") or configs.get("pretrained") or MAMLTRPOConfig(env_id=args.env, env_kwargs=chosen)
        specs["random"] = random_method(args.env, base, seed=args.random_seed, candidates=args.tune_candidates)
    if "oracle" in methods:
        specs["oracle"] = sb3_oracle(args.oracle, args.env, chosen)
    ordered = {name: specs[name] for name in methods}
    return ordered, chosen


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    methods = _selected_methods(args, parser)
    if args.tune_seed == args.seed:
        parser.error(f"--tune-seed ({args.tune_seed}) must differ from --seed: never tune on the test tasks")
    try:
        specs, env_kwargs = build_methods(args, methods)
        evaluation = EvaluationConfig(
            num_tasks=args.tasks, num_steps=args.steps, step_sizes=tuple(args.step_sizes),
            rollouts_per_task=args.rollouts, seed=args.seed, workers=args.workers, env_kwargs=dict(env_kwargs),
        )
        tuning = TuningConfig(num_tasks=args.tune_tasks, seed=args.tune_seed, rollouts_per_task=args.tune_rollouts)
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
        parser.error(str(exc))
    out = Path(args.out) if args.out else Path(f"comparison_{args.env}.json")
    curves = compare_methods(
        args.env, specs, evaluation, tuning, out=out, reference=paper_curves(args.env), log_scale=args.log_scale,
        show_progress=True,
    )
    for name, curve in curves.items():
        values = "  ".join(f"{m:9.2f} ± {c:.2f}" for m, c in zip(curve["mean"], curve["ci95"]))
        sizes = ", ".join(f"{s:g}" for s in curve["step_sizes"]) or "-"
        print(f"{name:>10}: {values}   (step sizes: {sizes})")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return curves


if __name__ == "__main__":
    main()
