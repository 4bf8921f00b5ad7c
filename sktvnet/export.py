"""Deploy a TVNet: export it to an ONNX file or to a ``torch.export`` program (``.pt2``).

TVNet, frozen or trained, is a fixed graph of convolutions, bilinear warps and pointwise steps,
so it runs outside Python: in onnxruntime, TensorRT, a C++ service or a mobile runtime. The
exported graph is whatever :meth:`sktvnet.TVNet.forward` computes, traced once in eager mode
(never the compiled path): grey conversion, joint scaling to [0, 255], pre-smoothing, the
pyramid and every unrolled iteration, with the network's current parameters (u0, filters and any
trained step sizes) stored as constants.

This module lives beside the network rather than in :mod:`sktvnet.io`: ``io`` reads and writes
data files with NumPy and never imports torch, while an export is a compilation of the torch
network into another runtime's format.
"""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

import contextlib
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from . import _validation
from ._progress import progress
from ._version import __version__
from .io import atomic_write
from .network import TVNet, forget_compiled_loops

__all__ = ["EXPORT_FORMATS", "ONNX_OPSET", "check_export_path", "count_onnx_nodes",
           "export_tvnet"]

#: File suffix -> format written by :func:`export_tvnet`.
EXPORT_FORMATS = {".onnx": "ONNX", ".pt2": "torch.export"}
#: ONNX opset of the exported files (the dynamo exporter's, >= 18).
ONNX_OPSET = 18
# Batch of the example frames traced for a dynamic batch: 1 would make the exporter specialise.
_TRACE_BATCH = 2


class _FramesToFlow(nn.Module):
    """The exported signature: ``flow = f(image0, image1)``, names that become the graph's."""

    def __init__(self, tvnet: TVNet) -> None:
        super().__init__()
        self.tvnet = tvnet

    def forward(self, image0: Tensor, image1: Tensor) -> Tensor:
        return self.tvnet(image0, image1)


def count_onnx_nodes(graph) -> int:
    """Nodes of an ONNX graph (``onnx.load(path).graph``), those of its loops' bodies included:
    the size of what a runtime loads, which for TVNet grows with the pyramid levels and not
    with the iterations."""
    total = 0
    for node in graph.node:
        total += 1
        for attribute in node.attribute:
            if attribute.HasField("g"):
                total += count_onnx_nodes(attribute.g)
            total += sum(count_onnx_nodes(body) for body in attribute.graphs)
    return total


def _strip_trace_records(graph) -> None:
    """Drop what the exporter records of the torch code behind each node (stack traces, the
    module path, in ``metadata_props`` and ``doc_string``), in the loops' bodies too: more than
    half of the file, and nothing a runtime reads."""
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _strip_trace_records(attribute.g)
            for body in attribute.graphs:
                _strip_trace_records(body)
    for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        del value.metadata_props[:]


