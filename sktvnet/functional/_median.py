"""Median filtering of a flow (OpenCV DualTVL1's outlier removal), with replicated borders."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .._validation import check_median_filter as _check_median_filter
from .._validation import check_tensor as _check_tensor


def median_filter_unchecked(field: Tensor, size: int) -> Tensor:
    pad = size // 2
    # Replicated borders, as cv2.medianBlur and scipy.ndimage.median_filter(mode="nearest").
    padded = F.pad(field, (pad, pad, pad, pad), mode="replicate")
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)
    # An odd count of values: the median is the middle one, no averaging of two.
    return windows.reshape(*field.shape, size * size).median(dim=-1).values


def median_filter(field: Tensor, size: int) -> Tensor:
    """Median of the ``size x size`` window around every pixel, channel by channel.

    Pixels beyond the border repeat the border pixel (``"nearest"``, OpenCV's BORDER_REPLICATE),
    so the result equals ``scipy.ndimage.median_filter(x, size, mode="nearest")`` and
    ``cv2.medianBlur`` (which replicates too) on every pixel. OpenCV's DualTVL1 applies it to
    the flow between its outer iterations (``TVNet(median_filter=5)``). The gradient flows to
    the value chosen as the median of each window.

    Shape:
        - field: ``(B, C, H, W)``, floating point.
        - output: ``(B, C, H, W)``.

    Parameters
    ----------
    field : Tensor of shape (B, C, H, W)
        Images or flows (C = 2, u then v), filtered channel by channel.
    size : int
        Side of the square window: 0 returns ``field`` unchanged, else odd and >= 3.

    Returns
    -------
    Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import median_filter
    >>> flow = torch.zeros(1, 2, 5, 5)
    >>> flow[0, 0, 2, 2] = 9.0  # an outlier
    >>> float(median_filter(flow, 3).abs().max())
    0.0
    """
    _check_tensor(field, "field")
    size = _check_median_filter(size)
    if size == 0:
        return field
    return median_filter_unchecked(field, size)
