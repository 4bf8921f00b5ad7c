"""Tests of the NumPy reference TV-L1 (sktvnet.reference) and the shared helpers in sktvnet._core."""

import warnings

import numpy as np
import pytest
from scipy import ndimage
from skimage import data, transform
from skimage.registration import optical_flow_tvl1

from sktvnet import _core, reference, tvl1_optical_flow


def _warped_pair(shape=(120, 160), image=None):
    """image0(x) = image1(x + w) exactly, for the smooth field of the issue."""
    image1 = transform.resize(data.camera() if image is None else image, shape)
    height, width = shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u = 2 + 1.5 * np.sin(2 * np.pi * y / height)
    v = -1 + np.cos(2 * np.pi * x / width)
    image0 = ndimage.map_coordinates(image1, [y + v, x + u], order=3)
    return image0, image1, np.stack([u, v])


def _epe(flow, truth, mask=None):
    err = np.hypot(flow[0] - truth[0], flow[1] - truth[1])
    return err.mean() if mask is None else err[mask].mean()


# ------------------------------------------------------------------ finite differences (Eq. 3-5)
IMAGE = np.array([[1.0, 2.0, 4.0, 7.0], [0.0, 3.0, 3.0, 1.0], [5.0, 5.0, 2.0, 0.0]])


def test_centered_gradient_hand_computed():
    dx, dy = reference._centered_gradient(IMAGE)
    expected_dx = np.array([
        [0.5 * (2 - 1), 0.5 * (4 - 1), 0.5 * (7 - 2), 0.5 * (7 - 4)],
        [0.5 * (3 - 0), 0.5 * (3 - 0), 0.5 * (1 - 3), 0.5 * (1 - 3)],
        [0.5 * (5 - 5), 0.5 * (2 - 5), 0.5 * (0 - 5), 0.5 * (0 - 2)],
    ])
    expected_dy = np.array([
        [0.5 * (0 - 1), 0.5 * (3 - 2), 0.5 * (3 - 4), 0.5 * (1 - 7)],
        [0.5 * (5 - 1), 0.5 * (5 - 2), 0.5 * (2 - 4), 0.5 * (0 - 7)],
        [0.5 * (5 - 0), 0.5 * (5 - 3), 0.5 * (2 - 3), 0.5 * (0 - 1)],
    ])
    np.testing.assert_array_equal(dx, expected_dx)
    np.testing.assert_array_equal(dy, expected_dy)


def test_forward_gradient_hand_computed():
    gx = np.empty_like(IMAGE)
    gy = np.empty_like(IMAGE)
    reference._forward_gradient(IMAGE, gx, gy)
    np.testing.assert_array_equal(gx, [[1, 2, 3, 0], [3, 0, -2, 0], [0, -3, -2, 0]])
    np.testing.assert_array_equal(gy, [[-1, 1, -1, -6], [5, 2, -1, -1], [0, 0, 0, 0]])


def test_divergence_hand_computed():
    px = np.array([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 9.0]])
    py = np.array([[1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0]])
    div = np.empty_like(px)
    reference._divergence(px, py, div)
    # x part: p[0] on the first column, p[j] - p[j-1] inside, -p[W-2] on the last column.
    # y part: p[0] on the first row, -p[H-2] on the last row.
    expected = np.array([
        [1 + 1, 2 - 1 + 2, 3 - 2 + 3, -3 + 4],
        [4 - 1, 5 - 4 - 2, 6 - 5 - 3, -6 - 4],
    ])
    np.testing.assert_array_equal(div, expected)


def test_divergence_is_minus_adjoint_of_forward_gradient(rng):
    u = rng.standard_normal((7, 9))
    px, py = rng.standard_normal((2, 7, 9))
    px[:, -1] = 0  # the dual field lives where the forward gradient does
    py[-1, :] = 0
    gx = np.empty_like(u)
    gy = np.empty_like(u)
    reference._forward_gradient(u, gx, gy)
    div = np.empty_like(u)
    reference._divergence(px, py, div)
    assert np.vdot(gx, px) + np.vdot(gy, py) == pytest.approx(-np.vdot(u, div), rel=1e-12)


