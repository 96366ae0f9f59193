"""MALTML vs MAML-TRPO on family-cropped 2D navigation (Devos & Dandi, section 4 "2D Navigation"; MetaNav2DFamily-v0).

Trains, on the same env and with the same number of sampled episodes:

- first-order MALTML with policy-gradient losses (``agents/maltml_rl.py``: m family steps of REINFORCE task steps
  and family-level policy-gradient steps per family, θ ← θ + η Σ_j (θ'_j − θ));
- MAML-TRPO (``agents/maml_trpo.py``, the paper's settings) on the same env, ignoring the families.

Then both get the identical test-time protocol (MALTML 3.1) on 20 held-out families x 2 goal tasks: meta-finetune
on 5 tasks of the family (20 + 20 rollouts per task and family step), then 0..3 REINFORCE steps on each goal task
(0.1 then 0.05, 40 rollouts per step); returns are reported with and without the family meta-update.  The
meta-finetuning's (β, m) is tuned per method on the same grid over 20 validation families (a different seed).
Writes

  reproductions/maltml/results/maltml_nav2d.json   curves (mean ± 95% CI over the 40 goal tasks), tuned (β, m), budgets
  reproductions/maltml/results/maltml_nav2d.png    goal-task return vs adaptation steps per method

Resumable: each method trains in --run-dir/<method>/ with atomic checkpoints; rerunning continues it.

    python reproductions/maltml/bench_maltml_nav2d.py --maml-iterations 200
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

import metarl  # noqa: E402,F401  (registers the envs)
from agents.evaluation import plot_curves  # noqa: E402
from agents.maltml_rl import (  # noqa: E402
    MALTMLRL,
    FamilyEvaluationConfig,
    MALTMLRLConfig,
    evaluate_family_adaptation,
    load_maltml_rl_policy,
    tune_family_step,
)
from agents.maml_trpo import MAMLTRPO, MAMLTRPOConfig  # noqa: E402
from agents.training import TrainingConfig, load_policy, train  # noqa: E402
from metarl.checkpoint import load_checkpoint  # noqa: E402
from metarl.jsonio import write_json  # noqa: E402
from metarl.stats import mean_ci  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ENV_ID = "MetaNav2DFamily-v0"


@dataclass
class Args:
    run_dir: Path = Path("runs/bench_maltml_nav2d")
    """Folder of the checkpoints of both methods (resumed when present)."""
    out: Path = RESULTS / "maltml_nav2d.json"
    """Output JSON file (the PNG goes beside it)."""
    torch_threads: int = 1
    """torch CPU threads."""
    seed: int = 0
    """Training seed of both methods."""
    maml_iterations: int = 200
    """MAML-TRPO meta-iterations (20 tasks x 20 rollouts x 2 per iteration)."""
    family_batch_size: int = 5
    """MALTML families per outer iteration."""
    tasks_per_family: int = 5
    """L: tasks per family (train and test)."""
    family_steps: int = 3
    """m: MALTML first-order family steps in training."""
    family_lr: float = 0.1
    """β: MALTML family step size in training."""
    outer_lr: float = 0.1
    """η of θ <- θ + η Σ_j (θ'_j - θ)."""
    maltml_iterations: int | None = None
    """MALTML outer iterations; None = as many as give MAML-TRPO's number of episodes."""
    eval_families: int = 20
    """Held-out test families, and as many validation families for the tuning."""
    tune_family_lrs: tuple[float, ...] = (0.03, 0.1, 0.3)
    """Test-time β grid (the same for every method)."""
    tune_family_steps: tuple[int, ...] = (1, 3)
    """Test-time m grid (the same for every method)."""
    eval_seed: int = 12345
    """Seed of the held-out test families."""
    val_seed: int = 2017
    """Seed of the validation families used for tuning."""


def train_maml(args: Args, run_dir: Path) -> float:
    config = MAMLTRPOConfig(env_id=ENV_ID, seed=args.seed)
    agent = MAMLTRPO(config)
    t0 = time.perf_counter()
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir), iterations=args.maml_iterations,
                                    resume=(run_dir / "last.pt").exists(), tensorboard=False))
    finally:
        agent.close()
    return time.perf_counter() - t0


def maltml_config(args: Args) -> MALTMLRLConfig:
    return MALTMLRLConfig(
        env_id=ENV_ID, family_batch_size=args.family_batch_size, tasks_per_family=args.tasks_per_family,
        family_steps=args.family_steps, family_lr=args.family_lr, outer_lr=args.outer_lr, seed=args.seed,
    )


