"""Image pairs with known flow: real images warped by known fields, and the real stereo pair."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validation import check_int, check_real, check_size
from ._images import MAX_DRAWS, MIN_TEXTURE_STD, SYNTHETIC_IMAGES, _load_grey

_RANDOM_MAX_DISPLACEMENT = 5.0
# The random field is a sum of this many plane sinusoids per component, with at most this many
# cycles across the image, so that it stays smooth whatever the image size.
_RANDOM_N_WAVES = 4
_RANDOM_MAX_CYCLES = 1.5


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
    frame_shape: tuple[int, int] | None = (240, 320),
    *,
    flow: str | np.ndarray = "sine",
    max_displacement: float | None = None,
    random_state: int | np.random.RandomState | None = None,
    dtype: type | np.dtype = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pair of frames related by a known smooth flow: a real image and its exact warp.

    ``image1`` is the image (grey, resized to ``frame_shape``); ``image0`` samples it at
    ``x + w(x)`` with cubic splines,
    ``image0 = scipy.ndimage.map_coordinates(image1, [y + v, x + u], order=3, mode="nearest")``,
    so ``image0(x) = image1(x + w(x))`` holds exactly, which is sktvnet's flow convention. Where ``x + w`` leaves the image, the border pixel is repeated.

    Parameters
    ----------
    image : str or array-like of shape (H0, W0) or (H0, W0, 3), default="camera"
        One of the images bundled with scikit-image: ``"astronaut"``, ``"brick"``,
        ``"camera"``, ``"cell"``, ``"chelsea"``, ``"clock"``, ``"coffee"``, ``"coins"``,
        ``"grass"``, ``"gravel"``, ``"hubble_deep_field"``, ``"immunohistochemistry"``,
        ``"moon"``, ``"page"``, ``"retina"``, ``"rocket"``, ``"text"``, or an image array.
        Integer images are scaled to [0, 1], float images are used as they are; colour becomes
        grey with the Rec. 601 weights.
    frame_shape : tuple of 2 ints or None, default=(240, 320)
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
    height, width = check_size(frame_shape, "frame_shape", none_ok=True) or grey.shape
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
    frame_shape: tuple[int, int] = (128, 128),
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
    frame_shape : tuple of 2 ints, default=(128, 128)
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
    >>> X, y = make_flow_pairs(4, frame_shape=(32, 48), max_displacement=2.0, random_state=0)
    >>> X.shape, y.shape, X.dtype
    ((4, 2, 32, 48), (4, 1, 2, 32, 48), dtype('float32'))
    >>> bool(np.hypot(y[:, 0, 0], y[:, 0, 1]).max() <= 2.0)
    True
    """
    from sklearn.utils import check_random_state

    n_pairs = check_int("n_pairs", n_pairs)
    height, width = check_size(frame_shape, "frame_shape")
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
    for name in images:
        if not isinstance(name, str):
            raise TypeError(f"images must hold image names, got {type(name).__name__} {name!r}")
    return _warped_pairs({name: _load_grey(name) for name in images}, n_pairs, (height, width),
                         (0.0, max_displacement), motion, brightness, noise, rng)


def _warped_pairs(greys: dict, n_pairs: int, size: tuple[int, int],
                  displacement: tuple[float, float], motion: str, brightness: float,
                  noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of :func:`make_flow_pairs` cut from ``greys`` (name to grey image), the largest
    flow magnitude of each drawn uniformly in ``displacement = (low, high)``."""
    from skimage.transform import resize

    height, width = size
    # Cubic interpolation reads 2 px beyond x + w: the margin keeps every read inside the image.
    margin = int(np.ceil(displacement[1])) + 2
    window = (height + 2 * margin, width + 2 * margin)
    loaded = {}
    for name, grey in greys.items():
        scale = max(window[0] / grey.shape[0], window[1] / grey.shape[1])
        if scale > 1:
            shape = tuple(int(np.ceil(n * scale)) for n in grey.shape)
            grey = resize(grey, shape, order=1, anti_aliasing=False, mode="reflect")
        loaded[name] = grey
    images = list(loaded)

    X = np.empty((n_pairs, 2, height, width), dtype=np.float32)
    y = np.empty((n_pairs, 1, 2, height, width), dtype=np.float32)
    inner = (slice(margin, margin + height), slice(margin, margin + width))
    for i in range(n_pairs):
        for _ in range(MAX_DRAWS):
            image = loaded[images[rng.randint(len(images))]]
            top = rng.randint(0, image.shape[0] - window[0] + 1)
            left = rng.randint(0, image.shape[1] - window[1] + 1)
            crop = image[top:top + window[0], left:left + window[1]]
            if crop[inner].std() >= MIN_TEXTURE_STD:
                break
        kind = FLOW_MOTIONS[rng.randint(len(FLOW_MOTIONS))] if motion == "mixed" else motion
        field = _unit_field(kind, *window, rng) * rng.uniform(*displacement)
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
