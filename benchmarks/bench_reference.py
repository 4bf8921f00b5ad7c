"""Reference TV-L1 against the TV-L1 solvers a Python user can install, on the same pairs.

Pairs: the synthetic camera pair (240x320, smooth field u = 2 + 1.5 sin(2 pi y/H),
v = -1 + cos(2 pi x/W)) and the real Middlebury stereo motorcycle pair (500x741, u = -disparity).
Methods: sktvnet's reference (bicubic and bilinear), scikit-image's ``optical_flow_tvl1`` and
OpenCV's ``DualTVL1OpticalFlow`` (opencv-contrib-python-headless), at their defaults, plus OpenCV
tuned to IPOL's pyramid (zoom 0.5, 6 scales). When ``--ipol PATH`` names a built IPOL ``tvl1flow``
binary (not part of this repository), it runs too and the table gains the mean absolute
difference between sktvnet and IPOL, pixel by pixel.

Usage::

    python benchmarks/bench_reference.py [--repeat 3] [--ipol /path/to/tvl1flow]

Prints a markdown table and writes ``benchmarks/results/reference.md`` and ``reference.json``,
stamped by ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
from skimage.registration import optical_flow_tvl1

from sktvnet import _core, tvl1_optical_flow
from sktvnet.datasets import load_stereo_motorcycle, make_synthetic_pair
from sktvnet.io import read_flo

from _common import write_results

LUMA = np.array(_core.LUMA_RGB)


def synthetic_pair():
    image0, image1, flow = make_synthetic_pair("camera", (240, 320))
    return image0, image1, flow, np.ones(flow.shape[1:], dtype=bool)


def motorcycle_pair():
    left, right, flow, valid = load_stereo_motorcycle()
    return left @ LUMA / 255.0, right @ LUMA / 255.0, flow, valid


def quantize16(image0, image1):
    """Both frames on one 16-bit scale (IPOL reads 16-bit PGM; the joint [0, 255] scaling inside
    every solver makes the scale irrelevant, and 16 bits keep the quantisation negligible)."""
    low = min(image0.min(), image1.min())
    span = max(image0.max(), image1.max()) - low
    return [np.round((im - low) / span * 65535.0) for im in (image0, image1)]


def _write_pgm16(path, image):
    height, width = image.shape
    with open(path, "wb") as handle:
        handle.write(b"P5\n%d %d\n65535\n" % (width, height))
        handle.write(image.astype(">u2").tobytes())


def ipol(binary):
    def run(image0, image1):
        with tempfile.TemporaryDirectory() as tmp:
            _write_pgm16(f"{tmp}/a.pgm", image0)
            _write_pgm16(f"{tmp}/b.pgm", image1)
            subprocess.run([binary, f"{tmp}/a.pgm", f"{tmp}/b.pgm", f"{tmp}/f.flo", "2"],
                           check=True, capture_output=True)
            return read_flo(f"{tmp}/f.flo").astype(np.float64)
    return run


def opencv(**settings):
    import cv2

    cv2.setNumThreads(2)

    def run(image0, image1):
        solver = cv2.optflow.DualTVL1OpticalFlow_create(**settings)
        flow = solver.calc(image0.astype(np.float32) / 65535.0, image1.astype(np.float32) / 65535.0, None)
        return np.moveaxis(flow, -1, 0)
    return run


def scikit_image(image0, image1):
    # scikit-image expects [0, 1] images and returns (v, u).
    return optical_flow_tvl1(image0 / 65535.0, image1 / 65535.0)[::-1]


def sktvnet(interpolation):
    def run(image0, image1):
        return tvl1_optical_flow(image0.astype(np.float32), image1.astype(np.float32),
                                 interpolation=interpolation)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (median)")
    parser.add_argument("--ipol", default=os.environ.get("SKTVNET_IPOL_BIN"),
                        help="path to a built IPOL tvl1flow binary (optional)")
    args = parser.parse_args(argv)

    methods = {"sktvnet reference (bicubic)": sktvnet("bicubic"),
               "sktvnet reference (bilinear)": sktvnet("bilinear")}
    if args.ipol:
        methods["IPOL tvl1flow C (2 threads)"] = ipol(args.ipol)
    try:
        methods["OpenCV DualTVL1 defaults"] = opencv()
        methods["OpenCV DualTVL1 zoom 0.5, 6 scales"] = opencv(scaleStep=0.5, nscales=6)
    except (ImportError, AttributeError) as exc:
        print(f"OpenCV (opencv-contrib-python-headless) not available: {exc}")
    methods["scikit-image optical_flow_tvl1"] = scikit_image

    rows = []
    for pair_name, make in [("synthetic camera 240x320", synthetic_pair),
                            ("stereo motorcycle 500x741", motorcycle_pair)]:
        image0, image1, truth, valid = make()
        image0, image1 = quantize16(image0, image1)
        flows = {}
        for name, method in methods.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                flow = method(image0, image1)
                times.append(time.perf_counter() - start)
            flows[name] = flow
            epe = np.hypot(flow[0] - truth[0], flow[1] - truth[1])[valid].mean()
            rows.append({"pair": pair_name, "method": name, "seconds": float(np.median(times)),
                         "epe": float(epe)})
            print(f"{pair_name:28s} {name:36s} {rows[-1]['seconds']:7.3f} s  EPE {epe:.4f}", flush=True)
        if args.ipol:
            diff = np.abs(flows["sktvnet reference (bicubic)"] - flows["IPOL tvl1flow C (2 threads)"])
            rows.append({"pair": pair_name, "method": "mean abs. difference, sktvnet bicubic vs IPOL (px)",
                         "seconds": None, "epe": float(diff.mean())})

    lines = [f"TV-L1 solvers at their defaults on two pairs (frames quantised to 16 bits), time "
             f"the median of {args.repeat} runs.", "",
             "| pair | method | time per pair (s) | mean EPE (px) |", "|---|---|---|---|"]
    for row in rows:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.3f}"
        lines.append(f"| {row['pair']} | {row['method']} | {seconds} | {row['epe']:.4f} |")
    table = "\n".join(lines)
    print()
    print(table)
    write_results("reference", table, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
