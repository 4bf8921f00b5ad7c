"""Video input for the estimators: validation, lazy decoding, grey conversion and pair batching.

X is an array ``(n_videos, T, H, W)`` or ``(n_videos, T, H, W, C)``, a list of such per-video arrays
(ragged T or size allowed) or a list of video file paths decoded lazily (the estimators' docstrings
and the user guide describe the same forms).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .. import _core
from .._validation import check_frame_side

_PATH_TYPES = (str, bytes, os.PathLike)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def check_videos(X, name: str = "X") -> list:
    """Return X as a list of per-video sources (an array ``(T, H, W[, C])`` or a path).

    Arrays are checked here (shape, dtype, finiteness); paths are checked when decoded.
    """
    if isinstance(X, _PATH_TYPES):
        raise TypeError(
            f"{name} must be a list of videos; got a single path {X!r}: wrap it in a list"
        )
    if isinstance(X, np.ndarray) or hasattr(X, "__array__") and not isinstance(X, Sequence):
        X = np.asarray(X)
        # A last axis of 1 or 3 is a colour axis, not a width: frames are at least 4 pixels wide.
        single_colour = X.ndim == 4 and X.shape[-1] in (1, 3)
        if X.ndim not in (4, 5) or single_colour:
            hint = (" (a single video? wrap it in a list)" if X.ndim == 3 or single_colour else
                    " (2-D data is not video: each sample must be a sequence of frames)"
                    if X.ndim == 2 else "")
            raise ValueError(
                f"{name} must be an array (n_videos, T, H, W) or (n_videos, T, H, W, C), a list "
                f"of videos or a list of video paths; got an array of shape {X.shape}{hint}"
            )
        videos = list(X)
    elif isinstance(X, Sequence):
        videos = list(X)
    else:
        raise TypeError(
            f"{name} must be an array of videos, a list of videos or a list of video paths; "
            f"got {type(X).__name__}"
        )
    if not videos:
        raise ValueError(f"{name} holds no video (empty input)")
    return [v if isinstance(v, _PATH_TYPES) else check_video(v, f"{name}[{i}]")
            for i, v in enumerate(videos)]


def check_video(video, name: str) -> np.ndarray:
    """Check one video array ``(T, H, W)`` or ``(T, H, W, C)`` with C in {1, 3}."""
    video = np.asarray(video)
    if video.dtype == object or video.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold real numbers (uint8 or float frames), got {_describe(video)}"
        )
    if video.ndim == 4 and video.shape[-1] == 1:
        video = video[..., 0]
    if not (video.ndim == 3 or (video.ndim == 4 and video.shape[-1] == 3)):
        raise ValueError(
            f"{name} must be a video (T, H, W) or (T, H, W, C) with C = 1 or 3, "
            f"got {_describe(video)}"
        )
    if video.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 frames to make a pair, got T = {video.shape[0]}")
    check_frame_side(*video.shape[1:3], name)
    if video.dtype.kind == "f" and not np.isfinite(video).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return video


def decode(source, name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """One video as a checked array ``(T, H, W[, 3])`` in its own dtype: a path is decoded here
    (resized to ``size`` while decoding, if given); an array is returned as it is."""
    if isinstance(source, _PATH_TYPES):
        from ..io import read_video

        source = check_video(read_video(source, frame_shape=size),
                             f"{name} ({os.fsdecode(source)})")
    return source


def as_frames(video: np.ndarray, *, colour: bool = False,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """Frames ``(T, H, W[, 3])`` as float32: grey ``(T, H, W)``, or with ``colour`` RGB
    ``(T, H, W, 3)`` (a grey video gets three equal channels); resized to ``size`` (bilinear,
    antialiased, as :func:`sktvnet.io.read_video` resizes) when it differs."""
    if video.dtype.kind == "f" and video.size and np.abs(video).max() > 1e30:
        # Beyond float32's range: map the video affinely into [0, 1] in float64 first. Every pair
        # is scaled jointly to [0, 255] anyway, so an affine map of the whole video changes nothing.
        low, high = video.min(), video.max()
        video = (video.astype(np.float64) - low) / ((high - low) or 1.0)
    if video.ndim == 4 and not colour:
        video = video.astype(np.float32) @ np.asarray(_core.LUMA_RGB, dtype=np.float32)
    elif video.ndim == 3 and colour:
        video = np.repeat(video[..., None], 3, axis=-1)
    video = np.ascontiguousarray(video, dtype=np.float32)
    if size is not None and tuple(video.shape[1:3]) != tuple(size):
        import torch
        import torch.nn.functional as F

        frames = torch.from_numpy(video)
        frames = frames.permute(0, 3, 1, 2) if colour else frames[:, None]
        frames = F.interpolate(frames, size=tuple(size), mode="bilinear", align_corners=False,
                               antialias=True)
        frames = frames.permute(0, 2, 3, 1) if colour else frames[:, 0]
        video = np.ascontiguousarray(frames.numpy())
    return video


def load_video(source, name: str) -> np.ndarray:
    """Frames of one video as grey float32 ``(T, H, W)``; paths are decoded here."""
    return as_frames(decode(source, name))


def check_flows(y, videos: list, name: str = "y") -> list:
    """Check ground-truth flows: one ``(T-1, 2, H, W)`` array per video of known shape."""
    if isinstance(y, np.ndarray) and y.dtype != object:
        flows = list(y)
    elif isinstance(y, Sequence):
        flows = list(y)
    else:
        raise TypeError(f"{name} must be an array or list of flows (T-1, 2, H, W), got {type(y).__name__}")
    if len(flows) != len(videos):
        raise ValueError(f"{name} must hold one flow stack per video: {len(videos)} videos, got {len(flows)}")
    out = []
    for i, (flow, video) in enumerate(zip(flows, videos)):
        flow = np.asarray(flow, dtype=np.float32)
        if not isinstance(video, np.ndarray):
            out.append(flow)
            continue
        expected = (video.shape[0] - 1, 2) + video.shape[1:3]
        if flow.shape != expected:
            raise ValueError(f"{name}[{i}] must have shape {expected} for its video, got {flow.shape}")
        out.append(flow)
    return out


def batches_by_size(items, size_of, batch_size: int | None = None) -> list[list]:
    """``items`` grouped by ``size_of(item)`` (frames of one size stack into one tensor), in
    the order each size first appears, each group cut into batches of at most ``batch_size``
    (None: whole groups).

    >>> batches_by_size([(0, 3), (1, 4), (2, 3), (3, 3)], lambda item: item[1], 2)
    [[(0, 3), (2, 3)], [(3, 3)], [(1, 4)]]
    """
    groups: dict = {}
    for item in items:
        groups.setdefault(size_of(item), []).append(item)
    if batch_size is None:
        return list(groups.values())
    return [group[start:start + batch_size] for group in groups.values()
            for start in range(0, len(group), batch_size)]


def stack_or_list(arrays: list):
    """One array when every item has the same shape, else the list (ragged videos)."""
    if len({a.shape for a in arrays}) == 1:
        return np.stack(arrays)
    return arrays
