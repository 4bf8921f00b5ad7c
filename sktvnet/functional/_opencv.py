"""The image operations of OpenCV's DualTVL1 where they differ from IPOL's (``preset="opencv"``):
its pyramid and flow resizing (``cv2.resize``, bilinear on pixel centres, no blur) and its warp
(``cv2.remap``: Keys cubic a = -0.75, or bilinear, with a zero border). The same arithmetic, in
the same order, as :mod:`sktvnet.reference` with ``preset="opencv"``."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _core
from ._image import _resample
from ._warp import _sample_grid


def opencv_resize(image: Tensor, shape: tuple[int, int], scale: float | None = None) -> Tensor:
    """Bilinear resize on pixel centres, as ``cv2.resize(INTER_LINEAR)``: output pixel ``i``
    samples ``(i + 0.5) * s - 0.5`` clamped to the image, with ``s`` the given ``scale`` (OpenCV's
    ``1 / fx`` when it resizes by a factor) or the size ratio per axis (when it resizes to a size).
    """
    height, width = image.shape[-2:]
    sy, sx = (height / shape[0], width / shape[1]) if scale is None else (scale, scale)
    rows = [min(max((i + 0.5) * sy - 0.5, 0.0), height - 1) for i in range(shape[0])]
    cols = [min(max((j + 0.5) * sx - 0.5, 0.0), width - 1) for j in range(shape[1])]
    return _resample(image, rows, cols, bicubic=False)


def opencv_pyramid(image: Tensor, shapes: list[tuple[int, int]], zoom_factor: float) -> list:
    """Levels of OpenCV DualTVL1's pyramid, finest first: each the previous one resized by
    ``zoom_factor`` (no blur); ``shapes`` from ``_core.opencv_pyramid_shapes``."""
    levels = [image]
    for shape in shapes[1:]:
        levels.append(opencv_resize(levels[-1], shape, 1.0 / zoom_factor))
    return levels


def opencv_warp(image: Tensor, flow: Tensor, bicubic: bool = True) -> tuple[Tensor, Tensor]:
    """``image`` sampled at ``x + w(x)`` as ``cv2.remap`` with its default zero border: a
    neighbour outside the image contributes 0. Returns the warped image and where the position
    leaves the image (as :func:`sktvnet.functional.warp`)."""
    batch, channels, height, width = image.shape
    x0, y0, tx, ty, outside = _sample_grid(flow, height, width, 2)
    x0, y0 = x0.unsqueeze(1), y0.unsqueeze(1)
    if bicubic:
        offsets = (-1, 0, 1, 2)
        wx, wy = _core.opencv_cubic_weights(tx), _core.opencv_cubic_weights(ty)
    else:
        offsets, wx, wy = (0, 1), (1 - tx, tx), (1 - ty, ty)
    zero = torch.zeros((), dtype=image.dtype, device=image.device)
    wx = [torch.where((x0 + k >= 0) & (x0 + k < width), w, zero) for k, w in zip(offsets, wx)]
    wy = [torch.where((y0 + k >= 0) & (y0 + k < height), w, zero) for k, w in zip(offsets, wy)]
    flat = image.reshape(batch, channels, height * width)

    def gather(row: Tensor, column: Tensor) -> Tensor:
        position = (row + column).reshape(batch, 1, height * width).expand(batch, channels, -1)
        return torch.gather(flat, 2, position).view(batch, channels, height, width)

    # Rows of weighted columns, then weighted rows: the reference's order of accumulation.
    columns = [(x0 + k).clamp(0, width - 1) for k in offsets]
    warped = None
    for k, weight_y in zip(offsets, wy):
        row = (y0 + k).clamp(0, height - 1) * width
        line = None
        for column, weight_x in zip(columns, wx):
            term = gather(row, column) * weight_x
            line = term if line is None else line + term
        warped = line * weight_y if warped is None else warped + line * weight_y
    return warped, outside


def opencv_scale(image0: Tensor, image1: Tensor) -> tuple[Tensor, Tensor]:
    """The frames on OpenCV DualTVL1's scale, pair by pair: 8-bit values as they are (no joint
    scaling to [0, 255]), and a pair whose values all lie in [0, 1] multiplied by 255, as OpenCV
    takes float frames."""
    batch = image0.shape[0]
    largest = torch.maximum(image0.reshape(batch, -1).abs().amax(1),
                            image1.reshape(batch, -1).abs().amax(1)).view(batch, 1, 1, 1)
    scale = torch.where(largest <= 1.0, 255.0, 1.0).to(image0.dtype)
    return image0 * scale, image1 * scale
