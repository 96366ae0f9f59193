"""Regenerate the results tables of README.md from ``benchmarks/results/*.json``.

The tables live between ``<!-- results:start -->`` and ``<!-- results:end -->``; everything else in the README is
left as written.  Only numbers present in the JSON files appear (nothing is typed by hand).

    python benchmarks/make_readme.py          # rewrite README.md
    python benchmarks/make_readme.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: stem of the MAML-TRPO speed files (bench_maml_trpo_speed.py), one per env / allocator setting
SPEED_PREFIX = "maml_trpo_speed"
#: speed-row keys shown as a column when they vary within a file: key -> column header
SPEED_OPTIONAL_COLUMNS = {"step_curvature": "step length's sᵀHs", "repeat": "repeat"}
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _protocol(batch: str) -> str:
    """The evaluation's batch mode as a settings suffix: nothing for the default (fixed rollouts per task)."""
    return ", sample-budget batches" if batch == "samples" else ""


def _task_set(task_set: str | None) -> str:
    """The held-out tasks as a settings suffix: nothing for the default (drawn with the evaluation seed)."""
    return ", the original code's held-out tasks" if task_set == "original" else ""


def _logged_span(r: dict) -> str:
    """For a run resumed from a checkpoint whose earlier log is gone: which iterations the time covers."""
    first = r.get("first_logged_iteration")
    return "" if first is None else f" (iterations {first}-{r['iterations']} only)"


def _training_settings(cfg: dict) -> str:
    """A MAML-TRPO run's training settings as a table cell: always the inner step, batch, action mapping and
    hidden-bias initialisation (configs older than an option lack its key and ran its default); the TRPO trust
    region only when it is not the paper's 0.01; the Fisher-vector products' kind (fd, gn, exact), their
    finite difference (fd only: central or forward, named on every fd row) and their arithmetic when not
    float32; env constructor arguments
    (``--env-kwarg``, e.g. the half-cheetah's ``frame_skip``) when there are any."""
    parts = [
        f"α {cfg['fast_lr']:g}",
        f"{cfg['meta_batch_size']} tasks × {cfg['fast_batch_size']} rollouts",
        cfg.get("action_scaling", "clip"),
        f"hidden biases {cfg.get('hidden_bias_init', 'uniform')}",
    ]
    if cfg.get("max_kl", 0.01) != 0.01:
        parts.append(f"max KL {cfg['max_kl']:g}")
    products = f"{cfg.get('hvp', 'fd')} FVP"
    if cfg.get("hvp", "fd") == "fd":
        products += f" ({cfg.get('fd_scheme') or 'central'} differences{_fd_step_text(cfg)})"  # no key: central
    if cfg.get("fvp_precision", "float32") != "float32":
        products += f" in {cfg['fvp_precision']}"
    parts.append(products)
    parts.extend(f"env {key}={value}" for key, value in sorted(cfg.get("env_kwargs", {}).items()))
    return ", ".join(parts)


