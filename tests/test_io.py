"""Tests of sktvnet.io: .flo files, the Middlebury colour wheel, PNG output, atomic writes."""

import os
import struct

import numpy as np
import pytest
from PIL import Image

from sktvnet import io


@pytest.fixture
def flow(rng):
    return rng.normal(scale=4.0, size=(2, 5, 7)).astype(np.float32)


def _files(folder):
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------------------------ .flo files
def test_flo_round_trip_is_bit_exact(tmp_path, flow):
    flow[0, 1, 2] = 1e10  # Middlebury's unknown marker is kept as it is
    flow[1, 3, 4] = np.nan
    path = tmp_path / "flow.flo"
    io.write_flo(path, flow)
    back = io.read_flo(path)
    assert back.dtype == np.float32 and back.shape == (2, 5, 7)
    assert back.flags.c_contiguous
    assert back.tobytes() == flow.tobytes()


def test_flo_layout_matches_the_middlebury_specification(tmp_path):
    flow = np.array([[[1.0, 2.0, 3.0]], [[-1.0, -2.0, -3.0]]])  # H=1, W=3
    path = tmp_path / "flow.flo"
    io.write_flo(str(path), flow)
    raw = path.read_bytes()
    assert raw[:4] == b"PIEH"
    assert struct.unpack("<f", raw[:4])[0] == 202021.25
    assert struct.unpack("<ii", raw[4:12]) == (3, 1)  # width first, then height
    assert struct.unpack("<6f", raw[12:]) == (1.0, -1.0, 2.0, -2.0, 3.0, -3.0)  # u, v interleaved


def test_read_flo_of_a_hand_written_file(tmp_path):
    path = tmp_path / "hand.flo"
    values = np.arange(2 * 3 * 2, dtype="<f4")  # H=2, W=3, (u, v) pairs row by row
    path.write_bytes(b"PIEH" + struct.pack("<ii", 3, 2) + values.tobytes())
    flow = io.read_flo(path)
    np.testing.assert_array_equal(flow[0], [[0, 2, 4], [6, 8, 10]])
    np.testing.assert_array_equal(flow[1], [[1, 3, 5], [7, 9, 11]])


def test_write_flo_converts_float64_and_ints(tmp_path):
    path = tmp_path / "f.flo"
    io.write_flo(path, np.full((2, 2, 2), 0.1))
    np.testing.assert_array_equal(io.read_flo(path), np.float32(0.1))
    io.write_flo(path, np.ones((2, 2, 2), dtype=np.int16))  # replaces the file
    np.testing.assert_array_equal(io.read_flo(path), 1.0)


def test_write_flo_noncontiguous_input(tmp_path, flow):
    path = tmp_path / "f.flo"
    view = flow[:, ::2, ::-1]
    io.write_flo(path, view)
    np.testing.assert_array_equal(io.read_flo(path), view)


def test_read_flo_bad_magic(tmp_path):
    path = tmp_path / "image.flo"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    message = r"not a Middlebury .flo file: expected .*PIEH.*got b'\\x89PNG'"
    with pytest.raises(ValueError, match=message):
        io.read_flo(path)


def test_read_flo_byte_swapped_magic_is_rejected(tmp_path):
    path = tmp_path / "big_endian.flo"
    path.write_bytes(b"HEIP" + struct.pack(">ii", 1, 1) + struct.pack(">2f", 0, 0))
    with pytest.raises(ValueError, match="not a Middlebury .flo file"):
        io.read_flo(path)


def test_read_flo_empty_file(tmp_path):
    path = tmp_path / "empty.flo"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"got b''"):
        io.read_flo(path)


def test_read_flo_truncated_header(tmp_path):
    path = tmp_path / "short.flo"
    path.write_bytes(b"PIEH" + struct.pack("<i", 3))
    with pytest.raises(ValueError, match="truncated: the .flo header needs 12 bytes, got 8"):
        io.read_flo(path)


def test_read_flo_truncated_data(tmp_path, flow):
    path = tmp_path / "cut.flo"
    io.write_flo(path, flow)
    path.write_bytes(path.read_bytes()[:-5])
    message = r"truncated or its header is corrupt: 7x5 flow needs 280 bytes .* has 275"
    with pytest.raises(ValueError, match=message):
        io.read_flo(path)


def test_read_flo_trailing_bytes(tmp_path, flow):
    path = tmp_path / "long.flo"
    io.write_flo(path, flow)
    with open(path, "ab") as handle:
        handle.write(b"xyz")
    with pytest.raises(ValueError, match="3 unexpected bytes after the 7x5 flow data"):
        io.read_flo(path)


