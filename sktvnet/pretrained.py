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

import functools
import json
import os
from dataclasses import dataclass
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
               "texture", "compensate_brightness", "match_brightness", "median_filter", "preset",
               "tol", "interpolation")
# Keys that change what runs around the weights, not what they were trained for: an entry's value
# is only its default, and a value asked for replaces it rather than contradicting the weights.
OPTION_KEYS = ("match_brightness",)
# Values of the keys that files written before the key existed do not record.
_CONFIG_DEFAULTS = {"texture": False, "compensate_brightness": False,
                    "match_brightness": False, "median_filter": 0,
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
                 "compensate_brightness": False, "match_brightness": False, "median_filter": 0,
                 "preset": None, "tol": 0.0, "interpolation": "bilinear"}
#: TVNet as ``cv2.optflow.DualTVL1OpticalFlow_create()`` at its defaults, which
#: ``tvl1_optical_flow(preset="opencv")`` reproduces: OpenCV's method (``preset="opencv"``), 5
#: levels 0.8 apart, 5 warps, median filter 5, cubic warps, and OpenCV's stopping rule: at most
#: 300 iterations per warp (30 inner times 10 outer), fewer once the flow changes by less than
#: epsilon 0.01 (``tol``). ``weights=None`` with ``preset="opencv"`` starts from it
#: (``benchmarks/bench_opencv_preset.py`` measures how close it comes).
OPENCV_CONFIG = {**FROZEN_CONFIG, "n_scales": 5, "n_warps": 5, "n_iters": 300,
                 "zoom_factor": 0.8, "median_filter": 5, "preset": "opencv", "tol": 0.01,
                 "interpolation": "bicubic"}


def frozen_zoom_factor(n_scales: int) -> float:
    """``zoom_factor`` of a frozen TVNet whose ``n_scales`` is given without a zoom: the factor
    whose pyramid spans the depth of :data:`FROZEN_CONFIG`'s (10 levels 0.7 apart, a ratio of
    about 25 between the finest and the coarsest), and never below IPOL's 0.5, so that few
    levels still reach large motions: ``max(0.5, 0.7 ** (9 / (n_scales - 1)))``, two decimals.
    With 0.7 for every structure, TVNet-4-3-10 measured 0.103 px on held-out pairs against
    0.076 at 0.5.

    Examples
    --------
    >>> [frozen_zoom_factor(n) for n in (1, 4, 6, 8, 10, 12)]
    [0.5, 0.5, 0.53, 0.63, 0.7, 0.75]
    """
    if n_scales <= 1:
        return 0.5
    return round(max(0.5, 0.7 ** (9 / (n_scales - 1))), 2)


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
        What the state measures on the canonical held-out benchmark
        (:func:`sktvnet.datasets.load_heldout`): ``epe_<set>`` in pixels, ``warp_error_video``
        in grey levels, ``pairs_per_s_1_thread`` and ``pairs_per_s_2_threads`` at 240x320 (eager)
        and ``pairs_per_s_1_thread_compiled`` (the compiled path, warm).
        Written by ``benchmarks/bench_heldout.py`` into ``sktvnet/weights/metrics.json``; empty
        until it has run.
    description : str
        One sentence for humans.
    """

    name: str
    file: str
    config: dict
    train: str
    recipe: str
    description: str = ""

    @property
    def path(self) -> Path:
        """The bundled file."""
        return WEIGHTS_DIR / self.file

    @property
    def metrics(self) -> dict:
        """The held-out benchmark's figures of this entry (see the class docstring)."""
        return dict(_measured()["entries"].get(self.name, {}))

    @property
    def structure(self) -> str:
        """The paper's name of the structure, ``TVNet-<n_scales>-<n_warps>-<n_iters>``."""
        return structure_name(self.config)


