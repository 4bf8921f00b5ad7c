"""Losses on flows: the TV-L1 energy Lf (unsupervised, Eq. 1 of Fan et al. 2018) and the endpoint
error (supervised)."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _core
from . import functional as tvf
from ._validation import check_like, check_real, check_tensor

__all__ = ["tvl1_energy", "endpoint_error"]


def tvl1_energy(
    flow: Tensor,
    x0: Tensor,
    x1: Tensor,
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
        - x0, x1: ``(B, C, H, W)``, C = 1 or 3 (RGB).
        - output: scalar.

    Parameters
    ----------
    flow : Tensor of shape (B, 2, H, W)
        Flow w = (u1, u2) from ``x0`` to ``x1``.
    x0, x1 : Tensor of shape (B, C, H, W)
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
        Differentiable w.r.t. ``flow``, ``x0`` and ``x1``.

    References
    ----------
    .. [1] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`

    Examples
    --------
    >>> import torch
    >>> from sktvnet.losses import tvl1_energy
    >>> x1 = torch.arange(16.0).expand(1, 1, 8, 16)  # a ramp along x
    >>> x0 = x1 + 1.0                                 # I0(x) = I1(x + 1): u = 1 px
    >>> still = torch.zeros(1, 2, 8, 16)
    >>> moving = still.clone()
    >>> moving[:, 0] = 1.0
    >>> round(float(tvl1_energy(still, x0, x1)), 4), round(float(tvl1_energy(moving, x0, x1)), 4)
    (2.3906, 0.1494)
    """
    check_tensor(flow, "flow", channels=(2,))
    check_tensor(x0, "x0", channels=(1, 3))
    check_tensor(x1, "x1", channels=(1, 3))
    check_like(x1, x0, "x1", "x0")
    check_like(x0, flow, "x0", "flow", spatial_only=True)
    lmbda = check_real("lmbda", lmbda, low=0.0, low_open=False)
    eps = check_real("eps", eps, low=0.0, low_open=False)
    i0, i1 = tvf._to_grey(x0), tvf._to_grey(x1)
    if normalize:
        i0, i1 = tvf._normalize_pair(i0, i1)
    ux, uy = tvf._forward_gradient(flow)
    tv = torch.sqrt(ux * ux + uy * uy + eps).sum(dim=1)
    warped, _ = tvf._warp(i1, flow)
    data = (warped - i0).abs()[:, 0]
    return (tv + lmbda * data).mean()


def endpoint_error(flow: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean endpoint error ``|w - w_gt|`` (Euclidean, in pixels) over the valid pixels.

    Shape:
        - flow, target: ``(B, 2, H, W)``.
        - mask: ``(B, H, W)`` or ``(B, 1, H, W)``.
        - output: scalar.

    Parameters
    ----------
    flow : Tensor of shape (B, 2, H, W)
        Estimated flow, u first.
    target : Tensor of shape (B, 2, H, W)
        Ground truth; may hold non-finite values where ``mask`` is False.
    mask : Tensor of shape (B, H, W) or (B, 1, H, W), optional
        Valid pixels (bool, or numbers: non-zero is valid). Default: all pixels.

    Returns
    -------
    epe : Tensor, 0-d
        Mean over the valid pixels of the batch (NaN if there is none); differentiable w.r.t.
        ``flow`` (the gradient is 0 where the flow equals the target, not NaN).

    Examples
    --------
    >>> import torch
    >>> from sktvnet.losses import endpoint_error
    >>> target = torch.zeros(1, 2, 4, 4)
    >>> flow = torch.zeros(1, 2, 4, 4)
    >>> flow[:, 0], flow[:, 1] = 3.0, 4.0
    >>> float(endpoint_error(flow, target))
    5.0
    """
    check_tensor(flow, "flow", channels=(2,))
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.shape != flow.shape:
        raise ValueError(
            f"flow and target must have the same shape (B, 2, H, W), "
            f"got {tuple(flow.shape)} and {tuple(target.shape)}"
        )
    if target.device != flow.device:
        raise ValueError(
            f"flow and target must be on the same device, got {flow.device} and {target.device}"
        )
    diff = flow - target.to(flow.dtype)
    if mask is None:
        return torch.linalg.vector_norm(diff, dim=1).mean()
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    batch, _, height, width = flow.shape
    if tuple(mask.shape) not in ((batch, height, width), (batch, 1, height, width)):
        raise ValueError(
            f"mask must have shape {(batch, height, width)} or {(batch, 1, height, width)} "
            f"for flow of shape {tuple(flow.shape)}, got {tuple(mask.shape)}"
        )
    if mask.device != flow.device:
        raise ValueError(
            f"mask and flow must be on the same device, got {mask.device} and {flow.device}"
        )
    valid = mask.reshape(batch, height, width) != 0
    # Invalid pixels are zeroed before the norm, so non-finite targets there give no NaN gradient.
    diff = torch.where(valid[:, None], diff, torch.zeros((), dtype=diff.dtype, device=diff.device))
    epe = torch.linalg.vector_norm(diff, dim=1)
    return epe.sum() / valid.sum()
