"""Train the bundled weights ``tvnet-6-1-50-steps`` and measure them (issue #11, item 5).

TVNet-6-1-50 (six levels, one warp of 50 iterations each) learns its step sizes tau, lambda and
theta per level and per iteration (``train="steps"``, the part that generalised in the issue's
trial) against the ground-truth flows (``loss="epe"``) of pairs made by
``sktvnet.datasets.make_flow_pairs(images="train")`` with random brightness changes and noise, so
that it serves real video and not only exact warps. Every level must see data: 240x320 frames
have five levels, so a quarter of the pairs are 384x512 (six levels). Frames are whole
(``crop_size=None``): a crop would cap the pyramid.

Then, in the same run: held-out EPE at 240x320 on ``make_flow_pairs(images="test")`` (images
never seen in training) of the reference ``tvl1_optical_flow`` at its defaults, of frozen
TVNet-6-1-50 and of the trained one; EPE on the stereo motorcycle pair; and the speed of
``transform`` on 8 held-out pairs given as ``(8, 2, 240, 320)`` (torch.compile warm-up excluded)
against the reference's pairs per second.

Usage (one command, deterministic for a seed; about 15 minutes on a shared 2-core CPU)::

    OMP_NUM_THREADS=1 python benchmarks/train_pretrained.py [--seed 0]

``--quick`` trains a few steps on small frames and writes nothing into the package (a check that
the script runs). Writes ``sktvnet/weights/tvnet-6-1-50-steps.safetensors`` and
``benchmarks/results/pretrained.md`` and ``pretrained.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from sktvnet import TVNetFlow, tvl1_optical_flow
from sktvnet.datasets import load_stereo_motorcycle, make_flow_pairs
from sktvnet.metrics import endpoint_error
from sktvnet.pretrained import WEIGHTS, load_weights, save_weights

NAME = "tvnet-6-1-50-steps"
ROOT = Path(__file__).resolve().parent.parent
from _common import cpu_name

RESULTS = ROOT / "benchmarks" / "results"


def held_out_epe(flows: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([endpoint_error(f, t) for f, t in zip(flows, y)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-iter", type=int, default=None,
                        help="optimisation steps (default 120, 4 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a few steps on small frames; writes nothing into the package")
    parser.add_argument("--output", type=Path, default=None,
                        help="weights file (default: the package's, or a temporary one with --quick)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="measure the weights file already written, without training")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    entry = WEIGHTS[NAME]
    small, large = ((60, 80), (96, 128)) if args.quick else ((240, 320), (384, 512))
    n_small, n_large = (6, 2) if args.quick else (48, 16)
    max_iter = args.max_iter or (4 if args.quick else 120)
    realism = dict(images="train", brightness=0.02, noise=0.005)
    # Large frames carry large motions, so that the coarse levels learn what they are for.
    X_small, y_small = make_flow_pairs(n_small, size=small, max_displacement=6.0,
                                       random_state=args.seed, **realism)
    output = args.output or (Path(os.environ.get("TMPDIR", "/tmp")) / entry.file if args.quick
                             else entry.path)
    if args.evaluate_only:
        _, config = load_weights(output)
        recipe, train_seconds = config["metadata"]["recipe"], config["metadata"]["train_seconds"]
        estimator = TVNetFlow(**entry.config, weights=output).fit(X_small[:1])
        loss_curve = config["metadata"]["loss_curve"]
    else:
        X_large, y_large = make_flow_pairs(n_large, size=large, max_displacement=16.0,
                                           random_state=args.seed + 1, **realism)
        # No validation split: the recipe trains on every pair for a fixed number of steps.
        estimator = TVNetFlow(**entry.config, weights=None, train="steps", loss="epe",
                              learning_rate=0.005, max_iter=max_iter, batch_size=2,
                              crop_size=None, validation_fraction=None, random_state=args.seed,
                              verbose=1)
        estimator.fit(list(X_small) + list(X_large), list(y_small) + list(y_large))
        estimator.set_params(verbose=0)
        train_seconds = time.perf_counter() - started
        loss_curve = estimator.loss_curve_
        recipe = {"command": "python benchmarks/train_pretrained.py"
                             + (f" --seed {args.seed}" if args.seed else "")
                             + (" --quick" if args.quick else ""),
                  "train": "steps", "loss": "epe", "learning_rate": 0.005, "max_iter": max_iter,
                  "batch_size": 2, "pairs": {f"{small[0]}x{small[1]}": n_small,
                                             f"{large[0]}x{large[1]}": n_large},
                  "make_flow_pairs": {**realism, "max_displacement": {"small": 6.0, "large": 16.0}},
                  "seed": args.seed}

    # ---------------------------------------------------------------- measurements
    torch.set_num_threads(1)
    frozen = TVNetFlow(**entry.config, weights=None).fit(X_small[:1])
    trained = estimator
    X_test, y_test = make_flow_pairs(8, size=small,
                                     images="test", random_state=args.seed + 100)
    t = time.perf_counter()
    reference = np.stack([tvl1_optical_flow(a, b) for a, b in X_test])
    reference_pairs_per_s = len(X_test) / (time.perf_counter() - t)
    results = {"epe_held_out": {"reference": held_out_epe(reference, y_test[:, 0])}}
    speeds = {"reference": reference_pairs_per_s}
    for label, model in (("frozen", frozen), ("trained", trained)):
        model.set_params(batch_size=8)
        model.transform(X_test)  # warm-up: torch.compile builds its graph here
        t = time.perf_counter()
        flows = model.transform(X_test)
        speeds[label] = len(X_test) / (time.perf_counter() - t)
        results["epe_held_out"][label] = held_out_epe(flows[:, 0], y_test[:, 0])

    image0, image1, flow, valid = load_stereo_motorcycle()
    results["epe_motorcycle"] = {
        "reference": float(endpoint_error(tvl1_optical_flow(image0, image1), flow, mask=valid))}
    pair = np.stack([image0, image1])[None]
    for label, model in (("frozen", frozen), ("trained", trained)):
        results["epe_motorcycle"][label] = float(
            endpoint_error(model.transform(pair)[0, 0], flow, mask=valid))
    results["pairs_per_s_240x320_batch8"] = speeds
    results["speedup_vs_reference"] = speeds["trained"] / speeds["reference"]

    metrics = {"epe_held_out_240x320": round(results["epe_held_out"]["trained"], 4),
               "epe_motorcycle": round(results["epe_motorcycle"]["trained"], 3),
               "speedup_vs_reference": round(results["speedup_vs_reference"], 1)}
    save_weights(trained, output, metadata={"name": NAME, "recipe": recipe, "metrics": metrics,
                                            "train_seconds": train_seconds,
                                            "loss_curve": loss_curve})

    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg(),
               "compile": os.environ.get("SKTVNET_COMPILE", "1")}
    report = {"name": NAME, "structure": entry.structure, "recipe": recipe,
              "train_seconds": round(train_seconds, 1), "loss_curve": loss_curve,
              "machine": machine, "results": results, "weights_file": str(output),
              "weights_bytes": output.stat().st_size}
    rows = [(f"held-out EPE at {small[0]}x{small[1]} (8 pairs, px)", "epe_held_out", "{:.4f}"),
            ("motorcycle EPE (px)", "epe_motorcycle", "{:.3f}"),
            (f"pairs/s, (8, 2, {small[0]}, {small[1]}), compile warm-up excluded",
             "pairs_per_s_240x320_batch8",
             "{:.2f}")]
    lines = [f"# Pretrained weights `{NAME}` ({entry.structure}, train=steps)", "",
             f"Command: `{recipe['command']}`; trained in {train_seconds / 60:.1f} min "
             f"({max_iter} steps of {recipe['batch_size']} pairs) on {machine['cpu']}, "
             f"{machine['cpu_count']} cores, 1 torch thread for the measurements, load average "
             f"{', '.join(f'{x:.1f}' for x in machine['load_average'])} (shared CPU).", "",
             "| measure | reference TV-L1 (defaults) | frozen " + entry.structure
             + " | trained |", "|---|---|---|---|"]
    for label, key, fmt in rows:
        values = results[key]
        lines.append(f"| {label} | " + " | ".join(fmt.format(values[k]) for k in
                                                  ("reference", "frozen", "trained")) + " |")
    lines += ["", f"Trained transform speed: {results['speedup_vs_reference']:.1f}x the "
                  "reference's pairs/s.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "pretrained.md").write_text(text)
        (RESULTS / "pretrained.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
