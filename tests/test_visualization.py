"""Tests of sktvnet.visualization: the Middlebury colour wheel."""

import numpy as np
import pytest

from sktvnet import visualization
from sktvnet.visualization import flow_to_color

def test_color_wheel_segments():
    wheel = visualization._color_wheel()
    assert wheel.shape == (55, 3)
    starts = np.cumsum((0, 15, 6, 4, 11, 13))
    expected = [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255), (255, 0, 255)]
    for start, color in zip(starts, expected):
        np.testing.assert_array_equal(wheel[start], color)
    assert ((wheel >= 0) & (wheel <= 255)).all()


def test_zero_flow_is_white():
    rgb = flow_to_color(np.zeros((2, 4, 5)))
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
    rgb = flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 0], (255, 255, 255))
    np.testing.assert_allclose(rgb[0, 1], expected, atol=1)


def test_right_is_red_from_either_side_of_the_seam():
    # As in Middlebury's code, the angle maps onto wheel[0] .. wheel[54] without wrapping, so just
    # above the +u axis is the last wheel colour (255, 0, 43): a seam, red on both sides.
    flow = np.zeros((2, 1, 3))
    flow[:, 0, 0] = (1.0, 1e-9)
    flow[:, 0, 1] = (1.0, -1e-9)
    flow[:, 0, 2] = (1.0, 0.0)
    rgb = flow_to_color(flow)[0]
    np.testing.assert_array_equal(rgb[[0, 2]], [(255, 0, 0), (255, 0, 0)])
    np.testing.assert_array_equal(rgb[1], (255, 0, 43))


def test_saturation_grows_with_magnitude():
    u = np.linspace(0.0, 2.0, 9)
    flow = np.stack([u, np.zeros_like(u)])[:, None, :]
    rgb = flow_to_color(flow, max_flow=2.0)[0]
    assert (rgb[:, 0] == 255).all()  # red stays full
    assert (np.diff(rgb[:, 1].astype(int)) < 0).all()  # green and blue fade with magnitude
    np.testing.assert_array_equal(rgb[4], (255, 128, 128))  # half of max_flow: half saturated


def test_beyond_max_flow_is_dimmed():
    flow = np.zeros((2, 1, 2))
    flow[0, 0] = (1.0, 3.0)
    rgb = flow_to_color(flow, max_flow=1.0)
    np.testing.assert_array_equal(rgb[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(rgb[0, 1], (191, 0, 0))  # 0.75 * 255


def test_default_max_flow_is_largest_known_magnitude():
    flow = np.zeros((2, 1, 3))
    flow[0, 0] = (1.0, 2.0, 1e10)  # the unknown pixel must not set the scale
    rgb = flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 1], (255, 0, 0))
    np.testing.assert_array_equal(rgb[0, 0], (255, 128, 128))
    np.testing.assert_array_equal(rgb[0, 2], (0, 0, 0))
    np.testing.assert_array_equal(rgb, flow_to_color(flow, max_flow=2.0))


@pytest.mark.parametrize("unknown", [np.nan, np.inf, -np.inf, 1e10, -1e10])
def test_unknown_pixels_are_black(unknown):
    flow = np.ones((2, 2, 2))
    flow[1, 0, 0] = unknown
    rgb = flow_to_color(flow)
    np.testing.assert_array_equal(rgb[0, 0], (0, 0, 0))
    assert (rgb[1, 1] > 0).any()


def test_scale_invariance(flow):
    np.testing.assert_array_equal(flow_to_color(flow), flow_to_color(3 * flow))


def test_legend_is_pasted_in_bottom_right_corner():
    flow = np.zeros((2, 100, 150))
    plain = flow_to_color(flow)
    with_legend = flow_to_color(flow, legend=True)
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
    big = flow_to_color(np.zeros((2, 400, 400)), legend=True)
    assert (big[-5, -5] != 255).any() and (big[-4 - 80, -5] != 255).any()
    assert (big[-4 - 81, -5] == 255).all()  # side 400 // 5 = 80
    tiny = np.zeros((2, 20, 30))
    np.testing.assert_array_equal(flow_to_color(tiny, legend=True), flow_to_color(tiny))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_max_flow_value(bad):
    with pytest.raises(ValueError, match="max_flow must be positive and finite"):
        flow_to_color(np.zeros((2, 2, 2)), max_flow=bad)


@pytest.mark.parametrize("bad", ["1", True, [1.0]])
def test_bad_max_flow_type(bad):
    with pytest.raises(TypeError, match="max_flow must be a real number or None"):
        flow_to_color(np.zeros((2, 2, 2)), max_flow=bad)


def test_flow_to_color_bad_shape():
    with pytest.raises(ValueError, match=r"got \(4, 4, 2\); an \(H, W, 2\) array"):
        flow_to_color(np.zeros((4, 4, 2)))
