"""Warping in pixel units (bilinear or bicubic), symmetric at the borders."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _core
from .._validation import check_interpolation
from .._validation import check_like as _check_like
from .._validation import check_tensor as _check_tensor


# --------------------------------------------------------------------------------------------
# Warping
# --------------------------------------------------------------------------------------------
def _sample_grid(flow: Tensor, height: int, width: int, margin: int):
    """The integer corner ``(x0, y0)`` of ``x + w(x)`` (``(B, H, W)``, bounded to ``margin``
    pixels beyond the image), the fractions ``(tx, ty)`` (``(B, 1, H, W)``) to sample at, and
    where ``x + w`` leaves the image (``(B, 1, H, W)`` bool)."""
    u, v = flow[:, 0], flow[:, 1]
    fu, fv = torch.floor(u), torch.floor(v)
    # Fractions from the flow itself: exact (Sterbenz), and what the reference gets when it rounds
    # x - floor(x) computed in float64 to the image dtype.
    tx = (u - fu).unsqueeze(1)
    ty = (v - fv).unsqueeze(1)
    cols = torch.arange(width, device=flow.device)
    rows = torch.arange(height, device=flow.device).view(height, 1)
    # Bounded before the integer cast so that huge or non-finite flows cannot overflow it.
    x0 = cols + fu.clamp(-width - margin, width + margin).long()
    y0 = rows + fv.clamp(-height - margin, height + margin).long()
    # Compared on the flow, not on x + u, so that no rounding of x + u flips a border pixel.
    colsf = cols.to(u.dtype)
    rowsf = rows.to(v.dtype)
    outside = (u < -colsf) | (u > (width - 1) - colsf) | (v < -rowsf) | (v > (height - 1) - rowsf)
    return x0, y0, tx, ty, outside.unsqueeze(1)


def warp_unchecked(image: Tensor, flow: Tensor, bicubic: bool = False) -> tuple[Tensor, Tensor]:
    batch, channels, height, width = image.shape
    x0, y0, tx, ty, outside = _sample_grid(flow, height, width, 1)
    if bicubic:
        offsets = (-1, 0, 1, 2)
        wx, wy = _core.catmull_rom_weights(tx), _core.catmull_rom_weights(ty)
    else:
        offsets, wx, wy = (0, 1), (1 - tx, tx), (1 - ty, ty)
    # Neighbours past the border take the border's value (positions clamped to the image).
    columns = [(x0 + k).clamp_(0, width - 1) for k in offsets]
    flat = image.reshape(batch, channels, height * width)
    # Eagerly and without autograd, every sample and sum goes into a buffer allocated once: a
    # new tensor for each of the 16 bicubic samples cost a quarter of an eager warp (fresh memory
    # pages). Compiled, the graph stays functional and inductor plans the memory.
    reuse = not torch.compiler.is_compiling() and not (
        torch.is_grad_enabled() and (image.requires_grad or flow.requires_grad))
    index = torch.empty_like(x0) if reuse else None
    sample = image.new_empty(batch, channels, height * width) if reuse else None
    line_buffer = torch.empty_like(image) if reuse else None

    def gather(row: Tensor, column: Tensor) -> Tensor:
        position = torch.add(row, column, out=index)
        position = position.reshape(batch, 1, height * width).expand(batch, channels, -1)
        return torch.gather(flat, 2, position, out=sample).view(batch, channels, height, width)

    # Rows of weighted columns, then weighted rows: the reference's order of accumulation.
    warped = None
    for k, weight_y in zip(offsets, wy):
        row = (y0 + k).clamp_(0, height - 1).mul_(width)
        line = None
        for column, weight_x in zip(columns, wx):
            if line is None:
                line = torch.mul(gather(row, column), weight_x, out=line_buffer)
            else:
                line.addcmul_(gather(row, column), weight_x)
        if warped is None:
            warped = line * weight_y
        else:
            warped.addcmul_(line, weight_y)
    return warped, outside


def warp(
    image: Tensor, flow: Tensor, interpolation: str = "bilinear"
) -> tuple[Tensor, Tensor]:
    """Sample ``image`` at ``x + w(x)`` by bilinear or bicubic interpolation, exact in pixel units.

    ``warped[b, c, y, x] = I[b, c, y + v, x + u]`` with pixel centres at integer positions; samples
    past the border take the nearest border value (positions clamped to the image). The mask tells
    where ``x + u`` or ``y + v`` leaves ``[0, W-1] x [0, H-1]``; TV-L1 switches its data term off
    there.

    Shape:
        - image: ``(B, C, H, W)``.
        - flow: ``(B, 2, H, W)``, u (columns) first, in pixels.
        - output: ``(B, C, H, W)`` and a boolean mask ``(B, 1, H, W)``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        The frame I1 (and possibly its derivatives stacked as channels).
    flow : Tensor of shape (B, 2, H, W)
        Displacement ``w = (u, v)``, same dtype and device as ``image``.
    interpolation : {"bilinear", "bicubic"}, default="bilinear"
        Bilinear (TVNet's, as in the paper: 4 neighbours) or bicubic (IPOL's: the Keys cubic
        with a = -0.5, Catmull-Rom, over 4x4 neighbours). Bicubic costs four times the gathers
        and follows the image between its samples more closely, which makes TV-L1 markedly
        more precise (see :class:`sktvnet.TVNet`).

    Returns
    -------
    warped : Tensor of shape (B, C, H, W)
        ``I1(x + w(x))``, differentiable w.r.t. the image and the flow.
    outside : Tensor of shape (B, 1, H, W), bool
        True where the sampling position is outside the image.

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import warp
    >>> image = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    >>> flow = torch.zeros(1, 2, 4, 4)
    >>> flow[:, 0] = 0.5
    >>> warped, outside = warp(image, flow)
    >>> warped[0, 0, 0], outside[0, 0, 0]
    (tensor([0.5000, 1.5000, 2.5000, 3.0000]), tensor([False, False, False,  True]))
    """
    _check_tensor(image, "image")
    _check_tensor(flow, "flow", channels=(2,))
    _check_like(flow, image, "flow", "image", spatial_only=True)
    return warp_unchecked(image, flow, check_interpolation(interpolation) == "bicubic")


# --------------------------------------------------------------------------------------------
# Brightness compensation
# --------------------------------------------------------------------------------------------
def compensate_brightness_unchecked(image0: Tensor, warped: Tensor, outside: Tensor) -> Tensor:
    dims = (1, 2, 3)
    i1w = warped[:, 0:1]
    weight = (~outside).to(image0.dtype)
    count = weight.sum(dims, keepdim=True).clamp_min(1.0)
    residual = (i1w - image0) * weight
    scale = (_core.BRIGHTNESS_RESIDUAL_SCALE * residual.abs().sum(dims, keepdim=True)
             / count).clamp_min(1e-6)
    weight = weight / (1.0 + (residual / scale) ** 2)
    total = weight.sum(dims, keepdim=True).clamp_min(1e-12)
    m0 = (weight * image0).sum(dims, keepdim=True) / total
    m1 = (weight * i1w).sum(dims, keepdim=True) / total
    d1 = i1w - m1
    cov = (weight * (image0 - m0) * d1).sum(dims, keepdim=True) / total
    var = (weight * d1 * d1).sum(dims, keepdim=True) / total
    flat = var > 1e-12
    gain = torch.where(flat, cov / torch.where(flat, var, torch.ones_like(var)),
                       torch.ones_like(var)).clamp(*_core.BRIGHTNESS_GAIN_RANGE)
    return torch.cat([gain * d1 + m0, gain * warped[:, 1:]], dim=1)


def compensate_brightness(image0: Tensor, warped: Tensor, outside: Tensor) -> Tensor:
    """Fit a gain and an offset from the warped second frame to the first, and apply them.

    TV-L1 reads any change of brightness between the frames as motion. Where the change is a
    gain and an offset over the whole frame (a camera's exposure, flicker), fitting them at each
    warp removes it: ``a * I1(x + w) + b ~= I0(x)`` by least squares over the pixels inside the
    frame, each weighted by ``1 / (1 + (r / s)^2)`` where ``r = I1(x + w) - I0(x)`` and ``s`` is
    ``BRIGHTNESS_RESIDUAL_SCALE`` (8) times the mean ``|r|``, so that pixels the current flow does
    not align yet barely count. The gain is kept in ``BRIGHTNESS_GAIN_RANGE`` (0.5 to 2). The
    warped frame becomes ``a * I1w + b`` and its warped gradients ``a * grad``.

    Shape:
        - image0: ``(B, 1, H, W)``.
        - warped: ``(B, C, H, W)``: the warped frame first, then its warped gradients (C = 3),
          as :func:`warp` returns them for ``I1`` stacked with its gradient.
        - outside: ``(B, 1, H, W)`` bool, ``True`` where ``x + w`` leaves the frame.
        - output: ``(B, C, H, W)``.

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import compensate_brightness
    >>> image0 = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    >>> warped = 1.1 * image0 - 0.05                      # a 10% gain and an offset
    >>> outside = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    >>> bool(torch.allclose(compensate_brightness(image0, warped, outside), image0))
    True
    """
    _check_tensor(image0, "image0", channels=(1,))
    _check_tensor(warped, "warped")
    if warped.shape[0] != image0.shape[0] or warped.shape[-2:] != image0.shape[-2:]:
        raise ValueError(f"warped must have image0's batch and size, got {tuple(warped.shape)} "
                         f"and {tuple(image0.shape)}")
    if outside.dtype != torch.bool or outside.shape != image0.shape:
        raise ValueError(f"outside must be a bool tensor of image0's shape {tuple(image0.shape)}, "
                         f"got {outside.dtype} {tuple(outside.shape)}")
    return compensate_brightness_unchecked(image0, warped, outside)
