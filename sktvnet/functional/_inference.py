"""TVNet's iteration kernels: one TV-L1 iteration on tensor step sizes (the form that a compiled
graph serves for every iteration, and that autograd goes through), its inference forms on
zero-bordered buffers (compiled, and eager in place), the data term of a warp, and the bodies of
the loops of an exported graph. :class:`sktvnet.TVNet` calls them; ``fused_kernel`` is the one
function that it compiles (see ``sktvnet._compile``)."""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from .._threads import before_torch as _before_torch

_before_torch()

import functools
import math

import torch
from torch import Tensor

from ._image import filter_axis, resample_axis
from ._opencv import opencv_warp
from ._step import tvl1_step
from ._taps import FORWARD_TAPS
from ._warp import compensate_brightness_unchecked, warp_unchecked

try:  # a loop in an exported graph (torch >= 2.6); older versions export the iterations unrolled
    from torch._higher_order_ops.scan import scan
except ImportError:  # pragma: no cover - depends on the torch version
    scan = None


def uniform_step(u, px, py, rho_c, grad, denom, forward_weight, divergence_weight, consts):
    """One iteration with every input a tensor, so that a single compiled graph serves them all.

    ``consts`` holds this iteration's (lmbda * theta, tau / theta, theta, eps): as a tensor, not
    floats, it does not make the graph recompile for each iteration's (learned) step sizes or
    for each TVNet's constants (a grid search over lmbda would).
    """
    l_t, taut, theta, eps = consts.unbind()
    u, (px, py) = tvl1_step(
        u, (px, py), rho_c, grad, denom, l_t=l_t, taut=taut, theta=theta, eps=eps,
        forward_weight=forward_weight, divergence_weight=divergence_weight,
    )
    return u, px, py


def padded_views(buf: Tensor, shape, offset: int) -> Tensor:
    """The ``(B, 2, H, W)`` field stored in ``buf`` (see ``padded_step``), read ``offset``
    elements further on: 1 is the right neighbour, W the one below, -1 and -W left and above."""
    width = shape[-1]
    count = math.prod(shape)
    return buf[width + offset:width + offset + count].view(shape)


def padded_step(u, px, py, u_out, px_out, py_out, rho_c, grad, denom, masks,
                forward_weight, divergence_weight, consts):
    """``uniform_step`` for inference, written into ``u_out``, ``px_out``, ``py_out``.

    Every field lives flattened in a buffer with W zeros before and after it, so that a neighbour
    is a plain load at an offset; the zero border of Eq. 4-5 then costs no masked load (in
    ``uniform_step``, padding makes every neighbour a masked load, and the masks cost more than
    the arithmetic). It relies on px being 0 on the last column and py on the last row (the
    divergence ignores them), which the dual update keeps: the forward gradient is 0 there
    (``masks``: (1, 2, H, W), 0 on the last column of x, on the last row of y, else 1), so p stays
    at its starting 0. The values equal ``uniform_step``'s; the graph mutates its outputs, so it
    serves inference only (autograd goes through ``uniform_step``).
    """
    shape = (rho_c.shape[0], 2, *rho_c.shape[-2:])
    width = shape[-1]
    l_t, taut, theta, eps = consts.unbind()
    flow = padded_views(u, shape, 0)
    gx, gy = grad[:, 0:1], grad[:, 1:2]
    rho = rho_c + gx * flow[:, 0:1] + gy * flow[:, 1:2]
    v = flow - torch.clamp(rho / denom, -l_t, l_t) * grad
    a, b, c, d = divergence_weight.reshape(-1).unbind()
    div = ((b * padded_views(px, shape, 0) + a * padded_views(px, shape, -1))
           + (d * padded_views(py, shape, 0) + c * padded_views(py, shape, -width)))
    new = padded_views(u_out, shape, 0)
    new.copy_(v + theta * div)
    a, b, c, d = forward_weight.reshape(-1).unbind()
    ux = (a * new + b * padded_views(u_out, shape, 1)) * masks[:, 0:1]
    uy = (c * new + d * padded_views(u_out, shape, width)) * masks[:, 1:2]
    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy + eps)
    padded_views(px_out, shape, 0).copy_((padded_views(px, shape, 0) + taut * ux) / norm)
    padded_views(py_out, shape, 0).copy_((padded_views(py, shape, 0) + taut * uy) / norm)


