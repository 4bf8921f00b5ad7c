"""The shape of Table 1 of Fan et al. (2018) on held-out pairs: does training TVNet lower the EPE?

Training and test pairs are disjoint and come from different real images (scikit-image's), each
warped by a seeded random smooth field of up to ``--max-displacement`` px. For each structure
TVNet-S-W-N the held-out EPE is measured with ``train=None`` (frozen: TV-L1), ``"u0"`` and
``"all"`` (u0 and every filter of Eq. 7-9, wc included), trained with the estimator's default
training settings against the ground-truth flows (``loss="epe"``), beside the NumPy reference at
the same structure (bicubic warping, no early stop) and at IPOL's default 5-5-50.

Usage::

    python benchmarks/bench_table1.py [--size 128] [--train-pairs 48] [--test-pairs 24]
        [--structures 1-1-10 1-1-30 1-1-50 3-1-10] [--loss epe]

Prints a markdown table and writes ``benchmarks/results/table1.md`` and ``table1.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sktvnet import TVNetFlow, tvl1_optical_flow
from sktvnet.datasets import make_synthetic_pair

RESULTS = Path(__file__).parent / "results"
TRAIN_IMAGES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
TEST_IMAGES = ["camera", "moon", "text", "brick", "grass", "gravel"]


def make_pairs(images, n_pairs, size, max_displacement, seed):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(n_pairs):
        name = images[k % len(images)]
        image0, image1, flow = make_synthetic_pair(
            name, (size, size), flow="random", max_displacement=max_displacement,
            random_state=int(rng.integers(2**31 - 1)), dtype=np.float32,
        )
        X.append(np.stack([image0, image1]))
        y.append(flow[None])
    return np.stack(X).astype(np.float32), np.stack(y).astype(np.float32)


def epe(flows, truth):
    return float(np.hypot(*np.moveaxis(np.asarray(flows) - truth, 2, 0)).mean())


def reference_epe(X, y, n_scales, n_warps, n_iters):
    flows = [tvl1_optical_flow(v[0], v[1], n_scales=n_scales, n_warps=n_warps, n_iters=n_iters,
                               tol=0)[None] for v in X]
    return epe(np.stack(flows), y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train-pairs", type=int, default=48)
    parser.add_argument("--test-pairs", type=int, default=24)
    parser.add_argument("--max-displacement", type=float, default=5.0)
    parser.add_argument("--structures", nargs="+", default=["1-1-10", "1-1-30", "1-1-50", "3-1-10"])
    parser.add_argument("--loss", choices=["epe", "energy"], default="epe")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    X_train, y_train = make_pairs(TRAIN_IMAGES, args.train_pairs, args.size, args.max_displacement, 1)
    X_test, y_test = make_pairs(TEST_IMAGES, args.test_pairs, args.size, args.max_displacement, 2)
    print(f"{len(X_train)} training pairs ({', '.join(TRAIN_IMAGES)}), {len(X_test)} held-out pairs "
          f"({', '.join(TEST_IMAGES)}), {args.size}x{args.size}, up to {args.max_displacement} px")

    rows = []
    for structure in args.structures:
        n_scales, n_warps, n_iters = map(int, structure.split("-"))
        row = {"structure": f"TVNet-{structure}",
               "reference": reference_epe(X_test, y_test, n_scales, n_warps, n_iters)}
        for train in [None, "u0", "all"]:
            est = TVNetFlow(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters, train=train,
                            loss=args.loss, random_state=args.seed)
            start = time.perf_counter()
            est.fit(X_train, y_train)
            row[f"fit_seconds_{train}"] = time.perf_counter() - start
            row[str(train)] = epe(est.transform(X_test), y_test)
            row[f"train_epe_{train}"] = epe(est.transform(X_train), y_train)
        row["gain_all_%"] = 100 * (1 - row["all"] / row["None"])
        rows.append(row)
        print(row, flush=True)
    ipol_default = reference_epe(X_test, y_test, 5, 5, 50)

    lines = [
        f"Held-out EPE (px), {len(X_test)} pairs of {args.size}x{args.size} from images unseen in "
        f"training; training: {len(X_train)} pairs, TVNetFlow defaults, loss={args.loss!r}, "
        f"{torch.get_num_threads()} torch threads.",
        "",
        "| structure | reference TV-L1 (same structure) | TVNet frozen | TVNet train u0 | "
        "TVNet train all | gain of 'all' vs frozen | train EPE frozen / all | fit time all (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['structure']} | {r['reference']:.3f} | {r['None']:.3f} | {r['u0']:.3f} | "
            f"{r['all']:.3f} | {r['gain_all_%']:.1f}% | {r['train_epe_None']:.3f} / "
            f"{r['train_epe_all']:.3f} | {r['fit_seconds_all']:.0f} |"
        )
    lines.append(f"| reference TV-L1-5-5-50 (IPOL default structure) | {ipol_default:.3f} | | | | | | |")
    table = "\n".join(lines)
    print()
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "table1.md").write_text(table + "\n")
    (RESULTS / "table1.json").write_text(
        json.dumps({"args": vars(args), "rows": rows, "reference_5_5_50": ipol_default}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
