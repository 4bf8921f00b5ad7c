"""TVNet: the TV-L1 solver unrolled into a torch network (Fan et al., CVPR 2018, Section 4)."""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

import copy
import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from . import _compile, _core, _match
from . import functional as tvf
# Names of the compile policy that other modules take from here (estimators, command, export).
from ._compile import forget_compiled_loops, job_of  # noqa: F401
from ._match import MATCH_ALIGNER
from ._validation import (check_interpolation, check_like, check_median_filter, check_preset,
                          check_real, check_tensor, check_texture, check_tvnet_params,
                          texture_shares)

__all__ = ["TVNet", "COMPILE_ENV_VAR", "COMPILE_MIN_WORK"]

#: Environment variable that disables ``torch.compile`` everywhere in sktvnet when set to ``0``
#: (also ``false``, ``no``, ``off``); read at each call.
COMPILE_ENV_VAR = _compile.COMPILE_ENV_VAR
#: Work above which ``compiled="auto"`` compiles, in pixel-iterations (pairs x pixels summed over
#: the pyramid levels x n_warps x n_iters). The break-even point, the first compile divided by
#: the time that fusing saves per pixel-iteration, measured 1.5e9 and 2.4e9 in two runs on a
#: quiet 2-core AMD EPYC with inductor's disk cache warm (a compile of 10 s;
#: benchmarks/bench_compile_rule.py) since inference runs in place: eager then costs 12-13 ns a
#: pixel-iteration, compiled 6.6-7.4 (it was 25 against 14 before, and the threshold 2.5e8). A
#: process's very first compile, with a cold cache, takes longer (about 40 s), but the graph
#: then serves every later job of the process and the cache every later process, so the
#: threshold is the warm break-even. A 100-frame 240x320 video through TVNet-1-1-50 (3.8e8)
#: runs eagerly, three 5-frame 68x160 clips through TVNet-3-3-30 (1.5e7) too.
COMPILE_MIN_WORK = _compile.COMPILE_MIN_WORK
#: Pixels of a pyramid level that CPU inference solves at once (pairs x H x W); a larger batch is
#: solved in groups of pairs of at most this size. An iteration rereads about 64 bytes a pixel (u,
#: p, the linearised data term); past about 10 MB they leave the cache: a compiled iteration at
#: 240x320 took 5.3 ns a pixel for 8 pairs at once against 3.2 for 1 or 2 (one thread, AMD EPYC
#: with 32 MiB of L3; ``benchmarks/bench_heldout.py`` measures the whole flow).
CPU_CHUNK_PIXELS = 160_000
# Storage size of the trainable initial flow: independent of the image, resized to the input.
U0_SIZE = (16, 16)
# Range of log(sigma / PRESMOOTHING_SIGMA) of the learned pre-smoothing: from IPOL's sigma 0.8
# (training may blur the frames more, never less) up to about 4 px.
PRESMOOTHING_LOG_RANGE = (0.0, 1.6)


# The brightness match (sktvnet._match) aligns on a frozen TVNet: TVNet keeps one per device.
_MATCH_ALIGNERS: dict = {}


def _match_aligner(device) -> TVNet:
    aligner = _MATCH_ALIGNERS.get(device)
    if aligner is None:
        aligner = TVNet(**MATCH_ALIGNER, compiled=False).to(device).eval()
        _MATCH_ALIGNERS[device] = aligner
    return aligner


def match_brightness_stats(i0: Tensor, i1: Tensor, aligner: TVNet | None = None, *,
                           compiled: bool = False) -> tuple[Tensor, Tensor]:
    """Gain and offset that map ``i1``'s grey levels to ``i0``'s
    (:func:`sktvnet._match.match_brightness_stats`), aligned by ``aligner``: by default the
    frozen TV-L1 of ``MATCH_ALIGNER`` that TVNet keeps for ``i0``'s device."""
    aligner = _match_aligner(i0.device) if aligner is None else aligner
    return _match.match_brightness_stats(i0, i1, aligner, compiled=compiled)


