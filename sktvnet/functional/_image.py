"""Image preparation, Gaussian smoothing and the pyramid (zoom out, zoom in)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .. import _core
from .._validation import check_interpolation
from .._validation import check_like as _check_like
from .._validation import check_real
from .._validation import check_shape_arg as _check_shape_arg
from .._validation import check_solver_params
from .._validation import check_tensor as _check_tensor

from ._taps import Pair


# --------------------------------------------------------------------------------------------
# Image preparation
# --------------------------------------------------------------------------------------------
def to_grey_unchecked(image: Tensor) -> Tensor:
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
    return to_grey_unchecked(image)


TEXTURE_SIGMA = _core.TEXTURE_SIGMA


def texture_unchecked(image: Tensor, sigma: float = TEXTURE_SIGMA, weight: float = 1.0, *,
                      runner=None) -> Tensor:
    return image - weight * gaussian_blur_unchecked(image, sigma, runner=runner)


def texture(image: Tensor, sigma: float = TEXTURE_SIGMA, weight: float = 1.0) -> Tensor:
    """The texture of an image: the image minus its Gaussian blur (its structure).

    Computed on both frames of a pair, it makes optical flow robust to a change of brightness
    between them (a camera's automatic exposure, flicker): an offset cancels exactly and a gain
    scales only the texture's contrast, while TV-L1 on the frames themselves reads any change
    of brightness as motion. This is the structure-texture decomposition of Wedel et al. (2009)
    with a Gaussian blur for the structure. The blur has IPOL's window (radius ``int(5 sigma)``)
    and mirrored borders, as :func:`gaussian_blur`.

    Shape:
        - image: ``(B, C, H, W)``.
        - output: ``(B, C, H, W)``.

    Parameters
    ----------
    image : Tensor of shape (B, C, H, W)
    sigma : float, default=TEXTURE_SIGMA (2.0)
        Standard deviation of the blur, in pixels.
    weight : float in [0, 1], default=1.0
        The share of the structure subtracted: ``image - weight * blur``. Below 1 the output
        keeps ``1 - weight`` of the structure, which trades robustness to brightness changes
        for precision where brightness is constant (0 returns the image).

    Returns
    -------
    texture : Tensor of shape (B, C, H, W)

    References
    ----------
    .. [1] A. Wedel, T. Pock, C. Zach, H. Bischof, D. Cremers, "An improved algorithm for TV-L1
       optical flow", Statistical and Geometrical Approaches to Visual Motion Analysis, LNCS
       5604 (2009) 23-45. :doi:`10.1007/978-3-642-03061-1_2`

    Examples
    --------
    >>> import torch
    >>> from sktvnet.functional import texture
    >>> image = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    >>> bool(torch.allclose(texture(image + 0.1), texture(image)))  # an offset cancels
    True
    """
    _check_tensor(image, "image")
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    weight = check_real("weight", weight, low=0.0, low_open=False, high=1.0)
    return texture_unchecked(image, sigma, weight)


def normalize_pair_unchecked(image0: Tensor, image1: Tensor) -> Pair:
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
    return normalize_pair_unchecked(image0, image1)


# --------------------------------------------------------------------------------------------
# Blur and resampling (the pyramid)
# --------------------------------------------------------------------------------------------
def gaussian_blur_unchecked(image: Tensor, sigma: float, *, runner=None) -> Tensor:
    np_dtype = np.float64 if image.dtype == torch.float64 else np.float32
    # Python floats of the kernel rounded to the image dtype, as the reference rounds its kernel.
    kernel = [float(k) for k in _core.gaussian_kernel1d(sigma).astype(np_dtype)]
    return _symmetric_filter(image, kernel, runner=runner)


def gaussian_blur_learnable(image: Tensor, sigma: Tensor) -> Tensor:
    """``gaussian_blur_unchecked`` by a 0-d tensor ``sigma`` through which the gradient flows
    (TVNet's learned pre-smoothing): the taps are formed from it, on IPOL's window for its present
    value. The window's radius is a whole number, so its growth is not differentiable; the taps
    it adds or drops weigh ``exp(-12.5)`` of the centre's."""
    radius = int(_core.GAUSSIAN_WINDOW * float(sigma.detach()))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64, device=image.device)
    taps = torch.exp(-(offsets * offsets) / (2.0 * sigma.double() ** 2))
    return _symmetric_filter(image, list((taps / taps.sum()).to(image.dtype).unbind()))


def _mirror_pad(image: Tensor, dim: int, radius: int, index: Tensor | None = None) -> Tensor:
    """``image`` padded by ``radius`` along ``dim`` with mirrored borders (``c b | a b c | b
    a``): the flipped edges around it, or, given ``index`` (``_core.mirror_indices``) and an
    axis no longer than the radius, the image read there. The same values either way; along
    rows the flipped edges run ten times faster than the gather, compiled or not. Without
    ``index`` the axis must be longer than the radius."""
    n = image.shape[dim]
    if index is not None and radius >= n:
        return image.index_select(dim, index)
    left = image.narrow(dim, 1, radius).flip(dim)
    right = image.narrow(dim, n - 1 - radius, radius).flip(dim)
    return torch.cat([left, image, right], dim=dim)


def _symmetric_filter(image: Tensor, kernel: list, *, runner=None) -> Tensor:
    """Separable filter by a symmetric ``kernel`` of odd length (Python floats, or 0-d tensors
    that the gradient flows to), columns then rows, with IPOL's mirrored borders.

    ``runner`` (Python float taps only): a callable ``runner(kind, *tensors)`` that runs
    ``RESAMPLING_KERNELS[kind]`` (here ``"filter_cols"``, then ``"filter_rows"``), compiled on
    TVNet's compiled path: the same values up to rounding, in one pass over memory an axis. It
    gets axes longer than the radius only, and contiguous frames of one channel, so that its
    graphs vary with the filter's length alone (each layout, border rule, or channel count
    would be a graph of its own)."""
    radius = len(kernel) // 2
    out = image
    # Mirrored borders: c b | a b c | b a. Shifted slices, pairing the symmetric taps, run several
    # times faster than a one-channel conv2d.
    for dim in (3, 2):
        n = out.shape[dim]
        # Indices from a Python list: a constant of an exported graph, not NumPy inside it.
        if runner is not None and radius < n:
            taps = torch.tensor(kernel, dtype=image.dtype, device=image.device)
            single = out.reshape(-1, 1, *out.shape[-2:])
            out = runner("filter_cols" if dim == 3 else "filter_rows", single,
                         taps).view(out.shape)
            continue
        idx = torch.tensor(_core.mirror_indices(n, radius).tolist(), device=image.device)
        padded = _mirror_pad(out, dim, radius, idx)
        acc = padded.narrow(dim, radius, n) * kernel[radius]
        for k in range(radius):
            pair = padded.narrow(dim, k, n) + padded.narrow(dim, 2 * radius - k, n)
            if isinstance(kernel[k], Tensor):
                acc = acc + pair * kernel[k]  # out of place: autograd keeps acc
            else:
                # In place: two passes over memory a tap pair instead of three, and no new
                # tensor (the texture's blur, 21 taps, runs twice as fast).
                acc.add_(pair, alpha=kernel[k])
        out = acc
    return out


def filter_axis(image: Tensor, taps: Tensor, dim: int) -> Tensor:
    """One axis of ``_symmetric_filter`` with every input a tensor, for ``torch.compile``:
    ``image`` mirrored along ``dim`` (longer than the radius), then weighed by the symmetric
    ``taps`` (odd length), in ``_symmetric_filter``'s order of summation."""
    n = image.shape[dim]
    radius = taps.shape[0] // 2
    padded = _mirror_pad(image, dim, radius)
    acc = padded.narrow(dim, radius, n) * taps[radius]
    for k in range(radius):
        acc = acc + (padded.narrow(dim, k, n) + padded.narrow(dim, 2 * radius - k, n)) * taps[k]
    return acc


def resample_axis(image: Tensor, index: Tensor, weight: Tensor, dim: int) -> Tensor:
    """One axis of ``_resample``, eager or compiled: the sum over k of ``image`` read at
    ``index[k]`` along ``dim`` times ``weight[k]`` (both ``(K, n)``), the first term's buffer
    accumulating the others in place."""
    shape = [1, 1, 1, 1]
    shape[dim] = -1
    out = image.index_select(dim, index[0]) * weight[0].view(shape)
    for k in range(1, index.shape[0]):
        out = out.addcmul_(image.index_select(dim, index[k]), weight[k].view(shape))
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
    return gaussian_blur_unchecked(image, sigma)


def _resample_axis(image: Tensor, positions: list[float], dim: int, bicubic: bool, *,
                   runner=None) -> Tensor:
    """Linear or cubic (Catmull-Rom) interpolation along ``dim`` at real ``positions``,
    neighbours clamped to the axis.

    Positions are Python floats (float64) computed exactly as the reference computes them in
    NumPy; the fractional part is rounded once to the image's dtype, like the reference's
    ``(x - x0).astype(dtype)``. Indices and weights are built from Python lists so that an
    exported graph holds them as constants: no NumPy, nothing that depends on the frames.
    """
    n = image.shape[dim]
    base = [math.floor(x) for x in positions]
    # float64 fractions rounded to the image dtype, then the weights in that dtype (the
    # reference's order of rounding).
    frac = torch.tensor([x - b for x, b in zip(positions, base)], dtype=torch.float64)
    frac = frac.to(image.dtype)
    if bicubic:
        offsets, weights = (-1, 0, 1, 2), _core.catmull_rom_weights(frac)
    else:
        offsets, weights = (0, 1), (1 - frac, frac)
    index = torch.tensor([[min(max(b + k, 0), n - 1) for b in base] for k in offsets],
                         device=image.device)
    weight = torch.stack(list(weights)).to(image.device)
    if runner is None:
        return resample_axis(image, index, weight, dim)
    # Frames of one channel, as the blur's (see _symmetric_filter).
    single = image.reshape(-1, 1, *image.shape[-2:])
    out = runner("resample_cols" if dim == 3 else "resample_rows", single, index, weight)
    return out.view(*image.shape[:2], *out.shape[-2:])


def _resample(image: Tensor, rows: list[float], cols: list[float], bicubic: bool, *,
              runner=None) -> Tensor:
    # Columns first, then rows: the order of the reference's accumulation.
    by_columns = _resample_axis(image, cols, 3, bicubic, runner=runner)
    return _resample_axis(by_columns, rows, 2, bicubic, runner=runner)


def _zoom_out(image: Tensor, shape: tuple[int, int], zoom_factor: float,
              bicubic: bool = False, *, runner=None) -> Tensor:
    blurred = gaussian_blur_unchecked(image, _core.zoom_sigma(zoom_factor), runner=runner)
    rows = [i / zoom_factor for i in range(shape[0])]
    cols = [j / zoom_factor for j in range(shape[1])]
    return _resample(blurred, rows, cols, bicubic, runner=runner)


def zoom_out(
    image: Tensor,
    shape: tuple[int, int] | None = None,
    zoom_factor: float = 0.5,
    interpolation: str = "bilinear",
) -> Tensor:
    """Next coarser pyramid level: blur with ``zoom_sigma(z)``, then sample at ``(i / z, j / z)``.

    Sampling is bilinear or bicubic with positions clamped to the image (replicate border),
    IPOL's zoom_out.

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
    interpolation : {"bilinear", "bicubic"}, default="bilinear"
        How the blurred image is sampled (see :func:`warp`).

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
    bicubic = check_interpolation(interpolation) == "bicubic"
    return _zoom_out(image, _check_shape_arg(shape), zoom_factor, bicubic)


def zoom_in_unchecked(field: Tensor, shape: tuple[int, int], bicubic: bool = False, *,
                      runner=None) -> Tensor:
    height, width = field.shape[-2:]
    rows = [i * (height / shape[0]) for i in range(shape[0])]
    cols = [j * (width / shape[1]) for j in range(shape[1])]
    return _resample(field, rows, cols, bicubic, runner=runner)


def zoom_in(
    field: Tensor,
    shape: tuple[int, int],
    zoom_factor: float | None = None,
    interpolation: str = "bilinear",
) -> Tensor:
    """Resample a field to a finer level at ``(i * h / H, j * w / W)`` (IPOL's zoom_in).

    Sampling is bilinear or bicubic with positions clamped to the field. For a flow, pass
    ``zoom_factor``: the result is then multiplied by ``1 / zoom_factor`` so that it is in pixels
    of the finer level.

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
    interpolation : {"bilinear", "bicubic"}, default="bilinear"
        How the field is sampled (see :func:`warp`).

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
    out = zoom_in_unchecked(field, shape, check_interpolation(interpolation) == "bicubic")
    if zoom_factor is not None:
        zoom_factor = check_real(
            "zoom_factor", zoom_factor, low=0.0, high=1.0, high_open=True
        )
        out = out * (1.0 / zoom_factor)
    return out


def pyramid_unchecked(image: Tensor, shapes: list[tuple[int, int]], zoom_factor: float,
                      bicubic: bool = False, *, runner=None) -> list[Tensor]:
    levels = [image]
    for shape in shapes[1:]:
        levels.append(_zoom_out(levels[-1], shape, zoom_factor, bicubic, runner=runner))
    return levels


def pyramid(
    image: Tensor, n_scales: int | None, zoom_factor: float = 0.5, interpolation: str = "bilinear"
) -> list[Tensor]:
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
    interpolation : {"bilinear", "bicubic"}, default="bilinear"
        How each level is sampled from the blurred finer one (see :func:`warp`).

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
    bicubic = check_interpolation(interpolation) == "bicubic"
    return pyramid_unchecked(image, shapes, params["zoom_factor"], bicubic)
