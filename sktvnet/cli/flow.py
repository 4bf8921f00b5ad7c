"""``sktvnet flow``: optical flow of videos, image folders and image pairs, written to files.

Inputs stream through TVNet (or the reference) chunk by chunk: a chunk of ``batch_size + 1``
frames gives ``batch_size`` pairs, its last frame starts the next chunk, and every output is
written atomically as soon as it is computed (per-pair files) or moved into place when its input
is complete (one file per input). The formats are the entries of :data:`FLOW_FORMATS`, which
``--format``, the help and the writing read: a new format is one more entry there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import pretrained
from ..io import (
    IMAGE_EXTENSIONS,
    FlowNpzWriter,
    FlowVideoWriter,
    VideoInfo,
    iter_video,
    probe_video,
    remove_temporaries,
    save_png,
    write_flo,
)
from ..visualization import flow_to_color
from ._common import (PROG, frame_shape_arg, load_network, make_output_folder, option_name,
                      refuse_device_for_reference, resolve_device_option)

_DEFAULT_FORMAT = "flo"
_DEFAULT_FPS = 25


class FlowWriter(Protocol):
    """What a per-input format's ``open`` returns, as :class:`sktvnet.io.FlowNpzWriter`."""

    def write(self, flow: np.ndarray) -> object:
        """Add the next pair's flow ``(2, H, W)`` float32."""

    def close(self) -> object:
        """Publish the file, complete (atomically)."""

    def abort(self) -> object:
        """Drop what was written: no file appears."""


@dataclass(frozen=True)
class FlowFormat:
    """An output format of ``sktvnet flow``, as :data:`FLOW_FORMATS` registers it.

    A format writes either one file per pair, ``OUTDIR/<name>/<t:06d>.<ext>`` (``save``), or one
    file per input, ``OUTDIR/<name>.<ext>`` streamed pair by pair (``open``); give one of them.
    Either way the file appears complete or not at all, so that ``--resume`` keeps it.

    Parameters
    ----------
    name : str
        The value of ``--format``, and the files' extension.
    description : str
        What a file holds, for ``--help``.
    save : callable, optional
        ``save(path, flow, args)``: write one pair's flow ``(2, H, W)`` float32 to ``path``,
        atomically; ``args`` are the command's arguments.
    open : callable, optional
        ``open(path, args, fps) -> FlowWriter``: a writer of one input's flows, which publishes
        ``path`` when closed; ``fps`` is the input's frame rate (or ``--fps``).
    reads : tuple of str, default=()
        The options of the look that it follows, among ``max_flow``, ``legend`` and ``fps``
        (their help names it).
    """

    name: str
    description: str
    save: Callable[[str, np.ndarray, argparse.Namespace], None] | None = None
    open: Callable[[str, argparse.Namespace, float], FlowWriter] | None = None
    reads: tuple[str, ...] = ()

    @property
    def per_pair(self) -> bool:
        """Whether it writes one file per pair (else one per input)."""
        return self.save is not None


def _save_flo(path: str, flow: np.ndarray, args: argparse.Namespace) -> None:
    write_flo(path, flow)


def _save_png(path: str, flow: np.ndarray, args: argparse.Namespace) -> None:
    save_png(path, flow_to_color(flow, max_flow=args.max_flow, legend=args.legend))


def _open_npz(path: str, args: argparse.Namespace, fps: float) -> FlowWriter:
    return FlowNpzWriter(path)


def _open_mp4(path: str, args: argparse.Namespace, fps: float) -> FlowWriter:
    return FlowVideoWriter(path, fps=fps, max_flow=args.max_flow, legend=args.legend)


#: The output formats by name, in the order ``--help`` lists them.
FLOW_FORMATS: dict[str, FlowFormat] = {
    fmt.name: fmt for fmt in (
        FlowFormat("flo", "Middlebury format, u then v in pixels, flow 000000 from frame 0 to "
                   "frame 1", save=_save_flo),
        FlowFormat("npz", "array 'flow' of shape (T-1, 2, H, W) float32", open=_open_npz),
        FlowFormat("png", "colour-coded", save=_save_png, reads=("max_flow", "legend")),
        FlowFormat("mp4", "colour-coded video", open=_open_mp4,
                   reads=("max_flow", "legend", "fps")),
    )
}


def _output_pattern(fmt: FlowFormat) -> str:
    """Where ``fmt`` writes, for ``--help``."""
    return (f"OUTDIR/<name>/000000.{fmt.name} ..." if fmt.per_pair
            else f"OUTDIR/<name>.{fmt.name}")


