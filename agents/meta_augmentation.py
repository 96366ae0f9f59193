"""Meta-augmentation (Rajendran, Irpan & Jang 2020): the user-facing API, and validation-based model selection.

A CE-increasing augmentation draws ONE random key ε per task and applies it to the task's support AND query
targets, so the query can only be predicted after recovering ε from the support set (section 3, Theorem 1); it
keeps MAML from memorising a non-mutually-exclusive task set.  The transforms live in
:mod:`metarl.supervised.augmentation` and are re-exported here:

===================================  ===============================================================================
label schemes (classification, 5.1)  :class:`InterShuffle` (classes drawn freely, labels shuffled per task: the
                                     standard protocol), :class:`IntraShuffle` (a fixed partition, labels shuffled
                                     per task), :class:`NonMutuallyExclusive` (fixed tasks and labels);
                                     :func:`make_label_scheme` by name; pass one to
                                     ``EpisodeSampler(..., labels=scheme)``
target noise (regression, 5.2)       :class:`UniformNoise` ε ~ U[-a, a], :class:`DiscreteNoise`;
                                     :func:`add_target_noise` on any batch, or
                                     ``NMESinusoid().sampler(25, 10, 10, noise=UniformNoise(1.0))``
the NME sinusoid (5.2)               :class:`NMESinusoid`: ten intervals, each with its own fixed sine
===================================  ===============================================================================

:func:`train_with_validation` meta-trains any :class:`~metarl.supervised.SupervisedMetaLearner` in segments with a
validation score after each and keeps the best parameters (``best.pt``) — the early stopping of Rajendran et al.
App. E ("the model with best validation set performance was then run on the test set").

The paper's experiments (the NME-sinusoid study of Fig. 6a and the label-scheme study of Table 1, over seeds)
are in ``reproductions/meta_augmentation/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from metarl.checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from metarl.jsonio import write_json
from metarl.maml import Params
from metarl.supervised.augmentation import (
    DiscreteNoise,
    InterShuffle,
    IntraShuffle,
    LabelScheme,
    NMESinusoid,
    NonMutuallyExclusive,
    UniformNoise,
    add_target_noise,
    make_label_scheme,
    permute_labels,
    shift_targets,
)
from metarl.supervised.learner import CHECKPOINT_KIND, SupervisedMetaLearner
from metarl.supervised.tasks import TaskSource

__all__ = [
    "BEST_NAME",
    "VALIDATION_NAME",
    "DiscreteNoise",
    "InterShuffle",
    "IntraShuffle",
    "LabelScheme",
    "NMESinusoid",
    "NonMutuallyExclusive",
    "SwappedParams",
    "UniformNoise",
    "ValidatedTraining",
    "add_target_noise",
    "make_label_scheme",
    "permute_labels",
    "shift_targets",
    "train_with_validation",
]

#: File name of a run's validation history inside its run directory.
VALIDATION_NAME = "validation.json"
#: File name of the best-validation learner checkpoint (a :meth:`SupervisedMetaLearner.state_dict`).
BEST_NAME = "best.pt"


# ====================================================================== training with validation
@dataclass
class ValidatedTraining:
    """Output of :func:`train_with_validation`."""

    iterations: int
    """Meta-iterations completed in total."""
    train_seconds: float
    """Wall-clock seconds of the meta-steps, including those before a resume."""
    history: list[dict[str, float]]
    """``[{"iteration": k, "score": s}, ...]`` of every validation, in order."""
    best_iteration: int | None
    """Iteration of the best validation score (the earliest on ties); None without validation."""
    best_score: float | None
    """That score."""
    best_params: Params | None
    """The parameters θ at ``best_iteration`` (detached copies); None without validation."""


def _best_entry(history: Sequence[Mapping[str, float]], mode: str) -> Mapping[str, float] | None:
    """The validation entry with the best finite score (the earliest on ties), or None."""
    finite = [h for h in history if h["score"] is not None and math.isfinite(h["score"])]
    if not finite:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(finite, key=lambda h: (sign * h["score"], -h["iteration"]))


def _segment_targets(iterations: int, val_every: int) -> list[int]:
    if not val_every:
        return [iterations]
    targets = list(range(val_every, iterations + 1, val_every))
    if not targets or targets[-1] != iterations:
        targets.append(iterations)
    return targets


def train_with_validation(
    learner: SupervisedMetaLearner,
    task_source: TaskSource,
    iterations: int,
    *,
    validate: Callable[[], float] | None,
    val_every: int,
    mode: Literal["max", "min"] = "max",
    run_dir: str | Path | None = None,
    resume: bool = False,
    log_every: int = 100,
    checkpoint_every: int = 1000,
    progress_bar: bool = True,
    desc: str = "meta-training",
    log: Callable[[str], None] = print,
) -> ValidatedTraining:
    """Meta-train to ``iterations`` in segments of ``val_every``, scoring the model on validation tasks after
    each segment (and at the end) and keeping the best one — Rajendran et al. App. E's early stopping.

    ``validate()`` must be deterministic and leave the learner untouched (e.g. :meth:`SupervisedMetaLearner.evaluate`
    on a fixed batch); so a resumed run sees the same task batches and scores as an uninterrupted one.
    With ``run_dir``: ``last.pt`` (resumable, written at least at every segment end), ``best.pt`` (a full learner
    checkpoint of the best model, loadable with ``MAMLClassifier.load``/``MAMLRegressor.load``) and
    ``validation.json``.  Without ``resume`` an existing ``last.pt`` is an error (no silent overwrite).

    :param mode: ``"max"`` (accuracy) or ``"min"`` (loss) — which direction of the score is better.
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
    if val_every and validate is None:
        raise ValueError("val_every > 0 needs a validate() function")
    run_path = Path(run_dir) if run_dir is not None else None
    history: list[dict[str, float]] = []
    best_params: Params | None = None
    if run_path is not None and resume:
        state = CheckpointManager(run_path, keep_best_by=None, kind=CHECKPOINT_KIND).resume()
        if state is not None:
            learner.load_state_dict(state)
            log(f"resumed {run_path} at iteration {learner.iteration}")
        vpath = run_path / VALIDATION_NAME
        if vpath.is_file():
            stored = json.loads(vpath.read_text())
            history = [h for h in stored.get("history", []) if h["iteration"] <= learner.iteration]
        if history and (run_path / BEST_NAME).is_file():
            best_params = dict(load_checkpoint(run_path / BEST_NAME, CHECKPOINT_KIND)["params"])

    def better(a: float, b: float) -> bool:
        return a > b if mode == "max" else a < b

    for target in _segment_targets(iterations, val_every):
        if target > learner.iteration:
            learner.fit(task_source, target, run_dir=run_path, resume=False, log_every=log_every,
                        checkpoint_every=checkpoint_every, progress_bar=progress_bar, desc=desc)
        if not val_every or learner.iteration != target or any(h["iteration"] == target for h in history):
            continue
        score = float(validate())  # type: ignore[misc]
        best_so_far = _best_entry(history, mode)
        improved = math.isfinite(score) and (best_so_far is None or better(score, best_so_far["score"]))
        history.append({"iteration": target, "score": score})
        log(f"[{desc}] iteration {target}: validation {score:.4f}{'  (best so far)' if improved else ''}")
        if improved:
            best_params = {k: v.detach().clone() for k, v in learner.params.items()}
            if run_path is not None:
                state = learner.state_dict({"val/score": score})
                state["validation"] = {"iteration": target, "score": score, "mode": mode}
                save_checkpoint(run_path / BEST_NAME, state, kind=CHECKPOINT_KIND)
        if run_path is not None:
            write_json(run_path / VALIDATION_NAME, {"mode": mode, "history": history})

    best_iteration = best_score = None
    best = _best_entry(history, mode)
    if best is not None:
        best_iteration, best_score = int(best["iteration"]), float(best["score"])
    else:
        best_params = None
    return ValidatedTraining(learner.iteration, learner.train_seconds, history, best_iteration, best_score,
                             best_params)


class SwappedParams:
    """Context manager: the learner's θ temporarily replaced by ``params`` (restored on exit)."""

    def __init__(self, learner: SupervisedMetaLearner, params: Params) -> None:
        self.learner = learner
        self.params = params
        self.saved: dict[str, torch.Tensor] = {}

    def __enter__(self) -> SupervisedMetaLearner:
        with torch.no_grad():
            for name, value in self.learner.params.items():
                self.saved[name] = value.detach().clone()
                value.copy_(self.params[name])
        return self.learner

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for name, value in self.learner.params.items():
                value.copy_(self.saved[name])
