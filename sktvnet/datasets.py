"""Default data built from what ships with scikit-image (nothing downloads), and video folders.

* :func:`make_synthetic_pair` warps a real image by a known smooth field, so the flow is exact.
* :func:`make_flow_pairs` makes many such pairs from crops of real images, with train and test
  images kept apart: training data for TVNet and a held-out benchmark.
* :func:`load_stereo_motorcycle` is a real pair with ground truth: the Middlebury 2014 stereo
  pair bundled by scikit-image, whose disparity is a purely horizontal flow.
* :func:`make_motion_videos` makes short labelled videos whose class is a motion pattern of a
  texture cut from a real image, for action recognition without an action dataset.
* :func:`load_video_folder` lists an action dataset stored as one folder of videos per class
  (the UCF101 and HMDB51 layout), for the estimators to decode lazily.
"""

from __future__ import annotations

import functools
import numbers
import os

import numpy as np
from scipy import ndimage

from . import _core
from ._validation import check_int, check_real, check_size
from .io import IMAGE_EXTENSIONS

__all__ = ["load_stereo_motorcycle", "load_video_folder", "make_flow_pairs", "make_motion_videos",
           "make_synthetic_pair"]

# scikit-image images stored inside its wheel (skimage.data.data_dir), so loading them never
# downloads anything; grey ones and RGB ones (converted to grey).
SYNTHETIC_IMAGES = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
    "text",
)
_RANDOM_MAX_DISPLACEMENT = 5.0
# The random field is a sum of this many plane sinusoids per component, with at most this many
# cycles across the image, so that it stays smooth whatever the image size.
_RANDOM_N_WAVES = 4
_RANDOM_MAX_CYCLES = 1.5


def _load_grey(image) -> np.ndarray:
    """A named scikit-image image or an array, as a float64 grey image ``(H, W)``."""
    from skimage import data
    from skimage.util import img_as_float

    if isinstance(image, str):
        if image not in SYNTHETIC_IMAGES:
            raise ValueError(
                f"image must be one of {', '.join(SYNTHETIC_IMAGES)} (bundled with scikit-image) "
                f"or an array, got {image!r}"
            )
        array = getattr(data, image)()
        name = f"skimage.data.{image}()"
    else:
        array = np.asarray(image)
        name = "image"
        if array.dtype.kind not in "iuf":
            raise TypeError(
                f"image must be a name or an array of real numbers, got dtype {array.dtype}"
            )
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(
            f"{name} must be a grey image (H, W) or a colour image (H, W, 3), "
            f"got shape {array.shape}"
        )
    array = img_as_float(array).astype(np.float64, copy=False)
    if array.ndim == 3:
        array = array @ np.asarray(_core.LUMA_RGB)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _sine_flow(height: int, width: int) -> np.ndarray:
    """u = 2 + 1.5 sin(2 pi y / H), v = -1 + cos(2 pi x / W): 0.5 to 3.5 px right, 0 to 2 px up."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u = 2.0 + 1.5 * np.sin(2 * np.pi * y / height)
    v = -1.0 + np.cos(2 * np.pi * x / width)
    return np.stack([u, v])


def _random_flow(height: int, width: int, rng: np.random.RandomState) -> np.ndarray:
    """A smooth random field: per component a random offset plus a few low-frequency waves.

    Its largest magnitude is 1; the caller scales it.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    flow = np.empty((2, height, width))
    for component in flow:
        component[...] = rng.uniform(-1.0, 1.0)
        for _ in range(_RANDOM_N_WAVES):
            fy, fx = rng.uniform(-_RANDOM_MAX_CYCLES, _RANDOM_MAX_CYCLES, size=2)
            phase = rng.uniform(0.0, 2 * np.pi)
            wave = np.sin(2 * np.pi * (fy * y / height + fx * x / width) + phase)
            component += rng.normal() * wave
    return flow / np.hypot(flow[0], flow[1]).max()