def _following(option: str | None = None) -> str:
    """The formats that follow the look ``option`` (any, if None), in words: "png and mp4"."""
    names = [name for name, fmt in FLOW_FORMATS.items()
             if (option in fmt.reads if option else fmt.reads)]
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


@dataclass(frozen=True)
class _FlowInput:
    """One thing to compute flows for: a video file, a folder of frames, or two image files."""

    name: str  # outputs go to OUTDIR/<name>/... or OUTDIR/<name>.<ext>
    paths: tuple[str, ...]  # one path (video or folder), or the two images of a pair

    @property
    def label(self) -> str:
        return " + ".join(self.paths)

    @property
    def _source(self) -> str | list[str]:
        """What :mod:`sktvnet.io` reads: the video or folder, or the list of the two images."""
        return self.paths[0] if len(self.paths) == 1 else list(self.paths)

    def probe(self) -> VideoInfo:
        return probe_video(self._source)

    def chunks(self, chunk_size: int, frame_shape) -> Iterator[np.ndarray]:
        """Chunks of ``chunk_size`` frames, each starting with the previous one's last frame."""
        return iter_video(self._source, chunk_size=chunk_size, overlap=1, frame_shape=frame_shape)


def _flow_inputs(paths: Sequence[str]) -> list[_FlowInput]:
    """Group the command's INPUT arguments: image files go two by two, anything else alone."""
    def is_image(path: str) -> bool:
        return not os.path.isdir(path) and os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS

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
    into writers (:class:`FlowWriter`) that publish the file when :meth:`close` is called. All
    writes are atomic, so an existing output is a complete one: with ``resume`` it is kept and
    not recomputed. The folder
    of the per-pair files is created with the first of them, and removed by :meth:`abort` if it
    was created for nothing, so that an input that fails leaves no empty folder behind.
    """

    def __init__(self, args: argparse.Namespace, name: str, fps) -> None:
        self.folder = os.path.join(args.output, name)
        formats = [FLOW_FORMATS[name] for name in args.format]
        self.per_pair = [fmt for fmt in formats if fmt.per_pair]
        self.stacks: dict[FlowFormat, str] = {}
        self.args, self.fps = args, fps
        self.writers: dict[FlowFormat, FlowWriter] = {}
        self.created_folder: bool | None = None  # None: not made yet
        # Temporaries of a run that was killed are never complete: remove them, whatever the
        # per-pair format.
        extensions = "|".join(re.escape(fmt.name) for fmt in FLOW_FORMATS.values()
                              if fmt.per_pair)
        remove_temporaries(self.folder, re.compile(rf"^\d{{6}}\.({extensions})$").match)
        for fmt in formats:
            if not fmt.per_pair:
                path = os.path.join(args.output, f"{name}.{fmt.name}")
                remove_temporaries(args.output, os.path.basename(path).__eq__)
                if not (args.resume and os.path.exists(path)):
                    self.stacks[fmt] = path

    def complete(self) -> bool:
        """True when nothing is left to write (known before decoding only without per-pair
        files)."""
        return not self.per_pair and not self.stacks

    def _pair_path(self, fmt: FlowFormat, t: int) -> str:
        return os.path.join(self.folder, f"{t:06d}.{fmt.name}")

    def needed(self, t: int) -> bool:
        """Whether the flow of pair ``t`` must be computed."""
        if self.stacks or not self.args.resume:
            return True
        return any(not os.path.exists(self._pair_path(f, t)) for f in self.per_pair)

    def write(self, t: int, flow: np.ndarray) -> None:
        if self.per_pair and self.created_folder is None:
            self.created_folder = make_output_folder(self.folder)
        for fmt in self.per_pair:
            path = self._pair_path(fmt, t)
            if self.args.resume and os.path.exists(path):
                continue
            fmt.save(path, flow, self.args)
        for fmt, path in self.stacks.items():
            if fmt not in self.writers:
                self.writers[fmt] = fmt.open(path, self.args, self.fps)
            self.writers[fmt].write(flow)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()
        if self.created_folder:
            with contextlib.suppress(OSError):  # not empty: complete flows, kept for --resume
                os.rmdir(self.folder)


# The options that set TVNet's structure and constants, as TVNet's parameters are named.
_STRUCTURE_OPTIONS = ("n_scales", "n_warps", "n_iters", "tau", "lmbda", "theta", "zoom_factor",
                      "eps", "texture", "match_brightness", "preset", "interpolation")


def _flow_estimator(args: argparse.Namespace) -> tuple[str, Callable[[np.ndarray, np.ndarray],
                                                                     np.ndarray]]:
    """``(model, f)``: the model in words, and the solver as ``f(frames0, frames1) -> flows``,
    uint8 ``(B, H, W, 3)`` -> float32 ``(B, 2, H, W)``. Its parameters are checked here, before
    any input is read.

    TVNet's model is ``--weights`` (the recommended weights when not given), whose structure
    the options left unset follow: an option never changes the model, and one that contradicts
    the weights is an error. The reference takes the options given and its own (IPOL's)
    defaults for the others.
    """
    given = {key: getattr(args, key) for key in _STRUCTURE_OPTIONS}
    if args.method == "reference":
        return _reference(args, given)
    given["tol"] = args.tol
    import torch

    device = resolve_device_option(args.device)
    # --preset opencv without --weights is TV-L1 as OpenCV computes it, not the recommended
    # weights (which --preset would contradict).
    weights = "none" if args.preset and args.weights is None else args.weights
    loaded = load_network(weights, given, compiled=False if args.no_compile else "auto")
    net = loaded.network.to(device).eval()

    def tvnet(frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        # uint8 crosses to the device (a quarter of float32's bytes) and is converted there.
        x0 = torch.from_numpy(frames0).to(device).permute(0, 3, 1, 2).float()
        x1 = torch.from_numpy(frames1).to(device).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            return net(x0, x1).float().cpu().numpy()

    return f"TVNet, {loaded.description}", tvnet


def _reference(args: argparse.Namespace, given: dict):
    """``(model, f)`` of :func:`_flow_estimator` for ``--method reference``."""
    from .. import _validation
    from ..reference import tvl1_optical_flow

    for option in ("weights", "eps", "match_brightness"):
        if getattr(args, option) not in (None, "none"):
            raise ValueError(f"{option_name(option)} applies to --method tvnet; the reference "
                             "TV-L1 has no weights, no eps and no brightness match")
    refuse_device_for_reference(args.method, args.device)
    # The options given, checked now (before any input is read); the reference takes its own
    # (IPOL's) defaults for the others.
    options = {key: value for key, value in given.items() if value is not None and key != "eps"}
    for key, value in options.items():
        if key in _validation.SOLVER_SPECS:
            options[key] = _validation.SOLVER_SPECS[key].check(key, value)
    tol = None if args.tol is None else _validation.check_real("tol", args.tol, low=0.0,
                                                               low_open=False)
    if tol is not None:
        options["tol"] = tol

    def reference(frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
        return np.stack([tvl1_optical_flow(f0, f1, **options).astype(np.float32)
                         for f0, f1 in zip(frames0, frames1)])

    described = ", ".join(f"{key}={value!r}" for key, value in options.items())
    defaults = "OpenCV DualTVL1's defaults" if args.preset else "IPOL's defaults"
    return ("the reference TV-L1 (NumPy), "
            + (f"{described}; {defaults} otherwise" if described else defaults)
            ), reference


@dataclass
class _Tally:
    """Pairs computed and pairs skipped (already complete), counted as they are written: an
    input that fails half-way still counts what it wrote."""

    computed: int = 0
    skipped: int = 0


def _flow_one(item: _FlowInput, args, estimate, pair_bar, tally: _Tally) -> None:
    """Compute and write the flows of one input, counting them in ``tally``."""
    info = item.probe()
    outputs = _Outputs(args, item.name, args.fps or info.fps or _DEFAULT_FPS)
    n_pairs = None if info.n_frames is None else max(info.n_frames - 1, 0)
    pair_bar.reset(total=n_pairs)
    pair_bar.set_description(item.name)
    if outputs.complete():
        tally.skipped += n_pairs or 0
        return
    t = 0
    try:
        with contextlib.ExitStack() as job:
            for chunk in item.chunks(args.batch_size + 1, args.frame_shape):
                if t == 0 and n_pairs and args.method == "tvnet":
                    from ..network import job_of

                    # The whole input is one job: TVNet compiles if all of it repays compiling.
                    job.enter_context(job_of(n_pairs * chunk.shape[1] * chunk.shape[2]))
                n = len(chunk) - 1
                todo = [k for k in range(n) if outputs.needed(t + k)]
                if todo:
                    flows = estimate(chunk[todo], chunk[[k + 1 for k in todo]])
                    for k, flow in zip(todo, flows):
                        if not np.isfinite(flow).all():
                            raise ValueError(
                                f"the flow of pair {t + k} of {item.label!r} (frames {t + k} and "
                                f"{t + k + 1}) is not finite (NaN or infinite values); it was "
                                "not written")
                        outputs.write(t + k, flow)
                        tally.computed += 1
                tally.skipped += n - len(todo)
                t += n
                pair_bar.update(n)
        if t == 0:
            raise ValueError(f"{item.label!r} has a single frame: a flow needs at least two")
        outputs.close()
    except BaseException:
        outputs.abort()
        raise


def _formats_arg(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FLOW_FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(FLOW_FORMATS)} separated by commas, got {text!r}"
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


def add_parser(subparsers) -> None:
    """Declare ``sktvnet flow`` and its arguments; :func:`run` handles it."""
    parser = subparsers.add_parser(
        "flow",
        help="compute the optical flow of videos, image folders or image pairs",
        description=(
            "Compute the optical flow between every pair of consecutive frames of each INPUT and "
            "write it to OUTDIR. An INPUT is a video file (anything FFmpeg decodes: mp4, avi, "
            "webm, mkv, ...), a folder of PNG/JPEG frames in name order, or two image files "
            "(frame t then frame t+1; image files are always taken two by two). Videos are "
            "decoded in chunks, so memory does not grow with their length. Outputs: "
            + ", ".join(f"{_output_pattern(fmt)} ({fmt.name}, {fmt.description})"
                        for fmt in FLOW_FORMATS.values())
            + "; <name> is the input's file name "
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
        help=f"output formats among {', '.join(FLOW_FORMATS)} (comma-separated or repeated; "
             f"default: {_DEFAULT_FORMAT})",
    )
    parser.add_argument("--resume", action="store_true",
                        help="keep outputs that already exist and compute only the missing ones")
    solver = parser.add_argument_group(
        "solver", "TVNet's model is --weights: the recommended bundled weights unless another "
        "is given, whose structure TVNet-S-W-N and constants the options left unset follow; an "
        "option that contradicts the weights is an error (--weights none: frozen TV-L1, "
        "TVNet-10-1-50 at --zoom-factor 0.7 unless options say otherwise). The reference takes "
        "IPOL's defaults. Names as in the Python API."
    )
    solver.add_argument("--method", choices=("tvnet", "reference"), default="tvnet",
                        help="TVNet in torch (default), or the NumPy reference TV-L1 "
                             "(bicubic warps, early stop at --tol; CPU, one pair at a time)")
    solver.add_argument("--weights", metavar="NAME|PATH",
                        help="TVNet only: the model: a bundled name ("
                             + ", ".join(sorted(pretrained.WEIGHTS)) + "), a file written by "
                             "sktvnet.pretrained.save_weights, a model written by "
                             "TVNetFlow.save, or none (TV-L1's own steps and filters); default: "
                             f"the recommended {pretrained.RECOMMENDED}")
    solver.add_argument("--preset", choices=("opencv",),
                        help="opencv: the flow of OpenCV's DualTVL1 at its defaults, which most "
                             "pretrained two-stream models were trained on (its method, and its "
                             "values for the options left unset); with --method tvnet and no "
                             "--weights, frozen TV-L1 (sktvnet.pretrained.OPENCV_CONFIG)")
    solver.add_argument("--n-scales", type=_positive(int), metavar="S",
                        help="pyramid levels, capped per input so that the coarsest keeps ~16 px")
    solver.add_argument("--n-warps", type=_positive(int), metavar="W", help="warps per level")
    solver.add_argument("--n-iters", type=_positive(int), metavar="N",
                        help="iterations per warp; a maximum for the reference")
    solver.add_argument("--texture", action=argparse.BooleanOptionalAction,
                        help="solve on the texture of every pyramid level (the level minus its "
                             "Gaussian blur of sigma 2), so that changes of brightness between "
                             "frames (exposure, flicker) are not read as motion")
    solver.add_argument("--match-brightness", action=argparse.BooleanOptionalAction,
                        help="before the flow, match the second frame's brightness to the "
                             "first's by a gain and an offset fitted on a coarse alignment "
                             "(the recommended weights do; --no-match-brightness turns it off)")
    solver.add_argument("--interpolation", choices=("bilinear", "bicubic"),
                        help="how warps and the pyramid interpolate between pixels: bilinear "
                             "(the paper's TVNet) or bicubic (IPOL's TV-L1, more precise for the "
                             "same iterations)")
    solver.add_argument("--tau", type=float,
                        help="time step of the dual update, in (0, 0.25]")
    solver.add_argument("--lmbda", type=float,
                        help="weight of the data term; smaller is smoother")
    solver.add_argument("--theta", type=float, help="tightness of the coupling")
    solver.add_argument("--zoom-factor", type=float, help="size ratio between pyramid levels")
    solver.add_argument("--eps", type=float,
                        help="TVNet only: constant added where it divides")
    solver.add_argument("--tol", type=float,
                        help="stop a warp once the flow changes less (the reference's default: "
                             "0.01; TVNet's: the weights', 0.01 with --preset opencv; 0 runs "
                             "every iteration)")
    computation = parser.add_argument_group("computation")
    computation.add_argument("--device", default="auto",
                     help="TVNet only: auto (CUDA if available, else CPU), cpu, cuda, cuda:1, ... "
                          "(default: %(default)s)")
    computation.add_argument("--batch-size", type=_positive(int), default=8, metavar="B",
                     help="pairs per TVNet call; B + 1 frames are decoded at a time "
                          "(default: %(default)s)")
    computation.add_argument("--frame-shape", type=frame_shape_arg, metavar="HxW",
                     help="resize frames when reading: 240x320, or 240x / x320 to keep the "
                          "aspect ratio")
    computation.add_argument("--no-compile", action="store_true",
                     help="TVNet only: run eagerly instead of compiling with torch.compile "
                          "(compiling takes seconds to minutes once, then runs faster; the "
                          "environment variable SKTVNET_COMPILE=0 does the same)")
    computation.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    look = parser.add_argument_group(f"{_following()} outputs")
    look.add_argument("--max-flow", type=_positive(float), metavar="PX",
                      help="flow magnitude drawn fully saturated (default: each frame's largest)")
    look.add_argument("--legend", action="store_true",
                      help="paste the colour wheel in the bottom-right corner")
    look.add_argument("--fps", type=_positive(float),
                      help=f"frame rate of {_following('fps')} outputs (default: the input's, "
                           f"{_DEFAULT_FPS} for images)")
    parser.set_defaults(handler=run)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def run(args: argparse.Namespace) -> int:
    """Run ``sktvnet flow``: compute and write every input's flows; return the exit status."""
    from tqdm.auto import tqdm

    from .._progress import progress

    formats = [f for group in (args.format or [[_DEFAULT_FORMAT]]) for f in group]
    args.format = list(dict.fromkeys(formats))  # once each, in the order given
    inputs = _flow_inputs([os.fspath(p) for p in args.inputs])
    model, estimate = _flow_estimator(args)
    # Made before the first input is read, so that an unusable OUTDIR fails at once.
    make_output_folder(args.output)
    print(f"{PROG} flow: {model}", file=sys.stderr, flush=True)

    failed: list[str] = []
    tally = _Tally()
    start = time.perf_counter()
    quiet = True if args.quiet else None  # None: bars only on a terminal
    # Off a terminal (a log, nohup, CI) the pairs are reported by a line every
    # SKTVNET_PROGRESS_INTERVAL seconds; each input's summary line tells when it is done.
    with tqdm(inputs, desc="inputs", unit="input", disable=quiet, position=0) as input_bar, \
            progress(desc="pairs", unit="pair", disable=args.quiet, position=1,
                     leave=False) as pair_bar:
        for item in input_bar:
            item_start = time.perf_counter()
            before = _Tally(tally.computed, tally.skipped)
            try:
                _flow_one(item, args, estimate, pair_bar, tally)
            except (OSError, ValueError, TypeError) as exc:
                failed.append(item.label)
                tqdm.write(f"{PROG} flow: error: {exc}; skipped", file=sys.stderr)
                continue
            computed = tally.computed - before.computed
            skipped = tally.skipped - before.skipped
            seconds = time.perf_counter() - item_start
            rate = f", {computed / seconds:.1f} pairs/s" if computed else ""
            kept = f", {skipped} already complete" if skipped else ""
            tqdm.write(f"{item.name}: {_count(computed, 'flow')} in {seconds:.1f} s{rate}{kept}",
                       file=sys.stdout)
    seconds = time.perf_counter() - start
    summary = (f"{len(inputs) - len(failed)} of {_count(len(inputs), 'input')} done, "
               f"{_count(tally.computed, 'flow')} computed in {seconds:.1f} s")
    if tally.computed:
        summary += f" ({tally.computed / seconds:.1f} pairs/s)"
    if tally.skipped:
        summary += f", {tally.skipped} already complete"
    print(summary + f", outputs in {args.output}")
    if failed:
        print(f"{PROG} flow: {_count(len(failed), 'input')} failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0
