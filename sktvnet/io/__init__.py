"""Reading and writing videos, flows and images (NumPy, Pillow and PyAV; never torch).

One format per module: atomic writes (``_atomic``), the Middlebury ``.flo`` format (``_flo``),
image files (``_image``), videos and image sequences (``_video``), flow stacks written as they
are computed, as ``.npz`` or colour-coded video (``_writers``), and the rawframes folders of
two-stream action models, flows as quantised JPEG pairs (``_rawframes``). The pictures of flows
themselves are made by :mod:`sktvnet.visualization`.

Every writer here is atomic: the data go to a temporary file in the destination folder, which
then replaces the destination in one ``os.replace``, so an interrupted write never leaves a
half-written file under the final name.
"""

from ._atomic import atomic_write, remove_temporaries
from ._flo import read_flo, write_flo
from ._image import IMAGE_EXTENSIONS, save_png
from ._rawframes import (DEFAULT_BOUND, RawframesWriter, dequantize_flow, is_rawframes_flow,
                         quantize_flow, read_rawframes, remove_partial_folders, write_rawframes)
from ._video import VideoInfo, iter_video, probe_video, read_video
from ._writers import FlowNpzWriter, FlowVideoWriter, write_flow_npz, write_flow_video

__all__ = [
    "DEFAULT_BOUND",
    "IMAGE_EXTENSIONS",
    "FlowNpzWriter",
    "FlowVideoWriter",
    "RawframesWriter",
    "VideoInfo",
    "atomic_write",
    "dequantize_flow",
    "is_rawframes_flow",
    "iter_video",
    "probe_video",
    "quantize_flow",
    "read_flo",
    "read_rawframes",
    "read_video",
    "remove_partial_folders",
    "remove_temporaries",
    "save_png",
    "write_flo",
    "write_flow_npz",
    "write_flow_video",
    "write_rawframes",
]
