"""Tests of TVNet (sktvnet.network): the frozen network is the reference TV-L1 with bilinear warps;
the trainable one gets a gradient in every parameter; the execution paths (eager, checkpointed,
compiled) agree."""

import math
import pickle

import numpy as np
import pytest
import torch
from conftest import TOLERANCES
from scipy import ndimage
from skimage import data, transform
from torch.autograd import gradcheck
from torch.func import functional_call

from sktvnet import _compile, _core, _match, network, tvl1_optical_flow
from sktvnet import functional as tvf
from sktvnet.losses import endpoint_error, tvl1_energy
from sktvnet.network import TVNet


def _field(shape):
    height, width = shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u = 1.2 + 1.5 * np.sin(2 * np.pi * y / height)
    v = -0.8 + np.cos(2 * np.pi * x / width)
    return y, x, u, v


def _warped_pair(name, shape):
    """(image0, image1, flow) in NumPy layout, image0(x) = image1(x + w) exactly (bicubic)."""
    image = getattr(data, name)()
    colour = image.ndim == 3
    image1 = transform.resize(image, shape + ((3,) if colour else ()), anti_aliasing=True)
    y, x, u, v = _field(shape)
    channels = [image1[..., c] for c in range(3)] if colour else [image1]
    warped = [ndimage.map_coordinates(c, [y + v, x + u], order=3, mode="nearest") for c in channels]
    image0 = np.stack(warped, -1) if colour else warped[0]
    return image0, image1, np.stack([u, v])


def _to_torch(image, dtype=torch.float64):
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    tensor = tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor[None]
    return tensor[None].to(dtype)


def _frames(shape=(32, 40), batch=1, seed=0):
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.random((batch, shape[0] + 4, shape[1] + 4)), (0, 2, 2))
    x1 = torch.from_numpy(base[:, None, 2:-2, 2:-2].copy())
    x0 = torch.from_numpy(base[:, None, 3:-1, 1:-3].copy())  # I0(x) = I1(x + w), w = (-1, 1)
    return x0, x1


# ------------------------------------------------------------------ construction
def test_parameters_shapes_and_flags():
    net = TVNet(n_scales=3, n_warps=2, n_iters=4)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {
        "u0": (2, 16, 16),
        "centered_weight": (3, 2, 3),
        "forward_weight": (3, 7, 2, 2),
        "divergence_weight": (3, 7, 2, 2),
        "log_presmoothing": (),
        "log_lmbda": (3, 8),
        "log_theta": (3, 8),
        "tau_logit": (3, 7),
    }
    assert not any(p.requires_grad for p in net.parameters())
    assert torch.equal(net.centered_weight[1, 0], torch.tensor(tvf.CENTERED_TAPS))
    assert bool((net.u0 == 0).all())
    trainable = TVNet(train_u0=True, train_filters=True, train_steps=True)
    assert all(p.requires_grad for p in trainable.parameters())
    steps = TVNet(train_steps=True)
    assert {name for name, p in steps.named_parameters() if p.requires_grad} == {
        "log_lmbda", "log_theta", "tau_logit"}
    assert TVNet(train_u0=True).u0.requires_grad
    assert not TVNet(train_u0=True).forward_weight.requires_grad
    assert "n_scales=1, n_warps=1, n_iters=50" in repr(net.__class__())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_scales=0), ValueError, "n_scales must be >= 1, got 0"),
        (dict(n_iters=2.5), TypeError, "n_iters must be an integer"),
        (dict(tau=0.3), ValueError, "tau must be <= 0.25, got 0.3"),
        (dict(zoom_factor=1), ValueError, "zoom_factor must be < 1.0"),
        (dict(eps=0), ValueError, "eps must be > 0.0, got 0.0"),
        (dict(compiled="yes"), ValueError, "compiled must be 'auto', True or False, got 'yes'"),
        (dict(train_u0=1), TypeError, "train_u0 must be a bool, got int 1"),
        (dict(train_steps="yes"), TypeError, "train_steps must be a bool, got str 'yes'"),
        (dict(checkpoint="no"), TypeError, "checkpoint must be a bool"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        TVNet(**kwargs)


def test_constructor_is_keyword_only():
    with pytest.raises(TypeError):
        TVNet(1, 1, 50)


def test_forward_errors():
    net = TVNet(n_iters=1)
    ok = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError,
                       match=r"image1 and image0 must have the same shape, got \(1, 1, 8, 9\)"):
        net(ok, torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match=r"image0 must have 1 or 3 channel\(s\).*got \(1, 2, 8, 8\)"):
        net(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\), got \(8, 8\)"):
        net(torch.zeros(8, 8), torch.zeros(8, 8))
    with pytest.raises(TypeError, match=r"float32 or float64, got torch.float16"):
        net(ok.half(), ok.half())
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.uint8"):
        net(ok.to(torch.uint8), ok.to(torch.uint8))
    with pytest.raises(ValueError, match=r"at least 4x4 pixels, got shape \(1, 1, 3, 8\)"):
        net(torch.zeros(1, 1, 3, 8), torch.zeros(1, 1, 3, 8))


# ------------------------------------------------------------------ smoke and shapes
@pytest.mark.parametrize(
    "shape", [(1, 1, 4, 4), (3, 1, 17, 23), (2, 3, 37, 53), (1, 3, 64, 20)]
)
def test_output_shape_any_size(shape):
    rng = np.random.default_rng(1)
    x0, x1 = (torch.from_numpy(rng.random(shape)).float() for _ in range(2))
    flow = TVNet(n_scales=3, n_warps=2, n_iters=3)(x0, x1)
    assert flow.shape == (shape[0], 2) + shape[2:]
    assert flow.dtype == torch.float32
    assert bool(torch.isfinite(flow).all())


def test_identical_and_constant_frames_give_exactly_zero_flow():
    x0, _ = _frames()
    net = TVNet(n_scales=2, n_warps=2, n_iters=5)
    assert bool((net(x0, x0) == 0).all())
    constant = torch.full_like(x0, 7.0)
    assert bool((net(constant, constant) == 0).all())


def test_recovers_a_known_translation():
    x0, x1 = _frames((40, 48))
    flow = TVNet(n_scales=3, n_warps=5, n_iters=50)(x0, x1)
    inner = flow[0, :, 6:-6, 6:-6]
    assert float(inner[0].median()) == pytest.approx(-1.0, abs=0.05)
    assert float(inner[1].median()) == pytest.approx(1.0, abs=0.05)


def test_each_sample_is_normalised_on_its_own_pair():
    x0, x1 = _frames(batch=2)
    x0[1] = 1000 * x0[1] - 3
    x1[1] = 1000 * x1[1] - 3
    net = TVNet(n_scales=2, n_warps=1, n_iters=10)
    together = net(x0, x1)
    for i in range(2):
        torch.testing.assert_close(together[i:i + 1], net(x0[i:i + 1], x1[i:i + 1]),
                                   rtol=0, atol=TOLERANCES["float64"])


def test_texture_cancels_an_offset_and_resists_a_gain_between_frames():
    image0, image1, flow = _warped_pair("camera", (64, 80))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    exact = torch.from_numpy(flow)[None]
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))

    def error(net, frame0):
        return float((net(frame0, x1) - exact)[inner].norm(dim=1).mean())

    net = TVNet(n_scales=3, n_warps=3, n_iters=20, texture=True)
    plain = TVNet(n_scales=3, n_warps=3, n_iters=20)
    # An offset or a gain of the first frame: the texture's flow stays near its error at exact
    # brightness (only the joint scaling to [0, 255] changes), TV-L1's does not.
    for changed in (x0 + 0.03, 0.97 * x0):
        assert error(plain, changed) > 3 * error(plain, x0)
        assert error(net, changed) < 1.5 * error(net, x0)
        assert error(net, changed) < 0.5 * error(plain, changed)


