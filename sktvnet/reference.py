"""Reference TV-L1 optical flow in NumPy/SciPy (never imports torch).

This is the solver every other layer of sktvnet is validated against. It follows the IPOL
implementation of Sanchez, Meinhardt-Llopis and Facciolo (2013) of the duality-based TV-L1 method of
Zach, Pock and Bischof (2007), which is Algorithm 1 of Fan et al. (2018): a coarse-to-fine pyramid,
several warps per scale, and per warp a fixed-point iteration of the threshold step (for ``v``), the
primal update (for ``u``) and the dual update (for ``p``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from . import _core, _validation

__all__ = ["tvl1_optical_flow"]

#: The parameters that ``preset="opencv"`` sets where they are left at None: the defaults of
#: ``cv2.optflow.DualTVL1OpticalFlow_create()`` (nscales 5, scaleStep 0.8, medianFiltering 5) in
#: sktvnet's names. Its other defaults are IPOL's and sktvnet's too (tau 0.25, lambda 0.15,
#: theta 0.3, 5 warps, epsilon 0.01, 30 inner x 10 outer = 300 iterations, gamma 0).
OPENCV_PRESET = {"n_scales": 5, "zoom_factor": 0.8, "median_filter": 5}


# --------------------------------------------------------------------------------------------
# Finite differences (Eq. 3-5 of Fan et al. 2018; Chambolle 2004)
# --------------------------------------------------------------------------------------------
def _centered_gradient(image):
    """Central differences, halved one-sided differences on the border (Eq. 3).

    Returns ``(dx, dy)`` with the shape of ``image`` (``(..., H, W)``).
    """
    dx = np.empty_like(image)
    dy = np.empty_like(image)
    if image.shape[-1] > 1:
        dx[..., 1:-1] = 0.5 * (image[..., 2:] - image[..., :-2])
        dx[..., 0] = 0.5 * (image[..., 1] - image[..., 0])
        dx[..., -1] = 0.5 * (image[..., -1] - image[..., -2])
    else:
        dx[...] = 0
    if image.shape[-2] > 1:
        dy[..., 1:-1, :] = 0.5 * (image[..., 2:, :] - image[..., :-2, :])
        dy[..., 0, :] = 0.5 * (image[..., 1, :] - image[..., 0, :])
        dy[..., -1, :] = 0.5 * (image[..., -1, :] - image[..., -2, :])
    else:
        dy[...] = 0
    return dx, dy


def _forward_gradient(field, out_x, out_y):
    """Forward differences; the last column of ``out_x`` and the last row of ``out_y`` are 0 (Eq. 4)."""
    np.subtract(field[..., :, 1:], field[..., :, :-1], out=out_x[..., :, :-1])
    out_x[..., :, -1] = 0
    np.subtract(field[..., 1:, :], field[..., :-1, :], out=out_y[..., :-1, :])
    out_y[..., -1, :] = 0
    return out_x, out_y


def _divergence(px, py, out):
    """Backward-difference divergence, the negative adjoint of :func:`_forward_gradient` (Eq. 5).

    ``div = px[j] - px[j-1]`` inside, ``px[0]`` on the first column and ``-px[W-2]`` on the last
    (likewise for ``py`` along rows).
    """
    out[...] = 0
    out[..., :, :-1] += px[..., :, :-1]
    out[..., :, 1:] -= px[..., :, :-1]
    out[..., :-1, :] += py[..., :-1, :]
    out[..., 1:, :] -= py[..., :-1, :]
    return out


# --------------------------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------------------------
def _interpolate(images, x, y, method, zero_border=False):
    """Sample ``images`` ``(C, H, W)`` at real pixel positions ``x`` (column), ``y`` (row).

    ``x`` and ``y`` share one shape ``S``; returns ``(C, *S)``. ``method`` is ``"bilinear"``,
    ``"bicubic"`` (Catmull-Rom) or ``"opencv-bicubic"`` (Keys a = -0.75, OpenCV's INTER_CUBIC).
    Neighbours outside the image take the value of the nearest border pixel (Neumann condition),
    as in IPOL's interpolation, or 0 with ``zero_border`` (OpenCV's ``remap`` with its default
    BORDER_CONSTANT), which fades the samples near the border towards 0.
    """
    n_ch, height, width = images.shape
    flat = images.reshape(n_ch, -1)
    x0 = np.floor(x)
    y0 = np.floor(y)
    tx = (x - x0).astype(images.dtype)
    ty = (y - y0).astype(images.dtype)
    x0 = x0.astype(np.intp)
    y0 = y0.astype(np.intp)
    if method == "bilinear":
        offsets = (0, 1)
        wx = (1 - tx, tx)
        wy = (1 - ty, ty)
    else:
        offsets = (-1, 0, 1, 2)
        weights = _core.opencv_cubic_weights if method == "opencv-bicubic" else \
            _core.catmull_rom_weights
        wx = weights(tx)
        wy = weights(ty)
    if zero_border:
        # A tap outside the image reads 0: its weight is dropped.
        wx = [np.where((x0 + o >= 0) & (x0 + o < width), w, 0).astype(images.dtype)
              for o, w in zip(offsets, wx)]
        wy = [np.where((y0 + o >= 0) & (y0 + o < height), w, 0).astype(images.dtype)
              for o, w in zip(offsets, wy)]
    cols = [np.clip(x0 + o, 0, width - 1) for o in offsets]
    out = np.zeros((n_ch,) + x.shape, dtype=images.dtype)
    for oy, wyk in zip(offsets, wy):
        row = np.clip(y0 + oy, 0, height - 1) * width
        acc = np.zeros_like(out)
        for col, wxk in zip(cols, wx):
            acc += flat[:, row + col] * wxk
        out += acc * wyk
    return out


def _resize_centered(field, shape, scale=None):
    """Bilinear resize of ``field`` ``(C, h, w)`` to ``shape`` on pixel centres, as OpenCV's
    ``resize(INTER_LINEAR)``: output pixel ``i`` samples ``(i + 0.5) * s - 0.5``, clamped to the
    image, with ``s`` the given ``scale`` (OpenCV's ``1 / fx`` when it resizes by a factor) or
    the size ratio ``h / H`` per axis (when it resizes to a size). No anti-aliasing blur."""
    _, h, w = field.shape
    sy, sx = (h / shape[0], w / shape[1]) if scale is None else (scale, scale)
    ys = np.clip((np.arange(shape[0]) + 0.5) * sy - 0.5, 0, h - 1)
    xs = np.clip((np.arange(shape[1]) + 0.5) * sx - 0.5, 0, w - 1)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return _interpolate(field, xx, yy, "bilinear")


def _gaussian_blur(image, sigma):
    """Separable Gaussian blur with IPOL's window and mirrored borders."""
    kernel = _core.gaussian_kernel1d(sigma).astype(image.dtype)
    radius = kernel.size // 2
    for axis in (-1, -2):
        idx = _core.mirror_indices(image.shape[axis], radius)
        padded = np.take(image, idx, axis=axis)
        image = ndimage.correlate1d(padded, kernel, axis=axis, mode="constant")
        image = np.take(image, np.arange(radius, radius + image.shape[axis] - 2 * radius), axis=axis)
    return image


def _zoom_out(image, shape, zoom_factor, method):
    """Blur then resample ``image`` ``(H, W)`` to ``shape`` at positions ``i / zoom_factor``."""
    blurred = _gaussian_blur(image, _core.zoom_sigma(zoom_factor))
    ys = np.arange(shape[0], dtype=np.float64) / zoom_factor
    xs = np.arange(shape[1], dtype=np.float64) / zoom_factor
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return _interpolate(blurred[None], xx, yy, method)[0]


def _zoom_in(field, shape, method):
    """Resample ``field`` ``(C, h, w)`` to ``shape`` at positions ``i * h / H`` (IPOL's zoom_in)."""
    _, h, w = field.shape
    ys = np.arange(shape[0], dtype=np.float64) * (h / shape[0])
    xs = np.arange(shape[1], dtype=np.float64) * (w / shape[1])
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return _interpolate(field, xx, yy, method)


# --------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------
def _tvl1_single_scale(i0, i1, flow, *, tau, lmbda, theta, n_warps, n_iters, tol, method,
                       compensate=False, median=0, zero_border=False):
    """TV-L1 at one scale (Algorithm 1): ``n_warps`` warps of at most ``n_iters`` iterations.

    ``flow`` ``(2, H, W)`` is the initial flow and is updated in place. The dual variable ``p`` starts
    at zero and is carried across warps. ``median`` > 0 median-filters the flow (window
    ``median``, borders replicated) before every ``_core.MEDIAN_EVERY`` iterations of a warp, from
    its first, as OpenCV's DualTVL1 does. ``zero_border`` warps as OpenCV's ``remap`` (see
    :func:`_interpolate`), instead of IPOL's switching the data term off outside the image.
    """
    height, width = i0.shape
    dtype = i0.dtype
    grad_x, grad_y = _centered_gradient(i1)
    stack = np.stack([i1, grad_x, grad_y])
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)

    u = flow  # u[0] horizontal, u[1] vertical
    p = np.zeros((2, 2, height, width), dtype=dtype)  # p[k] is the dual field of u[k]
    div = np.empty((2, height, width), dtype=dtype)
    v = np.empty_like(u)
    u_prev = np.empty_like(u)
    gx = np.empty_like(u)
    gy = np.empty_like(u)
    norm = np.empty_like(u)
    rho = np.empty((height, width), dtype=dtype)
    coef = np.empty_like(rho)
    l_t = lmbda * theta
    taut = tau / theta
    tol2 = tol * tol

    for _ in range(n_warps):
        x = cols + u[0]
        y = rows + u[1]
        warped = _interpolate(stack, x, y, method, zero_border)
        # Where the warp leaves the image there is no data: the data term is switched off there
        # (IPOL zeroes the warped values, so the threshold step leaves v = u). OpenCV's zero
        # border does it by itself, fading in over the two pixels along the border.
        outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
        if compensate:
            gain, offset = _core.brightness_fit(i0, warped[0], ~outside)
            warped[0] = gain * warped[0] + offset
            warped[1:] *= gain
        if not zero_border:
            warped[:, outside] = 0
        i1w, i1wx, i1wy = warped
        sq_grad = i1wx * i1wx + i1wy * i1wy
        inv_grad = np.zeros_like(sq_grad)
        np.divide(1.0, sq_grad, out=inv_grad, where=sq_grad > _core.GRAD_IS_ZERO)
        rho_c = i1w - i1wx * u[0] - i1wy * u[1] - i0

        for iteration in range(n_iters):
            if median and iteration % _core.MEDIAN_EVERY == 0:
                for k in range(2):
                    u[k] = ndimage.median_filter(u[k], size=median, mode="nearest")
            # Threshold step (Eq. 11): v = u - clip(rho / |grad I1|^2, -l_t, l_t) * grad I1.
            np.multiply(i1wx, u[0], out=rho)
            rho += rho_c
            rho += i1wy * u[1]
            np.multiply(rho, inv_grad, out=coef)
            np.clip(coef, -l_t, l_t, out=coef)
            np.multiply(coef, i1wx, out=v[0])
            np.multiply(coef, i1wy, out=v[1])
            np.subtract(u, v, out=v)
            # Primal step: u = v + theta * div(p).
            _divergence(p[:, 0], p[:, 1], div)
            u_prev[...] = u
            np.multiply(div, theta, out=u)
            u += v
            # Dual step (Eq. 12): p = (p + tau/theta grad u) / (1 + tau/theta |grad u|).
            _forward_gradient(u, gx, gy)
            np.hypot(gx, gy, out=norm)
            norm *= taut
            norm += 1.0
            p[:, 0] += taut * gx
            p[:, 1] += taut * gy
            p[:, 0] /= norm
            p[:, 1] /= norm
            if tol2 > 0:
                np.subtract(u, u_prev, out=u_prev)
                if np.vdot(u_prev, u_prev) / (height * width) <= tol2:
                    break
    return u


