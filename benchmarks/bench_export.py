"""Exported TVNet in onnxruntime (CPU) beside torch eager and fused, in one run.

For each structure (default TVNet-1-1-50 and TVNet-3-3-10) the frozen network is exported once
with :func:`sktvnet.export_tvnet` (ONNX, dynamic batch; the export time is reported), then the
synthetic camera pair at 240x320 (``sktvnet.make_synthetic_pair``) goes through onnxruntime's CPU
provider, torch eager and torch fused (``torch.compile``; compile time reported apart and not
counted) at batch 1 and batch 8: pairs per second (median of ``--repeat`` calls after a warm-up
call), EPE against the known flow, and the largest difference between onnxruntime and eager.
onnxruntime gets as many intra-op threads as torch.

Usage::

    python benchmarks/bench_export.py [--structures 1-1-50 3-3-10] [--batches 1 8]
        [--repeat 5] [--quick]

``--quick`` is a smoke run (TVNet-1-1-10 and TVNet-2-2-3 at 120x160, one repeat) whose files go
to a temporary folder; a full run writes ``benchmarks/results/export.md`` and ``export.json``,
stamped by ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

from sktvnet import TVNet, export_tvnet, make_synthetic_pair

from _common import cpu_name, divert_results, epe, timed, write_results


def bench_structure(structure, batches, repeat, image0, image1, truth, folder, fused):
    n_scales, n_warps, n_iters = map(int, structure.split("-"))
    params = dict(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters)
    start = time.perf_counter()
    path = export_tvnet(TVNet(**params), Path(folder) / f"tvnet-{structure}.onnx",
                        frame_shape=image0.shape)
    export_s = time.perf_counter() - start
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    modes = {"eager": TVNet(**params, fused=False)}
    if fused:
        modes["fused"] = TVNet(**params, fused=True)

    rows = []
    for batch in batches:
        x0 = np.ascontiguousarray(np.broadcast_to(image0, (batch, 1, *image0.shape)))
        x1 = np.ascontiguousarray(np.broadcast_to(image1, (batch, 1, *image1.shape)))
        t0, t1 = torch.from_numpy(x0), torch.from_numpy(x1)
        runs = [("onnxruntime", lambda: session.run(["flow"], {"frame0": x0, "frame1": x1})[0])]
        runs += [(mode, lambda net=net: net(t0, t1).numpy()) for mode, net in modes.items()]
        results = {}
        for mode, run in runs:
            seconds, first, flow = timed(run, repeat)
            results[mode] = flow
            rows.append({"structure": f"TVNet-{structure}", "batch": batch, "mode": mode,
                         "pairs_per_s": batch / seconds, "seconds": seconds,
                         "first_call_s": first if mode == "fused" else None,
                         "epe": epe(flow[0], truth)})
            print(rows[-1], flush=True)
        gap = float(np.abs(results["onnxruntime"] - results["eager"]).max())
        for row in rows[-len(runs):]:
            row["max_abs_vs_eager_px"] = gap if row["mode"] == "onnxruntime" else None
    return {"structure": f"TVNet-{structure}", "export_s": export_s,
            "onnx_MiB": path.stat().st_size / 2**20}, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--structures", nargs="+", default=["1-1-50", "3-3-10"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", nargs=2, type=int, default=[240, 320], metavar=("H", "W"))
    parser.add_argument("--no-fused", action="store_true", help="skip the compiled path")
    parser.add_argument("--shared", action="store_true",
                        help="note in the results that other jobs shared the CPU")
    parser.add_argument("--quick", action="store_true", help="smoke run, small and short")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.shape, args.repeat = ["1-1-10", "2-2-3"], [120, 160], 1
        divert_results()

    image0, image1, truth = make_synthetic_pair("camera", tuple(args.shape), dtype=np.float32)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "onnxruntime": ort.__version__, "shared_cpu": args.shared}
    print(machine)
    exports, rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        for structure in args.structures:
            export, structure_rows = bench_structure(structure, args.batches, args.repeat,
                                                     image0, image1, truth, folder,
                                                     not args.no_fused)
            exports.append(export)
            rows += structure_rows

    height, width = args.shape
    shared = "shared with other jobs" if args.shared else "quiet"
    lines = [f"Synthetic camera pair {height}x{width}; {machine['cpu']}, "
             f"{machine['torch_threads']} threads (torch and onnxruntime), CPU {shared}; "
             f"torch {machine['torch']}, onnxruntime {machine['onnxruntime']}."
             + (" Smoke run (--quick), not a result." if args.quick else ""),
             "", "| structure | batch | runtime | pairs/s | x eager | EPE (px) | "
             "max diff vs eager (px) | compile (s) |", "|---|---|---|---|---|---|---|---|"]
    eager = {(r["structure"], r["batch"]): r["pairs_per_s"] for r in rows if r["mode"] == "eager"}
    for r in rows:
        ratio = r["pairs_per_s"] / eager[(r["structure"], r["batch"])]
        gap = "" if r["max_abs_vs_eager_px"] is None else f"{r['max_abs_vs_eager_px']:.1e}"
        first = "" if r["first_call_s"] is None else f"{r['first_call_s']:.1f}"
        lines.append(f"| {r['structure']} | {r['batch']} | {r['mode']} | {r['pairs_per_s']:.1f} "
                     f"| {ratio:.2f} | {r['epe']:.4f} | {gap} | {first} |")
    lines += ["", "| structure | ONNX export (s) | file (MiB) |", "|---|---|---|"]
    lines += [f"| {e['structure']} | {e['export_s']:.1f} | {e['onnx_MiB']:.2f} |" for e in exports]
    table = "\n".join(lines)
    print()
    print(table)
    write_results("export", table, {"machine": machine, "exports": exports, "rows": rows})


if __name__ == "__main__":
    main()
