"""One TV-L1 iteration (Algorithm 1 of Fan et al. 2018), the repeated layer of TVNet."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _core
from .._validation import check_like as _check_like
from .._validation import check_real
from .._validation import check_solver_params
from .._validation import check_taps as _check_taps
from .._validation import check_tensor as _check_tensor

from ._taps import Pair

from ._differences import _divergence, forward_gradient_unchecked


# --------------------------------------------------------------------------------------------
# One TV-L1 iteration (Eq. 9-12)
# --------------------------------------------------------------------------------------------
def tvl1_step(
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
    ux, uy = forward_gradient_unchecked(u, forward_weight)
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
    return tvl1_step(
        u, p, rho_c, grad, denom,
        l_t=params["lmbda"] * params["theta"], taut=params["tau"] / params["theta"],
        theta=params["theta"], eps=eps,
        forward_weight=forward_weight, divergence_weight=divergence_weight,
        update_dual=bool(update_dual),
    )
