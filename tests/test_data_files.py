"""Atomic writes: a file or folder appears whole or not at all, and nothing temporary stays."""

from __future__ import annotations

import os
import stat

import pytest

from circlearn.data import files
from circlearn.data.files import atomic_directory, atomic_write


class Boom(Exception):
    pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_write_writes_binary_and_text(tmp_path):
    target = tmp_path / "model.bin"
    with atomic_write(target) as f:
        f.write(b"\x00\x01")
        assert not target.exists()  # nothing at the target until the block ends
    assert target.read_bytes() == b"\x00\x01"
    with atomic_write(target, "w", newline="") as f:  # replaces the old file
        f.write("a\r\nb\n")
    assert target.read_bytes() == b"a\r\nb\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_an_exception_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "dataset.json"
    target.write_text("old\n")
    with pytest.raises(Boom):
        with atomic_write(target, "w") as f:
            f.write("new, half")
            f.flush()
            raise Boom
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["dataset.json"]
    with pytest.raises(KeyboardInterrupt):  # also when interrupted
        with atomic_write(tmp_path / "new.pt"):
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["dataset.json"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_gives_an_ordinary_files_permissions(tmp_path):
    with atomic_write(tmp_path / "out.onnx") as f:
        f.write(b"x")
    assert stat.S_IMODE((tmp_path / "out.onnx").stat().st_mode) == 0o666 & ~_umask()


def test_atomic_write_fsyncs_when_asked(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(files.os, "fsync", lambda fd: synced.append(fd))
    with atomic_write(tmp_path / "a.pt") as f:
        f.write(b"a")
    assert synced == []
    with atomic_write(tmp_path / "b.pt", fsync=True) as f:
        f.write(b"b")
    assert len(synced) == 1 and (tmp_path / "b.pt").read_bytes() == b"b"


def test_atomic_write_refuses_modes_that_are_not_whole_writes(tmp_path):
    for mode in ("a", "r+b", "xb"):
        with pytest.raises(ValueError, match="mode"):
            with atomic_write(tmp_path / "x", mode):
                pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_appears_complete_or_not_at_all(tmp_path):
    out = tmp_path / "sub" / "data"
    with atomic_directory(out) as tmp:
        assert tmp.parent == out.parent and tmp.is_dir() and not out.exists()
        (tmp / "frame").mkdir()
        (tmp / "frame" / "train0000.tfrecord").write_bytes(b"records")
    assert (out / "frame" / "train0000.tfrecord").read_bytes() == b"records"
    assert [p.name for p in out.parent.iterdir()] == ["data"]
    if os.name == "posix":
        assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~_umask()

    again = tmp_path / "again"
    with pytest.raises(Boom):
        with atomic_directory(again) as tmp:
            (tmp / "half.tfrecord").write_bytes(b"half")
            raise Boom
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_atomic_directory_replaces_only_an_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty) as tmp:
        (tmp / "dataset.json").write_text("{}")
    assert (empty / "dataset.json").read_text() == "{}"
    with pytest.raises(OSError):  # a finished folder is never overwritten
        with atomic_directory(empty) as tmp:
            (tmp / "dataset.json").write_text("other")
    assert (empty / "dataset.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_atomic_directory_removes_leftovers_of_ended_processes_only(tmp_path):
    dead = tmp_path / ".data.tmp-999999999"  # killed before its clean-up ran
    (dead / "frame").mkdir(parents=True)
    dead_too = tmp_path / ".data.tmp-999999998-0123abcd"
    dead_too.mkdir()
    running = tmp_path / f".data.tmp-{os.getpid()}-feedbeef"  # another writer, still running
    running.mkdir()
    with atomic_directory(tmp_path / "data") as tmp:
        assert not dead.exists() and not dead_too.exists() and running.is_dir()
        (tmp / "x").write_text("x")
    assert running.is_dir() and (tmp_path / "data" / "x").is_file()