@pytest.mark.parametrize("structure", [(1, 1, 10), (3, 2, 5)])
def test_texture_tvnet_is_the_reference_on_textures(structure):
    n_scales, n_warps, n_iters = structure
    image0, image1, _ = _warped_pair("camera", (48, 64))
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, texture=True)
    flow = net(_to_torch(image0), _to_torch(image1))[0].numpy()
    expected = tvl1_optical_flow(image0, image1, n_scales=n_scales, n_warps=n_warps,
                                 n_iters=n_iters, tol=0, interpolation="bilinear", texture=True)
    np.testing.assert_allclose(flow, expected, rtol=0, atol=1e-6)
    plain = tvl1_optical_flow(image0, image1, n_scales=n_scales, n_warps=n_warps,
                              n_iters=n_iters, tol=0, interpolation="bilinear")
    assert np.abs(plain - expected).max() > 1e-3
    flat = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    assert not tvf.texture(flat).abs().max() > 1e-12


def test_a_texture_weight_is_the_reference_with_that_weight_and_spans_frames_to_texture():
    """texture=w subtracts w of every level's structure, as the reference does; 0 is TV-L1 on
    the levels (as False) and 1 the full texture (as True)."""
    image0, image1, _ = _warped_pair("camera", (48, 64))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    structure = dict(n_scales=3, n_warps=2, n_iters=5)
    with torch.no_grad():
        flows = {w: TVNet(**structure, texture=w)(x0, x1)[0].numpy()
                 for w in (False, 0.0, 0.5, 1.0, True)}
    expected = tvl1_optical_flow(image0, image1, **structure, tol=0, interpolation="bilinear",
                                 texture=0.5)
    np.testing.assert_allclose(flows[0.5], expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(flows[0.0], flows[False])
    np.testing.assert_array_equal(flows[1.0], flows[True])
    assert np.abs(flows[0.5] - flows[False]).max() > 1e-3
    assert np.abs(flows[0.5] - flows[True]).max() > 1e-3


@pytest.mark.parametrize("texture, error, match", [
    (1.5, ValueError, r"texture must be a bool, a real number in \[0, 1\] or a sequence of "
                      r"them, one per level, got 1.5"),
    (-0.1, ValueError, r"one per level, got -0.1"),
    (float("nan"), ValueError, r"one per level, got nan"),
    ((0.0, 1.2), ValueError, r"one per level, got \(0.0, 1.2\)"),
    ((0.0, 0.5, 1.0, 1.0), ValueError, "texture has 4 shares, one per level, but n_scales is 3"),
    ("yes", TypeError, r"one per level, got str 'yes'"),
    ((), TypeError, r"one per level, got tuple \(\)"),
    ((0.0, "1"), TypeError, r"one per level, got \(0.0, '1'\)"),
])
def test_bad_texture_weights_are_refused_by_tvnet_and_the_reference(texture, error, match):
    with pytest.raises(error, match=match):
        TVNet(n_scales=3, texture=texture)
    image = np.zeros((16, 16))
    with pytest.raises(error, match=match):
        tvl1_optical_flow(image, image, n_scales=3, texture=texture)


def test_texture_shares_per_level_are_the_reference_with_the_same_shares():
    """A sequence gives each level its share, finest first, the last one holding for every
    coarser level: (0, 1) solves the finest level on the frames and the others on textures."""
    image0, image1, _ = _warped_pair("camera", (48, 64))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    structure = dict(n_scales=3, n_warps=2, n_iters=5)
    with torch.no_grad():
        flows = {w: TVNet(**structure, texture=w)(x0, x1)[0].numpy()
                 for w in [(0.0, 1.0), (0.0, 1.0, 1.0), (1.0,), True, False]}
        listed = TVNet(**structure, texture=[0, 1])(x0, x1)[0].numpy()
    np.testing.assert_array_equal(listed, flows[(0.0, 1.0)])
    expected = tvl1_optical_flow(image0, image1, **structure, tol=0, interpolation="bilinear",
                                 texture=(0.0, 1.0))
    np.testing.assert_allclose(flows[(0.0, 1.0)], expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(flows[(0.0, 1.0, 1.0)], flows[(0.0, 1.0)])
    np.testing.assert_array_equal(flows[(1.0,)], flows[True])
    for other in (True, False):
        assert np.abs(flows[(0.0, 1.0)] - flows[other]).max() > 1e-3


def test_colour_equals_its_grey_version():
    rng = np.random.default_rng(2)
    x0, x1 = (torch.from_numpy(rng.random((1, 3, 20, 24))) for _ in range(2))
    net = TVNet(n_scales=2, n_iters=5)
    torch.testing.assert_close(net(x0, x1), net(tvf.to_grey(x0), tvf.to_grey(x1)),
                               rtol=0, atol=TOLERANCES["float64"])


def test_non_contiguous_input():
    x0, x1 = _frames((30, 26))
    t0, t1 = x0.transpose(-1, -2), x1.transpose(-1, -2)
    assert not t0.is_contiguous()
    net = TVNet(n_scales=2, n_iters=5)
    assert torch.equal(net(t0, t1), net(t0.contiguous(), t1.contiguous()))


# ------------------------------------------------------------------ equivalence with the reference
STRUCTURES = {"1-1-50": (1, 1, 50, (64, 96)), "3-1-10": (3, 1, 10, (64, 96)),
              "5-5-50": (5, 5, 50, (96, 128))}


@pytest.mark.parametrize("train_steps", [False, True])
@pytest.mark.parametrize("image", ["camera", "astronaut", "coffee"])
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_frozen_tvnet_is_the_reference_tvl1(structure, image, train_steps):
    """Also with learnable step sizes: untrained, they are the constructor's."""
    n_scales, n_warps, n_iters, shape = STRUCTURES[structure]
    image0, image1, _ = _warped_pair(image, shape)
    expected = tvl1_optical_flow(image0, image1, n_scales=n_scales, n_warps=n_warps,
                                 n_iters=n_iters, tol=0, interpolation="bilinear")
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, train_steps=train_steps)
    flow = net(_to_torch(image0), _to_torch(image1))[0].detach().numpy()
    assert len(_core.pyramid_shapes(*shape, n_scales, 0.5)) == min(n_scales, 4)
    assert np.abs(flow - expected).mean() <= 0.01
    # The only departure is eps in Eq. 11-12: a few 1e-7 px.
    assert np.abs(flow - expected).mean() <= 1e-5


@pytest.mark.parametrize("train_steps", [False, True])
def test_without_eps_tvnet_equals_the_reference_to_rounding(train_steps):
    """A negligible eps leaves the reference's arithmetic: odd sizes, colour, 3 levels, 2 warps.

    (Where 0 < |grad I1w|^2 <= 1e-10, e.g. in the saturated areas of astronaut, the reference
    skips the threshold step while TVNet moves by at most lmbda theta 1e-5 px: not this image.)"""
    image0, image1, _ = _warped_pair("coffee", (61, 77))
    expected = tvl1_optical_flow(image0, image1, n_scales=3, n_warps=2, n_iters=20, tol=0,
                                 interpolation="bilinear")
    net = TVNet(n_scales=3, n_warps=2, n_iters=20, eps=1e-200, train_steps=train_steps)
    flow = net(_to_torch(image0), _to_torch(image1)).detach()
    np.testing.assert_allclose(flow[0].numpy(), expected, rtol=0, atol=TOLERANCES["float64"])


@pytest.mark.parametrize("texture", [False, True])
def test_bicubic_tvnet_is_the_bicubic_reference(texture):
    """interpolation="bicubic" warps and builds the pyramid as IPOL's TV-L1 (the reference's
    default): odd sizes, colour, 3 levels, 2 warps."""
    image0, image1, _ = _warped_pair("coffee", (61, 77))
    kwargs = dict(n_scales=3, n_warps=2, n_iters=20)
    expected = tvl1_optical_flow(image0, image1, **kwargs, tol=0, texture=texture)
    x0, x1 = _to_torch(image0), _to_torch(image1)
    net = TVNet(**kwargs, eps=1e-200, texture=texture, interpolation="bicubic")
    flow = net(x0, x1).detach()[0].numpy()
    np.testing.assert_allclose(flow, expected, rtol=0, atol=TOLERANCES["float64"])
    bilinear = TVNet(**kwargs, eps=1e-200, texture=texture)(x0, x1).detach()[0].numpy()
    assert np.abs(bilinear - expected).max() > 1e-3


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_median_filter_tvnet_is_the_reference_with_the_median_filter(interpolation):
    """The filter runs before iterations 0 and 30 of each warp, in TVNet as in the reference."""
    image0, image1, _ = _warped_pair("coffee", (45, 57))
    kwargs = dict(n_scales=2, n_warps=2, n_iters=40, zoom_factor=0.8)
    expected = tvl1_optical_flow(image0, image1, **kwargs, tol=0, interpolation=interpolation,
                                 median_filter=5)
    x0, x1 = _to_torch(image0), _to_torch(image1)
    net = TVNet(**kwargs, eps=1e-200, interpolation=interpolation, median_filter=5)
    flow = net(x0, x1).detach()[0].numpy()
    np.testing.assert_allclose(flow, expected, rtol=0, atol=TOLERANCES["float64"])
    plain = TVNet(**kwargs, eps=1e-200, interpolation=interpolation)(x0, x1).detach()[0].numpy()
    assert np.abs(plain - expected).max() > 1e-3
    assert "median_filter=5" in repr(net)


def test_median_filter_checkpointed_and_trained_paths_agree():
    x0, x1 = _frames((24, 28))
    kwargs = dict(n_scales=1, n_warps=1, n_iters=35, median_filter=3, train_filters=True)
    eager = TVNet(**kwargs)
    checkpointed = TVNet(**kwargs, checkpoint=True)
    flow = eager(x0, x1)
    torch.testing.assert_close(checkpointed(x0, x1), flow)
    flow.sum().backward()
    assert eager.forward_weight.grad.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(eager(x0, x1), flow.detach())


@pytest.mark.parametrize("median_filter, error", [(4, ValueError), (-1, ValueError),
                                                  (3.0, TypeError)])
def test_bad_median_filter_is_refused(median_filter, error):
    with pytest.raises(error, match="median_filter"):
        TVNet(median_filter=median_filter)


def test_interpolation_is_checked():
    with pytest.raises(ValueError, match=r"interpolation must be 'bicubic' or 'bilinear', "
                                         r"got 'nearest'"):
        TVNet(interpolation="nearest")
    assert "interpolation='bicubic'" in repr(TVNet(interpolation="bicubic"))


def test_constant_u0_is_the_reference_u0():
    image0, image1, _ = _warped_pair("camera", (45, 70))
    u0 = np.stack([np.full((45, 70), 1.25), np.full((45, 70), -0.5)])
    expected = tvl1_optical_flow(image0, image1, n_scales=3, n_warps=2, n_iters=10, tol=0,
                                 interpolation="bilinear", u0=u0)
    net = TVNet(n_scales=3, n_warps=2, n_iters=10, eps=1e-200).double()
    with torch.no_grad():
        net.u0[0], net.u0[1] = 1.25, -0.5
    flow = net(_to_torch(image0), _to_torch(image1))
    np.testing.assert_allclose(flow[0].numpy(), expected, rtol=0, atol=TOLERANCES["float64"])


def test_float32_close_to_float64():
    image0, image1, _ = _warped_pair("camera", (64, 96))
    net = TVNet(n_scales=3, n_warps=5, n_iters=30)
    flow64 = net(_to_torch(image0), _to_torch(image1))
    flow32 = net(_to_torch(image0, torch.float32), _to_torch(image1, torch.float32))
    assert flow32.dtype == torch.float32
    assert float((flow32.double() - flow64).abs().mean()) <= TOLERANCES["float32"]


def test_module_equals_the_functional_ops():
    """TVNet-2-2-5 written with the public functional ops gives the module's output."""
    image0, image1, _ = _warped_pair("camera", (40, 52))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    params = dict(tau=0.25, lmbda=0.15, theta=0.3)
    i0, i1 = tvf.normalize_pair(tvf.to_grey(x0), tvf.to_grey(x1))
    levels0 = tvf.pyramid(tvf.gaussian_blur(i0, _core.PRESMOOTHING_SIGMA), 2)
    levels1 = tvf.pyramid(tvf.gaussian_blur(i1, _core.PRESMOOTHING_SIGMA), 2)
    flow = torch.zeros(1, 2, *levels0[-1].shape[-2:], dtype=torch.float64)
    for level in (1, 0):
        gx, gy = tvf.centered_gradient(levels1[level])
        stack = torch.cat([levels1[level], gx, gy], 1)
        p = None
        for _ in range(2):
            warped, outside = tvf.warp(stack, flow)
            warped = warped.masked_fill(outside, 0)
            grad = warped[:, 1:]
            rho_c = warped[:, :1] - grad[:, :1] * flow[:, :1] - grad[:, 1:] * flow[:, 1:]
            rho_c = rho_c - levels0[level]
            for _ in range(5):
                flow, p = tvf.tvl1_iteration(flow, p, rho_c, grad, **params)
        if level:
            flow = tvf.zoom_in(flow, levels0[0].shape[-2:], zoom_factor=0.5)
    expected = TVNet(n_scales=2, n_warps=2, n_iters=5, **params)(x0, x1)
    torch.testing.assert_close(flow, expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ gradients
def _trainable(n_scales=2, n_warps=2, n_iters=3, seed=0, **kwargs):
    torch.manual_seed(seed)
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, train_u0=True,
                train_filters=True, train_steps=True, **kwargs).double()
    with torch.no_grad():
        # Away from integer warp positions (kinks of bilinear interpolation) and from the
        # default taps and steps, so that the gradients are generic.
        net.u0.copy_(0.3 + 0.1 * torch.rand_like(net.u0))
        for weight in (net.centered_weight, net.forward_weight, net.divergence_weight):
            weight.add_(0.02 * torch.randn_like(weight))
        for weight in (net.log_lmbda, net.log_theta, net.tau_logit):
            weight.add_(0.1 * torch.randn_like(weight))
    return net


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("loss", ["energy", "epe"])
@pytest.mark.parametrize("shape", [(40, 48), (24, 24)])
def test_every_parameter_gets_a_gradient(loss, shape, interpolation):
    """Every element of u0 and of the taps and step sizes of every iteration, warp and scale
    matters, with either warp.

    (24, 24) has a 12x12 coarsest level, smaller than the stored u0."""
    image0, image1, truth = _warped_pair("camera", shape)
    x0, x1 = _to_torch(image0), _to_torch(image1)
    net = TVNet(n_scales=2, n_warps=2, n_iters=3, train_u0=True, train_filters=True,
                train_steps=True, interpolation=interpolation).double()
    assert len(_core.pyramid_shapes(*shape, 2, 0.5)) == 2
    flow = net(x0, x1)
    if loss == "energy":
        value = tvl1_energy(flow, x0, x1)
    else:
        value = endpoint_error(flow, torch.from_numpy(truth)[None])
    value.backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, name
        assert int((param.grad == 0).sum()) == 0, f"{name} has zero gradients"


def test_gradcheck_tvnet_2_2_3():
    """TVNet-2-2-3 with trainable u0, filters and steps, on a 20x24 image that has 2 levels
    (z=0.8)."""
    image0, image1, _ = _warped_pair("camera", (20, 24))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    net = _trainable(zoom_factor=0.8)
    assert len(_core.pyramid_shapes(20, 24, 2, 0.8)) == 2
    with torch.no_grad():  # inside its range: at 0, sigma 0.8, it sits on the clamp's kink
        net.log_presmoothing.fill_(0.2)
    names = [name for name, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in net.parameters())

    def run(*values):
        return functional_call(net, dict(zip(names, values)), (x0, x1))

    # eps=1e-8: the finite differences must not straddle a kink (clip of Eq. 11, floor of the
    # bilinear warp); float64 keeps them accurate.
    assert gradcheck(run, params, eps=1e-8, fast_mode=True)

    def run_filters_and_steps(*values):
        return functional_call(net, dict(zip(names[1:], values)), (x0, x1))

    assert names[1:] == ["centered_weight", "forward_weight", "divergence_weight",
                         "log_presmoothing", "log_lmbda", "log_theta", "tau_logit"]
    # Every tap and step, slow mode (one call: its cost is a backward pass per output element).
    assert gradcheck(run_filters_and_steps, params[1:], eps=1e-8)
    inputs = (x0.clone().requires_grad_(), x1.clone().requires_grad_())
    assert gradcheck(net, inputs, eps=1e-8, fast_mode=True)


def test_checkpoint_gives_the_same_values_and_gradients():
    image0, image1, _ = _warped_pair("camera", (40, 48))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    plain, ckpt = _trainable(), _trainable(checkpoint=True)
    results = []
    for net in (plain, ckpt):
        flow = net(x0, x1)
        tvl1_energy(flow, x0, x1).backward()
        results.append((flow.detach(), [p.grad for p in net.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_float32_module_accepts_float64_frames_and_gradients_reach_float32_parameters():
    x0, x1 = _frames()
    net = TVNet(n_scales=2, n_iters=3, train_filters=True)
    flow = net(x0, x1)
    assert flow.dtype == torch.float64
    flow.sum().backward()
    assert net.forward_weight.grad.dtype == torch.float32


def test_gradient_reaches_the_frames():
    x0, x1 = _frames()
    x1.requires_grad_()
    flow = TVNet(n_scales=2, n_iters=5)(x0, x1)
    assert flow.requires_grad
    flow.square().sum().backward()
    assert float(x1.grad.abs().sum()) > 0


# ------------------------------------------------------------------ inference, compiled path
def test_inference_output_is_a_normal_tensor():
    x0, x1 = _frames()
    net = TVNet(n_iters=3, train_filters=True)
    with torch.no_grad():
        flow = net(x0, x1)
    assert not flow.requires_grad and not flow.is_inference()
    weight = torch.ones((), dtype=flow.dtype, requires_grad=True)
    (weight * flow).sum().backward()  # a frozen TVNet may feed a trained head
    assert weight.grad is not None


def _fake_compile(monkeypatch, compile_policy, compiled=None, **policy):
    """A fresh compile policy (``policy``: its arguments) whose 'compiler' records its calls and
    returns ``compiled`` (default: the function itself), so that no test compiles anything."""
    calls = []

    def fake(fn, **options):
        calls.append(options)
        return fn if compiled is None else compiled

    monkeypatch.setenv(network.COMPILE_ENV_VAR, "1")
    monkeypatch.setattr(torch, "compile", fake)
    # compiled="auto" finds every job worth compiling, unless a test sets a threshold.
    return compile_policy(**{"min_work": 0.0, **policy}), calls


def test_compile_switch_is_read_at_each_call(monkeypatch, compile_policy):
    policy, calls = _fake_compile(monkeypatch, compile_policy)
    x0, x1 = _frames()
    net = TVNet(n_iters=2, compiled=True)
    monkeypatch.setenv(network.COMPILE_ENV_VAR, "0")
    net(x0, x1)
    assert calls == [] and policy.kernel.compiled is None
    monkeypatch.setenv(network.COMPILE_ENV_VAR, "1")
    net(x0, x1)
    # The iterations' kernel, and the passes over whole frames that this TVNet-1-1-2 makes (the
    # pre-smoothing, an axis at a time), each compiled once...
    assert calls == [_compile.KERNEL_OPTIONS] * 3
    assert [kind for kind, fn in policy.resampling.items() if fn.compiled] == ["filter_rows",
                                                                               "filter_cols"]
    net(x0, x1)
    assert len(calls) == 3  # ... then reused


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("compiled", ["auto", True])
def test_compiled_path_equals_eager(monkeypatch, compile_policy, compiled, interpolation):
    """The compiled loop, with per-iteration steps and taps (here with an identity 'compiler')."""
    _fake_compile(monkeypatch, compile_policy)
    image0, image1, _ = _warped_pair("camera", (40, 48))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    eager = _trainable(n_iters=4, compiled=False, interpolation=interpolation)
    other = _trainable(n_iters=4, compiled=compiled, interpolation=interpolation)
    assert other._use_compiled(need_grad=False, shape=x0.shape)
    with torch.no_grad():
        torch.testing.assert_close(other(x0, x1), eager(x0, x1), rtol=0, atol=1e-12)
    if compiled is True:
        flow = other(x0, x1)
        tvl1_energy(flow, x0, x1).backward()
        tvl1_energy(eager(x0, x1), x0, x1).backward()
        for a, b in zip(other.parameters(), eager.parameters()):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("texture", [False, (0, 1)])
def test_compiled_passes_over_frames_equal_eager(monkeypatch, compile_policy, texture):
    """The compiled path's blurs, pyramid, textures and zoom-ins (``RESAMPLING_KERNELS``, here
    with an identity 'compiler') compute what the eager ones do, and each kind that ran is
    compiled on its own."""
    policy, _ = _fake_compile(monkeypatch, compile_policy)
    image0, image1, _ = _warped_pair("camera", (40, 48))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    structure = dict(n_scales=3, n_warps=1, n_iters=3, interpolation="bicubic", texture=texture)
    eager = TVNet(**structure, compiled=False).double()(x0, x1)
    compiled = TVNet(**structure, compiled=True).double()(x0, x1)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-12)
    ran = {kind for kind, fn in policy.resampling.items() if fn.compiled is not None}
    assert ran == {"filter_rows", "filter_cols", "resample_rows", "resample_cols"}


@pytest.mark.parametrize("grad", [False, True])
def test_cpu_inference_solves_large_levels_in_groups_of_pairs(monkeypatch, grad):
    """Above ``CPU_CHUNK_PIXELS`` a level's pairs are solved in groups of two pairs at least
    (inference only), with the flows of one batch."""
    x0, x1 = _frames((24, 32), batch=5)
    net = _trainable(n_iters=3)
    with torch.set_grad_enabled(grad):
        whole = net(x0.double(), x1.double())
    solved = []
    solve_level = TVNet._solve_level

    def recording(self, i0, *args, **kwargs):
        solved.append(i0.shape[0])
        return solve_level(self, i0, *args, **kwargs)

    monkeypatch.setattr(TVNet, "_solve_level", recording)
    monkeypatch.setattr(network, "CPU_CHUNK_PIXELS", 2 * 24 * 32)  # the finest level: 2 pairs
    with torch.set_grad_enabled(grad):
        grouped = net(x0.double(), x1.double())
    torch.testing.assert_close(grouped, whole, rtol=0, atol=1e-12)
    # Coarsest level first: 5 pairs of 12x16 fit; the finest, 5 > 2 pairs, goes in two groups
    # (a group of one pair would be a compiled graph of its own).
    assert solved == ([5, 5] if grad else [5, 5, 3, 2])


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("batch, height, width", [(1, 4, 4), (3, 7, 13), (2, 9, 16)])
def test_padded_step_equals_uniform_step_and_keeps_its_borders(batch, height, width, in_place):
    """The inference steps (zero-bordered buffers, no masked loads; compiled form and eager in
    place) compute what the autograd step computes, with trained-like taps and steps, and write
    nothing outside their fields."""
    gen = torch.Generator().manual_seed(batch * height * width)

    def rand(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)

    shape = (batch, 2, height, width)
    u, px, py = rand(*shape), rand(*shape, scale=0.3), rand(*shape, scale=0.3)
    # What every dual update leaves (the forward gradient is 0 there), as the step requires.
    px[..., -1] = 0.0
    py[..., -1, :] = 0.0
    rho_c, grad = rand(batch, 1, height, width), rand(batch, 2, height, width, scale=5.0)
    denom = (grad * grad).sum(1, keepdim=True) + 1e-10
    forward = torch.tensor([tvf.FORWARD_TAPS] * 2, dtype=torch.float64) + rand(2, 2, scale=0.1)
    div = torch.tensor([tvf.DIVERGENCE_TAPS] * 2, dtype=torch.float64) + rand(2, 2, scale=0.1)
    consts = torch.tensor([0.15 * 0.3 * 1.3, 0.25 / 0.3 * 0.8, 0.3 * 1.1, 1e-10],
                          dtype=torch.float64)
    expected = tvf.uniform_step(u, px, py, rho_c, grad, denom, forward, div, consts)

    def padded(field):
        return torch.nn.functional.pad(field.reshape(-1), (width, width))

    inputs = [padded(field) for field in (u, px, py)]
    outputs = [torch.zeros_like(buf) for buf in inputs]
    masks = torch.ones(1, 2, height, width, dtype=torch.float64)
    masks[:, 0, :, -1] = 0.0
    masks[:, 1, -1, :] = 0.0
    if in_place:
        scratch = [torch.full((batch, 1, height, width), np.nan, dtype=torch.float64)]
        scratch += [torch.full(shape, np.nan, dtype=torch.float64) for _ in range(3)]
        tvf.padded_step_inplace(*inputs, *outputs, rho_c, grad, denom, masks, forward, div,
                                     consts, scratch)
    else:
        assert tvf.padded_step(*inputs, *outputs, rho_c, grad, denom, masks, forward, div,
                                    consts) is None
    for buf, want in zip(outputs, expected):
        torch.testing.assert_close(tvf.padded_views(buf, shape, 0), want, rtol=0,
                                   atol=1e-12)
        assert buf[:width].eq(0).all() and buf[-width:].eq(0).all()
    new_px, new_py = (tvf.padded_views(buf, shape, 0) for buf in outputs[1:])
    assert new_px[..., -1].eq(0).all() and new_py[..., -1, :].eq(0).all()
    if in_place:  # the last iteration of a level: u only, p left as it was
        before = [buf.clone() for buf in outputs + inputs[1:]]
        tvf.padded_step_inplace(*outputs, *inputs, rho_c, grad, denom, masks, forward, div,
                                     consts, scratch, update_dual=False)
        last_u = tvf.uniform_step(*expected, rho_c, grad, denom, forward, div, consts)[0]
        torch.testing.assert_close(tvf.padded_views(inputs[0], shape, 0), last_u, rtol=0,
                                   atol=1e-12)
        assert all(torch.equal(a, b) for a, b in zip(before, outputs + inputs[1:]))


def test_inference_runs_the_padded_step_and_training_the_autograd_step(monkeypatch,
                                                                       compile_policy):
    kinds = []

    def recording(kind, *args):
        kinds.append(kind)
        return tvf.fused_kernel(kind, *args)

    _fake_compile(monkeypatch, compile_policy, fn=recording)
    x0, x1 = _frames()
    net = _trainable(n_scales=1, n_warps=2, n_iters=3, compiled=True)
    with torch.no_grad():
        net(x0.double(), x1.double())
    assert kinds == ["linearize"] + ["padded_step"] * 3 + ["linearize"] + ["padded_step"] * 3
    kinds.clear()
    net(x0.double(), x1.double()).sum().backward()
    assert kinds == ["linearize"] + ["step"] * 3 + ["linearize"] + ["step"] * 3


def test_a_compiled_or_exported_network_stays_functional(monkeypatch):
    """torch.compile or torch.export of the whole network (ONNX files) traces the functional
    iterations: the in-place ones would export as a larger, slower graph."""
    x0, x1 = _frames()
    net = TVNet(n_scales=2, n_iters=3, compiled=False)
    with torch.no_grad():
        in_place = net(x0, x1)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    monkeypatch.setattr(TVNet, "_iterate_padded", None)  # calling it would fail
    with torch.no_grad():
        functional = net(x0, x1)
    torch.testing.assert_close(functional, in_place, rtol=0, atol=1e-12)


def _raiser(error):
    def compiled(*args):
        compiled.calls += 1
        raise error

    compiled.calls = 0
    return compiled


@pytest.mark.parametrize("error", [
    torch._dynamo.exc.Unsupported("no graph for this"),
    torch._dynamo.exc.BackendCompilerFailed("inductor", RuntimeError("no compiler here"), None),
    torch._inductor.exc.InvalidCxxCompiler(),
])
def test_compile_error_falls_back_to_eager_once_and_for_all(monkeypatch, compile_policy, error):
    compiled = _raiser(error)
    policy, _ = _fake_compile(monkeypatch, compile_policy, compiled)
    cache = policy.kernel
    x0, x1 = _frames()
    expected = TVNet(n_iters=5, compiled=False)(x0, x1)
    net = TVNet(n_iters=5, compiled="auto")
    pattern = rf"(?s)torch.compile failed \({type(error).__name__}.*eagerly"
    with pytest.warns(UserWarning, match=pattern):
        flow = net(x0, x1)
    torch.testing.assert_close(flow, expected, rtol=0, atol=1e-12)
    assert cache.failed and not net._use_compiled(need_grad=False, shape=x0.shape)
    assert compiled.calls == 1
    assert cache("step", *[torch.zeros(1, 2, 4, 4)] * 6, *[torch.ones(2, 2)] * 2,
                 torch.tensor([0.045, 0.8, 0.3, 1e-10]))[0].shape == (1, 2, 4, 4)
    assert compiled.calls == 1  # eager from now on, no second try


def test_failing_torch_compile_falls_back_to_eager(monkeypatch, compile_policy):
    policy, _ = _fake_compile(monkeypatch, compile_policy)

    def unsupported(fn, **options):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", unsupported)
    x0, x1 = _frames()
    with pytest.warns(UserWarning, match="RuntimeError: Dynamo is not supported"):
        TVNet(n_iters=2, compiled=True)(x0, x1)
    assert policy.failed


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("out of memory"),
                                   RuntimeError("a runtime failure"), ValueError("bad input")])
def test_runtime_error_of_a_compiled_call_propagates_and_keeps_the_compiled_step(
        monkeypatch, compile_policy, error):
    compiled = _raiser(error)
    policy, calls = _fake_compile(monkeypatch, compile_policy, compiled)
    x0, x1 = _frames()
    net = TVNet(n_iters=2, compiled=True)
    for attempt in (1, 2):
        with pytest.raises(type(error), match=str(error)):
            net(x0, x1)
        assert compiled.calls == attempt  # the next call tries the compiled step again
    assert not policy.failed and net._use_compiled(need_grad=False, shape=x0.shape)
    assert len(calls) == 1


@pytest.fixture
def no_graph_yet(monkeypatch, compile_policy):
    """A process where nothing is compiled and nothing has run, and a threshold of 1e6
    pixel-iterations: (the policy, the calls that the 'compiler' records)."""
    return _fake_compile(monkeypatch, compile_policy, min_work=1e6)


def test_auto_runs_a_small_first_job_eagerly_and_counts_its_work(no_graph_yet):
    net = TVNet(n_scales=1, n_iters=10)  # 10 pixel-iterations per pixel
    x0, x1 = _frames((24, 32))
    net(x0, x1)
    policy, calls = no_graph_yet
    assert calls == []
    assert policy.eager_work == 10 * 24 * 32


def test_auto_compiles_a_large_job_at_its_first_batch(no_graph_yet):
    net = TVNet(n_scales=1, n_iters=10)
    x0, x1 = _frames((24, 32))
    # A 200-pair video of these frames: 200 * 768 * 10 = 1.5e6 pixel-iterations >= 1e6.
    with network.job_of(200 * 24 * 32):
        assert net._use_compiled(need_grad=False, shape=x0.shape)
        net(x0, x1)
    policy, calls = no_graph_yet
    assert calls and all(options == _compile.KERNEL_OPTIONS for options in calls)
    assert policy.kernel.compiled is not None
    assert policy.eager_work == 0.0


def test_auto_keeps_one_small_job_eager_to_its_end(no_graph_yet):
    net = TVNet(n_scales=1, n_iters=10)
    x0, x1 = _frames((24, 32))
    with network.job_of(100 * 24 * 32):  # 7.7e5 pixel-iterations: below 1e6
        for _ in range(100):
            assert not net._use_compiled(need_grad=False, shape=x0.shape)
    assert no_graph_yet[1] == []


def test_auto_compiles_once_small_calls_add_up_then_keeps_the_graph(no_graph_yet):
    net = TVNet(n_scales=1, n_iters=10)
    x0, x1 = _frames((24, 32))
    decisions = [net._use_compiled(need_grad=False, shape=x0.shape) for _ in range(140)]
    # 7680 pixel-iterations a call: the 131st call would bring the sum to 1e6.
    assert decisions.index(True) == 130
    net(x0, x1)  # compiles
    tiny = TVNet(n_iters=1)
    assert tiny._use_compiled(need_grad=False, shape=(1, 1, 4, 4))


def test_auto_stays_eager_for_training_and_off_switches(no_graph_yet, monkeypatch):
    net = TVNet(n_iters=10)
    assert not net._use_compiled(need_grad=True, shape=(1000, 1, 240, 320))
    assert TVNet(n_iters=10, compiled=True)._use_compiled(need_grad=True, shape=(1, 1, 4, 4))
    monkeypatch.setenv(network.COMPILE_ENV_VAR, "0")
    assert not net._use_compiled(need_grad=False, shape=(1000, 1, 240, 320))


def test_auto_counts_the_work_of_every_pyramid_level(no_graph_yet):
    net = TVNet(n_scales=2, n_warps=2, n_iters=5)
    net._use_compiled(need_grad=False, shape=(3, 1, 64, 64))
    assert no_graph_yet[0].eager_work == 3 * (64 * 64 + 32 * 32) * 2 * 5


# ------------------------------------------------------------------ learned step sizes
def test_step_sizes_start_at_the_constructor_values_and_stay_bounded():
    net = TVNet(n_scales=2, n_warps=2, n_iters=3, tau=0.2, lmbda=0.05, theta=0.4,
                train_steps=True)
    steps = net.step_sizes()
    assert {k: tuple(v.shape) for k, v in steps.items()} == {
        "tau": (2, 5), "lmbda": (2, 6), "theta": (2, 6)}
    assert all(v.dtype == torch.float64 and v.requires_grad for v in steps.values())
    # Exactly, not approximately: the untrained network is TV-L1.
    assert bool((steps["tau"] == 0.2).all() and (steps["lmbda"] == 0.05).all()
                and (steps["theta"] == 0.4).all())
    with torch.no_grad():
        net.tau_logit[0].fill_(-50.0)
        net.tau_logit[1].fill_(50.0)
        net.log_lmbda.fill_(-30.0)
        steps = net.step_sizes()
    assert 0 < float(steps["tau"][0].min()) and float(steps["tau"][1].max()) <= 2 * 0.2
    assert float(steps["lmbda"].min()) > 0


def test_every_step_of_every_level_changes_the_flow():
    """Iteration t of a level uses its own steps: moving one of them moves the output."""
    x0, x1 = _frames((40, 48))
    net = TVNet(n_scales=2, n_warps=2, n_iters=3).double()
    base = net(x0, x1)
    for name in ("log_lmbda", "log_theta", "tau_logit"):
        weight = getattr(net, name)
        for index in ((0, 0), (1, weight.shape[1] - 1)):
            with torch.no_grad():
                weight[index] = 0.5
            assert not torch.equal(net(x0, x1), base), (name, index)
            with torch.no_grad():
                weight[index] = 0.0
    torch.testing.assert_close(net(x0, x1), base, rtol=0, atol=0)


# ------------------------------------------------------------------ learned pre-smoothing
def test_presmoothing_starts_at_ipol_sigma_and_stays_in_its_range():
    net = TVNet(train_filters=True)
    assert float(net.presmoothing_sigma().detach()) == _core.PRESMOOTHING_SIGMA  # exactly
    assert net.log_presmoothing.requires_grad and not TVNet().log_presmoothing.requires_grad
    low, high = network.PRESMOOTHING_LOG_RANGE
    for value, expected in ((-5.0, low), (0.7, 0.7), (9.0, high)):
        with torch.no_grad():
            net.log_presmoothing.fill_(value)
        assert float(net.presmoothing_sigma().detach()) == pytest.approx(
            _core.PRESMOOTHING_SIGMA * math.exp(expected))
    assert float(net.presmoothing_sigma().detach()) < 4.0


def test_learned_presmoothing_blurs_the_frames_by_its_sigma():
    """A trained sigma gives the flow of the same network fed frames blurred to that width,
    with or without autograd (the learnable taps equal the reference's kernel)."""
    x0, x1 = _frames((40, 48))
    net = TVNet(n_scales=2, n_warps=2, n_iters=3, train_filters=True).double()
    with torch.no_grad():
        net.log_presmoothing.fill_(math.log(1.7 / _core.PRESMOOTHING_SIGMA))
    trained = net(x0, x1)
    with torch.no_grad():
        inference = net(x0, x1)
    torch.testing.assert_close(inference, trained, rtol=1e-10, atol=1e-10)
    blurred = [tvf.gaussian_blur_unchecked(x, 1.7) for x in (x0, x1)]
    reference = tvf.gaussian_blur(x0, 1.7)
    torch.testing.assert_close(blurred[0], reference, rtol=0, atol=0)
    taps = tvf.gaussian_blur_learnable(x0, torch.tensor(1.7, dtype=torch.float64))
    torch.testing.assert_close(taps, reference, rtol=1e-12, atol=1e-10)
    assert not torch.allclose(trained, TVNet(n_scales=2, n_warps=2, n_iters=3).double()(x0, x1))


def test_a_wider_presmoothing_extends_one_warp_to_larger_motion():
    """The reason sigma learns: one warp linearises about u = 0, and on a textured image moved
    by up to 3 px TVNet-1-1-50 recovers more of the motion from frames blurred wider than IPOL's."""
    image0, image1, truth = _warped_pair("camera", (96, 96))
    x0, x1 = _to_torch(image0), _to_torch(image1)
    truth = torch.from_numpy(truth)[None]
    errors = []
    for sigma in (_core.PRESMOOTHING_SIGMA, 2.0):
        net = TVNet().double()
        with torch.no_grad():
            net.log_presmoothing.fill_(math.log(sigma / _core.PRESMOOTHING_SIGMA))
        errors.append(float(endpoint_error(net(x0, x1), truth)))
    assert errors[1] < 0.9 * errors[0], errors


def test_weights_saved_without_presmoothing_load_with_ipol_sigma():
    """Files written before the pre-smoothing learned (the bundled weights among them) lack
    its parameter; they load, with sigma 0.8, and a trained one replaces it."""
    net = TVNet(n_scales=2, n_warps=2, n_iters=3, train_filters=True)
    with torch.no_grad():
        net.log_presmoothing.fill_(0.5)
    old = {k: v for k, v in TVNet(n_scales=2, n_warps=2, n_iters=3).state_dict().items()
           if k != "log_presmoothing"}
    net.load_state_dict(old)
    assert float(net.presmoothing_sigma().detach()) == _core.PRESMOOTHING_SIGMA
    with torch.no_grad():
        net.log_presmoothing.fill_(0.5)
    fresh = TVNet(n_scales=2, n_warps=2, n_iters=3)
    fresh.load_state_dict(net.state_dict())
    assert float(fresh.log_presmoothing) == 0.5


# ------------------------------------------------------------------ persistence and devices
def test_pickle_and_state_dict_round_trip():
    net = _trainable()
    x0, x1 = _frames()
    clone = pickle.loads(pickle.dumps(net))
    torch.testing.assert_close(clone(x0, x1), net(x0, x1), rtol=0, atol=0)
    fresh = TVNet(n_scales=2, n_warps=2, n_iters=3).double()  # frozen steps load trained ones
    fresh.load_state_dict(net.state_dict())
    with torch.no_grad():  # the same path for both (inference runs in place, autograd does not)
        trained = net(x0, x1)
    torch.testing.assert_close(fresh(x0, x1), trained, rtol=0, atol=0)
    assert not torch.equal(fresh(x0, x1), TVNet(n_scales=2, n_warps=2, n_iters=3)(x0, x1))


def test_on_device(device, dtype):
    dt = getattr(torch, dtype)
    x0, x1 = _frames((24, 30), batch=2)
    net = TVNet(n_scales=2, n_warps=2, n_iters=5, train_filters=True).to(device)
    flow = net(x0.to(device=device, dtype=dt), x1.to(device=device, dtype=dt))
    assert flow.device.type == device and flow.dtype == dt
    flow.sum().backward()
    assert net.forward_weight.grad.device.type == device
    cpu = TVNet(n_scales=2, n_warps=2, n_iters=5)(x0.to(dt), x1.to(dt))
    torch.testing.assert_close(flow.detach().cpu(), cpu, rtol=0, atol=TOLERANCES[dtype])


@pytest.mark.parametrize("structure", [(1, 1, 50), (3, 1, 10), (5, 5, 50)])
def test_frozen_tvnet_is_as_accurate_as_the_bicubic_reference(structure):
    """The paper's "close performance": bilinear TVNet within 10% of the bicubic reference's EPE
    (measured 1.000, 1.023 and 1.081 times it at 120x160)."""
    from sktvnet import make_synthetic_pair

    n_scales, n_warps, n_iters = structure
    image0, image1, truth = make_synthetic_pair("camera", (120, 160))
    reference = tvl1_optical_flow(image0, image1, n_scales=n_scales, n_warps=n_warps,
                                  n_iters=n_iters, tol=0)
    with torch.inference_mode():
        flow = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, compiled=False)(
            torch.from_numpy(image0)[None, None], torch.from_numpy(image1)[None, None])[0].numpy()

    def epe(f):
        return np.hypot(f[0] - truth[0], f[1] - truth[1]).mean()

    assert epe(flow) <= 1.10 * epe(reference)


