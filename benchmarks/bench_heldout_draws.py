"""How much do Table 1's held-out gains move from one draw of held-out pairs to another?

``bench_table1.py`` scores every fit on one draw of 16 held-out pairs per size. This script fits
the same way (``make_flow_pairs(images="train")``, 160 pairs of 128x128, ``TVNetFlow`` defaults,
``loss="epe"``, seed 0) and scores each fit, beside the frozen network, on several independent
draws of many held-out pairs (``make_flow_pairs(images="test")`` with seeds 2, 3, ...; Table 1's
draw is seed 1), at 128x128 and 240x320. The gain of a fit is ``1 - EPE(trained) /
EPE(frozen)`` on the same pairs; the spread over draws says which of Table 1's differences are
real.

Usage::

    python benchmarks/bench_heldout_draws.py              # the default cells, 2 fits at once
    python benchmarks/bench_heldout_draws.py --cells 1-1-50:all 3-5-10:filters+steps
    python benchmarks/bench_heldout_draws.py --filters-ratio 0.001   # filters at another rate
    python benchmarks/bench_heldout_draws.py --learning-rate 0.05    # another learning_rate
    python benchmarks/bench_heldout_draws.py --zoom-factor 0.7 --cells 10-1-50:all

Prints a markdown table and writes ``benchmarks/results/heldout_draws.md`` and ``.json`` (stamped by
``_common.write_results``)
(``heldout_draws_filters<ratio>.*`` with ``--filters-ratio``, ``heldout_draws_lr<rate>.*`` with
``--learning-rate``, ``heldout_draws_zoom<factor>.*`` with a ``--zoom-factor`` other than 0.5;
the suffixes in that order when several are given).
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
import torch

from sktvnet import TVNetFlow
from sktvnet.datasets import make_flow_pairs
from sktvnet.estimators._training import PART_LR_RATIOS

from _common import cpu_name, write_results
from bench_table1 import epe

CELLS = ["1-1-50:steps", "1-1-50:all", "3-3-10:steps", "3-3-10:all", "4-3-10:all",
         "3-5-10:steps", "3-5-10:u0+steps", "3-5-10:filters+steps", "3-5-10:all"]
DEFAULT_FILTERS_RATIO = PART_LR_RATIOS["filters"]
DEFAULT_LEARNING_RATE = TVNetFlow().learning_rate
# Table 1's zoom factor (bench_table1.py's --zoom-factor), not TVNetFlow's default.
DEFAULT_ZOOM_FACTOR = 0.5


def estimator(structure: str, train, seed: int, zoom_factor: float = DEFAULT_ZOOM_FACTOR,
              **params) -> TVNetFlow:
    n_scales, n_warps, n_iters = map(int, structure.split("-"))
    return TVNetFlow(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters,
                     zoom_factor=zoom_factor, weights=None, train=train, loss="epe",
                     random_state=seed, **params)


def score_cell(cell: str, X_train, y_train, draws: dict, seed: int,
               filters_ratio: float | None, learning_rate: float | None = None,
               zoom_factor: float = DEFAULT_ZOOM_FACTOR) -> dict:
    """Fit one ``structure:train`` cell (one torch thread) and score it and the frozen network
    on every draw: ``{size: [{"frozen": epe, "trained": epe, "gain": g}, ...]}``."""
    torch.set_num_threads(1)
    if filters_ratio is not None:
        # The module's own table, imported here: a global of this script would reach a worker
        # process as a copy (joblib pickles a script's functions by value).
        from sktvnet.estimators import _training
        _training.PART_LR_RATIOS["filters"] = filters_ratio
    structure, train = cell.split(":")
    frozen = estimator(structure, None, seed, zoom_factor=zoom_factor).fit(X_train, y_train)
    trained = estimator(structure, train, seed, zoom_factor=zoom_factor, **(
        {} if learning_rate is None else {"learning_rate": learning_rate}))
    start = time.perf_counter()
    trained.fit(X_train, y_train)
    out = {"fit_seconds": time.perf_counter() - start}
    for size, pairs in draws.items():
        out[size] = []
        for X, y in pairs:
            a, b = epe(frozen.transform(X), y), epe(trained.transform(X), y)
            out[size].append({"frozen": a, "trained": b, "gain": 1.0 - b / a})
    return out


def render(results: dict, args, cpu: str) -> str:
    seeds = ", ".join(str(args.seed + 2 + k) for k in range(args.draws))
    lines = [
        f"Gain of each fit over the frozen network, `1 - EPE(trained) / EPE(frozen)`, on "
        f"{args.draws} independent draws of {args.test_pairs} held-out pairs per size "
        f"(`make_flow_pairs(images=\"test\")`, seeds {seeds}, up to {args.max_displacement} px), "
        f"and on Table 1's own draw of {args.table_pairs} pairs (seed {args.seed + 1}). Training "
        f"as in `bench_table1.py`: {args.train_pairs} pairs of 128x128 from "
        f"`make_flow_pairs(images=\"train\")`, `TVNetFlow` defaults, `loss=\"epe\"`, "
        f"`zoom_factor={args.zoom_factor}`, `random_state={args.seed}`"
        + ("" if args.filters_ratio is None else
           f", the filters' learning rate {args.filters_ratio} times the steps' (the default: "
           f"{DEFAULT_FILTERS_RATIO})")
        + ("" if args.learning_rate is None else
           f", `learning_rate={args.learning_rate}` (the default: {DEFAULT_LEARNING_RATE})")
        + f". {cpu}, {args.jobs} fits at once, one "
        f"torch thread each.",
        "",
    ]
    for size in args.sizes:
        lines += [f"### {size}", "",
                  "| structure | train | Table 1's draw | "
                  + " | ".join(f"draw {k + 1}" for k in range(args.draws))
                  + f" | mean of the {args.draws} | lowest |",
                  "|---|---|" + "---|" * (args.draws + 3)]
        for cell, result in results.items():
            structure, train = cell.split(":")
            gains = [d["gain"] for d in result[size]]
            large = gains[1:]
            lines.append(f"| TVNet-{structure} | {train} | "
                         + " | ".join(f"{100 * g:+.1f}%" for g in gains)
                         + f" | {100 * np.mean(large):+.1f}% | {100 * min(large):+.1f}% |")
        lines.append("")
    fits = ", ".join(f"TVNet-{cell.replace(':', ' ')}: {r['fit_seconds']:.0f} s"
                     for cell, r in results.items())
    lines.append(f"Fit times: {fits}.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=CELLS,
                        help="structure:train cells (train as TVNetFlow spells it)")
    parser.add_argument("--sizes", nargs="+", default=["128x128", "240x320"])
    parser.add_argument("--train-pairs", type=int, default=160)
    parser.add_argument("--test-pairs", type=int, default=128,
                        help="held-out pairs in each of the --draws draws")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--table-pairs", type=int, default=16,
                        help="pairs of Table 1's own draw (bench_table1's --test-pairs)")
    parser.add_argument("--max-displacement", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--filters-ratio", type=float, default=None,
                        help="the filters' learning rate relative to the steps' (default: "
                             f"TVNetFlow's, {DEFAULT_FILTERS_RATIO})")
    parser.add_argument("--zoom-factor", type=float, default=DEFAULT_ZOOM_FACTOR,
                        help=f"TVNet's zoom_factor (default {DEFAULT_ZOOM_FACTOR}, Table 1's)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="TVNetFlow's learning_rate for the trained fits (default: its "
                             f"default, {DEFAULT_LEARNING_RATE})")
    args = parser.parse_args(argv)

    X_train, y_train = make_flow_pairs(args.train_pairs, frame_shape=(128, 128), images="train",
                                       max_displacement=args.max_displacement,
                                       random_state=args.seed)
    draws = {}
    for size in args.sizes:
        h, w = (int(n) for n in size.split("x"))
        counts = [(args.seed + 1, args.table_pairs)] + [
            (args.seed + 2 + k, args.test_pairs) for k in range(args.draws)]
        draws[size] = [make_flow_pairs(n, frame_shape=(h, w), images="test",
                                       max_displacement=args.max_displacement, random_state=s)
                       for s, n in counts]
    cpu = cpu_name()
    print(f"{len(args.cells)} fits, {args.jobs} at once; {cpu}", flush=True)
    results = {}
    outputs = joblib.Parallel(n_jobs=args.jobs, return_as="generator")(
        joblib.delayed(score_cell)(cell, X_train, y_train, draws, args.seed, args.filters_ratio,
                                   args.learning_rate, args.zoom_factor)
        for cell in args.cells)
    for cell, result in zip(args.cells, outputs):
        results[cell] = result
        print(cell, {size: [round(d["gain"], 4) for d in result[size]] for size in args.sizes},
              flush=True)
    text = render(results, args, cpu)
    print()
    print(text)
    stem = ("heldout_draws"
            + ("" if args.filters_ratio is None else f"_filters{args.filters_ratio:g}")
            + ("" if args.learning_rate is None else f"_lr{args.learning_rate:g}")
            + ("" if args.zoom_factor == DEFAULT_ZOOM_FACTOR else f"_zoom{args.zoom_factor:g}"))
    write_results(stem, text, {"args": vars(args), "cpu": cpu, "results": results})


if __name__ == "__main__":
    main()
