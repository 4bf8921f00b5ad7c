"""Video decoding with PyAV, and image sequences read as videos: whole, in chunks, or probed."""

from __future__ import annotations

import fractions
import numbers
import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from .._validation import check_path
from ._atomic import PathLike
from ._image import _check_frame_shape, _image_files, _image_frames, _resized, _target_size

# A container may declare a couple of frames more than its decoder returns (edit lists drop a
# leading frame or two); more missing frames than this mean the file was cut short.
_MISSING_FRAMES_TOLERATED = 2
# The decoded frames may end this fraction of the declared duration early (or two frame periods,
# whichever is longer) before the file is called truncated.
_MISSING_DURATION_TOLERATED = 0.05


class VideoInfo(NamedTuple):
    """What is known about a video before decoding it (:func:`probe_video`).

    Attributes
    ----------
    n_frames : int or None
        The number of frames the container declares, or estimates from its duration; the number
        of images of an image sequence. ``None`` when the file tells neither.
    fps : fractions.Fraction or None
        The frame rate; ``None`` for image sequences and files that do not declare one.
    """

    n_frames: int | None
    fps: fractions.Fraction | None


def _import_av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - PyAV is installed with sktvnet[video]
        raise ImportError(
            "reading and writing videos needs PyAV: pip install av (or sktvnet[video])"
        ) from exc
    return av


def _reason(exc: Exception) -> str:
    """FFmpeg's own words for an error, without PyAV's errno and file name decorations."""
    return getattr(exc, "strerror", None) or str(exc)


def _open_video(path: str):
    """The PyAV container of ``path`` and its first video stream, or a ValueError naming it."""
    av = _import_av()
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ValueError(
            f"cannot read {path!r} as a video ({_reason(exc)}): expected a video file that FFmpeg "
            "decodes (mp4, avi, webm, mkv, ...) or a folder of PNG/JPEG frames"
        ) from exc
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path!r} holds no video stream")
    return container, container.streams.video[0]


def _declared_span(container, stream) -> tuple[float, float] | None:
    """Start and end times (s) of the video stream according to the file's header, if known."""
    if stream.duration and stream.time_base:
        start = (stream.start_time or 0) * stream.time_base
        return float(start), float(start + stream.duration * stream.time_base)
    # The container's duration covers every stream: trust it only when there is no other stream.
    if container.duration and len(container.streams) == 1:
        start = (container.start_time or 0) / 1e6
        return start, start + container.duration / 1e6
    return None


def _check_complete(path: str, container, stream, count: int, last_time: float | None) -> None:
    """Raise if fewer frames were decoded than the header promises (a file cut short)."""
    if count == 0:
        raise ValueError(f"{path!r} holds no decodable video frame")
    declared = stream.frames
    if declared and count + _MISSING_FRAMES_TOLERATED < declared:
        raise ValueError(
            f"{path!r} is truncated or corrupt: its header declares {declared} frames, "
            f"only {count} could be decoded"
        )
    span = _declared_span(container, stream)
    rate = stream.average_rate or stream.guessed_rate
    if span is None or last_time is None or not rate:
        return
    start, expected_end = span
    period = 1.0 / float(rate)
    decoded_end = last_time + period
    slack = max(2 * period, _MISSING_DURATION_TOLERATED * (expected_end - start))
    if decoded_end < expected_end - slack:
        raise ValueError(
            f"{path!r} is truncated or corrupt: its header declares {expected_end:.2f} s of "
            f"video, the decoded frames end at {decoded_end:.2f} s ({count} frames)"
        )


