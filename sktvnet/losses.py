"""Losses on flows: the TV-L1 energy Lf (unsupervised, Eq. 1 of Fan et al. 2018) and the endpoint
error (supervised), and the registry of the training losses, :data:`FLOW_LOSSES`, that the
estimators read for their ``loss`` parameter, their training and their score."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

import torch
from torch import Tensor

from . import _core
from . import functional as tvf
from ._validation import (check_like, check_mask, check_real, check_same_device, check_tensor,
                          is_tensor)
from ._validation import UNKNOWN_FLOW_THRESHOLD

__all__ = ["tvl1_energy", "endpoint_error", "FlowLoss", "FLOW_LOSSES", "SCORE_LOSSES"]


def tvl1_energy(
    flow: Tensor,
    image0: Tensor,
    image1: Tensor,
    *,
    lmbda: float = 0.15,
    eps: float = _core.GRAD_IS_ZERO,
    normalize: bool = True,
) -> Tensor:
    """TV-L1 energy of a flow, the unsupervised loss Lf of TVNet (Eq. 1, exact data term).

    ``E(w) = mean_x |grad u1(x)| + |grad u2(x)| + lmbda |I1(x + w(x)) - I0(x)|``, where ``I1`` is
    warped by :func:`sktvnet.functional.warp` (bilinear, not the first-order Taylor expansion the
    solver iterates on) and ``grad`` is the forward gradient of Eq. 4. The mean runs over the batch
    and the pixels. Samples that leave the image take the border value: masking them out instead
    would make pushing pixels out of the frame free.

    Shape:
        - flow: ``(B, 2, H, W)``, u first, in pixels.
        - image0, image1: ``(B, C, H, W)``, C = 1 or 3 (RGB).
        - output: scalar.

    Parameters
    ----------
    flow : Tensor of shape (B, 2, H, W)
        Flow w = (u1, u2) from ``image0`` to ``image1``.
    image0, image1 : Tensor of shape (B, C, H, W)
        Frames at t and t+1, same dtype and device as ``flow``.
    lmbda : float, default=0.15
        Weight of the data term, lambda in Eq. 1.
    eps : float, default=1e-10
        Smooths the TV norm at 0: ``|g|`` is computed as ``sqrt(|g|^2 + eps)``, so that its
        gradient is finite on flat flows.
    normalize : bool, default=True
        Turn the frames grey and scale each pair jointly to [0, 255], exactly as :class:`TVNet`
        does before solving; False uses them as given (colour frames are still turned grey).

    Returns
    -------
    energy : Tensor, 0-d
        Differentiable w.r.t. ``flow``, ``image0`` and ``image1``.

    References
    ----------
    .. [1] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`

    Examples
    --------
    >>> import torch
    >>> from sktvnet.losses import tvl1_energy
    >>> image1 = torch.arange(16.0).expand(1, 1, 8, 16)  # a ramp along x
    >>> image0 = image1 + 1.0                             # I0(x) = I1(x + 1): u = 1 px
    >>> still = torch.zeros(1, 2, 8, 16)
    >>> moving = still.clone()
    >>> moving[:, 0] = 1.0
    >>> [round(float(tvl1_energy(flow, image0, image1)), 4) for flow in (still, moving)]
    [2.3906, 0.1494]
    """
    check_tensor(flow, "flow", channels=(2,))
    check_tensor(image0, "image0", channels=(1, 3))
    check_tensor(image1, "image1", channels=(1, 3))
    check_like(image1, image0, "image1", "image0")
    check_like(image0, flow, "image0", "flow", spatial_only=True)
    lmbda = check_real("lmbda", lmbda, low=0.0, low_open=False)
    eps = check_real("eps", eps, low=0.0, low_open=False)
    i0, i1 = tvf.to_grey_unchecked(image0), tvf.to_grey_unchecked(image1)
    if normalize:
        i0, i1 = tvf.normalize_pair_unchecked(i0, i1)
    ux, uy = tvf.forward_gradient_unchecked(flow)
    tv = torch.sqrt(ux * ux + uy * uy + eps).sum(dim=1)
    warped, _ = tvf.warp_unchecked(i1, flow)
    data = (warped - i0).abs()[:, 0]
    return (tv + lmbda * data).mean()


def endpoint_error(
    flow: Tensor,
    flow_true: Tensor,
    mask: Tensor | None = None,
    *,
    reduce: bool = True,
) -> Tensor:
    """Endpoint error ``|w - w_gt|`` (Euclidean, in pixels), differentiable: the training loss.

    The same function as :func:`sktvnet.metrics.endpoint_error`, on tensors: same parameters,
    same valid pixels (the ground truth is known, i.e. finite and at most 1e9 in magnitude as
    Middlebury marks unknown flow, and ``mask`` is True there), same mean over the valid pixels of
    the whole batch, same error when no pixel is valid.

    Shape:
        - flow, flow_true: ``(B, 2, H, W)``.
        - mask: broadcastable to ``(B, H, W)``, e.g. ``(H, W)`` or ``(B, H, W)``.
        - output: scalar, or ``(B, H, W)`` with ``reduce=False``.

    Parameters
    ----------
    flow : Tensor of shape (B, 2, H, W)
        Estimated flow, u first.
    flow_true : Tensor of shape (B, 2, H, W)
        Ground truth; pixels where it is not finite or beyond 1e9 are invalid.
    mask : bool Tensor broadcastable to (B, H, W), optional
        ``True`` where the pixel counts, combined (logical and) with the known ground truth.
    reduce : bool, default=True
        The mean over the valid pixels if ``True``, else the per-pixel map.

    Returns
    -------
    epe : Tensor, 0-d, or of shape (B, H, W)
        The mean, differentiable w.r.t. ``flow`` (the gradient is 0 where the flow equals the
        ground truth, and at invalid pixels, never NaN); with ``reduce=False`` the map, NaN at
        invalid pixels.

    Raises
    ------
    ValueError
        If the shapes or devices do not match, or (``reduce=True``) no pixel is valid.
    TypeError
        If an input is not a tensor, or ``mask`` is not boolean.

    Examples
    --------
    >>> import torch
    >>> from sktvnet.losses import endpoint_error
    >>> flow_true = torch.zeros(1, 2, 4, 4)
    >>> flow = torch.zeros(1, 2, 4, 4)
    >>> flow[:, 0], flow[:, 1] = 3.0, 4.0
    >>> float(endpoint_error(flow, flow_true))
    5.0
    """
    check_tensor(flow, "flow", channels=(2,))
    if not is_tensor(flow_true):
        raise TypeError(f"flow_true must be a torch.Tensor, got {type(flow_true).__name__}")
    if flow_true.shape != flow.shape:
        raise ValueError(
            f"flow and flow_true must have the same shape (B, 2, H, W), "
            f"got {tuple(flow.shape)} and {tuple(flow_true.shape)}"
        )
    check_same_device(flow_true, flow, "flow_true", "flow")
    flow_true = flow_true.to(flow.dtype)
    valid = ((flow_true.abs() <= UNKNOWN_FLOW_THRESHOLD) & flow_true.isfinite()).all(dim=1)
    if mask is not None:
        if not is_tensor(mask):
            raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
        check_mask(mask, valid.shape)
        check_same_device(mask, flow, "mask", "flow")
        valid = valid & mask
    # Invalid pixels are zeroed before the norm, so unknown ground truth gives no NaN gradient.
    zero = torch.zeros((), dtype=flow.dtype, device=flow.device)
    errors = torch.linalg.vector_norm(torch.where(valid[:, None], flow - flow_true, zero), dim=1)
    if not reduce:
        return torch.where(valid, errors, torch.full((), float("nan"), dtype=errors.dtype,
                                                     device=errors.device))
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise ValueError(
            f"no valid pixel to average over: all {valid.numel()} pixels are masked out or have an "
            "unknown ground truth (not finite or > 1e9 in magnitude)"
        )
    return errors.sum() / n_valid


@dataclass(frozen=True)
class FlowLoss:
    """A training loss of TVNet's flows, as :data:`FLOW_LOSSES` registers it.

    Parameters
    ----------
    name : str
        The value of the estimators' ``loss`` parameter that picks it.
    needs_target : bool
        Whether it compares the flow with a ground-truth flow: :meth:`sktvnet.TVNetFlow.fit`
        then requires ``y``, and :meth:`sktvnet.TVNetFlow.score` uses it when ``y`` is given.
    function : callable
        ``function(flow, image0, image1, target, **constants) -> Tensor``: the mean loss of a
        batch, a 0-d tensor differentiable w.r.t. ``flow``. ``flow`` is ``(B, 2, H, W)``,
        ``image0`` and ``image1`` the frames ``(B, C, H, W)`` it was computed from, ``target``
        the ground truth ``(B, 2, H, W)`` (None unless ``needs_target``), and ``constants`` the
        structure and constants of the TVNet that ran (an estimator's ``config_``: ``lmbda``,
        ``eps``, ...).
    """

    name: str
    needs_target: bool
    function: Callable[..., Tensor]


def _energy_loss(flow, image0, image1, target, *, lmbda, eps, **constants):
    """Lf with the constants of the TVNet that computed ``flow``; no target."""
    return tvl1_energy(flow, image0, image1, lmbda=lmbda, eps=eps)


def _epe_loss(flow, image0, image1, target, **constants):
    """The mean endpoint error against ``target``."""
    return endpoint_error(flow, target)


#: The training losses by name: what the estimators' ``loss`` parameter accepts
#: (:class:`sktvnet.TVNetFlow`), and the flow loss Lf of :class:`sktvnet.TVNetActionClassifier`
#: (``"energy"``). A new loss is one more entry here.
FLOW_LOSSES: dict[str, FlowLoss] = {
    loss.name: loss for loss in (
        FlowLoss("energy", needs_target=False, function=_energy_loss),
        FlowLoss("epe", needs_target=True, function=_epe_loss),
    )
}

#: What :meth:`sktvnet.TVNetFlow.score` measures when the estimator's own loss does not fit the
#: data: with ground truth (True) the endpoint error, without (False) the TV-L1 energy.
SCORE_LOSSES = {True: "epe", False: "energy"}
