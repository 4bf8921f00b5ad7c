"""Action recognition with TVNet trained end to end (Fan et al. 2018, Section 5), on videos whose
class is a motion pattern (``sktvnet.datasets.make_motion_videos``), held out from training.

1. Budget of the defaults: ``TVNetActionClassifier()`` fitted on 120 videos of the default size
   (8 classes, 6 frames, 48x48); wall time of ``fit``, accuracy on other videos.
2. Accuracy and time at a larger size: ``--train`` videos of ``--classes`` motions (48x48, 6
   frames), the default classifier (end to end: TVNet trained with the head, loss
   ``Lc + 0.1 Lf``); held-out accuracy on ``--test`` other videos and wall time of ``fit``.
3. The paper's ablation on the same data, each over ``--seeds`` model seeds: end to end with Lf,
   end to end without Lf (``flow_loss_weight=0``), end to end with TVNet's learning rates 1/255 of
   the default flow stage's (the paper's ratio to the head's), frozen TVNet
   (``flow__train=None``: TV-L1 features) and the same head on raw frame differences (``motion="difference"``, no flow). Also
   the TV-L1 energy Lf (Eq. 1) of each model's flows on the held-out clips (how flow-like they
   stay) and how far TVNet's parameters moved from their TV-L1 initialisation.

Usage::

    python benchmarks/bench_action.py [--train 600] [--test 600] [--classes 12] [--seeds 3]
        [--threads N] [--output action]

Prints markdown tables and writes ``benchmarks/results/action.md`` and ``action.json`` (named
after ``--output``), stamped by ``_common.write_results``. Times are wall-clock seconds on the machine that runs it; the load average
(other processes) is recorded with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

# Training never compiles (TVNet needs a gradient); prediction would compile TVNet's iterations,
# which costs more than it saves at this size.
os.environ.setdefault("SKTVNET_COMPILE", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sktvnet import TVNetActionClassifier, TVNetFlow  # noqa: E402
from sktvnet.datasets import make_motion_videos  # noqa: E402
from sktvnet.estimators._action import DEFAULT_FLOW  # noqa: E402
from sktvnet.losses import tvl1_energy  # noqa: E402

from _common import cpu_name, write_results  # noqa: E402

VARIANTS = {
    "end to end, L = Lc + 0.1 Lf": dict(),
    "end to end, no Lf": dict(flow_loss_weight=0.0),
    "end to end, TVNet rates / 255 (paper's ratio)": dict(flow=TVNetFlow(
        **{**DEFAULT_FLOW, "learning_rate": DEFAULT_FLOW["learning_rate"] / 255})),
    "frozen TVNet (TV-L1)": dict(flow=TVNetFlow(**{**DEFAULT_FLOW, "train": None})),
    "frame differences (no flow)": dict(motion="difference"),
}


def load() -> float:
    return os.getloadavg()[0]


def heldout_energy(clf, X) -> float | None:
    """Mean TV-L1 energy Lf of the classifier's TVNet flows on the first clip of each video."""
    tvnet = clf.model_.tvnet
    if tvnet is None:
        return None
    frames = torch.from_numpy(np.ascontiguousarray(X[:, :clf.n_frames], dtype=np.float32))
    n, t, h, w = frames.shape
    x0 = frames[:, :-1].reshape(-1, 1, h, w)
    x1 = frames[:, 1:].reshape(-1, 1, h, w)
    with torch.inference_mode():
        return float(tvl1_energy(tvnet(x0, x1), x0, x1, lmbda=clf.config_["lmbda"],
                                   eps=clf.config_["eps"]))


def tvnet_drift(clf) -> float | None:
    """Largest absolute change of a TVNet parameter from its TV-L1 initialisation."""
    tvnet = clf.model_.tvnet
    if tvnet is None:
        return None
    initial = dict(clf._make_network().tvnet.named_parameters())
    with torch.no_grad():
        return max(float((p - initial[name]).abs().max()) for name, p in tvnet.named_parameters())