_TVL1_CONSTANTS = {"tau": 0.25, "lmbda": 0.15, "theta": 0.3, "eps": 1e-10}
# The structure the bundled entries share: eight levels 0.6 apart, two warps of 15 iterations,
# IPOL's bicubic warps. They differ in what they do about brightness changes.
_TVNET_8_2_15 = {"n_scales": 8, "n_warps": 2, "n_iters": 15, **_TVL1_CONSTANTS,
                 "zoom_factor": 0.6, "interpolation": "bicubic", "texture": False,
                 "compensate_brightness": False}
_RECIPE = ("train='filters+steps' (the filters at a hundredth of the rate, the pre-smoothing at "
           "IPOL's sigma), EPE loss, Adam 0.02 with cosine decay, 300 steps of 2 whole pairs of "
           "make_flow_pairs(images='train'); a fifth held out, the best state kept")
# The pairs both entries train on (train_pretrained.RECIPE["pairs"]).
_PAIRS = "56 at 240x320 (motions up to 4 px) and 8 at 384x512 (up to 12 px)"

#: The bundled weights, by name.
WEIGHTS: dict[str, PretrainedWeights] = {
    entry.name: entry for entry in [
        PretrainedWeights(
            name="tvnet-8-2-15",
            file="tvnet-8-2-15.safetensors",
            config={**_TVNET_8_2_15, "match_brightness": True},
            train="filters+steps",
            recipe=f"python benchmarks/train_pretrained.py --name tvnet-8-2-15 (seed 0): "
                   f"{_RECIPE}: {_PAIRS}, exact warps",
            description="TVNet-8-2-15 on the frames themselves, trained on exact warps, "
                        "whose second frame's brightness is first matched to the first's "
                        "(match_brightness: a gain and an offset fitted on a coarse alignment "
                        "that brightness cannot mislead): more precise than TV-L1 at its "
                        "defaults on small and large motions, under exposure changes and on "
                        "real footage, at a multiple of its speed",
        ),
        PretrainedWeights(
            name="tvnet-8-2-15-texture",
            file="tvnet-8-2-15-texture.safetensors",
            config={**_TVNET_8_2_15, "texture": True},
            train="filters+steps",
            recipe=f"python benchmarks/train_pretrained.py --name tvnet-8-2-15-texture (seed 0): "
                   f"{_RECIPE}: {_PAIRS}, every pair with brightness changes up to 2% and "
                   "noise 0.005",
            description="TVNet-8-2-15 that solves every level on its texture, trained on pairs "
                        "with brightness changes and noise; for footage whose brightness "
                        "changes more than a gain and an offset describe (local flicker)",
        ),
    ]
}
#: The entry that ``weights="DEFAULT"`` (``TVNetFlow()``, ``sktvnet flow``) and
#: :func:`load_pretrained` use.
RECOMMENDED = "tvnet-8-2-15"
# What every entry measured on the canonical held-out benchmark, written by
# benchmarks/bench_heldout.py (package data): the registry shows it, nobody types it.
METRICS_FILE = WEIGHTS_DIR / "metrics.json"


@functools.lru_cache(maxsize=1)
def _measured() -> dict:
    try:
        return json.loads(METRICS_FILE.read_text())
    except FileNotFoundError:
        return {"entries": {}}


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
    the weights' ``config``; ``source`` names the weights. :data:`OPTION_KEYS` never
    contradict: they replace the weights' value."""
    for key, value in params.items():
        if value is None or key not in config or key in OPTION_KEYS:
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
        :class:`WeightsMismatch`), except :data:`OPTION_KEYS` (``match_brightness``), whose
        value replaces the weights'; without, unset values are :data:`FROZEN_CONFIG`'s, except
        ``zoom_factor`` when ``n_scales`` is given: :func:`frozen_zoom_factor`.
    **options
        TVNet's other arguments (``train_u0``, ``compiled``, ...), which weights do not set.

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
        if frozen is FROZEN_CONFIG and "n_scales" in params and "zoom_factor" not in params:
            params["zoom_factor"] = frozen_zoom_factor(params["n_scales"])
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
    config.update({key: params[key] for key in OPTION_KEYS if key in params})
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