def make_synthetic_pair(
    image: str | np.ndarray = "camera",
    shape: tuple[int, int] | None = (240, 320),
    *,
    flow: str | np.ndarray = "sine",
    max_displacement: float | None = None,
    random_state: int | np.random.RandomState | None = None,
    dtype: type | np.dtype = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pair of frames related by a known smooth flow: a real image and its exact warp.

    ``image1`` is the image (grey, resized to ``shape``); ``image0`` samples it at ``x + w(x)`` with
    cubic splines, ``image0 = scipy.ndimage.map_coordinates(image1, [y + v, x + u], order=3,
    mode="nearest")``, so ``image0(x) = image1(x + w(x))`` holds exactly, which is sktvnet's flow
    convention. Where ``x + w`` leaves the image, the border pixel is repeated.

    Parameters
    ----------
    image : str or array-like of shape (H0, W0) or (H0, W0, 3), default="camera"
        One of the images bundled with scikit-image: ``"astronaut"``, ``"brick"``,
        ``"camera"``, ``"cell"``, ``"chelsea"``, ``"clock"``, ``"coffee"``, ``"coins"``,
        ``"grass"``, ``"gravel"``, ``"hubble_deep_field"``, ``"immunohistochemistry"``,
        ``"moon"``, ``"page"``, ``"retina"``, ``"rocket"``, ``"text"``, or an image array.
        Integer images are scaled to [0, 1], float images are used as they are; colour becomes
        grey with the Rec. 601 weights.
    shape : tuple of 2 ints or None, default=(240, 320)
        Size ``(H, W)`` of the frames; the image is resized (with anti-aliasing) to it. ``None``
        keeps the image's own size.
    flow : {"sine", "random"} or array-like of shape (2, H, W), default="sine"
        The motion ``w = (u, v)`` in pixels. ``"sine"`` is ``u = 2 + 1.5 sin(2 pi y / H)``,
        ``v = -1 + cos(2 pi x / W)`` (0.5 to 3.5 px to the right, 0 to 2 px up); ``"random"`` is a
        smooth field drawn from ``random_state`` (a random offset plus four plane waves of at most
        1.5 cycles across the image per component); an array is used as given.
    max_displacement : float, optional
        If given, the field is scaled so that its largest magnitude is this many pixels. Defaults
        to 5 for ``"random"`` and to no scaling otherwise.
    random_state : int, RandomState instance or None, default=None
        Seed of the ``"random"`` field (scikit-learn's convention); ignored otherwise.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of the three arrays returned. The warp is computed in float64 either way.

    Returns
    -------
    image0 : ndarray of shape (H, W)
        The frame at t: ``image1`` warped by the flow. Cubic splines can overshoot [0, 1] slightly.
    image1 : ndarray of shape (H, W)
        The frame at t+1: the image, grey, values in [0, 1] for the bundled images.
    flow : ndarray of shape (2, H, W)
        The true flow from ``image0`` to ``image1``, u (horizontal) then v (vertical).

    Raises
    ------
    ValueError
        For an unknown image or flow name, a flow array of the wrong shape, or a bad size.
    TypeError
        For arguments of the wrong type.

    See Also
    --------
    load_stereo_motorcycle : A real pair with ground truth.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from sktvnet.datasets import make_synthetic_pair
    >>> image0, image1, flow = make_synthetic_pair("camera", (60, 80))
    >>> image0.shape, image1.shape, flow.shape
    ((60, 80), (60, 80), (2, 60, 80))
    >>> float(flow[0].min()), float(flow[0].max())  # u between 0.5 and 3.5 px  # doctest: +NUMBER
    (0.5, 3.5)
    >>> y, x = np.mgrid[0:60, 0:80]
    >>> warped = ndimage.map_coordinates(
    ...     image1, [y + flow[1], x + flow[0]], order=3, mode="nearest")
    >>> bool(np.array_equal(image0, warped))
    True
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}")
    grey = _load_grey(image)
    height, width = check_size(shape, none_ok=True) or grey.shape
    if (height, width) != grey.shape:
        from skimage.transform import resize

        grey = resize(grey, (height, width), order=1, anti_aliasing=True, mode="reflect")

    if max_displacement is not None:
        max_displacement = check_real("max_displacement", max_displacement, low=0.0)
    if isinstance(flow, str):
        if flow == "sine":
            field = _sine_flow(height, width)
        elif flow == "random":
            from sklearn.utils import check_random_state

            field = _random_flow(height, width, check_random_state(random_state))
            if max_displacement is None:
                max_displacement = _RANDOM_MAX_DISPLACEMENT
        else:
            raise ValueError(f"flow must be 'sine', 'random' or an array, got {flow!r}")
    else:
        field = np.asarray(flow)
        if field.dtype.kind not in "iuf":
            raise TypeError(
                "flow must be 'sine', 'random' or an array of real numbers, "
                f"got dtype {field.dtype}"
            )
        if field.shape != (2, height, width):
            raise ValueError(
                f"flow must have shape {(2, height, width)} (2, H, W), got {field.shape}"
            )
        if not np.isfinite(field).all():
            raise ValueError("flow must hold finite values")
        field = field.astype(np.float64)
    if max_displacement is not None:
        longest = np.hypot(field[0], field[1]).max()
        if longest > 0:
            field = field * (max_displacement / longest)

    image1 = grey.astype(dtype)
    field = field.astype(dtype)
    y, x = np.mgrid[0:height, 0:width]
    # Warp the image as stored in ``dtype``, with the flow as stored, so the identity is exact
    # for the arrays the caller receives.
    u, v = field.astype(np.float64)
    image0 = ndimage.map_coordinates(
        image1.astype(np.float64), [y + v, x + u], order=3, mode="nearest"
    )
    return image0.astype(dtype), image1, field


def load_stereo_motorcycle() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Middlebury 2014 "Motorcycle" stereo pair with its ground truth, as an optical-flow pair.

    A rectified stereo pair moves points only horizontally: a pixel of the left image at column
    ``x`` is at ``x - d`` in the right image, where ``d`` is the disparity. So the flow from left to
    right is ``u = -d``, ``v = 0``, up to about 60 px. The disparity is unknown (infinite) at about
    7% of the pixels (occlusions); the flow is set to 0 there and ``valid`` is ``False``.

    Returns
    -------
    image0 : ndarray of shape (500, 741, 3), uint8
        Left image, RGB.
    image1 : ndarray of shape (500, 741, 3), uint8
        Right image, RGB.
    flow : ndarray of shape (2, 500, 741), float32
        Ground-truth flow from left to right, u then v, in pixels; 0 where unknown.
    valid : ndarray of shape (500, 741), bool
        ``True`` where the ground truth is known.

    See Also
    --------
    skimage.data.stereo_motorcycle : The source (its images are downsampled by 4 from Middlebury).
    make_synthetic_pair : A synthetic pair with exact, everywhere known flow.

    References
    ----------
    .. [1] D. Scharstein, H. Hirschmuller, Y. Kitajima, G. Krathwohl, N. Nesic, X. Wang,
       P. Westling, "High-resolution stereo datasets with subpixel-accurate ground truth", GCPR
       2014. :doi:`10.1007/978-3-319-11752-2_3`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.datasets import load_stereo_motorcycle
    >>> image0, image1, flow, valid = load_stereo_motorcycle()
    >>> image0.shape, flow.shape, valid.dtype
    ((500, 741, 3), (2, 500, 741), dtype('bool'))
    >>> bool(np.all(flow[1] == 0)), bool(np.all(flow[0][valid] < 0))
    (True, True)
    """
    from skimage import data

    image0, image1, disparity = data.stereo_motorcycle()
    valid = np.isfinite(disparity)
    flow = np.zeros((2,) + disparity.shape, dtype=np.float32)
    flow[0][valid] = -disparity[valid]
    return image0, image1, flow, valid


# ------------------------------------------------------------------------------ motion videos
#: The motion patterns of :func:`make_motion_videos`, in label order: label ``k`` is
#: ``MOTION_CLASSES[k]``. Directions are as seen on screen (image rows grow downwards).
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
# A texture patch must have at least this standard deviation (images in [0, 1]), so that its
# motion is visible; flat patches (sky, background of text) are drawn again, up to _MAX_DRAWS times.
_MIN_TEXTURE_STD = 0.05
_MAX_DRAWS = 50
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
    for _ in range(_MAX_DRAWS):
        index = rng.randint(len(images))
        if index == exclude:
            continue
        image = images[index]
        top = rng.randint(0, image.shape[0] - size + 1)
        left = rng.randint(0, image.shape[1] - size + 1)
        if image[top:top + size, left:left + size].std() >= _MIN_TEXTURE_STD:
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


# ------------------------------------------------------------------------------ video folders
#: Extensions (compared case-insensitively) that :func:`load_video_folder` takes for video files.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv")


def _visible(folder: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def _is_frame_folder(path: str) -> bool:
    return any(os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS for name in os.listdir(path))


def load_video_folder(
    root: str | os.PathLike,
    *,
    classes: list[str] | None = None,
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
) -> tuple[list[str], np.ndarray]:
    """List an action dataset stored as one folder of videos per class (UCF101, HMDB51).

    ``root/<class>/<video>`` is a video file (``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi``)
    or a folder of its frames as PNG/JPEG images (the layout of extracted frames). Nothing is
    decoded here: the estimators decode each video when they need it, with
    :func:`sktvnet.io.read_video`, so a dataset larger than memory can be used.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset folder. Hidden entries (names starting with ``.``) are ignored.
    classes : list of str, optional
        Class folders to keep (all by default), e.g. a subset of UCF101's 101 classes.
    extensions : tuple of str, default=VIDEO_EXTENSIONS
        File extensions taken as videos, compared case-insensitively (``.avi``, ``.mp4``,
        ``.mkv``, ``.webm``, ``.mov``, ``.m4v``, ``.mpg``, ``.mpeg``, ``.ogv``); other files
        (annotations, split lists) are skipped.

    Returns
    -------
    paths : list of str
        Video paths, sorted by class then by name.
    labels : ndarray of shape (n_videos,), str
        The class (folder name) of each video.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a folder.
    ValueError
        If a class in ``classes`` has no folder, or no class folder holds a video.

    See Also
    --------
    sktvnet.io.read_video : How each path is decoded.
    make_motion_videos : Labelled videos generated on the spot.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet.datasets import load_video_folder
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ("Run/a.avi", "Run/b.mp4", "Jump/c.avi", "Jump/notes.txt"):
    ...         os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
    ...         open(os.path.join(root, name), "wb").close()
    ...     paths, labels = load_video_folder(root)
    ...     names = [os.path.relpath(p, root) for p in paths]
    >>> names, labels.tolist()
    (['Jump/c.avi', 'Run/a.avi', 'Run/b.mp4'], ['Jump', 'Run', 'Run'])
    """
    root = os.fsdecode(os.fspath(root))
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such dataset folder: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"{root!r} is a file; root must be a folder holding one folder of videos per class"
        )
    if isinstance(extensions, str) or not all(isinstance(e, str) for e in extensions):
        raise TypeError(
            f"extensions must be a tuple of strings such as ('.avi',), got {extensions!r}"
        )
    extensions = tuple(e.lower() for e in extensions)
    found = [name for name in _visible(root) if os.path.isdir(os.path.join(root, name))]
    if classes is not None:
        if isinstance(classes, str):
            raise TypeError(f"classes must be a list of class names, got the string {classes!r}")
        missing = sorted(set(classes) - set(found))
        if missing:
            raise ValueError(
                f"no folder for the classes {missing} in {root!r}; its class folders are {found}"
            )
        found = [name for name in found if name in set(classes)]
    paths, labels = [], []
    for label in found:
        folder = os.path.join(root, label)
        for name in _visible(folder):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                if not _is_frame_folder(path):
                    continue
            elif os.path.splitext(name)[1].lower() not in extensions:
                continue
            paths.append(path)
            labels.append(label)
    if not paths:
        raise ValueError(
            f"{root!r} holds no video: expected one folder per class, each holding video files "
            f"({', '.join(extensions)}) or folders of PNG/JPEG frames"
        )
    return paths, np.asarray(labels)


# Disjoint by definition: a model trained on pairs from FLOW_TRAIN_IMAGES is measured on pairs from
# FLOW_TEST_IMAGES, images it has never seen.
FLOW_TRAIN_IMAGES = ("astronaut", "brick", "camera", "coins", "grass", "gravel", "moon", "page",
                     "text")
FLOW_TEST_IMAGES = ("cell", "chelsea", "clock", "coffee", "hubble_deep_field",
                    "immunohistochemistry", "retina", "rocket")
FLOW_MOTIONS = ("smooth", "affine", "shift")
# Affine motions: rotation up to this angle (radians), zoom and shear up to these ratios.
_AFFINE_MAX_ANGLE = 0.1
_AFFINE_MAX_ZOOM = 0.05
_AFFINE_MAX_SHEAR = 0.05


def _unit_field(motion: str, height: int, width: int, rng: np.random.RandomState) -> np.ndarray:
    """A field ``(2, height, width)`` of the kind ``motion`` whose largest magnitude is 1."""
    if motion == "smooth":
        return _random_flow(height, width, rng)
    if motion == "shift":
        angle = rng.uniform(0.0, 2 * np.pi)
        return np.stack([np.full((height, width), np.cos(angle)),
                         np.full((height, width), np.sin(angle))])
    # Rotation-zoom-shear about a random point near the centre, plus a random translation:
    # w(x) = (A - I)(x - c) + t.
    angle = rng.uniform(-_AFFINE_MAX_ANGLE, _AFFINE_MAX_ANGLE)
    zoom = 1.0 + rng.uniform(-_AFFINE_MAX_ZOOM, _AFFINE_MAX_ZOOM)
    shear = rng.uniform(-_AFFINE_MAX_SHEAR, _AFFINE_MAX_SHEAR)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = zoom * np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    dx = x - width * rng.uniform(0.25, 0.75)
    dy = y - height * rng.uniform(0.25, 0.75)
    shift = rng.uniform(-1.0, 1.0, 2) * 0.1 * max(height, width)
    field = np.stack([(matrix[0, 0] - 1.0) * dx + matrix[0, 1] * dy + shift[0],
                      matrix[1, 0] * dx + (matrix[1, 1] - 1.0) * dy + shift[1]])
    return field / np.hypot(field[0], field[1]).max()


def make_flow_pairs(
    n_pairs: int,
    *,
    size: tuple[int, int] = (128, 128),
    max_displacement: float = 4.0,
    motion: str = "mixed",
    images: str | list[str] = "train",
    brightness: float = 0.0,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of frames with their exact flow: crops of real images warped by known fields.

    Each pair crops a random textured window of a random image of ``images`` (bundled with
    scikit-image, grey, in [0, 1]), draws a field ``w = (u, v)`` of the kind ``motion`` and warps
    the crop as :func:`make_synthetic_pair` does, ``I0 = map_coordinates(I1, [y + v, x + u],
    order=3)``, so ``I0(x) = I1(x + w(x))``: sktvnet's flow convention. The crop is cut with a
    margin that the warp reads from, so that no border pixel is repeated. It is the training
    data of TVNet (``TVNetFlow.fit(X, y)``) and a held-out benchmark when ``images="test"``.

    Parameters
    ----------
    n_pairs : int
        Number of pairs.
    size : tuple of 2 ints, default=(128, 128)
        Size ``(H, W)`` of the frames, at least 4 x 4. Images smaller than a crop (with its
        margin) are enlarged to fit; larger ones are cropped at their own resolution.
    max_displacement : float, default=4.0
        Largest flow magnitude in pixels; the largest magnitude of each pair's field is drawn
        uniformly in ``[0, max_displacement]``.
    motion : {"mixed", "smooth", "affine", "shift"}, default="mixed"
        Kind of field: ``"smooth"`` a random smooth field (an offset plus four plane waves of at
        most 1.5 cycles across the window per component), ``"affine"`` a rotation (up to 0.1
        rad), zoom and shear (up to 5%) about a random point plus a translation, ``"shift"`` a
        translation in a random direction, ``"mixed"`` one of these at random for each pair.
    images : {"train", "test"} or list of str, default="train"
        Images to crop from: ``"train"`` is :data:`FLOW_TRAIN_IMAGES`, ``"test"``
        :data:`FLOW_TEST_IMAGES` (disjoint from it), or a list of names of
        :data:`SYNTHETIC_IMAGES`.
    brightness : float, default=0.0
        Random brightness change of ``I0`` relative to ``I1``: ``I0 <- g I0 + o`` with gain
        ``g`` uniform in ``[1 - brightness, 1 + brightness]`` and offset ``o`` uniform in
        ``[-brightness / 2, brightness / 2]``; 0 keeps brightness constancy exact.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added independently to both frames, in grey levels
        of [0, 1] images.
    random_state : int, RandomState instance or None, default=None
        Seed of everything drawn (scikit-learn's convention): the same seed gives the same pairs.

    Returns
    -------
    X : ndarray of shape (n_pairs, 2, H, W), float32
        ``X[i, 0]`` is ``I0`` (frame t), ``X[i, 1]`` is ``I1`` (frame t+1), grey, clipped to
        [0, 1] (cubic splines, brightness and noise may leave it by a little).
    y : ndarray of shape (n_pairs, 1, 2, H, W), float32
        The flow from ``I0`` to ``I1`` of each pair, u (horizontal) then v (vertical), in pixels:
        the ``(n_videos, T - 1, 2, H, W)`` layout of videos of T = 2 frames.

    Raises
    ------
    ValueError
        For an unknown motion or image name, an empty image list, or out-of-range numbers.
    TypeError
        For arguments of the wrong type.

    See Also
    --------
    make_synthetic_pair : One pair from a whole image, with a chosen field.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.datasets import make_flow_pairs
    >>> X, y = make_flow_pairs(4, size=(32, 48), max_displacement=2.0, random_state=0)
    >>> X.shape, y.shape, X.dtype
    ((4, 2, 32, 48), (4, 1, 2, 32, 48), dtype('float32'))
    >>> bool(np.hypot(y[:, 0, 0], y[:, 0, 1]).max() <= 2.0)
    True
    """
    from sklearn.utils import check_random_state
    from skimage.transform import resize

    n_pairs = check_int("n_pairs", n_pairs)
    height, width = check_size(size, "size")
    max_displacement = check_real("max_displacement", max_displacement, low=0.0)
    brightness = check_real("brightness", brightness, low=0.0, low_open=False, high=1.0)
    noise = check_real("noise", noise, low=0.0, low_open=False)
    if motion not in FLOW_MOTIONS + ("mixed",):
        raise ValueError(
            f"motion must be one of 'mixed', {', '.join(map(repr, FLOW_MOTIONS))}, got {motion!r}"
        )
    if isinstance(images, str):
        if images not in ("train", "test"):
            raise ValueError(
                f"images must be 'train', 'test' or a list of image names, got {images!r}; "
                f"the names are {', '.join(SYNTHETIC_IMAGES)}"
            )
        images = FLOW_TRAIN_IMAGES if images == "train" else FLOW_TEST_IMAGES
    elif not isinstance(images, (list, tuple)) or not images:
        raise TypeError(f"images must be 'train', 'test' or a non-empty list of names, got "
                        f"{images!r}")
    rng = check_random_state(random_state)

    # Cubic interpolation reads 2 px beyond x + w: the margin keeps every read inside the image.
    margin = int(np.ceil(max_displacement)) + 2
    window = (height + 2 * margin, width + 2 * margin)
    loaded = {}
    for name in images:
        if not isinstance(name, str):
            raise TypeError(f"images must hold image names, got {type(name).__name__} {name!r}")
        grey = _load_grey(name)
        scale = max(window[0] / grey.shape[0], window[1] / grey.shape[1])
        if scale > 1:
            shape = tuple(int(np.ceil(n * scale)) for n in grey.shape)
            grey = resize(grey, shape, order=1, anti_aliasing=False, mode="reflect")
        loaded[name] = grey

    X = np.empty((n_pairs, 2, height, width), dtype=np.float32)
    y = np.empty((n_pairs, 1, 2, height, width), dtype=np.float32)
    inner = (slice(margin, margin + height), slice(margin, margin + width))
    for i in range(n_pairs):
        for _ in range(_MAX_DRAWS):
            image = loaded[images[rng.randint(len(images))]]
            top = rng.randint(0, image.shape[0] - window[0] + 1)
            left = rng.randint(0, image.shape[1] - window[1] + 1)
            crop = image[top:top + window[0], left:left + window[1]]
            if crop[inner].std() >= _MIN_TEXTURE_STD:
                break
        kind = FLOW_MOTIONS[rng.randint(len(FLOW_MOTIONS))] if motion == "mixed" else motion
        field = _unit_field(kind, *window, rng) * rng.uniform(0.0, max_displacement)
        image0, image1, field = make_synthetic_pair(crop, None, flow=field)
        image0 = image0[inner]
        if brightness:
            image0 = (rng.uniform(1.0 - brightness, 1.0 + brightness) * image0
                      + rng.uniform(-brightness / 2, brightness / 2))
        pair = np.stack([image0, image1[inner]])
        if noise:
            pair = pair + rng.normal(0.0, noise, pair.shape)
        X[i] = np.clip(pair, 0.0, 1.0)
        y[i, 0] = field[(slice(None),) + inner]
    return X, y