def run(params, X, y, X_test, y_test):
    clf = TVNetActionClassifier(**params)
    before = load()
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    return {
        "fit_seconds": seconds,
        "load_before": before,
        "load_after": load(),
        "accuracy": float(clf.score(X_test, y_test)),
        "train_accuracy": float(clf.score(X, y)),
        "heldout_lf": heldout_energy(clf, X_test),
        "tvnet_drift": tvnet_drift(clf),
        "epochs": clf.n_iter_,
        "final_loss": clf.loss_curve_[-1],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=600, help="training videos (part 2 and 3)")
    parser.add_argument("--test", type=int, default=600, help="held-out videos")
    parser.add_argument("--classes", type=int, default=12, help="motion classes (part 2 and 3)")
    parser.add_argument("--seeds", type=int, default=3, help="model seeds per ablation variant")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice)")
    parser.add_argument("--output", default="action",
                        help="name of the result files in benchmarks/results (.md, .json)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "torch": torch.__version__, "python": platform.python_version(),
               "compile": os.environ["SKTVNET_COMPILE"]}
    print(machine, flush=True)

    # 1. The defaults' budget: 120 videos of the default size.
    X, y = make_motion_videos(120, random_state=0)
    X_test, y_test = make_motion_videos(args.test, random_state=1)
    budget = run(dict(random_state=0), X, y, X_test, y_test)
    print("defaults, 120 videos:", budget, flush=True)

    # 2 and 3. The larger run and the ablation, on one training and one held-out set.
    X, y = make_motion_videos(args.train, args.classes, random_state=2)
    X_test, y_test = make_motion_videos(args.test, args.classes, random_state=3)
    ablation = {}
    for name, params in VARIANTS.items():
        ablation[name] = [run(dict(params, random_state=seed), X, y, X_test, y_test)
                          for seed in range(args.seeds)]
        for seed, result in enumerate(ablation[name]):
            print(f"{name}, seed {seed}:", result, flush=True)

    def mean_std(rows, key, scale=1.0, digits=1):
        values = np.array([r[key] for r in rows], dtype=float) * scale
        return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"

    main_rows = ablation["end to end, L = Lc + 0.1 Lf"]
    structure = "TVNet-{n_scales}-1-{n_iters}".format(**DEFAULT_FLOW)
    lines = [
        f"Held-out accuracy on `make_motion_videos` (48x48, 6 frames; the classes differ only by "
        f"motion), `TVNetActionClassifier` defaults ({structure}, ResNet-style head of width 16, "
        f"25 epochs, batch 16, Adam 3e-3, TVNet's step sizes {DEFAULT_FLOW['learning_rate']}); {machine['cpu']}, {machine['cpu_count']} cores, "
        f"{machine['torch_threads']} torch threads. Load: the 1-minute load average around each "
        "fit (other processes).",
        "",
        "| run | classes | training videos | held-out videos | held-out accuracy (%) | "
        "fit time (s) | load |",
        "|---|---|---|---|---|---|---|",
        f"| defaults, budget of 3 min | 8 | 120 | {args.test} | {100 * budget['accuracy']:.1f} | "
        f"{budget['fit_seconds']:.0f} | {budget['load_before']:.1f} |",
        f"| defaults, end to end (mean ± std over {args.seeds} seeds) | {args.classes} | "
        f"{args.train} | {args.test} | {mean_std(main_rows, 'accuracy', 100)} | "
        f"{mean_std(main_rows, 'fit_seconds', digits=0)} | "
        f"{np.mean([r['load_before'] for r in main_rows]):.1f} |",
        "",
        f"Ablation (the shape of the paper's: end to end >= no Lf >= frozen), same data, mean ± "
        f"std over {args.seeds} seeds; Lf is the TV-L1 energy (Eq. 1) of the model's flows on the "
        "held-out clips (lower: closer to a TV-L1 minimum); TVNet drift is the largest change of a "
        "TVNet parameter (u0 in pixels, filter taps) from its TV-L1 initialisation.",
        "",
        "| motion input | held-out accuracy (%) | per seed | training accuracy (%) | "
        "held-out Lf | TVNet drift | fit time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in ablation.items():
        per_seed = " / ".join(f"{100 * r['accuracy']:.1f}" for r in rows)
        flow = rows[0]["heldout_lf"] is not None
        energy = mean_std(rows, "heldout_lf", digits=4) if flow else "-"
        drift = mean_std(rows, "tvnet_drift", digits=4) if flow else "-"
        lines.append(
            f"| {name} | {mean_std(rows, 'accuracy', 100)} | {per_seed} | "
            f"{mean_std(rows, 'train_accuracy', 100)} | {energy} | {drift} | "
            f"{mean_std(rows, 'fit_seconds', digits=0)} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    write_results(args.output, table, {"args": vars(args), "machine": machine,
                                       "budget_120_videos": budget, "ablation": ablation})


if __name__ == "__main__":
    main()
