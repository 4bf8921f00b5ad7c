"""sktvnet: TVNet and TV-L1 optical flow for scikit-learn users."""

from ._version import __version__
from .reference import tvl1_optical_flow

__all__ = ["__version__", "tvl1_optical_flow"]
