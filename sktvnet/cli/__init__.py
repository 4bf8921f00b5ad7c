"""The ``sktvnet`` command (also ``python -m sktvnet`` and ``python -m sktvnet.cli``).

Each subcommand is a module with ``add_parser(subparsers)``, which declares its arguments and sets
``handler`` to its ``run(args) -> int``: :mod:`~sktvnet.cli.demo`, :mod:`~sktvnet.cli.flow`,
:mod:`~sktvnet.cli.extract` and :mod:`~sktvnet.cli.export`. :data:`_SUBCOMMANDS` lists them; a new
subcommand is one more module and one more entry there. Parsing imports nothing heavy (torch,
scikit-learn, SciPy load inside the handlers), so that ``sktvnet --help`` answers at once, and so
that the command can set ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set a value) before torch
loads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from .._version import __version__
from . import demo, export, extract, flow
from ._common import PROG

__all__ = ["main"]

_SUBCOMMANDS = (demo.add_parser, flow.add_parser, extract.add_parser, export.add_parser)


# Cores' worth of other work from which the machine counts as busy. Measured on a 2-core CPU
# (TVNet-6-3-30 eager, 240x320): on an idle machine the passive policy made TVNet 4.4x slower
# (0.29 -> 1.29 s a pair: every small op then wakes sleeping threads), beside one busy process it
# made it 2.5x faster (1.33 -> 0.54 s).
BUSY_CORES = 0.75
# How long the command samples the machine's CPU use before torch loads.
_SAMPLE_SECONDS = 0.1


def _wait_policy(busy_cores: float | None) -> str | None:
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


def _busy_cores() -> float | None:
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


def _prefer_passive_threads() -> None:
    """On a busy machine, make torch's OpenMP threads sleep, not spin, while they wait, unless
    the user chose a policy.

    Beside other busy processes, spinning threads steal the cores from the threads they wait
    for, and TVNet slows down by one or two orders of magnitude; on an idle machine spinning is
    faster, so the policy follows the machine's use as the command starts (:data:`BUSY_CORES`).
    OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads it: this runs after the arguments
    are parsed (``--help`` stays instant) and before the subcommand imports torch.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return
    policy = _wait_policy(_busy_cores())
    if policy is not None:
        os.environ["OMP_WAIT_POLICY"] = policy


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="TVNet and TV-L1 optical flow for scikit-learn users."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str | os.PathLike] | None = None) -> int:
    """Run the ``sktvnet`` command line.

    Parameters
    ----------
    argv : sequence of str or os.PathLike, optional
        The arguments without the program name; ``sys.argv[1:]`` by default. Paths are accepted
        as they are (``pathlib.Path`` included).

    Returns
    -------
    status : int
        0 on success, 1 when the command failed (the reason is printed on stderr), 130 when
        interrupted. Usage errors exit through argparse with status 2.

    Examples
    --------
    Two frames of a smooth texture moving one pixel right, through TVNet, to one ``.flo`` file:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from sktvnet.cli import main
    >>> from sktvnet.io import read_flo, save_png
    >>> texture = ndimage.gaussian_filter(np.random.default_rng(0).random((32, 64)), 2)
    >>> texture = np.round(255 * (texture - texture.min()) / np.ptp(texture)).astype(np.uint8)
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +ELLIPSIS
    ...     a, b = os.path.join(folder, "a.png"), os.path.join(folder, "b.png")
    ...     save_png(a, texture[:, 1:49])
    ...     save_png(b, texture[:, :48])  # what was at x is now at x + 1
    ...     main(["flow", a, b, "-o", os.path.join(folder, "out"), "--no-compile"])
    ...     flow = read_flo(os.path.join(folder, "out", "a", "000000.flo"))
    a: 1 flow in ... s, ... pairs/s
    1 of 1 input done, 1 flow computed in ... s (... pairs/s), outputs in .../out
    0
    >>> flow.shape, round(float(np.median(flow[0])), 1), round(float(np.median(flow[1])), 1)
    ((2, 32, 48), 1.0, 0.0)
    """
    if argv is not None:
        argv = [os.fspath(arg) for arg in argv]
    parser = _build_parser()
    args = parser.parse_args(argv)
    _prefer_passive_threads()
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sktvnet flow ... | head`): stop quietly, as command-line tools
        # do, and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError, TypeError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
