"""Tests of the rawframes layout: quantisation, names, round trip, reader errors, tree loader."""

import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from sktvnet import FlowHistogram
from sktvnet.datasets import load_rawframes_folder
from sktvnet.io import (RawframesWriter, dequantize_flow, quantize_flow, read_rawframes,
                        write_rawframes)

BOUND = 20.0
QUANTUM = 2 * BOUND / 255


def smooth_flows(n=3, height=48, width=64, *, sigma=8.0, peak=19.0, seed=0):
    """Flows (n, 2, H, W) of smooth random fields reaching +-peak px (inside the bound)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(n, 2, height, width)), (0, 0, sigma, sigma))
    return (field / np.abs(field).max() * peak).astype(np.float32)


# ------------------------------------------------------------------------------- quantisation
def test_quantize_follows_denseflow_formula():
    flow = np.array([-25.0, -20.0, -0.01, 0.0, 0.07, 19.99, 20.0, 1e6])
    expected = np.clip(np.rint(255 * (np.clip(flow, -20, 20) + 20) / 40), 0, 255)
    got = quantize_flow(flow, 20)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    assert got.tolist() == [0, 0, 127, 128, 128, 255, 255, 255]


def test_quantize_rounds_half_to_even_as_cvround():
    # With bound 127.5, 255 * (f + bound) / (2 * bound) = f + 127.5: exactly k + 0.5 for these
    # integers; cvRound (and np.rint) give the even neighbour, not always the upper one.
    assert quantize_flow(np.array([-127.0, -126.0, -125.0, 0.0]), 127.5).tolist() == [0, 2, 2, 128]


def test_quantize_then_dequantize_within_half_a_quantum():
    flow = smooth_flows(2, 16, 16)
    back = dequantize_flow(quantize_flow(flow))
    assert back.dtype == np.float32 and back.shape == flow.shape
    assert np.abs(back - flow).max() <= QUANTUM / 2 + 1e-5
    # Beyond the bound: clipped to it.
    assert dequantize_flow(quantize_flow(np.array([-50.0, 50.0]))).tolist() == [-20.0, 20.0]


def test_quantize_refuses_non_finite_flow_and_bad_bound():
    with pytest.raises(ValueError, match="NaN or infinite"):
        quantize_flow(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="bound must be a positive"):
        quantize_flow(np.zeros(3), 0)
    with pytest.raises(TypeError, match="uint8"):
        dequantize_flow(np.zeros(3))


# ---------------------------------------------------------------------------- names, numbers
def test_names_and_numbering(tmp_path):
    flows = smooth_flows(3, 16, 24)
    frames = np.zeros((4, 16, 24, 3), np.uint8)
    assert write_rawframes(tmp_path / "v", flows, frames=frames) == 3
    assert sorted(os.listdir(tmp_path / "v")) == [
        "flow_x_00001.jpg", "flow_x_00002.jpg", "flow_x_00003.jpg",
        "flow_y_00001.jpg", "flow_y_00002.jpg", "flow_y_00003.jpg",
        "img_00001.jpg", "img_00002.jpg", "img_00003.jpg", "img_00004.jpg"]
    with Image.open(tmp_path / "v" / "flow_x_00002.jpg") as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "L", (24, 16))
    # flow_x holds u (channel 0), flow_y v (channel 1), file k the pair (k, k+1).
    x = np.asarray(Image.open(tmp_path / "v" / "flow_x_00002.jpg"))
    y = np.asarray(Image.open(tmp_path / "v" / "flow_y_00002.jpg"))
    assert np.abs(x.astype(int) - quantize_flow(flows[1])[0]).mean() < 1
    assert np.abs(y.astype(int) - quantize_flow(flows[1])[1]).mean() < 1

    write_rawframes(tmp_path / "zero", flows, start_index=0)
    assert sorted(os.listdir(tmp_path / "zero"))[:3] == [
        "flow_x_00000.jpg", "flow_x_00001.jpg", "flow_x_00002.jpg"]
    np.testing.assert_array_equal(read_rawframes(tmp_path / "zero"), read_rawframes(tmp_path / "v"))


def test_default_quality_is_opencvs():
    """Files are those OpenCV's imencode writes at its defaults (denseflow's call)."""
    cv2 = pytest.importorskip("cv2")
    import io

    image = quantize_flow(smooth_flows(1, 32, 40))[0, 0]
    ok, encoded = cv2.imencode(".jpg", image)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    assert ok and encoded.tobytes() == buffer.getvalue()


# ----------------------------------------------------------------------------------- round trip
def test_round_trip_through_jpeg_at_quality_95(tmp_path):
    """JPEG at quality 95 (denseflow's): smooth flows inside the bound come back within a
    quantum on average, and a pixel never further than two quanta."""
    flows = smooth_flows(3)
    write_rawframes(tmp_path / "v", flows)
    back = read_rawframes(tmp_path / "v")
    assert back.shape == flows.shape and back.dtype == np.float32
    error = np.abs(back - flows)
    assert error.mean() <= QUANTUM / 2
    assert error.max() <= 2 * QUANTUM


def test_round_trip_at_quality_100_within_one_and_a_half_quanta(tmp_path):
    """At quality 100 JPEG changes a value by at most one level: half a quantum of rounding plus
    one of JPEG, and most pixels within one quantum."""
    flows = smooth_flows(3, sigma=2.0)
    write_rawframes(tmp_path / "v", flows, quality=100)
    error = np.abs(read_rawframes(tmp_path / "v") - flows)
    assert error.max() <= 1.5 * QUANTUM + 1e-5
    assert (error <= QUANTUM).mean() >= 0.9


def test_bound_is_read_back_with_the_same_bound(tmp_path):
    flows = smooth_flows(1, 16, 16, peak=4.5)
    write_rawframes(tmp_path / "v", flows, bound=5, quality=100)
    assert np.abs(read_rawframes(tmp_path / "v", bound=5) - flows).max() <= 1.5 * 10 / 255 + 1e-5


# ------------------------------------------------------------------------------ writer, reader
def test_writer_publishes_only_when_closed(tmp_path):
    writer = RawframesWriter(tmp_path / "cls" / "v")
    writer.write_flow(np.zeros((2, 8, 8)))
    assert os.listdir(tmp_path / "cls") != ["v"]  # only the hidden partial folder so far
    assert all(name.startswith(".v.") and name.endswith(".part")
               for name in os.listdir(tmp_path / "cls"))
    writer.close()
    assert os.listdir(tmp_path / "cls") == ["v"]

    with pytest.raises(ValueError, match="one size"):
        with RawframesWriter(tmp_path / "cls" / "w") as failing:
            failing.write_flow(np.zeros((2, 8, 8)))
            failing.write_flow(np.zeros((2, 8, 9)))
    assert os.listdir(tmp_path / "cls") == ["v"]  # the failed video left nothing
    with pytest.raises(FileExistsError, match="exists already"):
        RawframesWriter(tmp_path / "cls" / "v")


def test_writer_refuses_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="start_index"):
        RawframesWriter(tmp_path / "v", start_index=-1)
    with pytest.raises(ValueError, match="quality"):
        RawframesWriter(tmp_path / "v", quality=0)
    with pytest.raises(ValueError, match="NaN"):
        write_rawframes(tmp_path / "v", np.full((1, 2, 4, 4), np.inf))
    with pytest.raises(ValueError, match="no flow"):
        write_rawframes(tmp_path / "v", np.zeros((0, 2, 4, 4)))
    assert os.listdir(tmp_path) == []


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such rawframes folder"):
        read_rawframes(tmp_path / "missing")
    write_rawframes(tmp_path / "v", np.zeros((4, 2, 8, 8)))
    with pytest.raises(NotADirectoryError):
        read_rawframes(tmp_path / "v" / "flow_x_00001.jpg")
    os.remove(tmp_path / "v" / "flow_y_00004.jpg")
    with pytest.raises(ValueError, match="flow_x_00004.jpg has no flow_x/flow_y partner"):
        read_rawframes(tmp_path / "v")
    os.remove(tmp_path / "v" / "flow_x_00004.jpg")
    os.remove(tmp_path / "v" / "flow_x_00002.jpg")
    os.remove(tmp_path / "v" / "flow_y_00002.jpg")
    with pytest.raises(ValueError, match=r"number\(s\) \[2\] are missing"):
        read_rawframes(tmp_path / "v")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no flow_x"):
        read_rawframes(tmp_path / "empty")
    (tmp_path / "v" / "flow_x_00002.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "v" / "flow_y_00002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot read .*flow_x_00002.jpg"):
        read_rawframes(tmp_path / "v")


# ------------------------------------------------------------------------------ tree loader
def test_load_rawframes_folder_as_x_y(tmp_path):
    expected = {}
    for label, u in (("Left", -3.0), ("Right", 3.0)):
        for k in range(2):
            flows = np.zeros((3 + k, 2, 16, 20), np.float32)
            flows[:, 0] = u
            # Videos may sit deeper below their class folder.
            folder = tmp_path / label / f"group{k}" / f"v{k}"
            write_rawframes(folder, flows)
            expected[(label, k)] = flows
    (tmp_path / "manifest.jsonl").write_text("{}\n")
    (tmp_path / "Left" / ".v9.0123456789ab.part").mkdir()  # a video still being written
    X, y = load_rawframes_folder(tmp_path)
    assert y.tolist() == ["Left", "Left", "Right", "Right"]
    assert [x.shape for x in X] == [(3, 2, 16, 20), (4, 2, 16, 20)] * 2
    for x, key in zip(X, [("Left", 0), ("Left", 1), ("Right", 0), ("Right", 1)]):
        assert np.abs(x - expected[key]).max() <= QUANTUM
    features = FlowHistogram(grid=(1, 1), statistics=("mean",)).fit_transform(X)
    assert np.allclose(features[:, 0], [-3, -3, 3, 3], atol=QUANTUM)

    X, y = load_rawframes_folder(tmp_path, classes=["Right"])
    assert y.tolist() == ["Right", "Right"] and len(X) == 2


def test_load_rawframes_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rawframes_folder(tmp_path / "missing")
    (tmp_path / "Run").mkdir()
    with pytest.raises(ValueError, match="holds no rawframes video"):
        load_rawframes_folder(tmp_path)
    with pytest.raises(ValueError, match=r"no folder for the classes \['Jump'\]"):
        load_rawframes_folder(tmp_path, classes=["Jump"])
    write_rawframes(tmp_path / "flat", np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="holds flow images itself"):
        load_rawframes_folder(tmp_path)
