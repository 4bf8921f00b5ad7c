"""What bicubic warps cost and bring: frozen TVNet with ``interpolation="bilinear"`` (the paper's)
against ``"bicubic"`` (IPOL's), same structures, same pairs, in one run.

For each structure: held-out EPE on the 16 240x320 pairs of Table 1
(``make_flow_pairs(16, frame_shape=(240, 320), images="test", random_state=1)``, up to 4 px) and
``transform`` speed of those pairs as one ``(16, 2, 240, 320)`` batch, compiled (warm-up excluded), with one torch thread and
with one per core. The two interpolations are timed in turn, call after call (medians of 7), so
that a change of the machine's speed during the run touches both alike; the NumPy reference at
its defaults runs on one core before and after them.

Usage (on an otherwise idle machine)::

    python benchmarks/bench_interpolation.py

Prints a markdown table and writes ``benchmarks/results/interpolation.md`` and ``.json``, stamped
by ``_common.write_results``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from sktvnet import TVNetFlow, tvl1_optical_flow
from sktvnet._validation import INTERPOLATIONS
from sktvnet.datasets import make_flow_pairs
from sktvnet.pretrained import RECOMMENDED, WEIGHTS

from _common import cpu_name, write_results

STRUCTURES = {
    "TVNet-3-3-10": dict(n_scales=3, n_warps=3, n_iters=10, zoom_factor=0.5),
    "TVNet-4-3-10": dict(n_scales=4, n_warps=3, n_iters=10, zoom_factor=0.5),
    f"TVNet-8-2-15 with texture ({RECOMMENDED}'s)": {
        k: v for k, v in WEIGHTS[RECOMMENDED].config.items()
        if k in ("n_scales", "n_warps", "n_iters", "zoom_factor", "texture")},
}
REPEAT = 7


def epe(flows, truth) -> float:
    return float(np.hypot(*np.moveaxis(np.asarray(flows) - truth, 2, 0)).mean())


def reference_speed(X) -> float:
    start = time.perf_counter()
    for a, b in X[:4]:
        tvl1_optical_flow(a, b)
    return 4 / (time.perf_counter() - start)


def main() -> None:
    X, y = make_flow_pairs(16, frame_shape=(240, 320), images="test", max_displacement=4.0,
                           random_state=1)
    cpu = cpu_name()
    reference = {"epe": epe(np.stack([tvl1_optical_flow(a, b)[None] for a, b in X]), y),
                 "pairs_per_s_before": reference_speed(X)}
    threads = sorted({1, os.cpu_count() or 1})
    rows = []
    for name, config in STRUCTURES.items():
        models = {i: TVNetFlow(**config, interpolation=i, weights=None,
                            batch_size=len(X), device="cpu").fit(X[:1]) for i in INTERPOLATIONS}
        row = {"structure": name, "config": config}
        for interpolation, model in models.items():
            model.model_.compiled = True
            row[f"epe {interpolation}"] = epe(model.transform(X), y)  # also the compile warm-up
        for n in threads:
            torch.set_num_threads(n)
            times = {i: [] for i in INTERPOLATIONS}
            for _ in range(REPEAT):
                for interpolation, model in models.items():
                    start = time.perf_counter()
                    model.transform(X)
                    times[interpolation].append(time.perf_counter() - start)
            for interpolation in INTERPOLATIONS:
                row[f"pairs/s {interpolation} {n}"] = len(X) / float(np.median(times[interpolation]))
        torch.set_num_threads(threads[-1])
        rows.append(row)
        print(row, flush=True)
    reference["pairs_per_s_after"] = reference_speed(X)
    table = render(rows, reference, threads, cpu)
    print()
    print(table)
    write_results("interpolation", table,
                  {"cpu": cpu, "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
                   "reference": reference, "rows": rows})


def render(rows, reference, threads, cpu) -> str:
    speed = (reference["pairs_per_s_before"] + reference["pairs_per_s_after"]) / 2
    head = ["structure (frozen)", "EPE bilinear", "EPE bicubic"]
    for n in threads:
        head += [f"pairs/s bilinear, {n} thread{'s' if n > 1 else ''}",
                 f"pairs/s bicubic, {n} thread{'s' if n > 1 else ''}"]
    lines = [
        "Frozen TVNet, bilinear against bicubic warps, on 16 held-out 240x320 pairs (Table 1's "
        "test pairs), compiled, warm-up excluded, medians of 7 calls taken in turn. "
        f"{cpu}, {os.cpu_count()} cores; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}. "
        f"Command: `python benchmarks/bench_interpolation.py`.", "",
        "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in rows:
        cells = [row["structure"], f"{row['epe bilinear']:.4f}", f"{row['epe bicubic']:.4f}"]
        for n in threads:
            cells += [f"{row[f'pairs/s {i} {n}']:.2f} ({row[f'pairs/s {i} {n}'] / speed:.1f}x)"
                      for i in INTERPOLATIONS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"The reference TV-L1 at IPOL's defaults (bicubic, NumPy, one core): EPE "
              f"{reference['epe']:.4f} px, {reference['pairs_per_s_before']:.2f} pairs/s before "
              f"the networks and {reference['pairs_per_s_after']:.2f} after; the ratios use "
              f"their mean, {speed:.2f}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
