"""Reading and writing flows and images: Middlebury ``.flo`` files, colour-coded flow, PNG.

Sections: file helpers (atomic writes), the ``.flo`` format, flow visualisation (the Middlebury
colour wheel) and image output. Video decoding will join as a section of its own.

Every writer here is atomic: the data goes to a temporary file in the destination folder, which
then replaces the destination in one ``os.replace``, so an interrupted write never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .metrics import _known_flow

__all__ = ["flow_to_color", "read_flo", "save_png", "write_flo"]

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for binary writing; move it onto ``path`` on success.

    The temporary file is created with ``os.open`` mode 0o666, so the final file gets the usual
    permissions (the umask applies), unlike ``tempfile`` which would leave it private (0o600). On
    any error the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------------------------
# Middlebury .flo files
# --------------------------------------------------------------------------------------------
# The first four bytes, b"PIEH", read as a little-endian float32 are 202021.25: a sanity check
# that also catches files written with the wrong byte order.
_FLO_MAGIC = b"PIEH"
_FLO_HEADER_BYTES = 12


def _check_flow(flow, name: str = "flow") -> np.ndarray:
    """``flow`` as an ndarray ``(2, H, W)`` of real numbers, or a clear error."""
    array = np.asarray(flow)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[0] != 2:
        hint = ""
        if array.ndim == 3 and array.shape[-1] == 2:
            hint = (
                "; an (H, W, 2) array (OpenCV's layout) becomes (2, H, W) with "
                "np.moveaxis(flow, -1, 0)"
            )
        raise ValueError(f"{name} must have shape (2, H, W), u then v, got {array.shape}{hint}")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"{name} must have at least one pixel, got shape {array.shape}")
    return array


def read_flo(path: PathLike) -> np.ndarray:
    """Read a Middlebury ``.flo`` optical-flow file.

    The format is: the 4 bytes ``PIEH`` (the float32 202021.25), the width and the height as
    little-endian int32, then ``H * W`` pairs ``(u, v)`` of little-endian float32, row by row.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    flow : ndarray of shape (2, H, W), float32
        Horizontal (u) then vertical (v) displacement in pixels. Values are returned exactly as
        stored: Middlebury marks unknown flow with components above ``1e9`` (usually ``1e10``),
        which :func:`sktvnet.metrics.endpoint_error` and :func:`flow_to_color` treat as unknown.

    Raises
    ------
    ValueError
        If the file is not a ``.flo`` file (wrong magic), is truncated, has trailing bytes, or its
        header gives a size that is not positive or does not match the file's length.

    See Also
    --------
    write_flo : The inverse.

    References
    ----------
    .. [1] S. Baker et al., "A database and evaluation methodology for optical flow", IJCV 92
       (2011) 1-31. :doi:`10.1007/s11263-010-0390-2`

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_flo, write_flo
    >>> flow = np.stack([np.full((3, 4), 1.5), np.full((3, 4), -0.25)]).astype(np.float32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_flo(os.path.join(folder, "flow.flo"), flow)
    ...     back = read_flo(os.path.join(folder, "flow.flo"))
    >>> back.shape, back.dtype, bool(np.array_equal(back, flow))
    ((2, 3, 4), dtype('float32'), True)
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        header = handle.read(_FLO_HEADER_BYTES)
        if len(header) < 4 or header[:4] != _FLO_MAGIC:
            raise ValueError(
                f"{path!r} is not a Middlebury .flo file: expected the magic bytes b'PIEH' "
                f"(float 202021.25), got {header[:4]!r}"
            )
        if len(header) < _FLO_HEADER_BYTES:
            raise ValueError(
                f"{path!r} is truncated: the .flo header needs {_FLO_HEADER_BYTES} bytes, "
                f"got {len(header)}"
            )
        width, height = (int(n) for n in np.frombuffer(header, dtype="<i4", count=2, offset=4))
        if width < 1 or height < 1:
            raise ValueError(
                f"{path!r} has an invalid .flo header: width {width} and height {height} "
                "must be >= 1"
            )
        expected = 8 * width * height
        available = os.fstat(handle.fileno()).st_size - _FLO_HEADER_BYTES
        # Compare with the file's length before allocating, so a corrupt header that claims an
        # absurd size fails here instead of exhausting memory.
        if available < expected:
            raise ValueError(
                f"{path!r} is truncated or its header is corrupt: {width}x{height} flow needs "
                f"{expected} bytes of data, the file has {available}"
            )
        if available > expected:
            raise ValueError(
                f"{path!r} has {available - expected} unexpected bytes after the {width}x{height} "
                "flow data; it is not a valid .flo file"
            )
        data = np.frombuffer(handle.read(expected), dtype="<f4")
    return np.ascontiguousarray(data.reshape(height, width, 2).transpose(2, 0, 1), dtype=np.float32)


def write_flo(path: PathLike, flow: np.ndarray) -> None:
    """Write a flow to a Middlebury ``.flo`` file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. An existing file is replaced. The data are written to a
        temporary file in the same folder first, so an interrupted write leaves no partial file.
    flow : array-like of shape (2, H, W)
        Horizontal (u) then vertical (v) displacement in pixels. Stored as float32 (other dtypes are
        converted), values unchanged: unknown flow stays whatever marks it (Middlebury uses
        ``1e10``; NaN is kept too), so a float32 flow reads back bit for bit.

    Raises
    ------
    ValueError
        If ``flow`` does not have shape ``(2, H, W)``.
    TypeError
        If ``flow`` does not hold real numbers.

    See Also
    --------
    read_flo : The inverse.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import write_flo
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_flo(os.path.join(folder, "zero.flo"), np.zeros((2, 3, 4)))
    ...     os.path.getsize(os.path.join(folder, "zero.flo"))  # 12-byte header + 3*4*2 float32
    108
    """
    flow = _check_flow(flow)
    _, height, width = flow.shape
    header = _FLO_MAGIC + np.array([width, height], dtype="<i4").tobytes()
    data = np.ascontiguousarray(flow.transpose(1, 2, 0), dtype="<f4")
    with _atomic_write(path) as handle:
        handle.write(header)
        handle.write(data.tobytes())


# --------------------------------------------------------------------------------------------
# Flow visualisation: the Middlebury colour wheel
# --------------------------------------------------------------------------------------------
# Number of hues between the primary and secondary colours (Baker et al. 2011), chosen to give
# perceptually similar steps: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta,
# magenta-red.
_WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)
# Flow beyond ``max_flow`` is drawn with this fraction of the rim's colour.
_OUT_OF_RANGE_DIMMING = 0.75


