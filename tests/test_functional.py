"""Tests of the stateless torch operations (sktvnet.functional), op by op, kornia style: smoke,
shapes, errors, hand-computed values of every boundary rule, agreement with the NumPy reference,
non-contiguous input, devices and float64 gradcheck."""

import numpy as np
import pytest
import torch
from conftest import TOLERANCES
from torch.autograd import gradcheck

from sktvnet import _core, reference
from sktvnet import functional as tvf

IMAGE = torch.tensor(
    [[1.0, 2.0, 4.0, 7.0], [0.0, 3.0, 3.0, 1.0], [5.0, 5.0, 2.0, 0.0]], dtype=torch.float64
)[None, None]


def _dtype(name):
    return getattr(torch, name)


def _rand(rng, *shape, dtype=torch.float64, device="cpu", scale=1.0):
    return torch.from_numpy(scale * rng.standard_normal(shape)).to(device=device, dtype=dtype)


def _smooth(rng, *shape, dtype=torch.float64):
    """A smooth random image in [0, 255], like the frames the solver sees."""
    from scipy import ndimage

    image = ndimage.gaussian_filter(rng.random(shape), (0,) * (len(shape) - 2) + (2, 2))
    image = 255 * (image - image.min()) / (image.max() - image.min())
    return torch.from_numpy(image).to(dtype)


# ------------------------------------------------------------------ to_grey / normalize_pair
def test_to_grey_uses_the_luma_weights(rng):
    rgb = _rand(rng, 2, 3, 5, 6)
    grey = tvf.to_grey(rgb)
    assert grey.shape == (2, 1, 5, 6)
    expected = sum(w * rgb[:, c] for c, w in enumerate(_core.LUMA_RGB))
    torch.testing.assert_close(grey[:, 0], expected, rtol=0, atol=1e-12)
    single = _rand(rng, 2, 1, 5, 6)
    assert tvf.to_grey(single) is single


def test_to_grey_rejects_two_channels():
    with pytest.raises(ValueError, match=r"1 or 3 channel\(s\).*got \(1, 2, 5, 5\)"):
        tvf.to_grey(torch.zeros(1, 2, 5, 5))


def test_normalize_pair_matches_core_per_sample(rng):
    a = _rand(rng, 3, 1, 5, 7, scale=10.0)
    b = _rand(rng, 3, 1, 5, 7, scale=3.0)
    b[2] = a[2] = 4.0  # a constant pair: zeros, not NaN
    n0, n1 = tvf.normalize_pair(a, b)
    for i in range(3):
        e0, e1 = _core.normalize_pair(a[i].numpy(), b[i].numpy())
        np.testing.assert_allclose(n0[i].numpy(), e0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(n1[i].numpy(), e1, rtol=0, atol=1e-12)
    assert float(torch.minimum(n0[0].min(), n1[0].min())) == 0.0
    assert float(torch.maximum(n0[0].max(), n1[0].max())) == pytest.approx(255.0, abs=1e-12)
    assert bool((n0[2] == 0).all()) and bool((n1[2] == 0).all())


def test_normalize_pair_constant_pair_has_finite_gradient():
    a = torch.full((1, 1, 4, 4), 3.0, dtype=torch.float64, requires_grad=True)
    b = torch.full((1, 1, 4, 4), 3.0, dtype=torch.float64, requires_grad=True)
    n0, n1 = tvf.normalize_pair(a, b)
    (n0.sum() + n1.sum()).backward()
    assert bool(torch.isfinite(a.grad).all()) and bool(torch.isfinite(b.grad).all())


def test_normalize_pair_errors():
    with pytest.raises(ValueError, match=r"same shape, got \(1, 1, 4, 5\) and \(1, 1, 4, 4\)"):
        tvf.normalize_pair(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(TypeError, match="same dtype"):
        tvf.normalize_pair(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.float64))
    uint8 = r"floating-point tensor, got dtype torch.uint8.*\.float\(\)"
    with pytest.raises(TypeError, match=uint8):
        tvf.normalize_pair(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), torch.zeros(1, 1, 4, 4))


# ------------------------------------------------------------------ centred gradient (Eq. 3)
def test_centered_gradient_hand_computed():
    dx, dy = tvf.centered_gradient(IMAGE)
    expected_dx = [
        [0.5 * (2 - 1), 0.5 * (4 - 1), 0.5 * (7 - 2), 0.5 * (7 - 4)],
        [0.5 * (3 - 0), 0.5 * (3 - 0), 0.5 * (1 - 3), 0.5 * (1 - 3)],
        [0.5 * (5 - 5), 0.5 * (2 - 5), 0.5 * (0 - 5), 0.5 * (0 - 2)],
    ]
    expected_dy = [
        [0.5 * (0 - 1), 0.5 * (3 - 2), 0.5 * (3 - 4), 0.5 * (1 - 7)],
        [0.5 * (5 - 1), 0.5 * (5 - 2), 0.5 * (2 - 4), 0.5 * (0 - 7)],
        [0.5 * (5 - 0), 0.5 * (5 - 3), 0.5 * (2 - 3), 0.5 * (0 - 1)],
    ]
    assert dx[0, 0].tolist() == expected_dx
    assert dy[0, 0].tolist() == expected_dy


