"""Compare MAML with the paper's baselines on the same held-out tasks (MAML Figs. 4-5, App. C.2).

Every method is evaluated on the identical 40 held-out tasks and seeds: return after 0..N REINFORCE adaptation
steps (paper protocol, section 5.3 / App. A.2), mean ± 95% CI across tasks.

  maml        a MAML-TRPO checkpoint (--maml), step sizes 0.1 then 0.05
  pretrained  a checkpoint trained with 0 inner steps (--pretrained); step size tuned on training tasks
  random      an untrained policy of the same architecture; step size tuned on training tasks
  context     a checkpoint trained with the context policy (--context); only the context vector is adapted
  oracle      an oracle artifact (.pt) of examples/train_oracle.py (--oracle); evaluated without adaptation

Writes a JSON report and a PNG beside it, with the paper's curves for the env.

Example::

    python examples/compare.py --env-id MetaNav2D-v0 --maml runs/maml_nav2d/best.pt \\
        --pretrained runs/pretrained_nav2d/best.pt --context runs/context_nav2d/best.pt \\
        --oracle runs/oracle_nav2d/oracle.pt --log-scale --out results/compare_nav2d.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.cli import parse_cli, parse_env_kwargs  # noqa: E402
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

PAPER_REFERENCE = ROOT / "benchmarks" / "paper_reference.json"
METHODS = ("maml", "pretrained", "random", "oracle", "context")


def paper_curves(env_id: str) -> dict[str, list[float] | float]:
    """The published curves for ``env_id`` (MAML Figs. 4-5 / Tables 4-5), labelled for a plot legend."""
    rl = json.loads(PAPER_REFERENCE.read_text())["rl"].get(env_id, {})
    labels = {"maml": "MAML (paper)", "pretrained": "pretrained (paper)", "random_init": "random (paper)",
              "oracle": "oracle (paper)", "context_vector": "context (paper)"}
    return {label: rl[key] for key, label in labels.items() if key in rl}


@dataclass
class Args:
    env_id: str
    """The env id compared on (every checkpoint must be for it)."""
    methods: tuple[str, ...] | None = None
    """Subset of maml pretrained random oracle context; None = random plus every method whose checkpoint/model is
    given."""
    maml: Path | None = None
    """MAML-TRPO checkpoint for 'maml'."""
    pretrained: Path | None = None
    """Checkpoint trained with 0 inner steps for 'pretrained'."""
    context: Path | None = None
    """Checkpoint trained with the context policy for 'context'."""
    oracle: Path | None = None
    """Oracle artifact (.pt) of examples/train_oracle.py for 'oracle' (SB3 PPO trained on TaskInObservation(env))."""
    trust_pickle: bool = False
    """Also accept a legacy stable-baselines3 oracle zip (with its JSON sidecar) as --oracle. Loading one unpickles
    it, which runs any code its author put in the file: only for files you trust (better: convert it once with
    agents.oracle.convert_legacy_oracle)."""
    eval_steps: int = 3
    """Adaptation steps."""
    eval_tasks: int = 40
    """Held-out test tasks."""
    eval_rollouts: int | None = None
    """Rollouts per task and step; None = the paper's (40 navigation, 20 locomotion)."""
    step_sizes: tuple[float, ...] = (0.1, 0.05)
    """Step size per adaptation step for maml/context, the last repeating."""
    seed: int = 12345
    """Seed of the held-out test tasks and rollouts."""
    tune_candidates: tuple[float, ...] = tuple(DEFAULT_TUNING_CANDIDATES)
    """Step sizes tried for pretrained/random (tuned on training tasks)."""
    tune_tasks: int = 20
    """Training tasks used for tuning."""
    tune_seed: int = TuningConfig().seed
    """Seed of the tuning tasks; must differ from --seed (never tune on the test tasks)."""
    tune_rollouts: int | None = None
    """Rollouts per step while tuning; None = as --eval-rollouts."""
    random_seed: int = 0
    """Initialisation seed of 'random'."""
    workers: int = 1
    """Sampler processes."""
    torch_threads: int | None = None
    """torch intra-op threads (None = torch's); 1 when running jobs side by side."""
    env_kwargs: str = "{}"
    """Env constructor kwargs as a JSON object, e.g. '{"frame_skip": 1}'; must agree with the checkpoints'."""
    out: Path | None = None
    """Output JSON file (the PNG goes beside it); default: comparison_<env id>.json."""
    log_scale: bool = False
    """Symlog y axis (as the paper's 2D-navigation plot)."""


