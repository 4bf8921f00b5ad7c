"""Stateless torch operations of TV-L1 optical flow, the layers of TVNet.

Every function takes images ``(B, C, H, W)`` (flows ``(B, 2, H, W)``, u first) and works on the
device and in the dtype of its input; kernels are built there. The arithmetic mirrors the NumPy
reference (:mod:`sktvnet.reference`) operation by operation, so that a frozen :class:`sktvnet.TVNet`
computes the same function as ``tvl1_optical_flow(..., interpolation="bilinear", tol=0)``.

The difference filters accept optional taps (``weight``), the trainable parts of TVNet
(Section 4.2 of Fan et al. 2018); ``weight=None`` uses the fixed taps of TV-L1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import _core
from ._validation import check_like as _check_like
from ._validation import check_real
from ._validation import check_shape_arg as _check_shape_arg
from ._validation import check_solver_params
from ._validation import check_taps as _check_taps
from ._validation import check_tensor as _check_tensor

__all__ = [
    "to_grey",
    "normalize_pair",
    "gaussian_blur",
    "centered_gradient",
    "forward_gradient",
    "divergence",
    "warp",
    "zoom_out",
    "zoom_in",
    "pyramid",
    "tvl1_iteration",
]

# Taps of TV-L1's difference filters, in correlation order (Eq. 3-5 of Fan et al. 2018):
# wc applies to (x[j-1], x[j], x[j+1]), wf to (x[j], x[j+1]), wb to (p[j-1], p[j]).
CENTERED_TAPS = (-0.5, 0.0, 0.5)
FORWARD_TAPS = (-1.0, 1.0)
DIVERGENCE_TAPS = (-1.0, 1.0)

Pair = tuple[Tensor, Tensor]


def _split_taps(weight: Tensor, ref: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """x taps and y taps as 0-d tensors on ``ref``'s device and dtype (one cheap unbind)."""
    weight = weight.to(device=ref.device, dtype=ref.dtype)
    if weight.ndim == 1:
        weight = weight.expand(2, weight.shape[0])
    taps = weight.reshape(-1).unbind()
    half = len(taps) // 2
    return taps[:half], taps[half:]


# --------------------------------------------------------------------------------------------
# Image preparation
# --------------------------------------------------------------------------------------------
def _to_grey(image: Tensor) -> Tensor:
    if image.shape[1] == 1:
        return image
    r, g, b = _core.LUMA_RGB
    return image[:, 0:1] * r + image[:, 1:2] * g + image[:, 2:3] * b


def to_grey(image: Tensor) -> Tensor:
    """Grey image from grey or RGB input, with the Rec. 601 luma weights (``_core.LUMA_RGB``).

    Shape:
        - image: ``(B, C, H, W)`` with C = 1 (returned unchanged) or 3 (R, G, B).
        - output: ``(B, 1, H, W)``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        Grey (C = 1) or colour (C = 3, channels in R, G, B order) images.

    Returns
    -------
    grey : Tensor of shape (B, 1, H, W)
    """
    _check_tensor(image, "image", channels=(1, 3))
    return _to_grey(image)


def _normalize_pair(image0: Tensor, image1: Tensor) -> Pair:
    batch = image0.shape[0]
    low = torch.minimum(image0.reshape(batch, -1).amin(1), image1.reshape(batch, -1).amin(1))
    high = torch.maximum(image0.reshape(batch, -1).amax(1), image1.reshape(batch, -1).amax(1))
    low = low.view(batch, 1, 1, 1)
    span = high.view(batch, 1, 1, 1) - low
    valid = span > 0
    # The division is guarded so that constant pairs give zeros, not NaN (nor NaN gradients); it
    # comes before the factor 255 so that a subnormal span cannot overflow a scale to inf.
    span = torch.where(valid, span, torch.ones_like(span))
    zero = torch.zeros((), dtype=image0.dtype, device=image0.device)
    return (
        torch.where(valid, (image0 - low) / span * 255.0, zero),
        torch.where(valid, (image1 - low) / span * 255.0, zero),
    )


