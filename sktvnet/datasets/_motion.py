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


@functools.lru_cache(maxsize=1)
def _native_images() -> tuple[np.ndarray, ...]:
    """Every bundled image, grey float64, at its own resolution (``texture_scale="native"``)."""
    return tuple(_load_grey(name) for name in SYNTHETIC_IMAGES)


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


# How the objects are drawn: the choices of each option (the first is the default of every
# preset but "mixed", which draws one per video).
_DRAWING = {
    "object_shape": ("disc", "square"),
    "object_edge": ("soft", "hard"),
    "texture_scale": ("zoomed", "native"),
    "interpolation": ("bilinear", "bicubic"),
    "scene_motion": ("both", "camera", "background"),
}
_DRAWN_AS_BEFORE = {name: choices[0] for name, choices in _DRAWING.items()}
_HARD = dict(speed=(0.5, 0.7), rotation_speed=(3.0, 5.0), zoom_speed=(0.03, 0.05),
             object_size=0.5, n_objects=1, background_speed=0.0, camera_speed=0.5,
             camera_jitter=0.0, noise=0.005, flicker=0.01, **_DRAWN_AS_BEFORE)
# The nuisances of each difficulty (make_motion_videos's docstring has them as a table). None for
# the rotation and zoom speeds: the rim of the disc moves at ``speed`` (the "easy" definition).
_DIFFICULTIES = {
    "easy": dict(speed=(1.0, 2.0), rotation_speed=None, zoom_speed=None,
                 object_size=(0.56, 0.76), n_objects=1, background_speed=0.5, camera_speed=0.0,
                 camera_jitter=0.0, noise=0.0, flicker=0.0, **_DRAWN_AS_BEFORE),
    "hard": _HARD,
    # Every way of drawing, drawn per video: no single one is what a model fits.
    "mixed": {**_HARD, "n_objects": (1, 3), "background_speed": 0.5, "camera_jitter": 0.1,
              "object_shape": ("disc", "square"), "object_edge": ("soft", "hard"),
              "texture_scale": ("zoomed", "native"), "interpolation": ("bilinear", "bicubic"),
              "scene_motion": ("camera", "background")},
}
# The parameter of the speed of each class that is not a translation.
_SPEED_PARAMETER = {"clockwise": "rotation_speed", "anticlockwise": "rotation_speed",
                    "zoom_in": "zoom_speed", "zoom_out": "zoom_speed"}


def _check_range(name: str, value, high: float | None = None) -> tuple[float, float]:
    """``value`` (a number or a ``(low, high)`` pair, each > 0 and <= ``high``) as a pair."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        low = top = check_real(name, value, low=0.0, high=high)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        low = check_real(f"{name}[0]", value[0], low=0.0, high=high)
        top = check_real(f"{name}[1]", value[1], low=0.0, high=high)
        if low > top:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {tuple(value)}")
    else:
        raise TypeError(f"{name} must be a positive number or a (low, high) pair, "
                        f"got {value!r}")
    return low, top


def _motion(kind: str, speed: float, radius: float, rotation_speed, zoom_speed):
    """Velocity ``(dx, dy)`` in px/frame, angular speed in rad/frame and scale rate per frame of
    one disc of ``radius`` moving by ``kind``; ``speed`` is in px/frame for a translation and in
    the unit of ``rotation_speed`` (degrees) or ``zoom_speed`` (fraction) when they are given,
    else the speed of the rim in px/frame."""
    velocity, omega, rate = np.zeros(2), 0.0, 1.0
    if kind in _DIRECTIONS:
        direction = np.asarray(_DIRECTIONS[kind])
        velocity = speed * direction / np.hypot(*direction)
    elif kind in ("clockwise", "anticlockwise"):
        # A positive angle turns x towards y (down): clockwise on screen.
        omega = np.deg2rad(speed) if rotation_speed is not None else speed / radius
        omega = omega if kind == "clockwise" else -omega
    else:
        rate = 1.0 + (speed if zoom_speed is not None else speed / radius)
        rate = rate if kind == "zoom_in" else 1.0 / rate
    return velocity, omega, rate


def _check_choices(name: str, value) -> tuple[str, ...]:
    """``value`` (one choice of ``_DRAWING[name]`` or a sequence of them) as a tuple."""
    choices = _DRAWING[name]
    values = (value,) if isinstance(value, str) else value
    if (not isinstance(values, (tuple, list)) or not values
            or not all(isinstance(v, str) and v in choices for v in values)):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))} or a sequence "
                         f"of them (one drawn per video), got {value!r}")
    return tuple(values)


def _check_count_range(name: str, value) -> tuple[int, int]:
    """``value`` (an int >= 1 or a ``(low, high)`` pair of them) as a pair."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = (check_int(f"{name}[{k}]", v) for k, v in enumerate(value))
        if low > high:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {tuple(value)}")
        return low, high
    value = check_int(name, value)
    return value, value


