"""Command-line options from a config dataclass, with ``--help`` text taken from each field's docstring.

Configs in metarl are dataclasses with a docstring under every field (the paper's value as the default).  This
module turns one into ``argparse`` options so every example script explains every option without repeating it::

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, MAMLTRPOConfig, exclude={"env_kwargs"})
    args = parser.parse_args()
    config = dataclass_from_args(MAMLTRPOConfig, args)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any


def field_docstrings(cls: type) -> dict[str, str]:
    """Docstrings written under the fields of a dataclass (``x: int = 1`` followed by ``\"\"\"doc\"\"\"``)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for ``T`` / ``T | None`` / ``Optional[T]``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_arguments(
    parser: argparse.ArgumentParser, cls: type, exclude: set[str] | frozenset[str] = frozenset(), prefix: str = ""
) -> None:
    """Add one option per field of dataclass ``cls`` (bool → ``--x/--no-x``, tuples → several values).

    A field's ``metadata`` may give ``aliases`` (extra option names) and ``choices``.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docstrings(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        annotation, optional = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%")  # argparse formats help
        dest = prefix + f.name
        options = [_option(prefix + f.name), *(_option(prefix + a) for a in f.metadata.get("aliases", ()))]
        extra = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        origin = typing.get_origin(annotation)
        if annotation is bool:
            group.add_argument(*options, dest=dest, action=argparse.BooleanOptionalAction, default=default,
                               help=help_text)
        elif origin in (tuple, list) or annotation in (tuple, list):
            args = typing.get_args(annotation)
            item = args[0] if args else str
            group.add_argument(*options, dest=dest, type=item, nargs="+", default=default, help=help_text, **extra)
        elif annotation in (int, float, str):
            kind = annotation
            if optional:
                def kind(value: str, _t: Any = annotation) -> Any:  # noqa: E731
                    return None if value.lower() == "none" else _t(value)
            group.add_argument(*options, dest=dest, type=kind, default=default, help=help_text, **extra)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported option type {annotation!r}")


def dataclass_from_args(cls: type, args: argparse.Namespace, prefix: str = "", **overrides: Any) -> Any:
    """Build ``cls`` from parsed options (fields not on the command line keep their defaults).

    :raises SystemExit: ``error: <message>`` when the class refuses the values (its ``__post_init__`` raises
        ``ValueError`` naming the field and value), so a command line with a bad option ends with that one line
        and exit status 2, as argparse's own errors, instead of a traceback.
    """
    values = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, prefix + f.name):
            value = getattr(args, prefix + f.name)
            values[f.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    try:
        return cls(**values)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


@dataclasses.dataclass
class ScriptRunOptions:
    """Where a training script writes and how it runs: the options every supervised example shares.

    A script subclasses it to set its own ``run_dir`` default (and that field's docstring, its ``--help``).
    """

    run_dir: str = "runs/example"
    """Folder for the checkpoints, progress.csv files, the JSON report and the plots."""
    resume: bool = False
    """Continue interrupted training runs from their last.pt (finished runs are only evaluated again)."""
    threads: int = 1
    """torch CPU threads (the networks are small: one thread is the fastest per core)."""
    progress: bool = True
    """Show progress bars (auto-disabled when not on a terminal or with METARL_NO_PROGRESS=1)."""


def parse_env_kwarg(text: str) -> tuple[str, Any]:
    """One ``KEY=VALUE`` env constructor argument; VALUE is read as JSON (``1``, ``0.5``, ``true``, ``[1, 2]``) and
    otherwise kept as a string.

    :raises argparse.ArgumentTypeError: naming the text, if it has no ``=`` or KEY is not a Python identifier.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python identifier, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def parse_labelled_path(text: str) -> tuple[str, str]:
    """``LABEL=PATH`` → ``(LABEL, PATH)``; a bare ``PATH`` is labelled by its file name without suffix (the
    ``--checkpoint`` arguments of the benchmarks that compare several checkpoints).

    :raises argparse.ArgumentTypeError: naming the text, if LABEL or PATH is empty.
    """
    label, sep, path = text.partition("=")
    if not sep:
        label, path = Path(text).stem, text
    if not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH or a path, got {text!r}")
    return label, path


def add_env_kwargs_argument(parser: argparse.ArgumentParser) -> None:
    """``--env-kwarg KEY=VALUE`` (repeatable) for the env constructor; read back with :func:`env_kwargs_from_args`."""
    parser.add_argument(
        "--env-kwarg", dest="env_kwarg_pairs", action="append", type=parse_env_kwarg, default=None,
        metavar="KEY=VALUE",
        help="Keyword argument for the env constructor, repeatable; VALUE is parsed as JSON, else kept as a "
             "string, e.g. --env-kwarg frame_skip=1 (the original MAML code's 0.01 s half-cheetah control step). "
             "Stored in the run's config, so evaluation and resume build the same env. (default: none)",
    )


def env_kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--env-kwarg`` pairs as a dict.

    :raises SystemExit: naming the key, if one is given twice.
    """
    kwargs: dict[str, Any] = {}
    for key, value in getattr(args, "env_kwarg_pairs", None) or ():
        if key in kwargs:
            raise SystemExit(f"--env-kwarg {key} given twice ({kwargs[key]!r} and {value!r})")
        kwargs[key] = value
    return kwargs
