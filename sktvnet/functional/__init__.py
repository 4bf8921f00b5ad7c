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

from ._differences import _divergence, centered_gradient, divergence, forward_gradient
from ._image import (
    _zoom_out,
    gaussian_blur,
    normalize_pair,
    pyramid,
    texture,
    to_grey,
    zoom_in,
    zoom_out,
)
from ._median import median_filter
from ._step import tvl1_iteration
from ._taps import CENTERED_TAPS, DIVERGENCE_TAPS, FORWARD_TAPS
from ._warp import compensate_brightness, warp

# The kernels of TVNet and the losses, which validate their inputs once: the functions above
# without their checks (``*_unchecked``, with the arguments already resolved: ``bicubic`` rather
# than ``interpolation``, pyramid ``shapes`` rather than ``n_scales``), and the operations that
# have no checked form (OpenCV's pyramid, resize, warp and scaling for ``preset="opencv"``, the
# learnable pre-smoothing, one TV-L1 step on 0-d tensor step sizes). Public for sktvnet's other
# modules, outside ``__all__``: they are not part of the documented API.
from ._differences import centered_gradient_unchecked, forward_gradient_unchecked
from ._image import (
    gaussian_blur_learnable,
    gaussian_blur_unchecked,
    normalize_pair_unchecked,
    pyramid_unchecked,
    texture_unchecked,
    to_grey_unchecked,
    zoom_in_unchecked,
)
from ._median import median_filter_unchecked
from ._opencv import opencv_pyramid, opencv_resize, opencv_scale, opencv_warp
from ._step import tvl1_step
from ._warp import compensate_brightness_unchecked, warp_unchecked
# ... and TVNet's iteration kernels: the step on tensor step sizes and its inference forms on
# zero-bordered buffers, the data term of a warp, the bodies of the exported loops, and the
# function that TVNet compiles (``fused_kernel``).
from ._inference import (
    LOOP_BODIES,
    RESAMPLING_KERNELS,
    fused_kernel,
    iterate_loop,
    linearize,
    loop_iteration,
    loop_warp,
    padded_step,
    padded_step_inplace,
    padded_views,
    scan,
    taps_per_iteration,
    uniform_step,
)

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