def test_subnormal_contrast_gives_finite_zero_flow():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 0, 0] = 1e-44  # a subnormal float32 range: 255 / range would overflow
    with torch.inference_mode():
        flow = network.TVNet(n_iters=5, compiled=False)(image, image.clone())
    assert torch.isfinite(flow).all() and not flow.any()


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_brightness_compensation_is_the_reference_with_it(interpolation):
    image0, image1, _ = _warped_pair("camera", (48, 64))
    image0 = 1.04 * image0 - 0.02                      # a gain and an offset on frame t
    kwargs = dict(n_scales=3, n_warps=2, n_iters=5, interpolation=interpolation)
    net = TVNet(**kwargs, compensate_brightness=True)
    flow = net(_to_torch(image0), _to_torch(image1))[0].numpy()
    expected = tvl1_optical_flow(image0, image1, **kwargs, tol=0, compensate_brightness=True)
    np.testing.assert_allclose(flow, expected, rtol=0, atol=1e-6)
    plain = tvl1_optical_flow(image0, image1, **kwargs, tol=0)
    assert np.abs(plain - expected).max() > 1e-2


def test_brightness_compensation_removes_a_gain_and_offset_and_keeps_exact_pairs():
    image0, image1, (u, v) = _warped_pair("astronaut", (64, 80))
    image0, image1 = image0.mean(-1), image1.mean(-1)
    truth = np.stack([u, v])
    structure = dict(n_scales=3, n_warps=3, n_iters=20, interpolation="bicubic")
    error = lambda net, i0: np.hypot(*(net(_to_torch(i0), _to_torch(image1))[0].numpy()
                                      - truth)).mean()
    plain, compensated = TVNet(**structure), TVNet(**structure, compensate_brightness=True)
    changed = 1.05 * image0 + 0.02
    assert error(compensated, changed) < 0.3 * error(plain, changed)
    assert error(compensated, image0) < 1.1 * error(plain, image0)


