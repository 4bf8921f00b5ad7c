"""What every subcommand of the ``sktvnet`` command shares."""

from __future__ import annotations

import argparse
import os
import re
import zipfile

from .._core import MIN_SIDE
from ..pretrained import FROZEN_CONFIG

PROG = "sktvnet"


def size_pair(text: str) -> list[int | None] | None:
    """``"AxB"`` as ``[A, B]``, a side left out as None (``"240x"``); None when malformed, when
    both sides are left out or when one is 0. The parsing of every ``AxB`` option."""
    match = re.fullmatch(r"(\d*)[xX](\d*)", text.strip())
    sizes = None if match is None else [int(g) if g else None for g in match.groups()]
    return None if sizes is None or sizes == [None, None] or 0 in sizes else sizes


def frame_shape_arg(text: str, *, partial: bool = True) -> tuple[int | None, int | None]:
    """``--frame-shape HxW`` of every command, as ``(height, width)``: ``240x320``; where
    ``partial``, ``240x`` or ``x320`` leaves the other side to the aspect ratio (``None``)."""
    sizes = size_pair(text)
    if sizes is None or (None in sizes and not partial):
        keep = ", or 240x / x320 to keep the aspect ratio" if partial else ""
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH with positive sizes (e.g. 240x320){keep}, got {text!r}"
        )
    if any(n is not None and n < MIN_SIDE for n in sizes):
        raise argparse.ArgumentTypeError(f"a frame side must be >= {MIN_SIDE} pixels, got {text!r}")
    return sizes[0], sizes[1]


def make_output_folder(path: str) -> bool:
    """Create the output folder ``path`` (and its parents) if needed; return whether it was new.

    A folder that cannot be created gets an error naming it, instead of the bare OS reason.
    """
    existed = os.path.isdir(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OSError(f"cannot create the output folder {path!r}: {reason}") from exc
    return not existed


# Kept for benchmarks/bench_defaults.py: the structure of `--weights none` where no option sets
# one, which is TVNetFlow(weights=None)'s, through the one loader.
FLOW_STRUCTURE = {key: value for key, value in FROZEN_CONFIG.items()
                  if key in ("n_scales", "n_warps", "n_iters", "zoom_factor", "texture",
                             "interpolation")}


def option_name(key: str) -> str:
    """The command's spelling of a parameter: ``n_iters`` -> ``--n-iters``."""
    return "--" + key.replace("_", "-")


def _option(key: str, value) -> str:
    if isinstance(value, bool):
        return option_name(key) if value else "--no-" + key.replace("_", "-")
    if isinstance(value, tuple):
        value = ",".join(f"{share:g}" for share in value)
    return f"{option_name(key)} {value}"


def load_network(weights: str | None, params: dict | None = None, **options):
    """``--weights`` to a built TVNet, through :func:`sktvnet.pretrained.load_tvnet`, as a
    :class:`~sktvnet.pretrained.LoadedTVNet`.

    ``weights`` is None (the recommended weights), ``"none"`` (TV-L1's own steps), a bundled
    name, a weights file, or a model file written by ``TVNetFlow.save`` (whose fitted network
    and structure are taken). ``params`` are the structure options given (None: unset); one that
    contradicts the weights is an error that names the options.
    """
    from .. import pretrained

    weights = pretrained.DEFAULT if weights is None else None if weights == "none" else weights
    try:
        if weights is not None and os.path.isfile(weights) and zipfile.is_zipfile(weights):
            return _load_model_file(weights, params or {}, **options)
        return pretrained.load_tvnet(weights, params, **options)
    except pretrained.WeightsMismatch as exc:
        raise ValueError(mismatch_message(exc)) from None


def resolve_device_option(device: str):
    """``--device`` as a torch device (``sktvnet._devices.resolve_device``), with errors in the
    command's words."""
    from .._devices import resolve_device

    try:
        resolved = resolve_device(device)
    except RuntimeError as exc:  # torch's words for a malformed device string
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}") from exc
    except ValueError:
        raise ValueError(f"--device {device}: CUDA is not available here; use --device auto or "
                         "--device cpu") from None
    return resolved


def refuse_device_for_reference(method: str, device: str) -> None:
    """``--device`` is TVNet's: with ``--method reference`` (NumPy, on the CPU) it is an error."""
    if method == "reference" and device != "auto":
        raise ValueError("--device applies to --method tvnet; the reference TV-L1 runs in NumPy "
                         "on the CPU")


def mismatch_message(exc) -> str:
    """A :class:`~sktvnet.pretrained.WeightsMismatch` in the command's words (its options, not
    the Python parameters)."""
    made_for = ("made without " + option_name(exc.key) if exc.expected is None
                else "made for " + _option(exc.key, exc.expected))
    return (f"{_option(exc.key, exc.given)} contradicts the {exc.source}, {made_for}; drop "
            f"{option_name(exc.key)} to follow the weights, or add --weights none for TV-L1 "
            "with a structure of your own")


def _load_model_file(path: str, params: dict, **options):
    """The fitted TVNet of a ``TVNetFlow.save`` file, as :func:`load_network` returns it."""
    from .. import pretrained
    from ..estimators import TVNetFlow

    estimator = TVNetFlow.load(path)
    if not hasattr(estimator, "model_"):
        raise ValueError(f"{path} holds a TVNetFlow that was never fitted: fit it first")
    words = f"model file {path!r}"
    pretrained.check_against(params, estimator.config_, words)
    network = estimator.model_.cpu().eval()
    config = dict(estimator.config_)
    for key in pretrained.OPTION_KEYS:
        if params.get(key) is not None:
            config[key] = params[key]
            setattr(network, key, params[key])
    for name, value in options.items():
        setattr(network, name, value)  # run-time options (compiled) only
    return pretrained.LoadedTVNet(network, config, path,
                                  f"{words} ({estimator.weights_ or 'TV-L1'} fitted): "
                                  f"{estimator.structure_}")
