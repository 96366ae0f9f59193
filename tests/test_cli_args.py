"""Command-line parsing helpers: `--env-kwarg KEY=VALUE` (parsed as JSON, reaching the run's config) and `LABEL=PATH` checkpoint
arguments, with errors that name the bad text."""

from __future__ import annotations

import argparse

import pytest

from metarl.cli_args import (
    add_env_kwargs_argument,
    env_kwargs_from_args,
    parse_env_kwarg,
    parse_labelled_path,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("frame_skip=1", ("frame_skip", 1)), ("scale=0.5", ("scale", 0.5)), ("flag=true", ("flag", True)),
     ("sizes=[1, 2]", ("sizes", [1, 2])), ("name=abc", ("name", "abc")), ("empty=", ("empty", ""))],
)
def test_values_are_json_else_strings(text, expected):
    assert parse_env_kwarg(text) == expected


@pytest.mark.parametrize("text", ["frame_skip", "=1", "1x=2", "a b=1"])
def test_malformed_pairs_are_rejected_naming_the_text(text):
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parse_env_kwarg(text)


def test_repeated_option_builds_a_dict_and_rejects_a_key_given_twice(capsys):
    parser = argparse.ArgumentParser()
    add_env_kwargs_argument(parser)
    assert env_kwargs_from_args(parser.parse_args([])) == {}
    args = parser.parse_args(["--env-kwarg", "frame_skip=1", "--env-kwarg", "reset_noise_scale=0.1"])
    assert env_kwargs_from_args(args) == {"frame_skip": 1, "reset_noise_scale": 0.1}
    with pytest.raises(SystemExit, match="frame_skip given twice"):
        env_kwargs_from_args(parser.parse_args(["--env-kwarg", "frame_skip=1", "--env-kwarg", "frame_skip=2"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--env-kwarg", "frame_skip"])
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_a_value_the_config_refuses_ends_with_one_error_line_and_status_2(capsys):
    import dataclasses

    from metarl.cli_args import add_dataclass_arguments, dataclass_from_args

    @dataclasses.dataclass
    class Config:
        rate: float = 0.1
        """A step size (> 0)."""

        def __post_init__(self) -> None:
            if not self.rate > 0:
                raise ValueError(f"invalid Config.rate = {self.rate!r}")

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Config)
    assert dataclass_from_args(Config, parser.parse_args(["--rate", "0.5"])).rate == 0.5
    with pytest.raises(SystemExit) as exit_info:
        dataclass_from_args(Config, parser.parse_args(["--rate", "-1"]))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: invalid Config.rate = -1.0"


@pytest.mark.parametrize("text, expected", [
    ("seed1=checkpoints/a.pt", ("seed1", "checkpoints/a.pt")),
    ("checkpoints/maml_nav2d.pt", ("maml_nav2d", "checkpoints/maml_nav2d.pt")),
    ("x=a=b.pt", ("x", "a=b.pt")),
])
def test_labelled_path_splits_at_the_first_equals_or_labels_by_file_name(text, expected):
    assert parse_labelled_path(text) == expected


@pytest.mark.parametrize("text", ["=checkpoints/a.pt", "seed1="])
def test_labelled_path_refuses_an_empty_label_or_path(text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
        parse_labelled_path(text)
