"""The ``sktvnet`` command (also ``python -m sktvnet``).

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and sets
``handler`` to ``_run_<name>(args) -> int``; :data:`_SUBCOMMANDS` lists the adders. A new
subcommand is one more pair and one more entry there.

``sktvnet demo`` runs each method of :data:`_DEMO_METHODS` on each pair of :func:`_demo_pairs` and
prints their accuracy; adding a method (another solver) is one more entry in that table.

``sktvnet flow`` streams videos, image folders and image pairs through TVNet (or the reference)
chunk by chunk: a chunk of ``batch_size + 1`` frames gives ``batch_size`` pairs, its last frame
starts the next chunk, and every output is written atomically as soon as it is computed (per-pair
files) or moved into place when its input is complete (one ``.npz`` or ``.mp4`` per input).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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


# TVNet structure of `sktvnet flow` and of the demo: IPOL's coarse-to-fine pyramid (capped per
# input so the coarsest level keeps ~16 px) with 3 warps of 30 iterations instead of 5 of up to
# 300. On the demo pairs its EPE is within 12% of the reference's (0.128 vs 0.114 px on the
# camera warp, 4.06 vs 3.78 px on the motorcycle) for 36% of the iterations of 5 warps x 50;
# one warp misses large motions (18.5 px on the motorcycle). See docs/user_guide.rst.
_FLOW_STRUCTURE = {"n_scales": 6, "n_warps": 3, "n_iters": 30}


def _tvl1_reference(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    from .reference import tvl1_optical_flow

    return tvl1_optical_flow(image0, image1)


def _as_batch(image: np.ndarray):
    """An image (H, W) or (H, W, C) as a float32 torch batch (1, C, H, W)."""
    import torch

    channels_first = np.moveaxis(np.atleast_3d(image), -1, 0)
    return torch.from_numpy(np.ascontiguousarray(channels_first, dtype=np.float32))[None]


def _tvnet(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    from .network import TVNet

    # Eager: two pairs do not repay torch.compile's start-up.
    net = TVNet(**_FLOW_STRUCTURE, fused=False)
    return net(_as_batch(image0), _as_batch(image1))[0].numpy()


# (short name used in file names, label printed in the table, function (image0, image1) -> flow)
_DEMO_METHODS: list[tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("tvl1", "TV-L1 reference", _tvl1_reference),
    ("tvnet", "TVNet-{n_scales}-{n_warps}-{n_iters}".format(**_FLOW_STRUCTURE), _tvnet),
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


def _save_comparison(
    path: str, estimates: Sequence[np.ndarray], labels: Sequence[str], pair: _DemoPair
) -> None:
    """Write ``estimate | ... | ground truth`` colour-coded on the ground truth's scale; the first
    panel carries the legend."""
    from .io import flow_to_color, save_png
    from .metrics import _known_flow

    truth = pair.flow.astype(np.float64)
    known = _known_flow(truth)
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


def _add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="estimate flow on bundled image pairs with known flow and report the error",
        description=(
            "Estimate optical flow on image pairs with known ground truth (a synthetic warp of "
            "scikit-image's camera image, 240x320, and the real Middlebury stereo motorcycle pair, "
            "500x741) with the NumPy reference TV-L1 and with TVNet, print time and accuracy, and "
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


# --------------------------------------------------------------------------------------------
# flow
# --------------------------------------------------------------------------------------------
_FLOW_FORMATS = ("flo", "npz", "png", "mp4")
# Per-pair outputs: OUTDIR/<name>/<t:06d>.<ext>. Per-input outputs: OUTDIR/<name>.<ext>.
_PER_PAIR_FORMATS = ("flo", "png")
_PAIR_NAME = re.compile(r"^\d{6}\.(flo|png)$")
_DEFAULT_FPS = 25


@dataclass(frozen=True)
class _FlowInput:
    """One thing to compute flows for: a video file, a folder of frames, or two image files."""

    name: str  # outputs go to OUTDIR/<name>/... or OUTDIR/<name>.<ext>
    paths: tuple[str, ...]  # one path (video or folder), or the two images of a pair

    @property
    def label(self) -> str:
        return " + ".join(self.paths)

    def probe(self):
        from .io import _probe, _SourceInfo

        if len(self.paths) == 2:
            return _SourceInfo(2, None)
        return _probe(self.paths[0])

    def chunks(self, chunk_size: int, resize) -> Iterator[np.ndarray]:
        """Chunks of ``chunk_size`` frames, each starting with the previous one's last frame."""
        from .io import _check_resize, _chunks, _image_frames, iter_video

        if len(self.paths) == 2:
            frames = _image_frames(self.paths, _check_resize(resize))
            return _chunks(frames, chunk_size, 1)
        return iter_video(self.paths[0], chunk_size=chunk_size, overlap=1, resize=resize)


