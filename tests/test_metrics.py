"""Tests of sktvnet.metrics: endpoint and angular error."""

import numpy as np
import pytest

from sktvnet.metrics import angular_error, endpoint_error

METRICS = [endpoint_error, angular_error]


def _flows(shape=(3, 4)):
    """An estimate and a ground truth differing at two pixels by hand-checkable vectors."""
    truth = np.zeros((2,) + shape)
    flow = np.zeros((2,) + shape)
    flow[:, 0, 0] = (3.0, 4.0)  # EPE 5
    flow[:, 1, 2] = (0.0, -1.0)  # EPE 1, AE 45 degrees
    return flow, truth


# ------------------------------------------------------------------------------- endpoint error
def test_endpoint_error_hand_computed():
    flow, truth = _flows()
    assert endpoint_error(flow, truth) == pytest.approx(6.0 / 12)
    expected = np.zeros((3, 4))
    expected[0, 0] = 5.0
    expected[1, 2] = 1.0
    np.testing.assert_array_equal(endpoint_error(flow, truth, reduce=False), expected)


def test_endpoint_error_is_symmetric_and_zero_on_identity(rng):
    a = rng.normal(size=(2, 5, 6))
    b = rng.normal(size=(2, 5, 6))
    assert endpoint_error(a, b) == pytest.approx(endpoint_error(b, a))
    assert endpoint_error(a, a) == 0.0
    np.testing.assert_allclose(
        endpoint_error(a, b, reduce=False), np.sqrt(((a - b) ** 2).sum(axis=0)), rtol=1e-12
    )


def test_endpoint_error_mask_selects_pixels():
    flow, truth = _flows()
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 0] = True
    mask[2, 3] = True
    assert endpoint_error(flow, truth, mask) == pytest.approx(2.5)  # (5 + 0) / 2
    per_pixel = endpoint_error(flow, truth, mask, reduce=False)
    assert np.isnan(per_pixel[~mask]).all()
    assert per_pixel[0, 0] == 5.0 and per_pixel[2, 3] == 0.0


def test_mask_broadcasts():
    flow, truth = _flows()
    row_mask = np.array([True, False, False, False])  # (W,): the first column only
    assert endpoint_error(flow, truth, row_mask) == pytest.approx(5.0 / 3)


@pytest.mark.parametrize("unknown", [np.inf, -np.inf, np.nan, 1e10, -2e9])
def test_unknown_ground_truth_is_invalid(unknown):
    flow, truth = _flows()
    truth[0, 0, 0] = unknown  # hides the pixel with error 5
    assert endpoint_error(flow, truth) == pytest.approx(1.0 / 11)
    assert angular_error(flow, truth) == pytest.approx(45.0 / 11)
    assert np.isnan(endpoint_error(flow, truth, reduce=False)[0, 0])


def test_threshold_1e9_itself_is_known():
    flow = np.zeros((2, 1, 1))
    truth = np.full((2, 1, 1), 1e9)
    assert endpoint_error(flow, truth) == pytest.approx(np.sqrt(2) * 1e9)


def test_nonfinite_estimate_gives_nan():
    flow, truth = _flows()
    flow[0, 2, 2] = np.nan
    assert np.isnan(endpoint_error(flow, truth))


def test_batched_flows_average_over_all_pixels():
    flow, truth = _flows()
    batch = np.stack([flow, np.zeros_like(flow)])
    batch_truth = np.stack([truth, truth])
    assert endpoint_error(batch, batch_truth) == pytest.approx(6.0 / 24)
    per_pixel = endpoint_error(batch, batch_truth, reduce=False)
    assert per_pixel.shape == (2, 3, 4)
    assert per_pixel[0, 0, 0] == 5.0 and per_pixel[1].sum() == 0.0
    # An (H, W) mask applies to every pair; an (N, H, W) one per pair.
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 0] = True
    assert endpoint_error(batch, batch_truth, mask) == pytest.approx(2.5)
    per_pair = np.zeros((2, 3, 4), dtype=bool)
    per_pair[0, 0, 0] = True
    assert endpoint_error(batch, batch_truth, per_pair) == pytest.approx(5.0)


def test_integer_and_float32_inputs():
    flow, truth = _flows()
    assert endpoint_error(flow.astype(np.float32), truth.astype(np.int64)) == pytest.approx(0.5)
    assert isinstance(endpoint_error(flow, truth), float)


# --------------------------------------------------------------------------------- angular error
@pytest.mark.parametrize(
    "estimate, truth, expected",
    [
        ((1.0, 0.0), (0.0, 0.0), 45.0),  # arccos(1 / sqrt(2))
        ((0.0, -1.0), (0.0, 0.0), 45.0),
        ((1.0, 0.0), (0.0, 1.0), 60.0),  # arccos(1 / 2)
        ((1.0, 1.0), (-1.0, -1.0), np.degrees(np.arccos(-1.0 / 3.0))),  # (1 - 2) / 3
        ((2.0, 3.0), (2.0, 3.0), 0.0),
        ((0.0, 0.0), (0.0, 0.0), 0.0),
    ],
)
def test_angular_error_hand_computed(estimate, truth, expected):
    flow = np.array(estimate).reshape(2, 1, 1)
    flow_true = np.array(truth).reshape(2, 1, 1)
    assert angular_error(flow, flow_true) == pytest.approx(expected, abs=1e-12)