def _video_frames(path: str, frame_shape) -> Iterator[np.ndarray]:
    """Decode a video file frame by frame as RGB ``(H, W, 3)`` uint8."""
    av = _import_av()
    container, stream = _open_video(path)
    with container:
        stream.thread_type = "AUTO"  # frame-parallel decoding; frames still arrive in order
        count, last_time, shape = 0, None, None
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                if shape is None:
                    shape = rgb.shape[:2]
                    size = _target_size(*shape, frame_shape)
                elif rgb.shape[:2] != shape:
                    raise ValueError(
                        f"{path!r} changes frame size at frame {count}, from {shape[0]}x{shape[1]} "
                        f"to {rgb.shape[0]}x{rgb.shape[1]}; re-encode it at one size"
                    )
                count += 1
                if frame.time is not None:
                    last_time = float(frame.time)
                yield _resized(rgb, size)
        except av.FFmpegError as exc:
            raise ValueError(
                f"{path!r} is corrupt or truncated: decoding failed after {count} frames "
                f"({_reason(exc)})"
            ) from exc
        _check_complete(path, container, stream, count, last_time)


def _image_list(path) -> list[str] | None:
    """The files of ``path`` when it is a list or tuple of image files, else None."""
    if not isinstance(path, (list, tuple)):
        return None
    if not path:
        raise ValueError("an image sequence given as a list needs at least one file, got []")
    return [check_path(p, "every image of the list") for p in path]


def _frames(path, frame_shape) -> Iterator[np.ndarray]:
    """Frames of a video file, an image folder or a list of image files; the path is checked now,
    the data when read."""
    frame_shape = _check_frame_shape(frame_shape)
    files = _image_list(path)
    if files is not None:
        return _image_frames(files, frame_shape)
    path = check_path(path)
    if os.path.isdir(path):
        return _image_frames(_image_files(path), frame_shape)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such video file or image folder: {path!r}")
    return _video_frames(path, frame_shape)


def probe_video(path: PathLike | Sequence[PathLike]) -> VideoInfo:
    """Frame count and rate of a video file or image sequence, without decoding its frames.

    Parameters
    ----------
    path : str or os.PathLike, or a list of them
        As for :func:`read_video`: a video file, a folder of images or a list of image files.

    Returns
    -------
    info : VideoInfo
        ``(n_frames, fps)``. A video's count is its header's, or is estimated from its duration
        (``None`` when neither is known); image sequences count their files and have no rate.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_video`, for a path that does not exist or a file FFmpeg cannot open.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import probe_video, save_png
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for t in range(3):
    ...         save_png(os.path.join(folder, f"{t}.png"), np.zeros((4, 4), np.uint8))
    ...     probe_video(folder)
    VideoInfo(n_frames=3, fps=None)
    """
    files = _image_list(path)
    if files is not None:
        return VideoInfo(len(files), None)
    path = check_path(path)
    if os.path.isdir(path):
        return VideoInfo(len(_image_files(path)), None)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such video file or image folder: {path!r}")
    container, stream = _open_video(path)
    with container:
        rate = stream.average_rate or stream.guessed_rate or None
        n_frames = stream.frames or None
        span = _declared_span(container, stream)
        if n_frames is None and span is not None and rate:
            n_frames = max(1, round((span[1] - span[0]) * float(rate)))
        return VideoInfo(n_frames, fractions.Fraction(rate) if rate else None)


def _chunks(frames: Iterator[np.ndarray], chunk_size: int, overlap: int) -> Iterator[np.ndarray]:
    """Group frames into arrays of ``chunk_size``, each starting with the last ``overlap`` frames
    of the previous one."""
    chunk: list[np.ndarray] = []
    yielded = False
    try:
        for frame in frames:
            chunk.append(frame)
            if len(chunk) == chunk_size:
                yield np.stack(chunk)
                yielded = True
                chunk = chunk[chunk_size - overlap:] if overlap else []
        # After the first chunk, a remainder made only of repeated frames holds nothing new.
        if chunk and (not yielded or len(chunk) > overlap):
            yield np.stack(chunk)
    finally:
        frames.close()