def rl_table() -> list[str]:
    rows = []
    for name in sorted(p.stem for p in RESULTS.glob("maml_*.json") if not p.stem.startswith(SPEED_PREFIX)):
        r = _load(name)
        if r is None or "mean" not in r:
            continue
        ours = " / ".join(f"{m:.1f} ± {c:.1f}" for m, c in zip(r["mean"], r["ci95"]))
        paper = " / ".join(f"{m:.1f}" for m in r["paper_maml"]) if r.get("paper_maml") else "–"
        cfg = r["config"]
        fvp = cfg.get("fvp_subsample", 1.0)
        settings = (f"{_training_settings(cfg)}, test steps {' / '.join(f'{a:g}' for a in r['evaluation']['step_sizes'])}"
                    f"{_protocol(r['evaluation'].get('batch', 'episodes'))}{_task_set(r['evaluation'].get('task_set'))}")
        if r.get("evaluated_checkpoint", "best.pt") != "best.pt":
            settings += f", {r['evaluated_checkpoint']} evaluated"
        iterations = str(r["iterations"])
        if "warm_start" in r:  # a continued run: state the iterations and FVP setting of the first part too
            first = r["warm_start"]
            iterations = (f"{first['source_iterations']} ({first['source_config'].get('fvp_subsample', 1.0):.0%} FVP)"
                          f" + {r['iterations']}")
        rows.append(
            f"| `{r['env_id']}` | {ours} | {paper} | {iterations} | {fvp:.0%} | {settings} "
            f"| {r['train_seconds'] / 60:.0f} min{_logged_span(r)} | [{name}.json](benchmarks/results/{name}.json) |"
        )
        for label, extra in r.get("extra_evaluations", {}).items():
            cells = " / ".join(f"{m:.1f} ± {c:.1f}" for m, c in zip(extra["mean"], extra["ci95"]))
            steps = " / ".join(f"{a:g}" for a in extra["step_sizes"])
            checkpoint = Path(extra["checkpoint"]).name if extra.get("checkpoint") else "same checkpoint"
            rows.append(f"| ↳ {checkpoint}, test steps {steps}{_protocol(extra.get('batch', 'episodes'))}"
                        f"{_task_set(extra.get('task_set'))} ({label}) "
                        f"| {cells} | {paper} | | | | | |")
    if not rows:
        return []
    return [
        "### MAML-TRPO adaptation curves (return after 0 / 1 / 2 / 3 gradient steps, 40 held-out tasks, mean ± 95% CI)",
        "",
        "| env | ours | paper (MAML) | meta-iterations | FVP tasks | settings | training time (shared CPU) | file |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _fd_step_text(cfg: dict) -> str:
    """', ε = 1/‖θ‖ (the MAML code's)' for runs with fd_eps='maml_code', ', ε rule R' for another explicit rule;
    nothing for the default ('auto', or no key: written before the option existed)."""
    rule = cfg.get("fd_eps") or "auto"
    if rule == "auto":
        return ""
    return ", ε = 1/‖θ‖ (the MAML code's)" if rule == "maml_code" else f", ε rule {rule}"


def _short_settings(cfg: dict, ev: dict) -> str:
    """The settings that tell the seed aggregates apart, in a few words: inner step, products, training batches, env
    arguments, test steps and test batches (the full list is in each aggregate's own table)."""
    products = cfg.get("hvp", "fd")
    if products == "fd":
        products += f" {cfg.get('fd_scheme') or 'central'}{_fd_step_text(cfg)}"
    training = "sample-budget" if cfg.get("batch", "episodes") == "samples" else "fixed-episode"
    steps = " / ".join(f"{a:g}" for a in ev["step_sizes"])
    env = "".join(f", env {key}={value}" for key, value in sorted(cfg.get("env_kwargs", {}).items()))
    return (f"α {cfg['fast_lr']:g}, {products}, {training} training{env}, test steps {steps}"
            f"{_protocol(ev.get('batch') or 'episodes')}{_task_set(ev.get('task_set'))}")


def seed_overview_table() -> list[str]:
    """One row per ``seeds_*.json``: the mean over training seeds, the spread of the step-1 return over seeds and
    how many seeds reach the paper's MAML curve — the reproduction status without picking a seed."""
    rows = []
    for path in sorted(RESULTS.glob("seeds_*.json")):
        r = json.loads(path.read_text())
        paper = r.get("paper_maml")
        curves = list(r["per_seed"].values())
        after_one = [curve[1] for curve in curves]
        if paper:
            at_one = sum(curve[1] >= paper[1] for curve in curves)
            at_all = sum(all(c >= p for c, p in zip(curve[1:], paper[1:])) for curve in curves)
            reach = f"{at_one} / {at_all} of {len(curves)}"
            paper_cells = " / ".join(f"{v:.1f}" for v in paper)
        else:
            reach, paper_cells = "–", "–"
        rows.append(
            f"| `{r['env_id']}` | {_short_settings(r['config'], r['evaluation'])} | {len(curves)} "
            f"| {' / '.join(f'{m:.1f}' for m in r['mean'])} | {min(after_one):.1f} – {max(after_one):.1f} "
            f"| {reach} | {paper_cells} | [{path.name}](benchmarks/results/{path.name}) |"
        )
    if not rows:
        return []
    return [
        "### MAML-TRPO over training seeds at a glance (each seed's evaluated checkpoint; no seed picked)",
        "",
        "Every seed aggregate below in one table: the mean curve over seeds, the worst and best seed after one "
        "step, and how many seeds reach the paper's MAML return after one step / after each of steps 1-3.",
        "",
        "| env | settings | seeds | mean after 0 / 1 / 2 / 3 | after 1: worst – best seed "
        "| seeds ≥ paper after 1 / after 1-3 | paper (MAML) | file |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def seed_aggregate_tables() -> list[str]:
    """One table per ``seeds_*.json`` (benchmarks/aggregate_seeds.py): every seed's curve and the mean over seeds."""
    lines: list[str] = []
    for path in sorted(RESULTS.glob("seeds_*.json")):
        r = json.loads(path.read_text())
        cfg, ev = r["config"], r["evaluation"]
        steps = " / ".join(f"{a:g}" for a in ev["step_sizes"])
        lines += [
            f"### {r['env_id']} over {len(r['seeds'])} training seeds ({', '.join(map(str, r['seeds']))}): return after "
            f"0 / 1 / 2 / 3 steps — [{path.name}](benchmarks/results/{path.name})",
            "",
            f"{r['iterations']} meta-iterations, {_training_settings(cfg)}, "
            f"{cfg.get('fvp_subsample', 1.0):.0%} FVP; {r['evaluated_checkpoint']} evaluated on {ev['num_tasks']} "
            f"held-out tasks with test steps {steps}{_protocol(ev.get('batch') or 'episodes')}"
            f"{_task_set(ev.get('task_set'))}. "
            "The mean row's ± is the 95% CI over seeds.",
            "",
            "| seed | after 0 | after 1 | after 2 | after 3 |",
            "|---|---|---|---|---|",
        ]
        for seed, curve in r["per_seed"].items():
            lines.append(f"| {seed} | " + " | ".join(f"{v:.1f}" for v in curve) + " |")
        lines.append("| **mean over seeds** | " + " | ".join(
            f"**{m:.1f}** ± {c:.1f}" for m, c in zip(r["mean"], r["ci95_over_seeds"])) + " |")
        if r.get("paper_maml"):
            lines.append("| paper (MAML) | " + " | ".join(f"{v:.1f}" for v in r["paper_maml"]) + " |")
        lines.append("")
    return lines


def comparison_tables() -> list[str]:
    lines: list[str] = []
    for path in sorted(RESULTS.glob("compare_*.json")):
        r = json.loads(path.read_text())
        env_kwargs = r.get("config", {}).get("evaluation", {}).get("env_kwargs", {})
        env_args = "".join(f", {key}={value}" for key, value in sorted(env_kwargs.items()))
        lines += [
            f"### {r['env_id']}{env_args}: MAML vs the paper's comparison learners (same {len(r['tasks'])} held-out tasks; "
            f"return after 0 / 1 / 2 / 3 steps, mean ± 95% CI) — [{path.name}](benchmarks/results/{path.name})",
            "",
            "| method | after 0 | after 1 | after 2 | after 3 | fine-tuning step sizes |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in r["methods"].items():
            cells = " | ".join(f"{mu:.1f} ± {ci:.1f}" for mu, ci in zip(m["mean"], m["ci95"]))
            sizes = ", ".join(f"{x:g}" for x in m["step_sizes"]) if m.get("step_sizes") else "– (no adaptation)"
            lines.append(f"| {name} | {cells} | {sizes} |")
        lines.append("")
    return lines


def random_init_tables() -> list[str]:
    """One table per ``random_init_*.json`` (benchmarks/bench_random_init_variants.py): untrained policies per env
    variant, mean over initialisation seeds, against the paper's random-initialisation curve."""
    lines: list[str] = []
    for path in sorted(RESULTS.glob("random_init_*.json")):
        r = json.loads(path.read_text())
        seeds = sorted({run["seed"] for v in r["variants"] for run in v["seeds"]})
        lines += [
            f"### {r['env_id']}: untrained policy fine-tuned on the held-out tasks, mean over {len(seeds)} "
            f"initialisation seeds ({r['protocol']['architecture']}; return after 0 / 1 / 2 / 3 steps, ± 95% CI "
            f"over seeds) — [{path.name}](benchmarks/results/{path.name})",
            "",
            "| env kwargs | after 0 | after 1 | after 2 | after 3 | gain after 3 |",
            "|---|---|---|---|---|---|",
        ]
        for v in r["variants"]:
            over, gain = v["over_seeds"], v["gain_over_seeds"]
            kwargs = ", ".join(f"{key}={value}" for key, value in sorted(v["env_kwargs"].items())) or "defaults"
            cells = " | ".join(f"{m:.1f} ± {c:.1f}" for m, c in zip(over["mean"], over["ci95"]))
            lines.append(f"| {kwargs} | {cells} | {gain['mean'][-1]:.1f} ± {gain['ci95'][-1]:.1f} |")
        paper = r.get("paper_random_init")
        if paper:
            lines.append("| paper (random init) | " + " | ".join(f"{x:.1f}" for x in paper)
                         + f" | {paper[-1] - paper[0]:.1f} |")
        lines.append("")
    return lines


def direction_split_table() -> list[str]:
    """One table per ``cheetah_dir_direction_split*.json`` (benchmarks/bench_direction_split.py)."""
    lines: list[str] = []
    for path in sorted(RESULTS.glob("cheetah_dir_direction_split*.json")):
        lines += _direction_split_lines(json.loads(path.read_text()), path.name)
    return lines


def _direction_split_lines(r: dict, file_name: str) -> list[str]:
    """Per run, the direction gap of its first training meta-batch (when measured), the gap in its training log a
    quarter of the way in (when logged), the pre-update direction gap and the return per direction after 0 and
    1 steps, then the correlations."""
    protocol = r["protocol"]
    tasks = (f"the original code's {protocol['num_tasks']} held-out tasks" if protocol.get("task_set") == "original"
             else f"{protocol['num_tasks']} held-out tasks of examples/evaluate.py")
    initial = all("initial_direction_gap" in run for run in r["runs"])
    window = (r.get("training_gap_vs_step1") or {}).get("iterations")
    training = window is not None and any(run.get("training_direction_gap") is not None for run in r["runs"])
    lines = [
        f"### {r['env_id']} split by direction: forward / backward return after 0 and 1 steps "
        f"({tasks}) — [{file_name}](benchmarks/results/{file_name})",
        "",
        "| run |" + (" gap at training iteration 1 |" if initial else "")
        + (f" gap in training, iterations {window[0]}-{window[1]} |" if training else "")
        + " after 0: forward / backward | gap (bwd − fwd) | after 1: forward / backward | after 1: mean |",
        "|---|" + ("---|" if initial else "") + ("---|" if training else "") + "---|---|---|---|",
    ]
    for run in r["runs"]:
        fwd, bwd = run["forward"]["mean"], run["backward"]["mean"]
        first = f" {run['initial_direction_gap']:+.1f} |" if initial else ""
        during = ""
        if training:
            gap = run.get("training_direction_gap")
            during = " – |" if gap is None else f" {gap:+.1f} |"
        lines.append(f"| {run['label']} |{first}{during} {fwd[0]:.1f} / {bwd[0]:.1f} | {run['direction_gap_step0']:+.1f} "
                     f"| {fwd[1]:.1f} / {bwd[1]:.1f} | {run['mean'][1]:.1f} |")
    groups = r.get("groups") or {}
    if groups:
        lines += ["", "| runs | mean after 0 / 1 / 2 / 3 (± 95% CI over runs) | after 1: forward / backward |",
                  "|---|---|---|"]
        for name, g in groups.items():
            curve = " / ".join(f"{m:.1f} ± {c:.1f}" for m, c in zip(g["mean"], g["ci95"]))
            lines.append(f"| {name} ({len(g['runs'])} seeds) | {curve} | {g['forward'][1]:.1f} / {g['backward'][1]:.1f} |")
    measured = False
    during_label = f"in training (iterations {window[0]}-{window[1]})" if window else ""
    for key, when in (("gap_vs_step1", "before adaptation"), ("initial_gap_vs_step1", "at training iteration 1"),
                      ("training_gap_vs_step1", during_label)):
        corr = r.get(key) or {}
        for name, label in (("signed_gap", "signed gap"), ("absolute_gap", "|gap|")):
            c = corr.get(name)
            if c:
                measured = True
                lines += ["", f"Step-1 mean vs {label} {when} over {corr['num_runs']} runs: Spearman ρ "
                          f"{c['spearman_rho']:+.2f} (p {c['spearman_p']:.3f}), Pearson r {c['pearson_r']:+.2f} "
                          f"(p {c['pearson_p']:.3f})."]
    if measured:
        lines += ["", "The p-values treat the runs as independent; runs that share a training seed are not."]
    lines.append("")
    return lines


def malloc_tuning_label(machine: dict) -> str:
    """How a speed file's process allocated memory: :mod:`metarl.malloc_tuning` "on", or "off" and why."""
    status = machine.get("malloc_tuning")
    if status is None:
        return "off (measured before metarl.malloc_tuning)"
    return "on" if status == "applied" else f"off ({status})"


def speed_table() -> list[str]:
    """One table per ``maml_trpo_speed*.json`` (MetaNav2D first, then by name)."""
    names = sorted((p.stem for p in RESULTS.glob(f"{SPEED_PREFIX}*.json")), key=lambda n: (n != SPEED_PREFIX, n))
    lines: list[str] = []
    for name in names:
        r = _load(name)
        if r is None:
            continue
        # columns for settings that vary within the file only (the step-length source, repeated measurements)
        varying = [key for key in SPEED_OPTIONAL_COLUMNS if len({row.get(key) for row in r["results"]}) > 1]
        lines += [
            f"### MAML-TRPO seconds per meta-iteration ({r['env_id']}, {r['config']}; `{name}.json`, "
            f"malloc tuning {malloc_tuning_label(r.get('machine', {}))})",
            "",
            "| HVP | FVP arithmetic | FVP tasks | workers | "
            + "".join(f"{SPEED_OPTIONAL_COLUMNS[key]} | " for key in varying)
            + "sampling | inner step | TRPO meta-step | total |",
            "|---|---|---|---|" + "---|" * len(varying) + "---|---|---|---|",
        ]
        for row in r["results"]:
            # fd rows name their difference (files older than the fd_scheme key timed central ones); gn/exact rows
            # take none, though files written before 2026-12-04 stored the config default "central" on them
            hvp = f"fd ({row.get('fd_scheme') or 'central'})" if row["hvp"] == "fd" else row["hvp"]
            lines.append(
                f"| {hvp} | {row.get('fvp_precision', 'float32')} | {row['fvp_subsample']:.0%} | {row['workers']} | "
                + "".join(f"{row.get(key)} | " for key in varying)
                + f"{row['sampling']:.2f} s "
                f"| {row['inner_adaptation']:.2f} s | {row['meta_step']:.2f} s | **{row['iteration']:.2f} s** |"
            )
        lines.append("")
    return lines


def supervised_speed_table() -> list[str]:
    r = _load("supervised_speed")
    if r is None:
        return []
    lines = [
        f"### Supervised MAML meta-iterations per second ({r['task']})",
        "",
        "| implementation | order | iterations/s | ms/iteration (median) |",
        "|---|---|---|---|",
    ]
    for row in r["results"]:
        if "iterations_per_second" in row:
            lines.append(f"| {row['implementation']} | {row['order']} | {row['iterations_per_second']:.1f} "
                         f"| {row['ms_per_iteration_median']:.1f} |")
    lines.append("")
    return lines


def env_table() -> list[str]:
    r = _load("envs")
    if r is None:
        return []
    lines = [
        "### Batched simulation, env-steps per second (`benchmarks/results/envs.json`)",
        "",
        "| env | B | ours (vector env) | ours, 2 threads | SyncVectorEnv | raw `mj_step` loop | ours / Sync "
        "| 2 threads / Sync | ours / raw |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in r["cases"]:
        methods = case["methods"]
        ours = methods["vector"]["steps_per_s"]
        threads = methods.get("vector_threads", {}).get("steps_per_s")
        sync = methods.get("sync", {}).get("steps_per_s")
        raw = methods.get("raw_mj_step", {}).get("steps_per_s")
        lines.append(
            f"| `{case['env']}` | {case['num_envs']} | {_fmt(ours, 0)} | {_fmt(threads, 0)} | {_fmt(sync, 0)} "
            f"| {_fmt(raw, 0)} | {_fmt(ours / sync if sync else None, 2)} "
            f"| {_fmt(threads / sync if sync and threads else None, 2)} | {_fmt(ours / raw if raw else None, 2)} |"
        )
    lines.append("")
    return lines


def _curve_cells(curve: dict) -> str:
    return " | ".join(f"{m:.1f} ± {c:.1f}" for m, c in zip(curve["mean"], curve["ci95"]))


def maltml_nav2d_table() -> list[str]:
    r = _load("maltml_nav2d")
    if r is None:
        return []
    budget = r["budget"]
    lines = [
        f"### MALTML vs MAML-TRPO on `{r['env_id']}` (goal tasks of {r['protocol']['num_families']} held-out "
        f"families × {r['protocol']['goal_tasks_per_family']}; return after 0 / 1 / 2 / 3 steps, mean ± 95% CI) — "
        "[maltml_nav2d.json](benchmarks/results/maltml_nav2d.json)",
        "",
        f"Training budgets: MAML-TRPO {budget['episodes_per_method']:,} episodes ({budget['maml_trpo_iterations']} "
        f"iterations), first-order MALTML {budget['maltml_episodes']:,} episodes ({budget['maltml_iterations']} "
        "iterations); the test-time meta-finetuning (β, m) is tuned per method on validation families.",
        "",
        "| method | family update (β, m) | after 0 | after 1 | after 2 | after 3 |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in r["methods"].items():
        tuned = m["tuning"]
        lines.append(f"| {name}, no family update | – | {_curve_cells(m['without_family_update'])} |")
        lines.append(f"| {name}, after family update | ({tuned['family_lr']:g}, {tuned['family_steps']}) "
                     f"| {_curve_cells(m['with_family_update'])} |")
    claim = r["claim"]
    lines += ["", f"MALTML − MAML-TRPO after 1 step (paired): {claim['difference_after_1_step']:+.2f} ± "
              f"{claim['ci95']:.2f} → the paper's claim {'holds' if claim['holds'] else 'does not hold'} here.", ""]
    return lines


def maltml_sinusoid_table() -> list[str]:
    r = _load("maltml_sinusoid")
    if r is None:
        return []
    cfg = r["config"]
    seeds = cfg["seeds"]
    lines = [
        f"### MALTML on sinusoid families (Devos & Dandi 4.1): goal-task test MSE, {cfg['eval_families']} held-out "
        f"families × {cfg['eval_goal_tasks']} goal tasks, mean ± 95% CI over seeds {seeds} — "
        "[maltml_sinusoid.json](benchmarks/results/maltml_sinusoid.json)",
        "",
        f"{cfg['iterations']:,} outer iterations per run; test-time (β, γ) tuned per method and seed on "
        f"{cfg['val_families']} validation families.  Columns: 0 steps without the family meta-update, then after "
        "the meta-update on the family's tasks, after 0 / 1 / 5 / 10 goal fine-tuning steps.",
        "",
        "| run | 0 steps, no meta-update | 0 steps | 1 step | 5 steps | 10 steps |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in r["runs"].items():
        c = run["tuned"]
        diverged = run.get("diverged_seeds") or []
        note = f" — diverged for seed {', '.join(map(str, diverged))}, left out" if diverged else ""
        if c is None:
            lines.append(f"| {name}{note} | – | – | – | – | – |")
            continue
        cells = [f"{c['loss_without_meta_update_mean'][0]:.3f} ± {c['loss_without_meta_update_ci95'][0]:.3f}"]
        cells += [f"{c['loss_mean'][k]:.3f} ± {c['loss_ci95'][k]:.3f}" for k in (0, 1, 5, len(c["loss_mean"]) - 1)
                  if k < len(c["loss_mean"])]
        tuned = " (α chosen on validation)" if name == r.get("maml_tuned") else ""
        lines.append(f"| {name}{tuned}{note} | " + " | ".join(cells) + " |")
    lines.append("")
    for label, claim in r.get("claim", {}).items():
        if "(tuned)" not in label:
            continue
        last = len(claim["difference_mean"]) - 1
        lines.append(f"- {label}: {claim['difference_mean'][last]:+.3f} ± {claim['difference_ci95'][last]:.3f} "
                     f"after {last} steps (paired over seeds; significantly lower: "
                     f"{'yes' if claim['significantly_lower'][last] else 'no'})")
    lines.append("")
    return lines


def sinusoid_table() -> list[str]:
    r = _load("sinusoid")
    if r is None:
        return []
    rows = r.get("paper_table2_5shot", {})
    lines = [
        "### Sinusoid regression, 5-shot test MSE after 1 / 5 / 10 steps (600 tasks, mean ± 95% CI; trained 10-shot, "
        "MAML Table 2) — [sinusoid.json](benchmarks/results/sinusoid.json)",
        "",
        "| method | ours | paper (Table 2) | fine-tuning step size |",
        "|---|---|---|---|",
    ]
    for name, method in r["methods"].items():
        curve = method["curves"].get("5")
        if curve is None:
            continue
        steps = [1, 5, 10]
        ours = " / ".join(f"{curve['loss_mean'][k]:.2f} ± {curve['loss_ci95'][k]:.2f}" for k in steps
                          if k < len(curve["loss_mean"]))
        paper = " / ".join(f"{v:.2f}" for v in rows[name]["paper"]) if name in rows else "–"
        alpha = method["step_size"].get("5")
        lines.append(f"| {name} | {ours} | {paper} | {'–' if alpha is None else f'{alpha:g}'} |")
    lines.append("")
    return lines


def sinusoid_seeds_table() -> list[str]:
    r = _load("sinusoid_seeds")
    if r is None:
        return []
    lines = [
        f"MAML over {len(r['seeds'])} training seeds ({', '.join(map(str, r['seeds']))}), 5-shot test MSE after "
        f"1 / 5 / 10 steps, mean ± 95% CI over seeds (every seed on the same {r['config']['eval_tasks']} test tasks) — "
        "[sinusoid_seeds.json](benchmarks/results/sinusoid_seeds.json)",
        "",
        "| method | mean over seeds | each seed | paper (Table 2) |",
        "|---|---|---|---|",
    ]
    for name, method in r["methods"].items():
        row = method["paper_table2_5shot"]
        if row is None:
            continue
        ours = " / ".join(f"{o:.2f} ± {c or 0:.2f}" for o, c in zip(row["ours"], row["ours_ci95"]))
        each = "; ".join(" / ".join(f"{curves['5'][k]:.2f}" for k in row["steps"])
                         for curves in method["per_seed"].values())
        paper = " / ".join(f"{v:.2f}" for v in row["paper"])
        lines.append(f"| {name} | {ours} | {each} | {paper} |")
    lines.append("")
    return lines


def glyphs_table() -> list[str]:
    r = _load("glyphs")
    if r is None:
        return []
    names = list(r["settings"])
    lines = [
        "### Few-shot classification on Glyphs, held-out classes (accuracy %, mean ± 95% CI over test tasks; final "
        "model) — [glyphs.json](benchmarks/results/glyphs.json)",
        "",
        "| method | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    methods = sorted({m for entry in r["settings"].values() for m in entry["methods"]},
                     key=["maml", "fomaml", "pixel_1nn"].index)
    for method in methods:
        cells = []
        for name in names:
            e = r["settings"][name]["methods"].get(method)
            cells.append("–" if e is None else f"{100 * e['accuracy']:.1f} ± {100 * (e['ci95'] or 0):.1f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if r.get("not_run"):
        lines += ["", "Not run yet (partial benchmark): " + ", ".join(f"`{x}`" for x in r["not_run"]) + "."]
    lines.append("")
    return lines


def meta_augmentation_table() -> list[str]:
    r = _load("meta_augmentation")
    if r is None:
        return []
    lines = ["### Meta-augmentation (Rajendran et al. 2020) — "
             "[meta_augmentation.json](benchmarks/results/meta_augmentation.json)", ""]
    if "sinusoid" in r:
        seeds = len(r["sinusoid"]["runs"])
        lines += [
            f"Non-mutually-exclusive sinusoid, test MSE after 0 / 1 / 10 steps (mean ± 95% CI over {seeds} seeds):",
            "",
            "| method | final model | best-validation model |",
            "|---|---|---|",
        ]
        for method, entry in r["sinusoid"]["summary"].items():
            cells = []
            for variant in ("final", "best_val"):
                e = entry.get(variant)
                cells.append("–" if e is None else " / ".join(
                    f"{e['mse_mean'][k]:.3f} ± {e['mse_ci95'][k] or 0:.3f}" for k in (0, 1, len(e["mse_mean"]) - 1)))
            lines.append(f"| {method} | {cells[0]} | {cells[1]} |")
        lines.append("")
    if "labels" in r:
        variant = r["labels"]["headline_variant"]
        lines += [f"Glyphs 5-way 1-shot accuracy by label scheme ({variant} model):", "",
                  "| label scheme | accuracy % |", "|---|---|"]
        for scheme, entry in r["labels"]["summary"].items():
            e = entry[variant]
            lines.append(f"| {scheme} | {100 * e['accuracy']:.1f} ± {100 * (e['ci95'] or 0):.1f} |")
        paired = {k: v for k, v in (r["labels"].get("paired") or {}).items() if v is not None}
        if paired:
            lines += ["", "Paired differences on the same test tasks (accuracy points, 95% CI): " + "; ".join(
                f"{k.replace('_minus_', ' − ')} {100 * v['mean']:+.1f} ± {100 * v['ci95']:.1f}"
                for k, v in paired.items()) + "."]
        lines.append("")
    return lines


def later_step_size_table() -> list[str]:
    """``later_step_size_nav2d.json`` (benchmarks/bench_later_step_size.py): per checkpoint, the validation score of
    every candidate factor, the chosen one, and the test curves with the paper's halving and with the choice."""
    r = _load("later_step_size_nav2d")
    if r is None:
        return []
    p = r["protocol"]
    factors = p["factors"]
    lines = [
        f"### MetaNav2D-v0: size of adaptation steps 2-{p['num_steps']} chosen on validation tasks (seed "
        f"{p['validation_seed']}), against the paper's halving — "
        f"[later_step_size_nav2d.json](benchmarks/results/later_step_size_nav2d.json)",
        "",
        "| run | validation score per factor " + " / ".join(f"{f:g}" for f in factors)
        + " | chosen | test, halving: after 0 / 1 / 2 / 3 | test, chosen | original goals, halving "
        "| original goals, chosen |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        scores = {c["factor"]: c["score"] for c in run["selection"]["candidates"]}
        cells = [" / ".join(f"{m:.1f}" for m in run[key]["mean"])
                 for key in ("paper_halving_sampled", "chosen_sampled", "paper_halving_original", "chosen_original")]
        lines.append(f"| {run['label']} | " + " / ".join(_fmt(scores.get(f)) for f in factors)
                     + f" | {run['selection']['factor']:g} | " + " | ".join(cells) + " |")
    if r.get("paper_maml"):
        paper = " / ".join(f"{m:.1f}" for m in r["paper_maml"])
        lines.append(f"| paper (MAML; the original goals, halving) | | | | | {paper} | |")
    lines.append("")
    return lines


def render() -> str:
    lines = [
        START, "", *seed_overview_table(), *rl_table(), *seed_aggregate_tables(), *comparison_tables(), *random_init_tables(), *direction_split_table(),
        *later_step_size_table(),
        *speed_table(), *sinusoid_table(), *sinusoid_seeds_table(), *glyphs_table(), *meta_augmentation_table(),
        *maltml_sinusoid_table(), *maltml_nav2d_table(),
        *supervised_speed_table(), *env_table(), END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="README path (default: README.md)")
    args = parser.parse_args(argv)
    readme = Path(args.readme)
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"{readme} has no {START} ... {END} block", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = head + render() + tail
    if args.check:
        if new != text:
            print(f"{readme} is out of date: run python benchmarks/make_readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
