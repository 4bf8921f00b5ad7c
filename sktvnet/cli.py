"""The ``sktvnet`` command (also ``python -m sktvnet``).

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and sets
``handler`` to ``_run_<name>(args) -> int``; :data:`_SUBCOMMANDS` lists the adders. A new
subcommand is one more pair and one more entry there.

``sktvnet demo`` runs each method of :data:`_DEMO_METHODS` on each pair of :func:`_demo_pairs` and
prints their accuracy; adding a method (another solver) is one more entry in that table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._version import __version__

__all__ = ["main"]

PROG = "sktvnet"


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _DemoPair:
    """Two frames and their ground truth; ``valid`` is None when the flow is known everywhere."""

    name: str
    image0: np.ndarray
    image1: np.ndarray
    flow: np.ndarray
    valid: np.ndarray | None


def _tvl1_reference(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    from .reference import tvl1_optical_flow

    return tvl1_optical_flow(image0, image1)


# (short name used in file names, label printed in the table, function (image0, image1) -> flow)
_DEMO_METHODS: list[tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("tvl1", "TV-L1 reference", _tvl1_reference),
]


def _demo_pairs(quick: bool) -> list[_DemoPair]:
    from .datasets import load_stereo_motorcycle, make_synthetic_pair

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


def _save_comparison(path: str, estimate: np.ndarray, pair: _DemoPair, label: str) -> None:
    """Write ``estimate | ground truth`` colour-coded on the ground truth's scale, with a legend."""
    from .io import flow_to_color, save_png
    from .metrics import _known_flow

    truth = pair.flow.astype(np.float64)
    known = _known_flow(truth)
    if pair.valid is not None:
        known &= pair.valid
        # Show unknown ground truth as unknown (black) rather than as the zero stored there.
        truth = np.where(known, truth, np.nan)
    max_flow = float(np.hypot(truth[0], truth[1])[known].max())
    panels = [
        flow_to_color(estimate, max_flow=max_flow, legend=True),
        flow_to_color(truth, max_flow=max_flow),
    ]
    truth_label = "ground truth" if known.all() else "ground truth (black: unknown)"
    labels = [f"{label} (legend rim: {max_flow:.1f} px)", truth_label]
    save_png(path, _labelled_row(panels, labels))


def _table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Cells padded to ``abs(width)``: left-aligned if the width is negative, else right-aligned."""
    padded = (
        f"{cell:<{-width}}" if width < 0 else f"{cell:>{width}}"
        for cell, width in zip(cells, widths)
    )
    return "  ".join(padded).rstrip()


def _add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="estimate flow on bundled image pairs with known flow and report the error",
        description=(
            "Estimate optical flow on image pairs with known ground truth (a synthetic warp of "
            "scikit-image's camera image, 240x320, and the real Middlebury stereo motorcycle pair, "
            "500x741), print time and accuracy, and write colour-coded flow images."
        ),
    )
    parser.add_argument(
        "-o", "--output", default="sktvnet-demo", metavar="DIR",
        help="folder for the PNG images, created if needed (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the synthetic 240x320 pair (the fastest check)"
    )
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .metrics import angular_error, endpoint_error

    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OSError(f"cannot create the output folder {args.output!r}: {reason}") from exc
    header = ("pair", "method", "size", "time (s)", "EPE (px)", "AE (deg)")
    # Text columns left-aligned, numbers right-aligned.
    widths = (-18, -16, -8, 8, 8, 8)
    print(_table_row(header, widths))
    written = []
    for pair in _demo_pairs(args.quick):
        height, width = pair.flow.shape[1:]
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
            _save_comparison(path, estimate, pair, label)
            written.append(path)
    print()
    print("flow images (estimate | ground truth, Middlebury colours):")
    for path in written:
        print(f"  {path}")
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
_SUBCOMMANDS = (_add_demo,)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="TVNet and TV-L1 optical flow for scikit-learn users."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str | os.PathLike] | None = None) -> int:
    """Run the ``sktvnet`` command line.

    Parameters
    ----------
    argv : sequence of str or os.PathLike, optional
        The arguments without the program name; ``sys.argv[1:]`` by default. Paths are accepted
        as they are (``pathlib.Path`` included).

    Returns
    -------
    status : int
        0 on success, 1 when the command failed (the reason is printed on stderr), 130 when
        interrupted. Usage errors exit through argparse with status 2.

    Examples
    --------
    >>> import tempfile
    >>> from sktvnet.cli import main
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +ELLIPSIS
    ...     main(["demo", "--quick", "--output", folder])
    pair                method            size      time (s)  EPE (px)  AE (deg)
    synthetic-camera    TV-L1 reference   240x320   ...
    <BLANKLINE>
    flow images (estimate | ground truth, Middlebury colours):
      .../synthetic-camera_tvl1.png
    0
    """
    if argv is not None:
        argv = [os.fspath(arg) for arg in argv]
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