def test_centered_gradient_custom_taps_replicate_the_border():
    row = torch.tensor([[[[1.0, 2.0, 4.0, 7.0]]]], dtype=torch.float64)
    weight = torch.tensor([[1.0, 10.0, 100.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    dx, dy = tvf.centered_gradient(row, weight)
    # taps on (x[j-1], x[j], x[j+1]), x[-1] = x[0] and x[W] = x[W-1]
    assert dx[0, 0, 0].tolist() == [1 + 10 + 200, 1 + 20 + 400, 2 + 40 + 700, 4 + 70 + 700]
    assert bool((dy == 0).all())


def test_centered_gradient_default_taps_equal_explicit_taps(rng):
    image = _rand(rng, 2, 3, 6, 7)
    explicit = torch.tensor(tvf.CENTERED_TAPS, dtype=torch.float64)
    for a, b in zip(tvf.centered_gradient(image), tvf.centered_gradient(image, explicit)):
        assert torch.equal(a, b)


def test_centered_gradient_matches_reference(rng):
    image = _rand(rng, 1, 1, 7, 9)
    dx, dy = tvf.centered_gradient(image)
    rdx, rdy = reference._centered_gradient(image[0, 0].numpy())
    np.testing.assert_array_equal(dx[0, 0].numpy(), rdx)
    np.testing.assert_array_equal(dy[0, 0].numpy(), rdy)


def test_centered_gradient_errors():
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\), got \(4, 4\)"):
        tvf.centered_gradient(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
        tvf.centered_gradient(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*\(2, 3\).*got \(2, 2\)"):
        tvf.centered_gradient(torch.zeros(1, 1, 4, 4), torch.zeros(2, 2))


# ------------------------------------------------------------------ forward gradient (Eq. 4)
def test_forward_gradient_hand_computed():
    gx, gy = tvf.forward_gradient(IMAGE)
    assert gx[0, 0].tolist() == [[1, 2, 3, 0], [3, 0, -2, 0], [0, -3, -2, 0]]
    assert gy[0, 0].tolist() == [[-1, 1, -1, -6], [5, 2, -1, -1], [0, 0, 0, 0]]


def test_forward_gradient_custom_taps():
    weight = torch.tensor([[2.0, 3.0], [5.0, 7.0]], dtype=torch.float64)
    gx, gy = tvf.forward_gradient(IMAGE, weight)
    x = IMAGE[0, 0]
    assert gx[0, 0, :, :-1].tolist() == (2 * x[:, :-1] + 3 * x[:, 1:]).tolist()
    assert gy[0, 0, :-1].tolist() == (5 * x[:-1] + 7 * x[1:]).tolist()
    # Eq. 4's boundary holds whatever the taps
    assert bool((gx[..., -1] == 0).all()) and bool((gy[..., -1, :] == 0).all())


def test_forward_gradient_shared_taps_equal_both_rows(rng):
    field = _rand(rng, 2, 2, 5, 6)
    taps = torch.tensor([0.3, -1.7], dtype=torch.float64)
    shared = tvf.forward_gradient(field, taps)
    both = tvf.forward_gradient(field, taps.expand(2, 2))
    for a, b in zip(shared, both):
        assert torch.equal(a, b)


def test_forward_gradient_errors():
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\).*got \(3,\)"):
        tvf.forward_gradient(torch.zeros(1, 1, 4, 4), torch.zeros(3))
    with pytest.raises(TypeError, match="weight must be a torch.Tensor or None, got list"):
        tvf.forward_gradient(torch.zeros(1, 1, 4, 4), [-1.0, 1.0])


# ------------------------------------------------------------------ divergence (Eq. 5)
def test_divergence_hand_computed():
    px = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 9.0]])[None, None]
    py = torch.tensor([[1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0]])[None, None]
    # x part: p[0] on the first column, p[j] - p[j-1] inside, -p[W-2] on the last column;
    # y part: p[0] on the first row, -p[H-2] on the last row (p[W-1], p[H-1] are ignored).
    expected = [[1 + 1, 2 - 1 + 2, 3 - 2 + 3, -3 + 4], [4 - 1, 5 - 4 - 2, 6 - 5 - 3, -6 - 4]]
    assert tvf.divergence(px, py)[0, 0].tolist() == expected


def test_divergence_custom_taps():
    px = torch.tensor([[[[1.0, 2.0, 4.0, 7.0]]]], dtype=torch.float64)
    weight = torch.tensor([[2.0, 3.0], [1.0, 1.0]], dtype=torch.float64)
    div = tvf.divergence(px, torch.zeros_like(px), weight)
    # taps (wb0, wb1) on (p[j-1], p[j]); first column wb1 p[0], last column wb0 p[W-2]
    assert div[0, 0, 0].tolist() == [3 * 1, 2 * 1 + 3 * 2, 2 * 2 + 3 * 4, 2 * 4]