def test_brightness_compensation_passes_gradients_to_the_steps():
    x0, x1 = _frames(batch=2)
    net = TVNet(n_scales=2, n_warps=2, n_iters=3, train_steps=True, train_filters=True,
                compensate_brightness=True).double()
    net(x0 * 1.1, x1).abs().mean().backward()
    for name, parameter in net.named_parameters():
        if parameter.requires_grad:
            assert torch.isfinite(parameter.grad).all(), name
            assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("which", ["image0", "image1"])
def test_forward_refuses_non_finite_frames(bad, which):
    """A NaN column once came out as a flow of about 0 (the true motion was 1 px), silently."""
    frames = {"image0": torch.rand(1, 1, 16, 16), "image1": torch.rand(1, 1, 16, 16)}
    frames[which][0, 0, :, 5] = bad
    with pytest.raises(ValueError, match=f"{which} contains NaN or infinite values"):
        TVNet(n_iters=2)(frames["image0"], frames["image1"])


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_opencv_preset_tvnet_is_the_opencv_reference_with_a_fixed_budget(interpolation):
    """OpenCV's scale of the frames, pyramid, flow resizing and zero-border warps, as the
    reference's preset: frames in [0, 1] are multiplied by 255, 8-bit values kept as they are
    (no joint scaling to [0, 255])."""
    image0, image1, _ = _warped_pair("coffee", (45, 57))
    image0, image1 = (im @ np.asarray(_core.LUMA_RGB) for im in (image0, image1))
    low, high = min(image0.min(), image1.min()), max(image0.max(), image1.max())
    image0, image1 = ((im - low) / (high - low) for im in (image0, image1))
    kwargs = dict(n_scales=3, n_warps=2, n_iters=35, median_filter=3)
    expected = tvl1_optical_flow(image0, image1, **kwargs, tol=0, preset="opencv",
                                 interpolation=interpolation)
    x0, x1 = _to_torch(image0), _to_torch(image1)
    net = TVNet(**kwargs, zoom_factor=0.8, eps=1e-200, preset="opencv",
                interpolation=interpolation)
    flow = net(x0, x1).detach()[0].numpy()
    np.testing.assert_allclose(flow, expected, rtol=0, atol=TOLERANCES["float64"])
    ipol = TVNet(**kwargs, zoom_factor=0.8, eps=1e-200, interpolation=interpolation)
    assert np.abs(ipol(x0, x1).detach()[0].numpy() - expected).max() > 1e-2
    assert "preset='opencv'" in repr(net)
    # On the 8-bit scale, of a pair that does not span 0 to 255: the values as they are.
    dim0, dim1 = (np.rint(40 + 150 * im) for im in (image0, image1))
    expected = tvl1_optical_flow(dim0.astype(np.uint8), dim1.astype(np.uint8), **kwargs, tol=0,
                                 preset="opencv", interpolation=interpolation)
    flow = net(_to_torch(dim0), _to_torch(dim1)).detach()[0].numpy()
    np.testing.assert_allclose(flow, expected, rtol=0, atol=1e-4)  # the reference in float32
    with pytest.raises(ValueError, match="preset must be None or one of 'opencv'"):
        TVNet(preset="ipol")


