"""metarl.malloc_tuning: the opt-in glibc malloc settings — applied when asked for, and when they are not."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from metarl import malloc_tuning

ROOT = Path(__file__).resolve().parents[1]


class FakeLibc:
    """Records mallopt calls; returns ``result`` (glibc: 1 = accepted, 0 = rejected)."""

    def __init__(self, result: int = 1):
        self.calls: list[tuple[int, int]] = []
        self.result = result

    def mallopt(self, parameter, value) -> int:
        self.calls.append((parameter.value, value.value))
        return self.result


@pytest.fixture
def fake_glibc(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(malloc_tuning.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(malloc_tuning.ctypes, "CDLL", lambda name: libc)
    return libc


def test_applies_every_setting_with_mallopt(fake_glibc):
    assert malloc_tuning.keep_freed_memory({}) == "applied"
    assert malloc_tuning.status == "applied"
    assert fake_glibc.calls == [(-4, 0), (-1, 2**31 - 1), (-2, 64 * 1024**2)]  # M_MMAP_MAX, M_TRIM, M_TOP_PAD


def test_opt_out_variable_leaves_malloc_alone(fake_glibc):
    assert malloc_tuning.keep_freed_memory({"METARL_MALLOC_TUNING": "0"}) == "disabled by METARL_MALLOC_TUNING=0"
    assert fake_glibc.calls == []


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"MALLOC_ARENA_MAX": "2"}, "MALLOC_ARENA_MAX"),
        ({"MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_MMAP_MAX_": "4"}, "MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_"),
        ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}, "GLIBC_TUNABLES"),
    ],
)
def test_the_users_own_malloc_options_win(fake_glibc, environ, names):
    assert malloc_tuning.keep_freed_memory(environ) == f"user settings: {names}"
    assert fake_glibc.calls == []


def test_glibc_tunables_without_malloc_do_not_count(fake_glibc):
    assert malloc_tuning.keep_freed_memory({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"}) == "applied"


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(malloc_tuning.platform, "libc_ver", lambda: ("", ""))
    monkeypatch.setattr(malloc_tuning.ctypes, "CDLL", lambda name: pytest.fail("libc must not be loaded"))
    assert malloc_tuning.keep_freed_memory({}) == "not glibc (unknown C library)"


def test_a_rejected_setting_is_an_error_naming_it(monkeypatch, fake_glibc):
    fake_glibc.result = 0
    with pytest.raises(OSError, match="mallopt rejected M_MMAP_MAX=0"):
        malloc_tuning.keep_freed_memory({})


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_real_glibc_accepts_the_settings():
    assert malloc_tuning.keep_freed_memory({}) == "applied"


@pytest.mark.parametrize("value", ["1", "true", "ON"])
def test_the_variable_requests_it(fake_glibc, value):
    assert malloc_tuning.keep_freed_memory_if_requested({"METARL_MALLOC_TUNING": value}) == "applied"
    assert len(fake_glibc.calls) == 3


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "not requested (METARL_MALLOC_TUNING unset)"),
    ({"METARL_MALLOC_TUNING": ""}, "not requested (METARL_MALLOC_TUNING unset)"),
    ({"METARL_MALLOC_TUNING": "0"}, "disabled by METARL_MALLOC_TUNING=0"),
])
def test_without_the_variable_set_to_1_nothing_is_requested(fake_glibc, environ, expected):
    assert malloc_tuning.keep_freed_memory_if_requested(environ) == expected
    assert malloc_tuning.status == expected
    assert fake_glibc.calls == []


def test_the_users_malloc_options_win_over_the_request_too(fake_glibc):
    environ = {"METARL_MALLOC_TUNING": "1", "MALLOC_ARENA_MAX": "2"}
    assert malloc_tuning.keep_freed_memory_if_requested(environ) == "user settings: MALLOC_ARENA_MAX"
    assert fake_glibc.calls == []


@pytest.mark.parametrize("call", [malloc_tuning.keep_freed_memory, malloc_tuning.keep_freed_memory_if_requested])
def test_a_misspelled_value_is_an_error_naming_the_variable(fake_glibc, call):
    with pytest.raises(ValueError, match="METARL_MALLOC_TUNING='yes please'"):
        call({"METARL_MALLOC_TUNING": "yes please"})
    assert fake_glibc.calls == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_importing_metarl_does_not_apply_it_even_when_requested():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env["METARL_MALLOC_TUNING"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    code = ("import metarl; from metarl import malloc_tuning; print(malloc_tuning.status); "
            "print(metarl.keep_freed_memory())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split("\n")[:2] == ["not called", "applied"]