def _flow_inputs(paths: Sequence[str]) -> list[_FlowInput]:
    """Group the command's INPUT arguments: image files go two by two, anything else alone."""
    from .io import _IMAGE_EXTENSIONS

    def is_image(path: str) -> bool:
        return not os.path.isdir(path) and os.path.splitext(path)[1].lower() in _IMAGE_EXTENSIONS

    inputs, i = [], 0
    while i < len(paths):
        path = paths[i]
        if not is_image(path):
            name = os.path.basename(os.path.normpath(path))
            if not os.path.isdir(path):
                name = os.path.splitext(name)[0]
            inputs.append(_FlowInput(name, (path,)))
            i += 1
            continue
        if i + 1 >= len(paths) or not is_image(paths[i + 1]):
            following = "nothing" if i + 1 >= len(paths) else repr(paths[i + 1])
            raise ValueError(
                f"image files are read in pairs (frame t, then frame t+1), but {path!r} is "
                f"followed by {following}; for a sequence of images, give their folder"
            )
        stem = os.path.splitext(os.path.basename(path))[0]
        inputs.append(_FlowInput(stem, (path, paths[i + 1])))
        i += 2
    seen: dict[str, _FlowInput] = {}
    for item in inputs:
        if item.name in seen:
            raise ValueError(
                f"{seen[item.name].label!r} and {item.label!r} would write the same outputs "
                f"({item.name!r}): rename one, or run them with different output folders"
            )
        seen[item.name] = item
    return inputs


class _Outputs:
    """The outputs of one input in every chosen format, with --resume's skipping.

    Per-pair files (flo, png) are written as pairs arrive; per-input files (npz, mp4) are streamed
    into writers that publish the file when :meth:`close` is called. All writes are atomic, so an
    existing output is a complete one: with ``resume`` it is kept and not recomputed.
    """

    def __init__(self, args: argparse.Namespace, name: str, fps) -> None:
        from .io import _remove_temporaries

        self.folder = os.path.join(args.output, name)
        self.per_pair = [f for f in args.format if f in _PER_PAIR_FORMATS]
        self.stacks: dict[str, str] = {}
        self.args, self.fps = args, fps
        self.writers: dict[str, object] = {}
        # Temporaries of a run that was killed are never complete: remove them.
        _remove_temporaries(self.folder, _PAIR_NAME.match)
        for fmt in args.format:
            if fmt not in _PER_PAIR_FORMATS:
                path = os.path.join(args.output, f"{name}.{fmt}")
                _remove_temporaries(args.output, os.path.basename(path).__eq__)
                if not (args.resume and os.path.exists(path)):
                    self.stacks[fmt] = path
        if self.per_pair:
            os.makedirs(self.folder, exist_ok=True)

    def complete(self) -> bool:
        """True when nothing is left to write (known before decoding only without per-pair
        files)."""
        return not self.per_pair and not self.stacks

    def _pair_path(self, fmt: str, t: int) -> str:
        return os.path.join(self.folder, f"{t:06d}.{fmt}")

    def needed(self, t: int) -> bool:
        """Whether the flow of pair ``t`` must be computed."""
        if self.stacks or not self.args.resume:
            return True
        return any(not os.path.exists(self._pair_path(f, t)) for f in self.per_pair)

    def write(self, t: int, flow: np.ndarray) -> None:
        from .io import _FlowNpzWriter, _FlowVideoWriter, flow_to_color, save_png, write_flo

        for fmt in self.per_pair:
            path = self._pair_path(fmt, t)
            if self.args.resume and os.path.exists(path):
                continue
            if fmt == "flo":
                write_flo(path, flow)
            else:
                save_png(path, flow_to_color(flow, max_flow=self.args.max_flow,
                                             legend=self.args.legend))
        for fmt, path in self.stacks.items():
            if fmt not in self.writers:
                self.writers[fmt] = (
                    _FlowNpzWriter(path) if fmt == "npz" else _FlowVideoWriter(
                        path, fps=self.fps, max_flow=self.args.max_flow, legend=self.args.legend)
                )
            self.writers[fmt].write(flow)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()


