"""Table 1 of Fan et al. (2018) on held-out pairs: which trained parts of TVNet lower the EPE?

Training pairs come from ``make_flow_pairs(images="train")``, held-out pairs from
``make_flow_pairs(images="test")``: different real images (scikit-image's), each warped by a seeded
random field (smooth, rotation-zoom or shift) of up to ``--max-displacement`` px. For each structure
TVNet-S-W-N the held-out EPE is measured frozen (``train=None``: TV-L1) and trained with the
estimator's default settings against the ground-truth flows (``loss="epe"``) in the parts
``"u0"``, ``"filters"``, ``"steps"`` and ``"all"``, at every ``--sizes`` (trained at the first),
with the time per pair of ``transform``; beside the NumPy reference at IPOL's defaults
(``tvl1_optical_flow`` with no argument: 5 warps of up to 300 iterations a level, tol 0.01).

Usage::

    python benchmarks/bench_table1.py            # the full table (hours on a busy 2-core CPU)
    python benchmarks/bench_table1.py --quick    # 1-1-50 and 3-3-10, frozen / steps / all, 128x128
    python benchmarks/bench_table1.py --interpolation bicubic --columns None steps all --jobs 2
    python benchmarks/bench_table1.py --retime   # the time column again, EPEs kept (minutes)

Prints a markdown table and writes ``benchmarks/results/table1.md`` and ``table1.json``
(``table1_bicubic.*`` with ``--interpolation bicubic``), stamped by ``_common.write_results``;
``--quick`` is a smoke run whose files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import joblib
import numpy as np
import torch

from sktvnet import TVNetFlow, tvl1_optical_flow
from sktvnet._core import PRESMOOTHING_SIGMA
from sktvnet.datasets import make_flow_pairs

from _common import cpu_name, divert_results, read_results, results_dir, timed, write_results

STRUCTURES = ["1-1-50", "3-1-10", "3-3-10", "4-3-10", "3-5-10"]
COLUMNS = [None, "u0", "filters", "steps", "all"]


def epe(flows, truth) -> float:
    return float(np.hypot(*np.moveaxis(np.asarray(flows) - truth, 2, 0)).mean())


def timed_transform(est, X) -> tuple[np.ndarray, float]:
    """Flows of the pairs X (n, 2, H, W) and the seconds per pair of a second call: the first,
    on the same pairs, may compile (``compiled="auto"`` weighs the work of the whole call, so a
    warm-up on fewer pairs could leave the compilation inside the timed call)."""
    est.transform(X)
    start = time.perf_counter()
    flows = est.transform(X)
    return flows, (time.perf_counter() - start) / len(X)


def reference(X, y) -> tuple[float, float]:
    start = time.perf_counter()
    flows = np.stack([tvl1_optical_flow(pair[0], pair[1])[None] for pair in X])
    return epe(flows, y), (time.perf_counter() - start) / len(X)


# What must match for a cell of an earlier run to stand beside the cells fitted now.
SAME_DATA = ("train_pairs", "test_pairs", "max_displacement", "max_iter", "seed", "sizes",
             "zoom_factor", "interpolation")
# Runs from before --zoom-factor used TVNetFlow's default of the time, 0.5.
EARLIER_ZOOM_FACTOR = 0.5


def reusable(args, columns: list) -> dict:
    """``{structure: {column: cell}}`` of ``columns`` from ``args.reuse``, after checking that it
    measured the same data with the same settings."""
    if not columns:
        return {}
    if args.reuse is None:
        raise SystemExit(f"--columns leaves {', '.join(map(str, columns))} unfitted: give "
                         "--reuse with an earlier table1.json that has them")
    earlier = read_results(args.reuse)
    earlier["args"].setdefault("zoom_factor", EARLIER_ZOOM_FACTOR)
    earlier["args"].setdefault("interpolation", "bilinear")
    differ = [key for key in SAME_DATA if earlier["args"].get(key) != getattr(args, key)]
    if differ:
        raise SystemExit(f"{args.reuse} measured other data or settings ({', '.join(differ)})")
    out = {}
    for row in earlier["rows"]:
        structure = row["structure"].removeprefix("TVNet-")
        cells = row["columns"]
        # A cell reused before keeps the run that fitted it.
        out[structure] = {str(c): dict(cells[str(c)],
                                       reused=cells[str(c)].get("reused", str(args.reuse)))
                          for c in columns}
    return out


def threads_used(args) -> str:
    if args.jobs == 1:
        return f"{torch.get_num_threads()} torch threads"
    return f"{args.jobs} fits at once, one torch thread each (the reference: the main process)"


def fit_cell(structure: str, train, X_train, y_train, tests: dict, args) -> dict:
    """Fit TVNet-``structure`` with ``train`` on the training pairs; its held-out EPE and time
    per pair at every size."""
    if args.jobs != 1:
        torch.set_num_threads(1)
    n_scales, n_warps, n_iters = map(int, structure.split("-"))
    est = TVNetFlow(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters,
                    zoom_factor=args.zoom_factor, interpolation=args.interpolation,
                    weights=None, train=train, loss="epe", random_state=args.seed)
    if args.max_iter is not None:
        est.set_params(max_iter=args.max_iter)
    start = time.perf_counter()
    est.fit(X_train, y_train)
    cell = {"fit_seconds": time.perf_counter() - start,
            "best_validation_score": est.best_validation_score_,
            "presmoothing_sigma": float(est.model_.presmoothing_sigma().detach())}
    for size, (X, y) in tests.items():
        flows, seconds = timed_transform(est, X)
        cell[size] = {"epe": epe(flows, y), "seconds_per_pair": seconds}
    return cell


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1-1-50 and 3-3-10, frozen / steps / all, at 128x128 only")
    parser.add_argument("--structures", nargs="+", default=STRUCTURES)
    parser.add_argument("--sizes", nargs="+", default=["128x128", "240x320"],
                        help="held-out frame sizes HxW; training pairs have the first")
    parser.add_argument("--train-pairs", type=int, default=160)
    parser.add_argument("--test-pairs", type=int, default=16)
    parser.add_argument("--max-displacement", type=float, default=4.0)
    parser.add_argument("--max-iter", type=int, default=None,
                        help="override TVNetFlow's default max_iter (smoke runs only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zoom-factor", type=float, default=0.5,
                        help="size ratio of the pyramid levels (default: TV-L1's %(default)s, "
                             "not TVNetFlow's)")
    parser.add_argument("--interpolation", choices=("bilinear", "bicubic"), default="bilinear",
                        help="TVNet's warps: the paper's bilinear (default) or IPOL's bicubic")
    parser.add_argument("--columns", nargs="+", default=None,
                        choices=[str(c) for c in COLUMNS],
                        help="fit only these columns (None is frozen); the others come from "
                             "--reuse, or are left out without it")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a table1.json of an earlier run with the same data and settings "
                             "whose cells fill the columns not fitted now")
    parser.add_argument("--jobs", type=int, default=1,
                        help="fits run at once, each in its own process with one torch thread "
                             "(default 1: in this process, torch's default threads)")
    parser.add_argument("--retime", action="store_true",
                        help="re-measure only the time column of the table already written "
                             "for --interpolation, keeping its EPEs: see retime()")
    args = parser.parse_args(argv)
    if args.retime:
        return retime(results_dir() / f"{stem_of(args)}.json")
    columns = COLUMNS
    if args.quick:
        args.structures, args.sizes = ["1-1-50", "3-3-10"], ["128x128"]
        columns = [None, "steps", "all"]
        divert_results()
    sizes = [tuple(int(n) for n in s.split("x")) for s in args.sizes]
    torch.manual_seed(args.seed)

    X_train, y_train = make_flow_pairs(args.train_pairs, frame_shape=sizes[0], images="train",
                                       max_displacement=args.max_displacement,
                                       random_state=args.seed)
    tests = {f"{h}x{w}": make_flow_pairs(args.test_pairs, frame_shape=(h, w), images="test",
                                         max_displacement=args.max_displacement,
                                         random_state=args.seed + 1) for h, w in sizes}
    cpu = cpu_name()
    print(f"{len(X_train)} training pairs ({sizes[0][0]}x{sizes[0][1]}, train images), "
          f"{args.test_pairs} held-out pairs per size (test images), up to "
          f"{args.max_displacement} px; {cpu}, {threads_used(args)}", flush=True)

    ipol = {}
    for size, (X, y) in tests.items():
        ipol[size] = dict(zip(("epe", "seconds_per_pair"), reference(X, y)))
        print(f"reference TV-L1 at IPOL defaults, {size}: {ipol[size]}", flush=True)

    fitted = columns if args.columns is None else [
        c for c in columns if str(c) in args.columns]
    if args.reuse is None:
        columns = fitted  # a table of the columns fitted now
    else:  # the columns fitted now and those the earlier run has
        earlier = read_results(args.reuse)["rows"][0]["columns"]
        columns = [c for c in columns if c in fitted or str(c) in earlier]
    reused = reusable(args, [c for c in columns if c not in fitted])
    cells = [(structure, train) for structure in args.structures for train in fitted]
    # One process per fit, one torch thread each: the fits are independent, and on a few cores
    # whole processes scale better than torch's threads on 64x64 crops.
    results = joblib.Parallel(n_jobs=args.jobs, verbose=0, return_as="generator")(
        joblib.delayed(fit_cell)(structure, train, X_train, y_train, tests, args)
        for structure, train in cells)
    by_structure: dict = {}
    for (structure, train), cell in zip(cells, results):
        by_structure.setdefault(structure, {})[str(train)] = cell
        print(f"TVNet-{structure}", train, cell, flush=True)
    for structure, cells_before in reused.items():
        by_structure.setdefault(structure, {}).update(cells_before)
    rows = [{"structure": f"TVNet-{s}",
             "columns": {str(c): by_structure[s][str(c)] for c in columns}}
            for s in args.structures]

    table = render(rows, columns, ipol, args, cpu)
    print()
    print(table)
    write_results(stem_of(args), table,
                  {"args": vars(args), "cpu": cpu, "threads": threads_used(args),
                   "reference_ipol_defaults": ipol, "rows": rows})


def stem_of(args) -> str:
    return "table1" if args.interpolation == "bilinear" else f"table1_{args.interpolation}"


def retime(path: Path) -> None:
    """Re-measure the time column of the table in ``path`` (and its .md), keeping its EPEs.

    A fit's time per pair can include compilation (the runs before the second-call timing of
    ``timed_transform``), and two fits at once share the memory bandwidth. The time depends on
    the structure and, a little, on the learned pre-smoothing (its window grows with sigma),
    not on the other trained values, so each structure is timed frozen with the sigma that its
    ``all`` column learned, on the same held-out pairs, compiled, alone with one torch thread
    (medians of 3 calls after the one that compiles), beside the reference's time per pair in
    the same run.
    """
    table = read_results(path)
    table["args"].setdefault("zoom_factor", EARLIER_ZOOM_FACTOR)
    table["args"].setdefault("interpolation", "bilinear")
    args = argparse.Namespace(**table["args"])
    args.reuse = None if args.reuse is None else Path(args.reuse)
    torch.set_num_threads(1)
    cpu = cpu_name()
    retimed = {"cpu": cpu, "threads": "alone, one torch thread",
               "date": time.strftime("%Y-%m-%d"), "reference": {}, "structures": {}}
    for size in args.sizes:
        h, w = (int(n) for n in size.split("x"))
        X, _ = make_flow_pairs(args.test_pairs, frame_shape=(h, w), images="test",
                               max_displacement=args.max_displacement,
                               random_state=args.seed + 1)
        retimed["reference"][size] = timed(
            lambda: [tvl1_optical_flow(a, b) for a, b in X], repeat=1)[0] / len(X)
        for structure in args.structures:
            n_scales, n_warps, n_iters = map(int, structure.split("-"))
            est = TVNetFlow(n_scales=n_scales, n_warps=n_warps, n_iters=n_iters,
                            zoom_factor=args.zoom_factor, interpolation=args.interpolation,
                            weights=None, batch_size=len(X)).fit(X[:1])
            row = next(r for r in table["rows"] if r["structure"] == f"TVNet-{structure}")
            sigma = row["columns"].get("all", {}).get("presmoothing_sigma")
            if sigma is not None:
                with torch.no_grad():
                    est.model_.log_presmoothing.fill_(math.log(sigma / PRESMOOTHING_SIGMA))
            est.model_.compiled = True  # compiled: the warm-up call compiles, the timed ones don't
            seconds = timed(lambda: est.transform(X), repeat=3)[0] / len(X)
            retimed["structures"].setdefault(f"TVNet-{structure}", {})[size] = seconds
            print(f"TVNet-{structure} {size}: {1000 * seconds:.0f} ms per pair", flush=True)
    table["retimed"] = retimed
    columns = [None if c == "None" else c for c in table["rows"][0]["columns"]]
    text = render(table["rows"], columns, table["reference_ipol_defaults"], args,
                  table["cpu"], retimed)
    print(text)
    write_results(path.stem, text, table)


def render(rows, columns, ipol, args, cpu, retimed=None) -> str:
    # "frozen" and "train ..." headings are what the docs' chart of this table picks up.
    names = ["frozen" if c is None else f"train {c}" for c in columns]
    lines = [
        f"Held-out EPE (px) and time per pair (ms) of pairs from images unseen in training "
        f"(`make_flow_pairs(images=\"test\")`, {args.test_pairs} pairs per size, up to "
        f"{args.max_displacement} px). Training: {args.train_pairs} pairs of "
        f"{args.sizes[0]} from `make_flow_pairs(images=\"train\")`, `TVNetFlow` defaults "
        f"(`loss=\"epe\"`, `random_state={args.seed}`, `zoom_factor={args.zoom_factor}`, "
        f"`interpolation=\"{args.interpolation}\"`"
        f"{'' if args.max_iter is None else f', max_iter={args.max_iter}'}). {cpu}, "
        f"{threads_used(args)}.",
        "",
    ]
    for size in args.sizes:
        lines += [f"### {size}", "",
                  "| structure | " + " | ".join(names) + " | gain of all | TVNet ms per pair |",
                  "|---|" + "---|" * (len(names) + 2)]
        for row in rows:
            cells = row["columns"]
            values = [cells[str(c)][size]["epe"] for c in columns]
            gain = (f"{100 * (1 - cells['all'][size]['epe'] / cells['None'][size]['epe']):.1f}%"
                    if "all" in cells and "None" in cells else "")
            ms = 1000 * (cells[str(columns[-1])][size]["seconds_per_pair"] if retimed is None
                         else retimed["structures"][row["structure"]][size])
            lines.append(f"| {row['structure']} | " + " | ".join(f"{v:.4f}" for v in values)
                         + f" | {gain} | {ms:.0f} |")
        ms = 1000 * (ipol[size]["seconds_per_pair"] if retimed is None
                     else retimed["reference"][size])
        lines.append(f"| reference TV-L1 at IPOL defaults | {ipol[size]['epe']:.4f} |"
                     + " |" * (len(names) - 1) + f" | {ms:.0f} |")
        lines.append("")
    fits = ", ".join(f"{row['structure']} {c}: {cell['fit_seconds']:.0f} s"
                     for row in rows for c, cell in row["columns"].items() if c != "None")
    lines.append(f"Fit times: {fits}.")
    if retimed is not None:
        lines += ["", f"The time column was re-measured on {retimed['date']} "
                  f"(`--retime`: each structure frozen with the pre-smoothing that its `all` "
                  f"column learned, the same operations as trained, compiled, "
                  f"{retimed['threads']}, medians of 3 calls after a warm-up; the reference in "
                  f"the same run) on {retimed['cpu']}; the EPEs and fit times are the fits'."]
    reused = sorted({c for row in rows for c, cell in row["columns"].items() if "reused" in cell})
    if reused:
        runs = sorted({Path(cell["reused"]).name for row in rows
                       for cell in row["columns"].values() if "reused" in cell})
        lines += ["", "Columns " + ", ".join("frozen" if c == "None" else c for c in reused)
                  + f" come from an earlier run on the same data and settings ({', '.join(runs)}),"
                  " whose code trained those parts as the code of the other columns does."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