# ------------------------------------------------------------------ interpolation
def test_bicubic_hand_computed_value():
    # Catmull-Rom between samples 1 and 8 of (0, 1, 8, 27) at t = 0.5:
    # v1 + t/2 (v2 - v0 + t (2 v0 - 5 v1 + 4 v2 - v3 + t (3 (v1 - v2) + v3 - v0))) = 3.375
    row = np.array([[0.0, 1.0, 8.0, 27.0]])
    out = reference._interpolate(row[None], np.array([1.5]), np.array([0.0]), "bicubic")
    assert out[0, 0] == pytest.approx(3.375, abs=1e-12)
    # t = 0.25: weights (-0.0703125, 0.8671875, 0.2265625, -0.0234375)
    out = reference._interpolate(row[None], np.array([1.25]), np.array([0.0]), "bicubic")
    assert out[0, 0] == pytest.approx(0.8671875 + 8 * 0.2265625 - 27 * 0.0234375, abs=1e-12)


@pytest.mark.parametrize("method", ["bicubic", "bilinear"])
def test_interpolation_reproduces_samples_and_linear_ramps(method, rng):
    image = rng.random((1, 6, 7))
    y, x = np.mgrid[0:6, 0:7].astype(float)
    np.testing.assert_allclose(reference._interpolate(image, x, y, method), image, atol=1e-12)
    ramp = (2 * x + 3 * y)[None]
    xs, ys = np.array([1.3, 2.7, 4.5]), np.array([2.2, 1.9, 3.5])
    np.testing.assert_allclose(
        reference._interpolate(ramp, xs, ys, method)[0], 2 * xs + 3 * ys, atol=1e-12
    )


def test_bilinear_hand_computed_and_border_clamp():
    image = np.array([[[0.0, 10.0], [20.0, 30.0]]])
    out = reference._interpolate(image, np.array([0.25, -3.0, 5.0]), np.array([0.5, 0.0, 1.0]), "bilinear")
    # (0.25, 0.5): 0.5*(0.75*0 + 0.25*10) + 0.5*(0.75*20 + 0.25*30) = 12.5; outside: nearest border
    np.testing.assert_allclose(out[0], [12.5, 0.0, 30.0])


# ------------------------------------------------------------------ pyramid pieces
def test_gaussian_kernel_ipol_window():
    kernel = _core.gaussian_kernel1d(0.8)
    assert kernel.size == 2 * int(5 * 0.8) + 1
    assert kernel.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(kernel, kernel[::-1])


def test_mirror_indices():
    np.testing.assert_array_equal(_core.mirror_indices(4, 2), [2, 1, 0, 1, 2, 3, 2, 1])
    np.testing.assert_array_equal(_core.mirror_indices(2, 3), [1, 0, 1, 0, 1, 0, 1, 0])


def test_pyramid_shapes_follow_ipol_cap():
    assert _core.pyramid_shapes(240, 320, None, 0.5) == [
        (240, 320), (120, 160), (60, 80), (30, 40), (15, 20)]
    assert len(_core.pyramid_shapes(500, 741, None, 0.5)) == 6
    assert len(_core.pyramid_shapes(500, 741, 3, 0.5)) == 3
    assert _core.pyramid_shapes(8, 8, 5, 0.5) == [(8, 8)]
    assert _core.zoom_size(5, 7, 0.5) == (3, 4)


def test_blur_preserves_constants_and_mean(rng):
    image = np.full((9, 11), 3.0)
    np.testing.assert_allclose(reference._gaussian_blur(image, 1.2), image)
    noise = rng.random((30, 40))
    assert reference._gaussian_blur(noise, 0.8).std() < noise.std()


# ------------------------------------------------------------------ the solver
def test_identical_frames_give_exactly_zero_flow(rng):
    image = ndimage.gaussian_filter(rng.random((48, 64)), 2)
    flow = tvl1_optical_flow(image, image)
    assert flow.shape == (2, 48, 64)
    assert not flow.any()


def test_subnormal_contrast_is_scaled_without_overflow():
    image = np.zeros((8, 8), dtype=np.float32)
    image[0, 0] = 1e-44  # the whole range is one subnormal float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = _core.normalize_pair(image, image)
        flow = tvl1_optical_flow(image, image)
    assert high.max() == 255.0 and np.isfinite(low).all()
    assert not flow.any()