def normalize_pair(image0: Tensor, image1: Tensor) -> Pair:
    """Scale each pair of frames jointly to [0, 255] (min and max over both); constant pairs give 0.

    Each sample of the batch is scaled on its own pair, as ``_core.normalize_pair`` does for one
    pair of NumPy images.

    Shape:
        - image0, image1: ``(B, C, H, W)``, the same shape.
        - output: two tensors ``(B, C, H, W)``.

    Parameters
    ----------
    image0, image1 : Tensor of shape (B, C, H, W)
        Frames at t and t+1, any real range.

    Returns
    -------
    image0, image1 : Tensor of shape (B, C, H, W)
        The frames, affinely mapped so that the joint minimum is 0 and the joint maximum is 255.
    """
    _check_tensor(image0, "image0")
    _check_tensor(image1, "image1")
    _check_like(image1, image0, "image1", "image0")
    return _normalize_pair(image0, image1)


# --------------------------------------------------------------------------------------------
# Blur and resampling (the pyramid)
# --------------------------------------------------------------------------------------------
def _gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    np_dtype = np.float64 if image.dtype == torch.float64 else np.float32
    # Python floats of the kernel rounded to the image dtype, as the reference rounds its kernel.
    kernel = [float(k) for k in _core.gaussian_kernel1d(sigma).astype(np_dtype)]
    radius = len(kernel) // 2
    out = image
    # Separable pass, columns then rows, with IPOL's mirrored borders (c b | a b c | b a). Shifted
    # slices, pairing the symmetric taps, run several times faster than a one-channel conv2d.
    for dim in (3, 2):
        n = out.shape[dim]
        # Indices from a Python list: a constant of an exported graph, not NumPy inside it.
        idx = torch.tensor(_core.mirror_indices(n, radius).tolist(), device=image.device)
        padded = out.index_select(dim, idx)
        acc = padded.narrow(dim, radius, n) * kernel[radius]
        for k in range(radius):
            pair = padded.narrow(dim, k, n) + padded.narrow(dim, 2 * radius - k, n)
            acc = acc + pair * kernel[k]
        out = acc
    return out


def gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with IPOL's window (radius ``int(5 * sigma)``) and mirrored borders.

    Shape:
        - image: ``(B, C, H, W)``.
        - output: ``(B, C, H, W)``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        Images to blur, channel by channel.
    sigma : float
        Standard deviation in pixels, > 0 (``_core.PRESMOOTHING_SIGMA`` = 0.8 for the input
        frames, ``_core.zoom_sigma(z)`` before each subsampling).

    Returns
    -------
    blurred : Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import gaussian_blur
    >>> image = torch.zeros(1, 1, 15, 15, dtype=torch.float64)
    >>> image[..., 7, 7] = 1.0
    >>> blurred = gaussian_blur(image, 0.8)
    >>> round(float(blurred.sum()), 12), round(float(blurred[0, 0, 7, 7]), 4)
    (1.0, 0.2487)
    """
    _check_tensor(image, "image")
    sigma = check_real("sigma", sigma, low=0.0)
    return _gaussian_blur(image, sigma)


def _resample_axis(image: Tensor, positions: list[float], dim: int) -> Tensor:
    """Linear interpolation along ``dim`` at real ``positions``, neighbours clamped to the axis.

    Positions are Python floats (float64) computed exactly as the reference computes them in
    NumPy; the fractional part is rounded once to the image's dtype, like the reference's
    ``(x - x0).astype(dtype)``. Indices and weights are built from Python lists so that an
    exported graph holds them as constants: no NumPy, nothing that depends on the frames.
    """
    n = image.shape[dim]
    base = [math.floor(x) for x in positions]
    device = image.device
    idx0 = torch.tensor([min(max(b, 0), n - 1) for b in base], device=device)
    idx1 = torch.tensor([min(max(b + 1, 0), n - 1) for b in base], device=device)
    shape = [1, 1, 1, 1]
    shape[dim] = len(positions)
    # float64 fractions rounded to the image dtype, then 1 - frac in that dtype (the reference's
    # order of rounding).
    frac = torch.tensor([x - b for x, b in zip(positions, base)], dtype=torch.float64)
    frac = frac.to(image.dtype)
    w1 = frac.to(device).view(shape)
    w0 = (1 - frac).to(device).view(shape)
    return image.index_select(dim, idx0) * w0 + image.index_select(dim, idx1) * w1


def _resample(image: Tensor, rows: list[float], cols: list[float]) -> Tensor:
    # Columns first, then rows: the order of the reference's accumulation.
    return _resample_axis(_resample_axis(image, cols, 3), rows, 2)


def _zoom_out(image: Tensor, shape: tuple[int, int], zoom_factor: float) -> Tensor:
    blurred = _gaussian_blur(image, _core.zoom_sigma(zoom_factor))
    rows = [i / zoom_factor for i in range(shape[0])]
    cols = [j / zoom_factor for j in range(shape[1])]
    return _resample(blurred, rows, cols)


def zoom_out(
    image: Tensor, shape: tuple[int, int] | None = None, zoom_factor: float = 0.5
) -> Tensor:
    """Next coarser pyramid level: blur with ``zoom_sigma(z)``, then sample at ``(i / z, j / z)``.

    Sampling is bilinear with positions clamped to the image (replicate border), IPOL's zoom_out.

    Shape:
        - image: ``(B, C, H, W)``.
        - output: ``(B, C, h, w)`` with ``(h, w) = shape``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        A pyramid level.
    shape : tuple of int (h, w), optional
        Output size; default ``_core.zoom_size(H, W, zoom_factor)``, i.e. ``int(n * z + 0.5)``.
    zoom_factor : float, default=0.5
        Ratio z between the sizes of consecutive levels, in (0, 1).

    Returns
    -------
    coarse : Tensor of shape (B, C, h, w)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import zoom_out
    >>> zoom_out(torch.rand(2, 1, 33, 48)).shape
    torch.Size([2, 1, 17, 24])
    """
    _check_tensor(image, "image")
    zoom_factor = check_real("zoom_factor", zoom_factor, low=0.0, high=1.0, high_open=True)
    if shape is None:
        shape = _core.zoom_size(image.shape[-2], image.shape[-1], zoom_factor)
    return _zoom_out(image, _check_shape_arg(shape), zoom_factor)


def _zoom_in(field: Tensor, shape: tuple[int, int]) -> Tensor:
    height, width = field.shape[-2:]
    rows = [i * (height / shape[0]) for i in range(shape[0])]
    cols = [j * (width / shape[1]) for j in range(shape[1])]
    return _resample(field, rows, cols)


def zoom_in(field: Tensor, shape: tuple[int, int], zoom_factor: float | None = None) -> Tensor:
    """Resample a field to a finer level at ``(i * h / H, j * w / W)`` (IPOL's zoom_in).

    Sampling is bilinear with positions clamped to the field. For a flow, pass ``zoom_factor``: the
    result is then multiplied by ``1 / zoom_factor`` so that it is in pixels of the finer level.

    Shape:
        - field: ``(B, C, h, w)``.
        - output: ``(B, C, H, W)`` with ``(H, W) = shape``.

    Parameters
    ----------
    field : Tensor of shape (B, C, h, w)
        A flow (C = 2) or any field.
    shape : tuple of int (H, W)
        Output size.
    zoom_factor : float, optional
        Ratio z between the levels; when given, values are scaled by ``1 / z``.

    Returns
    -------
    fine : Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import zoom_in
    >>> flow = torch.ones(1, 2, 8, 8)
    >>> fine = zoom_in(flow, (16, 16), zoom_factor=0.5)
    >>> fine.shape, float(fine.mean())
    (torch.Size([1, 2, 16, 16]), 2.0)
    """
    _check_tensor(field, "field")
    shape = _check_shape_arg(shape)
    out = _zoom_in(field, shape)
    if zoom_factor is not None:
        zoom_factor = check_real(
            "zoom_factor", zoom_factor, low=0.0, high=1.0, high_open=True
        )
        out = out * (1.0 / zoom_factor)
    return out


def _pyramid(image: Tensor, shapes: list[tuple[int, int]], zoom_factor: float) -> list[Tensor]:
    levels = [image]
    for shape in shapes[1:]:
        levels.append(_zoom_out(levels[-1], shape, zoom_factor))
    return levels


def pyramid(image: Tensor, n_scales: int | None, zoom_factor: float = 0.5) -> list[Tensor]:
    """Image pyramid, finest level first, each level a :func:`zoom_out` of the previous one.

    The finest level is ``image`` itself. The number of levels is capped by IPOL's rule (``_core.pyramid_shapes``): the coarsest level
    keeps a diagonal of about 16 pixels.

    Shape:
        - image: ``(B, C, H, W)``.
        - output: list of ``(B, C, H_k, W_k)``, ``(H_k, W_k) = _core.pyramid_shapes(...)[k]``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
        The finest level.
    n_scales : int or None
        Requested number of levels; ``None`` takes the cap.
    zoom_factor : float, default=0.5
        Ratio between the sizes of consecutive levels, in (0, 1).

    Returns
    -------
    levels : list of Tensor

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import pyramid
    >>> [tuple(level.shape[-2:]) for level in pyramid(torch.rand(1, 1, 96, 128), n_scales=5)]
    [(96, 128), (48, 64), (24, 32), (12, 16)]
    """
    _check_tensor(image, "image")
    params = check_solver_params(
        tau=0.25, lmbda=1.0, theta=1.0, zoom_factor=zoom_factor,
        n_scales=n_scales, n_warps=1, n_iters=1,
    )
    shapes = _core.pyramid_shapes(*image.shape[-2:], params["n_scales"], params["zoom_factor"])
    return _pyramid(image, shapes, params["zoom_factor"])


# --------------------------------------------------------------------------------------------
# Finite differences (Eq. 3-5)
# --------------------------------------------------------------------------------------------
def _centered_gradient(image: Tensor, weight: Tensor | None = None) -> Pair:
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
    return _centered_gradient(image, weight)


def _forward_gradient(field: Tensor, weight: Tensor | None = None) -> Pair:
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
    return _forward_gradient(field, weight)


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


# --------------------------------------------------------------------------------------------
# Warping
# --------------------------------------------------------------------------------------------
def _warp(image: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
    batch, channels, height, width = image.shape
    device = image.device
    u, v = flow[:, 0], flow[:, 1]
    fu, fv = torch.floor(u), torch.floor(v)
    # Fractions from the flow itself: exact (Sterbenz), and what the reference gets when it rounds
    # x - floor(x) computed in float64 to the image dtype.
    tx = (u - fu).unsqueeze(1)
    ty = (v - fv).unsqueeze(1)
    cols = torch.arange(width, device=device)
    rows = torch.arange(height, device=device).view(height, 1)
    # Bounded before the integer cast so that huge or non-finite flows cannot overflow it.
    x0 = cols + fu.clamp(-width - 1, width + 1).long()
    y0 = rows + fv.clamp(-height - 1, height + 1).long()
    c0 = x0.clamp(0, width - 1)
    c1 = (x0 + 1).clamp(0, width - 1)
    r0 = y0.clamp(0, height - 1) * width
    r1 = (y0 + 1).clamp(0, height - 1) * width
    flat = image.reshape(batch, channels, height * width)

    def gather(index: Tensor) -> Tensor:
        index = index.reshape(batch, 1, height * width).expand(batch, channels, height * width)
        return flat.gather(2, index).view(batch, channels, height, width)

    wx0 = 1 - tx
    top = gather(r0 + c0) * wx0 + gather(r0 + c1) * tx
    bottom = gather(r1 + c0) * wx0 + gather(r1 + c1) * tx
    warped = top * (1 - ty) + bottom * ty
    # Compared on the flow, not on x + u, so that no rounding of x + u flips a border pixel.
    colsf = cols.to(u.dtype)
    rowsf = rows.to(v.dtype)
    outside = (u < -colsf) | (u > (width - 1) - colsf) | (v < -rowsf) | (v > (height - 1) - rowsf)
    return warped, outside.unsqueeze(1)


def warp(image: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
    """Sample ``image`` at ``x + w(x)`` by bilinear interpolation, exact in pixel units.

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
    return _warp(image, flow)


# --------------------------------------------------------------------------------------------
# One TV-L1 iteration (Eq. 9-12)
# --------------------------------------------------------------------------------------------
def _tvl1_step(
    u: Tensor,
    p: Pair | None,
    rho_c: Tensor,
    grad: Tensor,
    denom: Tensor,
    *,
    l_t,
    taut,
    theta,
    eps,
    forward_weight: Tensor | None = None,
    divergence_weight: Tensor | None = None,
    update_dual: bool = True,
) -> tuple[Tensor, Pair | None]:
    """One iteration; ``l_t = lmbda * theta`` and ``taut = tau / theta`` (floats, or 0-d tensors:
    TVNet's learned step sizes, which then get a gradient, and constants that a compiled graph
    must not specialise on)."""
    gx, gy = grad[:, 0:1], grad[:, 1:2]
    # Threshold step (Eq. 11): v = u - clip(rho / |grad I1|^2, -l_t, l_t) grad I1, with rho the
    # data residual linearised at the warp (rho_c holds the part that is fixed during the warp).
    rho = rho_c + gx * u[:, 0:1] + gy * u[:, 1:2]
    coef = torch.clamp(rho / denom, -l_t, l_t)
    v = u - coef * grad
    # Primal step: u = v + theta div p; p = 0 (None) at the start of a scale contributes nothing.
    u = v if p is None else v + theta * _divergence(p[0], p[1], divergence_weight)
    if not update_dual:
        return u, p
    # Dual step (Eq. 12), per component of u: p = (p + tau/theta grad u) / (1 + tau/theta |grad u|).
    ux, uy = _forward_gradient(u, forward_weight)
    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy + eps)
    if p is None:
        return u, ((taut * ux) / norm, (taut * uy) / norm)
    return u, ((p[0] + taut * ux) / norm, (p[1] + taut * uy) / norm)


