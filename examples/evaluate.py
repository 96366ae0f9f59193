"""Evaluate a trained MAML-TRPO checkpoint: return after 0..N adaptation steps on held-out tasks.

The paper's protocol (MAML section 5.3, App. A.2): 40 held-out tasks; per step, 40 rollouts (2D navigation) or
20 (locomotion); REINFORCE steps of size 0.1 then 0.05; mean ± 95% CI across tasks.  Writes a JSON and a PNG like
the paper's Figs. 4-5, with the paper's MAML curve for the env drawn for comparison.

Examples::

    python examples/evaluate.py --checkpoint runs/maml_nav2d/best.pt --steps 3

With ``--methods`` it compares several learners on the same held-out tasks instead (all options are those of
``examples/compare.py``, see its ``--help``)::

    python examples/evaluate.py --methods maml,pretrained,random,oracle --env MetaCheetahDir-v0 \\
        --maml checkpoints/maml_cheetah_dir.pt --pretrained checkpoints/pretrained_cheetah_dir.pt \\
        --oracle checkpoints/oracle_cheetah_dir.zip --out results/compare_cheetah_dir.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import metarl  # noqa: E402,F401
from agents.evaluation import EvaluationConfig, evaluate_adaptation, plot_curves, write_curve  # noqa: E402
from agents.training import checkpoint_extensions, load_policy  # noqa: E402

PAPER_REFERENCE = ROOT / "benchmarks" / "paper_reference.json"


def paper_curves(env_id: str) -> dict[str, list[float] | float]:
    """The published curves for ``env_id`` (MAML Figs. 4-5 / Tables 4-5), labelled for a plot legend."""
    rl = json.loads(PAPER_REFERENCE.read_text())["rl"].get(env_id, {})
    labels = {"maml": "MAML (paper)", "pretrained": "pretrained (paper)", "random_init": "random (paper)",
              "oracle": "oracle (paper)", "context_vector": "context (paper)"}
    return {label: rl[key] for key, label in labels.items() if key in rl}


def _compare_main(argv: list[str]) -> dict:
    """``examples/compare.py``'s main (the multi-method comparison), loaded from beside this script."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("metarl_examples_compare", Path(__file__).with_name("compare.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--methods" or a.startswith("--methods=") for a in argv):
        return _compare_main(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=None,
                        help="compare learners instead (comma-separated maml,pretrained,random,oracle,context); "
                             "every option is then examples/compare.py's")
    parser.add_argument("--checkpoint", required=True, help="a MAML-TRPO checkpoint (best.pt / last.pt)")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps (default: 3)")
    parser.add_argument("--tasks", type=int, default=40, help="held-out tasks (default: 40)")
    parser.add_argument("--rollouts", type=int, default=None,
                        help="rollouts per step (default: the paper's, 40 navigation / 20 locomotion)")
    parser.add_argument("--step-sizes", type=float, nargs="+", default=[0.1, 0.05],
                        help="step size per adaptation step, the last repeats (default: 0.1 0.05)")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the held-out tasks and rollouts")
    parser.add_argument("--workers", type=int, default=1, help="sampler processes (default: 1)")
    parser.add_argument("--out", default=None,
                        help="output JSON path (default: evaluation.json next to the checkpoint); a PNG goes beside it")
    parser.add_argument("--log-scale", action="store_true", help="symlog y axis (as the paper's 2D-navigation plot)")
    args = parser.parse_args(argv)

    try:  # a missing/corrupt checkpoint or a refused option: one error line naming it, as argparse's own
        extensions = checkpoint_extensions(args.checkpoint)
        if extensions:
            raise ValueError(f"{args.checkpoint} was trained with the extensions {extensions!r}: evaluate it with "
                             "its reproduction's script (reproductions/README.md), which supplies them")
        policy, config = load_policy(args.checkpoint)
        evaluation = EvaluationConfig(
            num_tasks=args.tasks, num_steps=args.steps, step_sizes=tuple(args.step_sizes),
            rollouts_per_task=args.rollouts, seed=args.seed, workers=args.workers, env_kwargs=config.env_kwargs,
            gamma=config.gamma, gae_lambda=config.gae_lambda,
        )
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
        parser.error(str(exc))
    curve = evaluate_adaptation(policy, config.env_id, evaluation)
    curve["checkpoint"] = str(args.checkpoint)
    out = Path(args.out) if args.out else Path(args.checkpoint).with_name("evaluation.json")
    write_curve(curve, out)
    plot_curves({"MAML (ours)": curve}, out.with_suffix(".png"), title=config.env_id,
                reference=paper_curves(config.env_id), log_scale=args.log_scale)
    for k, (mean, ci) in enumerate(zip(curve["mean"], curve["ci95"])):
        print(f"after {k} step(s): {mean:9.2f} ± {ci:.2f}")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return curve


if __name__ == "__main__":
    main()
