"""Write ``docs/results.md`` and the headline tables (README.md, reproductions/<paper>/README.md) from
``benchmarks/results/*.json``.

docs/results.md is generated whole: one table per canonical file (``benchmarks/canonical.py``), then the speed
tables.  In the READMEs only the block between ``<!-- headline:start -->`` and ``<!-- headline:end -->`` is
rewritten.  Every number comes from a JSON file; nothing is typed by hand.

    python benchmarks/make_docs.py          # rewrite
    python benchmarks/make_docs.py --check  # exit 1 if a generated file is out of date
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- headline:start -->", "<!-- headline:end -->"
SEEDS_START, SEEDS_END = "<!-- seeds:start -->", "<!-- seeds:end -->"
MAML2017_RESULTS = ROOT / "reproductions" / "maml2017" / "results"
#: canonical file -> (the reproduction folder it belongs to, steps shown in the headline table)
HEADLINE = {
    "maml_trpo_nav2d": ("maml2017", [0, 1, 2, 3]),
    "maml_trpo_cheetah_vel": ("maml2017", [0, 1, 2, 3]),
    "maml_trpo_cheetah_dir": ("maml2017", [0, 1, 2, 3]),
    "maml_trpo_ant_vel": ("maml2017", [0, 1, 2, 3]),
    "maml_trpo_ant_dir": ("maml2017", [0, 1, 2, 3]),
    "comparison_nav2d": ("maml2017", [0, 1, 2, 3]),
    "comparison_cheetah_vel": ("maml2017", [0, 1, 2, 3]),
    "comparison_cheetah_dir": ("maml2017", [0, 1, 2, 3]),
    "comparison_ant_vel": ("maml2017", [0, 1, 2, 3]),
    "comparison_ant_dir": ("maml2017", [0, 1, 2, 3]),
    "maml_sinusoid": ("maml2017", [1, 5, 10]),
    "maml_glyphs": ("maml2017", [0, 1, 3]),
    "meta_augmentation": ("meta_augmentation", [0, 1, 10]),
    "maltml_sinusoid": ("maltml", [0, 1, 10]),
    "maltml_nav2d": ("maltml", [0, 1, 2, 3]),
    "maml_trpo_ml1_reach": ("metaworld2019", [0, 1, 2, 3]),
}
SPEED_PREFIX = "maml_trpo_speed"
#: metrics stored as fractions (0-1) and shown as percentages
PERCENT_METRICS = ("accuracy", "success")


def canonical() -> dict[str, dict[str, Any]]:
    """The canonical results present, in :data:`HEADLINE` order."""
    found = {}
    for name in HEADLINE:
        path = RESULTS / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def _num(x: float | None, metric: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if metric in PERCENT_METRICS:
        return f"{100 * x:.1f}"
    return f"{x:.1f}" if metric == "return" else f"{x:.3f}"


def _cell(mean: float, ci: float | None, metric: str) -> str:
    return _num(mean, metric) if ci is None or (isinstance(ci, float) and math.isnan(ci)) \
        else f"{_num(mean, metric)} ± {_num(ci, metric)}"


def _at(curve: dict[str, Any], steps: list[int], key: str = "mean") -> list[float | None]:
    index = {s: i for i, s in enumerate(curve["steps"])}
    return [curve[key][index[s]] if s in index and curve.get(key) is not None else None for s in steps]


def paper_values(r: dict[str, Any], steps: list[int]) -> str:
    """The paper's values at ``steps`` as a cell ('–' when the paper gives no number for this benchmark)."""
    paper = r["paper"]
    if "mean" in paper:
        return " / ".join(_num(v, r["metric"]) for v in _at(paper, steps))
    if "maml" in paper.get("methods", {}) and "steps" in paper:
        return " / ".join(_num(v, r["metric"]) for v in _at({"steps": paper["steps"], "mean": paper["methods"]["maml"]},
                                                              steps))
    return "–"


