"""TVNet's compile policy: the compiled function that TVNet runs (``torch.compile`` of
:func:`sktvnet.functional.fused_kernel`, made at its first call, given up for eager execution
once compiling fails), and the rule by which ``compiled="auto"`` decides to compile.

One :class:`CompilePolicy` serves the process: :func:`policy` returns it, :func:`use_policy`
replaces it for the duration of a block (a fresh cache, another threshold: what the tests use),
and :func:`job_of` announces a job to it. ``sktvnet.network`` exports the constants and
:func:`job_of`.
"""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

import contextlib
import contextvars
import os
import warnings

import torch

from . import functional as tvf

# Documented where sktvnet exports them (sktvnet.network), with the measure behind the threshold.
COMPILE_ENV_VAR = "SKTVNET_COMPILE"
COMPILE_MIN_WORK = 1.5e9
# torch.compile's arguments for fused_kernel. dynamic=True: one graph per kind for every pyramid
# level, iteration, batch size and image size. Every index that a warp gathers at is clamped to
# the image first, so inductor's bounds check of each indirect load, which it cannot prove true
# for symbolic sizes, would only cost time (a quarter of a bicubic warp's).
KERNEL_OPTIONS = {"dynamic": True, "options": {"assert_indirect_indexing": False}}


def compile_enabled() -> bool:
    """Whether the environment lets sktvnet compile: ``COMPILE_ENV_VAR`` is not ``0``,
    ``false``, ``no`` or ``off`` (read at each call)."""
    return os.environ.get(COMPILE_ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def is_compile_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from compiling (dynamo, inductor, the C++/Triton compilers), not
    from running compiled code."""
    from torch._dynamo import exc as dynamo_exc
    from torch._inductor import exc as inductor_exc

    return isinstance(exc, (
        dynamo_exc.TorchDynamoException,  # Unsupported, BackendCompilerFailed, InductorError, ...
        inductor_exc.CppCompileError,
        inductor_exc.CppWrapperCodegenError,
        inductor_exc.InvalidCxxCompiler,
        inductor_exc.OperatorIssue,
        inductor_exc.SubgraphLoweringException,
    ))


class CompiledFunction:
    """``fn`` compiled with ``torch.compile(fn, **options)`` at its first call, or ``fn`` itself.

    Failure policy: a compile error (see ``is_compile_error``; also any error of
    ``torch.compile`` itself, e.g. an unsupported Python) concerns the function and the
    installation, not one call, so the object warns once and runs ``fn`` eagerly from then on.
    Any other error of a compiled call (out of memory, a bad input) propagates unchanged and the
    next call runs compiled again: it says nothing about compilation.

    ``group``: a :class:`CompiledFunction` whose failure this one shares (both give up
    together, with one warning), as the kernels of one :class:`CompilePolicy` do.
    """

    def __init__(self, fn, *, group: "CompiledFunction | None" = None, **options) -> None:
        self.fn = fn
        self.options = options
        self.compiled = None
        self._state = group._state if group is not None else {"failed": False}

    @property
    def failed(self) -> bool:
        return self._state["failed"]

    def __call__(self, *args):
        if self.failed:
            return self.fn(*args)
        if self.compiled is None:
            try:
                self.compiled = torch.compile(self.fn, **self.options)
            except Exception as exc:  # compile-time by construction: nothing has run yet
                return self._give_up(exc, args)
        try:
            return self.compiled(*args)
        except Exception as exc:
            if not is_compile_error(exc):
                raise
            return self._give_up(exc, args)

    def _give_up(self, exc: Exception, args):
        if self.failed:  # another function of the group warned already
            return self.fn(*args)
        self._state["failed"] = True
        warnings.warn(
            f"torch.compile failed ({type(exc).__name__}: {str(exc).strip()[:300]}); "
            f"TVNet runs eagerly from now on. Set {COMPILE_ENV_VAR}=0 to skip compilation.",
            UserWarning,
            stacklevel=3,  # the caller of the compiled function
        )
        return self.fn(*args)


class CompilePolicy:
    """The compiled function that TVNet runs, and the rule of ``compiled="auto"``.

    Parameters
    ----------
    fn : callable, default=sktvnet.functional.fused_kernel
        The function to compile at its first call.
    min_work : float, default=COMPILE_MIN_WORK
        Work, in pixel-iterations, above which ``compiled="auto"`` compiles (see
        :meth:`pays`).
    options : dict or None, default=None
        Arguments of ``torch.compile``; None gives ``KERNEL_OPTIONS``.

    Attributes
    ----------
    kernel : CompiledFunction
        ``fn`` compiled at its first call; TVNet calls it as ``kernel(kind, *args)``.
    resampling : dict of str to CompiledFunction
        :data:`sktvnet.functional.RESAMPLING_KERNELS` compiled (same options) at their first
        call, each on its own, failing with ``kernel``: the passes over whole frames around the
        iterations (the pyramid's blurs and resamplings, the flow's zoom-ins, the brightness
        match's warp), which the compiled path runs through :meth:`resample`.
    eager_work : float
        Inference work that ``compiled="auto"`` ran eagerly under this policy while no graph
        was compiled.
    """

    def __init__(self, fn=tvf.fused_kernel, *, min_work: float = COMPILE_MIN_WORK,
                 options: dict | None = None) -> None:
        options = KERNEL_OPTIONS if options is None else options
        self.kernel = CompiledFunction(fn, **options)
        self.resampling = {kind: CompiledFunction(kernel, group=self.kernel, **options)
                           for kind, kernel in tvf.RESAMPLING_KERNELS.items()}
        self.min_work = min_work
        self.eager_work = 0.0
        # The job in progress, announced by job_of: (pairs x pixels of the job, eager_work
        # before it).
        self._job = contextvars.ContextVar("sktvnet_job", default=None)

    @property
    def failed(self) -> bool:
        """Whether compiling failed: TVNet then runs eagerly for the rest of the process."""
        return self.kernel.failed

    def resample(self, kind: str, *tensors):
        """``RESAMPLING_KERNELS[kind](*tensors)``, compiled: the ``runner`` of the functional
        pyramid, blur and warp on TVNet's compiled path."""
        return self.resampling[kind](*tensors)

    @contextlib.contextmanager
    def job_of(self, pair_pixels: int):
        """:func:`job_of` for this policy."""
        token = self._job.set((pair_pixels, self.eager_work))
        try:
            yield
        finally:
            self._job.reset(token)

    def pays(self, work_per_pixel: float, batch_pixels: int) -> bool:
        """The rule of ``compiled="auto"`` for inference; counts the work it leaves to eager.

        A compiled graph serves every later call (one graph for all sizes), so it always pays
        once it exists. Before that, compiling pays when the job (else this call) plus the work
        already run eagerly reaches ``min_work``: a long video compiles at once, a small job
        runs eagerly, and many small jobs compile once their sum would have repaid it.
        """
        if self.kernel.compiled is not None:
            return True
        job = self._job.get()
        before, pixels = (self.eager_work, batch_pixels) if job is None else (job[1], job[0])
        if before + pixels * work_per_pixel >= self.min_work:
            return True
        self.eager_work += batch_pixels * work_per_pixel
        return False


_policy = CompilePolicy()


def policy() -> CompilePolicy:
    """The compile policy that TVNet uses now."""
    return _policy


@contextlib.contextmanager
def use_policy(new: CompilePolicy):
    """Make ``new`` the compile policy of TVNet inside the block, then restore the previous one.

    Examples
    --------
    >>> from sktvnet._compile import CompilePolicy, policy, use_policy
    >>> with use_policy(CompilePolicy(min_work=0.0)) as fresh:
    ...     policy() is fresh
    True
    >>> policy() is fresh
    False
    """
    global _policy
    previous, _policy = _policy, new
    try:
        yield new
    finally:
        _policy = previous


def job_of(pair_pixels: int):
    """Announce that the coming calls make one job of ``pair_pixels``, so that
    ``compiled="auto"`` weighs compiling against the whole job, not against each batch of it.

    The estimators and ``sktvnet flow`` wrap a video's (or a call's) batches in it.

    Parameters
    ----------
    pair_pixels : int
        Pairs x H x W of the whole job, e.g. a video's ``(T - 1) * H * W``.

    Examples
    --------
    >>> import torch
    >>> from sktvnet.network import TVNet, job_of
    >>> net = TVNet(n_scales=1, n_iters=2)
    >>> frames = torch.rand(4, 1, 16, 16)
    >>> with job_of(3 * 16 * 16), torch.inference_mode():  # 3 pairs, in batches of 1
    ...     flows = [net(frames[t:t + 1], frames[t + 1:t + 2]) for t in range(3)]
    >>> flows[0].shape
    torch.Size([1, 2, 16, 16])
    """
    return _policy.job_of(pair_pixels)


def forget_compiled_loops() -> None:
    """Make torch forget what it compiled of TVNet's loops for an earlier export.

    torch.export traces each loop (``sktvnet.functional.LOOP_BODIES``) by compiling
    torch.scan's inner function, whose cache would serve a loop compiled for another batch size
    (one fixed by ``batch_size``) and break a dynamic batch. Only those functions are forgotten
    where torch lets them be named (its ``reset_code``): other compiled code (a compiled TVNet)
    keeps its cache; otherwise all of torch.compile's caches are. Without torch.scan, nothing
    is.
    """
    if tvf.scan is None:
        return
    codes = [body.__code__ for body in tvf.LOOP_BODIES]
    codes += [const for const in tvf.scan.__code__.co_consts
              if getattr(const, "co_name", None) == "run_flattened_scan"]
    reset_code = getattr(torch._dynamo, "reset_code", None)
    if reset_code is None or len(codes) == len(tvf.LOOP_BODIES):
        torch._dynamo.reset()
        return
    for code in codes:
        reset_code(code)
