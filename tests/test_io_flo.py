"""Tests of sktvnet.io's Middlebury .flo reading and writing."""

import os
import struct

import numpy as np
import pytest

from conftest import listing
from sktvnet import io


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
    assert listing(tmp_path) == []


def test_write_flo_non_numeric(tmp_path):
    with pytest.raises(TypeError, match="flow must hold real numbers, got dtype <U1"):
        io.write_flo(tmp_path / "f.flo", np.full((2, 2, 2), "a"))