def test_divergence_is_minus_adjoint_of_forward_gradient(rng):
    u = _rand(rng, 2, 2, 7, 9)
    px, py = _rand(rng, 2, 2, 7, 9), _rand(rng, 2, 2, 7, 9)
    gx, gy = tvf.forward_gradient(u)
    lhs = (gx * px + gy * py).sum()
    rhs = -(u * tvf.divergence(px, py)).sum()
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)


def test_divergence_matches_reference(rng):
    px, py = _rand(rng, 1, 1, 6, 8), _rand(rng, 1, 1, 6, 8)
    out = np.empty((6, 8))
    reference._divergence(px[0, 0].numpy(), py[0, 0].numpy(), out)
    np.testing.assert_allclose(tvf.divergence(px, py)[0, 0].numpy(), out, rtol=0, atol=1e-14)


def test_divergence_errors():
    with pytest.raises(ValueError, match=r"py and px must have the same shape, got \(1, 1, 4, 5\)"):
        tvf.divergence(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))


# ------------------------------------------------------------------ warp
def test_warp_hand_computed():
    image = torch.arange(20.0, dtype=torch.float64).view(1, 1, 4, 5)
    flow = torch.zeros(1, 2, 4, 5, dtype=torch.float64)
    flow[:, 0] = 0.25
    flow[:, 1, 1] = -0.5
    warped, outside = tvf.warp(image, flow)
    # row 0: x + 0.25, the last column samples past the border (clamped, flagged outside)
    assert warped[0, 0, 0].tolist() == [0.25, 1.25, 2.25, 3.25, 4.0]
    # row 1: halfway between rows 0 and 1, then x + 0.25
    assert warped[0, 0, 1].tolist() == [2.75, 3.75, 4.75, 5.75, 6.5]
    assert outside[0, 0, :, -1].tolist() == [True] * 4
    assert not bool(outside[0, 0, :, :-1].any())


def test_warp_integer_flow_is_a_shift_and_flags_exits(rng):
    image = _rand(rng, 2, 3, 6, 7)
    flow = torch.zeros(2, 2, 6, 7, dtype=torch.float64)
    flow[:, 0] = 2.0
    flow[:, 1] = -1.0
    warped, outside = tvf.warp(image, flow)
    assert torch.equal(warped[..., 1:, :-2], image[..., :-1, 2:])
    expected = torch.zeros(6, 7, dtype=torch.bool)
    expected[0, :] = True
    expected[:, -2:] = True
    assert torch.equal(outside[0, 0], expected) and outside.shape == (2, 1, 6, 7)


def test_warp_border_is_exact():
    """x + u exactly on the first or last pixel is inside, a hair beyond is outside."""
    image = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    flow = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    flow[0, 0, 0, 0] = 3.0
    flow[0, 0, 0, 1] = 2.0 + 1e-12
    flow[0, 0, 0, 2] = -2.0 - 1e-12
    flow[0, 0, 0, 3] = -3.0
    _, outside = tvf.warp(image, flow)
    assert outside[0, 0, 0].tolist() == [False, True, True, False]


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_warp_matches_reference_interpolation(rng, interpolation):
    image = _rand(rng, 1, 3, 9, 11)
    flow = _rand(rng, 1, 2, 9, 11, scale=3.0)
    warped, outside = tvf.warp(image, flow, interpolation)
    rows, cols = np.mgrid[0:9, 0:11].astype(np.float64)
    x, y = cols + flow[0, 0].numpy(), rows + flow[0, 1].numpy()
    expected = reference._interpolate(image[0].numpy(), x, y, interpolation)
    np.testing.assert_allclose(warped[0].numpy(), expected, rtol=0, atol=1e-12)
    assert outside[0, 0].numpy().tolist() == ((x < 0) | (x > 10) | (y < 0) | (y > 8)).tolist()


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_warp_in_place_without_autograd_equals_the_autograd_warp(rng, interpolation):
    """Without autograd the warp sums into reused buffers; with it, into new tensors."""
    image = _rand(rng, 2, 3, 9, 11)
    flow = _rand(rng, 2, 2, 9, 11, scale=3.0)
    with torch.no_grad():
        reused, outside = tvf.warp(image, flow, interpolation)
        again, _ = tvf.warp(image, 0.5 * flow, interpolation)
    assert not torch.equal(reused, again)  # no buffer is shared between calls
    traced, traced_outside = tvf.warp(image, flow.clone().requires_grad_(), interpolation)
    assert traced.requires_grad
    torch.testing.assert_close(reused, traced.detach(), rtol=0, atol=1e-12)
    assert torch.equal(outside, traced_outside)


def test_bicubic_warp_follows_a_quadratic_where_bilinear_cannot():
    """Catmull-Rom reproduces polynomials up to degree 2 exactly; bilinear only degree 1."""
    rows, cols = torch.meshgrid(torch.arange(8.0, dtype=torch.float64),
                                torch.arange(9.0, dtype=torch.float64), indexing="ij")

    def quadratic(y, x):
        return 0.3 * x * x - 0.2 * x * y + 0.1 * y * y + x - 2 * y

    flow = torch.stack([torch.full_like(cols, 0.35), torch.full_like(rows, -0.6)])[None]
    inner = (slice(2, -2), slice(2, -2))  # all 4x4 neighbours inside the image
    truth = quadratic(rows + flow[0, 1], cols + flow[0, 0])[inner]
    bicubic, _ = tvf.warp(quadratic(rows, cols)[None, None], flow, "bicubic")
    bilinear, _ = tvf.warp(quadratic(rows, cols)[None, None], flow)
    torch.testing.assert_close(bicubic[0, 0][inner], truth, rtol=0, atol=1e-12)
    assert (bilinear[0, 0][inner] - truth).abs().min() > 1e-3


