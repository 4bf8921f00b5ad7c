"""The OpenMP wait policy, chosen before torch loads: passive on a busy machine.

Beside other busy processes, torch's OpenMP threads spin while they wait and steal the cores
from the threads they wait for: TVNet then slows down by one or two orders of magnitude. On an
idle machine spinning is faster. OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads it, so
the choice is made just before: by the ``sktvnet`` command after it has parsed its arguments,
and by the package when it is the one that imports torch first (:func:`before_torch`, called
where the Python API first needs torch: a torch-backed name of ``sktvnet``, such as
``sktvnet.TVNetFlow``, and ``sktvnet.estimators``). A value the user set is never changed.
Loads neither torch nor scikit-learn.
"""

from __future__ import annotations

import os
import sys
import time

# Cores' worth of other work from which the machine counts as busy. Measured on a 2-core CPU
# (TVNet-6-3-30 eager, 240x320): on an idle machine the passive policy made TVNet 4.4x slower
# (0.29 -> 1.29 s a pair: every small op then wakes sleeping threads), beside one busy process it
# made it 2.5x faster (1.33 -> 0.54 s).
BUSY_CORES = 0.75
# How long the machine's CPU use is sampled before torch loads.
_SAMPLE_SECONDS = 0.1
# Whether this process has chosen already (the command, then the estimators it imports).
_chosen = False


def wait_policy(busy_cores: float | None) -> str | None:
    """The OpenMP wait policy for a machine where other work keeps ``busy_cores`` cores busy
    (None when unknown): passive when that is most of a core or more, OpenMP's default (spin a
    while, then sleep) otherwise."""
    return "PASSIVE" if busy_cores is not None and busy_cores >= BUSY_CORES else None


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from Linux's /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:8]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def busy_cores() -> float | None:
    """Cores kept busy by other work right now: CPU use over a short sample on Linux, else the
    1-minute load average (which lags by a minute), None where neither exists."""
    try:
        busy0, total0 = _cpu_times()
        time.sleep(_SAMPLE_SECONDS)
        busy1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    if total1 <= total0:
        return None
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def prefer_passive_threads() -> None:
    """On a busy machine (:data:`BUSY_CORES`), set ``OMP_WAIT_POLICY=PASSIVE`` unless the user
    chose a policy. Call it before torch is imported: OpenMP reads the variable once. The
    machine is sampled once per process."""
    global _chosen
    if "OMP_WAIT_POLICY" in os.environ or _chosen:
        return
    _chosen = True
    policy = wait_policy(busy_cores())
    if policy is not None:
        os.environ["OMP_WAIT_POLICY"] = policy


def before_torch() -> None:
    """Apply :func:`prefer_passive_threads` if torch is not loaded yet (so that sktvnet is the
    one about to load it); once torch is loaded the policy can no longer change, and nothing
    is sampled."""
    if "torch" not in sys.modules:
        prefer_passive_threads()
