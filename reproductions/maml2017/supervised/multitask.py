"""The "multi-task" baselines of the MAML paper's sinusoid experiment (Finn et al. 2017, App. C.1, Table 2).

Many regressors trained separately, one per task drawn from p(T), then their parameters averaged and fine-tuned
with a tuned step size; variants without regularization, with l2 weight decay and with l2 regularization to the
mean of the regressors trained so far.  C.1 uses them to show that averaging in parameter space (as opposed to
MAML's learned initialization) does not give a good starting point; they are a reproduction of that argument, not
a learner a user would train, so they live here rather than in ``agents/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from agents.supervised import mlp
from metarl.checkpoint import CheckpointManager
from metarl.maml import Params, batched_functional_forward
from metarl.progress import progress
from metarl.seeding import derive_seed, generator_state, set_generator_state
from metarl.supervised.learner import MetaLearnerConfig, SupervisedMetaLearner, mse_task_loss
from metarl.supervised.tasks import SinusoidParams, SinusoidTasks
from metarl.validation import check_fields, is_int, is_positive

__all__ = ["MultiTaskConfig", "MultiTaskResult", "multitask_group_bounds", "train_multitask_average"]


@dataclass
class MultiTaskConfig:
    """The "multi-task" baseline of MAML App. C.1 (Table 2): average of separately trained per-task regressors."""

    n_models: int = 500
    """Regressors trained, one per task drawn from p(T) (C.1: 500)."""
    regularization: str = field(default="none", metadata={"choices": ("none", "l2", "mean")})
    """'none'; 'l2' (standard weight decay λ‖θ‖²); 'mean' (λ‖θ − θ̄‖² to the mean of the regressors trained
    so far) — the three variants of C.1."""
    reg_strength: float | None = None
    """λ; None = the largest value of ``reg_grid`` whose probe regressors still reach ``max_task_mse`` on average
    (C.1: "as high as possible without significantly deterring performance")."""
    reg_grid: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
    """Candidate λ values for the automatic choice (tried from the largest down)."""
    max_task_mse: float = 0.02
    """Error a regressor must reach on its own sinusoid (C.1: "less than 0.02")."""
    probe_models: int = 10
    """Regressors trained per candidate λ for the automatic choice."""
    train_steps: int = 3000
    """Adam steps per regressor, each on fresh points of its task ("a large amount of data")."""
    batch_points: int = 100
    """Fresh points per Adam step."""
    lr: float = 1e-3
    """Adam learning rate of each regressor."""
    group_size: int = 25
    """Regressors trained in parallel (one vmap call).  C.1 trains them sequentially and regularizes to the mean
    "thus far"; here a group is regularized to the mean of all EARLIER groups (group_size=1 is exactly
    sequential).  For 'mean' the groups start sequential and double (1, 1, 2, 4, ... up to ``group_size``) so
    that the mean every group is pulled to is already a mean of trained regressors that agree, as in C.1's
    sequential training; a first group of independent regressors would make that mean meaningless."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of each regressor (same network as MAML)."""
    seed: int = 0
    """Seed of the tasks, data and initialisations."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        self.reg_grid = tuple(float(v) for v in self.reg_grid)
        check_fields("MultiTaskConfig", {
            "n_models": (is_int(self.n_models, 1), "an int >= 1"),
            "regularization": (self.regularization in ("none", "l2", "mean"), "'none', 'l2' or 'mean'"),
            "reg_strength": (self.reg_strength is None or (isinstance(self.reg_strength, (int, float))
                                                           and self.reg_strength >= 0), "None or a number >= 0"),
            "reg_grid": (len(self.reg_grid) > 0 and all(v > 0 for v in self.reg_grid), "non-empty, all > 0"),
            "max_task_mse": (is_positive(self.max_task_mse), "a number > 0"),
            "probe_models": (is_int(self.probe_models, 1), "an int >= 1"),
            "train_steps": (is_int(self.train_steps, 1), "an int >= 1"),
            "batch_points": (is_int(self.batch_points, 1), "an int >= 1"),
            "lr": (is_positive(self.lr), "a number > 0"),
            "group_size": (is_int(self.group_size, 1), "an int >= 1"),
            "seed": (is_int(self.seed, 0), "an int >= 0"),
        }, self)


@dataclass
class MultiTaskResult:
    """Output of :func:`train_multitask_average`."""

    mean_params: Params
    """θ̄: the average of the regressors' parameter vectors (what is fine-tuned at test time)."""
    task_mse: list[float]
    """Final MSE of each regressor on its own task (fresh points)."""
    reg_strength: float
    """λ used (0 for 'none')."""
    calibration: dict[float, float]
    """λ -> mean probe MSE, for the automatic choice (empty when λ was given)."""
    train_seconds: float
    """Wall-clock seconds of the training (carried across resumes)."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden layers of the regressors."""
    calibration_met: bool | None = None
    """None if λ was given; True if a λ of the grid reached ``max_task_mse``; False if none did (then the
    smallest λ of the grid was used — train longer)."""

    def regressor(self, tasks: SinusoidTasks | None = None, inner_lr: float = 0.01) -> SupervisedMetaLearner:
        """A learner whose θ is θ̄, for ``evaluate``/``adapt``/:func:`tune_step_size`."""
        model = mlp(1, self.hidden_sizes, 1)
        dtype = (tasks or SinusoidTasks()).dtype
        learner = SupervisedMetaLearner(model.to(dtype), mse_task_loss, MetaLearnerConfig(inner_steps=0,
                                                                                         inner_lr=inner_lr))
        with torch.no_grad():
            for name, value in self.mean_params.items():
                learner.params[name].copy_(value)
        return learner