def test_angular_error_matches_arccos_formula(rng):
    a = rng.normal(scale=3.0, size=(2, 6, 7))
    b = rng.normal(scale=3.0, size=(2, 6, 7))
    cos = (a[0] * b[0] + a[1] * b[1] + 1) / (
        np.sqrt(a[0] ** 2 + a[1] ** 2 + 1) * np.sqrt(b[0] ** 2 + b[1] ** 2 + 1)
    )
    expected = np.degrees(np.arccos(cos))
    np.testing.assert_allclose(angular_error(a, b, reduce=False), expected, atol=1e-9)
    assert angular_error(a, b) == pytest.approx(expected.mean())


def test_angular_error_exactly_zero_for_identical_flows(rng):
    a = rng.normal(scale=50.0, size=(2, 8, 8))
    assert angular_error(a, a) == 0.0


def test_angular_error_mask():
    flow, truth = _flows()
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = True
    assert angular_error(flow, truth, mask) == pytest.approx(45.0)


# ----------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("metric", METRICS)
def test_mismatched_shapes(metric):
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3, 4\) and \(2, 3, 5\)"):
        metric(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("shape", [(3, 4), (3, 3, 4), (1, 1, 2, 3, 4)])
def test_bad_flow_shape(metric, shape):
    with pytest.raises(ValueError, match=r"flow must have shape \(2, H, W\) or \(N, 2, H, W\)"):
        metric(np.zeros(shape), np.zeros((2, 3, 4)))


def test_opencv_layout_gets_a_hint():
    with pytest.raises(ValueError, match=r"got \(3, 4, 2\).*np.moveaxis"):
        endpoint_error(np.zeros((3, 4, 2)), np.zeros((2, 3, 4)))


def test_bad_flow_true_shape_names_flow_true():
    with pytest.raises(ValueError, match=r"flow_true must have shape .* got \(4, 3, 4\)"):
        endpoint_error(np.zeros((2, 3, 4)), np.zeros((4, 3, 4)))


@pytest.mark.parametrize("metric", METRICS)
def test_non_numeric_flow(metric):
    with pytest.raises(TypeError, match="flow must hold real numbers, got dtype complex128"):
        metric(np.zeros((2, 3, 4), dtype=complex), np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="flow_true must hold real numbers, got dtype bool"):
        metric(np.zeros((2, 3, 4)), np.zeros((2, 3, 4), dtype=bool))


@pytest.mark.parametrize("metric", METRICS)
def test_mask_of_wrong_shape(metric):
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 4\) .* got \(4, 3\)"):
        metric(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones((4, 3), dtype=bool))
    # Broadcastable in numpy's sense but larger than the map: still an error.
    with pytest.raises(ValueError, match=r"broadcastable to \(3, 4\), got \(2, 3, 4\)"):
        metric(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones((2, 3, 4), dtype=bool))


@pytest.mark.parametrize("metric", METRICS)
def test_mask_not_boolean(metric):
    with pytest.raises(TypeError, match="mask must be a boolean array .* got dtype int64"):
        metric(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones((3, 4), dtype=np.int64))


@pytest.mark.parametrize("metric", METRICS)
def test_empty_valid_set(metric):
    flow, truth = _flows()
    with pytest.raises(ValueError, match="no valid pixel .* all 12 pixels"):
        metric(flow, truth, np.zeros((3, 4), dtype=bool))
    truth[:] = np.inf
    with pytest.raises(ValueError, match="no valid pixel"):
        metric(flow, truth)
    # The per-pixel map needs no valid pixel: it is all NaN.
    assert np.isnan(metric(flow, truth, reduce=False)).all()


def test_warp_error_is_zero_for_the_true_shift_and_counts_only_pixels_inside():
    from sktvnet.metrics import warp_error

    rng = np.random.default_rng(0)
    image1 = rng.random((12, 15))
    image0 = np.roll(image1, -2, axis=1)          # I0(x) = I1(x + 2) away from the wrap
    flow = np.stack([np.full((12, 15), 2.0), np.zeros((12, 15))])
    # The last two columns move outside the frame and do not count; the wrapped ones would.
    assert warp_error(image0[:, :-2], image1[:, :-2], flow[:, :, :-2]) == 0.0
    assert warp_error(image0, image1, np.zeros_like(flow)) > 0.1
    assert warp_error(255 * image0, 255 * image1, np.zeros_like(flow)) == pytest.approx(
        255 * warp_error(image0, image1, np.zeros_like(flow)))


def test_warp_error_refuses_mismatched_shapes():
    from sktvnet.metrics import warp_error

    with pytest.raises(ValueError, match=r"got \(4, 5\), \(4, 5\) and \(2, 4, 6\)"):
        warp_error(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match="no pixel"):
        warp_error(np.zeros((4, 5)), np.zeros((4, 5)), np.full((2, 4, 5), 100.0))