def padded_step_inplace(u, px, py, u_out, px_out, py_out, rho_c, grad, denom, masks,
                        forward_weight, divergence_weight, consts, scratch, update_dual=True):
    """``padded_step`` for eager inference: the same buffers, computed in place.

    Every operation writes into ``u_out``, ``px_out``, ``py_out`` or ``scratch`` (a
    ``(B, 1, H, W)`` and three ``(B, 2, H, W)`` tensors), allocated once for all iterations:
    with a new tensor per operation, most of an eager iteration went to the allocator giving
    fresh memory pages (at 240x320, 8 pairs, one thread: 43-70 ms an iteration against 11).
    The results equal ``uniform_step``'s up to rounding (the sums are formed in another order).
    ``update_dual=False`` (the last iteration of a level) leaves ``px_out`` and ``py_out`` as
    they are: p is reset at the next level.
    """
    shape = (rho_c.shape[0], 2, *rho_c.shape[-2:])
    width = shape[-1]
    l_t, taut, theta, eps = consts.unbind()
    flow = padded_views(u, shape, 0)
    coef, ux, uy, norm = scratch
    # Threshold step: coef = clip(rho / denom, -l_t, l_t), v = u - coef grad.
    torch.addcmul(rho_c, grad[:, 0:1], flow[:, 0:1], out=coef)
    coef.addcmul_(grad[:, 1:2], flow[:, 1:2]).div_(denom).clamp_(-l_t, l_t)
    new = padded_views(u_out, shape, 0)
    torch.addcmul(flow, coef, grad, value=-1.0, out=new)
    # Primal step: u = v + theta div p.
    a, b, c, d = (divergence_weight.reshape(-1) * theta).unbind()
    new.addcmul_(padded_views(px, shape, 0), b).addcmul_(padded_views(px, shape, -1), a)
    new.addcmul_(padded_views(py, shape, 0), d).addcmul_(padded_views(py, shape, -width), c)
    if not update_dual:
        return
    # Dual step: p = (p + tau/theta grad u) / (1 + tau/theta |grad u|).
    a, b, c, d = forward_weight.reshape(-1).unbind()
    torch.mul(new, a, out=ux).addcmul_(padded_views(u_out, shape, 1), b).mul_(masks[:, 0:1])
    torch.mul(new, c, out=uy).addcmul_(padded_views(u_out, shape, width), d)
    uy.mul_(masks[:, 1:2])
    torch.mul(ux, ux, out=norm).addcmul_(uy, uy).add_(eps).sqrt_().mul_(taut).add_(1.0)
    for p, p_out, grad_u in ((px, px_out, ux), (py, py_out, uy)):
        out = padded_views(p_out, shape, 0)
        torch.addcmul(padded_views(p, shape, 0), grad_u, taut, out=out).div_(norm)


def linearize(i0, stack, flow, eps, bicubic=False, compensate=False, opencv=False):
    """The data term of one warp: ``I1`` and its gradient warped by ``flow`` (the channels of
    ``stack``; bilinear, or bicubic when ``bicubic``), with the gain and offset that map them to
    ``I0`` applied when ``compensate``, then ``rho_c = I1w - grad . w - I0`` and
    ``|grad|^2 + eps`` (Eq. 10-11).

    Outside the image there is no data: I1w and its gradient are zero there, so that the
    threshold step keeps v = u. ``eps`` is a 0-d tensor (one graph for every constant).
    ``opencv`` warps as ``cv2.remap`` (zero border, Keys a = -0.75 when bicubic), whose border
    fades to zero by itself.
    """
    warped, outside = (opencv_warp if opencv else warp_unchecked)(stack, flow, bicubic)
    if compensate:
        warped = compensate_brightness_unchecked(i0, warped, outside)
    if not opencv:
        warped = warped.masked_fill(outside, 0.0)
    i1w, grad = warped[:, 0:1], warped[:, 1:3]
    gx, gy = grad[:, 0:1], grad[:, 1:2]
    rho_c = i1w - gx * flow[:, 0:1] - gy * flow[:, 1:2] - i0
    denom = gx * gx + gy * gy + eps
    return rho_c, grad, denom


# The bodies of the loops of an exported graph (iterate_loop, TVNet._solve_level_loop), at
# module level so that export.py can make torch forget what it compiled of them before
# (sktvnet._compile.forget_compiled_loops).
def loop_iteration(rho_c, grad, denom, eps: float, carry, scanned):
    """One iteration: ``carry`` is (u, px, py), ``scanned`` the iteration's forward and
    divergence taps and its row of the step table."""
    flow, px, py = carry
    forward_taps, div_taps, row = scanned
    flow, (px, py) = tvl1_step(
        flow, (px, py), rho_c, grad, denom, l_t=row[0], taut=row[1], theta=row[2], eps=eps,
        forward_weight=forward_taps, divergence_weight=div_taps)
    return (flow, px, py), ()