def _train_group(
    config: MultiTaskConfig,
    tasks: SinusoidTasks,
    params: SinusoidParams,
    init_seeds: Sequence[int],
    reg: str,
    strength: float,
    target: Params | None,
    rng: np.random.Generator,
) -> tuple[Params, np.ndarray]:
    """Train one regressor per task of ``params`` in parallel (vmap); returns stacked params and final MSEs."""
    nets = [mlp(1, config.hidden_sizes, 1, seed=s).to(tasks.dtype) for s in init_seeds]
    model = nets[0]
    names = [name for name, _ in model.named_parameters()]
    stacked = {name: torch.stack([dict(n.named_parameters())[name].detach() for n in nets]).requires_grad_(True)
               for name in names}
    optimizer = torch.optim.Adam(list(stacked.values()), lr=config.lr)
    n = len(init_seeds)
    for _ in range(config.train_steps):
        x = tasks.sample_inputs(n, config.batch_points, rng)
        xs = torch.as_tensor(x, dtype=tasks.dtype)
        ys = torch.as_tensor(params(x), dtype=tasks.dtype)
        loss = mse_task_loss(batched_functional_forward(model, stacked, xs), ys).sum()
        if reg == "l2" and strength > 0:  # standard l2 weight decay: λ‖θ_j‖²
            loss = loss + strength * sum(v.pow(2).sum() for v in stacked.values())
        elif reg == "mean" and strength > 0 and target is not None:  # λ‖θ_j − θ̄_thus far‖²
            loss = loss + strength * sum((stacked[k] - target[k]).pow(2).sum() for k in names)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        x = tasks.sample_inputs(n, 1000, rng)
        final = mse_task_loss(
            batched_functional_forward(model, stacked, torch.as_tensor(x, dtype=tasks.dtype)),
            torch.as_tensor(params(x), dtype=tasks.dtype),
        )
    return {k: v.detach() for k, v in stacked.items()}, final.double().numpy()


def multitask_group_bounds(config: MultiTaskConfig) -> list[tuple[int, int]]:
    """``[lo, hi)`` index ranges of the regressor groups trained one after the other.

    Fixed groups of ``group_size``; for 'mean' (regularization to the mean "thus far", C.1) the first groups are
    sequential and double (1, 1, 2, 4, ...) up to ``group_size``: each group is pulled to the mean of every
    regressor before it, which must already be trained regressors, not one batch of independent ones.
    """
    bounds, lo = [], 0
    while lo < config.n_models:
        size = config.group_size if config.regularization != "mean" else min(config.group_size, max(1, lo))
        bounds.append((lo, min(config.n_models, lo + size)))
        lo = bounds[-1][1]
    return bounds


