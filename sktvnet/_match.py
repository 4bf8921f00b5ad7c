"""The brightness match of ``TVNet(match_brightness=True)``: the second frame's grey levels
mapped by the gain and offset that match them to the first's, fitted on a coarse alignment that
no change of brightness can mislead. The aligner, a frozen TVNet, is the caller's
(``sktvnet.network`` keeps one per device)."""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _compile, _core
from . import functional as tvf

# The brightness match (``match_brightness``): the coarse alignment it fits on, and the fit.
# Tuned on scikit-image's test images (never the held-out sources); see match_brightness_stats.
MATCH_DOWNSCALE = 3            # the alignment runs on frames this many times smaller
MATCH_MIN_SIDE = 16            # ... but never under this many pixels a side
MATCH_ALIGNER = dict(n_scales=4, n_warps=2, n_iters=20, zoom_factor=0.5, texture=True)
MATCH_FIT_SIGMA = 4.0          # both frames blurred so before the fit (px at full size)
MATCH_FIT_ITERS = 8            # reweightings of the robust fit
MATCH_MIN_CHANGE = 0.25        # grey levels (of 255): smaller fitted changes are not applied


def match_brightness_stats(i0: Tensor, i1: Tensor, aligner, *,
                           compiled: bool = False) -> tuple[Tensor, Tensor]:
    """Gain ``a`` and offset ``b`` (each ``(B, 1, 1, 1)``, no gradient) with
    ``a * I1(x + w(x)) + b ~= I0(x)``, where ``w`` is a coarse flow that no change of brightness
    can mislead.

    A change of brightness between two frames (exposure, flicker) is motion to TV-L1: on smooth
    regions, where a small difference of grey levels is explained by a large motion, a 1% offset
    turns a still pair into motions of many pixels, at every level of the pyramid. Fitting the
    change per warp against the current flow (``compensate_brightness``) cannot tell it from a
    motion there either, since both explain the same difference. This fit breaks the tie with
    an alignment that ignores brightness:

    1. frames ``MATCH_DOWNSCALE`` times smaller (area average) are aligned by a frozen TV-L1
       solved on their texture (:func:`sktvnet.functional.texture`), blind to gains and
       offsets, ``MATCH_ALIGNER``;
    2. ``I1`` is warped by that flow, zoomed to the full size;
    3. both are blurred (sigma ``MATCH_FIT_SIGMA``), so that the warp's own interpolation blur
       does not bias the gain, and a gain and offset are fitted by least squares reweighted
       ``MATCH_FIT_ITERS`` times by ``1 / (1 + (r / mean|r|)^2)``, over the pixels whose blur
       window stays inside the frame after the warp: the pixels the coarse flow misaligns
       (occlusions, motion boundaries) fall out of the fit.

    ``aligner`` is that frozen TV-L1, a :class:`sktvnet.TVNet` of ``MATCH_ALIGNER``
    (:func:`sktvnet.network.match_brightness_stats` gives TVNet's own, one per device).
    ``compiled``: the alignment's iterations run on TVNet's compiled step, the graph the main
    flow uses when it runs compiled (no compilation of its own), and the full-size warp and the
    blurs on the compile policy's compiled passes (``sktvnet._compile.CompilePolicy.resample``).
    """
    batch, _, height, width = i0.shape
    down = max(1.0, min(float(MATCH_DOWNSCALE), min(height, width) / MATCH_MIN_SIDE))
    small = (max(1, round(height / down)), max(1, round(width / down)))
    # No gradient flows here; while exporting (under inference mode already) a no_grad region
    # would wrap the aligner's loops in a region that torch.export cannot nest loops in.
    with contextlib.nullcontext() if torch.compiler.is_exporting() else torch.no_grad():
        pair = F.interpolate(torch.cat([i0, i1], dim=1), size=small, mode="area")
        coarse = aligner._flow(pair[:, 0:1], pair[:, 1:2], compiled=compiled,
                               use_checkpoint=False)
        scale = torch.tensor([width / small[1], height / small[0]], dtype=i0.dtype,
                             device=i0.device).view(1, 2, 1, 1)
        flow = F.interpolate(coarse, size=(height, width), mode="bilinear",
                             align_corners=False) * scale
        # Warped at full size (the small frames' own interpolation blur would bias the gain),
        # then fitted at the small size: the blur leaves nothing finer to see.
        runner = _compile.policy().resample if compiled else None
        warped, outside = (tvf.warp_unchecked(i1, flow) if runner is None
                           else runner("warp_bilinear", i1, flow))
        fit = F.interpolate(torch.cat([i0, warped, outside.to(i0.dtype)], dim=1), size=small,
                            mode="area")
        sigma = MATCH_FIT_SIGMA / down
        radius = int(math.ceil(3 * sigma))
        # Pixels whose blur window reaches outside the frame: a max filter, one axis at a time.
        outside = fit[:, 2:3]
        outside = F.max_pool2d(outside, (2 * radius + 1, 1), 1, (radius, 0))
        outside = F.max_pool2d(outside, (1, 2 * radius + 1), 1, (0, radius)) > 0
        blurred = tvf.gaussian_blur_unchecked(fit[:, 0:2], sigma, runner=runner)
        b0, b1 = blurred[:, 0:1], blurred[:, 1:2]
        inside = (~outside).to(i0.dtype)
        dims = (1, 2, 3)
        weight = inside
        gain = torch.ones(batch, 1, 1, 1, dtype=i0.dtype, device=i0.device)
        m0 = m1 = torch.zeros_like(gain)
        residual = (b1 - b0) * inside
        for _ in range(MATCH_FIT_ITERS):
            count = weight.sum(dims, keepdim=True).clamp_min(1.0)
            spread = ((residual.abs() * weight).sum(dims, keepdim=True) / count).clamp_min(1e-6)
            weight = inside / (1.0 + (residual / spread) ** 2)
            total = weight.sum(dims, keepdim=True).clamp_min(1e-12)
            m0 = (weight * b0).sum(dims, keepdim=True) / total
            m1 = (weight * b1).sum(dims, keepdim=True) / total
            d1 = b1 - m1
            var = (weight * d1 * d1).sum(dims, keepdim=True)
            flat = var <= 1e-12 * total
            cov = (weight * (b0 - m0) * d1).sum(dims, keepdim=True)
            gain = torch.where(flat, torch.ones_like(var),
                               cov / torch.where(flat, torch.ones_like(var), var))
            gain = gain.clamp(*_core.BRIGHTNESS_GAIN_RANGE)
            residual = (gain * d1 + m0 - b0) * inside
    return gain, m0 - gain * m1


def match_brightness(i0: Tensor, i1: Tensor, aligner, *, compiled: bool = False) -> Tensor:
    """``i1`` (grey levels in [0, 255]) mapped by :func:`match_brightness_stats`, where the change
    is large enough to be measured: pairs whose fitted change is under ``MATCH_MIN_CHANGE`` grey
    levels (root mean square over the frame) keep ``i1`` as it is. That is the size of the fit's
    own error on pairs of constant brightness, a tenth of what a 1% change of exposure makes."""
    gain, offset = match_brightness_stats(i0, i1, aligner, compiled=compiled)
    change = (gain - 1.0) * i1 + offset
    rms = change.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    return torch.where(rms >= MATCH_MIN_CHANGE, i1 + change, i1)
