"""Tests of the losses (sktvnet.losses): the TV-L1 energy Lf (Eq. 1) and the endpoint error."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch.autograd import gradcheck

from sktvnet import functional as tvf
from sktvnet.losses import endpoint_error, tvl1_energy


def _pair(rng, shape=(24, 30), shift=(0.6, -0.4)):
    """Smooth I1 and I0(x) = I1(x + w) for a constant w = (u, v), with the flow w."""
    height, width = shape
    image1 = ndimage.gaussian_filter(rng.random((height, width)), 2)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image0 = ndimage.map_coordinates(image1, [y + shift[1], x + shift[0]], order=1, mode="nearest")
    flow = np.stack([np.full(shape, shift[0]), np.full(shape, shift[1])])
    as_torch = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    return as_torch(image0), as_torch(image1), torch.from_numpy(flow)[None]


# ------------------------------------------------------------------ tvl1_energy
def test_energy_hand_computed():
    x1 = torch.arange(16.0, dtype=torch.float64).expand(1, 1, 8, 16)  # ramp 0..15 along x
    x0 = x1 + 1.0
    flow = torch.zeros(1, 2, 8, 16, dtype=torch.float64)
    flow[:, 0, :, :8] = 1.0  # right half still: |I1 - I0| = 1 there, a TV jump between halves
    energy = tvl1_energy(flow, x0, x1, lmbda=0.5, eps=1e-200, normalize=False)
    # data: 8 of 16 columns off by 1; TV: |grad u| = 1 on column 7 (of 16), 0 elsewhere
    assert float(energy) == pytest.approx(0.5 * 8 / 16 + 1 / 16, rel=1e-12)


def test_energy_normalisation_is_that_of_the_network():
    rng = np.random.default_rng(0)
    x0, x1 = (torch.from_numpy(rng.random((2, 3, 9, 10))) for _ in range(2))
    flow = torch.from_numpy(rng.standard_normal((2, 2, 9, 10)))
    n0, n1 = tvf.normalize_pair(tvf.to_grey(x0), tvf.to_grey(x1))
    expected = tvl1_energy(flow, n0, n1, normalize=False)
    assert float(tvl1_energy(flow, x0, x1)) == pytest.approx(float(expected), rel=1e-12)
    # invariant to an affine change of the intensities
    rescaled = tvl1_energy(flow, 7 * x0 - 2, 7 * x1 - 2)
    assert float(rescaled) == pytest.approx(float(expected), rel=1e-9)


def test_energy_is_eps_on_still_identical_frames():
    x = torch.rand(2, 1, 6, 7, dtype=torch.float64)
    still = torch.zeros(2, 2, 6, 7, dtype=torch.float64)
    # |grad u1| + |grad u2| = 2 sqrt(eps) where the flow is flat
    assert float(tvl1_energy(still, x, x, eps=1e-10)) == pytest.approx(2e-5, rel=1e-9)


def test_energy_is_lower_at_the_true_flow(rng):
    x0, x1, truth = _pair(rng)
    at_truth = tvl1_energy(truth, x0, x1)
    assert float(at_truth) < 0.5 * float(tvl1_energy(torch.zeros_like(truth), x0, x1))
    assert float(at_truth) < float(tvl1_energy(truth + 0.3, x0, x1))


def test_energy_uses_the_exact_warp_not_a_linearisation():
    x = torch.arange(12.0, dtype=torch.float64).expand(1, 1, 3, 12)
    x1 = x * x / 10  # a parabola: its first-order Taylor expansion is off by 0.4 for a 2 px shift
    x0 = (x + 2) ** 2 / 10  # I0(x) = I1(x + 2)
    flow = torch.zeros(1, 2, 3, 12, dtype=torch.float64)
    flow[:, 0] = 2.0
    energy = tvl1_energy(flow, x0, x1, lmbda=0.5, eps=0.0, normalize=False)
    # Only the last two columns sample past the border (I1(11) = 12.1 instead of 14.4 and 16.9).
    assert float(energy) == pytest.approx(0.5 * (2.3 + 4.8) / 12, rel=1e-12)


def test_energy_errors():
    flow, frame = torch.zeros(1, 2, 5, 5), torch.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"image0 and flow must have the same batch size and height, "
                                         r"width, got \(1, 1, 5, 5\) and \(1, 2, 5, 6\)"):
        tvl1_energy(torch.zeros(1, 2, 5, 6), frame, frame)
    with pytest.raises(ValueError, match=r"flow must have 2 channel\(s\)"):
        tvl1_energy(torch.zeros(1, 1, 5, 5), frame, frame)
    with pytest.raises(TypeError, match="same dtype"):
        tvl1_energy(flow.double(), frame.double(), frame)
    with pytest.raises(ValueError, match="lmbda must be >= 0.0, got -1.0"):
        tvl1_energy(flow, frame, frame, lmbda=-1.0)


def test_energy_gradcheck(rng):
    x0, x1, truth = _pair(rng, shape=(6, 7))
    flow = (truth + 0.05 * torch.from_numpy(rng.standard_normal(truth.shape))).requires_grad_()
    frames = (x0.clone().requires_grad_(), x1.clone().requires_grad_())
    assert gradcheck(lambda f, a, b: tvl1_energy(f, a, b), (flow, *frames))
    assert gradcheck(lambda f, a, b: tvl1_energy(f, a, b, normalize=False), (flow, *frames))


def test_energy_on_device(device, dtype, rng):
    dt = getattr(torch, dtype)
    x0, x1, truth = (t.to(device=device, dtype=dt) for t in _pair(rng))
    flow = truth.clone().requires_grad_()
    value = tvl1_energy(flow, x0, x1)
    value.backward()
    assert value.device.type == device and value.dtype == dt and value.ndim == 0
    assert bool(torch.isfinite(flow.grad).all())


# ------------------------------------------------------------------ endpoint_error
def test_endpoint_error_hand_computed():
    target = torch.zeros(2, 2, 3, 4)
    flow = torch.zeros(2, 2, 3, 4)
    flow[0, 0], flow[0, 1] = 3.0, 4.0  # EPE 5 on the first sample, 0 on the second
    assert float(endpoint_error(flow, target)) == pytest.approx(2.5)
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[0] = True
    assert float(endpoint_error(flow, target, mask)) == pytest.approx(5.0)
    assert float(endpoint_error(flow, target, mask[:1, 0])) == pytest.approx(2.5)  # (H, W) mask


def test_endpoint_error_ignores_non_finite_targets_under_the_mask():
    target = torch.zeros(1, 2, 3, 3, dtype=torch.float64)
    target[0, 0, 1, 1] = float("inf")
    flow = torch.ones(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.isfinite(target).all(1)
    value = endpoint_error(flow, target, mask)
    value.backward()
    assert float(value.detach()) == pytest.approx(np.sqrt(2))
    assert bool(torch.isfinite(flow.grad).all()) and float(flow.grad[0, 0, 1, 1]) == 0.0


def test_endpoint_error_gradient_is_zero_not_nan_at_a_perfect_flow():
    flow = torch.zeros(1, 2, 3, 3, requires_grad=True)
    endpoint_error(flow, torch.zeros(1, 2, 3, 3)).backward()
    assert bool((flow.grad == 0).all())


def test_endpoint_error_empty_mask_raises_as_the_metric_does():
    with pytest.raises(ValueError, match="no valid pixel to average over: all 9 pixels"):
        endpoint_error(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3),
                       torch.zeros(1, 3, 3, dtype=torch.bool))


@pytest.mark.parametrize("mask_kind", ["none", "hw", "bhw"])
@pytest.mark.parametrize("reduce", [True, False])
def test_endpoint_error_agrees_with_the_metric(rng, mask_kind, reduce):
    from sktvnet import metrics

    flow = rng.standard_normal((3, 2, 5, 6))
    flow_true = rng.standard_normal((3, 2, 5, 6))
    flow_true[0, 0, 1, 2] = np.inf
    flow_true[1, 1, 3, 3] = np.nan
    flow_true[2, 0, 4, 5] = 1e10  # Middlebury's "unknown"
    mask = {"none": None, "hw": rng.random((5, 6)) > 0.3, "bhw": rng.random((3, 5, 6)) > 0.3}[mask_kind]
    expected = metrics.endpoint_error(flow, flow_true, mask, reduce=reduce)
    value = endpoint_error(torch.from_numpy(flow), torch.from_numpy(flow_true),
                           None if mask is None else torch.from_numpy(mask), reduce=reduce)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-12, equal_nan=True)


def test_endpoint_error_errors():
    flow = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match=r"same shape \(B, 2, H, W\), got \(1, 2, 3, 3\) and "
                                         r"\(1, 2, 3, 4\)"):
        endpoint_error(flow, torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 3\) or be broadcastable to "
                                         r"\(1, 3, 3\), got \(2, 3\)"):
        endpoint_error(flow, flow, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"mask must be a boolean tensor .* got dtype torch.float32; use mask.bool\(\)"):
        endpoint_error(flow, flow, torch.ones(3, 3))
    with pytest.raises(TypeError, match="flow_true must be a torch.Tensor, got ndarray"):
        endpoint_error(flow, np.zeros((1, 2, 3, 3)))


def test_endpoint_error_gradcheck(rng):
    flow = torch.from_numpy(rng.standard_normal((2, 2, 3, 4))).requires_grad_()
    target = torch.from_numpy(rng.standard_normal((2, 2, 3, 4)))
    mask = torch.from_numpy(rng.random((2, 3, 4)) > 0.3)
    assert gradcheck(lambda f: endpoint_error(f, target), (flow,))
    assert gradcheck(lambda f: endpoint_error(f, target, mask), (flow,))


def test_endpoint_error_on_device(device, dtype):
    dt = getattr(torch, dtype)
    flow = torch.ones(1, 2, 4, 4, device=device, dtype=dt)
    value = endpoint_error(flow, torch.zeros_like(flow))
    assert value.device.type == device and value.dtype == dt
    assert float(value) == pytest.approx(np.sqrt(2), rel=1e-6)
