"""Tests of sktvnet.io's image files: PNG output and the order of image sequences."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import listing
from sktvnet import io
from sktvnet.io._image import _natural_key


@pytest.mark.parametrize("shape", [(6, 9, 3), (6, 9)])
def test_save_png_round_trip(tmp_path, rng, shape):
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / "image.png"
    io.save_png(path, image)
    with Image.open(path) as png:
        assert png.format == "PNG"
        np.testing.assert_array_equal(np.asarray(png), image)
    assert listing(tmp_path) == ["image.png"]


def test_save_png_rejects_floats(tmp_path):
    with pytest.raises(TypeError, match=r"rgb must be uint8, got dtype float64; .*np.round"):
        io.save_png(tmp_path / "x.png", np.zeros((4, 4, 3)))


@pytest.mark.parametrize("shape", [(4, 4, 4), (4,), (0, 4, 3), (2, 4, 4, 3)])
def test_save_png_rejects_bad_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=r"rgb must have shape \(H, W, 3\) or \(H, W\), got"):
        io.save_png(tmp_path / "x.png", np.zeros(shape, dtype=np.uint8))
    assert listing(tmp_path) == []


def test_natural_key_orders_numbers_by_value():
    names = ["f10.png", "f2.png", "F1.jpg", "f02b.png", "g.png"]
    expected = ["F1.jpg", "f2.png", "f02b.png", "f10.png", "g.png"]
    assert sorted(names, key=_natural_key) == expected
