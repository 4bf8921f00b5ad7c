"""Fuzz the public entry points with hypothesis: only documented errors may escape.

Every example feeds a random (often malformed) input to one entry point: the reference
``tvl1_optical_flow``, ``TVNet.forward``, ``TVNetFlow.fit``/``transform`` and ``read_flo``. A
``ValueError`` or ``TypeError`` is the documented answer to bad input; anything else (or a
non-finite or wrongly shaped output on a successful call) is a failure and is printed.

Usage::

    python benchmarks/fuzz_inputs.py [--examples 500]   # per entry point (4 entry points)

Prints a table of outcomes per entry point and writes ``benchmarks/results/fuzz.md`` and ``.json``,
stamped by ``_common.write_results``.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import traceback

os.environ.setdefault("SKTVNET_COMPILE", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, arrays  # noqa: E402

from sktvnet import TVNet, TVNetFlow, read_flo, tvl1_optical_flow  # noqa: E402

from _common import write_results  # noqa: E402

DOCUMENTED = (ValueError, TypeError)
DTYPES = st.sampled_from(["float32", "float64", "uint8", "int64", "bool", "complex64", "float16"])
outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
failures: list[str] = []


def any_array(min_dims=0, max_dims=5, max_side=12):
    def build(dtype):
        kind = np.dtype(dtype).kind
        if kind == "f":
            elements = st.floats(allow_nan=True, allow_infinity=True, width=np.dtype(dtype).itemsize * 8)
        elif kind == "c":
            elements = st.complex_numbers(allow_nan=True, width=64)
        else:
            elements = None
        return arrays(dtype, array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                                          max_side=max_side), elements=elements)
    return DTYPES.flatmap(build)


def record(entry, fn, check=None):
    try:
        out = fn()
    except DOCUMENTED as exc:
        outcomes[entry][f"{type(exc).__name__}"] += 1
        return
    except Exception:  # the fuzz target: anything undocumented
        outcomes[entry]["UNDOCUMENTED"] += 1
        failures.append(f"{entry}: {traceback.format_exc(limit=3)}")
        return
    if check is not None and not check(out):
        outcomes[entry]["BAD OUTPUT"] += 1
        failures.append(f"{entry}: output failed its check")
        return
    outcomes[entry]["ok"] += 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="examples per entry point")
    args = parser.parse_args(argv)
    config = settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))

    @config
    @given(any_array(max_dims=3), any_array(max_dims=3), st.sampled_from(["bicubic", "bilinear"]))
    def fuzz_reference(a, b, interpolation):
        record("tvl1_optical_flow", lambda: tvl1_optical_flow(a, b, n_iters=3, n_warps=1,
                                                              interpolation=interpolation),
               lambda f: f.shape == (2,) + a.shape[:2] and np.isfinite(f).all())

    net = TVNet(n_scales=2, n_iters=3, compiled=False)

    @config
    @given(any_array(min_dims=2, max_dims=5), st.booleans())
    def fuzz_tvnet(a, same):
        def call():
            x0 = torch.as_tensor(a)
            x1 = x0.clone() if same else torch.as_tensor(np.flip(a, -1).copy())
            return net(x0, x1)
        record("TVNet.forward", call,
               lambda f: f.shape[1] == 2 and torch.isfinite(f).all() and (not same or not f.any()))

    @config
    @given(st.one_of(any_array(min_dims=1, max_dims=6),
                     st.lists(any_array(min_dims=2, max_dims=4), max_size=3)))
    def fuzz_estimator(X):
        est = TVNetFlow(n_iters=2, weights=None)

        def call():
            flows = est.fit(X).transform(X)
            return flows if isinstance(flows, list) else list(flows)
        record("TVNetFlow.fit/transform", call,
               lambda flows: all(np.isfinite(f).all() and f.shape[1] == 2 for f in flows))

    tmp = tempfile.mkdtemp()

    @config
    @given(st.binary(max_size=64), st.booleans())
    def fuzz_flo(payload, with_magic):
        path = os.path.join(tmp, "fuzz.flo")
        with open(path, "wb") as handle:
            handle.write((np.float32(202021.25).tobytes() if with_magic else b"") + payload)
        record("read_flo", lambda: read_flo(path), lambda f: f.ndim == 3 and f.shape[0] == 2)

    for fuzz in (fuzz_reference, fuzz_tvnet, fuzz_estimator, fuzz_flo):
        fuzz()
        print(fuzz.__name__, dict(outcomes), flush=True)

    total = sum(sum(c.values()) for c in outcomes.values())
    lines = [f"{total} examples; ValueError/TypeError are the documented answers to bad input.",
             "", "| entry point | examples | ok | ValueError | TypeError | undocumented | bad output |",
             "|---|---|---|---|---|---|---|"]
    for entry, counts in outcomes.items():
        lines.append(f"| {entry} | {sum(counts.values())} | {counts['ok']} | {counts['ValueError']} | "
                     f"{counts['TypeError']} | {counts['UNDOCUMENTED']} | {counts['BAD OUTPUT']} |")
    table = "\n".join(lines)
    print(table)
    for failure in failures[:20]:
        print(failure)
    write_results("fuzz", table, {"args": vars(args),
                                  "outcomes": {entry: dict(counts)
                                               for entry, counts in outcomes.items()},
                                  "failures": failures[:20]})
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
