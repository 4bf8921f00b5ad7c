"""sktvnet: TVNet and TV-L1 optical flow for scikit-learn users.

Public names only; everything else is private.
"""

from ._version import __version__
from .datasets import load_stereo_motorcycle, make_synthetic_pair
from .io import flow_to_color, read_flo, save_png, write_flo
from .metrics import angular_error, endpoint_error
from .reference import tvl1_optical_flow

__all__ = [
    "__version__",
    "angular_error",
    "endpoint_error",
    "flow_to_color",
    "load_stereo_motorcycle",
    "make_synthetic_pair",
    "read_flo",
    "save_png",
    "tvl1_optical_flow",
    "write_flo",
]
