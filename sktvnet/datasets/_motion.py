"""Labelled motion videos for action recognition without an action dataset."""

from __future__ import annotations

import functools
import numbers

import numpy as np
from scipy import ndimage

from .._validation import check_int, check_real, check_size
from ._images import MAX_DRAWS, MIN_TEXTURE_STD, SYNTHETIC_IMAGES, _load_grey

MOTION_CLASSES = (
    "right", "left", "down", "up", "clockwise", "anticlockwise", "zoom_in", "zoom_out",
    "down_right", "up_left", "down_left", "up_right",
)
_DIRECTIONS = {
    "right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0),
    "down_right": (1.0, 1.0), "up_left": (-1.0, -1.0), "down_left": (-1.0, 1.0),
    "up_right": (1.0, -1.0),
}
# The moving object is a disc whose radius, at the middle frame, is this fraction of the shorter
# side of the frame, and whose centre is within this fraction of the frame size of the middle.
_RADIUS_RANGE = (0.28, 0.38)
_CENTRE_JITTER = 0.1
# Textures come from the bundled images resized so that their shorter side is this many times the
# longer side of the frames: a frame then shows a part of an image with structure at its scale.
_TEXTURE_ZOOM = 3
_MIN_VIDEO_SIDE = 16


@functools.lru_cache(maxsize=4)
def _texture_images(side: int) -> tuple[np.ndarray, ...]:
    """Every bundled image, grey float64, resized so that its shorter side is ``side`` pixels."""
    from skimage.transform import resize

    images = []
    for name in SYNTHETIC_IMAGES:
        grey = _load_grey(name)
        zoom = side / min(grey.shape)
        shape = (max(side, round(grey.shape[0] * zoom)), max(side, round(grey.shape[1] * zoom)))
        images.append(resize(grey, shape, order=1, anti_aliasing=zoom < 1, mode="reflect"))
    return tuple(images)


def _draw_patch(rng, images, size: int, exclude: int | None = None):
    """A random image (not ``exclude``) and the centre ``(row, col)`` of a textured square patch
    of side ``size`` in it."""
    for _ in range(MAX_DRAWS):
        index = rng.randint(len(images))
        if index == exclude:
            continue
        image = images[index]
        top = rng.randint(0, image.shape[0] - size + 1)
        left = rng.randint(0, image.shape[1] - size + 1)
        if image[top:top + size, left:left + size].std() >= MIN_TEXTURE_STD:
            break
    return index, image, (top + size / 2.0, left + size / 2.0)


def _check_speed(speed) -> tuple[float, float]:
    if isinstance(speed, numbers.Real) and not isinstance(speed, bool):
        low = high = check_real("speed", speed, low=0.0)
    elif isinstance(speed, (tuple, list)) and len(speed) == 2:
        low = check_real("speed[0]", speed[0], low=0.0)
        high = check_real("speed[1]", speed[1], low=0.0)
        if low > high:
            raise ValueError(f"speed must be (low, high) with low <= high, got {tuple(speed)}")
    else:
        raise TypeError(f"speed must be a positive number or a (low, high) pair, got {speed!r}")
    return low, high


def _motion_video(rng, kind: str, speed: float, n_frames: int, shape: tuple[int, int],
                  background_speed: float, images) -> np.ndarray:
    """One video ``(n_frames, H, W)`` of a textured disc moving by ``kind`` over a background.

    Everything is defined relative to the middle frame, so that the middle frame of every class
    has the same distribution (the disc is there at the same random place and size).
    """
    height, width = shape
    times = np.arange(n_frames, dtype=np.float64) - (n_frames - 1) / 2.0
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = rng.uniform(*_RADIUS_RANGE) * min(height, width)
    centre = (np.array([height, width]) / 2.0
              + rng.uniform(-_CENTRE_JITTER, _CENTRE_JITTER, 2) * np.array([height, width]))

    velocity, omega, rate = np.zeros(2), 0.0, 1.0  # (dx, dy) px/frame, rad/frame, scale/frame
    if kind in _DIRECTIONS:
        direction = np.asarray(_DIRECTIONS[kind])
        velocity = speed * direction / np.hypot(*direction)
    elif kind in ("clockwise", "anticlockwise"):
        # The rim moves at ``speed`` px per frame; a positive angle turns x towards y (down):
        # clockwise on screen.
        omega = (speed if kind == "clockwise" else -speed) / radius
    else:
        rate = 1.0 + speed / radius
        rate = rate if kind == "zoom_in" else 1.0 / rate

    heading = rng.uniform(0.0, 2 * np.pi)
    drift = rng.uniform(0.0, background_speed) * np.array([np.cos(heading), np.sin(heading)])
    # The disc shows the texture within ``radius`` of its centre at every frame (rotation and
    # zoom are about the centre, translation carries the texture along).
    patch = int(np.ceil(2 * radius)) + 2
    margin = int(np.ceil(background_speed * abs(times[0]))) + 1
    used, background, (bg_row, bg_col) = _draw_patch(
        rng, images, max(height, width) + 2 * margin)
    _, texture, (tex_row, tex_col) = _draw_patch(rng, images, patch, exclude=used)

    frames = np.empty((n_frames, height, width))
    for t, time in enumerate(times):
        # Content that moves by d per frame is the still picture sampled at x - t d.
        back = ndimage.map_coordinates(
            background,
            [rows - time * drift[1] + bg_row - height / 2.0,
             cols - time * drift[0] + bg_col - width / 2.0],
            order=1, mode="reflect",
        )
        c_row, c_col = centre[0] + time * velocity[1], centre[1] + time * velocity[0]
        dy, dx = rows - c_row, cols - c_col
        angle, scale = omega * time, rate ** time
        cos, sin = np.cos(angle), np.sin(angle)
        # The texture point q is shown at c + scale * R(angle) q: invert that map.
        obj = ndimage.map_coordinates(
            texture,
            [tex_row + (-sin * dx + cos * dy) / scale, tex_col + (cos * dx + sin * dy) / scale],
            order=1, mode="reflect",
        )
        alpha = np.clip(radius * scale - np.hypot(dx, dy) + 0.5, 0.0, 1.0)  # 1 px soft edge
        frames[t] = alpha * obj + (1.0 - alpha) * back
    return frames