def loop_warp(i0, stack, eps_tensor, options, n_iters: int, eps: float, carry, scanned):
    """One warp: linearise at the current flow, then the loop of its ``n_iters`` iterations;
    ``scanned`` holds the warp's taps and step sizes, one row per iteration."""
    flow, px, py = carry
    forward_taps, div_taps, rows = scanned
    rho_c, grad, denom = linearize(i0, stack, flow, eps_tensor, *options)
    flow, (px, py) = iterate_loop(flow, (px, py), rho_c, grad, denom, forward_taps, div_taps,
                                  rows, 0, n_iters, eps)
    return (flow, px, py), ()


LOOP_BODIES = (loop_iteration, loop_warp)


def taps_per_iteration(forward: Tensor, div: Tensor) -> tuple[Tensor, Tensor]:
    """A level's forward and divergence taps (one set per dual update, T - 1 of them) padded to
    one set per iteration: ``forward[t]`` at the end of iteration t, ``div[t]`` at its start.
    Where a set does not exist (p = 0 before the first iteration, p unused after the last) any
    taps will do; padding keeps one tensor kind for compiled graphs and one row per iteration
    for the exported loops."""
    default = torch.tensor([FORWARD_TAPS] * 2, dtype=forward.dtype, device=forward.device)[None]
    return torch.cat([forward, default]), torch.cat([default, div])


def fused_kernel(kind: str, *args):
    """``linearize(*args)`` (``kind="linearize"``, once per warp) or ``uniform_step(*args)``
    (``"step"``, once per iteration): the two parts of TVNet that run compiled. One compiled
    function holds both (a graph for each kind), so that compiling succeeds or fails for them
    together. Eagerly, the gathers of a warp (4 a sample, 16 bicubic) and the arithmetic around
    them pass over memory a dozen times and cost about ten iterations (bilinear); compiled, one
    pass."""
    if kind == "linearize":
        return linearize(*args)
    if kind == "padded_step":
        return padded_step(*args)
    return uniform_step(*args)


def iterate_loop(u, p, rho_c, grad, denom, forward, div, steps, start: int, stop: int,
                 eps: float):
    """``TVNet._iterate`` for export: one loop over the iterations (``torch.scan``, an ONNX
    ``Scan``), whose body is written once in the graph and whose per-iteration taps and
    step sizes are the loop's scanned inputs. Every iteration updates the dual variable
    (after the last one of a level that p is unused, and u does not depend on it), and p = 0
    stands for p = None (its divergence is zero, so u is the same). ``forward`` and ``div``
    hold a tap set for every iteration (``TVNet._iterate`` pads them)."""
    if p is None:
        p = (torch.zeros_like(u), torch.zeros_like(u))
    # Fresh tensors: the loop body cannot trace views whose offset depends on the batch.
    body = functools.partial(loop_iteration, rho_c.clone(), grad.clone(), denom.clone(), eps)
    (u, px, py), _ = scan(body, (u, p[0], p[1]),
                          (forward[start:stop], div[start:stop], steps[start:stop]))
    return u, (px, py)


# The passes over whole frames around the iterations, one axis at a time: the pyramid's blurs and
# resamplings, the zoom-in of the flow, and the brightness match's warp. They run eagerly from
# Python lists of taps and positions (``_symmetric_filter``, ``_resample_axis``); on the compiled
# path these take their place, each a function of its own so that the variants of each (filter
# lengths, interpolations) count against its own recompile limit. Eagerly every tap is a pass over
# memory: at 240x320, 8 pairs, one thread, the pre-smoothing, pyramid and zoom-ins took 80 ms, a
# fifth of the recommended model's flow, and the match's warp 35 ms.
def filter_rows(image: Tensor, taps: Tensor) -> Tensor:
    return filter_axis(image, taps, 2)


def filter_cols(image: Tensor, taps: Tensor) -> Tensor:
    return filter_axis(image, taps, 3)


def resample_rows(image: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    return resample_axis(image, index, weights, 2)


def resample_cols(image: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    return resample_axis(image, index, weights, 3)


def warp_bilinear(image: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
    return warp_unchecked(image, flow)


#: The functions that ``runner(kind, *tensors)`` runs, by kind (see ``sktvnet._compile``).
RESAMPLING_KERNELS = {fn.__name__: fn for fn in (filter_rows, filter_cols, resample_rows,
                                                  resample_cols, warp_bilinear)}
