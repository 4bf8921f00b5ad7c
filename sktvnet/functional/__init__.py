"""Stateless torch operations of TV-L1 optical flow, the layers of TVNet.

Every function takes images ``(B, C, H, W)`` (flows ``(B, 2, H, W)``, u first) and works on the
device and in the dtype of its input; kernels are built there. The arithmetic mirrors the NumPy
reference (:mod:`sktvnet.reference`) operation by operation, so that a frozen :class:`sktvnet.TVNet`
computes the same function as ``tvl1_optical_flow(..., interpolation="bilinear", tol=0)``.

The difference filters accept optional taps (``weight``), the trainable parts of TVNet
(Section 4.2 of Fan et al. 2018); ``weight=None`` uses the fixed taps of TV-L1.
"""

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from .._threads import before_torch as _before_torch

_before_torch()

from ._differences import (
    _centered_gradient,
    _divergence,
    _forward_gradient,
    centered_gradient,
    divergence,
    forward_gradient,
)
from ._image import (
    _gaussian_blur,
    _gaussian_blur_learnable,
    _normalize_pair,
    _pyramid,
    _texture,
    _zoom_in,
    _zoom_out,
    _to_grey,
    gaussian_blur,
    normalize_pair,
    pyramid,
    texture,
    to_grey,
    zoom_in,
    zoom_out,
)
from ._median import _median_filter, median_filter
from ._opencv import _opencv_pyramid, _opencv_resize, _opencv_scale, _opencv_warp
from ._step import _tvl1_step, tvl1_iteration
from ._taps import CENTERED_TAPS, DIVERGENCE_TAPS, FORWARD_TAPS
from ._warp import _compensate_brightness, _warp, compensate_brightness, warp

__all__ = [
    "to_grey",
    "texture",
    "normalize_pair",
    "gaussian_blur",
    "centered_gradient",
    "forward_gradient",
    "divergence",
    "warp",
    "compensate_brightness",
    "median_filter",
    "zoom_out",
    "zoom_in",
    "pyramid",
    "tvl1_iteration",
]
