"""Train the bundled weights of :data:`sktvnet.pretrained.WEIGHTS` and measure them (#11).

Each bundled entry has its recipe in ``RECIPES`` below; ``--name`` picks one (the default is
:data:`~sktvnet.pretrained.RECOMMENDED`). Every recipe trains the step sizes tau, lambda and
theta and the difference filters of every iteration of every level (``train="filters+steps"``,
the filters at a hundredth of the rate, the centred-gradient taps kept at zero sum) against the
ground-truth flows (``loss="epe"``) of pairs made by
``sktvnet.datasets.make_flow_pairs(images="train")``. Frames are whole (``crop_size=None``: a
crop would cap the pyramid) and of two sizes, so that every level of the structure sees data:
most pairs at 240x320 with the small motions of video, a few at 384x512 with larger ones for the
coarsest levels. A fifth of the pairs is held out to validate on, and the best-scoring state is
kept (``validation_fraction``). The entries differ in ``texture`` and in their pairs:

* ``tvnet-8-2-15-coarse-texture`` (recommended): the coarse levels on textures, the finest on
  the frames (``texture=(0, 1)``); half of the pairs exact warps, half with brightness changes
  up to 0.005 and noise 0.002, so that it serves real video and keeps the frames' precision.
* ``tvnet-8-2-15-texture``: every level on its texture; every pair with brightness changes up to
  0.02 and noise 0.005 (with bilinear warps and free taps, the steps alone gave 0.0852, 0.0564
  and 3.526 px under such changes, on exact warps and on the motorcycle pair, and the filters and
  steps 0.0842, 0.0551 and 3.122, where these bicubic weights measure 0.0823, 0.0345 and 3.300).
* ``tvnet-8-2-15``: on the frames themselves, trained on exact warps: for data whose brightness
  is constant (renders, synthetic warps, frames of one exposure), where it is more precise than
  TV-L1 at its defaults, and of no use under brightness changes, which its table shows. (With
  noise 0.005 in its training pairs it ended worse than frozen on exact warps, 0.0234 against
  0.0215 px, in a trial.)

Then, in the same run, beside the frozen network of the same structure and the NumPy reference
``tvl1_optical_flow`` at its defaults (on the frames, and with the model's ``texture`` when it
has one):

* held-out EPE at 240x320 on ``make_flow_pairs(images="test")`` (images never seen in
  training), exact warps and, separately, warps with mild brightness changes and noise (0.005,
  0.002) and with those of tvnet-8-2-15-texture's pairs (0.02, 0.005);
* EPE on the stereo motorcycle pair (motions up to 60 px);
* speed of ``transform`` on 8 held-out pairs given as ``(8, 2, 240, 320)``, eager and compiled,
  with one torch thread and with one per core, against the reference's pairs per second (NumPy,
  one core), timed in interleaved rounds (the reference, then each model and path, 7 rounds
  after a warm-up call of each, which compiles): medians of the rounds, and of each round's
  speed-up.

Usage (one command per entry, deterministic for a seed; run it on an otherwise idle machine)::

    python benchmarks/train_pretrained.py [--name tvnet-8-2-15-texture] [--seed 0]

(about 5 to 8 minutes of training on a 2-core CPU, and as much again to measure).

``--quick`` trains a few steps on small frames and writes nothing into the package or
``benchmarks/results/`` (a check that the script runs); ``--evaluate-only`` measures the file
already written. Writes ``sktvnet/weights/<name>.safetensors`` and
``benchmarks/results/pretrained_<name>.md`` and ``.json`` for every entry, stamped by
``_common.write_results``; the JSON's ``metrics`` are the registry's
(``WEIGHTS[name].metrics``, which a test compares with them).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from sktvnet import TVNetFlow, tvl1_optical_flow
from sktvnet._validation import check_texture
from sktvnet.datasets import load_stereo_motorcycle, make_flow_pairs
from sktvnet.metrics import endpoint_error
from sktvnet.pretrained import RECOMMENDED, WEIGHTS, load_weights, save_weights

from _common import cpu_name, divert_results, write_results

# Brightness change and noise of every training pair of tvnet-8-2-15-texture, and of the held-out
# pairs that measure every entry under such changes (make_flow_pairs' parameters). That entry
# solves on the texture of each level (texture=True), which a brightness change barely touches;
# on the frames, a 2% change drove the held-out EPE of exact warps up by 2.6x in a trial
# (0.0258 -> 0.0679 px): TVNet learned to ignore brightness at the cost of precision.
REALISM = {"brightness": 0.02, "noise": 0.005}
# Milder changes, of the order of an automatic exposure's between two frames: a third held-out set.
MILD = {"brightness": 0.005, "noise": 0.002}
# Rounds of the interleaved timing of the reference and the models, and the pause before each
# timed call.
ROUNDS = 7
PAUSE_SECONDS = 0.5
RECIPE = {
    "train": "filters+steps", "loss": "epe", "learning_rate": 0.02, "max_iter": 300, "batch_size": 2,
    "validation_fraction": 0.2,
    # (pairs, frame size, largest displacement in px): small motions at the size the model
    # serves, larger ones on larger frames for the coarsest levels.
    "pairs": [(56, (240, 320), 4.0), (8, (384, 512), 12.0)],
    **REALISM,
}
RECIPES = {
    # Half of every group exact, half with mild brightness changes and noise (``exact_fraction``):
    # trained on changes alone, the finest level, on the frames, traded its precision on exact
    # warps for robustness (0.0233 -> 0.0334 px with changes of 0.005 and noise 0.002 in every
    # pair, 0.0386 with 0.02 and 0.005, in trials), which the validation pairs, all changed,
    # rewarded.
    "tvnet-8-2-15-coarse-texture": {**RECIPE, **MILD, "exact_fraction": 0.5},
    "tvnet-8-2-15-texture": RECIPE,
    # On the frames, brightness constancy is what TV-L1 reads motion from: exact warps.
    "tvnet-8-2-15": {**RECIPE, "brightness": 0.0, "noise": 0.0},
}
QUICK_PAIRS = [(6, (60, 80), 2.0), (2, (96, 128), 4.0)]


class _IpolPresmoothing(TVNetFlow):
    """TVNetFlow whose pre-smoothing keeps IPOL's sigma 0.8 when the filters learn: the bundled
    entries were trained before it could learn, and on their eight levels it learns nothing
    (trained structures of three levels and more push it below 0.8, where its range ends)."""

    def _make_network(self):
        network = super()._make_network()
        network.log_presmoothing.requires_grad_(False)
        return network


def training_pairs(recipe: dict, seed: int) -> tuple[list, list]:
    """The recipe's pairs, group by group. With ``exact_fraction``, that share of every group is
    drawn first as exact warps (seeds ``seed + k``), then the rest with the recipe's brightness
    changes and noise (seeds ``seed + 10 + k``)."""
    fraction = recipe.get("exact_fraction", 0.0)
    draws = [(seed, fraction, 0.0, 0.0), (seed + 10, 1.0 - fraction, recipe["brightness"],
                                          recipe["noise"])] if fraction else [
        (seed, 1.0, recipe["brightness"], recipe["noise"])]
    X, y = [], []
    for first_seed, share, brightness, noise in draws:
        for k, (n, size, displacement) in enumerate(recipe["pairs"]):
            frames, flows = make_flow_pairs(round(n * share), size=size,
                                            max_displacement=displacement, images="train",
                                            brightness=brightness, noise=noise,
                                            random_state=first_seed + k)
            X += list(frames)
            y += list(flows)
    return X, y


def held_out_epe(flows: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([endpoint_error(f, t) for f, t in zip(flows, y)]))


def references(config: dict) -> dict:
    """The NumPy reference at its defaults (IPOL's structure and stopping rule), on the frames
    and, when the model computes flow on their texture, on the same texture (a like-for-like
    comparison: the texture is no part of TV-L1's method)."""
    solvers = {"reference": tvl1_optical_flow}
    if any(check_texture(config.get("texture", False))):
        solvers["reference on texture"] = partial(tvl1_optical_flow, texture=config["texture"])
    return solvers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", choices=sorted(RECIPES), default=RECOMMENDED,
                        help=f"the bundled entry to train (default: {RECOMMENDED})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a few steps on small frames; writes nothing into the package")
    parser.add_argument("--output", type=Path, default=None,
                        help="weights file (default: the package's, or a temporary one with --quick)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="measure the weights file already written, without training")
    args = parser.parse_args()
    if args.quick:
        divert_results()
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    entry = WEIGHTS[args.name]
    recipe = dict(RECIPES[args.name],
                  **({"pairs": QUICK_PAIRS, "max_iter": 4} if args.quick else {}))
    test_size = (60, 80) if args.quick else (240, 320)
    output = args.output or (Path(os.environ.get("TMPDIR", "/tmp")) / entry.file if args.quick
                             else entry.path)
    X_train, y_train = training_pairs(recipe, args.seed)
    if args.evaluate_only:
        _, config = load_weights(output)
        metadata = config["metadata"]
        estimator = TVNetFlow(**entry.config, weights=output).fit(X_train[:1])
    else:
        estimator = _IpolPresmoothing(
            **entry.config, weights=None, crop_size=None, random_state=args.seed, verbose=1,
            **{k: recipe[k] for k in ("train", "loss", "learning_rate", "max_iter", "batch_size",
                                      "validation_fraction")})
        estimator.fit(X_train, y_train)
        estimator.set_params(verbose=0)
        metadata = {
            "name": args.name,
            "command": "python benchmarks/train_pretrained.py"
                       + (f" --name {args.name}" if args.name != RECOMMENDED else "")
                       + (f" --seed {args.seed}" if args.seed else "")
                       + (" --quick" if args.quick else ""),
            "recipe": {**recipe, "seed": args.seed, "images": "train"},
            "train_seconds": time.perf_counter() - started,
            "loss_curve": estimator.loss_curve_,
            "validation_scores": estimator.validation_scores_,
        }
        # Saved now, and again with the measurements below: an hour of training is not lost to
        # a failure while measuring.
        output.parent.mkdir(parents=True, exist_ok=True)
        save_weights(estimator, output, metadata=metadata)

    # ---------------------------------------------------------------- measurements
    models = {"frozen": TVNetFlow(**entry.config, weights=None).fit(X_train[:1]),
              "trained": estimator}
    tests = {
        "exact": make_flow_pairs(8, size=test_size, images="test", random_state=args.seed + 100),
        "realistic": make_flow_pairs(8, size=test_size, images="test",
                                     random_state=args.seed + 101, **REALISM),
        "mild": make_flow_pairs(8, size=test_size, images="test", random_state=args.seed + 102,
                                **MILD),
    }
    results: dict = {f"epe_held_out_{kind}": {} for kind in tests}
    for kind, (X, y) in tests.items():
        for label, solve in references(entry.config).items():
            results[f"epe_held_out_{kind}"][label] = held_out_epe(
                np.stack([solve(a, b) for a, b in X]), y[:, 0])
        for label, model in models.items():
            model.set_params(batch_size=8)
            results[f"epe_held_out_{kind}"][label] = held_out_epe(model.transform(X)[:, 0],
                                                                  y[:, 0])

    image0, image1, flow, valid = load_stereo_motorcycle()
    results["epe_motorcycle"] = {
        label: float(endpoint_error(solve(image0, image1), flow, mask=valid))
        for label, solve in references(entry.config).items()}
    pair = np.stack([image0, image1])[None]
    for label, model in models.items():
        results["epe_motorcycle"][label] = float(
            endpoint_error(model.transform(pair)[0, 0], flow, mask=valid))

    # Speed on the exact pairs, interleaved: each round times the reference once and then every
    # model and path once (one torch thread, then all of the machine's), so that all of them
    # meet the same machine: the CPU's speed drifts by 20% and more from minute to minute on a
    # shared host. After a warm-up call of each (which compiles), ROUNDS rounds; pairs/s are
    # medians, speed-ups medians of each round's ratio to the reference's. The NumPy reference
    # runs on one core.
    X = tests["exact"][0]
    reference = references(entry.config)["reference"]
    threads = sorted({1, os.cpu_count() or 1})
    runs = {"reference": lambda: [reference(a, b) for a, b in X]}
    for n_threads in threads:
        for label, model in models.items():
            for path, fused in (("eager", False), ("compiled", True)):
                runs[f"{label} {path} {n_threads}"] = partial(
                    _transform_with, model, X, fused=fused, n_threads=n_threads)
    for run in runs.values():
        run()
    seconds: dict = {key: [] for key in runs}
    for _ in range(ROUNDS):
        for key, run in runs.items():
            # A pause first: torch's worker threads spin a while after a parallel call and
            # would slow whatever runs next (the reference after the two-thread runs).
            time.sleep(PAUSE_SECONDS)
            start = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - start)
    for model in models.values():
        model.model_.fused = "auto"
    speeds = {key: len(X) / float(np.median(times)) for key, times in seconds.items()}
    results["pairs_per_s"] = speeds
    results["speedup_vs_reference"] = {
        f"{path} {n}": float(np.median(np.divide(seconds["reference"],
                                                 seconds[f"trained {path} {n}"])))
        for path in ("eager", "compiled") for n in threads}

    metrics = {"epe_held_out_240x320_exact": round(results["epe_held_out_exact"]["trained"], 4),
               "epe_held_out_240x320_realistic": round(
                   results["epe_held_out_realistic"]["trained"], 4),
               "epe_held_out_240x320_mild": round(results["epe_held_out_mild"]["trained"], 4),
               "epe_motorcycle": round(results["epe_motorcycle"]["trained"], 3),
               "speedup_vs_reference": round(
                   results["speedup_vs_reference"][f"compiled {threads[-1]}"], 1)}
    if not args.evaluate_only:
        save_weights(estimator, output, metadata={**metadata, "metrics": metrics})

    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads_measured": threads, "load_average": os.getloadavg()}
    report = {"name": args.name, "rounds": ROUNDS, "structure": entry.structure,
              "config": entry.config,
              "metadata": metadata, "metrics": metrics, "machine": machine,
              "results": results, "weights_file": str(output),
              "weights_bytes": output.stat().st_size}
    text = render(report, test_size)
    print(text)
    # "metrics" carries the registry's key names: WEIGHTS[name].metrics is checked against it.
    write_results(f"pretrained_{args.name}", text, report)


def _transform_with(model, X, *, fused, n_threads):
    torch.set_num_threads(n_threads)
    model.model_.fused = fused
    return model.transform(X)


def render(report: dict, test_size) -> str:
    results, metadata, machine = report["results"], report["metadata"], report["machine"]
    size = f"{test_size[0]}x{test_size[1]}"
    recipe = metadata["recipe"]
    columns = list(results["epe_motorcycle"])
    names = {"frozen": f"frozen {report['structure']}", "trained": "trained"}
    rows = [(f"held-out EPE at {size}, exact warps (8 pairs, px)", "epe_held_out_exact",
             "{:.4f}"),
            (f"held-out EPE at {size}, brightness {MILD['brightness']} and noise "
             f"{MILD['noise']} (8 pairs, px)", "epe_held_out_mild", "{:.4f}"),
            (f"held-out EPE at {size}, brightness {REALISM['brightness']} and noise "
             f"{REALISM['noise']} (8 pairs, px)", "epe_held_out_realistic", "{:.4f}"),
            ("motorcycle EPE (px)", "epe_motorcycle", "{:.3f}")]
    speeds = results["pairs_per_s"]
    lines = [f"Pretrained weights `{report['name']}` ({report['structure']}, zoom_factor "
             f"{report['config']['zoom_factor']}, texture={report['config'].get('texture')}, "
             f"train={recipe['train']}, training pairs with brightness changes up to "
             f"{recipe['brightness']} and noise {recipe['noise']})", "",
             f"Command: `{metadata['command']}`; trained in "
             f"{metadata['train_seconds'] / 60:.1f} min ({recipe['max_iter']} steps of "
             f"{recipe['batch_size']} pairs) on {machine['cpu']}, {machine['cpu_count']} cores; "
             f"load average at the end {', '.join(f'{x:.1f}' for x in machine['load_average'])}."
             " The reference runs at its defaults (IPOL's structure, stopping rule 0.01)"
             + (f"; 'reference on texture' is the same with the model's "
                f"texture={report['config'].get('texture')}, the levels as the model sees them."
                if "reference on texture" in columns else "."), "",
             "| measure | " + " | ".join(names.get(c, c) for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for label, key, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(results[key][c])
                                                  for c in columns) + " |")
    lines.append(f"| pairs/s, (8, 2, {size}), NumPy, one core | {speeds['reference']:.2f} |"
                 + " |" * (len(columns) - 1))
    threads = sorted({int(k.split()[-1]) for k in speeds if k.startswith("trained")})
    for n in threads:
        for path in ("eager", "compiled"):
            cells = [f"{speeds[f'{c} {path} {n}']:.2f}" if f"{c} {path} {n}" in speeds else ""
                     for c in columns]
            lines.append(f"| pairs/s, (8, 2, {size}), {path}"
                         + (" (warm-up excluded)" if path == "compiled" else "")
                         + f", {n} torch thread{'s' if n > 1 else ''} | " + " | ".join(cells)
                         + " |")
    gains = results["speedup_vs_reference"]
    lines += ["", f"Trained transform speed against the reference's (the median of "
              f"{report.get('rounds', ROUNDS)} interleaved rounds' ratios): "
              + ", ".join(f"{gain:.1f}x {key.split()[0]} with {key.split()[1]} thread(s)"
                          for key, gain in gains.items()) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
