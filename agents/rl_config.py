"""Plumbing shared by the config dataclasses of the RL agents (:class:`agents.maml_trpo.MAMLTRPOConfig`,
:class:`agents.maltml_rl.MALTMLRLConfig`, :class:`agents.maltml_rl.FamilyEvaluationConfig`).

* :class:`PolicyConfigMixin` — the checkpoint form of a config (``to_dict``/``from_dict``) and its torch dtype;
* :func:`check_fields` — the ``invalid <Config>.<field> = <value>`` errors of ``__post_init__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

import torch

__all__ = ["PolicyConfigMixin", "check_fields"]

ConfigT = TypeVar("ConfigT", bound="PolicyConfigMixin")


def check_fields(config: object, checks: Mapping[str, bool]) -> None:
    """Raise ``ValueError("invalid <class>.<field> = <value>")`` for the first field whose check is False.

    :param config: the config being validated (its class name and field values go into the message).
    :param checks: ``{field name: whether its value is valid}``, tested in order.
    """
    for name, valid in checks.items():
        if not valid:
            raise ValueError(f"invalid {type(config).__name__}.{name} = {getattr(config, name)!r}")


class PolicyConfigMixin:
    """``to_dict``/``from_dict``/``torch_dtype`` for a config dataclass with ``dtype`` and ``hidden_sizes`` fields
    (mix it into a class decorated with ``@dataclass``; the mixin itself declares no fields).

    ``to_dict`` is the form stored in checkpoints and logs (``hidden_sizes`` as a list); ``from_dict`` reads it
    back and refuses unknown keys, so a checkpoint written for another config is not silently misread.
    """

    dtype: str
    hidden_sizes: tuple[int, ...]

    @property
    def torch_dtype(self) -> torch.dtype:
        """The torch dtype named by ``dtype`` (``torch.float32`` or ``torch.float64``)."""
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain data (a deep copy), ``hidden_sizes`` as a list."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    @classmethod
    def from_dict(cls: type[ConfigT], data: Mapping[str, Any]) -> ConfigT:
        """The config of ``data`` (e.g. a checkpoint's ``"config"``), validated by the class's ``__post_init__``.

        :raises ValueError: ``unknown <class> fields: [...]`` if ``data`` has keys that are not fields.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**data)