def _draw_way(rng, nuisances: dict) -> dict:
    """How one video is drawn: one choice of every drawing option (no draw where there is one
    choice, so that the presets keep their videos) and its number of objects."""
    way = {name: (nuisances[name][0] if len(nuisances[name]) == 1
                  else nuisances[name][rng.randint(len(nuisances[name]))])
           for name in _DRAWING}
    low, high = nuisances["n_objects"]
    way["n_objects"] = low if low == high else rng.randint(low, high + 1)
    return way


def _sample(image, coordinates, order: int) -> np.ndarray:
    """``image`` at ``coordinates`` (rows, cols), reflected past its border; bicubic (``order``
    3) prefilters only the window that the coordinates reach."""
    if order == 1:
        return ndimage.map_coordinates(image, coordinates, order=1, mode="reflect")
    rows, cols = coordinates
    top = max(0, int(np.floor(rows.min())) - 4)
    left = max(0, int(np.floor(cols.min())) - 4)
    bottom = min(image.shape[0], int(np.ceil(rows.max())) + 5)
    right = min(image.shape[1], int(np.ceil(cols.max())) + 5)
    window = image[top:max(bottom, top + 1), left:max(right, left + 1)]
    return ndimage.map_coordinates(window, [rows - top, cols - left], order=3, mode="reflect")