def test_tol_stops_each_pair_as_the_reference_does():
    """OpenCV's and the reference's stopping rule, pair by pair in a batch: each pair of the
    batch gives the flow it gives alone, and the flow the reference gives with the same tol."""
    kwargs = dict(n_scales=2, n_warps=2, n_iters=60, median_filter=3)
    pairs = []
    for name in ("coffee", "camera"):
        image0, image1, _ = _warped_pair(name, (40, 52))
        if image0.ndim == 3:
            image0, image1 = (im @ np.asarray(_core.LUMA_RGB) for im in (image0, image1))
        low, high = min(image0.min(), image1.min()), max(image0.max(), image1.max())
        pairs.append(tuple((im - low) / (high - low) for im in (image0, image1)))
    net = TVNet(**kwargs, zoom_factor=0.8, eps=1e-200, preset="opencv", interpolation="bicubic",
                tol=0.05)
    x0 = torch.cat([_to_torch(a) for a, _ in pairs])
    x1 = torch.cat([_to_torch(b) for _, b in pairs])
    flows = net(x0, x1).detach().numpy()
    for k, (image0, image1) in enumerate(pairs):
        expected = tvl1_optical_flow(image0, image1, **kwargs, tol=0.05, preset="opencv")
        np.testing.assert_allclose(flows[k], expected, rtol=0, atol=TOLERANCES["float64"])
        fixed = tvl1_optical_flow(image0, image1, **kwargs, tol=0, preset="opencv")
        assert np.abs(fixed - expected).max() > 1e-3  # the rule stopped some warp early
    with pytest.raises(ValueError, match="checkpoint needs a fixed number of iterations"):
        TVNet(tol=0.01, checkpoint=True)
    assert "tol=0.05" in repr(net)


