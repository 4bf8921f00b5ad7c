"""Tests of sktvnet.io's flow-stack writers: .npz and colour-coded video, streamed and atomic."""

import os

import numpy as np
import pytest

from sktvnet import io

av = pytest.importorskip("av")

def _hidden(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")]


def test_write_flow_npz_from_a_generator(tmp_path, rng):
    flows = rng.normal(size=(5, 2, 6, 7)).astype(np.float32)
    path = tmp_path / "clip.npz"
    assert io.write_flow_npz(path, (f for f in flows)) == 5
    with np.load(path) as archive:
        assert list(archive.keys()) == ["flow"]
        np.testing.assert_array_equal(archive["flow"], flows)
    assert _hidden(tmp_path) == []


def test_write_flow_npz_of_an_array_and_float64(tmp_path):
    path = tmp_path / "clip.npz"
    io.write_flow_npz(path, np.full((2, 2, 3, 4), 0.5))
    with np.load(path) as archive:
        assert archive["flow"].dtype == np.float32 and archive["flow"].shape == (2, 2, 3, 4)


@pytest.mark.parametrize("writer", [io.write_flow_npz, io.write_flow_video])
def test_flow_stack_errors_leave_no_file(tmp_path, writer):
    path = tmp_path / ("out.npz" if writer is io.write_flow_npz else "out.mp4")

    def flows():
        yield np.zeros((2, 8, 8))
        yield np.zeros((2, 8, 10))

    with pytest.raises(ValueError, match="must have the size of the first, 8x8, got 8x10"):
        writer(path, flows())
    with pytest.raises(ValueError, match="no flow was written"):
        writer(path, iter(()))
    with pytest.raises(ValueError, match="a single flow is flows\\[None\\]"):
        writer(path, np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="must have shape \\(2, H, W\\)"):
        writer(path, [np.zeros((3, 8, 8))])
    assert os.listdir(tmp_path) == []  # neither the file nor a temporary


def test_interrupted_stack_leaves_no_file(tmp_path):
    def flows():
        yield np.zeros((2, 8, 8))
        raise KeyboardInterrupt

    for name in ("out.npz", "out.mp4"):
        writer = io.write_flow_npz if name.endswith("npz") else io.write_flow_video
        with pytest.raises(KeyboardInterrupt):
            writer(tmp_path / name, flows())
    assert os.listdir(tmp_path) == []


def test_write_flow_video_colours_and_rate(tmp_path):
    flows = np.zeros((3, 2, 32, 48), np.float32)
    flows[:, 0] = -2.0  # pointing left: cyan
    path = tmp_path / "flow.mp4"
    assert io.write_flow_video(path, flows, fps=12.5) == 3
    video = io.read_video(path)
    assert video.shape == (3, 32, 48, 3)
    assert video[..., 0].max() < 40 and video[..., 1:].min() > 180
    assert io.probe_video(path).fps == 12.5
    assert _hidden(tmp_path) == []


def test_write_flow_video_pads_odd_sizes(tmp_path):
    path = tmp_path / "odd.mkv"
    io.write_flow_video(path, np.ones((2, 2, 7, 9)), legend=True)
    assert io.read_video(path).shape == (2, 8, 10, 3)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"fps": 0}, ValueError, "fps must be positive and finite, got 0"),
    ({"fps": "25"}, TypeError, "fps must be a positive real number, got str"),
    ({"max_flow": -1.0}, ValueError, "max_flow must be positive and finite"),
])
def test_write_flow_video_rejects_bad_options(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        io.write_flow_video(tmp_path / "x.mp4", np.zeros((1, 2, 8, 8)), **kwargs)


def test_write_flow_video_needs_a_known_extension(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the video format of .*x.gif.*\\.avi"):
        io.write_flow_video(tmp_path / "x.gif", np.zeros((1, 2, 8, 8)))
