"""Precision against robustness to brightness: held-out EPE against the weight of ``texture``.

``texture=w`` solves on every pyramid level minus ``w`` times its Gaussian blur (its structure):
0 is TV-L1 on the levels, 1 the full texture. An offset between the frames survives as ``1 - w``
of itself and a gain acts on ``1 - w`` of the structure, so the larger ``w`` the less a
brightness change reads as motion; but the texture holds less of the image, and on pairs whose
brightness is exact the flow loses precision. One share per level, finest first, escapes the
trade-off in part: the coarse levels find the motion on textures, robust to brightness, and the
finest refines it on the frames, precise. This script draws all that for the bundled entries'
structure (TVNet-8-2-15, levels 0.6 apart, bicubic warps), frozen and without the brightness
match of the recommended entry (one row has it, on the frames), beside the NumPy reference at
its defaults with the same shares, and the bundled entries, on held-out pairs of
``make_flow_pairs(images="test")`` at 240x320:

* exact warps (seed 100, as ``benchmarks/train_pretrained.py``);
* mild changes: brightness 0.005 and noise 0.002 (seed 102);
* the training's changes: brightness 0.02 and noise 0.005 (seed 101, as
  ``train_pretrained.py``);

and the stereo motorcycle pair (two exposures).

Usage::

    python benchmarks/bench_texture.py

Prints a markdown table and writes ``benchmarks/results/texture.md`` and ``.json`` (stamped by
``_common.write_results``). Only EPEs:
nothing is timed, so other work on the machine does not change the figures (about 8 minutes on
two cores, most of it the reference's).
"""

from __future__ import annotations

import argparse
import ast

import numpy as np

from sktvnet import TVNetFlow, load_pretrained, tvl1_optical_flow
from sktvnet.datasets import load_stereo_motorcycle, make_flow_pairs
from sktvnet.metrics import endpoint_error
from sktvnet.pretrained import WEIGHTS

from _common import cpu_name, write_results

# Shares of the structure subtracted: one for every level, or one per level (finest first, the
# last for the coarser levels).
WEIGHTS_OF_TEXTURE = ["0", "0.3", "0.5", "0.7", "0.9", "1", "(0, 1)", "(0, 0.5, 1)"]
REFERENCE_WEIGHTS = ["0", "0.5", "1", "(0, 1)"]
# (label, make_flow_pairs' keywords): the held-out sets, the first and last as train_pretrained.
TESTS = {
    "exact warps": {"random_state": 100},
    "brightness 0.005, noise 0.002": {"random_state": 102, "brightness": 0.005, "noise": 0.002},
    "brightness 0.02, noise 0.005": {"random_state": 101, "brightness": 0.02, "noise": 0.005},
}


def measure(solve_pairs, solve_one, tests, motorcycle) -> dict:
    """Mean held-out EPE on every test set and the motorcycle pair's EPE of one method."""
    row = {label: float(np.mean([endpoint_error(f, t) for f, t in zip(solve_pairs(X), y[:, 0])]))
           for label, (X, y) in tests.items()}
    image0, image1, flow, valid = motorcycle
    row["motorcycle"] = float(endpoint_error(solve_one(image0, image1), flow, mask=valid))
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", default=WEIGHTS_OF_TEXTURE,
                        help="values of texture for TVNet: numbers or tuples, e.g. '(0, 1)'")
    parser.add_argument("--reference-weights", nargs="+", default=REFERENCE_WEIGHTS)
    parser.add_argument("--test-pairs", type=int, default=8)
    args = parser.parse_args(argv)
    tests = {label: make_flow_pairs(args.test_pairs, frame_shape=(240, 320), images="test",
                                    **kwargs)
             for label, kwargs in TESTS.items()}
    motorcycle = load_stereo_motorcycle()
    # The texture alone: the recommended entry's structure without its brightness match, which
    # has a row of its own below.
    config = {**WEIGHTS["tvnet-8-2-15"].config, "match_brightness": False}
    rows = {}

    def tvnet_rows(label, model):
        model.set_params(batch_size=args.test_pairs)
        rows[label] = measure(lambda X: model.transform(X)[:, 0],
                              lambda a, b: model.transform(np.stack([a, b])[None])[0, 0],
                              tests, motorcycle)
        print(label, {k: round(v, 4) for k, v in rows[label].items()}, flush=True)

    for text in args.reference_weights:
        weight = ast.literal_eval(text)
        rows[f"reference, texture={text}"] = measure(
            lambda X, w=weight: [tvl1_optical_flow(a, b, texture=w) for a, b in X],
            lambda a, b, w=weight: tvl1_optical_flow(a, b, texture=w), tests, motorcycle)
        print(f"reference {text}", rows[f"reference, texture={text}"], flush=True)
    for text in args.weights:
        frames = tests["exact warps"][0][:1]
        tvnet_rows(f"frozen TVNet-8-2-15, texture={text}",
                   TVNetFlow(**{**config, "texture": ast.literal_eval(text)},
                             weights=None).fit(frames))
    tvnet_rows("frozen TVNet-8-2-15, texture=0, match_brightness",
               TVNetFlow(**{**config, "texture": 0, "match_brightness": True},
                         weights=None).fit(tests["exact warps"][0][:1]))
    for name in WEIGHTS:
        tvnet_rows(f"bundled {name}", load_pretrained(name))

    columns = [*TESTS, "motorcycle"]
    lines = [f"EPE (px) against the weight of `texture` (the share of every level's structure "
             f"subtracted: 0 is TV-L1 on the levels, 1 the full texture; a tuple gives one per "
             f"level, finest first, the last for the coarser levels). Held-out pairs of "
             f"`make_flow_pairs(images=\"test\")` at 240x320 ({args.test_pairs} a set), and the "
             f"stereo motorcycle pair. The reference runs at its defaults (IPOL's structure and "
             f"stopping rule); TVNet-8-2-15 has levels 0.6 apart and bicubic warps, as the "
             f"bundled entries. These images (scikit-image's) are held out from training but "
             f"are those on which `match_brightness`'s constants were chosen: the canonical "
             f"held-out benchmark measures it on others. {cpu_name()} (no timing).", "",
             "| method | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for label, row in rows.items():
        lines.append(f"| {label} | " + " | ".join(
            f"{row[c]:.3f}" if c == "motorcycle" else f"{row[c]:.4f}" for c in columns) + " |")
    text = "\n".join(lines)
    print(text)
    write_results("texture", text,
                  {"args": vars(args), "cpu": cpu_name(), "tests": TESTS, "results": rows})


if __name__ == "__main__":
    main()
