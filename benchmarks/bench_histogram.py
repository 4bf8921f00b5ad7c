"""Motion features for any scikit-learn estimator: TVNetFlow + FlowHistogram + LogisticRegression
beside the end-to-end TVNetActionClassifier and its frame-difference baseline (issue #12).

All three learn the classes of ``sktvnet.datasets.make_motion_videos`` (the classes differ only
by motion) from the same training videos and are scored on the same held-out videos (one
stratified split, one run each):

1. ``make_pipeline(TVNetFlow(), FlowHistogram(), LogisticRegression(max_iter=1000))``: frozen
   TVNet-1-1-50 (TV-L1) flows summarised by histograms of optical flow and flow statistics over a
   2x2 grid, then a linear model;
2. ``TVNetActionClassifier()``: defaults, TVNet and a CNN head trained end to end;
3. ``TVNetActionClassifier(motion="difference")``: the same head on frame differences (no flow).

The classifiers are given only their defaults and ``motion`` (plus ``random_state`` when they have
one), so that the script survives renames of their other parameters.

Usage::

    python benchmarks/bench_histogram.py [--train 120] [--test 600] [--classes 8] [--size 48]
        [--seed 0] [--threads N] [--quick] [--output NAME]

``--quick`` (32 training and 32 held-out videos of 32x32 frames) runs in under a minute: a smoke
test of the script, not a result, whose files go to a temporary folder. Prints a markdown table
and writes ``benchmarks/results/histogram.md`` and ``histogram.json`` (or ``--output``), stamped
by ``_common.write_results``. Times are wall-clock
seconds on the machine that runs it; its CPU (``lscpu``) and load average are recorded.
"""

from __future__ import annotations

import argparse
import os
import platform

# Training never compiles (TVNet needs a gradient); at this frame size compiling the frozen
# TVNet's iterations costs more than it saves.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sktvnet import FlowHistogram, TVNetActionClassifier, TVNetFlow  # noqa: E402
from sktvnet.datasets import make_motion_videos  # noqa: E402

from _common import cpu_name, divert_results, fit_and_score, write_results  # noqa: E402


def seeded(estimator, seed: int):
    """Set ``random_state`` on the estimator and its steps that have one."""
    params = estimator.get_params()
    return estimator.set_params(**{k: seed for k in params
                                   if k == "random_state" or k.endswith("__random_state")})


def methods(seed: int) -> dict:
    return {
        "TVNetFlow + FlowHistogram + LogisticRegression": seeded(make_pipeline(
            TVNetFlow(), FlowHistogram(), LogisticRegression(max_iter=1000)), seed),
        "TVNetActionClassifier (defaults, end to end)": seeded(TVNetActionClassifier(), seed),
        "TVNetActionClassifier(motion=\"difference\")": seeded(
            TVNetActionClassifier(motion="difference"), seed),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=120, help="training videos")
    parser.add_argument("--test", type=int, default=600, help="held-out videos")
    parser.add_argument("--classes", type=int, default=8, help="motion classes (2 to 12)")
    parser.add_argument("--size", type=int, default=48, help="frame side (the dataset's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, split and models")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true",
                        help="32 + 32 videos of 32x32: checks that the script works (< 1 minute)")
    parser.add_argument("--output", default=None,
                        help="name of the result files in benchmarks/results (.md, .json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.train, args.test, args.size = 32, 32, 32
    if args.quick:
        divert_results()
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = make_motion_videos(args.train + args.test, n_classes=args.classes,
                              frame_shape=(args.size, args.size), random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=args.train, test_size=args.test, stratify=y, random_state=args.seed)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "python": platform.python_version(),
               "SKTVNET_COMPILE": os.environ.get("SKTVNET_COMPILE")}
    rows = []
    for name, estimator in methods(args.seed).items():
        result = fit_and_score(estimator, X_train, y_train, X_test, y_test)
        rows.append({"method": name, **result})

    shape = X.shape
    header = (f"Held-out accuracy on `make_motion_videos` ({args.classes} classes, {shape[1]} "
              f"frames of {shape[2]}x{shape[3]}; the classes differ only by motion): "
              f"{args.train} training and {args.test} held-out videos, one stratified split "
              f"(seed {args.seed}), one run each{' (--quick: a smoke test, not a result)' if args.quick else ''}. "
              f"{machine['cpu']}, {machine['cpu_count']} cores, {machine['torch_threads']} torch "
              f"threads, SKTVNET_COMPILE={machine['SKTVNET_COMPILE']}. Load: the 1-minute load "
              "average around each fit (other processes).")
    table = ["| method | held-out accuracy (%) | fit time (s) | predict time (s) | load |",
             "|---|---|---|---|---|"]
    table += [f"| {r['method']} | {100 * r['accuracy']:.1f} | {r['fit_time_s']:.1f} | "
              f"{r['predict_time_s']:.1f} | {r['load']:.1f} |" for r in rows]
    command = "python benchmarks/bench_histogram.py " + " ".join(
        (["--quick"] if args.quick else
         [f"--train {args.train}", f"--test {args.test}", f"--size {args.size}"])
        + [f"--classes {args.classes}", f"--seed {args.seed}"])
    text = "\n".join([header, "", *table, "", f"Command: `{command}`", ""])
    print(text)
    write_results(args.output or "histogram", text,
                  {"args": vars(args), "machine": machine, "rows": rows}, command=command)


if __name__ == "__main__":
    main()
