"""TVNet in ``sktvnet demo`` beside a busy process, before and after the passive wait policy.

``sktvnet demo --quick`` times TVNet on the synthetic 240x320 pair (one pair, so pairs/s is one
over its time). Each run is a fresh process with torch's default thread count and no
``OMP_WAIT_POLICY`` in its environment:

- "before": torch is imported before the command starts, so OpenMP starts with its default
  policy (threads spin a while before they sleep), as the command did before it set one;
- "after": the command as shipped, which sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads
  when a short sample of CPU use says the machine is busy (with the busy process, not without).

Both run with no load added and beside one busy process (``python -c "while True: pass"``).

The Python API is measured the same way (``--part api``): pairs/s of ``TVNetFlow().transform``
(the recommended weights, eager: ``SKTVNET_COMPILE=0``) on the demo's synthetic 240x320 pair,

- "before": torch imported before sktvnet, so OpenMP starts with its default policy, as the
  Python API always did before it applied the command's rule;
- "after": sktvnet imported first, which applies the rule (``sktvnet._threads``).

Usage::

    python benchmarks/bench_busy_threads.py [--repeat 3] [--part command|api|both]

Prints the tables and writes ``benchmarks/results/busy_threads.md`` (the command) and
``busy_threads_api.md`` (the Python API), with their ``.json``, stamped by
``_common.write_results``. Run it on a quiet machine: the busy process must be the only other
load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from _common import cpu_name, write_results

COMMANDS = {
    "before": [sys.executable, "-c", "import torch; from sktvnet.cli import main; "
               "raise SystemExit(main(['demo', '--quick', '-o', {out!r}]))"],
    "after": [sys.executable, "-m", "sktvnet.cli", "demo", "--quick", "-o", "{out}"],
}


def tvnet_seconds(mode: str) -> float:
    """Seconds of TVNet on the demo's synthetic pair, read from the demo's table."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as out:
        command = [part.format(out=out) for part in COMMANDS[mode]]
        result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1].startswith("TVNet-"):
            return float(fields[3])
    raise RuntimeError(f"no TVNet row in the demo's output:\n{result.stdout}")


# The Python API in a fresh process: argv[1] is the mode, argv[2] the number of timed calls.
API_CODE = """
import sys, time
if sys.argv[1] == "before":
    import torch  # OpenMP starts with its default policy
import numpy as np
from sktvnet import TVNetFlow
from sktvnet.datasets import make_synthetic_pair

image0, image1, _ = make_synthetic_pair("camera", (240, 320))
X = np.stack([image0, image1])[None]
flow = TVNetFlow().fit(X)
flow.transform(X)  # warm-up: first calls allocate
start = time.perf_counter()
for _ in range(int(sys.argv[2])):
    flow.transform(X)
print(int(sys.argv[2]) / (time.perf_counter() - start))
"""


def api_pairs_per_s(mode: str, calls: int) -> float:
    """Pairs/s of TVNetFlow().transform on the demo's pair, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env["SKTVNET_COMPILE"] = "0"  # eager throughout: compiling would start mid-way
    result = subprocess.run([sys.executable, "-c", API_CODE, mode, str(calls)],
                            capture_output=True, text=True, check=True, env=env)
    return float(result.stdout.split()[-1])


def busy_rows(measure) -> list[dict]:
    """``measure(mode)`` for each mode, with no load added and beside one busy process."""
    rows = []
    for load in ("no added load", "one busy process"):
        busy = None
        if load != "no added load":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for mode in COMMANDS:
                rows.append({"load": load, "mode": mode, **measure(mode)})
                print(rows[-1], file=sys.stderr, flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return rows


def api(repeat: int, calls: int) -> None:
    def measure(mode):
        rates = sorted(api_pairs_per_s(mode, calls) for _ in range(repeat))
        return {"pairs_per_s_runs": rates, "pairs_per_s": rates[len(rates) // 2]}

    rows = busy_rows(measure)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0]}
    policy = {"before": "OpenMP default (torch imported before sktvnet)",
              "after": "sktvnet's rule (PASSIVE when busy)"}
    lines = [
        f"CPU: {machine['cpu']} ({machine['cpu_count']} cores), load average "
        f"{machine['load_average']:.2f} at the end; TVNetFlow().transform (the recommended "
        f"weights, eager) on the demo's 240x320 pair, {calls} calls per run, median of {repeat} "
        "runs.",
        "",
        "| load | wait policy | pairs/s | runs (pairs/s) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        runs = ", ".join(f"{r:.2f}" for r in row["pairs_per_s_runs"])
        lines.append(f"| {row['load']} | {policy[row['mode']]} | {row['pairs_per_s']:.2f} | "
                     f"{runs} |")
    table = "\n".join(lines)
    print(table)
    write_results("busy_threads_api", table, {"machine": machine, "calls": calls, "rows": rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (median kept)")
    parser.add_argument("--part", choices=("command", "api", "both"), default="both",
                        help="what to measure: the command, the Python API, or both")
    parser.add_argument("--calls", type=int, default=5,
                        help="timed transform calls per run of the Python API")
    args = parser.parse_args()
    if args.part in ("api", "both"):
        api(args.repeat, args.calls)
    if args.part == "api":
        return

    def measure(mode):
        times = sorted(tvnet_seconds(mode) for _ in range(args.repeat))
        return {"seconds": times, "pairs_per_s": 1 / times[len(times) // 2]}

    rows = busy_rows(measure)
    machine = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0]}
    lines = [
        f"CPU: {machine['cpu']} ({machine['cpu_count']} cores), load average "
        f"{machine['load_average']:.2f} at the end; TVNet-6-3-30 eager on the demo's 240x320 "
        f"pair, median of {args.repeat} runs.",
        "",
        "| load | wait policy | TVNet pairs/s | runs (s) |",
        "|---|---|---|---|",
    ]
    policy = {"before": "OpenMP default (torch loaded first)", "after": "the command (PASSIVE when busy)"}
    for row in rows:
        runs = ", ".join(f"{t:.2f}" for t in row["seconds"])
        lines.append(f"| {row['load']} | {policy[row['mode']]} | {row['pairs_per_s']:.2f} | {runs} |")
    table = "\n".join(lines)
    print(table)
    write_results("busy_threads", table, {"machine": machine, "rows": rows})


if __name__ == "__main__":
    main()
