"""Feature extraction with TVNetFlow on one long video: pairs per second and peak memory.

A generated 240x320 video (a real image drifting and rotating slowly) of 50, 100 and 200 frames
goes through ``TVNetFlow(n_scales=1, n_warps=1, n_iters=50).fit(X).transform(X)``, each length in a
fresh process so that its peak resident memory is its own. The flows themselves take
``(T-1) * 2 * H * W * 4`` bytes; the table shows the peak minus that output, which must not grow
with the number of frames (TVNetFlow works in batches of ``batch_size`` pairs).

Usage::

    python benchmarks/bench_extract.py [--frames 50 100 200] [--batch-size 8]

Prints a markdown table and writes ``benchmarks/results/extract.md`` and ``extract.json``, stamped
by ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np

from _common import write_results


def make_video(n_frames, shape=(240, 320)):
    from scipy import ndimage
    from skimage import data, transform

    image = transform.resize(data.astronaut().mean(axis=-1), (2 * shape[0], 2 * shape[1]))
    frames = []
    for t in range(n_frames):
        moved = ndimage.rotate(ndimage.shift(image, (0.7 * t, 1.1 * t), mode="reflect"),
                               0.2 * t, reshape=False, mode="reflect")
        top, left = shape[0] // 2, shape[1] // 2
        frames.append(moved[top:top + shape[0], left:left + shape[1]])
    return (np.stack(frames) * 255).astype(np.uint8)


def current_rss():
    """Resident memory of this process now, in bytes (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def child(n_frames, batch_size):
    from sktvnet import TVNetFlow

    video = make_video(n_frames)[None]
    estimator = TVNetFlow(n_scales=1, n_warps=1, n_iters=50, weights=None,
                          batch_size=batch_size).fit(video)
    # Warm-up on a few frames (a full batch and a single pair): compilation, when enabled, happens
    # here and is not counted.
    estimator.transform(video[:, :batch_size + 2])
    # The resident memory is sampled while transform runs: its peak above the level before the
    # call is what extraction itself costs (the input video is already in memory).
    baseline = current_rss()
    samples = [baseline]
    done = threading.Event()

    def sample():
        while not done.wait(0.005):
            samples.append(current_rss())

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    flows = estimator.transform(video)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak = max(samples) - baseline
    print(json.dumps({"frames": n_frames, "seconds": seconds, "peak_bytes": peak,
                      "output_bytes": flows.nbytes}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", nargs="+", type=int, default=[50, 100, 200])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.batch_size)
        return
    # Memory: large blocks served by mmap return to the system when freed, so the resident memory
    # follows the live tensors; that costs a system call and fresh pages per allocation, so the
    # speed is measured in a second run with the default allocator.
    memory_env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    rows = []
    for n_frames in args.frames:
        runs = []
        for env in (memory_env, dict(os.environ)):
            out = subprocess.run([sys.executable, __file__, "--child", str(n_frames),
                                  "--batch-size", str(args.batch_size)],
                                 check=True, capture_output=True, text=True, env=env)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = {**runs[0], "seconds": runs[1]["seconds"]}
        rows.append(row)
        print(row, flush=True)
    lines = ["TVNetFlow TVNet-1-1-50 on a generated 240x320 video, batch of "
             f"{args.batch_size} pairs, SKTVNET_COMPILE={os.environ.get('SKTVNET_COMPILE', '1')}, "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}.", "",
             "| frames | pairs/s | peak memory above input (MiB) | output (MiB) | peak minus output (MiB) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['frames']} | {(r['frames'] - 1) / r['seconds']:.1f} | "
                     f"{r['peak_bytes'] / 2**20:.0f} | {r['output_bytes'] / 2**20:.0f} | "
                     f"{(r['peak_bytes'] - r['output_bytes']) / 2**20:.0f} |")
    table = "\n".join(lines)
    print()
    print(table)
    write_results("extract", table, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
