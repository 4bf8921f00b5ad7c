"""Default data built from what ships with scikit-image (nothing downloads), and video folders.

* :func:`make_synthetic_pair` warps a real image by a known smooth field, so the flow is exact.
* :func:`make_flow_pairs` makes many such pairs from crops of real images, with train and test
  images kept apart: training data for TVNet and a held-out benchmark.
* :func:`load_stereo_motorcycle` is a real pair with ground truth: the Middlebury 2014 stereo
  pair bundled by scikit-image, whose disparity is a purely horizontal flow.
* :func:`make_motion_videos` makes short labelled videos whose class is a motion pattern of a
  texture cut from a real image, for action recognition without an action dataset; its
  ``difficulty="hard"`` preset adds sub-pixel motion, a panning camera, noise and flicker.
* :func:`load_heldout` is the canonical held-out benchmark: warped pairs (exact, with brightness
  changes and noise, with large motions), the motorcycle pair and real video pairs, from sources
  that nothing in sktvnet trains on.
* :func:`load_video_folder` lists an action dataset stored as one folder of videos per class
  (the UCF101 and HMDB51 layout), for the estimators to decode lazily.
* :func:`load_rawframes_folder` loads flows stored once in the rawframes layout of two-stream
  models (``sktvnet extract``'s output) as (X, y) for :class:`sktvnet.FlowHistogram`.
"""

from ._folders import VIDEO_EXTENSIONS, load_video_folder
from ._heldout import HELDOUT_IMAGES, HELDOUT_SETS, HELDOUT_VIDEOS, load_heldout
from ._images import SYNTHETIC_IMAGES
from ._motion import MOTION_CLASSES, make_motion_videos
from ._pairs import (
    FLOW_MOTIONS,
    FLOW_TEST_IMAGES,
    FLOW_TRAIN_IMAGES,
    load_stereo_motorcycle,
    make_flow_pairs,
    make_synthetic_pair,
)
from ._rawframes import load_rawframes_folder

# The constants above are importable from here too (the image lists, the motion classes), but the
# documented API is these functions.
__all__ = ["load_heldout", "load_rawframes_folder", "load_stereo_motorcycle", "load_video_folder",
           "make_flow_pairs", "make_motion_videos", "make_synthetic_pair"]
