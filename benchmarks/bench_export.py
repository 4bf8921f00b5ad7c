"""The exported models beside eager torch, in one run: what it costs to export them, to open
them and to run them, and how far their flow is from the network's.

For each model (default: the recommended bundled entry, what ``TVNetFlow()`` runs, and frozen
TV-L1 at its default structure, ``TVNetFlow(weights=None)``) at 240x320 frames, dynamic batch:

* ONNX (:func:`sktvnet.export_tvnet`, optimized): export time, file size, nodes (the loops'
  bodies counted), onnxruntime's session start and the lines it writes to stderr while opening;
* ``.pt2`` (``torch.export``): export time and ``torch.export.load`` time;
* pairs per second at batch 1 and 8 in onnxruntime (CPU provider, as many intra-op threads as
  torch), in the loaded ``.pt2`` program and in eager torch (the network as ``transform`` runs
  it with ``SKTVNET_COMPILE=0``): median of ``--repeat`` calls after a warm-up call, on the
  held-out ``exact`` pairs (real photographs; :func:`sktvnet.datasets.load_heldout`);
* the mean and largest difference between each runtime's flow and eager torch's, in pixels.

Usage::

    python benchmarks/bench_export.py [--models RECOMMENDED frozen] [--batches 1 8]
        [--repeat 5] [--quick]

``--quick`` is a smoke run (a small frozen structure at 48x64, one repeat) whose files go to a
temporary folder; a full run writes ``benchmarks/results/export.md`` and ``export.json``. Run it
alone: torch's and onnxruntime's worker threads spin when another process holds a core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Eager torch is the baseline (set before sktvnet loads).
os.environ["SKTVNET_COMPILE"] = "0"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from sktvnet import TVNet, export_tvnet  # noqa: E402
from sktvnet.datasets import load_heldout  # noqa: E402
from sktvnet.export import count_onnx_nodes  # noqa: E402
from sktvnet.pretrained import RECOMMENDED, load_tvnet  # noqa: E402

from _common import cpu_name, divert_results, timed, write_results  # noqa: E402


def stderr_lines(fn):
    """``fn()`` and the lines written to the process's stderr meanwhile (onnxruntime writes
    there from C++, past Python's sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            result = fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        lines = sink.read().decode(errors="replace").splitlines()
    return result, lines


def network(name: str, quick: bool) -> TVNet:
    if quick:
        return TVNet(n_scales=2, n_warps=2, n_iters=3, match_brightness=True)
    if name == "frozen":
        return load_tvnet(None).network
    return load_tvnet(RECOMMENDED if name == "RECOMMENDED" else name).network


def bench_model(name, net, pairs, batches, repeat, folder):
    label = {"RECOMMENDED": f"`{RECOMMENDED}` (recommended)", "frozen": "frozen TV-L1 default",
             "smoke": "smoke structure"}.get(name, f"`{name}`")
    height, width = pairs.shape[-2:]
    row = {"model": label, "structure": f"TVNet-{net.n_scales}-{net.n_warps}-{net.n_iters}"}
    start = time.perf_counter()
    onnx_path = export_tvnet(net, Path(folder) / "model.onnx", frame_shape=(height, width))
    row["onnx_export_s"] = time.perf_counter() - start
    row["onnx_MB"] = onnx_path.stat().st_size / 1e6
    row["onnx_nodes"] = count_onnx_nodes(onnx.load(onnx_path).graph)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    start = time.perf_counter()
    session, lines = stderr_lines(lambda: ort.InferenceSession(
        str(onnx_path), options, providers=["CPUExecutionProvider"]))
    row["session_start_s"] = time.perf_counter() - start
    row["session_stderr_lines"] = len(lines)
    start = time.perf_counter()
    pt2_path = export_tvnet(net, Path(folder) / "model.pt2", frame_shape=(height, width))
    row["pt2_export_s"] = time.perf_counter() - start
    start = time.perf_counter()
    program = torch.export.load(pt2_path).module()
    row["pt2_load_s"] = time.perf_counter() - start
    print(row, flush=True)

    eager = net
    eager.compiled = False
    runs = {"onnxruntime": lambda a, b: session.run(["flow"], {"frame0": a, "frame1": b})[0],
            "torch.export (.pt2)": lambda a, b: program(torch.from_numpy(a),
                                                        torch.from_numpy(b)).numpy(),
            "torch eager": lambda a, b: eager(torch.from_numpy(a), torch.from_numpy(b)).numpy()}
    speed = []
    for batch in batches:
        x0 = np.ascontiguousarray(pairs[:batch, 0, None])
        x1 = np.ascontiguousarray(pairs[:batch, 1, None])
        flows = {}
        for runtime, run in runs.items():
            with torch.inference_mode():
                seconds, _, flows[runtime] = timed(lambda run=run: run(x0, x1), repeat)
            speed.append({"model": label, "batch": batch, "runtime": runtime,
                          "pairs_per_s": batch / seconds})
        for entry in speed[-len(runs):]:
            gap = np.abs(flows[entry["runtime"]] - flows["torch eager"])
            entry["mean_diff_px"], entry["max_diff_px"] = float(gap.mean()), float(gap.max())
            print(entry, flush=True)
    return row, speed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["RECOMMENDED", "frozen"],
                        help="RECOMMENDED, frozen or bundled names")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run, small and short")
    args = parser.parse_args(argv)
    X, _ = load_heldout("exact")
    pairs = X.astype(np.float32)
    if args.quick:
        args.models, args.repeat = ["smoke"], 1
        pairs = pairs[:, :, :48, :64]
        divert_results()
    pairs = pairs[: max(args.batches)]

    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "onnxruntime": ort.__version__, "onnx": onnx.__version__}
    print(machine)
    rows, speed = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            row, model_speed = bench_model(name, network(name, args.quick), pairs,
                                           args.batches, args.repeat, folder)
            rows.append(row)
            speed += model_speed

    height, width = pairs.shape[-2:]
    lines = [f"Held-out `exact` pairs at {height}x{width}; {machine['cpu']}, "
             f"{machine['torch_threads']} threads (torch and onnxruntime); "
             f"torch {machine['torch']}, onnxruntime {machine['onnxruntime']}."
             + (" Smoke run (--quick), not a result." if args.quick else ""),
             "", "| model | ONNX export (s) | .onnx (MB) | nodes | session start (s) | "
             "its stderr lines | .pt2 export (s) | torch.export.load (s) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} ({r['structure']}) | {r['onnx_export_s']:.1f} | "
              f"{r['onnx_MB']:.2f} | {r['onnx_nodes']} | {r['session_start_s']:.2f} | "
              f"{r['session_stderr_lines']} | {r['pt2_export_s']:.1f} | {r['pt2_load_s']:.2f} |"
              for r in rows]
    lines += ["", "| model | batch | runtime | pairs/s | x eager | mean diff (px) | "
              "max diff (px) |", "|---|---|---|---|---|---|---|"]
    eager = {(s["model"], s["batch"]): s["pairs_per_s"] for s in speed
             if s["runtime"] == "torch eager"}
    for s in speed:
        lines.append(f"| {s['model']} | {s['batch']} | {s['runtime']} | {s['pairs_per_s']:.2f} "
                     f"| {s['pairs_per_s'] / eager[(s['model'], s['batch'])]:.2f} | "
                     f"{s['mean_diff_px']:.1e} | {s['max_diff_px']:.1e} |")
    table = "\n".join(lines)
    print()
    print(table)
    write_results("export", table, {"machine": machine, "exports": rows, "speed": speed})


if __name__ == "__main__":
    main()
