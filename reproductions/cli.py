"""What the reproductions' scripts share on the command line (parsed with tyro, as every script of the project)."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Annotated, Any

import tyro

__all__ = ["flag_help", "without_flags"]


def without_flags(cls: type, *names: str) -> Any:
    """A subclass of the config dataclass ``cls`` whose fields ``names`` get no command-line flag (the script sets
    them itself, e.g. ``n_way`` of each setting a benchmark runs); they keep their defaults."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {unknown}")
    hidden = []
    for name in names:
        f = fields[name]
        default = (dataclasses.field(default=f.default) if f.default is not dataclasses.MISSING
                   else dataclasses.field(default_factory=f.default_factory))  # type: ignore[arg-type]
        hidden.append((name, Annotated[hints[name], tyro.conf.Suppress], default))
    sub = dataclasses.make_dataclass(cls.__name__, hidden, bases=(cls,))
    sub.__doc__, sub.__module__, sub.__qualname__ = cls.__doc__, cls.__module__, cls.__qualname__
    return sub


def flag_help(help_text: str) -> dict[str, str]:
    """``{flag: its help text without the "(default: ...)" note}`` of a tyro ``--help`` output, in a terminal's box
    drawing or plain; the scripts' tests use it to check that every flag is explained."""
    flags: dict[str, str] = {}
    current = None
    for line in (line.strip().strip("│").strip() for line in help_text.splitlines()):
        if line.startswith(("╭", "╰", "─")) or (line and set(line) <= {"-"}):
            current = None
        elif re.match(r"-{1,2}[a-z]([a-z0-9.-]*[a-z0-9])?(,|\s|$)", line):
            head = re.split(r"\s{2,}", line, maxsplit=1)[0]
            current = head.split()[0].rstrip(",")
            flags[current] = line[len(head):]
        elif current is not None:
            flags[current] += " " + line
    return {flag: " ".join(re.sub(r"\((default: .*?|required)\)", "", text).split()) for flag, text in flags.items()}
