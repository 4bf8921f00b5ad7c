"""Pretrained TVNet weights: a registry of named, reproducible states shipped with the package.

As torchvision's ``weights=`` does for its models, every entry of :data:`WEIGHTS` names one
trained state of TVNet together with the structure it belongs to, how it was made (the command
that reproduces it) and what it measured. The files are safetensors (tensors and a JSON header,
no code: loading one never runs anything), a few kilobytes each, in ``sktvnet/weights/``.

* :func:`load_tvnet` is the one loader: it takes weights (``"DEFAULT"``, a name of
  :data:`WEIGHTS` or a file) to a built :class:`sktvnet.TVNet` whose structure and constants are
  the weights'; :class:`sktvnet.TVNetFlow`, ``sktvnet flow``, ``sktvnet demo`` and
  ``sktvnet export`` all go through it;
* ``TVNetFlow(weights=...)`` starts from such weights (``"DEFAULT"``, the default, is
  :data:`RECOMMENDED`), and :func:`sktvnet.load_pretrained` returns one fitted;
* :func:`save_weights` writes the state of a TVNet (or of a fitted estimator) to such a file and
  :func:`load_weights` reads it back, checking that it is one.

A file records the structure and the TV-L1 constants of the network it was taken from, because
the step sizes are stored relative to the constructor's ``tau``, ``lmbda`` and ``theta``
(``lambda_t = lmbda exp(a_t)``, see :class:`sktvnet.TVNet`): loaded into a network with other
constants they would mean other steps. So the weights set the structure, as torchvision's
builders take the architecture from theirs: a value left unset (None) follows the weights, and
one set against them raises :class:`WeightsMismatch`, naming both.

This module never imports the estimators (they import it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ._validation import canonical_texture

__all__ = ["WEIGHTS", "RECOMMENDED", "DEFAULT", "FROZEN_CONFIG", "OPENCV_CONFIG",
           "PretrainedWeights", "LoadedTVNet", "WeightsMismatch", "check_against", "load_tvnet",
           "load_weights", "save_weights", "structure_name"]

FORMAT = "sktvnet-weights"
FORMAT_VERSION = 1
# Where the bundled files live (package data, carried by the wheel).
WEIGHTS_DIR = Path(__file__).with_name("weights")
# What a weights file must describe, in this order: the structure, then the constants.
CONFIG_KEYS = ("n_scales", "n_warps", "n_iters", "tau", "lmbda", "theta", "zoom_factor", "eps",
               "texture", "compensate_brightness", "median_filter", "preset", "tol",
               "interpolation")
# Values of the keys that files written before the key existed do not record.
_CONFIG_DEFAULTS = {"texture": False, "compensate_brightness": False, "median_filter": 0,
                    "preset": None, "tol": 0.0, "interpolation": "bilinear"}
#: The value of ``weights`` that means :data:`RECOMMENDED`, read when the weights are loaded
#: (torchvision's ``weights="DEFAULT"``).
DEFAULT = "DEFAULT"
#: TVNet's structure and constants without weights (``weights=None``), where none is given:
#: TVNet-10-1-50 with levels 0.7 apart, TV-L1's own steps. Ten levels see large motions (the
#: motorcycle pair's 60 px) through a pyramid fine enough that a motion found at one level still
#: fits the next, and one warp of 50 iterations per level keeps it fast.
FROZEN_CONFIG = {"n_scales": 10, "n_warps": 1, "n_iters": 50, "tau": 0.25, "lmbda": 0.15,
                 "theta": 0.3, "zoom_factor": 0.7, "eps": 1e-10, "texture": False,
                 "compensate_brightness": False, "median_filter": 0, "preset": None, "tol": 0.0,
                 "interpolation": "bilinear"}
#: TVNet as ``cv2.optflow.DualTVL1OpticalFlow_create()`` at its defaults, which
#: ``tvl1_optical_flow(preset="opencv")`` reproduces: OpenCV's method (``preset="opencv"``), 5
#: levels 0.8 apart, 5 warps, median filter 5, cubic warps, and OpenCV's stopping rule: at most
#: 300 iterations per warp (30 inner times 10 outer), fewer once the flow changes by less than
#: epsilon 0.01 (``tol``). ``weights=None`` with ``preset="opencv"`` starts from it
#: (``benchmarks/bench_opencv_preset.py`` measures how close it comes).
OPENCV_CONFIG = {**FROZEN_CONFIG, "n_scales": 5, "n_warps": 5, "n_iters": 300,
                 "zoom_factor": 0.8, "median_filter": 5, "preset": "opencv", "tol": 0.01,
                 "interpolation": "bicubic"}


@dataclass(frozen=True)
class PretrainedWeights:
    """One named state of TVNet bundled with sktvnet.

    Attributes
    ----------
    name : str
        The name to pass as ``weights=`` or to :func:`load_pretrained`.
    file : str
        File name in ``sktvnet/weights/``.
    config : dict
        The network's structure and constants (``n_scales``, ``n_warps``, ``n_iters``, ``tau``,
        ``lmbda``, ``theta``, ``zoom_factor``, ``eps``, ``texture``, ``interpolation``): the
        estimator's parameters it needs.
    train : str
        The parts of TVNet that were trained (the estimators' ``train`` spelling).
    recipe : str
        The command that reproduces the file, and its training data.
    metrics : dict
        What the state measured when it was made (end-point errors in pixels; see
        ``benchmarks/results/pretrained_<name>.md``).
    description : str
        One sentence for humans.
    """

    name: str
    file: str
    config: dict
    train: str
    recipe: str
    metrics: dict = field(default_factory=dict)
    description: str = ""

    @property
    def path(self) -> Path:
        """The bundled file."""
        return WEIGHTS_DIR / self.file

    @property
    def structure(self) -> str:
        """The paper's name of the structure, ``TVNet-<n_scales>-<n_warps>-<n_iters>``."""
        return structure_name(self.config)


_TVL1_CONSTANTS = {"tau": 0.25, "lmbda": 0.15, "theta": 0.3, "eps": 1e-10}
# The structure the bundled entries share: eight levels 0.6 apart, two warps of 15 iterations,
# IPOL's bicubic warps. They differ in ``texture`` alone.
_TVNET_8_2_15 = {"n_scales": 8, "n_warps": 2, "n_iters": 15, **_TVL1_CONSTANTS,
                 "zoom_factor": 0.6, "interpolation": "bicubic"}

#: The bundled weights, by name.
WEIGHTS: dict[str, PretrainedWeights] = {
    entry.name: entry for entry in [
        PretrainedWeights(
            name="tvnet-8-2-15-coarse-texture",
            file="tvnet-8-2-15-coarse-texture.safetensors",
            config={**_TVNET_8_2_15, "texture": (0.0, 1.0)},
            train="filters+steps",
            recipe="python benchmarks/train_pretrained.py (seed 0): train='filters+steps' "
                   "(the filters at a hundredth of the rate, the pre-smoothing at IPOL's sigma), "
                   "EPE loss, Adam 0.02 with cosine decay, 300 steps of 2 whole pairs of "
                   "make_flow_pairs(images='train'), 56 at 240x320 (motions up to 4 px) and 8 at "
                   "384x512 (up to 12 px) so that all eight levels learn, half of each exact "
                   "warps and half with brightness changes up to 0.005 and noise 0.002; a fifth "
                   "held out, the best state kept",
            # benchmarks/results/pretrained_tvnet-8-2-15-coarse-texture.md, one run on a 2-core
            # AMD EPYC (AVX-512): the
            # reference TV-L1 at its defaults measured 0.0239 (exact warps), 0.2145 (0.5%
            # brightness and noise 0.002), 1.6133 (2% and 0.005) and 3.781 px (motorcycle), and
            # 4.28 pairs/s; with the same texture 0.0250, 0.1276, 0.7157 and 3.329 px. Frozen
            # TVNet-8-2-15 with the same texture: 0.0233, 0.1083, 0.3018 and 3.578 px. Speed-up
            # in rounds interleaved with the reference's: 8.4x compiled with two threads, 5.7x
            # with one. Trained on changed pairs alone, the same texture lost its precision on
            # exact warps (0.0334 px with changes of 0.005, 0.0386 with 0.02, in trials).
            metrics={"epe_held_out_240x320_exact": 0.0232, "epe_held_out_240x320_mild": 0.0727,
                     "epe_held_out_240x320_realistic": 0.1795, "epe_motorcycle": 3.438,
                     "speedup_vs_reference": 8.4},
            description="TVNet-8-2-15 with levels 0.6 apart and IPOL's bicubic warps that solves "
                        "its coarse levels on their texture, so that brightness changes do not "
                        "mislead the search for motion, and its finest level on the frames, for "
                        "their precision, and whose step sizes and difference filters of every "
                        "iteration learned on exact warps and on pairs with 0.5% brightness "
                        "changes and noise; for camera footage and anything else: more "
                        "accurate than the reference on held-out exact warps (0.97x its error), "
                        "under 0.5% and 2% brightness changes (0.34x and 0.11x) and on the "
                        "motorcycle pair (0.91x), at 5.7x its speed with one thread and 8.4x "
                        "with two",
        ),
        PretrainedWeights(
            name="tvnet-8-2-15-texture",
            file="tvnet-8-2-15-texture.safetensors",
            config={**_TVNET_8_2_15, "texture": True},
            train="filters+steps",
            recipe="python benchmarks/train_pretrained.py --name tvnet-8-2-15-texture (seed 0): "
                   "train='filters+steps' "
                   "(the filters at a hundredth of the rate, the pre-smoothing at IPOL's sigma), "
                   "EPE loss, Adam 0.02 with cosine decay, 300 steps of 2 whole pairs of "
                   "make_flow_pairs(images='train', brightness=0.02, noise=0.005), 56 at "
                   "240x320 (motions up to 4 px) and 8 at 384x512 (up to 12 px) so that all "
                   "eight levels learn; a fifth held out, the best state kept",
            # benchmarks/results/pretrained_tvnet-8-2-15-texture.md, one run on a 2-core AMD
            # EPYC (the recommended entry until #11's last session): the reference
            # TV-L1 at its defaults measured 0.0239 (exact warps), 1.6133 (2% brightness and
            # noise) and 3.781 px (motorcycle), and 2.31 pairs/s; on the texture of the levels
            # 0.0363, 0.0723 and 3.247 px. Frozen TVNet-8-2-15 (bicubic, texture): 0.0350,
            # 0.0859 and 3.505 px. Speed-up (the file's metric: compiled, two threads) in rounds
            # interleaved with the reference's: 9.9x, and 6.1x with one torch thread (the
            # machine's speed drifts between runs: earlier runs of the same structure gave 8.7x
            # and 5.4x). Bicubic warps cost the structure 19% of its speed with one thread
            # (benchmarks/results/interpolation.md). Before training kept the sums of the
            # centred-gradient taps, the same recipe gave 0.0353, 0.0810 and 3.142 px, and with
            # bilinear warps 0.0551, 0.0842 and 3.122 px.
            metrics={"epe_held_out_240x320_exact": 0.0345,
                     "epe_held_out_240x320_realistic": 0.0823, "epe_motorcycle": 3.3,
                     "speedup_vs_reference": 9.9},
            description="TVNet-8-2-15 with levels 0.6 apart (eight levels, two warps of 15 "
                        "iterations each) and IPOL's bicubic warps that solves on the texture "
                        "of every level, so that brightness changes between frames are not "
                        "motion, and whose step sizes and difference filters of every "
                        "iteration learned on pairs with 2% brightness changes and noise; for "
                        "footage whose brightness changes a lot (flicker, exposure steps): 20x "
                        "more accurate than the reference under such changes, "
                        "0.87x its error on the motorcycle pair, 1.4x it on exact warps, at "
                        "6.1x its speed with one thread and 9.9x with two",
        ),
        PretrainedWeights(
            name="tvnet-8-2-15",
            file="tvnet-8-2-15.safetensors",
            config={**_TVNET_8_2_15, "texture": False},
            train="filters+steps",
            recipe="python benchmarks/train_pretrained.py --name tvnet-8-2-15 (seed 0): the "
                   "recipe of tvnet-8-2-15-texture on exact warps (no brightness change, no "
                   "noise)",
            # benchmarks/results/pretrained_tvnet-8-2-15.md, one run on a 2-core AMD EPYC: the
            # reference at its defaults 0.0239, 1.6133 and 3.781 px and 2.49 pairs/s; frozen
            # TVNet-8-2-15 (bicubic, on the frames) 0.0215, 1.8153 and 4.194 px. Speed-up
            # against the reference in interleaved rounds: 9.0x compiled with two threads, 5.8x
            # with one. Trained on pairs with noise 0.005 (a trial), it ended at 0.0234 px on
            # exact warps, worse than frozen.
            metrics={"epe_held_out_240x320_exact": 0.0203,
                     "epe_held_out_240x320_realistic": 1.9655, "epe_motorcycle": 3.876,
                     "speedup_vs_reference": 9.0},
            description="TVNet-8-2-15 as the other entries (levels 0.6 apart, bicubic "
                        "warps, learned step sizes and filters) but on the frames themselves, "
                        "trained on exact warps; for data whose brightness does not change "
                        "between frames (renders, synthetic warps, one exposure): 0.85x the "
                        "reference's error on exact warps and 1.03x it on the motorcycle pair, "
                        "at 5.8x its speed with one thread and 9.0x with two; under a 2% "
                        "brightness change it fails as TV-L1 does (1.97 px)",
        ),
    ]
}
#: The entry :func:`load_pretrained` returns by default.
RECOMMENDED = "tvnet-8-2-15-coarse-texture"


def structure_name(config: dict) -> str:
    """The paper's name of a structure, ``TVNet-<n_scales>-<n_warps>-<n_iters>``."""
    return "TVNet-{n_scales}-{n_warps}-{n_iters}".format(**config)


def _describe(config: dict) -> str:
    constants = ", ".join(f"{key}={config[key]!r}" for key in CONFIG_KEYS[3:])
    return f"{structure_name(config)} ({constants})"


def network_config(network) -> dict:
    """The structure and constants of a :class:`sktvnet.TVNet`, as a weights file records
    them."""
    config = {key: getattr(network, key) for key in CONFIG_KEYS}
    return config | {"texture": canonical_texture(config["texture"])}


class WeightsMismatch(ValueError):
    """A structure or constant set explicitly against the weights' own (the rule of torchvision's
    ``_ovewrite_named_param``).

    Attributes
    ----------
    key : str
        The parameter (``"n_iters"``, ...).
    given : object
        The value that was set.
    expected : object
        The weights' value.
    source : str
        The weights, in words (``"weights 'tvnet-8-2-15'"``, ``"weights file 'mine.safetensors'"``).
    """

    def __init__(self, key: str, given, expected, source: str) -> None:
        self.key, self.given, self.expected, self.source = key, given, expected, source
        super().__init__(
            f"{key}={given!r} contradicts the {source}, made for {key}={expected!r}; leave "
            f"{key} unset (None) to follow the weights, or use weights=None for TV-L1 with a "
            "structure of your own")


class LoadedTVNet(NamedTuple):
    """What :func:`load_tvnet` returns."""

    #: The built network, in eval mode, on the CPU.
    network: Any
    #: Its structure and constants: every argument of TVNet the weights set.
    config: dict
    #: The weights that ran: a name of :data:`WEIGHTS`, a file path, or None (TV-L1).
    weights: str | None
    #: One line for humans: which weights, which structure.
    description: str


def _source(weights) -> tuple[str, str, Path, dict]:
    """``(identity, words, file, registry config)`` of ``weights``: ``"DEFAULT"`` (read here),
    a name of :data:`WEIGHTS` or a path to a file."""
    if weights == DEFAULT:
        weights = RECOMMENDED
    if isinstance(weights, str) and weights in WEIGHTS:
        entry = WEIGHTS[weights]
        return weights, f"weights {weights!r}", entry.path, dict(entry.config)
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, 'DEFAULT', a name of sktvnet.pretrained.WEIGHTS "
                        f"or a path, got {type(weights).__name__} {weights!r}")
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"weights={os.fspath(weights)!r} is neither 'DEFAULT', a bundled name "
                         f"({', '.join(sorted(WEIGHTS))}) nor an existing file; write one with "
                         "sktvnet.pretrained.save_weights")
    return os.fspath(path), f"weights file {os.fspath(path)!r}", path, {}


