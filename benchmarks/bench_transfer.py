"""Does what the recommended model learned carry across frame sizes? Its EPE beside the
reference's at several sizes of the same held-out scenes.

The recommended entry was trained on 240x320 and 384x512 crops; its per-level step sizes and
filters are indexed by pyramid level, finest first. A level of a smaller frame sees coarser
detail than the same level of a larger one, so what a level learned might hold at one size only.
This measures it: pairs cut from the held-out photographs (those of
:func:`sktvnet.datasets.load_heldout`, which nothing in sktvnet trains on) at each ``--sizes``,
warped by smooth, affine or shift fields whose largest motion scales with the frame (up to 2% of
the width), and for each size the EPE of:

* ``TVNetFlow()`` (the recommended entry, as a user runs it);
* the same weights without their training (frozen TV-L1 of the same structure);
* the NumPy reference at IPOL's defaults.

The ratio recommended / reference is the figure that should not drift with the size. The
held-out photographs are 427x640, which bounds the largest size.

Usage::

    python benchmarks/bench_transfer.py [--sizes 120x160 240x320 384x512] [--pairs 8] [--quick]

Writes ``benchmarks/results/transfer.md`` and ``.json`` (not with ``--quick``: two pairs of the
two smaller sizes).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("SKTVNET_COMPILE", "0")  # EPE only: no compile time to wait for

from sktvnet import TVNetFlow, tvl1_optical_flow  # noqa: E402
from sktvnet.datasets._heldout import HELDOUT_IMAGES, _sample_image  # noqa: E402
from sktvnet.datasets._pairs import _warped_pairs  # noqa: E402
from sktvnet.metrics import endpoint_error  # noqa: E402
from sktvnet.pretrained import RECOMMENDED, WEIGHTS  # noqa: E402

from _common import divert_results, write_results  # noqa: E402

SEED = 104  # apart from load_heldout's sets (101-103)


def pairs_at(size, n_pairs):
    greys = {image: _sample_image(image) for image in HELDOUT_IMAGES}
    largest = 0.02 * size[1]
    return _warped_pairs(greys, n_pairs, size, (0.25 * largest, largest), "mixed", 0.0, 0.0,
                         np.random.RandomState(SEED))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["120x160", "240x320", "384x512"])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.pairs = args.sizes[:2], 2
        divert_results()
    config = WEIGHTS[RECOMMENDED].config
    models = {"recommended": TVNetFlow(),
              "frozen, same structure": TVNetFlow(**config, weights=None)}
    rows = []
    for text in args.sizes:
        size = tuple(int(side) for side in text.split("x"))
        X, y = pairs_at(size, args.pairs)
        row = {"size": text, "largest_motion_px": 0.02 * size[1]}
        for name, model in models.items():
            flows = model.fit(X[:1]).transform(X)[:, 0]
            row[name] = float(endpoint_error(flows, y[:, 0]))
        reference = np.stack([tvl1_optical_flow(pair[0], pair[1]) for pair in X])
        row["reference"] = float(endpoint_error(reference, y[:, 0]))
        row["ratio"] = row["recommended"] / row["reference"]
        rows.append(row)
        print(row, flush=True)
    lines = [f"EPE (px) of `{RECOMMENDED}` (`TVNetFlow()`), its structure frozen and the "
             f"reference on {args.pairs} pairs per size cut from the held-out photographs, "
             "motions of 0.5-2% of the width."
             + (" Smoke run (--quick), not a result." if args.quick else ""), "",
             "| frame size | largest motion (px) | recommended | frozen, same structure | "
             "reference | recommended / reference |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['largest_motion_px']:.1f} | {r['recommended']:.4f} | "
              f"{r['frozen, same structure']:.4f} | {r['reference']:.4f} | {r['ratio']:.2f} |"
              for r in rows]
    table = "\n".join(lines)
    print(table)
    write_results("transfer", table, {"rows": rows, "pairs": args.pairs, "seed": SEED,
                                      "model": RECOMMENDED})


if __name__ == "__main__":
    main()
