"""Pieces shared by the NumPy reference and the torch network (NumPy only, never torch).

Everything that both implementations must agree on lives here once (their parameter checks are in
:mod:`sktvnet._validation`): the Gaussian kernel, the cubic interpolation weights, the pyramid
sizes and the image preparation (grey conversion and joint scaling).
"""

from __future__ import annotations

import math

import numpy as np

# Rec. 601 luma weights, the ones OpenCV and Pillow use for RGB -> grey.
LUMA_RGB = (0.299, 0.587, 0.114)
# IPOL tvl1flow constants.
PRESMOOTHING_SIGMA = 0.8
# Standard deviation of the Gaussian blur (the structure) that the texture of a pyramid level
# subtracts from it (TVNet(texture=True), tvl1_optical_flow(texture=True)).
TEXTURE_SIGMA = 2.0
ZOOM_SIGMA_ZERO = 0.6
GAUSSIAN_WINDOW = 5
GRAD_IS_ZERO = 1e-10
MIN_COARSE_SIDE = 16
MIN_SIDE = 4


def catmull_rom_weights(t):
    """The Keys cubic (a = -0.5, Catmull-Rom) weights of the samples at offsets -1, 0, 1, 2 from
    ``floor(x)``, for the fractional part ``t = x - floor(x)``: NumPy arrays for the reference,
    tensors for the network, the same operations in the same order."""
    t2 = t * t
    t3 = t2 * t
    return (
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    )


# The median filter of the flow (``median_filter``) runs before every this many iterations of a
# warp, from its first: OpenCV's DualTVL1 filters once per outer iteration, each of 30 inner ones.
MEDIAN_EVERY = 30
# OpenCV's DualTVL1 drops the pyramid levels whose side falls below this many pixels.
OPENCV_MIN_SIDE = 16


def opencv_cubic_weights(t):
    """The Keys cubic (a = -0.75, OpenCV's INTER_CUBIC) weights of the samples at offsets -1, 0,
    1, 2 from ``floor(x)``, for the fractional part ``t = x - floor(x)``: NumPy arrays or
    tensors alike."""
    a = -0.75
    s = t + 1.0
    r = 1.0 - t
    w0 = ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a
    w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    w2 = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0
    return w0, w1, w2, 1.0 - w0 - w1 - w2


def opencv_pyramid_shapes(height: int, width: int, n_scales: int,
                          zoom_factor: float) -> list[tuple[int, int]]:
    """Shapes of OpenCV DualTVL1's pyramid, finest first: each side ``round(n * z)`` of the
    previous one, at most ``n_scales`` levels, none with a side below ``OPENCV_MIN_SIDE``."""
    shapes = [(int(height), int(width))]
    while len(shapes) < n_scales:
        h, w = (int(round(n * zoom_factor)) for n in shapes[-1])
        if min(h, w) < OPENCV_MIN_SIDE:
            break
        shapes.append((h, w))
    return shapes


def zoom_size(height: int, width: int, zoom_factor: float) -> tuple[int, int]:
    """Size of the next coarser level: ``int(n * z + 0.5)`` for each side (IPOL's rule)."""
    return int(height * zoom_factor + 0.5), int(width * zoom_factor + 0.5)


def max_scales(height: int, width: int, zoom_factor: float) -> int:
    """Most pyramid levels IPOL allows: ``1 + log(hypot(H, W) / 16) / log(1 / zoom_factor)``.

    The coarsest level then keeps a diagonal of about 16 pixels; at least one level is kept.
    """
    levels = 1 + math.log(math.hypot(height, width) / MIN_COARSE_SIDE) / math.log(1.0 / zoom_factor)
    return max(1, int(levels))


def pyramid_shapes(
    height: int, width: int, n_scales: int | None, zoom_factor: float
) -> list[tuple[int, int]]:
    """Shapes of the pyramid levels, finest first.

    ``n_scales`` is capped by :func:`max_scales` (IPOL's rule); ``None`` takes that maximum.
    """
    cap = max_scales(height, width, zoom_factor)
    n_scales = cap if n_scales is None else min(n_scales, cap)
    shapes = [(int(height), int(width))]
    while len(shapes) < n_scales:
        shapes.append(zoom_size(*shapes[-1], zoom_factor))
    return shapes


def gaussian_kernel1d(sigma: float) -> np.ndarray:
    """Symmetric, normalised 1-D Gaussian of radius ``int(5 * sigma)`` (IPOL's window), float64."""
    radius = int(GAUSSIAN_WINDOW * sigma)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return kernel / kernel.sum()


def zoom_sigma(zoom_factor: float) -> float:
    """Blur applied before subsampling by ``zoom_factor`` (anti-aliasing, IPOL's constant 0.6)."""
    return ZOOM_SIGMA_ZERO * math.sqrt(1.0 / (zoom_factor * zoom_factor) - 1.0)


def mirror_indices(n: int, radius: int) -> np.ndarray:
    """Indices of a length-``n`` axis padded by ``radius`` on both sides, mirrored about the end
    samples (``c b | a b c | b a``), repeated as often as needed for short axes."""
    idx = np.arange(-radius, n + radius)
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n, period - idx, idx)


# Brightness compensation (``compensate_brightness``): the residuals |I1w - I0| of a warp are
# weighted by 1 / (1 + (r / s)^2) with s this many times their mean, so that the pixels that the
# current flow does not align yet (large residuals) barely move the fitted gain and offset.
# Held-out trials (frozen TVNet-8-2-15, scikit-image test images): 2 and 4 fitted a 2% change
# less well (0.20 and 0.13 px against 0.115), plain moments (no weights) cost 16% on large
# motions; 8 left exact warps and large motions within 5% of no compensation.
BRIGHTNESS_RESIDUAL_SCALE = 8.0
# The fitted gain is kept in this range, so that a flat or saturated level cannot blow up.
BRIGHTNESS_GAIN_RANGE = (0.5, 2.0)


def brightness_fit(i0: np.ndarray, i1w: np.ndarray, inside: np.ndarray):
    """Gain ``a`` and offset ``b`` with ``a * i1w + b ~= i0`` on the pixels ``inside``: weighted
    least squares that discount large residuals (see ``BRIGHTNESS_RESIDUAL_SCALE``)."""
    w = inside.astype(i0.dtype)
    count = max(w.sum(), 1.0)
    r = (i1w - i0) * w
    scale = max(BRIGHTNESS_RESIDUAL_SCALE * np.abs(r).sum() / count, 1e-6)
    w = w / (1.0 + (r / scale) ** 2)
    total = max(w.sum(), 1e-12)
    m0 = (w * i0).sum() / total
    m1 = (w * i1w).sum() / total
    cov = (w * (i0 - m0) * (i1w - m1)).sum() / total
    var = (w * (i1w - m1) ** 2).sum() / total
    gain = cov / var if var > 1e-12 else 1.0
    gain = min(max(gain, BRIGHTNESS_GAIN_RANGE[0]), BRIGHTNESS_GAIN_RANGE[1])
    return gain, m0 - gain * m1


def normalize_pair(image0: np.ndarray, image1: np.ndarray):
    """Scale two frames jointly to [0, 255] (min and max taken over both); constant pairs give 0."""
    low = min(image0.min(), image1.min())
    high = max(image0.max(), image1.max())
    span = high - low
    if span <= 0:
        return np.zeros_like(image0), np.zeros_like(image1)
    # Divide first: 255 / span overflows to inf when the span is subnormal.
    return (image0 - low) / span * 255.0, (image1 - low) / span * 255.0