def make_motion_videos(
    n_videos: int = 120,
    n_classes: int = 8,
    *,
    n_frames: int = 6,
    shape: tuple[int, int] = (48, 48),
    speed: float | tuple[float, float] = (1.0, 2.0),
    background_speed: float = 0.5,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Short videos whose class is a motion pattern, for action recognition without a dataset.

    Each video shows a disc of texture cut from a real image (the images bundled with
    scikit-image) moving over a background cut from another one. The class is the disc's motion
    (:data:`MOTION_CLASSES`, in label order): a translation (right, left, down, up, then the
    diagonals), a rotation (clockwise, anticlockwise) or a zoom (in, out). Everything else is
    drawn independently of the class: the images and the places they are cut from, the disc's
    size and position, its speed, and the background's drift (a slow camera pan in a random
    direction). The motion is defined around the middle frame, where the disc sits at the same
    random place with the same random size whatever the class: appearance alone cannot tell the
    classes apart, motion can.

    Parameters
    ----------
    n_videos : int, default=120
        Number of videos; the classes are balanced (they differ in size by at most one).
    n_classes : int, default=8
        Number of classes, from 2 to 12: the first ``n_classes`` of :data:`MOTION_CLASSES`.
    n_frames : int, default=6
        Frames per video (>= 2). The motion is constant, so any clip of a longer video shows it.
    shape : tuple of 2 ints, default=(48, 48)
        Frame size ``(H, W)``, at least 16 x 16.
    speed : float or (float, float), default=(1.0, 2.0)
        Speed of the disc in pixels per frame, drawn uniformly from the range per video: the
        speed of its centre for a translation, of its rim for a rotation or a zoom.
    background_speed : float, default=0.5
        Largest speed of the background in pixels per frame (each video draws a speed up to it
        and a direction); 0 keeps the background still.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to every pixel (frames are in [0, 1]).
    random_state : int, RandomState instance or None, default=None
        Seed of everything random (scikit-learn's convention).

    Returns
    -------
    X : ndarray of shape (n_videos, n_frames, H, W), float32
        Grey videos, values in [0, 1].
    y : ndarray of shape (n_videos,), int64
        Labels: ``MOTION_CLASSES[y[i]]`` is the motion of video ``i``.

    Raises
    ------
    ValueError
        For out-of-range arguments.
    TypeError
        For arguments of the wrong type.

    See Also
    --------
    sktvnet.TVNetActionClassifier : Learns these classes from the videos.
    load_video_folder : Real action datasets stored as folders.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.datasets import MOTION_CLASSES, make_motion_videos
    >>> X, y = make_motion_videos(16, n_classes=8, random_state=0)
    >>> X.shape, X.dtype, y.shape
    ((16, 6, 48, 48), dtype('float32'), (16,))
    >>> np.bincount(y).tolist()
    [2, 2, 2, 2, 2, 2, 2, 2]
    >>> MOTION_CLASSES[:4]
    ('right', 'left', 'down', 'up')
    """
    from sklearn.utils import check_random_state

    n_videos = check_int("n_videos", n_videos)
    n_classes = check_int("n_classes", n_classes, low=2)
    if n_classes > len(MOTION_CLASSES):
        raise ValueError(
            f"n_classes must be at most {len(MOTION_CLASSES)} (the motion patterns "
            f"{', '.join(MOTION_CLASSES)}), got {n_classes}"
        )
    n_frames = check_int("n_frames", n_frames, low=2)
    height, width = check_size(shape)
    if min(height, width) < _MIN_VIDEO_SIDE:
        raise ValueError(
            f"shape must be at least ({_MIN_VIDEO_SIDE}, {_MIN_VIDEO_SIDE}) so that the moving "
            f"disc shows texture, got {(height, width)}"
        )
    low, high = _check_speed(speed)
    background_speed = check_real("background_speed", background_speed, low=0.0,
                                        low_open=False)
    noise = check_real("noise", noise, low=0.0, low_open=False)
    rng = check_random_state(random_state)

    images = _texture_images(_TEXTURE_ZOOM * max(height, width))
    labels = rng.permutation(np.arange(n_videos) % n_classes).astype(np.int64)
    X = np.empty((n_videos, n_frames, height, width), dtype=np.float32)
    for i, label in enumerate(labels):
        video = _motion_video(rng, MOTION_CLASSES[label], rng.uniform(low, high), n_frames,
                              (height, width), background_speed, images)
        if noise:
            video += rng.normal(0.0, noise, video.shape)
        X[i] = np.clip(video, 0.0, 1.0)
    return X, labels