def test_bicubic_integer_flow_is_a_shift(rng):
    image = _rand(rng, 2, 3, 6, 7)
    flow = torch.zeros(2, 2, 6, 7, dtype=torch.float64)
    flow[:, 0] = 2.0
    flow[:, 1] = -1.0
    warped, _ = tvf.warp(image, flow, "bicubic")
    assert torch.equal(warped[..., 1:, :-2], image[..., :-1, 2:])


def test_warp_survives_huge_and_non_finite_flow():
    image = torch.rand(1, 1, 5, 5)
    flow = torch.tensor([1e30, -1e30, float("inf"), float("nan"), 0.0]).expand(1, 2, 5, 5)
    warped, outside = tvf.warp(image, flow.contiguous())
    assert warped.shape == (1, 1, 5, 5)
    assert outside[0, 0, 0, :3].tolist() == [True, True, True]


def test_warp_errors():
    with pytest.raises(ValueError, match=r"interpolation must be 'bicubic' or 'bilinear', "
                                         r"got 'cubic'"):
        tvf.warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), "cubic")
    with pytest.raises(ValueError, match=r"flow must have 2 channel\(s\).*got \(1, 3, 4, 4\)"):
        tvf.warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"same batch size and height, width, got \(1, 2, 4, 5\)"):
        tvf.warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 5))


# ------------------------------------------------------------------ blur and pyramid
@pytest.mark.parametrize("sigma", [_core.PRESMOOTHING_SIGMA, _core.zoom_sigma(0.5), 3.0])
@pytest.mark.parametrize("shape", [(9, 13), (16, 40)])
def test_gaussian_blur_matches_reference(rng, sigma, shape):
    # 9x13: the mirrored padding wraps more than once for sigma 3 (radius 15, the gathered
    # indices); 16x40: flipped edges along the rows, gathered indices along the columns.
    image = _rand(rng, 1, 1, *shape)
    np.testing.assert_allclose(
        tvf.gaussian_blur(image, sigma)[0, 0].numpy(),
        reference._gaussian_blur(image[0, 0].numpy(), sigma),
        rtol=0, atol=1e-13,
    )


