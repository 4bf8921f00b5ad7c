"""TVNet speed and accuracy on the CPU (or CUDA), beside OpenCV DualTVL1 and scikit-image.

One run, the synthetic camera pair at 240x320 (``sktvnet.make_synthetic_pair``): pairs per second
of frozen TVNet for several structures at batch 1 and batch 8, eager and fused (torch.compile;
compile time is reported apart and not counted), with the EPE of each structure, beside OpenCV's
``DualTVL1OpticalFlow`` and scikit-image's ``optical_flow_tvl1`` at their defaults; then the peak
memory of one forward + backward pass through trainable TVNet-1-1-50 at batch 4, with and without
activation checkpointing (each measured in a fresh process: peak RSS above the process baseline on
the CPU, ``torch.cuda.max_memory_allocated`` on CUDA).

Usage::

    python benchmarks/bench_tvnet.py [--device cpu] [--structures 1-1-50 3-1-10 5-5-50]
        [--repeat 3] [--no-fused]

Prints markdown tables and writes ``benchmarks/results/tvnet.md`` and ``tvnet.json`` (on CUDA,
``tvnet_cuda.md`` and ``tvnet_cuda.json``, so that the CPU's figures stay beside them), stamped by
``_common.write_results``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import torch

from bench_extract import current_rss

from sktvnet import TVNet, make_synthetic_pair

from _common import cpu_name, epe, timed, write_results


def bench_tvnet(structure, batch, fused, device, image0, image1, truth, repeat):
    n_scales, n_warps, n_iters = map(int, structure.split("-"))
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, compiled=fused).to(device)
    x0 = torch.from_numpy(image0).to(device)[None, None].expand(batch, 1, *image0.shape).contiguous()
    x1 = torch.from_numpy(image1).to(device)[None, None].expand(batch, 1, *image1.shape).contiguous()

    def run():
        with torch.inference_mode():
            flow = net(x0, x1)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return flow

    seconds, first, flow = timed(run, repeat)
    return {"method": f"TVNet-{structure}", "batch": batch, "mode": "fused" if fused else "eager",
            "pairs_per_s": batch / seconds, "first_call_s": first,
            "epe": epe(flow[0].cpu().numpy(), truth)}


def bench_opencv(image0, image1, truth, repeat):
    import cv2

    cv2.setNumThreads(torch.get_num_threads())
    solver = cv2.optflow.DualTVL1OpticalFlow_create()
    a, b = image0.astype(np.float32), image1.astype(np.float32)
    seconds, _, flow = timed(lambda: solver.calc(a, b, None), repeat)
    return {"method": "OpenCV DualTVL1 defaults", "batch": 1, "mode": "C++",
            "pairs_per_s": 1 / seconds, "first_call_s": None,
            "epe": epe(np.moveaxis(flow, -1, 0), truth)}


def bench_skimage(image0, image1, truth, repeat):
    from skimage.registration import optical_flow_tvl1

    seconds, _, flow = timed(lambda: optical_flow_tvl1(image0, image1), repeat)
    return {"method": "scikit-image optical_flow_tvl1", "batch": 1, "mode": "NumPy",
            "pairs_per_s": 1 / seconds, "first_call_s": None, "epe": epe(flow[::-1], truth)}


def memory_child(device_name, use_checkpoint):
    """Run in a fresh process: peak memory of one forward + backward, printed as JSON."""
    device = torch.device(device_name)
    image0, image1, _ = make_synthetic_pair("camera", (240, 320), dtype=np.float32)
    x0 = torch.from_numpy(image0).to(device)[None, None].repeat(4, 1, 1, 1)
    x1 = torch.from_numpy(image1).to(device)[None, None].repeat(4, 1, 1, 1)
    net = TVNet(n_iters=50, train_u0=True, train_filters=True, compiled=False,
                checkpoint=use_checkpoint).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # Resident memory sampled during the pass: its peak above the level before it is the cost of
    # the pass (a lifetime high-water mark would include the set-up).
    baseline = current_rss()
    samples = [baseline]
    done = threading.Event()
    sampler = threading.Thread(target=lambda: [samples.append(current_rss())
                                               for _ in iter(lambda: done.wait(0.005), True)])
    sampler.start()
    start = time.perf_counter()
    flow = net(x0, x1)
    flow.square().mean().backward()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = max(samples) - baseline
    print(json.dumps({"peak_bytes": peak, "seconds": seconds}))


def bench_memory(device, use_checkpoint):
    # glibc keeps freed heap blocks mapped, so the RSS of a process would remember the
    # fragmentation of the allocator rather than the live tensors; with large blocks served by
    # mmap (returned at free) the peak RSS follows the live memory.
    env = {**os.environ, "SKTVNET_COMPILE": "0", "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(device), str(int(use_checkpoint))],
        check=True, capture_output=True, text=True, env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"checkpoint": use_checkpoint, "peak_MiB": result["peak_bytes"] / 2**20,
            "forward_backward_s": result["seconds"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--structures", nargs="+", default=["1-1-50", "3-1-10", "5-5-50"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-fused", action="store_true", help="skip the compiled path")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], bool(int(args.memory_child[1])))
        return

    device = torch.device(args.device)
    image0, image1, truth = make_synthetic_pair("camera", (240, 320), dtype=np.float32)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    for structure in args.structures:
        for fused in ([False] if args.no_fused else [False, True]):
            for batch in args.batches:
                rows.append(bench_tvnet(structure, batch, fused, device, image0, image1, truth,
                                        args.repeat))
                print(rows[-1], flush=True)
    opencv = None
    try:
        opencv = bench_opencv(image0, image1, truth, args.repeat)
        rows.append(opencv)
    except (ImportError, AttributeError) as exc:
        print(f"OpenCV (opencv-contrib-python-headless) not available: {exc}")
    rows.append(bench_skimage(image0, image1, truth, args.repeat))
    memory = [bench_memory(device, flag) for flag in (False, True)]

    # The CPU is named on CUDA too: the NumPy and OpenCV rows run on it.
    where = f"{cpu_name()}, {os.cpu_count()} cores"
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}; host CPU {where}"
    lines = [f"Synthetic camera pair 240x320, device {device} ({where}), "
             f"{torch.get_num_threads()} threads, torch {torch.__version__}.",
             "", "| method | batch | mode | pairs/s | x OpenCV | EPE (px) | first call (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['pairs_per_s'] / opencv['pairs_per_s']:.1f}" if opencv else ""
        first = "" if r["first_call_s"] is None else f"{r['first_call_s']:.1f}"
        lines.append(f"| {r['method']} | {r['batch']} | {r['mode']} | {r['pairs_per_s']:.1f} | "
                     f"{ratio} | {r['epe']:.4f} | {first} |")
    lines += ["", "Forward + backward of trainable TVNet-1-1-50, 240x320, batch 4:", "",
              "| checkpointing | peak memory (MiB) | time (s) |", "|---|---|---|"]
    for m in memory:
        lines.append(f"| {'yes' if m['checkpoint'] else 'no'} | {m['peak_MiB']:.0f} | "
                     f"{m['forward_backward_s']:.2f} |")
    table = "\n".join(lines)
    print()
    print(table)
    stem = "tvnet" if device.type == "cpu" else f"tvnet_{device.type}"
    write_results(stem, table, {"device": where, "rows": rows, "memory": memory})


if __name__ == "__main__":
    main()
