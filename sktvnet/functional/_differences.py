"""Centred and forward gradients and the divergence, with optional trainable taps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_like as _check_like
from .._validation import check_taps as _check_taps
from .._validation import check_tensor as _check_tensor

from ._taps import Pair, _split_taps


# --------------------------------------------------------------------------------------------
# Finite differences (Eq. 3-5)
# --------------------------------------------------------------------------------------------
def centered_gradient_unchecked(image: Tensor, weight: Tensor | None = None) -> Pair:
    # Replicate padding turns the taps into the halved one-sided differences on the border.
    xpad = torch.cat([image[..., :1], image, image[..., -1:]], dim=-1)
    ypad = torch.cat([image[..., :1, :], image, image[..., -1:, :]], dim=-2)
    left, right = xpad[..., :-2], xpad[..., 2:]
    up, down = ypad[..., :-2, :], ypad[..., 2:, :]
    if weight is None:
        return 0.5 * (right - left), 0.5 * (down - up)
    (a, b, c), (d, e, f) = _split_taps(weight, image)
    return a * left + b * image + c * right, d * up + e * image + f * down


def centered_gradient(image: Tensor, weight: Tensor | None = None) -> Pair:
    """Image gradient by central differences, halved one-sided differences on the border (Eq. 3).

    ``dx[j] = wc0 * x[j-1] + wc1 * x[j] + wc2 * x[j+1]`` with ``x`` replicated past the border, so
    that the default taps wc = (-0.5, 0, 0.5) give ``(x[j+1] - x[j-1]) / 2`` inside and
    ``(x[1] - x[0]) / 2``, ``(x[W-1] - x[W-2]) / 2`` on the first and last columns (likewise
    along rows for ``dy``).

    Shape:
        - image: ``(B, C, H, W)``.
        - weight: ``(3,)`` or ``(2, 3)``.
        - output: two tensors ``(B, C, H, W)``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        Images, e.g. the frame I1 of a pyramid level.
    weight : Tensor of shape (3,) or (2, 3), optional
        Taps wc applied to ``(x[j-1], x[j], x[j+1])``: one row for x then one for y, or one row
        shared. Default (-0.5, 0, 0.5). Differentiable: TVNet learns them.

    Returns
    -------
    dx, dy : Tensor of shape (B, C, H, W)
        Derivatives along columns (x) and rows (y).

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import centered_gradient
    >>> image = torch.tensor([[[[0.0, 1.0, 4.0, 9.0]]]])
    >>> dx, dy = centered_gradient(image)
    >>> dx
    tensor([[[[0.5000, 2.0000, 4.0000, 2.5000]]]])
    >>> bool(dy.eq(0).all())
    True
    """
    _check_tensor(image, "image")
    _check_taps(weight, 3, "weight")
    return centered_gradient_unchecked(image, weight)


def forward_gradient_unchecked(field: Tensor, weight: Tensor | None = None) -> Pair:
    left, right = field[..., :-1], field[..., 1:]
    up, down = field[..., :-1, :], field[..., 1:, :]
    if weight is None:
        gx, gy = right - left, down - up
    else:
        (a, b), (c, d) = _split_taps(weight, field)
        gx, gy = a * left + b * right, c * up + d * down
    # Eq. 4: no forward neighbour on the last column / row, the difference is 0 there.
    return F.pad(gx, (0, 1)), F.pad(gy, (0, 0, 0, 1))


def forward_gradient(field: Tensor, weight: Tensor | None = None) -> Pair:
    """Forward differences, 0 on the last column (x) and the last row (y) (Eq. 4).

    ``gx[j] = wf0 * x[j] + wf1 * x[j+1]`` for ``j < W-1`` and ``gx[W-1] = 0``; with the default
    taps wf = (-1, 1) this is ``x[j+1] - x[j]``.

    Shape:
        - field: ``(B, C, H, W)``.
        - weight: ``(2,)`` or ``(2, 2)``.
        - output: two tensors ``(B, C, H, W)``.

    Parameters
    ----------
    field : Tensor of shape (B, C, H, W)
        E.g. a flow, C = 2 (u1 and u2 share the taps).
    weight : Tensor of shape (2,) or (2, 2), optional
        Taps wf applied to ``(x[j], x[j+1])``: one row for x then one for y, or one row shared.
        Default (-1, 1).

    Returns
    -------
    gx, gy : Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import forward_gradient
    >>> gx, gy = forward_gradient(torch.tensor([[[[0.0, 1.0, 4.0, 9.0]]]]))
    >>> gx
    tensor([[[[1., 3., 5., 0.]]]])
    """
    _check_tensor(field, "field")
    _check_taps(weight, 2, "weight")
    return forward_gradient_unchecked(field, weight)


def _divergence(px: Tensor, py: Tensor, weight: Tensor | None = None) -> Tensor:
    # p[W-1] (p[H-1] for rows) is ignored: Eq. 5 treats it as 0, so that the divergence is the
    # negative adjoint of the forward gradient, whose last column is 0.
    qx = px[..., :-1]
    qy = py[..., :-1, :]
    if weight is None:
        return (F.pad(qx, (0, 1)) - F.pad(qx, (1, 0))) + (
            F.pad(qy, (0, 0, 0, 1)) - F.pad(qy, (0, 0, 1, 0))
        )
    (a, b), (c, d) = _split_taps(weight, px)
    return (F.pad(b * qx, (0, 1)) + F.pad(a * qx, (1, 0))) + (
        F.pad(d * qy, (0, 0, 0, 1)) + F.pad(c * qy, (0, 0, 1, 0))
    )


def divergence(px: Tensor, py: Tensor, weight: Tensor | None = None) -> Tensor:
    """Divergence by backward differences with the boundary rules of Eq. 5.

    ``div[j] = wb0 * px[j-1] + wb1 * px[j]`` inside; on the first column ``wb1 * px[0]``, on the
    last ``wb0 * px[W-2]`` (likewise along rows for ``py``). With the default taps wb = (-1, 1)
    this is ``px[j] - px[j-1]``, ``px[0]`` and ``-px[W-2]``: the negative adjoint of
    :func:`forward_gradient`.

    Shape:
        - px, py: ``(B, C, H, W)``, the same shape.
        - weight: ``(2,)`` or ``(2, 2)``.
        - output: ``(B, C, H, W)``.

    Parameters
    ----------
    px, py : Tensor of shape (B, C, H, W)
        The x and y components of the vector field (the dual variable p of TV-L1).
    weight : Tensor of shape (2,) or (2, 2), optional
        Taps wb applied to ``(p[j-1], p[j])``: one row for x then one for y, or one row shared.
        Default (-1, 1).

    Returns
    -------
    div : Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import divergence
    >>> px = torch.tensor([[[[1.0, 2.0, 4.0, 7.0]]]])
    >>> divergence(px, torch.zeros_like(px))
    tensor([[[[ 1.,  1.,  2., -4.]]]])
    """
    _check_tensor(px, "px")
    _check_tensor(py, "py")
    _check_like(py, px, "py", "px")
    _check_taps(weight, 2, "weight")
    return _divergence(px, py, weight)