def tvl1_iteration(
    u: Tensor,
    p: Pair | None,
    rho_c: Tensor,
    grad: Tensor,
    *,
    tau: float = 0.25,
    lmbda: float = 0.15,
    theta: float = 0.3,
    eps: float = _core.GRAD_IS_ZERO,
    denom: Tensor | None = None,
    forward_weight: Tensor | None = None,
    divergence_weight: Tensor | None = None,
    update_dual: bool = True,
) -> tuple[Tensor, Pair | None]:
    """One fixed-point iteration of TV-L1 (Algorithm 1): threshold, primal and dual steps.

    With the warped frame ``I1w = I1(x + u_w)`` and its warped gradient ``grad I1w`` fixed for the
    warp, and ``rho_c = I1w - grad I1w . u_w - I0``:

    - ``rho = rho_c + grad I1w . u``;
    - ``v = u - clip(rho / (|grad I1w|^2 + eps), -lmbda theta, lmbda theta) grad I1w`` (Eq. 11);
    - ``u = v + theta div(p)`` (divergence of Eq. 5);
    - ``p = (p + tau/theta grad u) / (1 + tau/theta sqrt(|grad u|^2 + eps))`` (Eq. 12, forward
      gradient of Eq. 4), for each component of u.

    Shape:
        - u: ``(B, 2, H, W)``; p: two tensors ``(B, 2, H, W)`` (x and y components of the dual
          variables of u1 and u2) or None.
        - rho_c: ``(B, 1, H, W)``; grad: ``(B, 2, H, W)`` (``dI1w/dx`` then ``dI1w/dy``);
          denom: ``(B, 1, H, W)``.
        - output: u ``(B, 2, H, W)`` and p.

    Parameters
    ----------
    u : Tensor of shape (B, 2, H, W)
        Current flow.
    p : tuple of two Tensors of shape (B, 2, H, W), or None
        Dual variable ``(px, py)``; None stands for p = 0 (first iteration of a scale).
    rho_c : Tensor of shape (B, 1, H, W)
        Constant part of the linearised residual for this warp.
    grad : Tensor of shape (B, 2, H, W)
        Warped image gradient, 0 where the warp leaves the image.
    tau : float, default=0.25
        Time step of the dual update, tau in Eq. 12.
    lmbda : float, default=0.15
        Weight of the data term, lambda in Eq. 1.
    theta : float, default=0.3
        Coupling between u and v, theta in Eq. 2.
    eps : float, default=1e-10
        Added where Eq. 11-12 divide or take a norm (TVNet's GRAD_IS_ZERO).
    denom : Tensor of shape (B, 1, H, W), optional
        ``|grad I1w|^2 + eps``, computed here when not given (it is fixed during a warp).
    forward_weight : Tensor of shape (2,) or (2, 2), optional
        Taps of the forward gradient of the dual step (default (-1, 1)).
    divergence_weight : Tensor of shape (2,) or (2, 2), optional
        Taps of the divergence of the primal step (default (-1, 1)).
    update_dual : bool, default=True
        False skips the dual step (its result is unused after the last iteration of a scale) and
        returns ``p`` unchanged.

    Returns
    -------
    u : Tensor of shape (B, 2, H, W)
    p : tuple of two Tensors of shape (B, 2, H, W), or None

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import tvl1_iteration
    >>> u = torch.zeros(1, 2, 8, 8)
    >>> grad = torch.zeros(1, 2, 8, 8)
    >>> grad[:, 0] = 10.0                                # I1 brightens by 10 per pixel along x
    >>> rho_c = torch.full((1, 1, 8, 8), -5.0)           # I1 - I0 = -5: I0 is I1 moved 0.5 px
    >>> u, p = tvl1_iteration(u, None, rho_c, grad, lmbda=10.0)
    >>> float(u[0, 0].mean()), float(u[0, 1].abs().max())
    (0.5, 0.0)
    """
    _check_tensor(u, "u", channels=(2,))
    _check_tensor(rho_c, "rho_c", channels=(1,))
    _check_tensor(grad, "grad", channels=(2,))
    _check_like(rho_c, u, "rho_c", "u", spatial_only=True)
    _check_like(grad, u, "grad", "u")
    if p is not None:
        if not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise TypeError(f"p must be None or a pair of tensors (px, py), got {type(p).__name__}")
        for name, part in zip(("p[0]", "p[1]"), p):
            _check_tensor(part, name)
            _check_like(part, u, name, "u")
        p = (p[0], p[1])
    _check_taps(forward_weight, 2, "forward_weight")
    _check_taps(divergence_weight, 2, "divergence_weight")
    params = check_solver_params(
        tau=tau, lmbda=lmbda, theta=theta, zoom_factor=0.5, n_scales=1, n_warps=1, n_iters=1
    )
    eps = check_real("eps", eps, low=0.0)
    if denom is None:
        denom = grad[:, 0:1] * grad[:, 0:1] + grad[:, 1:2] * grad[:, 1:2] + eps
    else:
        _check_tensor(denom, "denom", channels=(1,))
        _check_like(denom, rho_c, "denom", "rho_c")
    return _tvl1_step(
        u, p, rho_c, grad, denom,
        l_t=params["lmbda"] * params["theta"], taut=params["tau"] / params["theta"],
        theta=params["theta"], eps=eps,
        forward_weight=forward_weight, divergence_weight=divergence_weight,
        update_dual=bool(update_dual),
    )
