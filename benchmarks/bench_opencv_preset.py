"""How close ``preset="opencv"`` comes to OpenCV's own DualTVL1, on the held-out pairs.

Two-stream action models (TSN, I3D, mmaction2) were trained on the flow of
``cv2.optflow.DualTVL1OpticalFlow_create()`` at its defaults; a flow stream meets its training
distribution only if the flow it is given is that one. On the held-out sets ``"exact"`` and
``"brightness"`` (240x320, :func:`sktvnet.datasets.load_heldout`) and ``"video"`` (real clips,
no truth), every frame quantised to uint8 and given as such to every method, it measures:

- OpenCV's DualTVL1 at its defaults (the target; its EPE against the truth);
- the reference with ``preset="opencv"``;
- frozen TVNet with :data:`sktvnet.pretrained.OPENCV_CONFIG` (``preset="opencv"``: OpenCV's
  method, structure and stopping rule, frames scaled jointly to [0, 255]), and the same with a
  fixed 30 iterations per warp instead of the stopping rule;
- the reference at its IPOL defaults, for scale;

each one's mean and largest difference to OpenCV's flow (end-point distance, px, averaged over
the pixels and the pairs; the largest over all), its EPE against the truth and its time per
pair. Every method runs on one thread (OpenCV, NumPy and torch alike).

Usage::

    python benchmarks/bench_opencv_preset.py [--pairs 16] [--quick]

Writes ``benchmarks/results/opencv_preset.md`` and ``.json`` through ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch

from sktvnet import tvl1_optical_flow
from sktvnet.datasets import load_heldout
from sktvnet.pretrained import OPENCV_CONFIG, load_tvnet

from _common import write_results

# The warped sets have a truth; "video" (consecutive frames of real clips, 144x176 to 360x640)
# has none, and shows the pairs on which OpenCV iterates longest.
SETS = ("exact", "brightness", "video")
# TVNet's fixed budget beside the stopping rule: OpenCV's inner iterations, one outer one.
FIXED_ITERS = 30


def _opencv(frame0, frame1):
    flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(frame0, frame1, None)
    return flow.transpose(2, 0, 1)


def _tvnet(config):
    network = load_tvnet(None, config, compiled=False).network.eval()

    def tvnet(frame0, frame1):
        x0 = torch.from_numpy(frame0.astype(np.float32))[None, None]
        x1 = torch.from_numpy(frame1.astype(np.float32))[None, None]
        with torch.inference_mode():
            return network(x0, x1)[0].numpy()

    return tvnet


def _methods():
    fixed = {**OPENCV_CONFIG, "n_iters": FIXED_ITERS, "tol": 0.0}
    return {
        "OpenCV DualTVL1, defaults (the target)": _opencv,
        'reference, preset="opencv"': lambda a, b: tvl1_optical_flow(a, b, preset="opencv"),
        "frozen TVNet, pretrained.OPENCV_CONFIG (tol=0.01)": _tvnet(OPENCV_CONFIG),
        f"frozen TVNet, the same with {FIXED_ITERS} iterations per warp (tol=0)": _tvnet(fixed),
        "reference, IPOL defaults": lambda a, b: tvl1_optical_flow(a, b),
    }


def measure(name: str, n_pairs: int) -> dict:
    frames, truth = load_heldout(name)
    frames = [np.rint(pair * 255).astype(np.uint8) for pair in frames[:n_pairs]]
    truth = None if truth is None else truth[:n_pairs, 0]
    rows = {}
    targets = []
    for method, solve in _methods().items():
        diffs, maxima, epes, seconds = [], [], [], 0.0
        for k, (frame0, frame1) in enumerate(frames):
            start = time.perf_counter()
            flow = solve(frame0, frame1)
            seconds += time.perf_counter() - start
            if not targets or len(targets) <= k:
                targets.append(flow)
            distance = np.hypot(*(flow - targets[k]))
            diffs.append(distance.mean())
            maxima.append(distance.max())
            if truth is not None:
                epes.append(np.hypot(*(flow - truth[k])).mean())
        rows[method] = {"mean_diff": float(np.mean(diffs)), "max_diff": float(np.max(maxima)),
                        "epe": float(np.mean(epes)) if epes else None,
                        "seconds": seconds / len(frames)}
        print(f"{name:10s} {method:50s} {rows[method]}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=16,
                        help="pairs of each set at most (16: all; video has 12)")
    parser.add_argument("--quick", action="store_true", help="one pair of each set")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    n_pairs = 1 if args.quick else args.pairs
    results = {name: measure(name, n_pairs) for name in SETS}
    lines = [
        f"`preset=\"opencv\"` against OpenCV's DualTVL1 on the held-out sets (at most {n_pairs} "
        "pairs each; exact and brightness 240x320, video real clips of 144x176 to 360x640), "
        "frames as uint8: the end-point distance to OpenCV's own flow (px), mean over pixels "
        "and pairs, and largest; the EPE against the truth (px; the video pairs have none); "
        "the time per pair on one thread.",
        "",
        "| method | set | mean diff. to OpenCV | max diff. | EPE | s/pair |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        for method, row in rows.items():
            epe = "-" if row["epe"] is None else f"{row['epe']:.4f}"
            lines.append(f"| {method} | {name} | {row['mean_diff']:.4f} | {row['max_diff']:.2f} "
                         f"| {epe} | {row['seconds']:.2f} |")
    markdown = "\n".join(lines)
    print(markdown)
    write_results("opencv_preset", markdown, {"pairs": n_pairs, "sets": results,
                                              "tvnet_config": OPENCV_CONFIG})


if __name__ == "__main__":
    main()
