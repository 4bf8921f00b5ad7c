"""Rerun every benchmark, one script at a time; the index of ``benchmarks/``.

``INDEX`` below lists every run: the script and its options, the result files it writes into
``benchmarks/results/`` (``<name>.md`` and ``.json``, stamped by ``_common.write_results``), the
page of the docs that shows them, and the options of its smoke run. ``benchmarks/README.md``
renders it (``python benchmarks/render.py``), the docs take their list of result tables from it,
and ``tests/test_results.py`` checks it against the scripts, the result files and the docs.

Usage::

    python benchmarks/run_all.py              # every run in turn, alone (many hours on 2 cores)
    python benchmarks/run_all.py --quick      # smoke runs: small options, nothing written into
                                              # benchmarks/results/ (a temporary folder instead)
    python benchmarks/run_all.py --list       # the index
    python benchmarks/run_all.py --only table1 reference   # the runs that write these results

Run it on an otherwise idle machine: most results are timings.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The environment variable that sends result files elsewhere (_common.RESULTS_ENV; not imported
# here, so that reading the index imports nothing but the standard library).
RESULTS_ENV = "SKTVNET_RESULTS_DIR"


@dataclass(frozen=True)
class Run:
    """One command of the suite.

    ``results`` are the names of the files it writes (``results/<name>.md`` and ``.json``);
    ``docs`` the page (and section) that shows them, empty when no page does; ``quick`` the
    options of its smoke run, or None when it has none (``--quick`` skips it); ``cuda`` whether
    it needs a GPU.
    """

    script: str
    args: tuple[str, ...]
    results: tuple[str, ...]
    docs: str
    quick: tuple[str, ...] | None = None
    cuda: bool = False

    @property
    def command(self) -> str:
        return shlex.join(["python", f"benchmarks/{self.script}", *self.args])


# The bundled weights' entries, each trained and measured by its own run of train_pretrained.py
# (sktvnet.pretrained.WEIGHTS; listed here so that reading the index needs no torch).
PRETRAINED = ("tvnet-8-2-15", "tvnet-8-2-15-texture")
RESULTS_PAGE = "results.rst"

INDEX: tuple[Run, ...] = (
    Run("bench_heldout.py", (), ("heldout",),
        f"{RESULTS_PAGE}: The held-out benchmark", ("--quick",)),
    Run("bench_table1.py", (), ("table1",),
        f"{RESULTS_PAGE}: Training TVNet: Table 1 of the paper, in small",
        ("--quick", "--max-iter", "2", "--train-pairs", "8", "--test-pairs", "2")),
    Run("bench_table1.py", ("--interpolation", "bicubic", "--columns", "None", "steps", "all"),
        ("table1_bicubic",), f"{RESULTS_PAGE}: Training TVNet: Table 1 of the paper, in small"),
    Run("bench_heldout_draws.py", (), ("heldout_draws",),
        f"{RESULTS_PAGE}: Training TVNet: Table 1 of the paper, in small"),
    Run("bench_presmoothing.py", (), ("presmoothing",),
        "user_guide.rst: The learned pre-smoothing",
        ("--sigmas", "0.8", "1.6", "--structures", "1-1-50", "--sizes", "64x64",
         "--test-pairs", "2")),
    Run("bench_interpolation.py", (), ("interpolation",),
        f"{RESULTS_PAGE}: Bilinear against bicubic warps"),
    *(Run("train_pretrained.py", ("--name", name), (f"pretrained_{name}",),
          f"{RESULTS_PAGE}: The bundled pretrained weights",
          ("--quick", "--name", name) if k == 0 else None)
      for k, name in enumerate(PRETRAINED)),
    Run("bench_texture.py", (), ("texture",),
        f"{RESULTS_PAGE}: The bundled pretrained weights",
        ("--weights", "0", "--reference-weights", "0", "--test-pairs", "1")),
    Run("bench_transfer.py", (), ("transfer",),
        f"{RESULTS_PAGE}: The bundled pretrained weights", ("--quick",)),
    Run("bench_reference.py", (), ("reference",),
        f"{RESULTS_PAGE}: The reference TV-L1 beside IPOL, OpenCV and scikit-image",
        ("--repeat", "1")),
    Run("bench_opencv_preset.py", (), ("opencv_preset",),
        "user_guide.rst: Flow for models trained on OpenCV's TV-L1: ``preset``", ("--quick",)),
    Run("bench_tvnet.py", ("--device", "cpu"), ("tvnet",), "",
        ("--device", "cpu", "--structures", "1-1-10", "--batches", "1", "--repeat", "1",
         "--no-fused")),
    Run("bench_tvnet.py", ("--device", "cuda"), ("tvnet_cuda",),
        f"{RESULTS_PAGE}: Speed on a GPU", cuda=True),
    Run("bench_compile_rule.py", (), ("compile_rule",), ""),
    Run("bench_busy_threads.py", (), ("busy_threads", "busy_threads_api"), ""),
    Run("bench_export.py", (), ("export",), "export.rst: Speed", ("--quick",)),
    Run("bench_cli_memory.py", (), ("cli_memory",),
        f"{RESULTS_PAGE}: Memory of ``sktvnet flow`` on long videos", ("--frames", "20", "40")),
    Run("bench_extract.py", (), ("extract",), "", ("--frames", "5", "10")),
    Run("bench_extract_dataset.py", (), ("extract_dataset",), "", ("--quick",)),
    Run("bench_parallel.py", (), ("parallel",), "", ("--videos", "4", "--frames", "3")),
    Run("bench_histogram.py", (), ("histogram",), "", ("--quick",)),
    Run("bench_action.py", (), ("action",), ""),
    Run("bench_action_hard.py", (), ("action_hard",),
        f"{RESULTS_PAGE}: Action recognition on subtle motion", ("--quick",)),
    Run("fuzz_inputs.py", (), ("fuzz",), "", ("--examples", "5")),
)


def index_table() -> str:
    """The index as a markdown table: script, command, result files, docs."""
    lines = ["| script | command | writes (`benchmarks/results/`) | shown in (`docs/`) | "
             "smoke run (`--quick`) |", "|---|---|---|---|---|"]
    for run in INDEX:
        written = ", ".join(f"`{name}.md`, `.json`" for name in run.results)
        quick = "skipped" if run.quick is None else f"`{shlex.join(run.quick)}`"
        lines.append(f"| `{run.script}` | `{run.command}` | {written} | {run.docs or '-'} | "
                     f"{quick}{' (needs CUDA)' if run.cuda else ''} |")
    return "\n".join(lines)


def _cuda_available() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke runs (each script's small options); result files go to a "
                             "temporary folder, never into benchmarks/results/")
    parser.add_argument("--list", action="store_true", help="print the index and exit")
    parser.add_argument("--only", nargs="+", metavar="RESULT",
                        help="only the runs that write these result names")
    args = parser.parse_args(argv)
    if args.list:
        print(index_table())
        return 0
    runs = [run for run in INDEX if not args.only or set(run.results) & set(args.only)]
    env = dict(os.environ)
    if args.quick:
        env[RESULTS_ENV] = tempfile.mkdtemp(prefix="sktvnet-results-")
        print(f"--quick: result files go to {env[RESULTS_ENV]}", flush=True)
    cuda = any(run.cuda for run in runs) and _cuda_available()
    failed = []
    for run in runs:
        options = run.quick if args.quick else run.args
        why = ("not there yet" if not (HERE / run.script).exists() else
               "no smoke run" if options is None else "no CUDA" if run.cuda and not cuda else "")
        if why:
            print(f"== skip {run.script} {shlex.join(run.args)} ({why})", flush=True)
            continue
        argv_run = [sys.executable, str(HERE / run.script), *options]
        print(f"== {shlex.join(['python', 'benchmarks/' + run.script, *options])}", flush=True)
        start = time.perf_counter()
        # From the repository's root, as the commands in the index read.
        code = subprocess.run(argv_run, cwd=HERE.parent, env=env).returncode
        print(f"== {run.script}: exit {code} after {time.perf_counter() - start:.0f} s",
              flush=True)
        if code:
            failed.append(run.script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