def check_against(params: dict, config: dict, source: str) -> None:
    """Raise :class:`WeightsMismatch` for the first of ``params`` (None: unset) that differs from
    the weights' ``config``; ``source`` names the weights."""
    for key, value in params.items():
        if value is None or key not in config:
            continue
        if key == "texture":
            value = canonical_texture(value)
        if value != config[key]:
            raise WeightsMismatch(key, value, config[key], source)


def load_tvnet(weights=DEFAULT, params: dict | None = None, **options) -> LoadedTVNet:
    """The one loader: ``weights`` to a built :class:`sktvnet.TVNet` of their structure.

    Parameters
    ----------
    weights : str, path or None, default="DEFAULT"
        ``"DEFAULT"`` (:data:`RECOMMENDED`, read now), a name of :data:`WEIGHTS`, a file written
        by :func:`save_weights`, or None for TV-L1's own filters and steps.
    params : dict, optional
        Structure and constants asked for (``n_iters``, ``texture``, ...; None: unset). With
        weights, an unset value follows the weights and a set one must equal the weights' (else
        :class:`WeightsMismatch`); without, unset values are :data:`FROZEN_CONFIG`'s.
    **options
        TVNet's other arguments (``train_u0``, ``fused``, ...), which weights do not set.

    Returns
    -------
    loaded : LoadedTVNet
        ``(network, config, weights, description)``. Every key of a registry entry's
        ``config`` (and of a file's) reaches TVNet as it is.

    Examples
    --------
    >>> from sktvnet.pretrained import load_tvnet
    >>> loaded = load_tvnet("tvnet-8-2-15", {"n_warps": None})
    >>> loaded.config["n_warps"], loaded.weights
    (2, 'tvnet-8-2-15')
    >>> print(load_tvnet(None, {"n_scales": 2}).description)
    TV-L1 (no weights): TVNet-2-1-50 (tau=0.25, ...)
    """
    from .network import TVNet

    params = {key: value for key, value in (params or {}).items() if value is not None}
    if weights is None:
        frozen = OPENCV_CONFIG if params.get("preset") == "opencv" else FROZEN_CONFIG
        config = {**frozen, **params}
        network = TVNet(**config, **options)
        return LoadedTVNet(network, config, None,
                           f"TV-L1 (no weights): {_describe(network_config(network))}")
    identity, words, path, registered = _source(weights)
    state, stored = load_weights(path)
    stored.pop("metadata")
    config = {**stored, **registered}
    config["texture"] = canonical_texture(config["texture"])
    check_against(params, config, words)
    network = TVNet(**config, **options)
    network.load_state_dict(state)
    return LoadedTVNet(network, config, identity, f"{words}: {_describe(config)}")


