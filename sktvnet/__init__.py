"""sktvnet: TVNet and TV-L1 optical flow for scikit-learn users.

Public names only; everything else is private. The names are imported lazily (PEP 562): the
module that defines one is imported the first time it is used, so that ``import sktvnet``,
``sktvnet.reference``, ``sktvnet.io``, ``sktvnet.metrics`` and the ``sktvnet`` command load
neither torch nor scikit-learn until something needs them. When sktvnet is the one that loads
torch first, it chooses OpenMP's wait policy just before, as the command does
(:mod:`sktvnet._threads`: passive on a busy machine, unless the user set one).
"""

import importlib

from ._version import __version__

# Public name -> the submodule that defines it.
_HOMES = {
    "FlowHistogram": "estimators",
    "TVNet": "network",
    "TVNetActionClassifier": "estimators",
    "TVNetFlow": "estimators",
    "angular_error": "metrics",
    "endpoint_error": "metrics",
    "export_tvnet": "export",
    "flow_to_color": "visualization",
    "iter_video": "io",
    "load_stereo_motorcycle": "datasets",
    "load_pretrained": "estimators",
    "load_video_folder": "datasets",
    "make_flow_pairs": "datasets",
    "make_motion_videos": "datasets",
    "make_synthetic_pair": "datasets",
    "read_flo": "io",
    "read_video": "io",
    "save_png": "io",
    "tvl1_energy": "losses",
    "tvl1_optical_flow": "reference",
    "write_flo": "io",
    "write_flow_npz": "io",
    "write_flow_video": "io",
}

__all__ = ["__version__", *sorted(_HOMES)]


# The homes that import torch: before the first of them loads, the package applies the
# command's wait-policy rule (sktvnet._threads), as OpenMP reads it only when torch loads.
_TORCH_HOMES = {"estimators", "export", "losses", "network"}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'sktvnet' has no attribute {name!r}")
    if _HOMES[name] in _TORCH_HOMES:
        from ._threads import before_torch

        before_torch()
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
