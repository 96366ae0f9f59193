"""metarl.progress: a tqdm bar in a terminal, one log line every N items otherwise, nothing when turned off."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tqdm import tqdm

from metarl.progress import (
    ENV_VAR,
    EVERY_ENV_VAR,
    LOGGER_NAME,
    LogProgress,
    default_every,
    progress,
    progress_enabled,
    progress_mode,
)

ROOT = Path(__file__).resolve().parents[1]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(EVERY_ENV_VAR, raising=False)


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)

    def get() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]

    return get


def test_mode_follows_the_stream_and_the_variable(monkeypatch):
    assert progress_mode(_Stream(tty=True)) == "bar" and progress_enabled(_Stream(tty=True))
    assert progress_mode(_Stream(tty=False)) == "log" and not progress_enabled(_Stream(tty=False))
    monkeypatch.setenv(ENV_VAR, "1")
    assert progress_mode(_Stream(tty=True)) == "off" and progress_mode(_Stream(tty=False)) == "off"
    monkeypatch.setenv(ENV_VAR, "0")
    assert progress_mode(_Stream(tty=True)) == "bar"


def test_a_terminal_gets_a_tqdm_bar(lines):
    loud = _Stream(tty=True)
    bar = progress([5, 6], desc="iters", file=loud)
    assert isinstance(bar, tqdm) and not bar.disable
    assert list(bar) == [5, 6]
    assert "iters" in loud.getvalue() and "2/2" in loud.getvalue()
    assert lines() == [], "a bar writes no log lines"


@pytest.mark.parametrize(("total", "expected_counts"), [
    (100, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100]),  # every 5th: 20 lines
    (7, [1, 2, 3, 4, 5, 6, 7]),  # short loops: every item
    (41, [3 * k for k in range(1, 14)] + [41]),  # every ceil(41/20) = 3rd, and the end
])
def test_off_a_terminal_lines_go_to_the_log_at_the_right_counts(lines, total, expected_counts):
    quiet = _Stream(tty=False)
    bar = progress(range(total), desc="meta-iterations", file=quiet)
    assert isinstance(bar, LogProgress)
    assert list(bar) == list(range(total))
    got = lines()
    assert [int(line.split(": ")[1].split("/")[0]) for line in got] == expected_counts
    assert all(line.startswith("meta-iterations: ") and f"/{total} (" in line for line in got)
    assert got[-1].startswith(f"meta-iterations: {total}/{total} (100%)") and "in all" in got[-1]
    assert quiet.getvalue() == "", "with logging configured (caplog) the stream stays clean"


def test_a_line_shows_rate_eta_and_postfix(lines, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("metarl.progress._now", lambda: clock[0])
    bar = progress(range(500), desc="meta-iterations", file=_Stream(tty=False))
    for i in bar:
        if i == 40:
            break
        clock[0] += 6.0  # each meta-iteration takes 6 s
        bar.set_postfix(after=f"{-40 + i * 0.01:.1f}")
    first = lines()[0]
    assert first == "meta-iterations: 25/500 (5%) 6.0 s/it, eta 48 min | after=-39.8", first
    # the loop broke with 40 items done: the closing line still comes
    assert lines()[-1] == "meta-iterations: 40/500 (8%) 6.0 s/it, eta 46 min | after=-39.6", lines()


def test_every_can_be_set_per_loop_or_by_the_environment(lines, monkeypatch):
    list(progress(10, desc="a", every=4, file=_Stream(tty=False)))
    assert [line.split(" ")[1] for line in lines()] == ["4/10", "8/10", "10/10"]
    monkeypatch.setenv(EVERY_ENV_VAR, "50")
    assert default_every(10_000) == 50
    monkeypatch.setenv(EVERY_ENV_VAR, "zero")
    with pytest.raises(ValueError, match="METARL_PROGRESS_EVERY='zero'"):
        default_every(10)


def test_default_every_gives_about_20_lines():
    assert default_every(500) == 25 and default_every(20) == 1 and default_every(19) == 1 and default_every(21) == 2
    assert default_every(None) == 10


def test_manual_counter_with_initial_and_unknown_total(lines):
    with progress(total=40, desc="eval tasks", file=_Stream(tty=False), initial=10, unit="task") as bar:
        bar.update(10)
        bar.update(20)
    assert [line.split(" (")[0] for line in lines()] == ["eval tasks: 20/40", "eval tasks: 40/40"]
    with progress(desc="episodes", file=_Stream(tty=False)) as bar:  # unknown total: every 10th
        for _ in range(25):
            bar.update()
    assert [line.split(" ")[1] for line in lines()[2:]] == ["10", "20", "25"]


def test_turned_off_by_the_variable_or_disable(lines, monkeypatch):
    quiet = _Stream(tty=False)
    bar = progress(3, desc="x", file=quiet, disable=True)
    assert isinstance(bar, tqdm) and bar.disable and list(bar) == [0, 1, 2]
    monkeypatch.setenv(ENV_VAR, "yes")
    assert list(progress(3, desc="x", file=_Stream(tty=True))) == [0, 1, 2]
    assert lines() == [] and quiet.getvalue() == ""


def test_disable_false_forces_a_bar_off_a_terminal():
    forced = _Stream(tty=False)
    with progress(total=4, desc="manual", file=forced, disable=False) as bar:
        bar.update(4)
    assert "4/4" in forced.getvalue()


def test_bad_arguments():
    with pytest.raises(ValueError, match=">= 0"):
        progress(-1)
    with pytest.raises(TypeError, match="got a bool"):
        progress(True)
    with pytest.raises(ValueError, match="every must be a positive int"):
        progress(3, every=0, file=_Stream(tty=False))


def test_without_any_logging_configured_the_lines_go_to_stderr():
    # the real `make demo > log 2>&1` case: stderr is a pipe and the program configured no logging
    code = "from metarl.progress import progress\nfor _ in progress(range(3), desc='demo'): pass\n"
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, EVERY_ENV_VAR)}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert [line.split(" (")[0] for line in out.stderr.splitlines()] == ["demo: 1/3", "demo: 2/3", "demo: 3/3"]
    assert out.stdout == ""
