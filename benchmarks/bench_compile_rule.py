"""When does torch.compile pay for TVNet on this CPU? The measurements behind ``compiled="auto"``.

Three parts, each timed in fresh processes so that every compile is a first compile:

1. calibration: seconds per pixel-iteration (pairs x pixels summed over the pyramid levels x
   n_warps x n_iters) of frozen TVNet eager and fused (warm), the first compile of a process and
   the cost of a new frame size after it; their break-even work is the rule's threshold
   (``sktvnet.network.COMPILE_MIN_WORK``);
2. the first call of ``TVNetFlow(n_scales=3, n_warps=3, n_iters=30).fit_transform`` on three
   5-frame 68x160 clips: eager (``SKTVNET_COMPILE=0``), the former rule ("compile every inference
   call") and the current default;
3. pairs/s over a 100-frame 240x320 video through ``TVNetFlow().fit_transform``, compile included,
   with the same three settings.

Usage::

    python benchmarks/bench_compile_rule.py [--repeat 3]

Prints a table and writes ``benchmarks/results/compile_rule.md`` and ``compile_rule.json``,
stamped by ``_common.write_results``. Run it on a quiet machine: other processes on the cores inflate every time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import cpu_name, write_results

MODES = ("eager", "former", "auto")


def _set_mode(mode: str) -> None:
    """Select eager, the former rule (compile for every inference call) or the current rule."""
    if mode == "eager":
        os.environ["SKTVNET_COMPILE"] = "0"
        return
    os.environ["SKTVNET_COMPILE"] = "1"
    if mode == "former":
        from sktvnet.network import TVNet

        TVNet._use_compiled = lambda self, need_grad, shape: not need_grad


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def child_calibrate() -> dict:
    """Per pixel-iteration costs and compile times, in this (fresh) process."""
    import torch

    from sktvnet import make_synthetic_pair
    from sktvnet.network import TVNet

    os.environ["SKTVNET_COMPILE"] = "1"
    image0, image1, _ = make_synthetic_pair("camera", (240, 320), dtype="float32")
    x0 = torch.from_numpy(image0)[None, None].repeat(8, 1, 1, 1)
    x1 = torch.from_numpy(image1)[None, None].repeat(8, 1, 1, 1)
    work = 8 * 240 * 320 * 50
    eager, fused = TVNet(n_iters=50, compiled=False), TVNet(n_iters=50, compiled=True)
    with torch.inference_mode():
        eager(x0, x1)
        eager_s = min(_timed(lambda: eager(x0, x1))[0] for _ in range(3))
        first_s, _ = _timed(lambda: fused(x0, x1))
        fused_s = min(_timed(lambda: fused(x0, x1))[0] for _ in range(3))
        # A new size, batch and structure after the first compile: does the graph serve it?
        small = TVNet(n_scales=3, n_warps=3, n_iters=30, compiled=True)
        y0, y1 = x0[:4, :, :68, :160].contiguous(), x1[:4, :, :68, :160].contiguous()
        new_size_s, _ = _timed(lambda: small(y0, y1))
        new_size_warm_s = min(_timed(lambda: small(y0, y1))[0] for _ in range(3))
    saving = (eager_s - fused_s) / work
    compile_s = first_s - fused_s
    return {
        "eager_ns_per_pixel_iter": 1e9 * eager_s / work,
        "fused_ns_per_pixel_iter": 1e9 * fused_s / work,
        "first_compile_s": compile_s,
        "new_size_extra_s": new_size_s - new_size_warm_s,
        "break_even_pixel_iters": compile_s / saving if saving > 0 else float("inf"),
        "threads": torch.get_num_threads(),
    }


def child_first_call(mode: str) -> dict:
    _set_mode(mode)
    from sktvnet import TVNetFlow, make_motion_videos

    X, _ = make_motion_videos(3, n_classes=3, n_frames=5, frame_shape=(68, 160), random_state=0)
    seconds, flows = _timed(
        lambda: TVNetFlow(n_scales=3, n_warps=3, n_iters=30, weights=None).fit_transform(X))
    return {"mode": mode, "seconds": seconds, "shape": list(flows.shape)}


def child_video(mode: str) -> dict:
    _set_mode(mode)
    from sktvnet import TVNetFlow, make_motion_videos

    X, _ = make_motion_videos(2, n_classes=2, n_frames=100, frame_shape=(240, 320), random_state=0)
    seconds, flows = _timed(lambda: TVNetFlow().fit_transform(X[:1]))
    return {"mode": mode, "seconds": seconds, "pairs_per_s": flows.shape[1] / seconds}


CHILDREN = {"calibrate": child_calibrate, "first_call": child_first_call, "video": child_video}


def run_child(part: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", part, *args],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(part, *args, result, file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](*args.child[1:])))
        return

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    calibrations = [run_child("calibrate") for _ in range(args.repeat)]
    calibration = {key: median([c[key] for c in calibrations]) for key in calibrations[0]}
    first = {m: median([run_child("first_call", m)["seconds"] for _ in range(args.repeat)])
             for m in MODES}
    video = {m: median([run_child("video", m)["pairs_per_s"] for _ in range(args.repeat)])
             for m in MODES}
    import sktvnet.network as network

    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
               "load_average": os.getloadavg()[0], "COMPILE_MIN_WORK": network.COMPILE_MIN_WORK}
    lines = [
        f"CPU: {machine['cpu']} ({machine['cpu_count']} cores, torch threads "
        f"{calibration['threads']}), load average {machine['load_average']:.2f} at the end; "
        f"median of {args.repeat} fresh processes each.",
        "",
        "| calibration (TVNet-1-1-50, 240x320, batch 8) | value |",
        "|---|---|",
        f"| eager ns per pixel-iteration | {calibration['eager_ns_per_pixel_iter']:.2f} |",
        f"| fused ns per pixel-iteration (warm) | {calibration['fused_ns_per_pixel_iter']:.2f} |",
        f"| first compile of the process (s) | {calibration['first_compile_s']:.1f} |",
        f"| new size/batch/structure after it, extra (s) | {calibration['new_size_extra_s']:.2f} |",
        f"| break-even work (pixel-iterations) | {calibration['break_even_pixel_iters']:.3g} |",
        f"| COMPILE_MIN_WORK in sktvnet.network | {network.COMPILE_MIN_WORK:.3g} |",
        "",
        "| setting | 3 clips 5x68x160, TVNet-3-3-30 first call (s) | x eager "
        "| 100-frame 240x320 video, TVNet-1-1-50 (pairs/s, compile included) |",
        "|---|---|---|---|",
    ]
    names = {"eager": "SKTVNET_COMPILE=0", "former": "former rule (compile every inference call)",
             "auto": "default (compiled=\"auto\", this rule)"}
    for m in MODES:
        lines.append(f"| {names[m]} | {first[m]:.2f} | {first[m] / first['eager']:.2f} "
                     f"| {video[m]:.1f} |")
    table = "\n".join(lines)
    print(table)
    write_results("compile_rule", table,
                  {"machine": machine, "calibration": calibration, "calibrations": calibrations,
                   "first_call_s": first, "video_pairs_per_s": video})


if __name__ == "__main__":
    main()
