"""What the benchmark scripts share: the CPU's name for their results, and timing."""

from __future__ import annotations

import os
import platform
import subprocess
import time

import numpy as np


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
