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

import copy
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from . import _validation
from ._version import __version__
from .io import atomic_write
from .network import TVNet

__all__ = ["EXPORT_FORMATS", "ONNX_OPSET", "check_export_path", "export_tvnet"]

#: File suffix -> format written by :func:`export_tvnet`.
EXPORT_FORMATS = {".onnx": "ONNX", ".pt2": "torch.export"}
#: ONNX opset of the exported files (the dynamo exporter's, >= 18).
ONNX_OPSET = 18
# Batch of the example frames traced for a dynamic batch: 1 would make the exporter specialise.
_TRACE_BATCH = 2


class _FramesToFlow(nn.Module):
    """The exported signature: ``flow = f(frame0, frame1)``, names that become the graph's."""

    def __init__(self, tvnet: TVNet) -> None:
        super().__init__()
        self.tvnet = tvnet

    def forward(self, frame0: Tensor, frame1: Tensor) -> Tensor:
        return self.tvnet(frame0, frame1)


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


def _eager_copy(model: TVNet) -> TVNet:
    """A float32 CPU copy that runs eagerly and needs no gradient, whatever the original does."""
    network = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    network.requires_grad_(False)
    network.fused = False
    network.checkpoint = False
    # The traced graph cannot read a parameter's value, which sets the pre-smoothing's window.
    network._presmoothing_constant = float(network.presmoothing_sigma())
    return network


def export_tvnet(
    model: TVNet,
    path: str | os.PathLike,
    *,
    frame_shape: tuple[int, int],
    channels: int = 1,
    batch_size: int | None = None,
    optimize: bool = True,
) -> Path:
    """Export ``model`` to ONNX (``.onnx``) or to a ``torch.export`` program (``.pt2``).

    The graph takes two frames and returns their flow, computed as ``model(frame0, frame1)``
    does: grey conversion, joint scaling to [0, 255] of each pair, pre-smoothing (sigma 0.8),
    the pyramid and the ``n_scales * n_warps * n_iters`` unrolled iterations, with the current
    parameters of ``model`` (frozen or trained). It runs eagerly, in float32, on the CPU graph
    of the model; the model itself is not modified.

    The frame size is fixed: the number of pyramid levels, their sizes and the resampling
    weights between them are computed from ``frame_shape`` when the graph is traced. Frames of
    another size are refused at run time: ``torch.export`` programs raise an error naming the
    expected size (``Guard failed: frame0.size()[2] == 48``), onnxruntime an
    ``INVALID_ARGUMENT`` error naming the input, the dimension, the received and the expected
    size. The batch dimension is dynamic unless ``batch_size`` is given.

    Shape:
        - frame0, frame1 (graph inputs): ``(B, C, H, W)`` float32, any range, with
          ``(H, W) = frame_shape`` and ``C = channels``.
        - flow (graph output): ``(B, 2, H, W)`` float32, u (horizontal) then v (vertical), in
          pixels, ``frame0(x) ~= frame1(x + w(x))``.

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
        about 6x fewer nodes and faster runs. Its time grows faster than the number of unrolled
        iterations: on a 2-core AMD EPYC, 96x128 frames, TVNet-1-1-20 exported in 13 + 23 s
        and optimized in 28 s more, TVNet-1-1-40 in 21 + 45 s and 87 s more. For large
        structures pass ``False``: the export stays linear in the iterations, and
        onnxruntime's own optimizations at session start recover most of the speed
        (TVNet-1-1-40: 67 against 58 ms for 8 pairs). No effect on ``.pt2``.

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
    >>> (flow,) = session.run(["flow"], {"frame0": frames[0], "frame1": frames[1]})
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

    wrapper = _FramesToFlow(_eager_copy(model)).eval()
    batch = _TRACE_BATCH if batch_size is None else batch_size
    generator = torch.Generator().manual_seed(0)
    example = tuple(torch.rand(batch, channels, height, width, generator=generator)
                    for _ in range(2))
    dynamic = None
    if batch_size is None:
        dim = torch.export.Dim("batch", min=1)
        dynamic = {"frame0": {0: dim}, "frame1": {0: dim}}
    program = torch.export.export(wrapper, example, dynamic_shapes=dynamic)

    with atomic_write(path) as handle:
        if path.suffix.lower() == ".pt2":
            torch.export.save(program, handle)
        else:
            onnx_program = torch.onnx.export(
                program, example, dynamo=True, opset_version=ONNX_OPSET,
                input_names=["frame0", "frame1"], output_names=["flow"],
                optimize=optimize, verbose=False,
            )
            proto = onnx_program.model_proto
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
