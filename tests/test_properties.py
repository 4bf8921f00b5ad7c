"""Property-based tests (hypothesis) of the reference and of TVNet over random shapes and values.

A few dozen examples per property keep this file fast; benchmarks/fuzz_inputs.py runs thousands.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from sktvnet import TVNet, tvl1_optical_flow

# derandomize: the same examples in every run, so CI is reproducible; benchmarks/fuzz_inputs.py
# explores new ones.
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

shapes = st.tuples(st.integers(4, 40), st.integers(4, 40))
scales = st.sampled_from([1e-6, 1.0, 255.0, 1e6])


@st.composite
def frame_pairs(draw):
    shape = draw(shapes)
    finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
    image0 = draw(arrays(np.float32, shape, elements=finite))
    image1 = draw(arrays(np.float32, shape, elements=finite))
    return image0 * draw(scales), image1


@SETTINGS
@given(frame_pairs(), st.sampled_from(["bicubic", "bilinear"]))
def test_reference_flow_is_finite_and_shaped(pair, interpolation):
    image0, image1 = pair
    flow = tvl1_optical_flow(image0, image1, n_iters=10, n_warps=2, interpolation=interpolation)
    assert flow.shape == (2,) + image0.shape
    assert np.isfinite(flow).all()


@SETTINGS
@given(frame_pairs())
def test_reference_identical_frames_give_zero(pair):
    image, _ = pair
    assert not tvl1_optical_flow(image, image.copy(), n_iters=10).any()


@SETTINGS
@given(frame_pairs(), st.integers(1, 3))
def test_tvnet_flow_is_finite_and_shaped(pair, batch):
    image0, image1 = (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in pair)
    x0 = image0.expand(batch, 1, *image0.shape)
    x1 = image1.expand(batch, 1, *image1.shape)
    with torch.inference_mode():
        flow = TVNet(n_scales=2, n_iters=5, compiled=False)(x0, x1)
    assert flow.shape == (batch, 2) + tuple(image0.shape)
    assert torch.isfinite(flow).all()


@SETTINGS
@given(frame_pairs())
def test_tvnet_identical_frames_give_zero(pair):
    image = torch.from_numpy(np.ascontiguousarray(pair[0], dtype=np.float32))[None, None]
    with torch.inference_mode():
        assert not TVNet(n_iters=5, compiled=False)(image, image.clone()).any()


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.integers(0, 2**16), st.floats(-2.0, 2.0), st.floats(-2.0, 2.0))
def test_translation_of_a_texture_is_recovered(seed, u, v):
    texture = ndimage.gaussian_filter(np.random.default_rng(seed).random((48, 56)), 1.5)
    image0 = ndimage.shift(texture, (-v, -u), order=3, mode="nearest")
    inner = (slice(None), slice(8, -8), slice(8, -8))
    flow = tvl1_optical_flow(image0, texture)[inner]
    assert np.median(flow[0]) == pytest.approx(u, abs=0.15)
    assert np.median(flow[1]) == pytest.approx(v, abs=0.15)
    with torch.inference_mode():
        net = TVNet(n_scales=3, n_warps=3, n_iters=30, compiled=False)
        torch_flow = net(torch.from_numpy(image0)[None, None], torch.from_numpy(texture)[None, None])
    torch_flow = torch_flow[0].numpy()[inner]
    assert np.median(torch_flow[0]) == pytest.approx(u, abs=0.15)
    assert np.median(torch_flow[1]) == pytest.approx(v, abs=0.15)
