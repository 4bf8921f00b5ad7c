"""Tests of sktvnet.io's atomic writes: nothing partial under a final name, umask honoured."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import listing
from sktvnet import io


def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch, flow):
    path = tmp_path / "flow.flo"
    io.write_flo(path, flow)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_flo(path, np.zeros((2, 3, 3)))
    assert listing(tmp_path) == ["flow.flo"]  # no temporary file left
    assert path.read_bytes() == before  # the old file is untouched


def test_failure_while_writing_png_leaves_no_file(tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        io.save_png(tmp_path / "out.png", np.zeros((4, 4, 3), dtype=np.uint8))
    assert listing(tmp_path) == []


def test_atomic_write_respects_umask(tmp_path, flow):
    if os.name != "posix":
        pytest.skip("permission bits are POSIX")
    old = os.umask(0o022)
    try:
        io.write_flo(tmp_path / "f.flo", flow)
    finally:
        os.umask(old)
    assert (tmp_path / "f.flo").stat().st_mode & 0o777 == 0o644


def test_write_into_missing_folder_fails(tmp_path, flow):
    with pytest.raises(FileNotFoundError):
        io.write_flo(tmp_path / "missing" / "f.flo", flow)


def test_remove_temporaries_only_removes_matching_leftovers(tmp_path):
    names = [".000001.flo.0123456789ab.tmp", ".clip.npz.ba9876543210.tmp",
             ".000002.flo.short.tmp", "000003.flo", ".other.0123456789ab.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = io.remove_temporaries(tmp_path, lambda name: name.endswith(".flo"))
    assert removed == 1
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])
    assert io.remove_temporaries(tmp_path / "missing", bool) == 0


def test_atomic_write_publishes_only_on_success(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="stop"):
        with io.atomic_write(path) as handle:
            handle.write(b"new, never published")
            raise RuntimeError("stop")
    assert listing(tmp_path) == ["data.bin"] and path.read_bytes() == b"old"
    with io.atomic_write(path) as handle:
        handle.write(b"new")
        assert path.read_bytes() == b"old"  # the old file stays until the block ends
    assert listing(tmp_path) == ["data.bin"] and path.read_bytes() == b"new"


def test_estimator_save_honours_the_umask(tmp_path):
    """save() goes through io's atomic writer: 0644 under umask 022, as every other writer
    (tempfile.mkstemp would give 0600)."""
    if os.name != "posix":
        pytest.skip("permission bits are POSIX")
    from sktvnet import TVNetFlow

    path = tmp_path / "model.sktvnet"
    old = os.umask(0o022)
    try:
        TVNetFlow(weights=None, n_scales=2).save(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert listing(tmp_path) == ["model.sktvnet"]
    assert TVNetFlow.load(path).n_scales == 2
