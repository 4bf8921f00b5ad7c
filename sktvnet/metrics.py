"""Accuracy of an optical flow against a ground truth (NumPy only).

Both measures follow the Middlebury benchmark (Baker et al. 2011): the endpoint error (EPE), the
Euclidean distance between the estimated and the true displacement, and the angular error (AE) of
Barron, Fleet and Beauchemin (1994), the angle between the space-time vectors ``(u, v, 1)``.

Pixels whose ground truth is unknown are left out automatically: a ground-truth component that is
not finite, or larger than ``1e9`` in magnitude (the value the Middlebury ``.flo`` files store for
unknown flow), makes its pixel invalid.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_flow, check_mask, known_flow

__all__ = ["angular_error", "endpoint_error", "warp_error"]


def _check_pair(flow, flow_true, mask):
    """Validate the inputs shared by the metrics; return (flow, flow_true, valid)."""
    flow = check_flow(flow, "flow", batched=True).astype(np.float64, copy=False)
    flow_true = check_flow(flow_true, "flow_true", batched=True).astype(np.float64, copy=False)
    if flow.shape != flow_true.shape:
        raise ValueError(
            f"flow and flow_true must have the same shape, got {flow.shape} and {flow_true.shape}"
        )
    valid = known_flow(flow_true)
    if mask is not None:
        mask = np.asarray(mask)
        check_mask(mask, valid.shape)
        valid = valid & mask
    return flow, flow_true, valid


def _reduce(errors: np.ndarray, valid: np.ndarray, reduce: bool):
    """Mean of ``errors`` over ``valid`` pixels, or the map with NaN at invalid pixels."""
    if not reduce:
        return np.where(valid, errors, np.nan)
    n_valid = int(np.count_nonzero(valid))
    if n_valid == 0:
        raise ValueError(
            f"no valid pixel to average over: all {valid.size} pixels are masked out or have an "
            "unknown ground truth (not finite or > 1e9 in magnitude)"
        )
    return float(errors[valid].sum() / n_valid)


def endpoint_error(
    flow: np.ndarray,
    flow_true: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    reduce: bool = True,
) -> float | np.ndarray:
    """Endpoint error: Euclidean distance between estimated and true displacements, in pixels.

    ``EPE(x) = sqrt((u - u_gt)**2 + (v - v_gt)**2)``, averaged over the valid pixels.

    Parameters
    ----------
    flow : array-like of shape (2, H, W) or (N, 2, H, W)
        Estimated flow, horizontal (u) then vertical (v) component, in pixels.
    flow_true : array-like, same shape as ``flow``
        Ground-truth flow. Pixels where a component is not finite or larger than ``1e9`` in
        magnitude (Middlebury's "unknown") are invalid.
    mask : array-like of bool, shape (H, W) or broadcastable to (H, W) / (N, H, W), optional
        ``True`` where the pixel counts. Combined (logical and) with the known ground truth.
    reduce : bool, default=True
        Return the mean over all valid pixels (of all ``N`` pairs together) if ``True``, else the
        per-pixel map.

    Returns
    -------
    epe : float or ndarray of shape (H, W) or (N, H, W)
        The mean endpoint error, or with ``reduce=False`` the float64 per-pixel map with NaN at
        invalid pixels. A non-finite estimate is not an invalid pixel: it makes the result NaN.

    Raises
    ------
    ValueError
        If the shapes do not match, or (``reduce=True``) no pixel is valid.
    TypeError
        If an input does not hold real numbers, or ``mask`` is not boolean.

    See Also
    --------
    angular_error : The angle between ``(u, v, 1)`` and ``(u_gt, v_gt, 1)``.

    References
    ----------
    .. [1] S. Baker, D. Scharstein, J. P. Lewis, S. Roth, M. J. Black, R. Szeliski, "A database and
       evaluation methodology for optical flow", IJCV 92 (2011) 1-31.
       :doi:`10.1007/s11263-010-0390-2`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.metrics import endpoint_error
    >>> flow_true = np.zeros((2, 2, 3))
    >>> flow = np.zeros((2, 2, 3))
    >>> flow[:, 0, 0] = (3.0, 4.0)  # one pixel off by a (3, 4) vector: error 5
    >>> endpoint_error(flow, flow_true)  # 5 / 6 pixels
    0.8333...
    >>> endpoint_error(flow, flow_true, reduce=False)[0]
    array([5., 0., 0.])
    """
    flow, flow_true, valid = _check_pair(flow, flow_true, mask)
    with np.errstate(invalid="ignore"):
        diff = flow - flow_true
        errors = np.hypot(diff[..., 0, :, :], diff[..., 1, :, :])
    return _reduce(errors, valid, reduce)


def angular_error(
    flow: np.ndarray,
    flow_true: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    reduce: bool = True,
) -> float | np.ndarray:
    """Angular error of Barron et al. (1994) in degrees: the angle between ``(u, v, 1)`` vectors.

    ``AE(x) = arccos((u u_gt + v v_gt + 1) / (sqrt(u**2 + v**2 + 1) sqrt(u_gt**2 + v_gt**2 + 1)))``,
    computed as ``atan2(|a x b|, a . b)``, which is the same angle without arccos' loss of precision
    for nearly equal vectors (identical flows give exactly 0).

    Parameters
    ----------
    flow : array-like of shape (2, H, W) or (N, 2, H, W)
        Estimated flow, horizontal (u) then vertical (v) component, in pixels.
    flow_true : array-like, same shape as ``flow``
        Ground-truth flow. Pixels where a component is not finite or larger than ``1e9`` in
        magnitude (Middlebury's "unknown") are invalid.
    mask : array-like of bool, shape (H, W) or broadcastable to (H, W) / (N, H, W), optional
        ``True`` where the pixel counts. Combined (logical and) with the known ground truth.
    reduce : bool, default=True
        Return the mean over all valid pixels (of all ``N`` pairs together) if ``True``, else the
        per-pixel map.

    Returns
    -------
    ae : float or ndarray of shape (H, W) or (N, H, W)
        The mean angular error in degrees, in [0, 180], or with ``reduce=False`` the float64
        per-pixel map with NaN at invalid pixels.

    Raises
    ------
    ValueError
        If the shapes do not match, or (``reduce=True``) no pixel is valid.
    TypeError
        If an input does not hold real numbers, or ``mask`` is not boolean.

    See Also
    --------
    endpoint_error : The Euclidean distance between the displacements.

    References
    ----------
    .. [1] J. L. Barron, D. J. Fleet, S. S. Beauchemin, "Performance of optical flow techniques",
       IJCV 12 (1994) 43-77. :doi:`10.1007/BF01420984`
    .. [2] S. Baker et al., "A database and evaluation methodology for optical flow", IJCV 92
       (2011) 1-31. :doi:`10.1007/s11263-010-0390-2`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.metrics import angular_error
    >>> flow_true = np.zeros((2, 1, 2))
    >>> flow = np.array([[[1.0, 0.0]], [[0.0, 0.0]]])  # (1, 0, 1) against (0, 0, 1): 45 degrees
    >>> angular_error(flow, flow_true, reduce=False)
    array([[45.,  0.]])
    >>> angular_error(flow, flow_true, mask=np.array([[True, False]]))
    45.0
    """
    flow, flow_true, valid = _check_pair(flow, flow_true, mask)
    u, v = flow[..., 0, :, :], flow[..., 1, :, :]
    ut, vt = flow_true[..., 0, :, :], flow_true[..., 1, :, :]
    with np.errstate(invalid="ignore", over="ignore"):
        dot = u * ut + v * vt + 1.0
        # (u, v, 1) x (ut, vt, 1) = (v - vt, ut - u, u vt - v ut)
        cross = np.sqrt((v - vt) ** 2 + (ut - u) ** 2 + (u * vt - v * ut) ** 2)
        errors = np.degrees(np.arctan2(cross, dot))
    return _reduce(errors, valid, reduce)


def warp_error(image0, image1, flow) -> float:
    """The flow error of real pairs without ground truth: mean ``|I1(x + w(x)) - I0(x)|``.

    The paper's Table 2 scores flows on real video this way: the second frame, sampled where the
    flow says each pixel of the first went (bilinear), against the first. Pixels whose ``x + w``
    falls outside the frame do not count. It is in the units of the frames (pass frames in
    [0, 255] for grey levels). A flow that fits the frames better scores lower, so it rewards
    precision where brightness is constant and does not see errors in flat regions.

    Parameters
    ----------
    image0, image1 : array-like of shape (H, W)
        Grey frames t and t + 1.
    flow : array-like of shape (2, H, W)
        Flow from ``image0`` to ``image1``, u then v, in pixels.

    Returns
    -------
    error : float
        The mean absolute difference over the pixels that stay inside the frame.

    Raises
    ------
    ValueError
        If the shapes do not agree, or no pixel stays inside the frame.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.metrics import warp_error
    >>> image1 = np.tile(np.arange(6.0), (4, 1))
    >>> image0 = image1 + 1.0                    # I0(x) = I1(x + 1): one pixel to the right
    >>> warp_error(image0, image1, np.stack([np.ones((4, 6)), np.zeros((4, 6))]))
    0.0
    >>> warp_error(image0, image1, np.zeros((2, 4, 6)))
    1.0
    """
    from scipy import ndimage

    image0 = np.asarray(image0, dtype=np.float64)
    image1 = np.asarray(image1, dtype=np.float64)
    flow = check_flow(flow).astype(np.float64)
    if image0.ndim != 2 or image0.shape != image1.shape or image0.shape != flow.shape[1:]:
        raise ValueError(
            f"image0 and image1 must be (H, W) frames and flow (2, H, W) of the same size, got "
            f"{image0.shape}, {image1.shape} and {flow.shape}"
        )
    height, width = image0.shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    ys, xs = y + flow[1], x + flow[0]
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    if not inside.any():
        raise ValueError("no pixel of image0 moves to a point inside image1")
    warped = ndimage.map_coordinates(image1, [ys, xs], order=1, mode="nearest")
    return float(np.abs(warped - image0)[inside].mean())