def _selected_methods(args: Args) -> list[str]:
    sources = {"maml": args.maml, "pretrained": args.pretrained, "context": args.context, "oracle": args.oracle}
    if args.methods is None:
        return [m for m in METHODS if m == "random" or sources.get(m)]
    methods = list(args.methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise SystemExit(f"--methods: unknown method(s) {unknown}; choose from {' '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise SystemExit(f"--methods: a method is listed twice: {' '.join(methods)}")
    for method in methods:
        if method in sources and not sources[method]:
            raise SystemExit(f"--methods: includes {method!r} but --{method} was not given")
    return methods


def build_methods(args: Args, methods: list[str]) -> tuple[dict[str, MethodSpec], dict]:
    """The specs of the selected methods and the env kwargs they run with: those their checkpoints were trained
    with, else ``--env-kwargs``'s (which must agree with the checkpoints' when both are given)."""
    specs: dict[str, MethodSpec] = {}
    if "maml" in methods:
        specs["maml"] = maml_method(args.maml, args.env_id)
    if "pretrained" in methods:
        specs["pretrained"] = pretrained_method(args.pretrained, args.env_id, args.tune_candidates)
    if "context" in methods:
        specs["context"] = context_method(args.context, args.env_id)
    configs = {name: spec.config for name, spec in specs.items() if spec.config is not None}
    env_kwargs = {name: config.env_kwargs for name, config in configs.items()}
    if len({repr(sorted(kw.items())) for kw in env_kwargs.values()}) > 1:
        raise ValueError(f"the checkpoints were trained with different env kwargs: {env_kwargs}")
    given = parse_env_kwargs(args.env_kwargs)
    trained = next(iter(env_kwargs.values()), None)  # None: no checkpoint says how its env was built
    if given and trained is not None and given != trained:
        raise ValueError(
            f"--env-kwargs {given} differs from the env kwargs the checkpoints were trained with: {env_kwargs}"
        )
    chosen = trained if trained is not None else given
    if "random" in methods:
        # same architecture as the MAML (else pretrained) checkpoint; the paper's 2 x 100 without one
        base = configs.get("maml") or configs.get("pretrained") or MAMLTRPOConfig(env_id=args.env_id, env_kwargs=chosen)
        specs["random"] = random_method(args.env_id, base, seed=args.random_seed, candidates=args.tune_candidates)
    if "oracle" in methods:
        specs["oracle"] = sb3_oracle(args.oracle, args.env_id, chosen, trust_pickle=args.trust_pickle)
    ordered = {name: specs[name] for name in methods}
    return ordered, chosen


def main(argv: list[str] | None = None) -> dict:
    args = parse_cli(Args, argv, "compare.py", __doc__)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    methods = _selected_methods(args)
    if args.tune_seed == args.seed:
        raise SystemExit(f"--tune-seed: {args.tune_seed} equals --seed; never tune on the test tasks")
    try:
        specs, env_kwargs = build_methods(args, methods)
        evaluation = EvaluationConfig(
            num_tasks=args.eval_tasks, num_steps=args.eval_steps, step_sizes=tuple(args.step_sizes),
            rollouts_per_task=args.eval_rollouts, seed=args.seed, workers=args.workers, env_kwargs=dict(env_kwargs),
        )
        tuning = TuningConfig(num_tasks=args.tune_tasks, seed=args.tune_seed, rollouts_per_task=args.tune_rollouts)
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
        raise SystemExit(f"compare.py: {exc}") from None
    out = args.out or Path(f"comparison_{args.env_id}.json")
    curves = compare_methods(
        args.env_id, specs, evaluation, tuning, out=out, reference=paper_curves(args.env_id), log_scale=args.log_scale,
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
