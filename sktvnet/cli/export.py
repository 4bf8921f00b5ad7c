"""``sktvnet export``: the TVNet of ``--weights`` (what ``sktvnet flow`` runs for the same option)
to an ONNX file or a ``torch.export`` program."""

from __future__ import annotations

import argparse
import sys
import time

from ..pretrained import structure_name
from ._common import PROG, frame_shape_arg, load_network


def _batch(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"the batch size must be >= 1, got {value}")
    return value


def add_parser(subparsers) -> None:
    """Declare ``sktvnet export`` and its arguments; :func:`run` handles it."""
    parser = subparsers.add_parser(
        "export",
        help="export a fitted TVNet to ONNX (.onnx) or torch.export (.pt2)",
        description=(
            "Export a TVNet to OUTPUT: ONNX (opset 18) for a .onnx suffix, a torch.export "
            "program for .pt2. The model is what `sktvnet flow` runs for the same --weights: "
            "the recommended bundled weights by default, a bundled name, a weights file "
            "(sktvnet.pretrained.save_weights), a TVNetFlow saved with save(), or none (frozen "
            "TV-L1). The graph takes image0 and image1 (B, C, H, W) "
            "float32 in any range and returns flow (B, 2, H, W), u then v in pixels; grey "
            "conversion, scaling and smoothing are inside. H and W are fixed to --frame-shape "
            "(the pyramid is built for that size); the batch is dynamic unless --batch-size is "
            "given. Exporting takes from seconds to a few minutes: the graph holds each pyramid "
            "level once, its warps and iterations as loops."
        ),
    )
    parser.add_argument("--weights", metavar="NAME|PATH",
                        help="the model: a bundled name, a weights file, a model file written "
                             "by TVNetFlow.save, or none (default: the recommended weights, as "
                             "`sktvnet flow`)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="destination file, .onnx or .pt2")
    parser.add_argument("--frame-shape", required=True, metavar="HxW",
                        type=lambda text: frame_shape_arg(text, partial=False),
                        help="height and width of the frames, in pixels: 240x320")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1,
                        help="1 for grey frames (default), 3 for RGB")
    parser.add_argument("--batch-size", type=_batch, metavar="N",
                        help="fixed batch size (default: dynamic)")
    parser.add_argument("--no-optimize", dest="optimize", action="store_false",
                        help="skip the ONNX graph optimizer: a faster export, for a larger, "
                             "slower graph that onnxruntime opens more slowly")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sktvnet export``: load the network, export it, say what was written."""
    from ..export import EXPORT_FORMATS, check_export_path, export_tvnet

    output = check_export_path(args.output)  # a wrong suffix fails before the model is loaded
    loaded = load_network(args.weights)
    network = loaded.network
    print(f"{PROG} export: {loaded.description}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    path = export_tvnet(network, output, frame_shape=tuple(args.frame_shape),
                        channels=args.channels, batch_size=args.batch_size,
                        optimize=args.optimize, verbose=1)
    seconds = time.perf_counter() - start
    batch = "B" if args.batch_size is None else str(args.batch_size)
    height, width = args.frame_shape
    structure = structure_name(loaded.config)
    print(f"{PROG} export: {structure} to {path} ({EXPORT_FORMATS[path.suffix.lower()]}), "
          f"frames ({batch}, {args.channels}, {height}, {width}) -> flow "
          f"({batch}, 2, {height}, {width}), in {seconds:.1f} s")
    return 0