def _flow_estimator(args: argparse.Namespace) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The solver as ``f(frames0, frames1) -> flows``: uint8 ``(B, H, W, 3)`` -> float32
    ``(B, 2, H, W)``. Its parameters are checked here, before any input is read."""
    structure = {"n_scales": args.n_scales, "n_warps": args.n_warps, "n_iters": args.n_iters}
    constants = {"tau": args.tau, "lmbda": args.lmbda, "theta": args.theta,
                 "zoom_factor": args.zoom_factor}
    if args.method == "reference":
        from . import _validation
        from .reference import tvl1_optical_flow

        _validation.check_solver_params(**structure, **constants)
        tol = _validation.check_real("tol", args.tol, low=0.0, low_open=False)

        def reference(frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
            return np.stack([
                tvl1_optical_flow(f0, f1, **structure, **constants, tol=tol).astype(np.float32)
                for f0, f1 in zip(frames0, frames1)
            ])

        return reference

    import torch

    from .estimators._base import resolve_device
    from .network import TVNet

    try:
        device = resolve_device(args.device)
    except RuntimeError as exc:  # torch's words for a malformed device string
        raise ValueError(
            f"--device must be auto, cpu, cuda or cuda:N, got {args.device!r}"
        ) from exc
    net = TVNet(**structure, **constants, eps=args.eps, fused=False if args.no_compile else "auto")
    net = net.to(device).eval()

    def tvnet(frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        # uint8 crosses to the device (a quarter of float32's bytes) and is converted there.
        x0 = torch.from_numpy(frames0).to(device).permute(0, 3, 1, 2).float()
        x1 = torch.from_numpy(frames1).to(device).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            return net(x0, x1).float().cpu().numpy()

    return tvnet


def _flow_one(item: _FlowInput, args, estimate, pair_bar) -> tuple[int, int]:
    """Compute and write the flows of one input; returns (pairs computed, pairs skipped)."""
    info = item.probe()
    outputs = _Outputs(args, item.name, args.fps or info.fps or _DEFAULT_FPS)
    n_pairs = None if info.n_frames is None else max(info.n_frames - 1, 0)
    pair_bar.reset(total=n_pairs)
    pair_bar.set_description(item.name)
    if outputs.complete():
        return 0, n_pairs or 0
    computed = skipped = t = 0
    try:
        for chunk in item.chunks(args.batch_size + 1, args.resize):
            n = len(chunk) - 1
            todo = [k for k in range(n) if outputs.needed(t + k)]
            if todo:
                flows = estimate(chunk[todo], chunk[[k + 1 for k in todo]])
                for k, flow in zip(todo, flows):
                    outputs.write(t + k, flow)
            computed += len(todo)
            skipped += n - len(todo)
            t += n
            pair_bar.update(n)
        if t == 0:
            raise ValueError(f"{item.label!r} has a single frame: a flow needs at least two")
        outputs.close()
    except BaseException:
        outputs.abort()
        raise
    return computed, skipped


def _resize_arg(text: str) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"(\d*)[xX](\d*)", text.strip())
    sizes = None if match is None else [int(g) if g else None for g in match.groups()]
    if sizes is None or sizes == [None, None] or 0 in sizes:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH with positive sizes (e.g. 240x320), or 240x / x320 to keep "
            f"the aspect ratio, got {text!r}"
        )
    return sizes[0], sizes[1]


def _formats_arg(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in _FLOW_FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(_FLOW_FORMATS)} separated by commas, got {text!r}"
        )
    return formats


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _add_flow(subparsers) -> None:
    parser = subparsers.add_parser(
        "flow",
        help="compute the optical flow of videos, image folders or image pairs",
        description=(
            "Compute the optical flow between every pair of consecutive frames of each INPUT and "
            "write it to OUTDIR. An INPUT is a video file (anything FFmpeg decodes: mp4, avi, "
            "webm, mkv, ...), a folder of PNG/JPEG frames in name order, or two image files "
            "(frame t then frame t+1; image files are always taken two by two). Videos are "
            "decoded in chunks, so memory does not grow with their length. Outputs: "
            "OUTDIR/<name>/000000.flo ... (flo, Middlebury format, u then v in pixels, flow "
            "000000 from frame 0 to frame 1), OUTDIR/<name>/000000.png ... (png, colour-coded), "
            "OUTDIR/<name>.npz (npz, array 'flow' of shape (T-1, 2, H, W) float32), "
            "OUTDIR/<name>.mp4 (mp4, colour-coded video); <name> is the input's file name "
            "without extension (the first image's for a pair). Every file is written to a "
            "temporary name and renamed when complete, so an interrupted run leaves no partial "
            "output, and --resume keeps what exists. An input that cannot be read is reported "
            "and skipped; the exit status is then 1."
        ),
        epilog=(
            "examples: sktvnet flow clip.mp4 -o flows; "
            "sktvnet flow frames/ a.png b.png --format npz,mp4 --legend -o out; "
            "sktvnet flow long.mp4 -o flows --resume"
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video file, folder of frames, or two image files")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="output folder, created if needed")
    parser.add_argument(
        "--format", type=_formats_arg, action="append", metavar="FMT[,FMT...]",
        help="output formats among flo, npz, png, mp4 (comma-separated or repeated; "
             "default: flo)",
    )
    parser.add_argument("--resume", action="store_true",
                        help="keep outputs that already exist and compute only the missing ones")
    solver = parser.add_argument_group(
        "solver", "TV-L1 structure TVNet-S-W-N and constants (names as in the Python API)"
    )
    solver.add_argument("--method", choices=("tvnet", "reference"), default="tvnet",
                        help="TVNet in torch (default), or the NumPy reference TV-L1 "
                             "(bicubic warps, early stop at --tol; CPU, one pair at a time)")
    solver.add_argument("--n-scales", type=_positive(int), default=_FLOW_STRUCTURE["n_scales"],
                        metavar="S", help="pyramid levels, capped per input so that the "
                        "coarsest keeps ~16 px (default: %(default)s)")
    solver.add_argument("--n-warps", type=_positive(int), default=_FLOW_STRUCTURE["n_warps"],
                        metavar="W", help="warps per level (default: %(default)s)")
    solver.add_argument("--n-iters", type=_positive(int), default=_FLOW_STRUCTURE["n_iters"],
                        metavar="N", help="iterations per warp; a maximum for the reference "
                        "(default: %(default)s)")
    solver.add_argument("--tau", type=float, default=0.25,
                        help="time step of the dual update, in (0, 0.25] (default: %(default)s)")
    solver.add_argument("--lmbda", type=float, default=0.15,
                        help="weight of the data term; smaller is smoother (default: %(default)s)")
    solver.add_argument("--theta", type=float, default=0.3,
                        help="tightness of the coupling (default: %(default)s)")
    solver.add_argument("--zoom-factor", type=float, default=0.5,
                        help="size ratio between pyramid levels (default: %(default)s)")
    solver.add_argument("--eps", type=float, default=1e-10,
                        help="TVNet only: constant added where it divides (default: %(default)s)")
    solver.add_argument("--tol", type=float, default=0.01,
                        help="reference only: stop a warp once the flow changes less "
                             "(default: %(default)s; 0 runs every iteration)")
    run = parser.add_argument_group("computation")
    run.add_argument("--device", default="auto",
                     help="TVNet only: auto (CUDA if available, else CPU), cpu, cuda, cuda:1, ... "
                          "(default: %(default)s)")
    run.add_argument("--batch-size", type=_positive(int), default=8, metavar="B",
                     help="pairs per TVNet call; B + 1 frames are decoded at a time "
                          "(default: %(default)s)")
    run.add_argument("--resize", type=_resize_arg, metavar="HxW",
                     help="resize frames when reading: 240x320, or 240x / x320 to keep the "
                          "aspect ratio")
    run.add_argument("--no-compile", action="store_true",
                     help="TVNet only: run eagerly instead of compiling with torch.compile "
                          "(compiling takes seconds to minutes once, then runs faster; the "
                          "environment variable SKTVNET_COMPILE=0 does the same)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    look = parser.add_argument_group("png and mp4 outputs")
    look.add_argument("--max-flow", type=_positive(float), metavar="PX",
                      help="flow magnitude drawn fully saturated (default: each frame's largest)")
    look.add_argument("--legend", action="store_true",
                      help="paste the colour wheel in the bottom-right corner")
    look.add_argument("--fps", type=_positive(float),
                      help="frame rate of mp4 outputs (default: the input's, 25 for images)")
    parser.set_defaults(handler=_run_flow)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _run_flow(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    formats = [f for group in (args.format or [["flo"]]) for f in group]
    args.format = list(dict.fromkeys(formats))  # once each, in the order given
    inputs = _flow_inputs([os.fspath(p) for p in args.inputs])
    estimate = _flow_estimator(args)
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OSError(f"cannot create the output folder {args.output!r}: {reason}") from exc

    failed: list[str] = []
    total_computed = total_skipped = 0
    start = time.perf_counter()
    quiet = True if args.quiet else None  # None: bars only on a terminal
    with tqdm(inputs, desc="inputs", unit="input", disable=quiet, position=0) as input_bar, \
            tqdm(desc="pairs", unit="pair", disable=quiet, position=1, leave=False) as pair_bar:
        for item in input_bar:
            item_start = time.perf_counter()
            try:
                computed, skipped = _flow_one(item, args, estimate, pair_bar)
            except (OSError, ValueError, TypeError) as exc:
                failed.append(item.label)
                tqdm.write(f"{PROG} flow: error: {exc}; skipped", file=sys.stderr)
                continue
            total_computed += computed
            total_skipped += skipped
            seconds = time.perf_counter() - item_start
            rate = f", {computed / seconds:.1f} pairs/s" if computed else ""
            kept = f", {skipped} already complete" if skipped else ""
            tqdm.write(f"{item.name}: {_count(computed, 'flow')} in {seconds:.1f} s{rate}{kept}",
                       file=sys.stdout)
    seconds = time.perf_counter() - start
    summary = (f"{len(inputs) - len(failed)} of {_count(len(inputs), 'input')} done, "
               f"{_count(total_computed, 'flow')} computed in {seconds:.1f} s")
    if total_computed:
        summary += f" ({total_computed / seconds:.1f} pairs/s)"
    if total_skipped:
        summary += f", {total_skipped} already complete"
    print(summary + f", outputs in {args.output}")
    if failed:
        print(f"{PROG} flow: {_count(len(failed), 'input')} failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
_SUBCOMMANDS = (_add_demo, _add_flow)


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
    Two frames of a smooth texture moving one pixel right, through TVNet, to one ``.flo`` file:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from sktvnet.cli import main
    >>> from sktvnet.io import read_flo, save_png
    >>> texture = ndimage.gaussian_filter(np.random.default_rng(0).random((32, 64)), 2)
    >>> texture = np.round(255 * (texture - texture.min()) / np.ptp(texture)).astype(np.uint8)
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +ELLIPSIS
    ...     a, b = os.path.join(folder, "a.png"), os.path.join(folder, "b.png")
    ...     save_png(a, texture[:, 1:49])
    ...     save_png(b, texture[:, :48])  # what was at x is now at x + 1
    ...     main(["flow", a, b, "-o", os.path.join(folder, "out"), "--no-compile"])
    ...     flow = read_flo(os.path.join(folder, "out", "a", "000000.flo"))
    a: 1 flow in ... s, ... pairs/s
    1 of 1 input done, 1 flow computed in ... s (... pairs/s), outputs in .../out
    0
    >>> flow.shape, round(float(np.median(flow[0])), 1), round(float(np.median(flow[1])), 1)
    ((2, 32, 48), 1.0, 0.0)
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
    except BrokenPipeError:
        # The reader went away (`sktvnet flow ... | head`): stop quietly, as command-line tools
        # do, and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError, TypeError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
