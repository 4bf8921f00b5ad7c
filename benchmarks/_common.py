"""What the benchmark scripts share: one writer of result files that stamps them, the CPU's
name, and timing."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
# Set to a folder, result files go there instead of RESULTS: smoke runs (``--quick``, and
# ``run_all.py --quick``) must not overwrite measurements.
RESULTS_ENV = "SKTVNET_RESULTS_DIR"


def results_dir() -> Path:
    """Where :func:`write_results` writes: ``$SKTVNET_RESULTS_DIR`` when set, else ``results/``."""
    return Path(os.environ.get(RESULTS_ENV) or RESULTS)


def divert_results() -> Path:
    """Send this process's result files (and its children's) to a temporary folder, unless
    ``$SKTVNET_RESULTS_DIR`` already names one. A script's ``--quick`` calls it: a smoke run's
    numbers are not results."""
    if not os.environ.get(RESULTS_ENV):
        os.environ[RESULTS_ENV] = tempfile.mkdtemp(prefix="sktvnet-results-")
    return results_dir()


def cpu_name() -> str:
    """The CPU's model name as lscpu reports it (or the platform's guess without lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def timed(fn, repeat):
    """Median seconds of ``repeat`` calls after one warm-up call (whose time is returned too)."""
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), first, out


def epe(flow, truth):
    """Mean end-point error of one flow ``(2, H, W)`` against the truth (every pixel known)."""
    return float(np.hypot(flow[0] - truth[0], flow[1] - truth[1]).mean())


def fit_and_score(estimator, X_train, y_train, X_test, y_test) -> dict:
    """Fit a classifier and score it on held-out data: accuracy, wall times of fit and predict,
    and the largest 1-minute load average (other processes) before and after."""
    start, load = time.perf_counter(), os.getloadavg()[0]
    estimator.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = float((estimator.predict(X_test) == y_test).mean())
    return {"accuracy": accuracy, "fit_time_s": fit_time,
            "predict_time_s": time.perf_counter() - start,
            "load": max(load, os.getloadavg()[0])}


def _commit() -> str:
    """The checked-out commit (with ``+dirty`` when tracked files differ from it)."""
    root = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def stamp() -> dict:
    """Where and when a result was measured: commit, torch version, CPU, cores, torch threads,
    UTC date and the 1-minute load average (other processes share the machine)."""
    try:
        import torch

        torch_version, threads = torch.__version__, torch.get_num_threads()
    except ImportError:
        torch_version, threads = None, None
    return {"commit": _commit(), "torch": torch_version, "cpu": cpu_name(),
            "cpu_count": os.cpu_count(), "torch_threads": threads,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": round(os.getloadavg()[0], 2)}


def _invocation() -> str:
    """The command line of this process, as one reruns it from the repository's root."""
    script = Path(sys.argv[0])
    here = Path(__file__).resolve().parent
    if script.resolve().parent == here:
        script = Path("benchmarks") / script.name
    return shlex.join(["python", str(script), *sys.argv[1:]])


def write_results(name: str, markdown: str, data: dict, command: str | None = None) -> Path:
    """Write ``results/<name>.md`` and ``results/<name>.json``, both stamped (:func:`stamp`).

    ``markdown`` is the table and its prose; a stamp line is put after its first line (the
    title), or before it when the markdown starts with a table. ``data`` goes into the JSON under
    ``"results"`` beside ``"stamp"`` and ``"command"`` (the command that reruns it; by default
    this process's command line). The folder is :func:`results_dir`. Returns the markdown
    file's path.
    """
    info = stamp()
    command = command or _invocation()
    lines = markdown.rstrip("\n").split("\n")
    line = (f"Measured at commit {info['commit']} on {info['cpu']} ({info['cpu_count']} cores, "
            f"{info['torch_threads']} torch threads, torch {info['torch']}), {info['date']}, "
            f"load average {info['load_average']}; rerun with `{command}`.")
    at = 0 if lines[0].lstrip().startswith("|") else 1
    lines[at:at] = [line, ""] if at == 0 else ["", line]
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    (folder / f"{name}.json").write_text(
        json.dumps({"stamp": info, "command": command, "results": data}, indent=2,
                   default=_plain) + "\n")
    print(f"wrote {path} and {path.with_suffix('.json').name}", file=sys.stderr)
    return path


def read_results(path: Path) -> dict:
    """The data of a result file: what :func:`write_results` put under ``"results"``, or the
    whole file for one written before files were stamped."""
    payload = json.loads(Path(path).read_text())
    return payload["results"] if "stamp" in payload else payload


def _plain(value):
    """What ``json`` cannot write by itself: NumPy scalars and arrays as numbers, anything else
    (a path) as its text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