@contextlib.contextmanager
def _quiet_exporters():
    """Silence what the exporters say on every export and a user can do nothing about:
    torch.onnx's registry logs one warning per torchvision operator when torchvision is not
    installed (TVNet uses none); the ONNX translator logs that the loops' list of per-iteration
    output axes is an empty list, whose type it guesses (right: a loop of TVNet has no
    per-iteration output); torch's pytree warns of its own deprecated API."""
    loggers = [logging.getLogger(name) for name in (
        "torch.onnx._internal.exporter._registration", "onnx_ir._convenience")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _remove_unused_initializers(graph) -> None:
    """Drop the initializers that no node reads (in the graph or in a loop's body, which may
    read the outer graph's names): the optimizer leaves a few, and onnxruntime warns of each
    when it opens the file."""
    used: set[str] = set()

    def collect(body) -> None:
        for node in body.node:
            used.update(node.input)
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    collect(attribute.g)
                for sub in attribute.graphs:
                    collect(sub)

    collect(graph)
    used.update(value.name for value in graph.output)
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def check_export_path(path) -> Path:
    """``path`` as a Path, after checking that its suffix names a format of
    :data:`EXPORT_FORMATS` (before anything slow happens)."""
    path = Path(path)
    if path.suffix.lower() not in EXPORT_FORMATS:
        known = ", ".join(f"{suffix} ({name})" for suffix, name in EXPORT_FORMATS.items())
        raise ValueError(
            f"the export format follows the file suffix, one of {known}; got {str(path)!r}"
        )
    return path


def export_tvnet(
    model: TVNet,
    path: str | os.PathLike,
    *,
    frame_shape: tuple[int, int],
    channels: int = 1,
    batch_size: int | None = None,
    optimize: bool = True,
    verbose: int = 0,
) -> Path:
    """Export ``model`` to ONNX (``.onnx``) or to a ``torch.export`` program (``.pt2``).

    The graph takes two frames and returns their flow, computed as ``model(image0, image1)``
    does: grey conversion, joint scaling to [0, 255] of each pair, the brightness match when
    the model has ``match_brightness`` (its aligner included), pre-smoothing, the pyramid and
    the iterations, with the current parameters of ``model`` (frozen or trained). It runs
    eagerly, in float32, on the CPU graph of the model; the model itself is not modified.

    The graph grows with the number of pyramid levels, not with the iterations: on each level
    the warps are one loop and the iterations of a warp one loop inside it (``torch.scan``,
    ONNX ``Scan``, where torch has it: 2.6 and later; older versions unroll them), whose
    per-iteration step sizes and difference filters are the loop's scanned inputs. A model
    that stops early (``tol``) or median-filters the flow exports unrolled.

    The frame size is fixed: the number of pyramid levels depends on it (IPOL's cap keeps the
    coarsest level's diagonal at about 16 px), and so do their sizes and the resampling
    between them, which the graph computes for ``frame_shape`` when it is traced; one graph
    cannot serve sizes whose pyramids differ in depth. Frames of another size are refused at run time:
    ``torch.export`` programs raise an error naming the expected size (``Guard failed:
    image0.size()[2] == 48``), onnxruntime an ``INVALID_ARGUMENT`` error naming the input, the
    dimension, the received and the expected size. The batch dimension is dynamic unless
    ``batch_size`` is given.

    Shape:
        - image0, image1 (graph inputs): ``(B, C, H, W)`` float32, any range, with
          ``(H, W) = frame_shape`` and ``C = channels``.
        - flow (graph output): ``(B, 2, H, W)`` float32, u (horizontal) then v (vertical), in
          pixels, ``image0(x) ~= image1(x + w(x))``.

    Parameters
    ----------
    model : sktvnet.TVNet
        The network to export (for an estimator, its ``model_``).
    path : str or path-like
        Destination; its suffix picks the format: ``.onnx`` (opset :data:`ONNX_OPSET`, one
        self-contained file) or ``.pt2`` (load it with ``torch.export.load``). Written
        atomically: an interrupted export leaves no partial file.
    frame_shape : tuple of int (H, W)
        Size of the frames the graph accepts, each side >= 4.
    channels : {1, 3}, default=1
        Channels of the frames: 1 (grey) or 3 (RGB, turned grey inside the graph with the
        Rec. 601 weights).
    batch_size : int, optional
        Fixed batch size of the graph; ``None`` (default) leaves the batch dimension dynamic.
    optimize : bool, default=True
        For ONNX, run the exporter's graph optimizer (constant folding, redundancies removed):
        a fraction of the nodes, a faster session start without onnxruntime's warnings about
        the nodes it cannot fold, and faster runs, for some tens of seconds more on large
        structures (``benchmarks/results/export.md``). No effect on ``.pt2``.
    verbose : int, default=0
        1 shows the progress of the stages (trace, translation to ONNX, optimization).

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    sktvnet.TVNetFlow.export : The same for a fitted estimator.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> import onnxruntime
    >>> from sktvnet import TVNet, export_tvnet
    >>> net = TVNet(n_scales=1, n_warps=1, n_iters=2)
    >>> folder = tempfile.mkdtemp()
    >>> path = export_tvnet(net, os.path.join(folder, "tvnet.onnx"), frame_shape=(16, 24))
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> frames = np.random.default_rng(0).random((2, 3, 1, 16, 24), dtype=np.float32)
    >>> (flow,) = session.run(["flow"], {"image0": frames[0], "image1": frames[1]})
    >>> flow.shape
    (3, 2, 16, 24)
    """
    if not isinstance(model, TVNet):
        raise TypeError(
            f"model must be an sktvnet.TVNet, got {type(model).__name__}; for a fitted "
            "TVNetFlow call its export method or pass its model_"
        )
    path = check_export_path(path)
    height, width = _validation.check_size(frame_shape, "frame_shape")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if batch_size is not None:
        batch_size = _validation.check_int("batch_size", batch_size)
    if not isinstance(optimize, bool):
        raise TypeError(f"optimize must be True or False, got {optimize!r}")
    verbose = _validation.check_int("verbose", verbose, low=0)

    onnx = path.suffix.lower() == ".onnx"
    stages = ["trace"] + (["translate to ONNX"] + (["optimize"] if optimize else []) if onnx
                          else [])
    bar = progress(total=len(stages), desc="export", unit="stage", disable=not verbose)
    wrapper = _FramesToFlow(model.traceable_copy()).eval()
    batch = _TRACE_BATCH if batch_size is None else batch_size
    generator = torch.Generator().manual_seed(0)
    example = tuple(torch.rand(batch, channels, height, width, generator=generator)
                    for _ in range(2))
    dynamic = None
    if batch_size is None:
        dim = torch.export.Dim("batch", min=1)
        dynamic = {"image0": {0: dim}, "image1": {0: dim}}
    with bar, _quiet_exporters():
        forget_compiled_loops()
        program = torch.export.export(wrapper, example, dynamic_shapes=dynamic)
        bar.set_postfix(done=stages[0])
        bar.update(1)
        with atomic_write(path) as handle:
            if not onnx:
                torch.export.save(program, handle)
                return path
            onnx_program = torch.onnx.export(
                program, example, dynamo=True, opset_version=ONNX_OPSET,
                input_names=["image0", "image1"], output_names=["flow"],
                optimize=False, verbose=False,
            )
            bar.set_postfix(done=stages[1])
            bar.update(1)
            if optimize:
                onnx_program.optimize()
                bar.set_postfix(done=stages[2])
                bar.update(1)
            proto = onnx_program.model_proto
            _strip_trace_records(proto.graph)
            _remove_unused_initializers(proto.graph)
            for value in (*proto.graph.input, *proto.graph.output):
                first = value.type.tensor_type.shape.dim[0]
                if first.HasField("dim_param"):
                    # The exporter names the symbol after its own counter ("s70").
                    first.dim_param = "batch"
            # What the graph accepts, readable by a deployment tool without running it.
            for key, value in (("sktvnet_version", __version__),
                               ("frame_shape", f"{height} {width}"),
                               ("channels", str(channels))):
                proto.metadata_props.add(key=key, value=value)
            handle.write(proto.SerializeToString())
    return path
