"""``sktvnet extract``: a dataset of videos to the rawframes tree that two-stream models read.

``DATASET/<class>/<video>.avi`` (any depth) becomes ``OUT/<class>/<video>/flow_x_00001.jpg``,
``flow_y_00001.jpg``, ... (and ``img_00001.jpg``, ... with ``--rgb``), the layout of denseflow
and of mmaction2's RawframeDataset (see :mod:`sktvnet.io._rawframes` for what was checked
against them). Every video is written into a hidden folder that is renamed into place when it is
complete, and recorded in ``OUT/manifest.jsonl``: a run killed at any moment leaves finished
videos and hidden partial folders only, which ``--resume`` keeps and removes respectively.

Videos run in parallel through joblib, the path of ``TVNetFlow(n_jobs=...)``: worker processes
on this machine (``--n-jobs``), or a dask cluster (``--dask``). Each worker decodes its video in
chunks of ``--batch-size + 1`` frames, computes their flows in one batch and writes them, so
memory does not grow with a video's length, and sends back a line for the manifest only.

TODO(#32 item 4): on a GPU, batch the pairs of several videos together (one worker feeding the
device) and use CUDA graphs; today each video's chunks are batched on their own.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .. import pretrained
from ._common import (PROG, make_output_folder, mismatch_message, refuse_device_for_reference,
                      resolve_device_option, size_pair)

MANIFEST = "manifest.jsonl"
# Bump when a change to this command changes the files it writes for the same options.
_LAYOUT_VERSION = 1


@dataclass(frozen=True)
class _Video:
    name: str  # output folder relative to OUT, with "/" separators: "<class>/<video>"
    source: str  # the video file


@dataclass(frozen=True)
class _Settings:
    """Everything a worker needs to extract a video (picklable: it travels to the workers)."""

    method: str
    weights: str | None
    structure: tuple  # ((name, value), ...) of the structure options given
    device: str
    batch_size: int
    threads: int | None
    bound: float
    start_index: int
    quality: int
    rgb: bool
    new_short: int | None
    new_size: tuple[int | None, int | None] | None  # (width, height) as denseflow

    def recorded(self) -> dict:
        """The options that decide the files: a resumed run must use the same."""
        kept = ("method", "weights", "structure", "bound", "start_index", "quality", "rgb",
                "new_short", "new_size")
        values = {key: value for key, value in asdict(self).items() if key in kept}
        values["structure"] = dict(self.structure)
        values["new_size"] = None if self.new_size is None else list(self.new_size)
        return {"layout": "rawframes", "version": _LAYOUT_VERSION, **values}


# ----------------------------------------------------------------------------- the dataset
def _dataset_videos(root: str) -> list[_Video]:
    """Every video file under ``root`` (any depth, hidden entries skipped), sorted by path."""
    from ..datasets import VIDEO_EXTENSIONS

    if not os.path.isdir(root):
        raise (NotADirectoryError if os.path.exists(root) else FileNotFoundError)(
            f"DATASET must be a folder of class folders of videos, got {root!r}")
    videos = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            stem, extension = os.path.splitext(name)
            if name.startswith(".") or extension.lower() not in VIDEO_EXTENSIONS:
                continue
            relative = os.path.relpath(os.path.join(folder, stem), root)
            videos.append(_Video(relative.replace(os.sep, "/"), os.path.join(folder, name)))
    if not videos:
        raise ValueError(f"{root!r} holds no video file ({', '.join(VIDEO_EXTENSIONS)}) at any "
                         "depth: expected DATASET/<class>/<video>.avi")
    seen: dict[str, str] = {}
    for video in videos:
        if video.name in seen:
            raise ValueError(f"{seen[video.name]!r} and {video.source!r} would both be written "
                             f"to {video.name!r}: rename one of them")
        seen[video.name] = video.source
    return videos


def _new_size(height: int, width: int, new_short: int | None,
              new_size: tuple[int | None, int | None] | None) -> tuple[int, int] | None:
    """denseflow's resizing (``DenseFlow::get_new_size``): ``(height, width)`` or None to keep.

    Width and height both given: that size; one of them: the other keeps the aspect ratio
    (rounded half away from zero, as C's ``round``); ``new_short``: the short side becomes it,
    only when it is longer (never enlarged)."""
    def rounded(x: float) -> int:
        return max(1, int(math.floor(x + 0.5)))

    if new_size is not None:
        new_width, new_height = new_size
        if new_width is None:
            new_width = rounded(width / height * new_height)
        if new_height is None:
            new_height = rounded(height / width * new_width)
        size = (new_height, new_width)
    elif new_short is not None and min(height, width) > new_short:
        size = ((new_short, rounded(width / height * new_short)) if height <= width
                else (rounded(height / width * new_short), new_short))
    else:
        return None
    return None if size == (height, width) else size


# ------------------------------------------------------------------------------ the flows
_ESTIMATORS: dict = {}  # per process: built once, used for every video the process extracts


def _tvnet(settings: _Settings):
    """The fitted TVNetFlow of these settings, as ``sktvnet flow`` builds its TVNet: the weights
    (:func:`_settings` resolved the default), whose structure the options left unset follow;
    an option that contradicts them is an error in the command's words."""
    key = (settings.weights, settings.structure, settings.device, settings.batch_size)
    if key not in _ESTIMATORS:
        import sktvnet

        weights = None if settings.weights == "none" else settings.weights
        estimator = sktvnet.TVNetFlow(weights=weights, **dict(settings.structure),
                                      device=settings.device, batch_size=settings.batch_size)
        try:
            estimator.fit(np.zeros((1, 2, 16, 16), np.float32))  # loads the weights only
        except pretrained.WeightsMismatch as exc:
            raise ValueError(mismatch_message(exc)) from None
        _ESTIMATORS[key] = estimator
    return _ESTIMATORS[key]


def _describe(settings: _Settings) -> str:
    """Which flow this run computes, in words, for the log."""
    structure = "".join(f", {key}={value}" for key, value in settings.structure)
    if settings.method == "reference":
        return f"the NumPy reference TV-L1{structure}"
    estimator = _tvnet(settings)
    if estimator.weights_ is None:
        return f"TVNet, frozen TV-L1 (no weights): {estimator.structure_}{structure}"
    recommended = " (recommended)" if estimator.weights_ == pretrained.RECOMMENDED else ""
    return (f"TVNet with the weights {estimator.weights_}{recommended}: "
            f"{estimator.structure_}{structure}")


def _flow_function(settings: _Settings) -> Callable[[np.ndarray], np.ndarray]:
    """``f(frames)``: uint8 ``(n, H, W, 3)`` -> the flows of its pairs, ``(n-1, 2, H, W)``."""
    if settings.method == "reference":
        from ..reference import tvl1_optical_flow

        structure = dict(settings.structure)
        return lambda frames: np.stack([tvl1_optical_flow(a, b, **structure).astype(np.float32)
                                        for a, b in zip(frames[:-1], frames[1:])])
    estimator = _tvnet(settings)
    return lambda frames: estimator.transform([frames])[0]


def _extract_video(video: _Video, out: str, root: str, settings: _Settings) -> dict:
    """Extract one video into ``out/<name>``; returns its manifest record. Runs in a worker:
    every failure becomes a record, so that one bad video never stops the others."""
    from ..io import RawframesWriter, iter_video

    start = time.perf_counter()
    record = {"video": video.name, "source": os.path.relpath(video.source, root)}
    try:
        if settings.threads is not None and settings.method == "tvnet":
            import torch

            torch.set_num_threads(settings.threads)
        estimate = _flow_function(settings)
        size = None
        if settings.new_short is not None or settings.new_size is not None:
            first = iter_video(video.source, chunk_size=1)
            try:
                height, width = next(first).shape[1:3]
            finally:
                first.close()
            size = _new_size(height, width, settings.new_short, settings.new_size)
        with RawframesWriter(os.path.join(out, *video.name.split("/")), bound=settings.bound,
                             start_index=settings.start_index, quality=settings.quality) as writer:
            for chunk in iter_video(video.source, chunk_size=settings.batch_size + 1, overlap=1,
                                    frame_shape=size):
                if settings.rgb:
                    for frame in chunk[1 if writer.n_frames else 0:]:
                        writer.write_frame(frame)
                if len(chunk) > 1:
                    for flow in estimate(chunk):
                        writer.write_flow(flow)
                shape = chunk.shape[1:3]
            if writer.n_flows == 0:
                raise ValueError(f"{video.source!r} has a single frame: a flow needs two")
        record.update(status="done", frames=writer.n_flows + 1, pairs=writer.n_flows,
                      height=int(shape[0]), width=int(shape[1]))
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        record.update(status="failed", error=str(exc))
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


# ------------------------------------------------------------------------------ the manifest
class _Manifest:
    """``OUT/manifest.jsonl``: the settings on the first line, then one line per video finished
    or failed, appended (and flushed to disk) by the main process as results arrive. A line cut
    by a crash is ignored when read."""

    def __init__(self, out: str) -> None:
        self.path = os.path.join(out, MANIFEST)
        self.settings: dict | None = None
        self.records: dict[str, dict] = {}
        self._cut = False  # the last line was cut short: the next entry starts a new line
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    self._cut = not line.endswith("\n")
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if "settings" in entry:
                        self.settings = entry["settings"]
                    elif "video" in entry:
                        self.records[entry["video"]] = entry

    def append(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(("\n" if self._cut else "") + json.dumps(entry) + "\n")
            self._cut = False
            handle.flush()
            os.fsync(handle.fileno())
        if "video" in entry:
            self.records[entry["video"]] = entry


def _prepare(out: str, root: str, videos: list[_Video], settings: _Settings, resume: bool,
             manifest: _Manifest) -> tuple[list[_Video], int]:
    """Check OUT against this run, remove partial folders; returns (videos to do, pairs done)."""
    from ..io import is_rawframes_flow, remove_partial_folders

    recorded = settings.recorded()
    if manifest.settings is not None and not resume:
        raise ValueError(f"{out!r} holds an extraction already ({MANIFEST}): pass --resume to "
                         "continue it, or choose another output folder")
    if manifest.settings is not None and manifest.settings != recorded:
        changed = sorted(k for k in set(recorded) | set(manifest.settings)
                         if recorded.get(k) != manifest.settings.get(k))
        raise ValueError(
            f"{out!r} was extracted with other options ({', '.join(changed)}: "
            f"{ {k: manifest.settings.get(k) for k in changed} }, this run: "
            f"{ {k: recorded.get(k) for k in changed} }); resume with the same options")
    # The partial folders of a run that was killed: never complete, never kept.
    for parent in sorted({os.path.dirname(os.path.join(out, *v.name.split("/")))
                          for v in videos}):
        remove_partial_folders(parent)
    todo, pairs_done = [], 0
    for video in videos:
        folder = os.path.join(out, *video.name.split("/"))
        if not os.path.isdir(folder):
            todo.append(video)
            continue
        if not resume:
            raise ValueError(f"{folder!r} exists already: pass --resume to keep what {out!r} "
                             "holds, or choose another output folder")
        record = manifest.records.get(video.name)
        if record is None or record.get("status") != "done":
            # Renamed into place (so complete) but killed before its line was written.
            pairs = sum(1 for name in os.listdir(folder) if name.startswith("flow_x_")
                        and is_rawframes_flow(name))
            record = {"video": video.name, "source": os.path.relpath(video.source, root),
                      "status": "done", "frames": pairs + 1, "pairs": pairs, "recovered": True}
            manifest.append(record)
        pairs_done += record["pairs"]
    if manifest.settings is None:
        manifest.append({"settings": recorded})
        manifest.settings = recorded
    return todo, pairs_done


# ------------------------------------------------------------------------------ the command
def _size_arg(text: str) -> tuple[int | None, int | None]:
    sizes = size_pair(text)
    if sizes is None:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT with positive sizes (e.g. 340x256, denseflow's order), or "
            f"340x / x256 to keep the aspect ratio, got {text!r}")
    return sizes[0], sizes[1]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(subparsers) -> None:
    """Declare ``sktvnet extract`` and its arguments; :func:`run` handles it."""
    parser = subparsers.add_parser(
        "extract",
        help="extract the flows of a dataset of videos into the rawframes layout",
        description=(
            "Compute the optical flow of every video under DATASET (DATASET/<class>/<video>.avi, "
            "any depth) and write it to OUT in the rawframes layout of denseflow and mmaction2's "
            "RawframeDataset: OUT/<class>/<video>/flow_x_00001.jpg, flow_y_00001.jpg, ... (the "
            "flow from frame 1 to frame 2 first; u in flow_x, v in flow_y, each quantised to "
            "round(255 * (f + BOUND) / (2 * BOUND)) after clipping to [-BOUND, BOUND], JPEG at "
            "quality 95) and with --rgb img_00001.jpg, ... . Each video is written to a hidden "
            "folder renamed into place when complete, and recorded in OUT/manifest.jsonl; "
            "--resume keeps finished videos and removes partial ones. A video that cannot be "
            "read is reported and skipped; the exit status is then 1. Read the flows back with "
            "sktvnet.io.read_rawframes or sktvnet.datasets.load_rawframes_folder."
        ),
        epilog=(
            "examples: sktvnet extract UCF101/ -o rawframes --new-short 256 --n-jobs 4; "
            "sktvnet extract UCF101/ -o rawframes --resume; "
            "sktvnet extract UCF101/ -o rawframes --dask tcp://scheduler:8786"
        ),
    )
    parser.add_argument("dataset", metavar="DATASET", help="folder of class folders of videos")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder, created if needed")
    parser.add_argument("--resume", action="store_true",
                        help="keep the videos OUT holds already (same options required) and "
                             "extract the others")
    layout = parser.add_argument_group("layout")
    layout.add_argument("--layout", choices=("rawframes",), default="rawframes",
                        help="output layout (default: %(default)s)")
    layout.add_argument("--rgb", action="store_true", help="also write the frames, img_NNNNN.jpg")
    layout.add_argument("--bound", type=_positive_float, default=20.0,
                        help="flow (px) mapped to 255, minus it to 0; larger flows are clipped "
                             "(default: %(default)s, denseflow's -b=20)")
    layout.add_argument("--start-index", type=int, choices=(0, 1), default=1,
                        help="number of the first file: 1 for mmaction2's RawframeDataset "
                             "(start_index=1) and denseflow before 2019-10-31, 0 as denseflow "
                             "numbers since (default: %(default)s)")
    layout.add_argument("--quality", type=int, default=95, choices=range(1, 101), metavar="Q",
                        help="JPEG quality, 1-100 (default: %(default)s, OpenCV's and "
                             "denseflow's)")
    sizes = layout.add_mutually_exclusive_group()
    sizes.add_argument("--new-short", type=_positive_int, metavar="N",
                       help="resize so that the short side is N px when it is longer "
                            "(denseflow's --newShort; mmaction2 uses 256)")
    sizes.add_argument("--new-size", type=_size_arg, metavar="WxH",
                       help="resize to WIDTHxHEIGHT (denseflow's --newWidth/--newHeight, e.g. "
                            "340x256); 340x or x256 keeps the aspect ratio")
    solver = parser.add_argument_group("flow")
    solver.add_argument("--method", choices=("tvnet", "reference"), default="tvnet",
                        help="TVNet (default) or the NumPy reference TV-L1 (slow)")
    solver.add_argument("--weights", metavar="NAME|PATH",
                        help="TVNet's weights: a bundled name (" + ", ".join(sorted(
                            pretrained.WEIGHTS)) + "), a file, or none (frozen TV-L1) "
                        "(default: the recommended " + pretrained.RECOMMENDED + ", none with "
                        "--preset opencv); the structure options left unset follow the "
                        "weights, and one that contradicts them is an error")
    solver.add_argument("--preset", choices=("opencv",),
                        help="opencv: the flow of OpenCV's DualTVL1 at its defaults, which most "
                             "pretrained two-stream models were trained on; with TVNet, frozen "
                             "TV-L1 (sktvnet.pretrained.OPENCV_CONFIG)")
    solver.add_argument("--n-scales", type=_positive_int, metavar="S", help="pyramid levels")
    solver.add_argument("--n-warps", type=_positive_int, metavar="W", help="warps per level")
    solver.add_argument("--n-iters", type=_positive_int, metavar="N", help="iterations per warp")
    computation = parser.add_argument_group("computation")
    computation.add_argument("--n-jobs", type=_positive_int, default=1, metavar="N",
                             help="videos extracted at once, in N worker processes sharing the "
                                  "cores (default: %(default)s)")
    computation.add_argument("--dask", metavar="ADDRESS",
                             help="run the videos on the dask cluster of this scheduler "
                                  "(tcp://host:8786) through joblib; OUT must be a folder the "
                                  "workers share")
    computation.add_argument("--device", default="auto",
                             help="TVNet only: auto, cpu, cuda, cuda:N (default: %(default)s)")
    computation.add_argument("--batch-size", type=_positive_int, default=8, metavar="B",
                             help="pairs per TVNet call; B + 1 frames are decoded at a time "
                                  "(default: %(default)s)")
    computation.add_argument("--no-compile", action="store_true",
                             help="TVNet only: never compile with torch.compile")
    computation.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    parser.set_defaults(handler=run)


def _settings(args: argparse.Namespace) -> _Settings:
    structure = tuple((key, getattr(args, key))
                      for key in ("preset", "n_scales", "n_warps", "n_iters")
                      if getattr(args, key) is not None)
    if args.method == "reference" and args.weights is not None:
        raise ValueError("--weights is TVNet's: the reference has none (use --method tvnet)")
    refuse_device_for_reference(args.method, args.device)
    if args.method == "tvnet":
        resolve_device_option(args.device)
    weights = args.weights
    if args.method == "tvnet" and weights is None:
        # As `sktvnet flow`: the recommended weights, or OpenCV's TV-L1 for --preset opencv
        # (which the weights would contradict); recorded in the manifest by name.
        weights = "none" if args.preset else pretrained.RECOMMENDED
    if args.weights not in (None, "none") and args.weights not in pretrained.WEIGHTS \
            and not os.path.isfile(args.weights):
        names = ", ".join(sorted(pretrained.WEIGHTS))
        raise ValueError(f"--weights must be a bundled name ({names}), none or a weights file, "
                         f"got {args.weights!r}")
    threads = None
    if args.n_jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // args.n_jobs)
    return _Settings(method=args.method, weights=weights, structure=structure,
                     device=args.device, batch_size=args.batch_size, threads=threads,
                     bound=args.bound, start_index=args.start_index, quality=args.quality,
                     rgb=args.rgb, new_short=args.new_short, new_size=args.new_size)


def _results(tasks, args: argparse.Namespace):
    """Run the tasks through joblib; yields their records as they finish."""
    import joblib

    if args.dask:
        from dask.distributed import Client

        with Client(args.dask), joblib.parallel_backend("dask"):
            yield from joblib.Parallel(n_jobs=-1, return_as="generator_unordered")(tasks)
        return
    yield from joblib.Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(tasks)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def run(args: argparse.Namespace) -> int:
    """Run ``sktvnet extract``: extract every video of the dataset; return the exit status."""
    from joblib import delayed

    from .._progress import progress

    if args.no_compile:
        # Read by TVNet in this process and in the worker processes, which inherit it.
        os.environ["SKTVNET_COMPILE"] = "0"
    root, out = os.path.abspath(args.dataset), os.path.abspath(args.output)
    settings = _settings(args)
    videos = _dataset_videos(root)
    # Built now, so that wrong weights or options fail before any video.
    print(f"{PROG} extract: flow by {_describe(settings)}", file=sys.stderr)
    make_output_folder(out)
    manifest = _Manifest(out)
    todo, pairs_before = _prepare(out, root, videos, settings, args.resume, manifest)
    if len(todo) < len(videos):
        print(f"{len(videos) - len(todo)} of {_count(len(videos), 'video')} already extracted "
              f"in {out}, kept", file=sys.stderr)

    failed: list[dict] = []
    pairs = 0
    start = time.perf_counter()
    tasks = (delayed(_extract_video)(video, out, root, settings) for video in todo)
    with progress(desc="extract", unit="video", total=len(todo), disable=args.quiet,
                  leave=False) as bar:
        for record in _results(tasks, args):
            manifest.append(record)
            if record["status"] == "done":
                pairs += record["pairs"]
            else:
                failed.append(record)
                message = f"{PROG} extract: error: {record['error']}; skipped"
                (bar.write if hasattr(bar, "write") else print)(message, file=sys.stderr)
            seconds = time.perf_counter() - start
            bar.set_postfix(pairs=pairs, **{"pairs/s": f"{pairs / seconds:.1f}"})
            bar.update(1)
    seconds = time.perf_counter() - start
    summary = (f"{len(todo) - len(failed)} of {_count(len(todo), 'video')} extracted, "
               f"{_count(pairs, 'pair')} in {seconds:.1f} s")
    if pairs:
        summary += f" ({pairs / seconds:.1f} pairs/s)"
    if pairs_before:
        summary += f", {pairs_before} pairs kept from before"
    print(summary + f", rawframes in {out}")
    if failed:
        print(f"{PROG} extract: {_count(len(failed), 'video')} failed: "
              + ", ".join(record["video"] for record in failed), file=sys.stderr)
        return 1
    return 0
