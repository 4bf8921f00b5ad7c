"""Image pairs with known flow, built from data that ships with scikit-image (nothing downloads).

* :func:`make_synthetic_pair` warps a real image by a known smooth field, so the flow is exact.
* :func:`load_stereo_motorcycle` is a real pair with ground truth: the Middlebury 2014 stereo
  pair bundled by scikit-image, whose disparity is a purely horizontal flow.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from . import _core

__all__ = ["load_stereo_motorcycle", "make_synthetic_pair"]

# scikit-image images stored inside its wheel (skimage.data.data_dir), so loading them never
# downloads anything; grey ones and RGB ones (converted to grey).
SYNTHETIC_IMAGES = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
    "text",
)
_FLOW_KINDS = ("sine", "random")
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


def _check_shape(shape, default):
    """``shape`` as a pair of ints >= 4, or ``default`` for None."""
    if shape is None:
        return default
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in shape)
    ):
        raise TypeError(f"shape must be a pair of integers (H, W) or None, got {shape!r}")
    if min(shape) < _core.MIN_SIDE:
        side = _core.MIN_SIDE
        raise ValueError(f"shape must be at least ({side}, {side}), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


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
    height, width = _check_shape(shape, grey.shape)
    if (height, width) != grey.shape:
        from skimage.transform import resize

        grey = resize(grey, (height, width), order=1, anti_aliasing=True, mode="reflect")

    if max_displacement is not None:
        max_displacement = _core.check_real("max_displacement", max_displacement, low=0.0)
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