PAPER_METHOD = {"maml": "maml", "pretrained": "pretrained", "random": "random_init", "context": "context_vector",
                "oracle": "oracle"}
"""Learner name in a comparison file -> its key among the paper's RL numbers."""
METHOD_LABEL = {"maml": "MAML-TRPO", "pretrained": "pretrained", "random": "random init",
                "context": "context vector", "oracle": "oracle (PPO)"}


COMPARED = ("maml", "pretrained", "random", "oracle", "context")
"""Learners of a comparison file, in the comparison table's column order."""


def _learner_cell(r: dict[str, Any], method: str, step: int) -> str:
    """'ours (paper)' of one learner after ``step`` gradient steps; the oracle's paper value is a single number."""
    curve = r["methods"].get(method)
    ours = "–" if curve is None else _num(_at(curve, [step])[0], r["metric"])
    paper = r["paper"]["methods"].get(PAPER_METHOD[method])
    if isinstance(paper, list):
        paper = _at({"steps": r["paper"]["steps"], "mean": paper}, [step])[0]
    return ours if paper is None else f"{ours} ({_num(paper, r['metric'])})"


def comparison_rows(results: dict[str, dict[str, Any]], link_prefix: str) -> list[str]:
    """The comparison table: one row per benchmark, each learner's return after the last headline step with the
    paper's value in brackets (the MAML column is the comparison's own checkpoint); empty without comparison files."""
    compared = {name: r for name, r in results.items() if name.startswith("comparison_")}
    if not compared:
        return []
    rows = ["| benchmark | return after step | " + " | ".join(METHOD_LABEL[m] for m in COMPARED)
            + " | paper's order holds after 1 / 2 / 3 steps | result |",
            "|---|---|" + "---|" * (len(COMPARED) + 2)]
    for name, r in compared.items():
        step = HEADLINE[name][1][-1]
        cells = " | ".join(_learner_cell(r, m, step) for m in COMPARED)
        ordering = r.get("ordering")
        order = "–" if ordering is None else f"{ordering['order'].replace('maml', 'MAML')}: " + " / ".join(
            "yes" if holds else "no" for holds in ordering["holds_after_step"].values())
        rows.append(f"| {r['benchmark']} | {step} | {cells} | {order} "
                    f"| [{name}.json]({link_prefix}benchmarks/results/{name}.json) |")
    return rows