def _motion_video(rng, kind: str, speed: float, n_frames: int, shape: tuple[int, int],
                  nuisances: dict, images) -> np.ndarray:
    """One video ``(n_frames, H, W)`` of textured objects moving by ``kind`` over a background,
    seen by a camera that pans and shakes (``nuisances``: make_motion_videos's parameters, with
    one choice of each drawing option).

    Everything is defined relative to the middle frame, so that the middle frame of every class
    has the same distribution (the objects are there at the same random places and sizes).
    """
    height, width = shape
    order = 1 if nuisances["interpolation"] == "bilinear" else 3
    scene = nuisances["scene_motion"]
    times = np.arange(n_frames, dtype=np.float64) - (n_frames - 1) / 2.0
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    side = min(height, width)
    low, high = (size / 2.0 for size in nuisances["object_size"])
    radius = rng.uniform(low, high) * side
    centre = (np.array([height, width]) / 2.0
              + rng.uniform(-_CENTRE_JITTER, _CENTRE_JITTER, 2) * np.array([height, width]))

    heading = rng.uniform(0.0, 2 * np.pi)
    background_speed = 0.0 if scene == "camera" else nuisances["background_speed"]
    drift = rng.uniform(0.0, background_speed) * np.array([np.cos(heading), np.sin(heading)])
    camera_speed = 0.0 if scene == "background" else nuisances["camera_speed"]
    jitter = nuisances["camera_jitter"]
    # The background is sampled with reflection past its border; a margin keeps that rare.
    margin = int(np.ceil((background_speed + camera_speed) * abs(times[0]) + 3 * jitter)) + 1
    used, background, (bg_row, bg_col) = _draw_patch(
        rng, images, max(height, width) + 2 * margin)
    # Each disc shows the texture within ``radius`` of its centre at every frame (rotation and
    # zoom are about the centre, translation carries the texture along).
    _, texture, texture_centre = _draw_patch(rng, images, int(np.ceil(2 * radius)) + 2,
                                             exclude=used)
    discs = [(radius, centre, texture, texture_centre)]
    for _ in range(nuisances["n_objects"] - 1):
        # Further discs anywhere in the frame (inside it at the middle frame), drawn on top.
        radius = rng.uniform(low, high) * side
        centre = np.array([rng.uniform(min(radius, height / 2), max(height - radius, height / 2)),
                           rng.uniform(min(radius, width / 2), max(width - radius, width / 2))])
        _, texture, texture_centre = _draw_patch(rng, images, int(np.ceil(2 * radius)) + 2,
                                                 exclude=used)
        discs.append((radius, centre, texture, texture_centre))

    # The camera moves the whole picture, (dx, dy) per frame: a pan plus a shake.
    offsets = np.zeros((n_frames, 2))
    if camera_speed:
        pan = rng.uniform(0.0, 2 * np.pi)
        offsets += (times[:, None] * rng.uniform(0.0, camera_speed)
                    * np.array([np.cos(pan), np.sin(pan)]))
    if jitter:
        offsets += rng.normal(0.0, jitter, offsets.shape)

    frames = np.empty((n_frames, height, width))
    for t, time in enumerate(times):
        # Content that moves by d per frame is the still picture sampled at x - t d.
        view_rows, view_cols = rows - offsets[t, 1], cols - offsets[t, 0]
        frame = _sample(background, [view_rows - time * drift[1] + bg_row - height / 2.0,
                                     view_cols - time * drift[0] + bg_col - width / 2.0], order)
        for radius, centre, texture, (tex_row, tex_col) in discs:
            velocity, omega, rate = _motion(kind, speed, radius, nuisances["rotation_speed"],
                                            nuisances["zoom_speed"])
            c_row, c_col = centre[0] + time * velocity[1], centre[1] + time * velocity[0]
            dy, dx = view_rows - c_row, view_cols - c_col
            angle, scale = omega * time, rate ** time
            cos, sin = np.cos(angle), np.sin(angle)
            # The texture point q is shown at c + scale * R(angle) q: invert that map.
            q_row, q_col = (-sin * dx + cos * dy) / scale, (cos * dx + sin * dy) / scale
            if nuisances["object_shape"] == "disc":
                inside = radius * scale - np.hypot(dx, dy)  # pixels inside the rim
            else:  # a square of side 2 radius, turning and growing with the object
                inside = (radius - np.maximum(np.abs(q_row), np.abs(q_col))) * scale
            if nuisances["object_edge"] == "soft":
                alpha = np.clip(inside + 0.5, 0.0, 1.0)  # a 1 px ramp
                near = alpha > 0
            else:
                near = alpha = inside > 0
            obj = np.zeros_like(frame)
            obj[near] = _sample(texture, [tex_row + q_row[near], tex_col + q_col[near]], order)
            frame = np.where(near, alpha * obj + (1.0 - alpha) * frame, frame)
        frames[t] = frame
    return frames