def test_gaussian_blur_keeps_constants_and_shape(rng):
    image = torch.full((2, 3, 5, 8), 7.0, dtype=torch.float64)
    out = tvf.gaussian_blur(image, 1.3)
    assert out.shape == image.shape
    torch.testing.assert_close(out, image, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        tvf.gaussian_blur(image, 0.0)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_zoom_out_matches_reference(rng, interpolation):
    image = _rand(rng, 1, 1, 21, 30)
    for zoom_factor in (0.5, 0.7):
        shape = _core.zoom_size(21, 30, zoom_factor)
        out = tvf.zoom_out(image, zoom_factor=zoom_factor, interpolation=interpolation)
        assert out.shape[-2:] == shape
        expected = reference._zoom_out(image[0, 0].numpy(), shape, zoom_factor, interpolation)
        np.testing.assert_allclose(out[0, 0].numpy(), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_zoom_in_matches_reference_and_scales_flows(rng, interpolation):
    flow = _rand(rng, 1, 2, 11, 15)
    out = tvf.zoom_in(flow, (21, 30), interpolation=interpolation)
    expected = reference._zoom_in(flow[0].numpy(), (21, 30), interpolation)
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-12)
    assert torch.equal(tvf.zoom_in(flow, (21, 30), zoom_factor=0.5, interpolation=interpolation),
                       out * 2.0)


def test_zoom_in_hand_computed():
    field = torch.tensor([[[[0.0, 2.0]]]])
    # positions j * w / W = 0, 0.5, 1, 1.5 (the last is clamped to the border)
    assert tvf.zoom_in(field, (1, 4))[0, 0, 0].tolist() == [0.0, 1.0, 2.0, 2.0]


def test_zoom_errors():
    with pytest.raises(ValueError, match=r"zoom_factor must be < 1.0, got 1.0"):
        tvf.zoom_out(torch.zeros(1, 1, 8, 8), zoom_factor=1.0)
    with pytest.raises(TypeError, match=r"shape must be a pair of ints \(H, W\), got 8"):
        tvf.zoom_in(torch.zeros(1, 1, 4, 4), 8)


def test_pyramid_shapes_follow_core(rng):
    image = _rand(rng, 2, 1, 96, 128)
    levels = tvf.pyramid(image, n_scales=5)
    assert [tuple(level.shape) for level in levels] == [
        (2, 1) + shape for shape in _core.pyramid_shapes(96, 128, 5, 0.5)
    ]
    assert levels[0] is image
    assert len(tvf.pyramid(image, n_scales=None, zoom_factor=0.8)) == _core.max_scales(96, 128, 0.8)
    with pytest.raises(ValueError, match="n_scales must be >= 1, got 0"):
        tvf.pyramid(image, n_scales=0)


# ------------------------------------------------------------------ one TV-L1 iteration
def test_tvl1_iteration_threshold_cases():
    """The three cases of Eq. 11: clipped below, linear, clipped above (no TV: p = 0)."""
    u = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    grad = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    grad[:, 0] = 2.0
    rho_c = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    rho_c[..., 0, :] = -100.0  # rho / |grad|^2 = -25 < -lmbda theta: v = u + lmbda theta grad
    rho_c[..., 1, :] = 0.02    # inside: v = u - rho / |grad|^2 grad = -0.01
    rho_c[..., 2, :] = 100.0   # above: v = u - lmbda theta grad
    u, p = tvf.tvl1_iteration(u, None, rho_c, grad, lmbda=0.15, theta=0.3, update_dual=False)
    assert p is None
    column = u[0, 0, :, 1].tolist()
    assert column[0] == pytest.approx(0.045 * 2)
    assert column[1] == pytest.approx(-0.01, rel=1e-9)
    assert column[2] == pytest.approx(-0.045 * 2)
    assert column[3] == 0.0
    assert bool((u[0, 1] == 0).all())


def test_tvl1_iteration_dual_step_hand_computed():
    u = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
    u[0, 0] = torch.tensor([0.0, 1.0, 3.0, 6.0])  # with no data (grad = 0), u is carried over
    zero = torch.zeros(1, 1, 3, 4, dtype=torch.float64)
    out, (px, py) = tvf.tvl1_iteration(
        u, None, zero, torch.zeros(1, 2, 3, 4, dtype=torch.float64), tau=0.25, theta=0.5, eps=1e-200
    )
    assert torch.equal(out, u)
    taut = 0.25 / 0.5
    gx = torch.tensor([1.0, 2.0, 3.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(px[0, 0, 0], taut * gx / (1 + taut * gx.abs()), rtol=1e-15, atol=0)
    assert bool((py == 0).all()) and bool((px[0, 1] == 0).all())


def _single_scale_by_functional_ops(i0, i1, n_warps, n_iters, eps, **params):
    """One pyramid level of TV-L1 written with the public functional ops only."""
    i1x, i1y = tvf.centered_gradient(i1)
    stack = torch.cat([i1, i1x, i1y], 1)
    u = torch.zeros(i0.shape[0], 2, *i0.shape[-2:], dtype=i0.dtype)
    p = None
    for _ in range(n_warps):
        warped, outside = tvf.warp(stack, u)
        warped = warped.masked_fill(outside, 0)
        grad = warped[:, 1:]
        rho_c = warped[:, :1] - grad[:, :1] * u[:, :1] - grad[:, 1:] * u[:, 1:] - i0
        for _ in range(n_iters):
            u, p = tvf.tvl1_iteration(u, p, rho_c, grad, eps=eps, **params)
    return u


def test_tvl1_iterations_match_reference_single_scale(rng):
    i1 = _smooth(rng, 1, 1, 20, 26)
    i0 = torch.roll(i1, shifts=(1, -1), dims=(-2, -1)) + 0.5
    params = dict(tau=0.25, lmbda=0.15, theta=0.3)
    flow = _single_scale_by_functional_ops(i0, i1, 2, 7, eps=1e-200, **params)
    expected = reference._tvl1_single_scale(
        i0[0, 0].numpy(), i1[0, 0].numpy(), np.zeros((2, 20, 26)),
        n_warps=2, n_iters=7, tol=0.0, method="bilinear", **params,
    )
    np.testing.assert_allclose(flow[0].numpy(), expected, rtol=0, atol=TOLERANCES["float64"])


def test_tvl1_iteration_errors():
    u = torch.zeros(1, 2, 4, 4)
    rho_c = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"grad and u must have the same shape, got \(1, 2, 4, 5"):
        tvf.tvl1_iteration(u, None, rho_c, torch.zeros(1, 2, 4, 5))
    with pytest.raises(TypeError, match="p must be None or a pair of tensors"):
        tvf.tvl1_iteration(u, torch.zeros(1, 2, 4, 4), rho_c, u)
    with pytest.raises(ValueError, match=r"tau must be <= 0.25, got 0.3"):
        tvf.tvl1_iteration(u, None, rho_c, u, tau=0.3)
    with pytest.raises(ValueError, match=r"eps must be > 0.0, got -1.0"):
        tvf.tvl1_iteration(u, None, rho_c, u, eps=-1.0)


# ------------------------------------------------------------------ non-contiguous input
def test_ops_accept_non_contiguous_input(rng):
    base = _rand(rng, 1, 2, 11, 9)
    image = base.transpose(-1, -2)  # (1, 2, 9, 11), not contiguous
    assert not image.is_contiguous()
    dense = image.contiguous()
    for op in (tvf.centered_gradient, tvf.forward_gradient):
        for a, b in zip(op(image), op(dense)):
            assert torch.equal(a, b)
    assert torch.equal(tvf.divergence(image, image), tvf.divergence(dense, dense))
    assert torch.equal(tvf.gaussian_blur(image, 0.8), tvf.gaussian_blur(dense, 0.8))
    assert torch.equal(tvf.zoom_out(image), tvf.zoom_out(dense))
    assert torch.equal(tvf.zoom_in(image, (13, 17)), tvf.zoom_in(dense, (13, 17)))
    flow = 0.7 * image
    for a, b in zip(tvf.warp(image, flow), tvf.warp(dense, flow.contiguous())):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ devices and dtypes
def test_ops_on_device(device, dtype, rng):
    dt = _dtype(dtype)
    image = _smooth(rng, 2, 1, 12, 16).to(device=device, dtype=dt)
    flow = _rand(rng, 2, 2, 12, 16, dtype=dt, device=device)
    outputs = [
        *tvf.centered_gradient(image, torch.tensor(tvf.CENTERED_TAPS)),
        *tvf.forward_gradient(flow, torch.tensor(tvf.FORWARD_TAPS)),
        tvf.divergence(flow, flow, torch.tensor(tvf.DIVERGENCE_TAPS)),
        tvf.gaussian_blur(image, 0.8), tvf.zoom_out(image), tvf.zoom_in(flow, (20, 30)),
        *tvf.warp(image, flow), *tvf.normalize_pair(image, image + 1),
    ]
    for out in outputs:
        assert out.device.type == device
        assert out.dtype in (dt, torch.bool)


def test_float32_close_to_float64(rng):
    image = _smooth(rng, 1, 1, 12, 16)
    flow = _rand(rng, 1, 2, 12, 16, scale=2.0)
    for op, args in [
        (tvf.gaussian_blur, (image, 0.8)),
        (tvf.zoom_out, (image,)),
        (lambda i, f: tvf.warp(i, f)[0], (image, flow)),
        (lambda i: tvf.centered_gradient(i)[0], (image,)),
    ]:
        out64 = op(*args)
        out32 = op(*(a.float() if isinstance(a, torch.Tensor) else a for a in args))
        torch.testing.assert_close(out32.double(), out64, rtol=0, atol=TOLERANCES["float32"] * 255)


# ------------------------------------------------------------------ gradcheck (float64)
def test_gradcheck_centered_gradient(rng):
    image = _rand(rng, 1, 2, 5, 6).requires_grad_()
    weight = _rand(rng, 2, 3).requires_grad_()
    assert gradcheck(lambda i, w: tvf.centered_gradient(i, w), (image, weight))
    assert gradcheck(tvf.centered_gradient, (image,))


def test_gradcheck_forward_gradient_and_divergence(rng):
    field = _rand(rng, 1, 2, 5, 6).requires_grad_()
    px, py = _rand(rng, 1, 2, 5, 6).requires_grad_(), _rand(rng, 1, 2, 5, 6).requires_grad_()
    weight = _rand(rng, 2, 2).requires_grad_()
    assert gradcheck(lambda f, w: tvf.forward_gradient(f, w), (field, weight))
    assert gradcheck(lambda x, y, w: tvf.divergence(x, y, w), (px, py, weight))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_gradcheck_warp(rng, interpolation):
    image = _rand(rng, 1, 2, 5, 6).requires_grad_()
    # fractional parts kept away from 0 so that no finite difference crosses a pixel boundary
    flow = torch.from_numpy(rng.integers(-2, 3, (1, 2, 5, 6)) + rng.uniform(0.1, 0.9, (1, 2, 5, 6)))
    flow.requires_grad_()
    assert gradcheck(lambda i, f: tvf.warp(i, f, interpolation)[0], (image, flow))


def test_gradcheck_blur_zoom_pyramid(rng):
    image = _rand(rng, 1, 1, 9, 10).requires_grad_()
    assert gradcheck(lambda i: tvf.gaussian_blur(i, 0.8), (image,))
    assert gradcheck(lambda i: tvf.zoom_out(i, zoom_factor=0.6), (image,))
    assert gradcheck(lambda i: tvf.zoom_in(i, (13, 17), zoom_factor=0.5), (image,))
    assert gradcheck(lambda i: tvf.zoom_out(i, zoom_factor=0.6, interpolation="bicubic"), (image,))
    big = _rand(rng, 1, 1, 24, 32).requires_grad_()
    assert gradcheck(lambda i: tuple(tvf.pyramid(i, 2)), (big,), fast_mode=True)


def test_gradcheck_grey_and_normalize(rng):
    rgb = _rand(rng, 2, 3, 4, 5).requires_grad_()
    other = _rand(rng, 2, 3, 4, 5).requires_grad_()
    assert gradcheck(tvf.to_grey, (rgb,))
    assert gradcheck(tvf.normalize_pair, (rgb, other))


def test_gradcheck_tvl1_iteration(rng):
    shape = (1, 2, 5, 6)
    u = _rand(rng, *shape, scale=0.5).requires_grad_()
    px = _rand(rng, *shape, scale=0.3).requires_grad_()
    py = _rand(rng, *shape, scale=0.3).requires_grad_()
    grad = _rand(rng, *shape, scale=3.0).requires_grad_()
    rho_c = _rand(rng, 1, 1, 5, 6).requires_grad_()
    fw, dw = _rand(rng, 2, 2).requires_grad_(), _rand(rng, 2, 2).requires_grad_()

    def step(u, px, py, rho_c, grad, fw, dw):
        u, p = tvf.tvl1_iteration(
            u, (px, py), rho_c, grad, lmbda=2.0, forward_weight=fw, divergence_weight=dw
        )
        return u, *p

    assert gradcheck(step, (u, px, py, rho_c, grad, fw, dw))


def test_iteration_step_takes_tensor_step_sizes_with_gradients(rng):
    """The private step that TVNet runs with learned (0-d tensor) step sizes gives what the floats
    give, bit for bit, and differentiates with respect to them."""
    shape = (1, 2, 5, 6)
    u, px, py = _rand(rng, *shape, scale=0.5), _rand(rng, *shape, scale=0.3), _rand(rng, *shape)
    grad, rho_c = _rand(rng, *shape, scale=3.0), _rand(rng, 1, 1, 5, 6)
    denom = grad[:, :1] ** 2 + grad[:, 1:] ** 2 + 1e-10
    floats = dict(l_t=0.15 * 0.3, taut=0.25 / 0.3, theta=0.3, eps=1e-10)
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in floats.items()}
    expected = tvf.tvl1_step(u, (px, py), rho_c, grad, denom, **floats)
    got = tvf.tvl1_step(u, (px, py), rho_c, grad, denom, **tensors)
    for a, b in zip((expected[0], *expected[1]), (got[0], *got[1])):
        assert torch.equal(a, b)

    def step(l_t, taut, theta):
        u_new, p = tvf.tvl1_step(u, (px, py), rho_c, grad, denom, l_t=l_t, taut=taut,
                                  theta=theta, eps=1e-10)
        return u_new, *p

    # lmbda theta = 0.3: both branches of the clip of Eq. 11 occur, so l_t gets a gradient.
    values = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True)
                   for v in (0.3, 0.8, 0.3))
    assert gradcheck(step, values)
    u_new, p0, _ = step(*values)
    (u_new.sum() + p0.sum()).backward()
    assert all(float(v.grad) != 0 for v in values)


