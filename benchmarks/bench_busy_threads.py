"""TVNet in ``sktvnet demo`` beside a busy process, before and after the passive wait policy.

``sktvnet demo --quick`` times TVNet on the synthetic 240x320 pair (one pair, so pairs/s is one
over its time). Each run is a fresh process with torch's default thread count and no
``OMP_WAIT_POLICY`` in its environment:

- "before": torch is imported before the command starts, so OpenMP starts with its default
  policy (threads spin a while before they sleep), as the command did before it set one;
- "after": the command as shipped, which sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads
  when a short sample of CPU use says the machine is busy (with the busy process, not without).

Both run with no load added and beside one busy process (``python -c "while True: pass"``).

Usage::

    python benchmarks/bench_busy_threads.py [--repeat 3]

Prints a table and writes ``benchmarks/results/busy_threads.md`` and ``busy_threads.json``,
stamped by ``_common.write_results``. Run it on a quiet machine: the busy process must be the only other load.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (median kept)")
    args = parser.parse_args()
    rows = []
    for load in ("no added load", "one busy process"):
        busy = None
        if load != "no added load":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for mode in COMMANDS:
                times = sorted(tvnet_seconds(mode) for _ in range(args.repeat))
                rows.append({"load": load, "mode": mode, "seconds": times,
                             "pairs_per_s": 1 / times[len(times) // 2]})
                print(rows[-1], file=sys.stderr, flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
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
