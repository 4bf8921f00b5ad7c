"""Small media generated for the video and command-line tests, so that no test needs a download.

Imported by the test modules (pytest puts ``tests/`` on ``sys.path``); not a test module itself.
"""

import os

import numpy as np
from scipy import ndimage

# Container format and a codec every FFmpeg build has, by extension; ffv1 in mkv is lossless.
_CONTAINERS = {".mp4": "mp4", ".avi": "avi", ".mkv": "matroska", ".webm": "webm"}


def moving_texture(n_frames=8, height=32, width=48, *, dx=1, dy=0, seed=0):
    """RGB frames ``(T, H, W, 3)`` uint8 of a smooth random texture moving ``(dx, dy)`` px a frame.

    ``frame[t + 1][y + dy, x + dx] == frame[t][y, x]``: the flow of every pair is ``u = dx``,
    ``v = dy`` (away from the borders that the motion uncovers).
    """
    rng = np.random.default_rng(seed)
    margin = n_frames * max(abs(dx), abs(dy)) + 1
    texture = np.stack(
        [ndimage.gaussian_filter(rng.random((height + 2 * margin, width + 2 * margin)), 2)
         for _ in range(3)], axis=-1)
    texture = (texture - texture.min()) / (texture.max() - texture.min()) * 255
    frames = []
    for t in range(n_frames):
        top, left = margin - t * dy, margin - t * dx
        frames.append(texture[top:top + height, left:left + width])
    return np.round(np.stack(frames)).astype(np.uint8)


def write_video(path, frames, *, codec=None, rate=25, options=None):
    """Encode ``frames`` (T, H, W, 3) uint8 with PyAV.

    The codec defaults to H.264 in mp4 (MPEG-4 part 2 where the build lacks x264), ffv1 (lossless)
    in mkv, MPEG-4 part 2 in avi and VP9 in webm.
    """
    import av

    extension = os.path.splitext(os.fspath(path))[1]
    if codec is None:
        codec = {".mp4": "libx264" if "libx264" in av.codecs_available else "mpeg4",
                 ".mkv": "ffv1", ".avi": "mpeg4", ".webm": "libvpx-vp9"}[extension]
    with av.open(os.fspath(path), "w", format=_CONTAINERS[extension]) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = 4_000_000
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
