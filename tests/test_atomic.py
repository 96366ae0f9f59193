"""metarl.atomic: the one atomic-write helper (temp file beside the target, fsync, 0644, os.replace)."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from metarl import atomic
from metarl.atomic import atomic_path, atomic_write


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("data", [b"new bytes\n", "new text é\n", lambda f: f.write("new text é\n".encode())])
def test_writes_bytes_text_or_a_writer_function(tmp_path, data):
    target = tmp_path / "sub" / "out.txt"  # the parent folder is created
    assert atomic_write(target, data) == target
    expected = b"new bytes\n" if isinstance(data, bytes) else "new text é\n".encode()
    assert target.read_bytes() == expected
    assert _leftovers(target.parent) == ["out.txt"]


def test_the_file_is_readable_by_others(tmp_path):
    target = atomic_write(tmp_path / "out.json", "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old checkpoint")

    def half_then_fail(f):
        f.write(b"half of the new chec")
        f.flush()
        raise ValueError("cannot pickle this")

    with pytest.raises(ValueError, match="cannot pickle this") as info:
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old checkpoint"
    assert _leftovers(tmp_path) == ["model.pt"]
    assert any(str(target) in note for note in getattr(info.value, "__notes__", [str(target)]))


def test_a_keyboard_interrupt_mid_write_also_cleans_up(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def interrupted(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == ["out.csv"]


def test_a_failed_rename_names_the_target_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left") as info:
        atomic_write(target, "new")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)
    assert str(target) in str(info.value)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == ["results.json"]


def test_an_unwritable_folder_is_an_error_naming_the_target(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            atomic_write(folder / "out.txt", "x")
        assert info.value.filename == str(folder / "out.txt")
    finally:
        folder.chmod(0o755)
    assert _leftovers(folder) == []


def test_atomic_path_hands_out_a_temp_path_with_the_suffix_beside_the_target(tmp_path):
    target = tmp_path / "clip.mp4"
    with atomic_path(target, suffix=".partial.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.mp4.") and tmp.name.endswith(".partial.mp4")
        assert not target.exists()
        tmp.write_bytes(b"frames")
    assert target.read_bytes() == b"frames"
    assert _leftovers(tmp_path) == ["clip.mp4"]


def test_atomic_path_failure_inside_the_block_removes_the_temp_file(tmp_path):
    target = tmp_path / "clip.gif"
    with pytest.raises(RuntimeError, match="encoder died"), atomic_path(target) as tmp:
        tmp.write_bytes(b"GIF89a partial")
        raise RuntimeError("encoder died")
    assert _leftovers(tmp_path) == []


def test_rejects_data_it_cannot_write(tmp_path):
    with pytest.raises(TypeError, match="data must be bytes, str or a function"):
        atomic_write(tmp_path / "x", 3)  # type: ignore[arg-type]
    assert _leftovers(tmp_path) == []