def _opencv_values(image, grey):
    """``grey`` (from :func:`_as_grey`) on OpenCV DualTVL1's scale: integer frames keep their
    values (colour ones rounded, as ``cv2.cvtColor`` gives integers), float frames are taken to
    be in [0, 1] and multiplied by 255."""
    kind = np.asarray(image).dtype.kind
    if kind in "iu":
        return np.rint(grey) if np.ndim(image) == 3 else grey
    return grey * np.asarray(255.0, dtype=grey.dtype)


def _as_grey(image, name):
    """Return a float image ``(H, W)`` from grey ``(H, W)`` or colour ``(H, W, 3)`` input."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if image.dtype.kind not in "biuf" or image.dtype.kind == "b":
        raise TypeError(f"{name} must hold real numbers, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 3:
        dtype = np.float64 if image.dtype == np.float64 else np.float32
        image = image.astype(dtype, copy=False) @ np.asarray(_core.LUMA_RGB, dtype=dtype)
    elif image.ndim != 2:
        raise ValueError(
            f"{name} must be a grey image (H, W) or a colour image (H, W, 3), got shape {image.shape}"
        )
    if image.dtype != np.float64:
        image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return image


def tvl1_optical_flow(
    image0: np.ndarray,
    image1: np.ndarray,
    *,
    tau: float = 0.25,
    lmbda: float = 0.15,
    theta: float = 0.3,
    n_scales: int | None = None,
    zoom_factor: float | None = None,
    n_warps: int = 5,
    n_iters: int = 300,
    tol: float = 0.01,
    interpolation: str = "bicubic",
    u0: np.ndarray | None = None,
    texture: bool | float | Sequence[float] = False,
    compensate_brightness: bool = False,
    median_filter: int | None = None,
    preset: str | None = None,
) -> np.ndarray:
    """Coarse-to-fine TV-L1 optical flow between two frames (reference implementation).

    Solves ``min_w  sum |grad w| + lmbda * |I1(x + w(x)) - I0(x)|`` with the duality-based scheme of
    Zach, Pock and Bischof as implemented by IPOL's tvl1flow: joint scaling of the frames to
    [0, 255], Gaussian pre-smoothing (sigma 0.8), a pyramid of ``n_scales`` levels, ``n_warps``
    linearisations per level and at most ``n_iters`` fixed-point iterations per warp.

    Parameters
    ----------
    image0, image1 : ndarray of shape (H, W) or (H, W, 3)
        The frames at t and t+1, grey or RGB colour (converted with the Rec. 601 luma weights), of
        any real dtype and range.
    tau : float, default=0.25
        Time step of the dual update, tau in Eq. 12; stable for tau <= 0.25.
    lmbda : float, default=0.15
        Weight of the data term, lambda in Eq. 1. Smaller values give smoother flow.
    theta : float, default=0.3
        Tightness of the coupling between ``u`` and ``v``, theta in Eq. 2.
    n_scales : int or None, default=None
        Number of pyramid levels. IPOL's cap applies: at most ``1 + log(diag / 16) / log(1 / z)``
        levels, so that the coarsest level keeps a diagonal of about 16 px; ``None`` takes that
        maximum (IPOL's default; 5 levels for 240x320, 6 for 500x741). With
        ``preset="opencv"``, ``None`` is OpenCV's 5, and the levels with a side below 16 px are
        dropped (OpenCV's rule).
    zoom_factor : float or None, default=None
        Ratio between the sizes of consecutive levels, in (0, 1); ``None`` is IPOL's 0.5, or
        OpenCV's 0.8 with ``preset="opencv"``.
    n_warps : int, default=5
        Number of warps (re-linearisations of the data term) per level.
    n_iters : int, default=300
        Maximum number of iterations per warp.
    tol : float, default=0.01
        Stop a warp's iterations once the mean squared change of the flow is <= ``tol**2``;
        ``tol=0`` always runs ``n_iters`` iterations.
    interpolation : {"bicubic", "bilinear"}, default="bicubic"
        Interpolation used for warping and for the pyramid. ``"bicubic"`` (Catmull-Rom) is IPOL's
        choice; ``"bilinear"`` computes the same function as the frozen :class:`sktvnet.TVNet`.
    u0 : ndarray of shape (2, H, W), optional
        Initial flow (u, v) at full resolution; it is resized to the coarsest level.
    texture : bool, float in [0, 1] or sequence of them, default=False
        Solve on the texture of every pyramid level (the level minus its Gaussian blur of sigma
        ``_core.TEXTURE_SIGMA``, Wedel et al. 2009) instead of the level, so that a change of
        brightness between the frames is not read as motion; as ``TVNet(texture=True)``. A
        number ``w`` subtracts ``w`` times the blur (True is 1, False 0); a sequence gives one
        share per level, finest first, the last holding for the coarser levels. Not part of
        IPOL's method.
    compensate_brightness : bool, default=False
        At every warp, fit a gain and an offset from the warped second frame to the first and
        apply them (robust least squares that discount the pixels the current flow does not
        align; :func:`sktvnet.functional.compensate_brightness`), so that a change of
        brightness between the frames (exposure, flicker) is not read as motion; as
        ``TVNet(compensate_brightness=True)``. Unlike ``texture`` it keeps the frames' low
        frequencies, which carry large motions on the coarse levels. Not part of IPOL's method.
    median_filter : int or None, default=None
        Side of a median filter (borders replicated, as ``cv2.medianBlur``) applied to each
        component of the flow before every ``_core.MEDIAN_EVERY`` (30) iterations of a warp,
        from its first, as OpenCV's DualTVL1 does (once per outer iteration): it removes
        outliers of the flow. 0 turns it off; ``None`` is 0, or OpenCV's 5 with
        ``preset="opencv"``. Not part of IPOL's method.
    preset : {"opencv"} or None, default=None
        ``"opencv"`` reproduces ``cv2.optflow.DualTVL1OpticalFlow_create()`` at its defaults,
        the TV-L1 that most pretrained two-stream flow models were trained on: the parameters
        left at None take OpenCV's values (5 levels of ratio 0.8, median filter 5; the others
        are IPOL's and OpenCV's alike: 5 warps of at most 300 iterations, OpenCV's 30 inner
        times 10 outer, ``tol`` 0.01 on the same mean squared change), and the method follows
        OpenCV's where it differs from IPOL's: the frames keep their values (integers as they
        are, colour turned grey and rounded like ``cv2.cvtColor``; floats are taken to be in
        [0, 1] and multiplied by 255, as OpenCV does) instead of being scaled to [0, 255]; no
        pre-smoothing; each level is the previous one resized bilinearly on pixel centres
        without blur (``cv2.resize``); the flow goes up a level the same way; warps use
        OpenCV's cubic (Keys a = -0.75, ``"bicubic"``) or bilinear interpolation with a zero
        border (``cv2.remap``). Parameters given explicitly override the preset's.

    Returns
    -------
    flow : ndarray of shape (2, H, W)
        Horizontal (u, columns) then vertical (v, rows) displacement in pixels, such that
        ``image0[y, x] ~= image1[y + v, x + u]``. float64 for float64 input, float32 otherwise.

    References
    ----------
    .. [1] C. Zach, T. Pock, H. Bischof, "A duality based approach for realtime TV-L1 optical
       flow", DAGM 2007. :doi:`10.1007/978-3-540-74936-3_22`
    .. [2] J. Sanchez, E. Meinhardt-Llopis, G. Facciolo, "TV-L1 optical flow estimation",
       Image Processing On Line 3 (2013) 137-150. :doi:`10.5201/ipol.2013.26`
    .. [3] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from sktvnet import tvl1_optical_flow
    >>> rng = np.random.default_rng(0)
    >>> image1 = ndimage.gaussian_filter(rng.random((64, 64)), 2)
    >>> image0 = ndimage.shift(image1, (0, -1.5), order=3, mode="nearest")  # moves 1.5 px right
    >>> flow = tvl1_optical_flow(image0, image1)
    >>> flow.shape
    (2, 64, 64)
    >>> float(np.median(flow[0])), float(np.median(flow[1]))  # doctest: +NUMBER
    (1.5, 0.0)
    """
    preset = _validation.check_preset(preset)
    opencv = preset == "opencv"
    if zoom_factor is None:
        zoom_factor = OPENCV_PRESET["zoom_factor"] if opencv else 0.5
    if n_scales is None and opencv:
        n_scales = OPENCV_PRESET["n_scales"]
    if median_filter is None:
        median_filter = OPENCV_PRESET["median_filter"] if opencv else 0
    median_filter = _validation.check_median_filter(median_filter)
    params = _validation.check_solver_params(
        tau=tau, lmbda=lmbda, theta=theta, zoom_factor=zoom_factor,
        n_scales=n_scales, n_warps=n_warps, n_iters=n_iters,
    )
    tol = _validation.check_real("tol", tol, low=0.0, low_open=False)
    _validation.check_interpolation(interpolation)
    _validation.check_texture(texture, params["n_scales"])
    if not isinstance(compensate_brightness, bool):
        raise TypeError(f"compensate_brightness must be a bool, got "
                        f"{type(compensate_brightness).__name__} {compensate_brightness!r}")
    i0 = _as_grey(image0, "image0")
    i1 = _as_grey(image1, "image1")
    if opencv:
        i0, i1 = _opencv_values(image0, i0), _opencv_values(image1, i1)
    if i0.shape != i1.shape:
        raise ValueError(f"image0 and image1 must have the same shape, got {i0.shape} and {i1.shape}")
    if min(i0.shape) < _core.MIN_SIDE:
        raise ValueError(
            f"images must be at least {_core.MIN_SIDE}x{_core.MIN_SIDE} pixels, got {i0.shape}"
        )
    dtype = np.result_type(i0.dtype, i1.dtype)
    i0 = i0.astype(dtype, copy=False)
    i1 = i1.astype(dtype, copy=False)
    if opencv:
        shapes = _core.opencv_pyramid_shapes(*i0.shape, params["n_scales"],
                                             params["zoom_factor"])
    else:
        shapes = _core.pyramid_shapes(*i0.shape, params["n_scales"], params["zoom_factor"])
    if u0 is not None:
        u0 = np.asarray(u0)
        if u0.shape != (2,) + i0.shape:
            raise ValueError(f"u0 must have shape {(2,) + i0.shape}, got {u0.shape}")
        if u0.dtype.kind not in "iuf" or not np.isfinite(u0).all():
            raise ValueError("u0 must hold finite real numbers")

    z = params["zoom_factor"]
    if opencv:
        levels = [(i0, i1)]
        for shape in shapes[1:]:
            pair = _resize_centered(np.stack(levels[-1]), shape, 1.0 / z)
            levels.append((pair[0], pair[1]))
    else:
        i0, i1 = _core.normalize_pair(i0, i1)
        i0 = _gaussian_blur(i0, _core.PRESMOOTHING_SIGMA)
        i1 = _gaussian_blur(i1, _core.PRESMOOTHING_SIGMA)
        levels = [(i0, i1)]
        for shape in shapes[1:]:
            prev0, prev1 = levels[-1]
            levels.append(
                (_zoom_out(prev0, shape, z, interpolation),
                 _zoom_out(prev1, shape, z, interpolation))
            )

    shares = _validation.texture_shares(texture, len(levels))
    levels = [tuple(im - share * _gaussian_blur(im, _core.TEXTURE_SIGMA) for im in pair)
              if share else pair for pair, share in zip(levels, shares)]
    if u0 is None:
        flow = np.zeros((2,) + shapes[-1], dtype=dtype)
    else:
        flow = u0.astype(dtype)
        if len(shapes) > 1:
            flow = (_resize_centered(flow, shapes[-1]) if opencv
                    else _zoom_in(flow, shapes[-1], interpolation))
            flow *= params["zoom_factor"] ** (len(shapes) - 1)

    solver = dict(
        tau=params["tau"], lmbda=params["lmbda"], theta=params["theta"],
        n_warps=params["n_warps"], n_iters=params["n_iters"], tol=tol,
        method="opencv-bicubic" if opencv and interpolation == "bicubic" else interpolation,
        compensate=compensate_brightness, median=median_filter, zero_border=opencv,
    )
    for level in range(len(shapes) - 1, -1, -1):
        flow = _tvl1_single_scale(*levels[level], flow, **solver)
        if level > 0:
            if opencv:
                # OpenCV multiplies by 1 / z, not by the ratio of the rounded sizes.
                flow = _resize_centered(flow, shapes[level - 1])
            else:
                flow = _zoom_in(flow, shapes[level - 1], interpolation)
            flow *= 1.0 / params["zoom_factor"]
    return flow