@pytest.mark.parametrize("width, height", [(0, 4), (4, -1), (-5, -5)])
def test_read_flo_nonpositive_size(tmp_path, width, height):
    path = tmp_path / "bad.flo"
    path.write_bytes(b"PIEH" + struct.pack("<ii", width, height) + bytes(64))
    with pytest.raises(ValueError, match=f"width {width} and height {height} must be >= 1"):
        io.read_flo(path)


def test_read_flo_absurd_size_fails_before_allocating(tmp_path):
    path = tmp_path / "huge.flo"
    path.write_bytes(b"PIEH" + struct.pack("<ii", 2**31 - 1, 2**31 - 1) + bytes(16))
    message = r"2147483647x2147483647 flow needs \d+ bytes of data, the file has 16"
    with pytest.raises(ValueError, match=message):
        io.read_flo(path)


def test_read_flo_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.read_flo(tmp_path / "nope.flo")


@pytest.mark.parametrize(
    "shape, message",
    [
        ((5, 7), r"flow must have shape \(2, H, W\), u then v, got \(5, 7\)"),
        ((3, 5, 7), r"got \(3, 5, 7\)"),
        ((5, 7, 2), r"got \(5, 7, 2\); an \(H, W, 2\) array .* np.moveaxis\(flow, -1, 0\)"),
        ((2, 0, 7), r"at least one pixel, got shape \(2, 0, 7\)"),
    ],
)
def test_write_flo_bad_shape(tmp_path, shape, message):
    with pytest.raises(ValueError, match=message):
        io.write_flo(tmp_path / "f.flo", np.zeros(shape))
    assert _files(tmp_path) == []


def test_write_flo_non_numeric(tmp_path):
    with pytest.raises(TypeError, match="flow must hold real numbers, got dtype <U1"):
        io.write_flo(tmp_path / "f.flo", np.full((2, 2, 2), "a"))


# ---------------------------------------------------------------------------------- atomic writes
def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch, flow):
    path = tmp_path / "flow.flo"
    io.write_flo(path, flow)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_flo(path, np.zeros((2, 3, 3)))
    assert _files(tmp_path) == ["flow.flo"]  # no temporary file left
    assert path.read_bytes() == before  # the old file is untouched


def test_failure_while_writing_png_leaves_no_file(tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        io.save_png(tmp_path / "out.png", np.zeros((4, 4, 3), dtype=np.uint8))
    assert _files(tmp_path) == []


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


# ------------------------------------------------------------------------------ colour wheel
def test_color_wheel_segments():
    wheel = io._color_wheel()
    assert wheel.shape == (55, 3)
    starts = np.cumsum((0, 15, 6, 4, 11, 13))
    expected = [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255), (255, 0, 255)]
    for start, color in zip(starts, expected):
        np.testing.assert_array_equal(wheel[start], color)
    assert ((wheel >= 0) & (wheel <= 255)).all()


def test_zero_flow_is_white():
    rgb = io.flow_to_color(np.zeros((2, 4, 5)))
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert (rgb == 255).all()


@pytest.mark.parametrize(
    "u, v, expected",
    [
        (1.0, 0.0, (255, 0, 0)),  # right: red
        (-1.0, 0.0, (0, 209, 255)),  # left: cyan (wheel[27])
        (0.0, 1.0, (255, 230, 0)),  # down: orange-yellow, between wheel[13] and wheel[14]
        (0.0, -1.0, (88, 0, 255)),  # up: blue-violet, halfway between wheel[40] and wheel[41]
    ],
)
def test_known_directions(u, v, expected):
    flow = np.zeros((2, 1, 2))
    flow[:, 0, 1] = (u, v)
    rgb = io.flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 0], (255, 255, 255))
    np.testing.assert_allclose(rgb[0, 1], expected, atol=1)


def test_right_is_red_from_either_side_of_the_seam():
    # As in Middlebury's code, the angle maps onto wheel[0] .. wheel[54] without wrapping, so just
    # above the +u axis is the last wheel colour (255, 0, 43): a seam, red on both sides.
    flow = np.zeros((2, 1, 3))
    flow[:, 0, 0] = (1.0, 1e-9)
    flow[:, 0, 1] = (1.0, -1e-9)
    flow[:, 0, 2] = (1.0, 0.0)
    rgb = io.flow_to_color(flow)[0]
    np.testing.assert_array_equal(rgb[[0, 2]], [(255, 0, 0), (255, 0, 0)])
    np.testing.assert_array_equal(rgb[1], (255, 0, 43))


def test_saturation_grows_with_magnitude():
    u = np.linspace(0.0, 2.0, 9)
    flow = np.stack([u, np.zeros_like(u)])[:, None, :]
    rgb = io.flow_to_color(flow, max_flow=2.0)[0]
    assert (rgb[:, 0] == 255).all()  # red stays full
    assert (np.diff(rgb[:, 1].astype(int)) < 0).all()  # green and blue fade with magnitude
    np.testing.assert_array_equal(rgb[4], (255, 128, 128))  # half of max_flow: half saturated


