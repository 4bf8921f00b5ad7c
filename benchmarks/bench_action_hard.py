"""The paper's Table 3 (Fan et al. 2018) on subtle motion: action recognition on
``make_motion_videos(difficulty="hard")`` (issue #14), where frame differences alone fail.

The hard preset: 8 classes (translations of ~0.6 px/frame in four directions, rotation of ~4
degrees/frame either way, zoom in and out by ~4%/frame) of a 24 px textured disc over a real-image
background, a random camera pan up to 0.5 px/frame, Gaussian noise (sigma 0.005) and 1%
brightness flicker. Each method learns from ``--train`` videos and is scored on ``--test`` other
videos (another ``random_state``), over ``--seeds`` seeds: seed ``s`` draws its own training set
(``random_state=10 + s``) and seeds the model (``random_state=s``); the held-out set is the same
for every seed. Mean ± std over the seeds:

1. ``TVNetActionClassifier()``: end to end with the loss ``Lc + 0.1 Lf``;
2. ``TVNetActionClassifier(flow_loss_weight=0)``: end to end without Lf;
3. ``TVNetActionClassifier(train=None)``: frozen TVNet (TV-L1 features);
4. ``make_pipeline(TVNetFlow(), FlowHistogram(), LogisticRegression(max_iter=1000))``: frozen
   TVNet-1-1-50 flows summarised by flow histograms, a linear model (deterministic: the seeds
   differ only by their training sets);
5. ``TVNetActionClassifier(motion="difference")``: the same head on frame differences.

Then how the defaults were reached, over the same seeds: the classifier with the defaults it
had before issue #14 (TVNet-1-1-10, raw frames and flows), then adding, one at a time,
``normalize_brightness=True``, ``subtract_camera_motion=True`` and ``n_scales=2`` (the defaults,
row 1 above). Then the default classifier on the easy preset (``make_motion_videos()``, 120
training videos), as a check that it still solves it. The difference end to end minus frozen is
given per seed (the same training set and seed), beside the spread of each.

Usage::

    python benchmarks/bench_action_hard.py [--train 160] [--test 320] [--seeds 3]
        [--threads N] [--quick] [--output NAME]

``--quick`` (2 seeds of 24 training and 24 held-out videos of 32x32, 2 epochs) runs in about a
minute: a smoke test of the script, not a result, whose files go to a temporary folder. Prints a
markdown table and writes ``benchmarks/results/action_hard.md`` and ``action_hard.json`` (or
``--output``), stamped by ``_common.write_results``. Times are wall-clock seconds on the machine that runs it; its CPU
(``lscpu``), torch threads and load average are recorded.
"""

from __future__ import annotations

import argparse
import os
import platform

# Training never compiles (TVNet needs a gradient); at this frame size compiling the frozen
# TVNet's iterations costs more than it saves.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sktvnet import FlowHistogram, TVNetActionClassifier, TVNetFlow  # noqa: E402
from sktvnet.datasets import make_motion_videos  # noqa: E402

from _common import cpu_name, divert_results, fit_and_score, write_results  # noqa: E402

END_TO_END = "end to end, L = Lc + 0.1 Lf (defaults)"
FROZEN = "frozen TVNet (train=None)"
# The defaults before issue #14, then each change added in turn (the last is the defaults).
STEPS = {
    "defaults before #14: TVNet-1-1-10, raw frames and flows": dict(
        normalize_brightness=False, subtract_camera_motion=False, n_scales=1),
    "+ normalize_brightness=True": dict(subtract_camera_motion=False, n_scales=1),
    "+ subtract_camera_motion=True": dict(n_scales=1),
}


def methods(seed: int, epochs: dict) -> dict:
    """The methods of the table, seeded; ``epochs`` is ``{}`` or ``--quick``'s few epochs."""

    def classifier(**params):
        return TVNetActionClassifier(**params, **epochs, random_state=seed)

    return {
        END_TO_END: classifier(),
        "end to end, no Lf (flow_loss_weight=0)": classifier(flow_loss_weight=0.0),
        FROZEN: classifier(train=None),
        "TVNetFlow + FlowHistogram + LogisticRegression": make_pipeline(
            TVNetFlow(), FlowHistogram(), LogisticRegression(max_iter=1000)),
        "frame differences (motion=\"difference\")": classifier(motion="difference"),
    }


