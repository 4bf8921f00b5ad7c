"""Tests of sktvnet.datasets: the synthetic warped pairs, the flow pairs made of crops and the
stereo motorcycle pair."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import data, transform

from sktvnet import _core
from sktvnet.datasets import (
    FLOW_TEST_IMAGES,
    FLOW_TRAIN_IMAGES,
    SYNTHETIC_IMAGES,
    load_stereo_motorcycle,
    make_flow_pairs,
    make_synthetic_pair,
)


def _warp(image, flow):
    height, width = image.shape
    y, x = np.mgrid[0:height, 0:width]
    return ndimage.map_coordinates(image, [y + flow[1], x + flow[0]], order=3, mode="nearest")


# ------------------------------------------------------------------------------ synthetic pairs
def test_default_pair_shapes_and_defining_identity():
    image0, image1, flow = make_synthetic_pair()
    assert image0.shape == image1.shape == (240, 320) and flow.shape == (2, 240, 320)
    assert image0.dtype == image1.dtype == flow.dtype == np.float64
    # image0(x) = image1(x + w(x)), exactly as computed by the caller.
    np.testing.assert_array_equal(image0, _warp(image1, flow))


def test_default_flow_is_the_sine_field():
    _, _, flow = make_synthetic_pair(frame_shape=(48, 64))
    y, x = np.mgrid[0:48, 0:64]
    np.testing.assert_allclose(flow[0], 2 + 1.5 * np.sin(2 * np.pi * y / 48), atol=1e-15)
    np.testing.assert_allclose(flow[1], -1 + np.cos(2 * np.pi * x / 64), atol=1e-15)


def test_image1_is_the_resized_camera_image():
    _, image1, _ = make_synthetic_pair("camera", (120, 160))
    expected = transform.resize(data.camera(), (120, 160))
    np.testing.assert_allclose(image1, expected, atol=1e-12)
    assert 0.0 <= image1.min() and image1.max() <= 1.0


def test_warp_moves_content_by_the_flow():
    """A constant flow (3, -2) is a pure shift: image0[y, x] = image1[y - 2, x + 3] inside."""
    flow = np.stack([np.full((40, 50), 3.0), np.full((40, 50), -2.0)])
    image0, image1, out = make_synthetic_pair("brick", (40, 50), flow=flow)
    np.testing.assert_array_equal(out, flow)
    np.testing.assert_allclose(image0[2:, :-3], image1[:-2, 3:], atol=1e-12)


def test_colour_image_uses_rec601_weights():
    _, image1, _ = make_synthetic_pair("astronaut", None)
    rgb = data.astronaut() / 255.0
    np.testing.assert_allclose(image1, rgb @ np.asarray(_core.LUMA_RGB), atol=1e-12)
    assert image1.shape == (512, 512)


@pytest.mark.parametrize("name", SYNTHETIC_IMAGES)
def test_every_bundled_image_loads(name):
    image0, image1, flow = make_synthetic_pair(name, (32, 40), dtype=np.float32)
    assert image1.shape == (32, 40) and image1.dtype == np.float32
    assert np.isfinite(image0).all()
    assert 0.0 <= image1.min() and image1.max() <= 1.0 and image1.std() > 0


def test_array_image():
    image = np.linspace(0, 1, 30 * 40).reshape(30, 40)
    image0, image1, flow = make_synthetic_pair(image, None)
    np.testing.assert_array_equal(image1, image)
    np.testing.assert_array_equal(image0, _warp(image1, flow))
    _, from_uint8, _ = make_synthetic_pair(np.full((8, 8), 255, dtype=np.uint8), None)
    np.testing.assert_array_equal(from_uint8, 1.0)


def test_float32_pair_keeps_the_identity():
    image0, image1, flow = make_synthetic_pair(frame_shape=(40, 60), dtype=np.float32)
    assert image0.dtype == image1.dtype == flow.dtype == np.float32
    warped = _warp(image1.astype(np.float64), flow.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(image0, warped)


def test_random_flow_is_seeded_smooth_and_scaled():
    _, _, flow_a = make_synthetic_pair(frame_shape=(60, 80), flow="random", random_state=3)
    _, _, flow_b = make_synthetic_pair(frame_shape=(60, 80), flow="random", random_state=3)
    _, _, flow_c = make_synthetic_pair(frame_shape=(60, 80), flow="random", random_state=4)
    np.testing.assert_array_equal(flow_a, flow_b)
    assert not np.allclose(flow_a, flow_c)
    assert np.hypot(flow_a[0], flow_a[1]).max() == pytest.approx(5.0)  # default max_displacement
    # Smooth: at most 1.5 cycles per image of a <= 5 px field moves < 1 px between neighbours.
    assert np.abs(np.diff(flow_a, axis=1)).max() < 1.0
    assert np.abs(np.diff(flow_a, axis=2)).max() < 1.0
    assert flow_a[0].std() > 0.1 and flow_a[1].std() > 0.1


def test_random_flow_accepts_a_random_state_instance():
    _, _, expected = make_synthetic_pair(frame_shape=(20, 20), flow="random", random_state=7)
    rng = np.random.RandomState(7)
    _, _, flow = make_synthetic_pair(frame_shape=(20, 20), flow="random", random_state=rng)
    np.testing.assert_array_equal(flow, expected)


def test_max_displacement_scales_any_field():
    _, _, sine = make_synthetic_pair(frame_shape=(30, 40))
    _, _, scaled = make_synthetic_pair(frame_shape=(30, 40), max_displacement=1.0)
    assert np.hypot(scaled[0], scaled[1]).max() == pytest.approx(1.0)
    np.testing.assert_allclose(scaled, sine / np.hypot(sine[0], sine[1]).max(), atol=1e-15)
    _, _, random = make_synthetic_pair(
        frame_shape=(30, 40), flow="random", max_displacement=12, random_state=0
    )
    assert np.hypot(random[0], random[1]).max() == pytest.approx(12.0)


def test_zero_flow_gives_identical_frames():
    zero = np.zeros((2, 24, 24))
    image0, image1, _ = make_synthetic_pair("moon", (24, 24), flow=zero, max_displacement=3)
    np.testing.assert_allclose(image0, image1, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(image="lena"), ValueError, r"image must be one of astronaut, .* got 'lena'"),
        (dict(image=np.zeros((8, 8, 4))), ValueError, r"\(H, W, 3\), got shape \(8, 8, 4\)"),
        (dict(image=np.zeros((8, 8), dtype=bool)), TypeError, "real numbers, got dtype bool"),
        (dict(image=np.full((8, 8), np.nan)), ValueError, "image contains NaN or infinite values"),
        (dict(frame_shape=(2, 30)), ValueError, r"frame_shape must be at least \(4, 4\), got \(2, 30\)"),
        (dict(frame_shape=(20.0, 30)), TypeError, r"pair of integers \(H, W\) or None, got \(20.0, 30\)"),
        (dict(frame_shape=(20, 30, 3)), TypeError, "frame_shape must be a pair of integers"),
        (dict(flow="zero"), ValueError, "flow must be 'sine', 'random' or an array, got 'zero'"),
        (dict(flow=np.zeros((2, 5, 5))), ValueError, r"shape \(2, 240, 320\) .* got \(2, 5, 5\)"),
        (dict(flow=np.full((2, 240, 320), np.inf)), ValueError, "flow must hold finite values"),
        (dict(flow=np.zeros((2, 240, 320), dtype=complex)), TypeError, "got dtype complex128"),
        (dict(max_displacement=0), ValueError, "max_displacement must be > 0.0, got 0.0"),
        (dict(max_displacement="5"), TypeError, "max_displacement must be a real number"),
        (dict(dtype=np.int32), TypeError, "numpy.float32 or numpy.float64, got int32"),
    ],
)
def test_validation(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_synthetic_pair(**kwargs)


# --------------------------------------------------------------------------- stereo motorcycle
@pytest.fixture(scope="module")
def motorcycle():
    return load_stereo_motorcycle()


def test_motorcycle_shapes_and_types(motorcycle):
    image0, image1, flow, valid = motorcycle
    assert image0.shape == image1.shape == (500, 741, 3)
    assert image0.dtype == image1.dtype == np.uint8
    assert flow.shape == (2, 500, 741) and flow.dtype == np.float32
    assert valid.shape == (500, 741) and valid.dtype == np.bool_


def test_motorcycle_flow_is_minus_disparity(motorcycle):
    left, right, flow, valid = motorcycle
    _, _, disparity = data.stereo_motorcycle()
    np.testing.assert_array_equal(valid, np.isfinite(disparity))
    np.testing.assert_array_equal(flow[0][valid], -disparity[valid])
    assert (flow[0][~valid] == 0).all() and (flow[1] == 0).all()
    assert 0.05 < 1 - valid.mean() < 0.10  # about 7% unknown
    assert -61 < flow[0][valid].min() and flow[0][valid].max() < -5  # leftward, up to ~60 px


def test_motorcycle_flow_points_to_matching_pixels(motorcycle):
    """Sampling the right image at x + u reproduces the left image much better than no motion."""
    left, right, flow, valid = motorcycle
    grey0 = left.astype(np.float64) @ np.asarray(_core.LUMA_RGB)
    grey1 = right.astype(np.float64) @ np.asarray(_core.LUMA_RGB)
    rows, cols = np.mgrid[0:500, 0:741]
    coords = [rows + flow[1], cols + flow[0]]
    warped = ndimage.map_coordinates(grey1, coords, order=1, mode="nearest")
    error_with_flow = np.abs(warped - grey0)[valid].mean()
    error_without = np.abs(grey1 - grey0)[valid].mean()
    assert error_with_flow < 0.3 * error_without


# --------------------------------------------------------------------------------- flow pairs
def test_train_and_test_images_are_disjoint_bundled_images():
    assert not set(FLOW_TRAIN_IMAGES) & set(FLOW_TEST_IMAGES)
    assert set(FLOW_TRAIN_IMAGES) | set(FLOW_TEST_IMAGES) <= set(SYNTHETIC_IMAGES)
    assert len(FLOW_TRAIN_IMAGES) >= 6 and len(FLOW_TEST_IMAGES) >= 6


@pytest.mark.parametrize("images", ["train", "test"])
def test_flow_pairs_shapes_types_ranges(images):
    X, y = make_flow_pairs(6, frame_shape=(40, 56), max_displacement=3.0, images=images, random_state=0)
    assert X.shape == (6, 2, 40, 56) and y.shape == (6, 1, 2, 40, 56)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert X.std(axis=(2, 3)).min() >= 0.04  # textured crops, not flat sky
    magnitude = np.hypot(y[:, 0, 0], y[:, 0, 1])
    assert magnitude.max() <= 3.0 and magnitude.max() >= 0.5


@pytest.mark.parametrize("motion", ["smooth", "affine", "shift", "mixed"])
def test_flow_pairs_follow_the_flow_convention(motion):
    """I0(x) = I1(x + w(x)): sampling I1 at x + w gives I0 away from the border (the pair was
    warped from a larger crop, so only spline prefiltering near the border differs)."""
    X, y = make_flow_pairs(4, frame_shape=(64, 64), motion=motion, random_state=1)
    inner = (slice(8, -8), slice(8, -8))
    for (image0, image1), (flow,) in zip(X, y):
        warped = _warp(image1.astype(np.float64), flow.astype(np.float64))
        error = np.abs(warped - image0)[inner].mean()
        still = np.abs(image1 - image0)[inner].mean()
        assert error <= 0.01
        if np.hypot(*flow).max() > 0.5:
            assert error <= 0.3 * still


def test_flow_pairs_motion_kinds():
    _, shift = make_flow_pairs(3, frame_shape=(24, 32), motion="shift", random_state=0)
    assert np.ptp(shift, axis=(3, 4)).max() == 0  # constant fields
    _, affine = make_flow_pairs(3, frame_shape=(24, 32), motion="affine", random_state=0)
    rows, cols = np.mgrid[0:24, 0:32]
    design = np.stack([np.ones(24 * 32), rows.ravel(), cols.ravel()], 1)
    for field in affine[:, 0].reshape(3, 2, -1).astype(np.float64):
        residual = field.T - design @ np.linalg.lstsq(design, field.T, rcond=None)[0]
        assert np.abs(residual).max() <= 1e-5  # linear in x and y
        assert np.ptp(field, axis=1).max() > 1e-3  # and not a plain shift
    _, smooth = make_flow_pairs(3, frame_shape=(24, 32), motion="smooth", random_state=0)
    curvature = np.abs(np.diff(smooth[:, 0].astype(np.float64), 2, axis=-1)).max()
    assert curvature > 1e-4  # neither constant nor affine
    assert np.abs(np.diff(smooth, axis=-1)).max() <= 0.5  # but smooth


def test_flow_pairs_are_deterministic_with_random_state():
    first = make_flow_pairs(3, frame_shape=(16, 16), random_state=7)
    again = make_flow_pairs(3, frame_shape=(16, 16), random_state=np.random.RandomState(7))
    other = make_flow_pairs(3, frame_shape=(16, 16), random_state=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])


def test_flow_pairs_from_named_images():
    X, _ = make_flow_pairs(2, frame_shape=(16, 16), images=["text"], max_displacement=1.0,
                           random_state=0)
    # text is dark letters on a light page: the crops are mostly light.
    assert float(np.median(X)) > 0.5


def test_brightness_and_noise_change_the_frames_not_the_flow():
    clean_X, clean_y = make_flow_pairs(1, frame_shape=(48, 48), random_state=3)
    X, y = make_flow_pairs(1, frame_shape=(48, 48), brightness=0.3, random_state=3)
    np.testing.assert_array_equal(y, clean_y)
    np.testing.assert_array_equal(X[0, 1], clean_X[0, 1])  # I1 untouched
    gain = np.polyfit(clean_X[0, 0].ravel(), X[0, 0].ravel(), 1)[0]
    assert 0.7 <= gain <= 1.3 and abs(gain - 1) > 1e-3
    noisy_X, noisy_y = make_flow_pairs(1, frame_shape=(48, 48), noise=0.02, random_state=3)
    np.testing.assert_array_equal(noisy_y, clean_y)
    difference = (noisy_X - clean_X)[(clean_X > 0.1) & (clean_X < 0.9)]
    assert 0.016 <= difference.std() <= 0.024


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_pairs=0), ValueError, "n_pairs must be >= 1, got 0"),
        (dict(n_pairs=2.0), TypeError, "n_pairs must be an integer"),
        (dict(frame_shape=(2, 30)), ValueError, r"frame_shape must be at least \(4, 4\), got \(2, 30\)"),
        (dict(frame_shape=64), TypeError, "frame_shape must be a pair of integers \\(H, W\\), got 64"),
        (dict(max_displacement=0), ValueError, "max_displacement must be > 0.0, got 0.0"),
        (dict(motion="zoom"), ValueError, "motion must be one of 'mixed', 'smooth', .* got 'zoom'"),
        (dict(images="val"), ValueError, "images must be 'train', 'test' or a list.*got 'val'"),
        (dict(images=[]), TypeError, "non-empty list of names, got \\[\\]"),
        (dict(images=["lena"]), ValueError, "image must be one of astronaut, .* got 'lena'"),
        (dict(images=[3]), TypeError, "images must hold image names, got int 3"),
        (dict(brightness=-0.1), ValueError, "brightness must be >= 0.0, got -0.1"),
        (dict(noise=float("nan")), ValueError, "noise must be finite"),
    ],
)
def test_flow_pairs_validation(kwargs, error, message):
    kwargs = {"n_pairs": 1, **kwargs}
    with pytest.raises(error, match=message):
        make_flow_pairs(kwargs.pop("n_pairs"), **kwargs)