# ------------------------------------------------------------------ brightness match
def _smooth_warped_pair(shape=(96, 128), seed=0):
    """A smooth scene (where an offset reads as a large motion) and its shift by (1.5, -1)."""
    rng = np.random.default_rng(seed)
    scene = ndimage.gaussian_filter(rng.random((shape[0] + 16, shape[1] + 16)), 6)
    scene = ndimage.gaussian_filter(rng.random(scene.shape), 1.5) * 0.3 + scene
    scene = (scene - scene.min()) / np.ptp(scene)
    y, x = np.mgrid[8:8 + shape[0], 8:8 + shape[1]].astype(np.float64)
    image1 = scene[8:8 + shape[0], 8:8 + shape[1]]
    image0 = ndimage.map_coordinates(scene, [y - 1.0, x + 1.5], order=3)
    return image0, image1, np.array([1.5, -1.0])


@pytest.mark.parametrize("gain, offset", [(1.02, -0.01), (0.98, 0.01), (1.0, 0.0)])
def test_match_brightness_stats_recover_a_gain_and_offset_of_a_moving_pair(gain, offset):
    image0, image1, _ = _smooth_warped_pair()
    changed = gain * image0 + offset                   # frame t brighter or darker
    i0, i1 = (torch.from_numpy(im)[None, None] * 255.0 for im in (changed, image1))
    fitted_gain, fitted_offset = network.match_brightness_stats(i0, i1)
    # a * I1 + b ~= I0 = gain * I1(x + w) + 255 offset: the two maps of I1's grey levels differ
    # by a tenth of a grey level (the change is 2.5 to 5 grey levels).
    difference = (fitted_gain - gain) * i1 + fitted_offset - 255.0 * offset
    assert float(difference.pow(2).mean().sqrt()) < 0.1


