"""``sktvnet demo``: flow on bundled pairs with known ground truth, timed, scored and pictured.

It runs each method of :data:`_DEMO_METHODS` on each pair of :func:`_demo_pairs` and prints their
accuracy; adding a method (another solver) is one more entry in that table.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .._validation import known_flow
from ..io import save_png
from ..metrics import angular_error, endpoint_error
from ..visualization import flow_to_color
from ..pretrained import FROZEN_CONFIG, structure_name
from ._common import make_output_folder


@dataclass(frozen=True)
class _DemoPair:
    """Two frames and their ground truth; ``valid`` is None when the flow is known everywhere."""

    name: str
    image0: np.ndarray
    image1: np.ndarray
    flow: np.ndarray
    valid: np.ndarray | None


def _tvl1_reference(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    from ..reference import tvl1_optical_flow

    return tvl1_optical_flow(image0, image1)


def _as_batch(image: np.ndarray):
    """An image (H, W) or (H, W, C) as a float32 torch batch (1, C, H, W)."""
    import torch

    channels_first = np.moveaxis(np.atleast_3d(image), -1, 0)
    return torch.from_numpy(np.ascontiguousarray(channels_first, dtype=np.float32))[None]


def _tvnet(weights: str | None, image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    """TVNet with the bundled ``weights`` (a name), or frozen (None), through the one loader."""
    import torch

    from ..pretrained import load_tvnet

    # Eager: two pairs do not repay torch.compile's start-up.
    net = load_tvnet(weights, compiled=False).network
    with torch.inference_mode():
        return net(_as_batch(image0), _as_batch(image1))[0].numpy()


def _pretrained_methods() -> list[tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]]:
    """A row for each bundled entry: the recommended one (what ``sktvnet flow`` runs by default,
    for camera footage) first, as ``pretrained``; the others by their names."""
    from .. import pretrained

    names = [pretrained.RECOMMENDED] + sorted(set(pretrained.WEIGHTS) - {pretrained.RECOMMENDED})
    return [("pretrained" if name == pretrained.RECOMMENDED else name, f"pretrained {name}",
             partial(_tvnet, name)) for name in names]


# (short name used in file names, label printed in the table, function (image0, image1) -> flow)
_DEMO_METHODS: list[tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("tvl1", "TV-L1 reference", _tvl1_reference),
    ("tvnet", structure_name(FROZEN_CONFIG), partial(_tvnet, None)),
    *_pretrained_methods(),
]


def _demo_pairs(quick: bool) -> list[_DemoPair]:
    from ..datasets import load_stereo_motorcycle, make_synthetic_pair

    image0, image1, flow = make_synthetic_pair("camera", (240, 320))
    pairs = [_DemoPair("synthetic-camera", image0, image1, flow, None)]
    if not quick:
        pairs.append(_DemoPair("stereo-motorcycle", *load_stereo_motorcycle()))
    return pairs


def _labelled_row(panels: Sequence[np.ndarray], labels: Sequence[str], gap: int = 8) -> np.ndarray:
    """Put RGB panels of one height side by side on white, each with a caption above it."""
    from PIL import Image, ImageDraw

    height = panels[0].shape[0]
    caption = 16
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    canvas = Image.new("RGB", (width, height + caption + 2 * gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = gap
    for panel, label in zip(panels, labels):
        draw.text((x, gap), label, fill=(0, 0, 0))
        canvas.paste(Image.fromarray(panel), (x, gap + caption))
        x += panel.shape[1] + gap
    return np.asarray(canvas)


def _save_comparison(
    path: str, estimates: Sequence[np.ndarray], labels: Sequence[str], pair: _DemoPair
) -> None:
    """Write ``estimate | ... | ground truth`` colour-coded on the ground truth's scale; the first
    panel carries the legend."""
    truth = pair.flow.astype(np.float64)
    known = known_flow(truth)
    if pair.valid is not None:
        known &= pair.valid
        # Show unknown ground truth as unknown (black) rather than as the zero stored there.
        truth = np.where(known, truth, np.nan)
    max_flow = float(np.hypot(truth[0], truth[1])[known].max())
    panels = [flow_to_color(estimate, max_flow=max_flow, legend=i == 0)
              for i, estimate in enumerate(estimates)]
    panels.append(flow_to_color(truth, max_flow=max_flow))
    labels = list(labels)
    labels[0] += f" (legend rim: {max_flow:.1f} px)"
    labels.append("ground truth" if known.all() else "ground truth (black: unknown)")
    save_png(path, _labelled_row(panels, labels))


def _table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Cells padded to ``abs(width)``: left-aligned if the width is negative, else right-aligned."""
    padded = (
        f"{cell:<{-width}}" if width < 0 else f"{cell:>{width}}"
        for cell, width in zip(cells, widths)
    )
    return "  ".join(padded).rstrip()


def add_parser(subparsers) -> None:
    """Declare ``sktvnet demo`` and its arguments; :func:`run` handles it."""
    parser = subparsers.add_parser(
        "demo",
        help="estimate flow on bundled image pairs with known flow and report the error",
        description=(
            "Estimate optical flow on image pairs with known ground truth (a synthetic warp of "
            "scikit-image's camera image, 240x320, and the real Middlebury stereo motorcycle pair, "
            "500x741) with the NumPy reference TV-L1, frozen TVNet and the bundled pretrained "
            "TVNets, print time and accuracy, and "
            "write colour-coded flow images: each method beside the ground truth, and all methods "
            "side by side (<pair>_methods.png)."
        ),
    )
    parser.add_argument(
        "-o", "--output", default="sktvnet-demo", metavar="DIR",
        help="folder for the PNG images, created if needed (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the synthetic 240x320 pair (the fastest check)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sktvnet demo``: print the table, write the pictures; return the exit status."""
    make_output_folder(args.output)
    header = ("pair", "method", "size", "time (s)", "EPE (px)", "AE (deg)")
    # Text columns left-aligned, numbers right-aligned.
    widths = (-18, -max(16, *(len(label) + 2 for _, label, _ in _DEMO_METHODS)), -8, 8, 8, 8)
    # First calls import their libraries (torch takes a second): warm every method up on a tiny
    # pair so that the table times the solvers only.
    tiny = np.random.default_rng(0).random((2, 16, 16))
    for _, _, estimate_flow in _DEMO_METHODS:
        estimate_flow(tiny[0], tiny[1])
    print(_table_row(header, widths))
    written = []
    for pair in _demo_pairs(args.quick):
        height, width = pair.flow.shape[1:]
        estimates, labels = [], []
        for short, label, estimate_flow in _DEMO_METHODS:
            start = time.perf_counter()
            estimate = estimate_flow(pair.image0, pair.image1)
            elapsed = time.perf_counter() - start
            epe = endpoint_error(estimate, pair.flow, pair.valid)
            ae = angular_error(estimate, pair.flow, pair.valid)
            size = f"{height}x{width}"
            row = (pair.name, label, size, f"{elapsed:.2f}", f"{epe:.3f}", f"{ae:.2f}")
            print(_table_row(row, widths), flush=True)
            path = os.path.join(args.output, f"{pair.name}_{short}.png")
            _save_comparison(path, [estimate], [label], pair)
            written.append(path)
            estimates.append(estimate)
            labels.append(f"{label}: EPE {epe:.3f} px")
        if len(estimates) > 1:
            path = os.path.join(args.output, f"{pair.name}_methods.png")
            _save_comparison(path, estimates, labels, pair)
            written.append(path)
    print()
    print("flow images (estimates | ground truth, Middlebury colours):")
    for path in written:
        print(f"  {path}")
    return 0
