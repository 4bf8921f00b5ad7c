"""sktvnet: TVNet and TV-L1 optical flow for scikit-learn users.

Public names only; everything else is private.
"""

from ._version import __version__
from .datasets import (
    load_stereo_motorcycle,
    load_video_folder,
    make_flow_pairs,
    make_motion_videos,
    make_synthetic_pair,
)
from .estimators import TVNetActionClassifier, TVNetFlow
from .io import (
    flow_to_color,
    iter_video,
    read_flo,
    read_video,
    save_png,
    write_flo,
    write_flow_npz,
    write_flow_video,
)
from .losses import tvl1_energy
from .metrics import angular_error, endpoint_error
from .network import TVNet
from .reference import tvl1_optical_flow

__all__ = [
    "__version__",
    "TVNet",
    "TVNetActionClassifier",
    "TVNetFlow",
    "angular_error",
    "endpoint_error",
    "flow_to_color",
    "iter_video",
    "load_stereo_motorcycle",
    "load_video_folder",
    "make_flow_pairs",
    "make_motion_videos",
    "make_synthetic_pair",
    "read_flo",
    "read_video",
    "save_png",
    "tvl1_energy",
    "tvl1_optical_flow",
    "write_flo",
    "write_flow_npz",
    "write_flow_video",
]