def save_weights(model, path, *, metadata: dict | None = None) -> None:
    """Write the state of a TVNet to a safetensors file that ``weights=`` and
    :func:`load_weights` read.

    Parameters
    ----------
    model : sktvnet.TVNet or fitted sktvnet.TVNetFlow
        The network, or an estimator holding it in ``model_``.
    path : str or os.PathLike
        Destination, written atomically (complete or not at all).
    metadata : dict, optional
        Extra JSON-serialisable information stored in the header (e.g. the recipe).

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet import TVNet
    >>> from sktvnet.pretrained import load_weights, save_weights
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> save_weights(TVNet(n_scales=2, n_iters=5), path)
    >>> state, config = load_weights(path)
    >>> config["n_scales"], config["n_iters"], sorted(state)[:2]
    (2, 5, ['centered_weight', 'divergence_weight'])
    """
    from safetensors.torch import save

    from .io import atomic_write

    network = getattr(model, "model_", model)
    if not hasattr(network, "state_dict") or not hasattr(network, "n_warps"):
        raise TypeError(f"save_weights expects a TVNet or a fitted TVNetFlow, "
                        f"got {type(model).__name__}")
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
              "config": json.dumps(network_config(network)),
              "metadata": json.dumps(metadata or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    with atomic_write(path) as handle:
        handle.write(save(state, metadata=header))


def load_weights(path) -> tuple[dict, dict]:
    """Read a file written by :func:`save_weights`: ``(state_dict, config)``.

    ``config`` holds the structure and constants of the network the state belongs to
    (``n_scales``, ``n_warps``, ``n_iters``, ``tau``, ``lmbda``, ``theta``, ``zoom_factor``,
    ``eps``, ``texture``, ``interpolation``, and any other key the file records; where a file
    predates a key, the value every file had then: False, 0, "bilinear") and
    ``"metadata"``. Raises ``ValueError`` for a file that is not one, one of a newer format,
    and one holding a NaN or infinite value (naming the tensor): such weights would give
    all-NaN flows without a word.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    data = Path(path).read_bytes()
    try:
        state = load(data)
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"]
        if header["format"] != FORMAT:
            raise ValueError(f"format {header['format']!r}")
        version = header["format_version"]
        if not version.isdigit():
            raise ValueError(f"format_version must be a whole number, got {version!r}")
        if int(version) > FORMAT_VERSION:
            raise ValueError(f"its format version is {version}, newer than this sktvnet reads "
                             f"({FORMAT_VERSION}): it needs a newer sktvnet")
        stored = json.loads(header["config"])
        missing = [key for key in CONFIG_KEYS if key not in stored and key not in _CONFIG_DEFAULTS]
        if missing:
            raise ValueError(f"its config lacks {', '.join(missing)}")
        config = {**_CONFIG_DEFAULTS, **stored,
                  "metadata": json.loads(header.get("metadata", "{}"))}
        config["texture"] = canonical_texture(config["texture"])
    except (SafetensorError, KeyError, TypeError, ValueError, UnicodeDecodeError,
            AttributeError) as exc:
        raise ValueError(f"{os.fspath(path)} is not a readable sktvnet weights file: {exc}"
                         ) from exc
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ValueError(f"{os.fspath(path)}: tensor {name!r} holds NaN or infinite values "
                             "(weights of a diverged training?); refusing them, since they "
                             "would give non-finite flows")
    return state, config