def train_multitask_average(
    config: MultiTaskConfig | None = None,
    tasks: SinusoidTasks | None = None,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress_bar: bool = True,
) -> MultiTaskResult:
    """Train the App. C.1 multi-task baseline: ``n_models`` separate regressors, one per task, then average.

    The regressors start from independent random initialisations and are trained in groups of ``group_size``
    in parallel (vmap), each on fresh points of its own sinusoid.  With ``run_dir`` the progress (sum of the
    parameters so far, final errors, λ, generator state) is checkpointed atomically after every group, and
    ``resume=True`` continues from it.
    """
    config = config if config is not None else MultiTaskConfig()
    tasks = tasks if tasks is not None else SinusoidTasks()
    manager = CheckpointManager(run_dir, keep_best_by=None, kind="multitask_average") if run_dir else None
    state = manager.resume() if (manager is not None and resume) else None
    if manager is not None and state is None and manager.last_path.exists():
        raise FileExistsError(f"{manager.last_path} exists; pass resume=True or use another run_dir")
    rng = np.random.default_rng(derive_seed(config.seed, "multitask", "tasks"))
    if state is not None:
        if state["config"] != asdict(config):
            raise ValueError(f"{manager.last_path if manager else ''} was written with another MultiTaskConfig")
        set_generator_state(rng, state["rng"], name="multitask generator")
        total = {k: v.clone() for k, v in state["total"].items()}
        task_mse: list[float] = list(state["task_mse"])
        strength = float(state["reg_strength"])
        calibration = {float(k): float(v) for k, v in state["calibration"].items()}
        elapsed = float(state["train_seconds"])
        met = state["calibration_met"]
    else:
        total, task_mse, calibration, elapsed = {}, [], {}, 0.0
        strength = 0.0 if config.regularization == "none" else (config.reg_strength or 0.0)
        met = None
    start_time = time.perf_counter()

    if state is None and config.regularization != "none" and config.reg_strength is None:
        # C.1: "we set the magnitude of the regularization to be as high as possible without significantly
        # deterring performance": probe each λ from the largest down on probe tasks; keep the first that fits.
        probe_rng = np.random.default_rng(derive_seed(config.seed, "multitask", "probe"))
        probe_params = tasks.sample_params(config.probe_models, probe_rng)
        seeds = [derive_seed(config.seed, "multitask", "probe_init", str(i)) for i in range(config.probe_models)]
        target = None
        if config.regularization == "mean":  # as the second regressor of C.1: pulled to one trained regressor
            anchor_params = tasks.sample_params(1, probe_rng)
            anchor_seed = [derive_seed(config.seed, "multitask", "probe_anchor")]
            first, _ = _train_group(config, tasks, anchor_params, anchor_seed, "none", 0.0, None, probe_rng)
            target = {k: v.mean(0) for k, v in first.items()}
        strength, met = min(config.reg_grid), False
        for candidate in sorted(config.reg_grid, reverse=True):
            _, mse = _train_group(config, tasks, probe_params, seeds, config.regularization, candidate, target,
                                  probe_rng)
            calibration[candidate] = float(mse.mean())
            if mse.mean() <= config.max_task_mse:
                strength, met = candidate, True
                break

    bounds = multitask_group_bounds(config)
    groups_done = int(state["groups_done"]) if state is not None else 0
    done = len(task_mse)
    bar = progress(total=config.n_models, desc=f"multi-task ({config.regularization})", initial=done,
                   disable=None if progress_bar else True)
    with bar:
        for g in range(groups_done, len(bounds)):
            lo, hi = bounds[g]
            params = tasks.sample_params(hi - lo, rng)
            seeds = [derive_seed(config.seed, "multitask", "init", str(i)) for i in range(lo, hi)]
            target = {k: v / lo for k, v in total.items()} if lo > 0 else None
            trained, mse = _train_group(config, tasks, params, seeds, config.regularization, strength, target, rng)
            for k, v in trained.items():
                total[k] = total[k] + v.sum(0) if k in total else v.sum(0)
            task_mse.extend(float(m) for m in mse)
            bar.update(hi - lo)
            if manager is not None:
                manager.save({
                    "config": asdict(config), "rng": generator_state(rng), "total": total, "groups_done": g + 1,
                    "task_mse": task_mse, "reg_strength": strength,
                    "calibration": {str(k): v for k, v in calibration.items()}, "calibration_met": met,
                    "train_seconds": elapsed + time.perf_counter() - start_time,
                })
    mean_params = {k: v / config.n_models for k, v in total.items()}
    return MultiTaskResult(mean_params, task_mse, strength, calibration,
                           elapsed + time.perf_counter() - start_time, config.hidden_sizes, met)
