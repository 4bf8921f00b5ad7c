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
from collections.abc import Sequence

from .. import _threads
from .._version import __version__
from . import demo, export, extract, flow
from ._common import PROG

__all__ = ["main"]

_SUBCOMMANDS = (demo.add_parser, flow.add_parser, extract.add_parser, export.add_parser)


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
    # After parsing (--help stays instant), before the subcommand imports torch.
    _threads.prefer_passive_threads()
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
