"""Image files: PNG output, and folders or lists of PNG/JPEG images read as frames (Pillow)."""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np

from ._atomic import PathLike, atomic_write

#: Extensions (compared case-insensitively) of the image files read as frames of a sequence.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def save_png(path: PathLike, rgb: np.ndarray) -> None:
    """Save an 8-bit image as PNG with Pillow, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. Written to a temporary file in the same folder first,
        then moved into place, so an interrupted write leaves no partial file.
    rgb : ndarray of shape (H, W, 3) or (H, W), uint8
        Colour or grey image, for example from :func:`sktvnet.visualization.flow_to_color`.

    Raises
    ------
    TypeError
        If ``rgb`` is not uint8.
    ValueError
        If ``rgb`` does not have shape ``(H, W, 3)`` or ``(H, W)``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sktvnet.io import save_png
    >>> from sktvnet.visualization import flow_to_color
    >>> rgb = flow_to_color(np.ones((2, 8, 8)))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_png(os.path.join(folder, "flow.png"), rgb)
    ...     with Image.open(os.path.join(folder, "flow.png")) as image:
    ...         print(image.format, image.mode, image.size)
    PNG RGB (8, 8)
    """
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise TypeError(
            f"rgb must be uint8, got dtype {rgb.dtype}; scale floats in [0, 1] with "
            "np.round(255 * image).astype(np.uint8)"
        )
    if not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[-1] == 3)) or 0 in rgb.shape:
        raise ValueError(f"rgb must have shape (H, W, 3) or (H, W), got {rgb.shape}")
    image = Image.fromarray(np.ascontiguousarray(rgb))
    with atomic_write(path) as handle:
        image.save(handle, format="PNG")


def _check_frame_shape(frame_shape) -> tuple[int | None, int | None] | None:
    """``frame_shape`` as ``None`` or ``(height, width)``, one of which may be ``None``."""
    if frame_shape is None:
        return None
    if (isinstance(frame_shape, (str, bytes)) or not isinstance(frame_shape, Sequence)
            or len(frame_shape) != 2):
        raise TypeError(f"frame_shape must be None or a (height, width) pair, got {frame_shape!r}")
    size = []
    for name, n in zip(("height", "width"), frame_shape):
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(f"frame_shape {name} must be a positive integer or None, got {n!r}")
        size.append(None if n is None else int(n))
    if size == [None, None]:
        raise ValueError("frame_shape=(None, None) gives no size: set the height, the width "
                         "or both")
    return size[0], size[1]


def _target_size(height: int, width: int, frame_shape) -> tuple[int, int]:
    """The size frames of ``height x width`` take: a missing side keeps the aspect ratio."""
    if frame_shape is None:
        return height, width
    new_height, new_width = frame_shape
    if new_height is None:
        new_height = max(1, round(height * new_width / width))
    if new_width is None:
        new_width = max(1, round(width * new_height / height))
    return new_height, new_width


def _resized(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 resized to ``size`` (height, width) with Pillow's bilinear filter,
    which widens its support when shrinking (antialiased)."""
    if rgb.shape[:2] == size:
        return rgb
    from PIL import Image

    image = Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(image)


def _natural_key(name: str) -> list:
    """Sort key that puts ``frame2.png`` before ``frame10.png``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", name)]


def _image_files(folder: str) -> list[str]:
    """The PNG and JPEG files of ``folder`` in natural order; hidden files are ignored."""
    names = [
        entry for entry in os.listdir(folder)
        if not entry.startswith(".") and os.path.splitext(entry)[1].lower() in IMAGE_EXTENSIONS
    ]
    if not names:
        raise ValueError(
            f"{folder!r} holds no PNG or JPEG image: an image sequence is a folder of frames "
            "whose names sort in time order (000000.png, 000001.png, ...)"
        )
    return [os.path.join(folder, name) for name in sorted(names, key=_natural_key)]


def _read_image(path: str) -> np.ndarray:
    """One image file as RGB ``(H, W, 3)`` uint8 (grey, palette and alpha images converted)."""
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such image file: {path!r}")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    # Pillow reports broken files as OSError (truncated, unidentified), SyntaxError (broken PNG
    # chunks), EOFError or ValueError, depending on the format and where the damage is.
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise ValueError(f"cannot read {path!r} as an image: {exc}") from exc


def _image_frames(files: Sequence[str], frame_shape) -> Iterator[np.ndarray]:
    """Decode image files one by one as frames of one size."""
    first = None
    for path in files:
        rgb = _read_image(path)
        if first is None:
            first = (path, rgb.shape[:2])
            size = _target_size(*rgb.shape[:2], frame_shape)
        elif rgb.shape[:2] != first[1]:
            raise ValueError(
                f"all frames of an image sequence must have the same size: {first[0]!r} is "
                f"{first[1][0]}x{first[1][1]}, {path!r} is {rgb.shape[0]}x{rgb.shape[1]}"
            )
        yield _resized(rgb, size)