def _color_wheel() -> np.ndarray:
    """The Middlebury colour wheel: ``(55, 3)`` float64 RGB in [0, 255], starting at red.

    Each segment ramps one channel linearly (floored to integers, as in the original code) between
    two of red, yellow, green, cyan, blue and magenta.
    """
    # (channel that ramps, direction, channel held at 255) for each segment
    ramps = ((1, +1, 0), (0, -1, 1), (2, +1, 1), (1, -1, 2), (0, +1, 2), (2, -1, 0))
    rows = []
    for n, (channel, direction, held) in zip(_WHEEL_SEGMENTS, ramps):
        block = np.zeros((n, 3))
        ramp = np.floor(255.0 * np.arange(n) / n)
        block[:, channel] = ramp if direction > 0 else 255.0 - ramp
        block[:, held] = 255.0
        rows.append(block)
    return np.concatenate(rows)


def _colorize(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] for flow ``(u, v)`` already divided by the maximum magnitude: ``(..., 3)``.

    The hue comes from the direction (``+u``, pointing right, is red; ``-u`` cyan), the saturation
    from the magnitude: 0 is white, 1 the wheel's rim colour, beyond 1 the rim colour dimmed.
    """
    wheel = _color_wheel() / 255.0
    n_colors = wheel.shape[0]
    radius = np.hypot(u, v)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 (and 1) for +u
    position = (angle + 1.0) / 2.0 * (n_colors - 1)
    k0 = np.floor(position).astype(np.intp)
    k1 = (k0 + 1) % n_colors
    frac = (position - k0)[..., None]
    color = (1.0 - frac) * wheel[k0] + frac * wheel[k1]
    radius = radius[..., None]
    inside = radius <= 1.0
    return np.where(inside, 1.0 - radius * (1.0 - color), color * _OUT_OF_RANGE_DIMMING)


def _legend(side: int) -> np.ndarray:
    """A ``(side, side, 3)`` uint8 picture of the wheel: a disc whose rim is ``max_flow``.

    Pixel offsets from the centre are the flow, so the legend reads like the image: a pixel of
    the flow picture has the colour of the legend pixel in the direction it moves. The corners
    outside the disc are mid grey, with a one-pixel dark frame to set it off from the flow.
    """
    centre = (side - 1) / 2.0
    radius = side / 2.0 - 1.5
    offsets = np.arange(side) - centre
    v, u = np.meshgrid(offsets / radius, offsets / radius, indexing="ij")
    rgb = _colorize(u, v)
    rgb[np.hypot(u, v) > 1.0] = 0.5
    out = np.round(rgb * 255.0).astype(np.uint8)
    out[[0, -1], :] = 64
    out[:, [0, -1]] = 64
    return out


# The legend's side is about a fifth of the shorter image side, within these bounds (pixels).
_LEGEND_MIN, _LEGEND_MAX, _LEGEND_MARGIN = 24, 128, 4


def flow_to_color(
    flow: np.ndarray, *, max_flow: float | None = None, legend: bool = False
) -> np.ndarray:
    """Colour-code a flow with the Middlebury colour wheel.

    The hue gives the direction and the saturation the magnitude: zero flow is white, a flow of
    magnitude ``max_flow`` is fully saturated (``+u``, pointing right, is red, ``-u`` cyan, ``+v``,
    pointing down, orange-yellow and ``-v`` blue-violet), and a flow longer than ``max_flow`` is
    drawn with the rim's colour at 75% brightness. Unknown pixels (a component not finite or above
    ``1e9`` in magnitude, as in ``.flo`` files) are black.

    Parameters
    ----------
    flow : array-like of shape (2, H, W)
        Horizontal (u) then vertical (v) displacement in pixels.
    max_flow : float, optional
        Magnitude drawn fully saturated. Defaults to the largest magnitude over the known pixels;
        give the same value to compare several flows (an estimate and its ground truth).
    legend : bool, default=False
        If ``True``, paste the colour wheel in the bottom-right corner: a disc, about a fifth of
        the shorter side (24 to 128 px), whose rim is ``max_flow``, each pixel coloured as a flow
        pointing from the centre to it. Images too small to hold it (a side under 32 px) get none.

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), uint8

    Raises
    ------
    ValueError
        If ``flow`` does not have shape ``(2, H, W)`` or ``max_flow`` is not positive and finite.
    TypeError
        If ``flow`` does not hold real numbers.

    References
    ----------
    .. [1] S. Baker, D. Scharstein, J. P. Lewis, S. Roth, M. J. Black, R. Szeliski, "A database and
       evaluation methodology for optical flow", IJCV 92 (2011) 1-31.
       :doi:`10.1007/s11263-010-0390-2`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.io import flow_to_color
    >>> flow = np.zeros((2, 1, 3))
    >>> flow[0, 0, 1] = 2.0   # pointing right
    >>> flow[0, 0, 2] = -2.0  # pointing left
    >>> flow_to_color(flow)[0]  # white, red, cyan
    array([[255, 255, 255],
           [255,   0,   0],
           [  0, 209, 255]], dtype=uint8)
    """
    flow = _check_flow(flow).astype(np.float64)
    known = _known_flow(flow)
    u = np.where(known, flow[0], 0.0)
    v = np.where(known, flow[1], 0.0)
    if max_flow is None:
        max_flow = float(np.hypot(u, v).max())
    else:
        if isinstance(max_flow, bool) or not isinstance(max_flow, numbers.Real):
            raise TypeError(
                f"max_flow must be a real number or None, got {type(max_flow).__name__}"
            )
        max_flow = float(max_flow)
        if not (np.isfinite(max_flow) and max_flow > 0):
            raise ValueError(f"max_flow must be positive and finite, got {max_flow}")
    # An all-zero flow gives max_flow 0: keep it white instead of dividing by zero.
    scale = 1.0 / max_flow if max_flow > 0 else 0.0
    rgb = _colorize(u * scale, v * scale)
    rgb[~known] = 0.0
    out = np.round(rgb * 255.0).astype(np.uint8)
    height, width = known.shape
    if legend:
        side = min(_LEGEND_MAX, max(_LEGEND_MIN, min(height, width) // 5))
        if side + 2 * _LEGEND_MARGIN <= min(height, width):
            end_y = height - _LEGEND_MARGIN
            end_x = width - _LEGEND_MARGIN
            out[end_y - side:end_y, end_x - side:end_x] = _legend(side)
    return out


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def save_png(path: PathLike, rgb: np.ndarray) -> None:
    """Save an 8-bit image as PNG with Pillow, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. Written to a temporary file in the same folder first,
        then moved into place, so an interrupted write leaves no partial file.
    rgb : ndarray of shape (H, W, 3) or (H, W), uint8
        Colour or grey image, for example from :func:`flow_to_color`.

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
    >>> from sktvnet.io import flow_to_color, save_png
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
    with _atomic_write(path) as handle:
        image.save(handle, format="PNG")
