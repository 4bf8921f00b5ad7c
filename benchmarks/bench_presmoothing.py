"""Why TVNet's pre-smoothing learns: held-out EPE of frozen structures against its sigma.

TV-L1 smooths the frames by a Gaussian of sigma 0.8 (IPOL's) before the pyramid. With one warp,
the data term is linearised once, about the initial flow, and that linearisation holds over a
displacement of the order of the frames' smoothness: a wider blur lets TVNet-1-1-50 see motions
of several pixels that IPOL's sigma leaves out of reach, at the cost of detail. Structures of
several levels and warps reach large motions through the pyramid and warps instead, and lose by
a wider blur. Training (``train="filters"`` and ``"all"``) moves sigma from 0.8 up, within
``sktvnet.network.PRESMOOTHING_LOG_RANGE``; this script shows the landscape it moves in: frozen
networks, every other parameter TV-L1's, on Table 1's held-out pairs
(``make_flow_pairs(images="test")``, seed 1, up to 4 px) at 128x128 and 240x320.

Usage::

    python benchmarks/bench_presmoothing.py

Prints a markdown table and writes ``benchmarks/results/presmoothing.md`` and ``.json`` (stamped
by ``_common.write_results``). Only
EPEs: nothing is timed, so other work on the machine does not change the figures.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from sktvnet._core import PRESMOOTHING_SIGMA
from sktvnet.datasets import make_flow_pairs
from sktvnet.network import TVNet

from _common import cpu_name, write_results
from bench_table1 import epe

SIGMAS = [0.8, 1.2, 1.6, 2.0, 2.5, 3.0]
STRUCTURES = ["1-1-50", "3-1-10", "3-3-10"]


def held_out_epe(structure: str, sigma: float, X: np.ndarray, y: np.ndarray) -> float:
    n_scales, n_warps, n_iters = map(int, structure.split("-"))
    net = TVNet(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, zoom_factor=0.5,
                compiled=False)
    with torch.no_grad():
        net.log_presmoothing.fill_(math.log(sigma / PRESMOOTHING_SIGMA))
        frames = torch.as_tensor(X, dtype=torch.float32)
        flows = net(frames[:, 0:1], frames[:, 1:2]).numpy()
    return epe(flows[:, None], y)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sigmas", nargs="+", type=float, default=SIGMAS)
    parser.add_argument("--structures", nargs="+", default=STRUCTURES)
    parser.add_argument("--sizes", nargs="+", default=["128x128", "240x320"])
    parser.add_argument("--test-pairs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1, help="Table 1's held-out draw")
    args = parser.parse_args(argv)
    results = {}
    for size in args.sizes:
        h, w = (int(n) for n in size.split("x"))
        X, y = make_flow_pairs(args.test_pairs, frame_shape=(h, w), images="test",
                               max_displacement=4.0, random_state=args.seed)
        for structure in args.structures:
            row = {sigma: held_out_epe(structure, sigma, X, y) for sigma in args.sigmas}
            results.setdefault(size, {})[f"TVNet-{structure}"] = row
            print(size, structure, {s: round(e, 4) for s, e in row.items()}, flush=True)
    lines = [f"Held-out EPE (px) of frozen TVNet against the sigma of its pre-smoothing "
             f"(TV-L1's is {PRESMOOTHING_SIGMA}), on Table 1's held-out pairs "
             f"(`make_flow_pairs(images=\"test\")`, {args.test_pairs} pairs, seed {args.seed}, "
             f"up to 4 px), `zoom_factor=0.5`, bilinear warps; the best sigma of each row in "
             f"bold. {cpu_name()} (no timing).", ""]
    for size, rows in results.items():
        lines += [f"### {size}", "", "| structure | " + " | ".join(
            f"sigma {s:g}" for s in args.sigmas) + " |", "|---|" + "---|" * len(args.sigmas)]
        for structure, row in rows.items():
            best = min(row.values())
            lines.append(f"| {structure} | " + " | ".join(
                f"**{e:.4f}**" if e == best else f"{e:.4f}" for e in row.values()) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_results("presmoothing", text,
                  {"args": vars(args), "cpu": cpu_name(), "results": results})


if __name__ == "__main__":
    main()