def headline_rows(results: dict[str, dict[str, Any]], link_prefix: str) -> list[str]:
    """The headline table (one row per (method, benchmark), paper against the mean over seeds), then the
    comparison table when there are comparison files."""
    rows = ["| method | benchmark | metric, after steps | paper | ours (mean over seeds) | seeds | result |",
            "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if name.startswith("comparison_"):
            continue
        steps = HEADLINE[name][1]
        link = f"[{name}.json]({link_prefix}benchmarks/results/{name}.json)"
        ours = " / ".join(_num(v, r["metric"]) for v in _at(r, steps))
        metric = {"return": "return", "mse": "MSE", "accuracy": "accuracy %", "success": "success %"}[r["metric"]]
        paper = paper_values(r, steps)
        if r["metric"] == "accuracy" and paper == "–":
            paper = " / ".join(["–"] * (len(steps) - 1) + [f"{r['paper']['methods']['5way_1shot']} (Omniglot)"])
        rows.append(f"| {r['algorithm']} | {r['benchmark']} | {metric}, {' / '.join(map(str, steps))} | {paper} "
                    f"| {ours} | {len(r['seeds'])} | {link} |")
    comparison = comparison_rows(results, link_prefix)
    if comparison:
        rows += ["", "The paper's comparison learners on the same 40 held-out tasks: ours (paper); one trained "
                 "checkpoint each, details and every step in docs/results.md.", "", *comparison]
    return rows


def _curve_row(label: str, curve: dict[str, Any], steps: list[int], metric: str) -> str:
    cis = _at(curve, steps, "ci95") if "ci95" in curve else [None] * len(steps)
    return f"| {label} | " + " | ".join(_cell(m, c, metric) if m is not None else "–"
                                        for m, c in zip(_at(curve, steps), cis)) + " |"


def result_table(name: str, r: dict[str, Any]) -> list[str]:
    steps = r["steps"] if len(r["steps"]) <= 5 else HEADLINE[name][1]
    metric = r["metric"]
    over = "seeds" if r["ci95_over"] == "seeds" else "held-out tasks"
    where = r.get("env_id") or r.get("dataset")
    lines = [f"### {r['algorithm']} — {r['benchmark']}", "",
             f"`{where}`; {metric}{' (%)' if metric in PERCENT_METRICS else ''} after {', '.join(map(str, steps))} "
             f"gradient steps; mean ± 95% CI over {over}; {len(r['seeds'])} training seed(s) "
             f"({', '.join(map(str, r['seeds']))}).", "",
             "| | " + " | ".join(f"after {s}" for s in steps) + " |", "|---|" + "---|" * len(steps)]
    lines.append(_curve_row(f"**ours** ({len(r['seeds'])} seed{'s' * (len(r['seeds']) > 1)})", r, steps, metric))
    if len(r["seeds"]) > 1:
        for seed, curve in r["per_seed"].items():
            lines.append(_curve_row(f"seed {seed}", curve, steps, metric))
    for label, curve in r.get("curves", {}).items():
        lines.append(_curve_row(f"ours, {label.replace('_', ' ')}", curve, steps, curve.get("metric", metric)))
    for method, curve in r.get("methods", {}).items():
        if "mean" in curve and method != "maml":
            lines.append(_curve_row(method, curve, steps, metric))
    paper = paper_values(r, steps)
    if paper != "–":
        lines.append("| paper | " + " | ".join(paper.split(" / ")) + " |")
    for method, values in (r["paper"].get("methods") or {}).items():
        if isinstance(values, list) and method != "maml" and "steps" in r["paper"]:
            lines.append(f"| paper, {method} | " + " | ".join(_num(v, metric) for v in _at(
                {"steps": r["paper"]["steps"], "mean": values}, steps)) + " |")
        elif not isinstance(values, list) and "steps" in r["paper"]:
            lines.append(f"| paper, {method} | {_num(values, metric)} (one value) |" + " |" * (len(steps) - 1))
    if "settings" in r:
        lines += ["", "| setting | " + " | ".join(r["settings"][next(iter(r["settings"]))]) + " |",
                  "|---|" + "---|" * len(r["settings"][next(iter(r["settings"]))])]
        for setting, methods in r["settings"].items():
            cells = [_cell(m["mean"][-1], m["ci95"][-1], metric) if "mean" in m else _cell(m["accuracy"], m["ci95"], metric)
                     for m in methods.values()]
            lines.append(f"| {setting} (final) | " + " | ".join(cells) + " |")
    if "labels" in r:
        lines += ["", "| Glyphs label scheme (1 seed) | accuracy % |", "|---|---|"]
        for scheme, e in r["labels"]["accuracy"].items():
            lines.append(f"| {scheme} | {_cell(e['accuracy'], e['ci95'], 'accuracy')} |")
    if "paper" in r and "claim" in r["paper"]:
        lines += ["", f"Paper: {r['paper']['claim']}"]
    checkpoints = ", ".join(f"[{Path(c).name}](../{c})" for c in r["checkpoints"]) or "none kept"
    wall = r["wall_time_seconds"].get("total")
    wall_text = f"{'–' if wall is None else f'{wall / 60:.0f} min'} in total"
    if learners := r["wall_time_seconds"].get("learners"):  # comparisons: the total is the MAML checkpoint's
        wall_text = f"{wall / 60:.0f} min (MAML), " + ", ".join(f"{v / 60:.0f} min ({k})" for k, v in learners.items())
    lines += ["", f"Files: [{name}.json](../benchmarks/results/{name}.json), [{name}.png](../benchmarks/results/{name}.png); "
              f"checkpoints: {checkpoints}; training wall time {wall_text}; "
              f"paper: {r['paper']['source']}.", ""]
    lines += [f"- {note}" for note in r["notes"]]
    lines += ["", f"![{name}](../benchmarks/results/{name}.png)", ""]
    return lines


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def malloc_tuning_label(machine: dict) -> str:
    status = machine.get("malloc_tuning")
    if status is None:
        return "off (measured before metarl.malloc_tuning)"
    return "on" if status == "applied" else f"off ({status})"


def speed_tables() -> list[str]:
    """MAML-TRPO seconds per meta-iteration (one table per ``maml_trpo_speed*.json``), supervised and env speed."""
    lines: list[str] = []
    names = sorted((p.stem for p in RESULTS.glob(f"{SPEED_PREFIX}*.json")), key=lambda n: (n != SPEED_PREFIX, n))
    for name in names:
        r = json.loads((RESULTS / f"{name}.json").read_text())
        lines += [f"### MAML-TRPO seconds per meta-iteration ({r['env_id']}; [{name}.json](../benchmarks/results/"
                  f"{name}.json), malloc tuning {malloc_tuning_label(r.get('machine', {}))})", "",
                  f"{r['config']}.", "",
                  "| HVP | workers | sampling | inner step | TRPO meta-step | total (± std) |",
                  "|---|---|---|---|---|---|"]
        for row in r["results"]:
            hvp = {"fd": "fd (central)"}.get(row["hvp"], row["hvp"])
            lines.append(f"| {hvp} | {row['workers']} "
                         f"| {row['sampling']:.2f} s | {row['inner_adaptation']:.2f} s | {row['meta_step']:.2f} s "
                         f"| **{row['iteration']:.2f} s** ± {row['iteration_std']:.2f} |")
        lines.append("")
    path = RESULTS / "supervised_speed.json"
    if path.exists():
        r = json.loads(path.read_text())
        lines += [f"### Supervised MAML meta-iterations per second ({r['task']}; "
                  "[supervised_speed.json](../benchmarks/results/supervised_speed.json))", "",
                  "| implementation | order | iterations/s | ms/iteration (median) |", "|---|---|---|---|"]
        lines += [f"| {row['implementation']} | {row['order']} | {row['iterations_per_second']:.1f} "
                  f"| {row['ms_per_iteration_median']:.1f} |" for row in r["results"] if "iterations_per_second" in row]
        lines.append("")
    path = RESULTS / "envs.json"
    if path.exists():
        r = json.loads(path.read_text())
        lines += ["### Batched simulation, env-steps per second ([envs.json](../benchmarks/results/envs.json))", "",
                  "| env | B | ours (vector env) | ours, 2 threads | SyncVectorEnv | raw `mj_step` loop | ours / Sync |",
                  "|---|---|---|---|---|---|---|"]
        for case in r["cases"]:
            m = case["methods"]
            ours, sync = m["vector"]["steps_per_s"], m.get("sync", {}).get("steps_per_s")
            lines.append(f"| `{case['env']}` | {case['num_envs']} | {_fmt(ours, 0)} "
                         f"| {_fmt(m.get('vector_threads', {}).get('steps_per_s'), 0)} | {_fmt(sync, 0)} "
                         f"| {_fmt(m.get('raw_mj_step', {}).get('steps_per_s'), 0)} "
                         f"| {_fmt(ours / sync if sync else None, 2)} |")
        lines.append("")
    return lines + adapter_table() + metaworld_table()


#: how docs/results.md names the batched forms of adapter_speed.json
ADAPTER_FORMS = {
    "native": "native (MetaNav2D's numpy batched env)",
    "sync": "adapter, in-process (`envs.SyncTaskVectorEnv`)",
    "async": "adapter, worker processes (`envs.AsyncTaskVectorEnv`)",
    "gymnasium_sync": "Gymnasium's `SyncVectorEnv` of the single env (reference)",
}


def adapter_table() -> list[str]:
    """The generic adapter against the native batched form (``adapter_speed.json``): env-steps/s and seconds per
    MAML-TRPO meta-iteration."""
    path = RESULTS / "adapter_speed.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    e, workers = r["env_steps"], r["settings"]["workers"]
    lines = [f"### Your own task distribution: the generic adapter vs a native batched form ({r['env_id']}, "
             f"{e['num_envs']} copies; [adapter_speed.json](../benchmarks/results/adapter_speed.json))", "",
             "| batched form | env-steps/s (best / median) | native / this |", "|---|---|---|"]
    native = e["methods"]["native"]["steps_per_s"]
    for name, m in e["methods"].items():
        label = ADAPTER_FORMS[name] + (f", {workers} workers" if name == "async" else "")
        lines.append(f"| {label} | {_fmt(m['steps_per_s'], 0)} / {_fmt(m['steps_per_s_median'], 0)} "
                     f"| {_fmt(native / m['steps_per_s'], 1)} |")
    if r["maml"]:
        lines += ["", "MAML-TRPO seconds per meta-iteration at the paper's MetaNav2D config (20 tasks x 20 rollouts x "
                  "100 steps), the same seed and data in every row:", "",
                  "| batched form | sampler workers | sampling (env part) | TRPO meta-step | total (± std) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {row['form']} | {row['workers']} | {row['sampling']:.2f} s ({row['sampling_env']:.2f} s) "
                  f"| {row['meta_step']:.2f} s | **{row['iteration']:.2f} s** ± {row['iteration_std']:.2f} |"
                  for row in r["maml"]]
    note = r["machine"].get("note")
    return lines + ["", f"{note[0].upper()}{note[1:]}.", ""] if note else lines + [""]


def metaworld_table() -> list[str]:
    """One Meta-World ML1 env against the bare Meta-World env (``metaworld_env_speed.json``)."""
    lines: list[str] = []
    path = RESULTS / "metaworld_env_speed.json"
    if path.exists():
        r = json.loads(path.read_text())
        lines += ["### Meta-World ML1, env-steps per second of one env in one process "
                  "([metaworld_env_speed.json](../benchmarks/results/metaworld_env_speed.json))", "",
                  f"`benchmarks/bench_metaworld.py` in `.venv-metaworld` (mujoco {r['machine']['mujoco']}, "
                  f"metaworld {r['machine']['metaworld']}); best round by wall clock, and per CPU-second.", "",
                  "| env | adapter | adapter, per CPU-s | bare Meta-World | bare, per CPU-s | adapter / bare (CPU) |",
                  "|---|---|---|---|---|---|"]
        for case in r["cases"]:
            ours, bare = case["methods"]["adapter"], case["methods"]["metaworld"]
            lines.append(f"| `{case['env']}` | {_fmt(ours['steps_per_s'], 0)} | {_fmt(ours['steps_per_cpu_s'], 0)} "
                         f"| {_fmt(bare['steps_per_s'], 0)} | {_fmt(bare['steps_per_cpu_s'], 0)} "
                         f"| {_fmt(case['ratios']['adapter_over_metaworld_cpu'], 2)} |")
        lines.append("")
    return lines


def results_md(results: dict[str, dict[str, Any]]) -> str:
    lines = ["# Results", "",
             "<!-- generated by benchmarks/make_docs.py from benchmarks/results/*.json; do not edit by hand -->", "",
             "One canonical result per (algorithm, benchmark), built by `benchmarks/canonical.py` from the raw files "
             "kept under `reproductions/<paper>/results/` (schema: [benchmarks/README.md](../benchmarks/README.md)). "
             "Measured on a shared 2-core CPU machine. The paper's RL numbers come from rllab's MuJoCo 1.31 models; "
             "ours run on Gymnasium's v5 models, so they are a yardstick of shape and magnitude. How each number was "
             "chased: the reproductions' NOTES.md ([../reproductions/](../reproductions/README.md)).", "",
             "## Headline", "", *headline_rows(results, "../"), "", "## Per benchmark", ""]
    for name, r in results.items():
        lines += result_table(name, r)
    lines += ["## Speed", "", *speed_tables()]
    return "\n".join(lines).rstrip() + "\n"


def _settings(cfg: dict[str, Any], ev: dict[str, Any]) -> str:
    """The settings that tell the MAML-TRPO seed aggregates apart, in a few words."""
    products = cfg.get("hvp", "fd")
    if products == "fd":
        rule = cfg.get("fd_eps") or "auto"
        products += f" {cfg.get('fd_scheme') or 'central'}" + ("" if rule == "auto" else
                                                               ", ε = 1/‖θ‖ (the MAML code's)" if rule == "maml_code"
                                                               else f", ε rule {rule}")
    training = "sample-budget" if cfg.get("batch", "episodes") == "samples" else "fixed-episode"
    env = "".join(f", env {key}={value}" for key, value in sorted(cfg.get("env_kwargs", {}).items()))
    test = " / ".join(f"{a:g}" for a in ev["step_sizes"])
    batches = ", sample-budget batches" if ev.get("batch") == "samples" else ""
    tasks = ", the original code's held-out tasks" if ev.get("task_set") == "original" else ""
    return f"α {cfg['fast_lr']:g}, {products}, {training} training{env}, test steps {test}{batches}{tasks}"


def seed_overview_rows(results_dir: Path = MAML2017_RESULTS) -> list[str]:
    """One row per ``seeds_*.json`` of the MAML 2017 reproduction: mean over seeds, the step-1 spread and how many
    seeds reach the paper after one step / after each of steps 1-3."""
    rows = ["| env | settings | iterations | seeds | mean after 0 / 1 / 2 / 3 | after 1: worst – best seed "
            "| seeds ≥ paper after 1 / after 1-3 | paper (MAML) | file |", "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(results_dir.glob("seeds_*.json")):
        r = json.loads(path.read_text())
        curves = list(r["per_seed"].values())
        after_one = [c[1] for c in curves]
        paper = r.get("paper_maml")
        reach = (f"{sum(c[1] >= paper[1] for c in curves)} / "
                 f"{sum(all(a >= b for a, b in zip(c[1:], paper[1:])) for c in curves)} of {len(curves)}") if paper else "–"
        rows.append(f"| `{r['env_id']}` | {_settings(r['config'], r['evaluation'])} | {r['iterations']} | {len(curves)} "
                    f"| {' / '.join(f'{m:.1f}' for m in r['mean'])} | {min(after_one):.1f} – {max(after_one):.1f} "
                    f"| {reach} | {' / '.join(f'{v:.1f}' for v in paper) if paper else '–'} "
                    f"| [{path.name}](results/{path.name}) |")
    return rows


def with_headline(text: str, rows: list[str], path: Path, start: str = START, end: str = END) -> str:
    """``text`` with the block between ``start`` and ``end`` replaced by ``rows``.

    :raises ValueError: if ``path``'s text has no such block.
    """
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + "\n".join([start, *rows, end]) + tail


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file's path and its new content."""
    results = canonical()
    out = {root / "docs" / "results.md": results_md(results)}
    readme = root / "README.md"
    out[readme] = with_headline(readme.read_text(), headline_rows(results, ""), readme)
    for paper in sorted({p for p, _ in HEADLINE.values()}):
        path = root / "reproductions" / paper / "README.md"
        if path.exists():
            mine = {k: v for k, v in results.items() if HEADLINE[k][0] == paper}
            out[path] = with_headline(path.read_text(), headline_rows(mine, "../../"), path)
            if paper == "maml2017":
                out[path] = with_headline(out[path], seed_overview_rows(), path, SEEDS_START, SEEDS_END)
    return out


@dataclass
class Args:
    check: bool = False
    """Write nothing: exit 1 if a generated file is out of date."""


def main(argv: list[str] | None = None) -> int:
    args = tyro.cli(Args, args=argv, description=__doc__)
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run python benchmarks/make_docs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