def make_motion_videos(
    n_videos: int = 120,
    n_classes: int = 8,
    *,
    n_frames: int = 6,
    frame_shape: tuple[int, int] = (48, 48),
    difficulty: str = "easy",
    speed: float | tuple[float, float] | None = None,
    rotation_speed: float | tuple[float, float] | None = None,
    zoom_speed: float | tuple[float, float] | None = None,
    object_size: float | tuple[float, float] | None = None,
    n_objects: int | tuple[int, int] | None = None,
    background_speed: float | None = None,
    camera_speed: float | None = None,
    camera_jitter: float | None = None,
    noise: float | None = None,
    flicker: float | None = None,
    object_shape: str | tuple[str, ...] | None = None,
    object_edge: str | tuple[str, ...] | None = None,
    texture_scale: str | tuple[str, ...] | None = None,
    interpolation: str | tuple[str, ...] | None = None,
    scene_motion: str | tuple[str, ...] | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Short videos whose class is a motion pattern, for action recognition without a dataset.

    Each video shows a disc (or square) of texture cut from a real image (the images bundled with
    scikit-image) moving over a background cut from another one. The class is the disc's motion
    (:data:`MOTION_CLASSES`, in label order): a translation (right, left, down, up, then the
    diagonals), a rotation (clockwise, anticlockwise) or a zoom (in, out). Everything else is
    drawn independently of the class: the images and the places they are cut from, the disc's
    size and position, its speed, and the nuisances below. The motion is defined around the
    middle frame, where the disc sits at the same random place with the same random size
    whatever the class: appearance alone cannot tell the classes apart, motion can.

    ``difficulty`` picks a preset of the nuisances; a parameter given explicitly (not ``None``)
    overrides its preset value:

    ====================  ===================  =========================  =====================
    parameter             ``"easy"``           ``"hard"``                 ``"mixed"``
    ====================  ===================  =========================  =====================
    ``speed``             (1.0, 2.0) px/frame  (0.5, 0.7) px/frame        as "hard"
    ``rotation_speed``    rim at ``speed``     (3.0, 5.0) degrees/frame   as "hard"
    ``zoom_speed``        rim at ``speed``     (0.03, 0.05) per frame     as "hard"
    ``object_size``       (0.56, 0.76)         0.5 (24 px in 48x48)       as "hard"
    ``n_objects``         1                    1                          (1, 3)
    ``background_speed``  0.5 px/frame         0                          0.5 px/frame
    ``camera_speed``      0                    0.5 px/frame               0.5 px/frame
    ``camera_jitter``     0                    0                          0.1 px
    ``noise``             0                    0.005                      0.005
    ``flicker``           0                    0.01                       0.01
    ``object_shape``      "disc"               "disc"                     both
    ``object_edge``       "soft"               "soft"                     both
    ``texture_scale``     "zoomed"             "zoomed"                   both
    ``interpolation``     "bilinear"           "bilinear"                 both
    ``scene_motion``      "both"               "both"                     camera or background
    ====================  ===================  =========================  =====================

    "easy" is large, fast motion that frame differences alone recognise; "hard" is the small,
    partly rotational or expanding motion of real actions, seen by a moving camera through noise
    and flicker, which breaks the brightness constancy that TV-L1 assumes. "mixed" is "hard"
    drawn in every way: each video draws its object shape, edge, texture scale, resampling,
    number of objects (1 to 3) and whether its camera pans (over a still background) or its
    background drifts (before a still camera), so that no single way of drawing is what a model
    fits.

    Parameters
    ----------
    n_videos : int, default=120
        Number of videos; the classes are balanced (they differ in size by at most one).
    n_classes : int, default=8
        Number of classes, from 2 to 12: the first ``n_classes`` of :data:`MOTION_CLASSES`.
    n_frames : int, default=6
        Frames per video (>= 2). The motion is constant, so any clip of a longer video shows it.
    frame_shape : tuple of 2 ints, default=(48, 48)
        Frame size ``(H, W)``, at least 16 x 16.
    difficulty : {"easy", "hard", "mixed"}, default="easy"
        Preset of every parameter below left at ``None`` (see the table). "easy" gives the
        videos of earlier versions, the same ones for the same ``random_state``.
    speed : float, (float, float) or None, default=None
        Speed of a translating disc in pixels per frame, drawn uniformly from the range per
        video; also the speed of the rim of a rotating or zooming disc when ``rotation_speed``
        or ``zoom_speed`` is the preset's "rim at ``speed``".
    rotation_speed : float, (float, float) or None, default=None
        Angle a rotating disc turns by per frame, in degrees, drawn uniformly per video.
    zoom_speed : float, (float, float) or None, default=None
        Relative growth of a zooming disc per frame (0.04: 4% larger each frame zooming in, 4%
        smaller zooming out), drawn uniformly per video.
    object_size : float, (float, float) or None, default=None
        Diameter of a disc at the middle frame as a fraction of the shorter frame side, in
        (0, 2], drawn uniformly per disc.
    n_objects : int, (int, int) or None, default=None
        Objects per video (a ``(low, high)`` pair: drawn per video, both included), all moving
        by the class's motion at the same speed. The first is near the middle of the frame
        (within 10% of its size), the others anywhere in it, drawn over it in order.
    background_speed : float or None, default=None
        Largest speed of the background alone in pixels per frame (each video draws a speed up
        to it and a direction; the discs do not follow); 0 keeps the background still.
    camera_speed : float or None, default=None
        Largest speed of a camera pan in pixels per frame: each video draws a speed up to it and
        a direction, and the whole picture (background and discs) moves by it.
    camera_jitter : float or None, default=None
        Standard deviation, in pixels, of a camera shake: the whole picture of each frame moves
        by a random offset drawn independently per frame and axis.
    noise : float or None, default=None
        Standard deviation of Gaussian noise added to every pixel (frames are in [0, 1]).
    flicker : float or None, default=None
        Brightness flicker: every frame is multiplied by ``1 + flicker * z``, with ``z`` drawn
        from a standard normal distribution per frame (before the noise and the clipping).
    object_shape : {"disc", "square"}, sequence of them, or None, default=None
        Shape of the objects: a disc, or a square of side the disc's diameter that turns and
        grows with the object. Given a sequence, each video draws one of its elements (as
        for the four parameters below).
    object_edge : {"soft", "hard"}, sequence of them, or None, default=None
        The objects' rim: a 1 px ramp between the object and what is behind it ("soft"), or
        every pixel either one or the other ("hard", aliased).
    texture_scale : {"zoomed", "native"}, sequence of them, or None, default=None
        Textures (objects and background) cut from the images resized so that their shorter
        side is 3 times the frames' longer side ("zoomed": the structure of an image at the
        scale of the frame), or from the images at their own resolution ("native": finer
        detail).
    interpolation : {"bilinear", "bicubic"}, sequence of them, or None, default=None
        How the moving textures are resampled between pixels: bilinear, or cubic spline.
    scene_motion : {"both", "camera", "background"}, sequence of them, or None, default=None
        What moves besides the objects: "both" lets the camera pan up to ``camera_speed`` and
        the background drift up to ``background_speed``; "camera" keeps the background still
        in the scene (the camera pans), "background" keeps the camera still (the background
        drifts alone, as water, a crowd or a treadmill do).
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
    >>> X, y = make_motion_videos(16, difficulty="hard", flicker=0.05, random_state=0)
    >>> X.shape
    (16, 6, 48, 48)
    >>> X, y = make_motion_videos(16, difficulty="mixed", object_shape="square", random_state=0)
    >>> X.shape
    (16, 6, 48, 48)
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
    height, width = check_size(frame_shape, "frame_shape")
    if min(height, width) < _MIN_VIDEO_SIDE:
        raise ValueError(
            f"frame_shape must be at least ({_MIN_VIDEO_SIDE}, {_MIN_VIDEO_SIDE}) so that the "
            f"moving disc shows texture, got {(height, width)}"
        )
    if difficulty not in _DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(map(repr, _DIFFICULTIES))}, "
                         f"got {difficulty!r}")
    given = dict(speed=speed, rotation_speed=rotation_speed, zoom_speed=zoom_speed,
                 object_size=object_size, n_objects=n_objects,
                 background_speed=background_speed, camera_speed=camera_speed,
                 camera_jitter=camera_jitter, noise=noise, flicker=flicker,
                 object_shape=object_shape, object_edge=object_edge,
                 texture_scale=texture_scale, interpolation=interpolation,
                 scene_motion=scene_motion)
    nuisances = {name: _DIFFICULTIES[difficulty][name] if value is None else value
                 for name, value in given.items()}
    for name in ("speed", "rotation_speed", "zoom_speed"):
        if nuisances[name] is not None:
            nuisances[name] = _check_range(name, nuisances[name])
    nuisances["object_size"] = _check_range("object_size", nuisances["object_size"], high=2.0)
    nuisances["n_objects"] = _check_count_range("n_objects", nuisances["n_objects"])
    for name in _DRAWING:
        nuisances[name] = _check_choices(name, nuisances[name])
    for name in ("background_speed", "camera_speed", "camera_jitter", "noise", "flicker"):
        nuisances[name] = check_real(name, nuisances[name], low=0.0, low_open=False)
    rng = check_random_state(random_state)

    images = {"zoomed": _texture_images(_TEXTURE_ZOOM * max(height, width)),
              "native": _native_images() if "native" in nuisances["texture_scale"] else None}
    labels = rng.permutation(np.arange(n_videos) % n_classes).astype(np.int64)
    X = np.empty((n_videos, n_frames, height, width), dtype=np.float32)
    for i, label in enumerate(labels):
        kind = MOTION_CLASSES[label]
        low, high = nuisances[_SPEED_PARAMETER.get(kind, "speed")] or nuisances["speed"]
        video_speed = rng.uniform(low, high)
        way = {**nuisances, **_draw_way(rng, nuisances)}
        video = _motion_video(rng, kind, video_speed, n_frames, (height, width), way,
                              images[way["texture_scale"]])
        if nuisances["flicker"]:
            video *= 1.0 + nuisances["flicker"] * rng.normal(size=(n_frames, 1, 1))
        if nuisances["noise"]:
            video += rng.normal(0.0, nuisances["noise"], video.shape)
        X[i] = np.clip(video, 0.0, 1.0)
    return X, labels