def test_match_brightness_turns_a_brightness_change_back_into_the_motion():
    image0, image1, (u, v) = _smooth_warped_pair()
    inner = (slice(None), slice(None), slice(12, -12), slice(12, -12))
    structure = dict(n_scales=4, n_warps=2, n_iters=15, zoom_factor=0.5)

    def error(net, frame0):
        flow = net(_to_torch(frame0), _to_torch(image1))[inner].numpy()
        return float(np.hypot(flow[0, 0] - u, flow[0, 1] - v).mean())

    plain, matched = TVNet(**structure), TVNet(**structure, match_brightness=True)
    changed = 1.02 * image0 + 0.01
    assert error(plain, changed) > 5 * error(plain, image0)     # TV-L1 reads it as motion
    assert error(matched, changed) < 1.5 * error(plain, image0) + 0.02


def test_match_brightness_keeps_pairs_of_constant_brightness_as_they_are():
    image0, image1, _ = _smooth_warped_pair()
    x0, x1 = _to_torch(image0), _to_torch(image1)
    structure = dict(n_scales=3, n_warps=1, n_iters=10)
    torch.testing.assert_close(TVNet(**structure, match_brightness=True)(x0, x1),
                               TVNet(**structure)(x0, x1), rtol=0, atol=0)
    # ... each pair of a batch on its own: the changed one is matched, the other is not.
    changed = 1.03 * x0 + 0.01
    both = TVNet(**structure, match_brightness=True)(torch.cat([x0, changed]),
                                                      torch.cat([x1, x1]))
    torch.testing.assert_close(both[:1], TVNet(**structure)(x0, x1), rtol=0, atol=0)
    assert (both[1:] - TVNet(**structure)(changed, x1)).abs().max() > 0.1