def test_constant_image_gives_zero_flow_without_warnings():
    image = np.full((32, 40), 7.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flow = tvl1_optical_flow(image, image + 0.0)
        flow_other = tvl1_optical_flow(image, np.full((32, 40), 9.0))
    assert not flow.any()
    assert not flow_other.any()


def test_synthetic_pair_accuracy_beats_scikit_image():
    image0, image1, truth = _warped_pair()
    flow = tvl1_optical_flow(image0, image1)
    epe = _epe(flow, truth)
    skimage_flow = optical_flow_tvl1(image0, image1)[::-1]  # scikit-image returns (v, u)
    assert epe < 0.25
    assert epe < 0.9 * _epe(skimage_flow, truth)


def test_bilinear_mode_close_to_bicubic():
    image0, image1, truth = _warped_pair()
    bicubic = _epe(tvl1_optical_flow(image0, image1), truth)
    bilinear = _epe(tvl1_optical_flow(image0, image1, interpolation="bilinear"), truth)
    assert bilinear < 1.3 * bicubic


def test_translation_of_textured_image_recovered(rng):
    texture = ndimage.gaussian_filter(rng.random((80, 90)), 1.5)
    image0 = ndimage.shift(texture, (1.0, -2.0), order=3, mode="nearest")  # w = (2, -1)
    flow = tvl1_optical_flow(image0, texture)
    inner = flow[:, 10:-10, 10:-10]
    assert np.median(inner[0]) == pytest.approx(2.0, abs=0.05)
    assert np.median(inner[1]) == pytest.approx(-1.0, abs=0.05)


@pytest.mark.slow
def test_stereo_motorcycle_full_size():
    left, right, disparity = data.stereo_motorcycle()
    valid = np.isfinite(disparity)
    truth = np.stack([-np.where(valid, disparity, 0), np.zeros_like(disparity)])
    flow = tvl1_optical_flow(left, right)
    assert _epe(flow, truth, valid) <= 3.9


def test_dtype_follows_input(rng):
    image = rng.random((20, 24))
    assert tvl1_optical_flow(image, image).dtype == np.float64
    assert tvl1_optical_flow(image.astype(np.float32), image.astype(np.float32)).dtype == np.float32
    as_uint8 = (image * 255).astype(np.uint8)
    assert tvl1_optical_flow(as_uint8, as_uint8).dtype == np.float32


def test_colour_input_is_converted_with_luma_weights(rng):
    colour0 = ndimage.gaussian_filter(rng.random((40, 48, 3)), (2, 2, 0))
    colour1 = np.roll(colour0, 1, axis=1)
    grey0 = colour0 @ np.array(_core.LUMA_RGB)
    grey1 = colour1 @ np.array(_core.LUMA_RGB)
    np.testing.assert_allclose(
        tvl1_optical_flow(colour0, colour1), tvl1_optical_flow(grey0, grey1), atol=1e-10
    )


def test_huge_tol_is_one_iteration_per_warp():
    image0, image1, _ = _warped_pair((40, 48))
    np.testing.assert_array_equal(
        tvl1_optical_flow(image0, image1, tol=1e6), tvl1_optical_flow(image0, image1, n_iters=1)
    )


def test_zero_tol_runs_every_iteration():
    image0, image1, _ = _warped_pair((40, 48))
    full = tvl1_optical_flow(image0, image1, tol=0, n_iters=40)
    early = tvl1_optical_flow(image0, image1, tol=0.5, n_iters=40)
    assert np.abs(full - early).max() > 1e-6


def test_flow0_at_the_solution_stays_close(rng):
    image0, image1, truth = _warped_pair((60, 80))
    flow = tvl1_optical_flow(image0, image1, u0=truth, n_scales=1, n_warps=1, n_iters=5)
    zero_start = tvl1_optical_flow(image0, image1, n_scales=1, n_warps=1, n_iters=5)
    assert _epe(flow, truth) < 0.5 * _epe(zero_start, truth)


# ------------------------------------------------------------------ validation
GOOD = np.zeros((20, 24))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"tau": 0.0}, ValueError, "tau must be > 0"),
        ({"tau": 0.3}, ValueError, "tau must be <= 0.25"),
        ({"tau": "0.1"}, TypeError, "tau must be a real number"),
        ({"lmbda": -1.0}, ValueError, "lmbda must be > 0"),
        ({"theta": 0}, ValueError, "theta must be > 0"),
        ({"theta": float("nan")}, ValueError, "theta must be finite"),
        ({"zoom_factor": 1.0}, ValueError, "zoom_factor must be < 1"),
        ({"zoom_factor": 0.0}, ValueError, "zoom_factor must be > 0"),
        ({"n_scales": 0}, ValueError, "n_scales must be >= 1"),
        ({"n_warps": 2.5}, TypeError, "n_warps must be an integer"),
        ({"n_iters": True}, TypeError, "n_iters must be an integer"),
        ({"tol": -0.1}, ValueError, "tol must be >= 0"),
        ({"interpolation": "nearest"}, ValueError, "interpolation must be 'bicubic' or 'bilinear'"),
        ({"u0": np.zeros((2, 20, 25))}, ValueError, r"u0 must have shape \(2, 20, 24\)"),
        ({"u0": np.full((2, 20, 24), np.nan)}, ValueError, "u0 must hold finite"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        tvl1_optical_flow(GOOD, GOOD, **kwargs)


@pytest.mark.parametrize(
    "image0, image1, error, match",
    [
        (np.zeros((20, 24)), np.zeros((20, 23)), ValueError,
         r"same shape, got \(20, 24\) and \(20, 23\)"),
        (np.full((20, 24), np.inf), GOOD, ValueError, "image0 contains NaN or infinite"),
        (GOOD, np.full((20, 24), np.nan), ValueError, "image1 contains NaN or infinite"),
        (np.zeros((2, 20, 24)), GOOD, ValueError, r"image0 must be a grey image.*got shape \(2, 20, 24\)"),
        (np.zeros((20, 24, 4)), GOOD, ValueError, "colour image"),
        (np.zeros(24), np.zeros(24), ValueError, "must be a grey image"),
        (np.zeros((3, 24)), np.zeros((3, 24)), ValueError, "at least 4x4 pixels"),
        (np.zeros((20, 24), dtype=complex), GOOD, TypeError, "image0 must hold real numbers"),
        (np.zeros((20, 24), dtype=bool), GOOD, TypeError, "must hold real numbers"),
        (GOOD, np.zeros((20, 24), dtype=object), TypeError, "image1 must hold real numbers"),
    ],
)
def test_bad_images(image0, image1, error, match):
    with pytest.raises(error, match=match):
        tvl1_optical_flow(image0, image1)


# ------------------------------------------------------------------ preset="opencv", median_filter
def _uint8_pair(shape=(64, 80)):
    image0, image1, truth = _warped_pair(shape)
    return (np.rint(image0 * 255).astype(np.uint8), np.rint(image1 * 255).astype(np.uint8),
            truth)


def test_opencv_cubic_weights_hand_computed():
    # Keys' cubic with a = -0.75 at t = 0.5: (-0.09375, 0.59375, 0.59375, -0.09375); t = 0 is
    # the sample itself.
    np.testing.assert_allclose(_core.opencv_cubic_weights(0.5),
                               (-0.09375, 0.59375, 0.59375, -0.09375), atol=1e-12)
    np.testing.assert_allclose(_core.opencv_cubic_weights(0.0), (0, 1, 0, 0), atol=1e-12)


def test_opencv_pyramid_shapes_round_and_drop_small_levels():
    assert _core.opencv_pyramid_shapes(240, 320, 5, 0.8) == [
        (240, 320), (192, 256), (154, 205), (123, 164), (98, 131)]
    # 20 * 0.8 = 16 stays, 16 * 0.8 = 12.8 -> 13 < 16 is dropped.
    assert _core.opencv_pyramid_shapes(20, 100, 5, 0.8) == [(20, 100), (16, 80)]


def test_resize_centered_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(0).random((37, 50)).astype(np.float32)
    by_factor = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    ours = reference._resize_centered(image[None], by_factor.shape, 1 / 0.8)[0]
    np.testing.assert_allclose(ours, by_factor, atol=1e-5)
    to_size = cv2.resize(by_factor, (50, 37), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(reference._resize_centered(by_factor[None], (37, 50))[0],
                               to_size, atol=1e-5)


def test_zero_border_cubic_matches_opencv_remap():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    image = rng.random((30, 40)).astype(np.float32)
    rows, cols = np.mgrid[0:30, 0:40].astype(np.float32)
    x = cols + rng.normal(0, 3, cols.shape).astype(np.float32)
    y = rows + rng.normal(0, 3, rows.shape).astype(np.float32)
    expected = cv2.remap(image, x, y, cv2.INTER_CUBIC)  # BORDER_CONSTANT 0 by default
    ours = reference._interpolate(image[None], x, y, "opencv-bicubic", zero_border=True)[0]
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_opencv_preset_reproduces_opencv_dualtvl1():
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "optflow"):
        pytest.skip("OpenCV without the contrib modules (cv2.optflow)")
    image0, image1, _ = _uint8_pair()
    expected = cv2.optflow.DualTVL1OpticalFlow_create().calc(image0, image1, None)
    flow = tvl1_optical_flow(image0, image1, preset="opencv")
    diff = np.hypot(*(flow - expected.transpose(2, 0, 1)))
    assert diff.mean() < 0.05
    # IPOL's method differs from OpenCV's by more: the preset is what brings them together.
    ipol = tvl1_optical_flow(image0, image1)
    assert np.hypot(*(ipol - expected.transpose(2, 0, 1))).mean() > 2 * diff.mean()


def test_opencv_preset_sets_only_what_is_left_unset():
    image0, image1, _ = _uint8_pair((40, 48))
    fast = dict(n_warps=1, n_iters=40)
    preset = tvl1_optical_flow(image0, image1, preset="opencv", **fast)
    explicit = tvl1_optical_flow(image0, image1, preset="opencv", n_scales=5, zoom_factor=0.8,
                                 median_filter=5, **fast)
    np.testing.assert_array_equal(preset, explicit)
    unfiltered = tvl1_optical_flow(image0, image1, preset="opencv", median_filter=0, **fast)
    assert np.abs(unfiltered - preset).max() > 1e-3


def test_opencv_preset_scales_frames_as_opencv():
    image0, image1, _ = _uint8_pair((40, 48))
    fast = dict(n_warps=1, n_iters=20)
    grey = tvl1_optical_flow(image0, image1, preset="opencv", **fast)
    # Floats in [0, 1] are multiplied by 255, as OpenCV does with CV_32F frames.
    floats = tvl1_optical_flow(image0 / 255.0, image1 / 255.0, preset="opencv", **fast)
    np.testing.assert_allclose(floats, grey, atol=1e-3)  # float64 against float32
    # Integers keep their scale (no joint scaling to [0, 255]): halving the contrast halves
    # lambda's weight, which changes the flow.
    halved = tvl1_optical_flow(image0 // 2, image1 // 2, preset="opencv", **fast)
    assert np.abs(halved - grey).max() > 1e-3
    # Colour becomes grey rounded to integers, as cv2.cvtColor gives uint8.
    rgb0 = np.stack([image0, image0 // 2, image0 // 3], axis=-1)
    rgb1 = np.stack([image1, image1 // 2, image1 // 3], axis=-1)
    luma = np.asarray(_core.LUMA_RGB)
    expected = tvl1_optical_flow(np.rint(rgb0 @ luma).astype(np.uint8),
                                 np.rint(rgb1 @ luma).astype(np.uint8), preset="opencv", **fast)
    np.testing.assert_allclose(tvl1_optical_flow(rgb0, rgb1, preset="opencv", **fast), expected,
                               atol=1e-5)


def test_median_filter_keeps_zero_flow_and_accuracy(rng):
    image = ndimage.gaussian_filter(rng.random((48, 56)), 1.5)
    np.testing.assert_array_equal(tvl1_optical_flow(image, image, median_filter=5), 0)
    image0, image1, truth = _warped_pair((64, 80))
    filtered = _epe(tvl1_optical_flow(image0, image1, median_filter=5), truth)
    assert filtered < 1.1 * _epe(tvl1_optical_flow(image0, image1), truth)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(median_filter=4), ValueError, "odd window side"),
    (dict(median_filter=1), ValueError, "odd window side"),
    (dict(median_filter=-3), ValueError, "median_filter must be >= 0"),
    (dict(median_filter=2.0), TypeError, "median_filter must be an integer"),
    (dict(preset="OpenCV"), ValueError, "preset must be None or one of 'opencv'"),
])
def test_bad_median_filter_and_preset(kwargs, error, match):
    image = np.zeros((16, 16))
    with pytest.raises(error, match=match):
        tvl1_optical_flow(image, image, **kwargs)
