"""Checks of values, shapes and types, for every layer of the package (NumPy only, no torch).

Public entry points validate once, with these checkers, and raise ``TypeError`` or ``ValueError``
with what was expected, what was received and, where one helps, a hint.
"""

from __future__ import annotations

import os

import numpy as np


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
