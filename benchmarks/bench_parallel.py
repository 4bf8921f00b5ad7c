"""Flow extraction of many videos: one process, joblib with n_jobs=2, a 2-worker dask cluster.

64 generated 240x320 videos of 16 frames (real images drifting by random amounts) go through
``TVNetFlow(n_scales=1, n_warps=1, n_iters=50).transform``: sequentially, with ``n_jobs=2``
(joblib's process pool) and inside ``joblib.parallel_backend("dask")`` on a
``distributed.LocalCluster`` of two single-threaded worker processes on loopback. The three
outputs must be identical.

Usage::

    python benchmarks/bench_parallel.py [--videos 64] [--frames 16]

Prints a markdown table and writes ``benchmarks/results/parallel.md`` and ``parallel.json``,
stamped by ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np

from sktvnet import TVNetFlow, make_synthetic_pair

from _common import write_results

IMAGES = ["camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "brick", "grass"]


def make_videos(n_videos, n_frames, shape=(240, 320)):
    from scipy import ndimage

    rng = np.random.default_rng(0)
    videos = []
    for k in range(n_videos):
        _, image, _ = make_synthetic_pair(IMAGES[k % len(IMAGES)], shape, dtype=np.float32)
        step = rng.uniform(-1.5, 1.5, 2)
        videos.append(np.stack([ndimage.shift(image, t * step, order=1, mode="reflect")
                                for t in range(n_frames)]))
    return np.stack(videos).astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args(argv)
    X = make_videos(args.videos, args.frames)
    estimator = TVNetFlow(n_scales=1, n_warps=1, n_iters=50, weights=None).fit(X[:1])
    rows, outputs = [], {}

    def run(name, fn):
        start = time.perf_counter()
        outputs[name] = fn()
        rows.append({"setup": name, "seconds": time.perf_counter() - start})
        print(rows[-1], flush=True)

    run("1 process", lambda: estimator.set_params(n_jobs=None).transform(X))
    run("joblib n_jobs=2 (processes)", lambda: estimator.set_params(n_jobs=2).transform(X))
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        def on_dask():
            with joblib.parallel_backend("dask"):
                return estimator.set_params(n_jobs=-1).transform(X)
        run("dask LocalCluster, 2 workers", on_dask)
    reference = outputs["1 process"]
    for row in rows:
        row["identical"] = bool(np.array_equal(outputs[row["setup"]], reference))
    n_pairs = args.videos * (args.frames - 1)
    lines = [f"{args.videos} videos of {args.frames} frames, 240x320, TVNet-1-1-50 "
             f"({n_pairs} pairs).", "",
             "| setup | wall time (s) | pairs/s | output identical to 1 process |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['seconds']:.1f} | {n_pairs / r['seconds']:.1f} | "
                     f"{'yes' if r['identical'] else 'NO'} |")
    table = "\n".join(lines)
    print()
    print(table)
    write_results("parallel", table, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