class TVNet(nn.Module):
    """TV-L1 optical flow unrolled into a network: TVNet-``n_scales``-``n_warps``-``n_iters``.

    Frozen (the default), TVNet computes the same function as
    ``tvl1_optical_flow(..., interpolation=interpolation, tol=tol, preset=preset)`` with the same
    structure (``tol=0``: a fixed number of iterations; and the paper's bilinear warps by
    default): the frames
    are turned grey, scaled jointly to [0, 255] per pair, smoothed (sigma 0.8) and put in a pyramid;
    on each level, coarsest first, ``n_warps`` warps of ``n_iters`` iterations of
    :func:`sktvnet.functional.tvl1_iteration` refine the flow, which is then zoomed in to the next
    level. ``eps`` is added where Eq. 11-12 divide (TVNet's choice; the reference tests for zero).

    Made trainable (Section 4.2), the initial flow ``u0`` and the difference filters learn
    task-specific motion features. The filters are untied: each scale owns its centred-gradient
    taps, and each dual update owns its forward-gradient taps (which turn u into p) and divergence
    taps (which feed that p back into u at the next iteration). The dual update after the last
    iteration of a scale is not computed (p is reset at the next scale, the output does not depend
    on it), so it owns no parameter; every parameter therefore influences the output.

    Beyond the paper, the Gaussian that smooths the frames before the pyramid learns with the
    filters: its width, from IPOL's sigma 0.8 up (:meth:`presmoothing_sigma`). One warp
    linearises the frames once, about the initial flow, and a wider blur extends the
    displacements over which that linearisation holds: on held-out pairs of up to 4 px, trained
    TVNet-1-1-50 learns sigma 2.3 and halves its error (``benchmarks/bench_table1.py``).

    Beyond the paper, the step sizes can learn too (``train_steps=True``): every iteration of
    every level owns its tau, lambda and theta (the dual updates only a tau, like the filters),
    initialised at the constructor's values, so that untrained TVNet is still exactly TV-L1.
    They are parametrised so that they stay positive and bounded whatever the optimiser does:

    - ``lambda_t = lmbda * exp(a_t)`` and ``theta_t = theta * exp(b_t)``: positive, scale-free
      (a step of the optimiser changes them by a ratio, whatever their size);
    - ``tau_t = 2 tau sigmoid(c_t)``, in ``(0, 2 tau)``. The dual update of Eq. 12 keeps
      ``|p| <= 1`` for any ``tau > 0`` (it divides by ``1 + tau/theta |grad u|`` at least what it
      adds), so no tau makes it blow up; its step, in Chambolle's sense, is tau (``grad u /
      theta = grad(div p + v / theta)``), and the linear stability bound of that projection is
      ``tau < 2 / ||div||^2 = 1/4`` for the default taps. Beyond it the dual variable oscillates
      (bounded) instead of converging, which a learned, fixed number of iterations may use but
      the sigmoid keeps within a factor of two: at most 0.5 with IPOL's tau = 0.25. Trained
      filters change ``||div||`` anyway, so no fixed bound would be exact.

    With the parameters at 0 the formulas give the constructor's values exactly (``exp(0) = 1``,
    ``2 sigmoid(0) = 1``), and ``lambda theta`` and ``tau / theta`` are formed in float64 as the
    reference does.

    Shape:
        - x0, x1: ``(B, C, H, W)`` with C = 1 (grey) or 3 (RGB), H, W >= 4, float32 or float64.
        - output: ``(B, 2, H, W)``, u (horizontal, columns) then v (vertical, rows), in pixels.

    Parameters
    ----------
    n_scales : int, default=1
        Number of pyramid levels. Capped per input by IPOL's rule (``_core.pyramid_shapes``: the
        coarsest level keeps a diagonal of about 16 px); parameters of level k (0 = finest) serve
        level k of every input.
    n_warps : int, default=1
        Warps (re-linearisations of the data term) per level.
    n_iters : int, default=50
        Iterations per warp.
    tau : float, default=0.25
        Time step of the dual update, tau in Eq. 12, in (0, 0.25].
    lmbda : float, default=0.15
        Weight of the data term, lambda in Eq. 1.
    theta : float, default=0.3
        Coupling between u and v, theta in Eq. 2.
    zoom_factor : float, default=0.5
        Ratio between the sizes of consecutive levels, in (0, 1).
    eps : float, default=1e-10
        Small positive constant added where Eq. 11-12 divide (``_core.GRAD_IS_ZERO``).
    train_u0 : bool, default=False
        Whether the initial flow ``u0`` is trainable.
    train_filters : bool, default=False
        Whether the difference filters and the width of the pre-smoothing are trainable.
    train_steps : bool, default=False
        Whether the step sizes tau, lambda and theta of every iteration of every level are
        trainable (see above and :meth:`step_sizes`).
    texture : bool, float in [0, 1] or sequence of them, default=False
        Solve on the texture of every pyramid level (:func:`sktvnet.functional.texture`: the
        level minus its Gaussian blur of sigma 2) rather than on the level, so that a change of
        brightness between the frames (automatic exposure, flicker) is not read as motion; as
        ``tvl1_optical_flow(texture=True)``. False keeps TV-L1's own input. A number ``w``
        subtracts ``w`` times the blur, between the two: more precise than the full texture
        where brightness is constant, less robust where it changes (True is 1, False 0). A
        sequence gives each level its own share, finest first, the last one holding for every
        coarser level: ``(0, 1)`` solves the finest level on the frames, for their precision,
        and the coarser ones, which find the motion, on textures.
    compensate_brightness : bool, default=False
        At every warp, fit a gain and an offset from the warped second frame to the first and
        apply them (:func:`sktvnet.functional.compensate_brightness`: robust least squares that
        discount the pixels the current flow does not align), so that a change of brightness
        between the frames (exposure, flicker) is not read as motion; as
        ``tvl1_optical_flow(compensate_brightness=True)``. Unlike ``texture`` it keeps the low
        frequencies that carry large motions on the coarse levels.
    match_brightness : bool, default=False
        Before the flow, map the second frame's grey levels by the gain and offset that match
        them to the first's, fitted on an alignment that brightness cannot mislead (a frozen
        TV-L1 on the texture of frames three times smaller; see :func:`match_brightness_stats`).
        A change of brightness between the frames (exposure, flicker) then is not read as
        motion, while the solver keeps the frames' low frequencies, which carry large motions,
        and costs about a tenth more. Where brightness is constant the fitted gain and offset
        are close to 1 and 0. ``compensate_brightness`` fits the same two numbers at every warp
        against the flow being solved instead, which a smooth region can mislead; the NumPy
        reference has that one only.
    median_filter : int, default=0
        Side of a median filter (:func:`sktvnet.functional.median_filter`, borders replicated)
        applied to the flow before every ``_core.MEDIAN_EVERY`` (30) iterations of a warp, from
        its first, as OpenCV's DualTVL1 does between its outer iterations (its default is 5):
        it removes outliers of the flow. 0 turns it off; else odd, >= 3. As
        ``tvl1_optical_flow(median_filter=...)``.
    preset : {"opencv"} or None, default=None
        ``"opencv"`` builds the pyramid and warps as OpenCV's DualTVL1, the TV-L1 that most
        pretrained two-stream flow models were trained on, as
        ``tvl1_optical_flow(preset="opencv")`` does: no pre-smoothing (nor its parameter),
        levels resized on pixel centres without blur (``cv2.resize``), the flow moved up a
        level the same way, warps by ``cv2.remap``'s interpolation (Keys a = -0.75 when
        ``"bicubic"``) with a zero border. Unlike the reference, it sets no value: the
        structure is the constructor's (``TVNet(**sktvnet.pretrained.OPENCV_CONFIG)`` gives
        OpenCV's, its stopping rule included: ``tol=0.01``). The frames keep their values, as
        OpenCV's do, instead of being scaled jointly to [0, 255]: 8-bit values as they are (as
        the estimators and the command give uint8 videos), and a pair whose values all lie in
        [0, 1] multiplied by 255, as OpenCV takes float frames.
    tol : float, default=0.0
        Stop the iterations of a warp, pair by pair, once the mean squared change of the flow
        is at most ``tol ** 2`` (``n_iters`` is then a maximum): the reference's rule, and
        OpenCV's (epsilon 0.01), which a fixed number of iterations cannot follow where OpenCV
        runs a warp long (noisy pairs, changes of brightness). 0 (TVNet's, the paper's) runs
        ``n_iters`` iterations. Beyond the paper; with tol > 0 the iterations run one at a
        time, and ``checkpoint`` does not apply.
    interpolation : {"bilinear", "bicubic"}, default="bilinear"
        How the warps (and the pyramid's resampling) interpolate the frames between pixels.
        Bilinear is the paper's TVNet. Bicubic (Keys, a = -0.5: Catmull-Rom) is IPOL's TV-L1 and
        markedly more precise for the same iterations: on held-out 240x320 warps, frozen
        TVNet-4-3-10 goes from 0.095 to 0.070 px (``benchmarks/bench_table1.py``), for 16 instead
        of 4 reads per warped pixel once per warp, not per iteration.
    compiled : {"auto", True, False}, default="auto"
        Run the iterations compiled with ``torch.compile``: ``True`` always, ``False`` never,
        ``"auto"`` for inference (nothing needs a gradient) when it pays. The first compile of a
        process takes seconds (one graph then serves every size), so ``"auto"`` compiles once a
        graph exists, or when the job (a video, announced by the estimators and the command) plus
        the work already run eagerly in the process reaches ``COMPILE_MIN_WORK`` pixel-iterations
        (pairs x pixels summed over the levels x ``n_warps`` x ``n_iters``), the break-even point
        measured by ``benchmarks/bench_compile_rule.py``; otherwise it runs eagerly. Compilation is
        skipped when the environment variable ``SKTVNET_COMPILE`` is ``0``; if it fails, TVNet
        warns once and runs eagerly. Either way, inference (no gradient needed) keeps its fields
        in zero-bordered buffers that every iteration rewrites, in place when eager; with
        autograd the iterations are functional.
    checkpoint : bool, default=False
        Recompute the iterations in the backward pass (``torch.utils.checkpoint``, segments of
        about ``sqrt(n_iters)`` iterations) instead of storing them all: memory grows like
        ``sqrt(n_iters)`` instead of ``n_iters``, for about one extra forward pass.

    Attributes
    ----------
    u0 : nn.Parameter of shape (2, 16, 16)
        Initial flow, in pixels of the input, zero-initialised. It is resized (bilinear,
        antialiased) to the coarsest level and multiplied by ``zoom_factor ** (levels - 1)``, the
        nominal coarsest/finest size ratio, as the reference does with ``u0``.
    centered_weight : nn.Parameter of shape (n_scales, 2, 3)
        Taps wc of the image gradient (Eq. 3) of each level, x then y; initialised (-0.5, 0, 0.5).
    forward_weight : nn.Parameter of shape (n_scales, n_warps * n_iters - 1, 2, 2)
        Taps wf of the forward gradient (Eq. 4) of each dual update, counted across the warps of a
        level; initialised (-1, 1).
    divergence_weight : nn.Parameter of shape (n_scales, n_warps * n_iters - 1, 2, 2)
        Taps wb of the divergence (Eq. 5) that uses the p of the same dual update; initialised
        (-1, 1).
    log_presmoothing : nn.Parameter of shape ()
        ``log(sigma / 0.8)`` of the Gaussian that smooths the frames before the pyramid, clamped
        to ``PRESMOOTHING_LOG_RANGE`` (sigma from 0.8 to about 4 px); zero-initialised, trained
        with the filters. Weights saved without it load with 0.
    log_lmbda : nn.Parameter of shape (n_scales, n_warps * n_iters)
        ``log(lambda_t / lmbda)`` of each iteration of each level, counted across its warps;
        zero-initialised.
    log_theta : nn.Parameter of shape (n_scales, n_warps * n_iters)
        ``log(theta_t / theta)``; zero-initialised.
    tau_logit : nn.Parameter of shape (n_scales, n_warps * n_iters - 1)
        ``logit(tau_t / (2 tau))`` of each dual update; zero-initialised.

    The step parameters exist whatever ``train_steps`` (frozen when False, like ``u0`` and the
    filters), so that a state dict loads into any TVNet of the same structure, and their
    values are always used: a TVNet that loads trained steps runs with them.

    See Also
    --------
    sktvnet.tvl1_optical_flow : The NumPy reference solver.
    sktvnet.losses.tvl1_energy : The unsupervised loss Lf (Eq. 1).

    References
    ----------
    .. [1] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`
    .. [2] J. Sanchez, E. Meinhardt-Llopis, G. Facciolo, "TV-L1 optical flow estimation",
       Image Processing On Line 3 (2013) 137-150. :doi:`10.5201/ipol.2013.26`

    Examples
    --------
    >>> import torch
    >>> from sktvnet.network import TVNet
    >>> y, x = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    >>> image1 = (torch.sin(0.3 * x) + torch.cos(0.25 * y))[None, None]
    >>> image0 = (torch.sin(0.3 * (x + 1.0)) + torch.cos(0.25 * y))[None, None]  # I0(x) = I1(x + 1)
    >>> net = TVNet(n_scales=2, n_warps=3, n_iters=30)
    >>> flow = net(image0, image1)
    >>> flow.shape
    torch.Size([1, 2, 48, 64])
    >>> float(flow[0, 0].median()), float(flow[0, 1].median())  # doctest: +NUMBER
    (1.0, 0.0)
    """

    def __init__(
        self,
        *,
        n_scales: int = 1,
        n_warps: int = 1,
        n_iters: int = 50,
        tau: float = 0.25,
        lmbda: float = 0.15,
        theta: float = 0.3,
        zoom_factor: float = 0.5,
        eps: float = _core.GRAD_IS_ZERO,
        train_u0: bool = False,
        train_filters: bool = False,
        train_steps: bool = False,
        texture: bool | float | Sequence[float] = False,
        compensate_brightness: bool = False,
        match_brightness: bool = False,
        median_filter: int = 0,
        preset: str | None = None,
        tol: float = 0.0,
        interpolation: str = "bilinear",
        compiled: bool | str = "auto",
        checkpoint: bool = False,
    ) -> None:
        super().__init__()
        params = check_tvnet_params(
            tau=tau, lmbda=lmbda, theta=theta, zoom_factor=zoom_factor,
            n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, eps=eps,
        )
        for name, flag in (("train_u0", train_u0), ("train_filters", train_filters),
                           ("train_steps", train_steps), ("checkpoint", checkpoint),
                           ("compensate_brightness", compensate_brightness),
                           ("match_brightness", match_brightness)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__} {flag!r}")
        if not (isinstance(compiled, bool) or compiled == "auto"):
            raise ValueError(f"compiled must be 'auto', True or False, got {compiled!r}")
        self.n_scales = params["n_scales"]
        self.n_warps = params["n_warps"]
        self.n_iters = params["n_iters"]
        self.tau = params["tau"]
        self.lmbda = params["lmbda"]
        self.theta = params["theta"]
        self.zoom_factor = params["zoom_factor"]
        self.eps = params["eps"]
        self.train_u0 = train_u0
        self.train_filters = train_filters
        self.train_steps = train_steps
        check_texture(texture, params["n_scales"])
        self.texture = texture
        self.compensate_brightness = compensate_brightness
        self.match_brightness = match_brightness
        self.median_filter = check_median_filter(median_filter)
        self.preset = check_preset(preset)
        self.tol = check_real("tol", tol, low=0.0, low_open=False)
        if self.tol > 0 and checkpoint:
            raise ValueError("checkpoint needs a fixed number of iterations: tol must be 0 "
                             f"with checkpoint=True, got tol={tol}")
        self.interpolation = check_interpolation(interpolation)
        self.compiled = compiled
        self.checkpoint = checkpoint

        n_dual = self.n_warps * self.n_iters - 1
        self.u0 = nn.Parameter(torch.zeros(2, *U0_SIZE), requires_grad=train_u0)
        self.centered_weight = nn.Parameter(
            torch.tensor(tvf.CENTERED_TAPS).repeat(self.n_scales, 2, 1), requires_grad=train_filters
        )
        self.forward_weight = nn.Parameter(
            torch.tensor(tvf.FORWARD_TAPS).repeat(self.n_scales, n_dual, 2, 1),
            requires_grad=train_filters,
        )
        self.divergence_weight = nn.Parameter(
            torch.tensor(tvf.DIVERGENCE_TAPS).repeat(self.n_scales, n_dual, 2, 1),
            requires_grad=train_filters,
        )
        self.log_presmoothing = nn.Parameter(torch.zeros(()), requires_grad=train_filters)
        # The pre-smoothing's sigma as a float, set on copies that are traced for export (see
        # traceable_copy): the blur's window follows its value, which a traced graph cannot read.
        self._presmoothing_constant: float | None = None
        n_steps = self.n_warps * self.n_iters
        for name, count in (("log_lmbda", n_steps), ("log_theta", n_steps), ("tau_logit", n_dual)):
            setattr(self, name, nn.Parameter(torch.zeros(self.n_scales, count),
                                             requires_grad=train_steps))

    def extra_repr(self) -> str:
        return (
            f"n_scales={self.n_scales}, n_warps={self.n_warps}, n_iters={self.n_iters}, "
            f"tau={self.tau}, lmbda={self.lmbda}, theta={self.theta}, "
            f"zoom_factor={self.zoom_factor}, eps={self.eps}, train_u0={self.train_u0}, "
            f"train_filters={self.train_filters}, train_steps={self.train_steps}, "
            f"texture={self.texture}, compensate_brightness={self.compensate_brightness}, "
            f"match_brightness={self.match_brightness}, "
            f"median_filter={self.median_filter}, preset={self.preset!r}, tol={self.tol}, "
            f"interpolation={self.interpolation!r}, "
            f"compiled={self.compiled!r}, "
            f"checkpoint={self.checkpoint}"
        )

    def step_sizes(self) -> dict[str, Tensor]:
        """The step sizes of every iteration of every level, in float64.

        Returns
        -------
        steps : dict of str to Tensor
            ``"tau"`` of shape (n_scales, n_warps * n_iters - 1) (one per dual update),
            ``"lmbda"`` and ``"theta"`` of shape (n_scales, n_warps * n_iters); level 0 is the
            finest. They require a gradient when ``train_steps`` is True.
        """
        theta = self.theta * torch.exp(self.log_theta.double())
        return dict(
            tau=self.tau * (2.0 * torch.sigmoid(self.tau_logit.double())),
            lmbda=self.lmbda * torch.exp(self.log_lmbda.double()),
            theta=theta,
        )

    def presmoothing_sigma(self) -> Tensor:
        """The standard deviation, in pixels, of the Gaussian that smooths the frames before
        the pyramid: a float64 0-d tensor, 0.8 (IPOL's) until trained, at most about 4 px.

        Examples
        --------
        >>> float(TVNet().presmoothing_sigma())
        0.8
        """
        low, high = PRESMOOTHING_LOG_RANGE
        log_ratio = self.log_presmoothing.double().clamp(low, high)
        return _core.PRESMOOTHING_SIGMA * torch.exp(log_ratio)

    def traceable_copy(self) -> TVNet:
        """A copy of the network ready to be traced into a graph (:mod:`sktvnet.export`).

        The copy is float32 on the CPU, runs eagerly (``compiled=False``, no checkpointing) and
        needs no gradient; the pre-smoothing's sigma is fixed as a float, since a traced graph
        cannot read a parameter's value (the blur's window follows it); with
        ``match_brightness``, it holds its own copy of the aligner, a submodule, so that the
        aligner's parameters are the graph's like the network's own. The network itself is left
        as it is.

        Returns
        -------
        copy : TVNet
            Computes the same flows as the network, in eager float32.

        Examples
        --------
        >>> net = TVNet(n_scales=1, n_iters=2)
        >>> traced = net.traceable_copy()
        >>> traced is net, traced.compiled, any(p.requires_grad for p in traced.parameters())
        (False, False, False)
        """
        network = copy.deepcopy(self).to(device="cpu", dtype=torch.float32).eval()
        network.requires_grad_(False)
        network.compiled = False
        network.checkpoint = False
        network._presmoothing_constant = float(network.presmoothing_sigma())
        if network.match_brightness:
            network.match_aligner = _match_aligner(torch.device("cpu")).traceable_copy()
        return network

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before the pre-smoothing learned (the bundled ones among them) have no
        # log_presmoothing: theirs was IPOL's, a 0 here. ``state_dict`` is load_state_dict's copy.
        state_dict.setdefault(prefix + "log_presmoothing", torch.zeros(()))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _step_table(self, dtype, device) -> Tensor:
        """(n_scales, n_warps * n_iters, 4): lmbda theta, tau / theta, theta, eps per iteration.

        Formed in float64 and then cast, as the reference forms lmbda * theta and tau / theta.
        After the last iteration of a level there is no dual update; its tau / theta is the
        constructor's (unused, it keeps one table shape for the compiled step).
        """
        steps = self.step_sizes()
        theta = steps["theta"]
        last = torch.full_like(theta[:, -1:], self.tau / self.theta)
        taut = torch.cat([steps["tau"] / theta[:, :-1], last], dim=1)
        eps = torch.full_like(theta, self.eps)
        table = torch.stack([steps["lmbda"] * theta, taut, theta, eps], dim=-1)
        return table.to(device=device, dtype=dtype)

    # ----------------------------------------------------------------------------------------
    def forward(self, image0: Tensor, image1: Tensor) -> Tensor:
        """Flow from ``image0`` (frame t) to ``image1`` (frame t+1):
        ``image0(x) ~= image1(x + w(x))``.

        Parameters
        ----------
        image0, image1 : Tensor of shape (B, C, H, W)
            Frames, C = 1 or 3 (RGB), float32 or float64, any range (each pair is scaled on its
            own; with ``preset="opencv"``, 8-bit values or [0, 1]), H, W >= 4.

        Returns
        -------
        flow : Tensor of shape (B, 2, H, W)
            Horizontal u then vertical v, in pixels, in the dtype and on the device of the frames.
        """
        check_tensor(image0, "image0", channels=(1, 3))
        check_tensor(image1, "image1", channels=(1, 3))
        check_like(image1, image0, "image1", "image0")
        if image0.dtype not in (torch.float32, torch.float64):
            raise TypeError(
                f"image0 and image1 must be float32 or float64, got {image0.dtype}; convert them "
                "with .float()"
            )
        if min(image0.shape[-2:]) < _core.MIN_SIDE:
            raise ValueError(
                f"frames must be at least {_core.MIN_SIDE}x{_core.MIN_SIDE} pixels, "
                f"got shape {tuple(image0.shape)}"
            )
        # One pass over the frames, far cheaper than the unrolled iterations: a NaN would
        # otherwise come out as a plausible flow (a NaN column as ~0 motion). Not while tracing
        # (export, compile), where a value cannot decide a branch.
        if not (torch.compiler.is_compiling() or torch.compiler.is_exporting()):
            for name, frames in (("image0", image0), ("image1", image1)):
                if not bool(torch.isfinite(frames).all()):
                    raise ValueError(f"{name} contains NaN or infinite values; TVNet would turn "
                                     "them into a wrong flow without a word: replace them first")
        need_grad = torch.is_grad_enabled() and (
            image0.requires_grad or image1.requires_grad
            or any(p.requires_grad for p in self.parameters())
        )
        compiled = self._use_compiled(need_grad, image0.shape)
        if need_grad:
            return self._flow(image0, image1, compiled=compiled, use_checkpoint=self.checkpoint)
        with torch.inference_mode():
            flow = self._flow(image0, image1, compiled=compiled, use_checkpoint=False)
        # A normal tensor, not an inference tensor, so that callers may feed it to autograd.
        return flow.clone()

    def _use_compiled(self, need_grad: bool, shape) -> bool:
        if self.compiled is False or _compile.policy().failed or not _compile.compile_enabled():
            return False
        if self.compiled is True:
            return True
        if need_grad:
            return False
        batch, _, height, width = shape
        levels = _core.pyramid_shapes(height, width, self.n_scales, self.zoom_factor)
        per_pixel = sum(h * w for h, w in levels) / (height * width) * self.n_warps * self.n_iters
        return _compile.policy().pays(per_pixel, batch * height * width)

    def _flow(self, x0: Tensor, x1: Tensor, *, compiled: bool, use_checkpoint: bool) -> Tensor:
        batch, _, height, width = x0.shape
        dtype, device = x0.dtype, x0.device
        bicubic = self.interpolation == "bicubic"
        opencv = self.preset == "opencv"
        # OpenCV keeps the frames' values (its lambda weighs 8-bit differences); TV-L1 as IPOL
        # scales each pair to [0, 255].
        scale = tvf.opencv_scale if opencv else tvf.normalize_pair_unchecked
        # The compiled path runs the passes over whole frames (blurs, resamplings) compiled too.
        runner = _compile.policy().resample if compiled else None
        i0, i1 = scale(tvf.to_grey_unchecked(x0), tvf.to_grey_unchecked(x1))
        if self.match_brightness:
            # An exported copy holds its aligner (export.py); TVNet shares one per device.
            aligner = self._modules.get("match_aligner")
            aligner = _match_aligner(device) if aligner is None else aligner
            i1 = _match.match_brightness(i0, i1, aligner, compiled=compiled)
        if opencv:  # OpenCV's pyramid: no pre-smoothing, levels resized without blur
            shapes = _core.opencv_pyramid_shapes(height, width, self.n_scales, self.zoom_factor)
            levels = tvf.opencv_pyramid(torch.cat([i0, i1], dim=1), shapes, self.zoom_factor)
        else:
            frames = self._presmooth(torch.cat([i0, i1], dim=1), runner)
            shapes = _core.pyramid_shapes(height, width, self.n_scales, self.zoom_factor)
            levels = tvf.pyramid_unchecked(frames, shapes, self.zoom_factor, bicubic,
                                           runner=runner)
        # Level by level: the texture of the finest frames alone would leave the coarse levels,
        # which see large motions, almost nothing.
        levels = [tvf.texture_unchecked(level, weight=share, runner=runner) if share else level
                  for level, share in zip(levels, texture_shares(self.texture, len(levels)))]
        centered = self.centered_weight.to(device=device, dtype=dtype)
        forward = self.forward_weight.to(device=device, dtype=dtype)
        div = self.divergence_weight.to(device=device, dtype=dtype)
        steps = self._step_table(dtype, device)

        flow = self._initial_flow(shapes, batch, dtype, device)
        for level in range(len(shapes) - 1, -1, -1):
            flow = self._solve_level(
                levels[level][:, 0:1], levels[level][:, 1:2], flow,
                centered[level], forward[level], div[level], steps[level],
                compiled=compiled, use_checkpoint=use_checkpoint,
            )
            if level > 0:
                flow = (tvf.opencv_resize(flow, shapes[level - 1]) if opencv
                        else tvf.zoom_in_unchecked(flow, shapes[level - 1], bicubic,
                                                   runner=runner))
                flow = flow * (1.0 / self.zoom_factor)
        return flow

    def _presmooth(self, frames: Tensor, runner=None) -> Tensor:
        """``frames`` blurred by the pre-smoothing: by a float sigma unless it learns (in
        place, and 0.8 exactly until trained), else by taps formed from the parameter."""
        sigma = self._presmoothing_constant
        if sigma is None:
            sigma = self.presmoothing_sigma()
            if not sigma.requires_grad:
                sigma = float(sigma)
        if math.isnan(float(sigma.detach()) if isinstance(sigma, Tensor) else sigma):
            # A training that diverged: NaN flows, as any other NaN parameter gives (the blur's
            # window would be undefined).
            return torch.full_like(frames, math.nan)
        if isinstance(sigma, Tensor):
            return tvf.gaussian_blur_learnable(frames, sigma)
        return tvf.gaussian_blur_unchecked(frames, sigma, runner=runner)

    def _initial_flow(self, shapes, batch: int, dtype, device) -> Tensor:
        h, w = shapes[-1]
        u0 = self.u0.to(device=device, dtype=dtype)
        if tuple(u0.shape[-2:]) != (h, w):
            # Antialiased so that every stored value reaches the output (and gets a gradient) even
            # when the coarsest level is smaller than the stored field.
            u0 = F.interpolate(
                u0[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True
            )[0]
        # Pixels of the coarsest level: the inverse of the 1 / zoom_factor applied at each zoom-in
        # (the reference scales u0 the same way).
        u0 = u0 * self.zoom_factor ** (len(shapes) - 1)
        # Materialised (not a stride-0 expand) so that every iteration sees the same memory layout.
        return u0.expand(batch, 2, h, w).contiguous()

    def _solve_level(self, i0, i1, flow, centered, forward, div, steps, *, compiled,
                     use_checkpoint):
        """``n_warps`` warps of ``n_iters`` iterations on one level; p starts at 0 (None).

        CPU inference solves a large level in groups of about ``CPU_CHUNK_PIXELS`` pixels, of
        two pairs at least (the pairs are independent: the same flows), so that the fields that
        every iteration rereads stay in the processor's cache. Groups of equal size, never of
        one pair out of several: each batch size 1 would be a compiled graph of its own.
        """
        # Not while tracing (export, compile): the batch is a symbol there, not a number.
        if (i0.device.type == "cpu" and not torch.is_grad_enabled()
                and not (torch.compiler.is_compiling() or torch.compiler.is_exporting())):
            batch, _, height, width = i0.shape
            groups = batch // max(2, CPU_CHUNK_PIXELS // (height * width))
        else:
            groups = 1
        if groups > 1:
            return torch.cat([
                self._solve_level(i0_, i1_, flow_, centered, forward, div, steps,
                                  compiled=compiled, use_checkpoint=use_checkpoint)
                for i0_, i1_, flow_ in zip(*(x.tensor_split(groups) for x in (i0, i1, flow)))])
        i1x, i1y = tvf.centered_gradient_unchecked(i1, centered)
        stack = torch.cat([i1, i1x, i1y], dim=1)
        p = None
        eps = torch.tensor(self.eps, dtype=i0.dtype, device=i0.device)
        bicubic = self.interpolation == "bicubic"
        opencv = self.preset == "opencv"
        if (torch.compiler.is_exporting() and tvf.scan is not None and self.n_warps > 1
                and not self.median_filter and self.tol == 0):
            return self._solve_level_loop(i0, stack, flow, forward, div, steps, eps)
        for warp_index in range(self.n_warps):
            if compiled:
                rho_c, grad, denom = _compile.policy().kernel(
                    "linearize", i0, stack, flow, eps, bicubic, self.compensate_brightness, opencv)
            else:
                rho_c, grad, denom = tvf.linearize(i0, stack, flow, eps, bicubic,
                                                   self.compensate_brightness, opencv)
            start = warp_index * self.n_iters
            # The median filter runs before every MEDIAN_EVERY iterations of the warp (OpenCV's
            # outer iterations): the iterations run in stretches between its passes.
            period = _core.MEDIAN_EVERY if self.median_filter else self.n_iters
            settled = None  # with tol: which pairs have stopped iterating in this warp
            for stretch in range(start, start + self.n_iters, period):
                end = min(stretch + period, start + self.n_iters)
                if settled is not None and bool(settled.all()):
                    break
                if self.median_filter:
                    filtered = tvf.median_filter_unchecked(flow, self.median_filter)
                    flow = filtered if settled is None else torch.where(settled, flow, filtered)
                if self.tol > 0:
                    flow, p, settled = self._iterate_to_tol(
                        flow, p, rho_c, grad, denom, forward, div, steps, stretch, end, compiled,
                        settled)
                    continue
                if not use_checkpoint:
                    flow, p = self._iterate(flow, p, rho_c, grad, denom, forward, div, steps,
                                            stretch, end, compiled)
                    continue
                # Segments of about sqrt(n_iters) iterations: the backward pass keeps only the
                # segment boundaries and recomputes one segment at a time, so memory grows like
                # sqrt(n_iters) instead of n_iters.
                segment = max(1, math.isqrt(self.n_iters))
                for first in range(stretch, end, segment):
                    last = min(first + segment, end)
                    flow, p = _checkpoint(self._iterate, flow, p, rho_c, grad, denom, forward,
                                          div, steps, first, last, compiled, use_reentrant=False)
        return flow

    def _solve_level_loop(self, i0, stack, flow, forward, div, steps, eps):
        """``_solve_level`` for export: the warps of a level are one loop (a ``torch.scan``,
        an ONNX ``Scan``) whose body warps ``I1`` and runs the loop of the iterations
        (``functional.iterate_loop``), so that the graph holds one warp per level whatever
        ``n_warps``."""
        n_warps, n_iters = self.n_warps, self.n_iters
        forward, div = tvf.taps_per_iteration(forward, div)
        forward = forward.reshape(n_warps, n_iters, 2, 2)
        div = div.reshape(n_warps, n_iters, 2, 2)
        steps = steps.reshape(n_warps, n_iters, -1)
        options = (self.interpolation == "bicubic", self.compensate_brightness,
                   self.preset == "opencv")
        body = functools.partial(tvf.loop_warp, i0.clone(), stack.clone(), eps, options, n_iters,
                                 self.eps)
        zeros = torch.zeros_like(flow)
        (flow, _, _), _ = tvf.scan(body, (flow.clone(), zeros, zeros.clone()),
                                   (forward, div, steps))
        return flow

    def _iterate_to_tol(self, u, p, rho_c, grad, denom, forward, div, steps, start: int,
                        stop: int, compiled: bool, settled):
        """Iterations ``start .. stop - 1`` one at a time, each pair stopping for the rest of the
        warp once the mean over its pixels of the squared change of the flow (u and v summed)
        is at most ``tol ** 2``, the reference's rule and OpenCV's: a settled pair keeps its u
        and p. ``settled`` (``(B, 1, 1, 1)`` bool, or None: none yet) is returned updated."""
        if settled is None:
            settled = torch.zeros(u.shape[0], 1, 1, 1, dtype=torch.bool, device=u.device)
        if p is None:
            p = (torch.zeros_like(u), torch.zeros_like(u))
        pixels = u.shape[-2] * u.shape[-1]
        for t in range(start, stop):
            u_next, p_next = self._iterate(u, p, rho_c, grad, denom, forward, div, steps, t,
                                           t + 1, compiled)
            change = (u_next - u).square().sum(dim=(1, 2, 3), keepdim=True) / pixels
            u = torch.where(settled, u, u_next)
            p = tuple(torch.where(settled, old, new) for old, new in zip(p, p_next))
            settled = settled | (change <= self.tol * self.tol)
            if bool(settled.all()):
                break
        return u, p, settled

    def _iterate(self, u, p, rho_c, grad, denom, forward, div, steps, start: int, stop: int,
                 compiled: bool):
        """Iterations ``start .. stop - 1`` of a level (counted across its warps).

        Dual update t (t = 0 .. T-2, T = n_warps * n_iters) uses ``forward[t]`` at the end of
        iteration t and ``div[t]`` at the start of iteration t + 1. Iteration t uses row t of
        ``steps`` (see ``_step_table``).
        """
        last = self.n_warps * self.n_iters - 1
        exporting = torch.compiler.is_exporting() and tvf.scan is not None and stop - start > 1
        # Inference runs on zero-bordered buffers, in place when eager. Under torch.compile or
        # torch.export of the whole network (ONNX files) the functional form serves better: the
        # graph plans its own memory, and a mutating graph exports larger and runs slower.
        inference = not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        if compiled or inference or exporting:
            forward, div = tvf.taps_per_iteration(forward, div)
        if exporting:
            return tvf.iterate_loop(u, p, rho_c, grad, denom, forward, div, steps, start, stop,
                                    self.eps)
        if inference:
            return self._iterate_padded(u, p, rho_c, grad, denom, forward, div, steps,
                                        start, stop, compiled=compiled, last=last)
        if compiled:
            if p is None:
                p = (torch.zeros_like(u), torch.zeros_like(u))
            for t in range(start, stop):
                # Clones, not views: the guards of a view include its base's size, which differs
                # between structures and would make the graph recompile.
                u, px, py = _compile.policy().kernel(
                    "step", u, p[0], p[1], rho_c, grad, denom,
                    forward[t].clone(), div[t].clone(), steps[t].clone(),
                )
                p = (px, py)
            return u, p
        for t in range(start, stop):
            l_t, taut, theta, _ = steps[t].unbind()
            u, p = tvf.tvl1_step(
                u, p, rho_c, grad, denom, l_t=l_t, taut=taut, theta=theta, eps=self.eps,
                forward_weight=forward[t] if t < last else None,
                divergence_weight=div[t - 1] if t > 0 else None,
                update_dual=t < last,
            )
        return u, p

    @staticmethod
    def _iterate_padded(u, p, rho_c, grad, denom, forward, div, steps, start: int, stop: int, *,
                        compiled: bool, last: int):
        """``_iterate`` for inference: ``functional.padded_step`` compiled (``compiled``), else
        ``functional.padded_step_inplace``, between two sets of zero-bordered buffers, each
        iteration writing the set that the previous one read. ``forward`` and ``div`` hold a tap
        set for every iteration (``_iterate`` pads them)."""
        shape = u.shape
        height, width = shape[-2:]
        state = [u] + ([torch.zeros_like(u)] * 2 if p is None else list(p))
        buffers = [F.pad(field.reshape(-1), (width, width)) for field in state]
        spare = [torch.zeros_like(buf) for buf in buffers]
        masks = torch.ones(1, 2, height, width, dtype=u.dtype, device=u.device)
        masks[:, 0, :, -1] = 0.0
        masks[:, 1, -1, :] = 0.0
        if not compiled:
            scratch = [u.new_empty(u.shape[0], 1, height, width)]
            scratch += [torch.empty_like(u) for _ in range(3)]
        for t in range(start, stop):
            if compiled:
                _compile.policy().kernel("padded_step", *buffers, *spare, rho_c, grad, denom,
                                         masks, forward[t].clone(), div[t].clone(),
                                         steps[t].clone())
            else:
                tvf.padded_step_inplace(*buffers, *spare, rho_c, grad, denom, masks, forward[t],
                                        div[t], steps[t], scratch, update_dual=t < last)
                if t == last:  # p was not updated: it is the one the iteration read
                    spare[1:] = buffers[1:]
            buffers, spare = spare, buffers
        u, px, py = (tvf.padded_views(buf, shape, 0) for buf in buffers)
        return u, (px, py)
