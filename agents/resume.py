"""What a resumed run may change: the config check of ``--resume`` and the torch thread count.

A resumed run continues exactly (bit for bit) only with the checkpoint's config and the same torch thread count
(intra-op parallel reductions sum in a thread-dependent order).  :func:`check_resume_config` compares the config a
run is resumed with against the checkpoint's and refuses every difference — naming each field with its old and new
value — unless changes are allowed, in which case it logs them.  Only fields stored in the checkpoint are compared,
so a field added to the config class after the checkpoint was written is never reported; fields that do not change
the results (:data:`RUNTIME_FIELDS`: the sampler's worker count and backend give the same rollouts) may change
freely and are only logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch

__all__ = [
    "RUNTIME_FIELDS",
    "THREADS_KEY",
    "ConfigChange",
    "ResumeConfigError",
    "check_resume_config",
    "config_changes",
    "log_resume",
]

#: config fields a resumed run may change without changing its results (logged, never refused)
RUNTIME_FIELDS: tuple[str, ...] = ("workers", "sampler")
#: checkpoint key of the torch intra-op thread count the run was trained with
THREADS_KEY = "torch_threads"
_log = logging.getLogger("metarl.training")


class ConfigChange(NamedTuple):
    """One config field whose value differs from the checkpoint's."""

    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {self.old!r} -> {self.new!r}"


class ResumeConfigError(ValueError):
    """A run was resumed with a config that differs from its checkpoint's.

    :ivar changes: every differing field (:class:`ConfigChange`).
    """

    def __init__(self, path: Path, changes: list[ConfigChange]) -> None:
        self.changes = changes
        super().__init__(
            f"resume of {path} with a config that differs from the checkpoint's: "
            + "; ".join(map(str, changes))
            + " (keep the checkpoint's values, or allow the change with resume_with_changes / --resume-with-changes)"
        )


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples become lists), for comparing a checkpoint's config with a live one."""
    return json.loads(json.dumps(value, default=str))


def config_changes(
    saved: Mapping[str, Any], current: Mapping[str, Any], ignore: tuple[str, ...] = RUNTIME_FIELDS
) -> list[ConfigChange]:
    """The fields stored in ``saved`` (a checkpoint's config) whose value in ``current`` differs, in ``saved``'s
    order; fields absent from either side, and those in ``ignore``, are not compared."""
    return [
        ConfigChange(name, saved[name], current[name])
        for name in saved
        if name in current and name not in ignore and _plain(saved[name]) != _plain(current[name])
    ]


def check_resume_config(
    path: Path, saved: Mapping[str, Any], current: Mapping[str, Any], allow_changes: bool
) -> list[ConfigChange]:
    """The differences between a checkpoint's config and the resumed run's, refused unless ``allow_changes``
    (differences in :data:`RUNTIME_FIELDS` are always allowed). Nothing is logged: :func:`log_resume` does.

    :return: every difference, runtime fields included.
    :raises ResumeConfigError: naming every differing field, when there are changes and ``allow_changes`` is False.
    """
    changes = config_changes(saved, current)
    if changes and not allow_changes:
        raise ResumeConfigError(path, changes)
    return config_changes(saved, current, ignore=())


def log_resume(path: Path, changes: list[ConfigChange], state: Mapping[str, Any]) -> None:
    """Log how a resumed run differs from the checkpoint's: each config change (:func:`check_resume_config`), and,
    naming both values, a torch thread count other than the checkpoint's run's (then the resumed run is not
    bit-identical to an uninterrupted one; checkpoints that do not record it are resumed silently)."""
    for change in changes:
        if change.field in RUNTIME_FIELDS:
            _log.info("resuming %s with %s (does not change the results)", path, change)
        else:
            _log.warning("resuming %s with a changed config: %s (the run no longer continues exactly)", path, change)
    saved = state.get(THREADS_KEY)
    current = torch.get_num_threads()
    if isinstance(saved, int) and saved != current:
        _log.warning("%s was trained with %d torch threads, this process uses %d: the resumed run is not "
                     "bit-identical to an uninterrupted one (set --torch-threads %d, or torch.set_num_threads)",
                     path, saved, current, saved)
