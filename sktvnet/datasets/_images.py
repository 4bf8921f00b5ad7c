"""The real images bundled with scikit-image that the generated data are cut from."""

from __future__ import annotations

import numpy as np

from .. import _core

# scikit-image images stored inside its wheel (skimage.data.data_dir), so loading them never
# downloads anything; grey ones and RGB ones (converted to grey).
SYNTHETIC_IMAGES = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
    "text",
)
# A texture patch must have at least this standard deviation (images in [0, 1]), so that its
# motion is visible; flat patches (sky, background of text) are drawn again, up to MAX_DRAWS times.
MIN_TEXTURE_STD = 0.05
MAX_DRAWS = 50


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