def test_match_brightness_aligner_runs_compiled_when_the_flow_does(monkeypatch, compile_policy):
    """Compiled, the coarse alignment of the match runs on the same compiled step as the flow
    (it cost a tenth of the recommended model's time eagerly), and gives the eager result."""
    linearized = []

    def recording(*args):
        if args[0] == "linearize":
            linearized.append(tuple(args[1].shape[-2:]))
        return tvf.fused_kernel(*args)

    _fake_compile(monkeypatch, compile_policy)
    # The iterations' kernel records its calls; the passes over whole frames run as they are.
    monkeypatch.setattr(torch, "compile", lambda fn, **options: (
        recording if fn is tvf.fused_kernel else fn))
    image0, image1, _ = _smooth_warped_pair()
    x0, x1 = _to_torch(1.02 * image0 + 0.01), _to_torch(image1)
    structure = dict(n_scales=3, n_warps=1, n_iters=10, match_brightness=True)
    eager = TVNet(**structure, compiled=False)(x0, x1)
    assert linearized == []
    compiled = TVNet(**structure, compiled=True)(x0, x1)
    height, width = x0.shape[-2:]
    down = max(1.0, min(float(_match.MATCH_DOWNSCALE), min(height, width) / _match.MATCH_MIN_SIDE))
    assert (height, width) in linearized                           # the flow's finest level
    assert (round(height / down), round(width / down)) in linearized  # the aligner's
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-4)


def test_match_brightness_passes_gradients_and_is_refused_when_not_a_bool():
    x0, x1 = _frames(shape=(48, 48), batch=2)
    net = TVNet(n_scales=2, n_warps=1, n_iters=3, train_steps=True, match_brightness=True)
    net.double()(x0 * 1.05 + 0.02, x1).abs().mean().backward()
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in net.parameters() if p.requires_grad)
    with pytest.raises(TypeError, match="match_brightness must be a bool, got str 'yes'"):
        TVNet(match_brightness="yes")
