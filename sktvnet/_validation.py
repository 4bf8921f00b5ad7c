"""Checks of values, shapes and types, for every layer of the package (NumPy only).

Public entry points validate once, here, and raise ``TypeError`` or ``ValueError`` with what was
expected, what was received and, where one helps, a hint. The private kernels behind them trust
their input.

The TV-L1 constants and structure are described once, in :data:`TVNET_SPECS`: the plain checker
:func:`check_solver_params` (reference, functional, network) and the scikit-learn
``_parameter_constraints`` of the estimators (:func:`sklearn_constraints`) are both derived from
it, so that a value one accepts the other accepts too.

This module never imports torch or scikit-learn at import time, so that the NumPy side of the
package stays light: tensor checks recognise a tensor through ``sys.modules`` (no tensor can
exist before torch is imported), and the scikit-learn intervals are built on demand.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import sys
from dataclasses import dataclass

import numpy as np

from ._core import MIN_SIDE


#: How warps and pyramids may interpolate between pixels (the reference, TVNet, the estimators).
INTERPOLATIONS = ("bilinear", "bicubic")


def check_interpolation(interpolation) -> str:
    """``interpolation`` if it is one of :data:`INTERPOLATIONS`, else a ValueError naming them."""
    if not isinstance(interpolation, str) or interpolation not in INTERPOLATIONS:
        options = " or ".join(map(repr, sorted(INTERPOLATIONS)))
        raise ValueError(f"interpolation must be {options}, got {interpolation!r}")
    return interpolation


#: Named settings of the reference solver (``tvl1_optical_flow(preset=...)``).
PRESETS = ("opencv",)


def check_preset(preset) -> str | None:
    """``preset`` if it is None or one of :data:`PRESETS`, else a ValueError naming them."""
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        options = ", ".join(map(repr, PRESETS))
        raise ValueError(f"preset must be None or one of {options}, got {preset!r}")
    return preset


def check_median_filter(median_filter) -> int:
    """``median_filter`` as an int: 0 (off) or an odd window side >= 3."""
    value = check_int("median_filter", median_filter, low=0)
    if value != 0 and (value < 3 or value % 2 == 0):
        raise ValueError(f"median_filter must be 0 (off) or an odd window side >= 3, got {value}")
    return value


_TEXTURE_FORMS = "a bool, a real number in [0, 1] or a sequence of them, one per level"


def check_texture(texture, n_scales: int | None = None) -> tuple[float, ...]:
    """The share of each level's structure (its Gaussian blur) that ``texture`` subtracts,
    finest level first; the last share holds for every coarser level. False is 0, True 1; a
    sequence gives one share per level and may not be longer than ``n_scales``."""
    if isinstance(texture, (bool, numbers.Real)):
        shares = [texture]
    elif isinstance(texture, (list, tuple, np.ndarray)) and np.ndim(texture) == 1 and len(texture):
        shares = list(texture)
    else:
        raise TypeError(f"texture must be {_TEXTURE_FORMS}, got {type(texture).__name__} "
                        f"{texture!r}")
    if not all(isinstance(w, (bool, numbers.Real)) for w in shares):
        raise TypeError(f"texture must be {_TEXTURE_FORMS}, got {texture!r}")
    if not all(0.0 <= float(w) <= 1.0 for w in shares):  # NaN fails too
        raise ValueError(f"texture must be {_TEXTURE_FORMS}, got {texture!r}")
    if n_scales is not None and len(shares) > n_scales:
        raise ValueError(f"texture has {len(shares)} shares, one per level, but n_scales is "
                         f"{n_scales}")
    return tuple(float(w) for w in shares)


def canonical_texture(texture):
    """``texture``, checked, in the form weights files record and compare: a bool as it is, a
    number as a float, a sequence as a tuple of floats (JSON turns tuples into lists)."""
    shares = check_texture(texture)
    if isinstance(texture, bool):
        return texture
    return shares[0] if isinstance(texture, numbers.Real) else shares


def texture_shares(texture, n_levels: int) -> list[float]:
    """The share of the structure that ``texture`` subtracts at each of ``n_levels`` levels."""
    shares = check_texture(texture)
    return [shares[min(level, len(shares) - 1)] for level in range(n_levels)]


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------
def check_real(name, value, *, low=None, high=None, low_open=True, high_open=False) -> float:
    """Return ``value`` as a float after checking it is a finite real number in the interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_int(name, value, *, low=1) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_size(shape, name: str = "shape", *, low: int = MIN_SIDE,
               none_ok: bool = False) -> tuple[int, int] | None:
    """Return a pair of integers ``(H, W)``, each >= ``low`` (or None where ``none_ok``)."""
    if shape is None and none_ok:
        return None
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in shape)
    ):
        alternative = " or None" if none_ok else ""
        raise TypeError(f"{name} must be a pair of integers (H, W){alternative}, got {shape!r}")
    if min(shape) < low:
        raise ValueError(f"{name} must be at least ({low}, {low}), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


# --------------------------------------------------------------------------------------------
# TV-L1 constants and structure: one table, two checkers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealSpec:
    """A real number in an interval with open or closed ends (``None``: unbounded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = True
    high_open: bool = False

    def check(self, name, value):
        return check_real(name, value, low=self.low, high=self.high,
                          low_open=self.low_open, high_open=self.high_open)

    def constraint(self):
        Interval = _sklearn_interval()
        # An unbounded end is open, so that infinity is refused as check_real refuses it.
        closed = {(False, False): "both", (False, True): "left",
                  (True, False): "right", (True, True): "neither"}
        return [Interval(numbers.Real, self.low, self.high,
                         closed=closed[(self.low is None or self.low_open,
                                        self.high is None or self.high_open)])]


@dataclass(frozen=True)
class IntSpec:
    """An integer >= ``low``; ``None`` allowed when ``none_ok`` ("as many as possible")."""

    low: int = 1
    none_ok: bool = False

    def check(self, name, value):
        if value is None and self.none_ok:
            return None
        return check_int(name, value, low=self.low)

    def constraint(self):
        interval = _sklearn_interval()(numbers.Integral, self.low, None, closed="left")
        return [interval, None] if self.none_ok else [interval]


@functools.cache
def _sklearn_interval():
    """scikit-learn's ``Interval``, refusing bools as :func:`check_real` and :func:`check_int` do
    (for scikit-learn, True is the Real 1)."""
    from sklearn.utils._param_validation import Interval

    class StrictInterval(Interval):
        def is_satisfied_by(self, val):
            return not isinstance(val, bool) and super().is_satisfied_by(val)

    return StrictInterval


# tau <= 1/4 keeps the dual update of Eq. 12 stable (Chambolle); zoom_factor < 1 shrinks the
# pyramid; eps > 0 keeps the divisions of Eq. 11-12 finite where the gradient vanishes.
SOLVER_SPECS = {
    "tau": RealSpec(low=0.0, high=0.25),
    "lmbda": RealSpec(low=0.0),
    "theta": RealSpec(low=0.0),
    "zoom_factor": RealSpec(low=0.0, high=1.0, high_open=True),
    "n_scales": IntSpec(none_ok=True),
    "n_warps": IntSpec(),
    "n_iters": IntSpec(),
}
# TVNet owns filters per level, so it needs the number of levels up front (no None).
TVNET_SPECS = {**SOLVER_SPECS, "n_scales": IntSpec(), "eps": RealSpec(low=0.0)}


def check_solver_params(*, tau, lmbda, theta, zoom_factor, n_scales, n_warps, n_iters) -> dict:
    """Validate the TV-L1 constants and structure shared by every layer; return them cleaned.

    ``n_scales=None`` (as many levels as the image allows) passes through unchanged.
    """
    given = dict(tau=tau, lmbda=lmbda, theta=theta, zoom_factor=zoom_factor,
                 n_scales=n_scales, n_warps=n_warps, n_iters=n_iters)
    return {name: SOLVER_SPECS[name].check(name, value) for name, value in given.items()}


def check_tvnet_params(**params) -> dict:
    """Validate TVNet's structure and constants (:data:`TVNET_SPECS`); return them cleaned."""
    if set(params) != set(TVNET_SPECS):
        raise TypeError(f"expected the parameters {sorted(TVNET_SPECS)}, got {sorted(params)}")
    return {name: TVNET_SPECS[name].check(name, value) for name, value in params.items()}


def sklearn_constraints(specs: dict) -> dict:
    """scikit-learn ``_parameter_constraints`` entries equivalent to ``specs``' checkers."""
    return {name: spec.constraint() for name, spec in specs.items()}


# --------------------------------------------------------------------------------------------
# Tensors (duck-typed: torch is imported by whoever made the tensor)
# --------------------------------------------------------------------------------------------
def is_tensor(x) -> bool:
    """Whether ``x`` is a ``torch.Tensor``, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def check_tensor(x, name: str, *, channels: tuple[int, ...] | None = None) -> None:
    """A floating-point tensor ``(B, C, H, W)`` with C in ``channels`` (any C if None)."""
    if not is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if channels is not None and x.shape[1] not in channels:
        expected = " or ".join(str(c) for c in channels)
        raise ValueError(
            f"{name} must have {expected} channel(s) (shape (B, C, H, W)), got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            "convert it with .float() or .double()"
        )


def check_like(x, ref, name: str, ref_name: str, *, spatial_only=False) -> None:
    """``x`` matches ``ref`` in shape (or batch and spatial size), dtype and device."""
    got, want = (x.shape[-2:], ref.shape[-2:]) if spatial_only else (x.shape, ref.shape)
    if got != want or x.shape[0] != ref.shape[0]:
        what = "batch size and height, width" if spatial_only else "shape"
        raise ValueError(
            f"{name} and {ref_name} must have the same {what}, "
            f"got {tuple(x.shape)} and {tuple(ref.shape)}"
        )
    if x.dtype != ref.dtype:
        raise TypeError(
            f"{name} and {ref_name} must have the same dtype, got {x.dtype} and {ref.dtype}"
        )
    check_same_device(x, ref, name, ref_name)


def check_same_device(x, ref, name: str, ref_name: str) -> None:
    if x.device != ref.device:
        raise ValueError(
            f"{name} and {ref_name} must be on the same device, got {x.device} and {ref.device}"
        )


def check_taps(weight, n_taps: int, name: str) -> None:
    """Filter taps: None, or a floating tensor ``(n_taps,)`` or ``(2, n_taps)``."""
    if weight is None:
        return
    if not is_tensor(weight):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(weight).__name__}")
    if tuple(weight.shape) not in ((n_taps,), (2, n_taps)):
        raise ValueError(
            f"{name} must have shape ({n_taps},) (shared by x and y) or (2, {n_taps}) "
            f"(x taps then y taps), got {tuple(weight.shape)}"
        )
    if not weight.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {weight.dtype}")


def check_shape_arg(shape, name: str = "shape") -> tuple[int, int]:
    """An output size ``(H, W)`` of positive ints (anything ``int()`` accepts, e.g. 0-d tensors)."""
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of ints (H, W), got {shape!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"{name} must be positive, got {(height, width)}")
    return height, width


# --------------------------------------------------------------------------------------------
# Networks and videos
# --------------------------------------------------------------------------------------------
def check_head_sizes(in_channels, n_classes, width, dropout) -> None:
    """Sizes of a classification head: channels and classes >= 1, width a multiple of 4."""
    for name, value, low in (("in_channels", in_channels, 1), ("n_classes", n_classes, 1),
                             ("width", width, 4)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if width % 4:
        raise ValueError(f"width must be a multiple of 4 (the blocks split it in 4), got {width}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")


def check_frame_side(height: int, width: int, name: str, *, low: int = MIN_SIDE) -> None:
    """Frames of ``name`` are at least ``low`` x ``low`` pixels."""
    if min(height, width) < low:
        raise ValueError(f"{name} frames must be at least {low}x{low} pixels, "
                         f"got {height}x{width}")


def check_mask(mask, valid_shape: tuple) -> None:
    """A boolean mask, NumPy array or tensor, broadcastable to the ``(N, H, W)`` of the flows it
    selects pixels of (the end-point errors of :mod:`sktvnet.metrics` and :mod:`sktvnet.losses`)."""
    tensor = is_tensor(mask)
    if str(mask.dtype) not in ("bool", "torch.bool"):
        kind, hint = ("tensor", "mask.bool()") if tensor else ("array", "mask.astype(bool)")
        raise TypeError(f"mask must be a boolean {kind} (True marks a valid pixel), got dtype "
                        f"{mask.dtype}; use {hint} if it holds 0/1")
    valid_shape = tuple(valid_shape)
    try:
        shape = np.broadcast_shapes(tuple(mask.shape), valid_shape)
    except ValueError:
        shape = None
    if shape != valid_shape:
        raise ValueError(f"mask must have shape {valid_shape[-2:]} or be broadcastable to "
                         f"{valid_shape}, got {tuple(mask.shape)}")


# --- arrays and flows (io, metrics)
# Middlebury .flo files mark unknown flow with components above this magnitude (they store 1e10).
UNKNOWN_FLOW_THRESHOLD = 1e9


def check_path(path, name: str = "path") -> str:
    """``path`` (str, bytes or os.PathLike) as a str, or a TypeError naming ``name``."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fsdecode(path)


def check_flow(flow, name: str = "flow", *, batched: bool = False) -> np.ndarray:
    """``flow`` as an ndarray ``(2, H, W)`` of real numbers (dtype kept), or a clear error.

    With ``batched=True`` a stack ``(N, 2, H, W)`` is accepted too. A flow needs at least one pixel.
    """
    array = np.asarray(flow)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    ndims = (3, 4) if batched else (3,)
    if array.ndim not in ndims or array.shape[-3] != 2:
        hint = ""
        if array.ndim in ndims and array.shape[-1] == 2:
            hint = (
                "; an (H, W, 2) array (OpenCV's layout) becomes (2, H, W) with "
                f"np.moveaxis(flow, -1, {-3 if batched else 0})"
            )
        shapes = "(2, H, W) or (N, 2, H, W)" if batched else "(2, H, W)"
        raise ValueError(f"{name} must have shape {shapes}, u then v, got {array.shape}{hint}")
    if array.shape[-2] < 1 or array.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one pixel, got shape {array.shape}")
    return array


def known_flow(flow: np.ndarray) -> np.ndarray:
    """Pixels of ``flow`` ``(..., 2, H, W)`` whose two components are finite and <= 1e9 in size.

    Returns a boolean array ``(..., H, W)``. Colour coding (:mod:`sktvnet.visualization`) and the
    metrics (:mod:`sktvnet.metrics`) both use it, so that they agree on what "unknown" means.
    """
    with np.errstate(invalid="ignore"):
        known = np.isfinite(flow) & (np.abs(flow) <= UNKNOWN_FLOW_THRESHOLD)
    return known[..., 0, :, :] & known[..., 1, :, :]