def episodes_per_iteration(config: MALTMLRLConfig) -> int:
    tasks = config.family_batch_size * config.tasks_per_family
    return tasks * (config.rollouts_per_task + config.query_rollouts) * config.family_steps


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    torch.set_num_threads(args.torch_threads)
    run_dir = args.run_dir
    maml_cfg = MAMLTRPOConfig(env_id=ENV_ID)
    maml_episodes = args.maml_iterations * maml_cfg.meta_batch_size * maml_cfg.fast_batch_size * 2
    m_cfg = maltml_config(args)
    maltml_iterations = args.maltml_iterations or math.ceil(maml_episodes / episodes_per_iteration(m_cfg))

    wall = {"maml_trpo": train_maml(args, run_dir / "maml_trpo")}
    agent = MALTMLRL(m_cfg)
    t0 = time.perf_counter()
    try:
        train(agent, TrainingConfig(run_dir=str(run_dir / "maltml"), iterations=maltml_iterations,
                                    resume=(run_dir / "maltml" / "last.pt").exists(), tensorboard=False))
    finally:
        agent.close()
    wall["maltml"] = time.perf_counter() - t0

    policies = {
        "maltml": load_maltml_rl_policy(str(run_dir / "maltml" / "best.pt"))[0],
        "maml_trpo": load_policy(run_dir / "maml_trpo" / "best.pt")[0],
    }
    base = FamilyEvaluationConfig(num_families=args.eval_families, tasks_per_family=args.tasks_per_family)
    report: dict = {"env_id": ENV_ID, "methods": {}}
    curves = {}
    for name, policy in policies.items():
        print(f"tuning the test-time meta-finetuning of {name} ...", flush=True)
        val = FamilyEvaluationConfig(**{**asdict(base), "seed": args.val_seed})
        tuned = tune_family_step(policy, ENV_ID, args.tune_family_lrs, args.tune_family_steps, val, args.eval_seed)
        test = FamilyEvaluationConfig(**{**asdict(base), "seed": args.eval_seed,
                                         "family_lr": tuned["family_lr"], "family_steps": tuned["family_steps"]})
        result = evaluate_family_adaptation(policy, ENV_ID, test)
        best_iteration = int(load_checkpoint(run_dir / name / "best.pt")["iteration"])
        report["methods"][name] = {
            "with_family_update": result["with_family_update"],
            "without_family_update": result["without_family_update"],
            "family_step_returns": result["family_steps"],
            "tuning": tuned,
            "checkpoint_iteration": best_iteration,
            "training_seconds_this_call": wall[name],
        }
        label = {"maltml": "MALTML (first order)", "maml_trpo": "MAML-TRPO"}[name]
        curves[f"{label}, after family update"] = result["with_family_update"]
        curves[f"{label}, no family update"] = result["without_family_update"]
        print(name, "with family update", [round(v, 2) for v in result["with_family_update"]["mean"]],
              "without", [round(v, 2) for v in result["without_family_update"]["mean"]], flush=True)
    report["budget"] = {
        "episodes_per_method": maml_episodes,
        "maml_trpo_iterations": args.maml_iterations,
        "maltml_iterations": maltml_iterations,
        "maltml_episodes": maltml_iterations * episodes_per_iteration(m_cfg),
        "maltml_config": m_cfg.to_dict(),
    }
    report["protocol"] = {**asdict(base), "test_seed": args.eval_seed, "val_seed": args.val_seed,
                          "tune_family_lrs": list(args.tune_family_lrs),
                          "tune_family_steps": list(args.tune_family_steps),
                          "training_seed": args.seed}
    paired = [
        a - b for a, b in zip(report["methods"]["maltml"]["with_family_update"]["per_task"][1],
                              report["methods"]["maml_trpo"]["with_family_update"]["per_task"][1])
    ]
    mean, ci = mean_ci(paired)
    report["claim"] = {
        "statement": "MALTML reaches a higher goal-task return than MAML-TRPO after the same meta-finetuning and "
                     "one adaptation step (paired over the same held-out goal tasks)",
        "difference_after_1_step": mean, "ci95": ci, "holds": bool(mean - ci > 0),
    }
    out = args.out
    write_json(out, report)
    plot_curves(curves, out.with_suffix(".png"), title=f"{ENV_ID}: goal tasks of held-out families")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return report


if __name__ == "__main__":
    main()