def test_beyond_max_flow_is_dimmed():
    flow = np.zeros((2, 1, 2))
    flow[0, 0] = (1.0, 3.0)
    rgb = io.flow_to_color(flow, max_flow=1.0)
    np.testing.assert_array_equal(rgb[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(rgb[0, 1], (191, 0, 0))  # 0.75 * 255


def test_default_max_flow_is_largest_known_magnitude():
    flow = np.zeros((2, 1, 3))
    flow[0, 0] = (1.0, 2.0, 1e10)  # the unknown pixel must not set the scale
    rgb = io.flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 1], (255, 0, 0))
    np.testing.assert_array_equal(rgb[0, 0], (255, 128, 128))
    np.testing.assert_array_equal(rgb[0, 2], (0, 0, 0))
    np.testing.assert_array_equal(rgb, io.flow_to_color(flow, max_flow=2.0))


@pytest.mark.parametrize("unknown", [np.nan, np.inf, -np.inf, 1e10, -1e10])
def test_unknown_pixels_are_black(unknown):
    flow = np.ones((2, 2, 2))
    flow[1, 0, 0] = unknown
    rgb = io.flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 0], (0, 0, 0))
    assert (rgb[1, 1] > 0).any()


def test_scale_invariance(flow):
    np.testing.assert_array_equal(io.flow_to_color(flow), io.flow_to_color(3 * flow))


def test_legend_is_pasted_in_bottom_right_corner():
    flow = np.zeros((2, 100, 150))
    plain = io.flow_to_color(flow)
    with_legend = io.flow_to_color(flow, legend=True)
    changed = np.argwhere((plain != with_legend).any(axis=-1))
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    assert (bottom, right) == (95, 145)  # 4 px margin
    assert bottom - top + 1 == 24  # a fifth of 100 is 20: the minimum of 24 applies
    # The legend's centre is white (zero flow), its right edge red, its left edge cyan.
    legend = with_legend[top:bottom + 1, left:right + 1].astype(int)
    middle = legend.shape[0] // 2
    assert (legend[middle - 1:middle + 1, middle - 1:middle + 1] > 200).all()
    assert np.abs(legend[middle, -3] - [255, 0, 0]).max() < 40
    assert np.abs(legend[middle, 2] - [0, 209, 255]).max() < 40


def test_legend_size_scales_and_small_images_get_none():
    big = io.flow_to_color(np.zeros((2, 400, 400)), legend=True)
    assert (big[-5, -5] != 255).any() and (big[-4 - 80, -5] != 255).any()
    assert (big[-4 - 81, -5] == 255).all()  # side 400 // 5 = 80
    tiny = np.zeros((2, 20, 30))
    np.testing.assert_array_equal(io.flow_to_color(tiny, legend=True), io.flow_to_color(tiny))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_max_flow_value(bad):
    with pytest.raises(ValueError, match="max_flow must be positive and finite"):
        io.flow_to_color(np.zeros((2, 2, 2)), max_flow=bad)


@pytest.mark.parametrize("bad", ["1", True, [1.0]])
def test_bad_max_flow_type(bad):
    with pytest.raises(TypeError, match="max_flow must be a real number or None"):
        io.flow_to_color(np.zeros((2, 2, 2)), max_flow=bad)


def test_flow_to_color_bad_shape():
    with pytest.raises(ValueError, match=r"got \(4, 4, 2\); an \(H, W, 2\) array"):
        io.flow_to_color(np.zeros((4, 4, 2)))


# ------------------------------------------------------------------------------------------ PNG
@pytest.mark.parametrize("shape", [(6, 9, 3), (6, 9)])
def test_save_png_round_trip(tmp_path, rng, shape):
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / "image.png"
    io.save_png(path, image)
    with Image.open(path) as png:
        assert png.format == "PNG"
        np.testing.assert_array_equal(np.asarray(png), image)
    assert _files(tmp_path) == ["image.png"]


def test_save_png_rejects_floats(tmp_path):
    with pytest.raises(TypeError, match=r"rgb must be uint8, got dtype float64; .*np.round"):
        io.save_png(tmp_path / "x.png", np.zeros((4, 4, 3)))


@pytest.mark.parametrize("shape", [(4, 4, 4), (4,), (0, 4, 3), (2, 4, 4, 3)])
def test_save_png_rejects_bad_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=r"rgb must have shape \(H, W, 3\) or \(H, W\), got"):
        io.save_png(tmp_path / "x.png", np.zeros(shape, dtype=np.uint8))
    assert _files(tmp_path) == []