def mean_std(values, scale=1.0, digits=1) -> str:
    values = np.asarray(values, dtype=float) * scale
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=160, help="training videos per seed")
    parser.add_argument("--test", type=int, default=320, help="held-out videos")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (training set and model)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds of 24 + 24 videos of 32x32, 2 epochs: checks that the "
                             "script works (about a minute)")
    parser.add_argument("--output", default=None,
                        help="name of the result files in benchmarks/results (.md, .json)")
    args = parser.parse_args(argv)
    shape = (48, 48)
    if args.quick:
        args.train, args.test, args.seeds, shape = 24, 24, 2, (32, 32)
    if args.quick:
        divert_results()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "python": platform.python_version(),
               "SKTVNET_COMPILE": os.environ.get("SKTVNET_COMPILE")}
    print(machine, flush=True)

    X_test, y_test = make_motion_videos(args.test, difficulty="hard", shape=shape,
                                        random_state=1)
    # --quick trains for 2 epochs.
    epochs = dict(max_iter=2) if args.quick else {}
    results: dict[str, list] = {}
    steps: dict[str, list] = {}
    for seed in range(args.seeds):
        X, y = make_motion_videos(args.train, difficulty="hard", shape=shape,
                                  random_state=10 + seed)
        for name, estimator in methods(seed, epochs).items():
            result = fit_and_score(estimator, X, y, X_test, y_test)
            results.setdefault(name, []).append(result)
            print(f"seed {seed}, {name}: {result}", flush=True)
        for name, params in STEPS.items():
            estimator = TVNetActionClassifier(**params, **epochs, random_state=seed)
            result = fit_and_score(estimator, X, y, X_test, y_test)
            steps.setdefault(name, []).append(result)
            print(f"seed {seed}, {name}: {result}", flush=True)

    X, y = make_motion_videos(32 if args.quick else 120, shape=shape, random_state=0)
    X_easy, y_easy = make_motion_videos(args.test, shape=shape, random_state=1)
    easy = fit_and_score(TVNetActionClassifier(**epochs, random_state=0), X, y, X_easy, y_easy)
    print(f"easy preset, defaults: {easy}", flush=True)

    gaps = [100 * (e["accuracy"] - f["accuracy"])
            for e, f in zip(results[END_TO_END], results[FROZEN])]
    quick = " (--quick: a smoke test, not a result)" if args.quick else ""
    lines = [
        f"Held-out accuracy on `make_motion_videos(difficulty=\"hard\")` (8 classes, 6 frames of "
        f"{shape[0]}x{shape[1]}; the classes differ only by motion, chance 12.5%): "
        f"{args.train} training videos per seed, {args.test} held-out videos, mean ± std over "
        f"{args.seeds} seeds (training set and model){quick}. Classifier defaults (TVNet-"
        f"{TVNetActionClassifier().n_scales}-{TVNetActionClassifier().n_warps}-"
        f"{TVNetActionClassifier().n_iters}, frames standardised, camera motion subtracted). "
        f"{machine['cpu']}, {machine['cpu_count']} cores, {machine['torch_threads']} torch "
        f"thread(s), SKTVNET_COMPILE={machine['SKTVNET_COMPILE']}. Load: the largest 1-minute "
        "load average around the fits (other processes share the machine).",
        "",
        "| method | held-out accuracy (%) | per seed | fit time (s) | load |",
        "|---|---|---|---|---|",
    ]

    def rows_of(table: dict) -> list[str]:
        out = []
        for name, rows in table.items():
            per_seed = " / ".join(f"{100 * r['accuracy']:.1f}" for r in rows)
            out.append(f"| {name} | {mean_std([r['accuracy'] for r in rows], 100)} | "
                       f"{per_seed} | {mean_std([r['fit_time_s'] for r in rows], digits=0)} | "
                       f"{max(r['load'] for r in rows):.1f} |")
        return out

    lines += rows_of(results)
    lines += [
        "",
        f"End to end minus frozen TVNet, per seed: {' / '.join(f'{g:+.1f}' for g in gaps)} "
        f"points (mean {np.mean(gaps):+.1f}, std {np.std(gaps):.1f}).",
        "",
        "How the defaults were reached (end to end with Lf, same seeds and data; each row adds "
        "one change to the previous one):",
        "",
        "| classifier | held-out accuracy (%) | per seed | fit time (s) | load |",
        "|---|---|---|---|---|",
        *rows_of({**steps, "+ n_scales=2 (TVNet-2-1-10): the defaults": results[END_TO_END]}),
        "",
        f"Easy preset (`make_motion_videos()`, {len(X)} training and {args.test} held-out "
        f"videos), `TVNetActionClassifier(random_state=0)`: {100 * easy['accuracy']:.1f}% in "
        f"{easy['fit_time_s']:.0f} s.",
        "",
        "Command: `python benchmarks/bench_action_hard.py "
        + ("--quick" if args.quick else f"--train {args.train} --test {args.test} "
           f"--seeds {args.seeds}") + (f" --threads {args.threads}" if args.threads else "") + "`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_results(args.output or "action_hard", text,
                  {"args": vars(args), "machine": machine, "hard": results, "steps": steps,
                   "easy_defaults": easy, "end_to_end_minus_frozen_points": gaps})


if __name__ == "__main__":
    main()