def test_texture_weight_keeps_the_rest_of_the_structure(rng):
    """texture(image, weight=w) = image - w blur(image): an offset c survives as (1 - w) c;
    w = 1 is the default, w = 0 the image itself."""
    image = torch.from_numpy(rng.random((1, 1, 24, 32)))
    full = tvf.texture(image)
    torch.testing.assert_close(tvf.texture(image, weight=1.0), full, rtol=0, atol=0)
    torch.testing.assert_close(tvf.texture(image, weight=0.0), image, rtol=0, atol=0)
    for weight in (0.3, 0.8):
        moved = tvf.texture(image + 0.1, weight=weight) - tvf.texture(image, weight=weight)
        torch.testing.assert_close(moved, torch.full_like(moved, (1 - weight) * 0.1))
        torch.testing.assert_close(tvf.texture(image, weight=weight),
                                   weight * full + (1 - weight) * image)
    with pytest.raises(ValueError, match="weight must be <= 1.0, got 1.2"):
        tvf.texture(image, weight=1.2)


def test_compensate_brightness_fits_a_gain_and_offset_and_discounts_misaligned_pixels():
    rng = np.random.default_rng(0)
    image0 = torch.from_numpy(rng.random((2, 1, 20, 24)))
    grad = torch.from_numpy(rng.random((2, 2, 20, 24)))
    warped = torch.cat([1.2 * image0 - 0.1, grad], 1)
    outside = torch.zeros_like(image0, dtype=torch.bool)
    out = tvf.compensate_brightness(image0, warped, outside)
    np.testing.assert_allclose(out[:, :1], image0, atol=1e-10)
    np.testing.assert_allclose(out[:, 1:], grad / 1.2, atol=1e-10)
    # A block the flow does not align (10% of the pixels, far off) moves the fit half as much as
    # it moves plain least squares.
    bad = warped.clone()
    bad[:, 0, :4, :12] += 3.0
    out = tvf.compensate_brightness(image0, bad, outside)
    robust = (out[:, 0, 4:] - image0[:, 0, 4:]).abs().mean()
    i0, i1w = image0[0, 0].numpy(), bad[0, 0].numpy()
    gain = np.cov(i0.ravel(), i1w.ravel(), bias=True)[0, 1] / i1w.var()
    plain = np.abs(gain * (i1w[4:] - i1w.mean()) + i0.mean() - i0[4:]).mean()
    assert robust < 0.6 * plain
    # Pixels outside the frame do not count at all; NumPy's fit agrees with torch's.
    bad_outside = torch.zeros_like(outside)
    bad_outside[:, :, :4, :12] = True
    out = tvf.compensate_brightness(image0, bad, bad_outside)
    np.testing.assert_allclose(out[:, 0, 4:], image0[:, 0, 4:], atol=1e-10)
    gain, offset = _core.brightness_fit(image0[0, 0].numpy(), bad[0, 0].numpy(),
                                        ~bad_outside[0, 0].numpy())
    np.testing.assert_allclose(gain * bad[0, 0].numpy() + offset, out[0, 0].numpy(), atol=1e-10)


