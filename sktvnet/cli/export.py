"""``sktvnet export``: a saved or pretrained TVNet to an ONNX file or a ``torch.export`` program."""

from __future__ import annotations

import argparse
import os
import time

from ._common import PROG


def _frame_side(text: str) -> int:
    value = int(text)
    if value < 4:
        raise argparse.ArgumentTypeError(f"a frame side must be >= 4 pixels, got {value}")
    return value


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
            "Export the TVNet of a TVNetFlow saved with save() (MODEL), or of pretrained "
            "weights (--pretrained NAME), to OUTPUT: ONNX (opset 18) for a .onnx suffix, a "
            "torch.export program for .pt2. The graph takes frame0 and frame1 (B, C, H, W) "
            "float32 in any range and returns flow (B, 2, H, W), u then v in pixels; grey "
            "conversion, scaling and smoothing are inside. H and W are fixed to --frame-shape "
            "(the pyramid is built for that size); the batch is dynamic unless --batch-size is "
            "given. Exporting takes from seconds to minutes: the graph holds every unrolled "
            "iteration."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("model", nargs="?", metavar="MODEL",
                        help="a TVNetFlow file written by TVNetFlow.save()")
    source.add_argument("--pretrained", metavar="NAME",
                        help="export the pretrained weights NAME (see sktvnet.load_pretrained)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="destination file, .onnx or .pt2")
    parser.add_argument("--frame-shape", required=True, nargs=2, type=_frame_side,
                        metavar=("H", "W"), help="height and width of the frames, in pixels")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1,
                        help="1 for grey frames (default), 3 for RGB")
    parser.add_argument("--batch-size", type=_batch, metavar="N",
                        help="fixed batch size (default: dynamic)")
    parser.add_argument("--no-optimize", dest="optimize", action="store_false",
                        help="skip the ONNX graph optimizer, whose time grows faster than "
                             "the number of unrolled iterations (large structures, such as the "
                             "pretrained one), for a somewhat slower graph")
    parser.set_defaults(handler=run)


def _load_network(args: argparse.Namespace):
    """The TVNet to export: from the model file, or from the pretrained weights."""
    if args.pretrained is None:
        from ..estimators import TVNetFlow

        estimator = TVNetFlow.load(os.fspath(args.model))
        if not hasattr(estimator, "model_"):
            raise ValueError(f"{args.model} holds a TVNetFlow that was never fitted: fit it first")
        return estimator.model_
    from ..pretrained import load_pretrained

    return load_pretrained(args.pretrained).model_


def run(args: argparse.Namespace) -> int:
    """Run ``sktvnet export``: load the network, export it, say what was written."""
    from ..export import EXPORT_FORMATS, _check_path, export_tvnet

    output = _check_path(args.output)  # a wrong suffix fails before the model is loaded
    network = _load_network(args)
    start = time.perf_counter()
    path = export_tvnet(network, output, frame_shape=tuple(args.frame_shape),
                        channels=args.channels, batch_size=args.batch_size,
                        optimize=args.optimize)
    seconds = time.perf_counter() - start
    batch = "B" if args.batch_size is None else str(args.batch_size)
    height, width = args.frame_shape
    structure = f"TVNet-{network.n_scales}-{network.n_warps}-{network.n_iters}"
    print(f"{PROG} export: {structure} to {path} ({EXPORT_FORMATS[path.suffix.lower()]}), "
          f"frames ({batch}, {args.channels}, {height}, {width}) -> flow "
          f"({batch}, 2, {height}, {width}), in {seconds:.1f} s")
    return 0