def read_video(
    path: PathLike | Sequence[PathLike], *, frame_shape: tuple[int | None, int | None] | None = None
) -> np.ndarray:
    """Decode a whole video, or a sequence of images, into one array.

    Parameters
    ----------
    path : str or os.PathLike, or a list of them
        A video file that FFmpeg decodes through PyAV (mp4, avi, webm, mkv, mov, ...), or a folder
        of PNG/JPEG frames taken in natural name order (``frame2.png`` before ``frame10.png``;
        hidden files and other extensions are ignored), or a list of image files in time order.
    frame_shape : (height, width), optional
        Size of the returned frames; either side may be ``None`` to keep the aspect ratio.
        Frames are resized with Pillow's bilinear filter, antialiased when shrinking.

    Returns
    -------
    frames : ndarray of shape (T, H, W, 3), uint8
        RGB frames in display order; grey, palette and RGBA images are converted to RGB.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` cannot be decoded (not a video, corrupt, truncated: fewer frames or a shorter
        duration than its header declares), a folder holds no image, or frames differ in size.
        The message names the file.

    See Also
    --------
    iter_video : The same frames in chunks, for videos too long to hold in memory.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_video, save_png
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for t in range(3):
    ...         frame = np.full((32, 48, 3), 80 * t, np.uint8)
    ...         save_png(os.path.join(folder, f"{t:06d}.png"), frame)
    ...     frames = read_video(folder)
    ...     small = read_video(folder, frame_shape=(16, None))
    >>> frames.shape, frames.dtype, frames[:, 0, 0, 0].tolist()
    ((3, 32, 48, 3), dtype('uint8'), [0, 80, 160])
    >>> small.shape
    (3, 16, 24, 3)
    """
    return np.stack(list(_frames(path, frame_shape)))


def iter_video(
    path: PathLike | Sequence[PathLike],
    *,
    chunk_size: int = 64,
    overlap: int = 0,
    frame_shape: tuple[int | None, int | None] | None = None,
) -> Iterator[np.ndarray]:
    """Decode a video, or a folder of images, in chunks of frames: memory bounded by the chunk.

    Parameters
    ----------
    path : str or os.PathLike, or a list of them
        A video file, a folder of PNG/JPEG frames or a list of image files, as for
        :func:`read_video`.
    chunk_size : int, default=64
        Frames per chunk (the last chunk may hold fewer).
    overlap : int, default=0
        Frames each chunk repeats from the end of the previous one, ``0 <= overlap < chunk_size``.
        With ``overlap=0`` the chunks partition the video (``np.concatenate`` gives
        :func:`read_video`'s array); with ``overlap=1`` the consecutive pairs ``(t, t+1)`` of all
        chunks are every pair of the video, each exactly once.
    frame_shape : (height, width), optional
        As for :func:`read_video`.

    Yields
    ------
    chunk : ndarray of shape (n, H, W, 3), uint8
        ``n <= chunk_size`` consecutive RGB frames.

    Raises
    ------
    FileNotFoundError
        At the call, if ``path`` does not exist.
    ValueError
        As :func:`read_video`. Decoding happens during the iteration, so a corrupt or truncated
        file raises there, after the chunks decoded before the damage were yielded.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import iter_video, save_png
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for t in range(7):
    ...         save_png(os.path.join(folder, f"{t}.png"), np.full((8, 8, 3), t, np.uint8))
    ...     plain = [c[:, 0, 0, 0].tolist() for c in iter_video(folder, chunk_size=3)]
    ...     pairs = [c[:, 0, 0, 0].tolist() for c in iter_video(folder, chunk_size=3, overlap=1)]
    >>> plain
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> pairs
    [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    """
    if (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
            or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if (isinstance(overlap, bool) or not isinstance(overlap, numbers.Integral)
            or not 0 <= overlap < chunk_size):
        raise ValueError(
            f"overlap must be an integer in [0, chunk_size - 1] = [0, {chunk_size - 1}], "
            f"got {overlap!r}"
        )
    return _chunks(_frames(path, frame_shape), int(chunk_size), int(overlap))


# --------------------------------------------------------------------------------------------