def test_compensate_brightness_keeps_a_flat_frame_and_refuses_bad_shapes():
    flat = torch.full((1, 1, 8, 8), 2.0, dtype=torch.float64)
    warped = torch.cat([torch.full_like(flat, 5.0), torch.zeros(1, 2, 8, 8, dtype=flat.dtype)], 1)
    outside = torch.zeros_like(flat, dtype=torch.bool)
    out = tvf.compensate_brightness(flat, warped, outside)
    assert torch.isfinite(out).all() and torch.allclose(out[:, 0], flat[:, 0])
    with pytest.raises(ValueError, match="outside must be a bool tensor"):
        tvf.compensate_brightness(flat, warped, outside.double())
    with pytest.raises(ValueError, match="warped must have image0's batch and size"):
        tvf.compensate_brightness(flat, warped[..., :4], outside)


# ------------------------------------------------------------------ median_filter
def test_median_filter_hand_computed():
    field = torch.tensor([[1.0, 9.0, 2.0], [3.0, 0.0, 4.0], [8.0, 5.0, 7.0]])[None, None]
    out = tvf.median_filter(field, 3)
    # Centre: the nine values sorted, 0 1 2 3 4 5 7 8 9 -> 4. Corner (0, 0), the border
    # replicated: 1 1 9 / 1 1 9 / 3 3 0, sorted 0 1 1 1 1 3 3 9 9 -> 1.
    assert out[0, 0, 1, 1] == 4.0
    assert out[0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("size", [3, 5])
def test_median_filter_equals_scipy_and_opencv(rng, size, dtype, device):
    from scipy import ndimage

    field = _rand(rng, 2, 2, 13, 17, dtype=_dtype(dtype), device=device)
    out = tvf.median_filter(field, size).cpu().numpy()
    values = field.cpu().numpy()
    expected = ndimage.median_filter(values, size=(1, 1, size, size), mode="nearest")
    np.testing.assert_array_equal(out, expected)
    cv2 = pytest.importorskip("cv2")
    # medianBlur takes float32 windows of 3 or 5 and replicates the border too: every pixel.
    np.testing.assert_array_equal(
        out[0, 1].astype(np.float32), cv2.medianBlur(values[0, 1].astype(np.float32), size))


def test_median_filter_zero_is_identity_and_non_contiguous(rng):
    field = _rand(rng, 1, 2, 9, 11)
    assert tvf.median_filter(field, 0) is field
    transposed = field.transpose(-1, -2)
    assert not transposed.is_contiguous()
    torch.testing.assert_close(tvf.median_filter(transposed, 5),
                               tvf.median_filter(transposed.contiguous(), 5))


def test_median_filter_gradcheck(rng):
    # Distinct values, so that the median of each window is one element and is differentiable.
    field = torch.randperm(2 * 7 * 8, dtype=torch.float64).reshape(1, 2, 7, 8) / 10
    field.requires_grad_(True)
    assert gradcheck(lambda f: tvf.median_filter(f, 3), (field,), eps=1e-3, atol=1e-6)


def test_median_filter_errors():
    with pytest.raises(ValueError, match="odd window side"):
        tvf.median_filter(torch.zeros(1, 2, 5, 5), 2)
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\)"):
        tvf.median_filter(torch.zeros(2, 5, 5), 3)
    with pytest.raises(TypeError, match="floating-point"):
        tvf.median_filter(torch.zeros(1, 2, 5, 5, dtype=torch.long), 3)


# ------------------------------------------------------------------ OpenCV's resize and remap
def test_opencv_resize_and_warp_match_opencv(rng):
    cv2 = pytest.importorskip("cv2")
    image = rng.random((29, 41)).astype(np.float32)
    tensor = torch.from_numpy(image)[None, None]
    by_factor = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    ours = tvf.opencv_resize(tensor, by_factor.shape, 1 / 0.8)[0, 0].numpy()
    np.testing.assert_allclose(ours, by_factor, atol=1e-5)
    to_size = cv2.resize(image, (50, 33), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(tvf.opencv_resize(tensor, (33, 50))[0, 0].numpy(), to_size,
                               atol=1e-5)
    flow = rng.normal(0, 3, (2, 29, 41)).astype(np.float32)
    rows, cols = np.mgrid[0:29, 0:41].astype(np.float32)
    for bicubic, mode in ((True, cv2.INTER_CUBIC), (False, cv2.INTER_LINEAR)):
        expected = cv2.remap(image, cols + flow[0], rows + flow[1], mode)  # zero border
        warped, _ = tvf.opencv_warp(tensor, torch.from_numpy(flow)[None], bicubic)
        np.testing.assert_allclose(warped[0, 0].numpy(), expected, atol=1e-4)
