"""Reading and writing videos, flows and images.

Sections: file helpers (atomic writes), the Middlebury ``.flo`` format, flow visualisation (the
Middlebury colour wheel), image output, video and image-sequence decoding (PyAV, Pillow) and flow
stacks written as they are computed (``.npz``, colour-coded video).

Every writer here is atomic: the data goes to a temporary file in the destination folder, which
then replaces the destination in one ``os.replace``, so an interrupted write never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import fractions
import numbers
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

import numpy as np

from .metrics import _known_flow

__all__ = [
    "flow_to_color",
    "iter_video",
    "read_flo",
    "read_video",
    "save_png",
    "write_flo",
    "write_flow_npz",
    "write_flow_video",
]

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
# Temporary files are named ``.<final name>.<12 hex digits>.tmp`` in the destination folder, so
# that a run killed mid-write leaves only hidden files that a later run can recognise and remove.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.tmp$")


def _create_temporary(path: PathLike) -> tuple[str, int]:
    """Create an empty temporary file next to ``path``; return its name and an open descriptor.

    The file is created with ``os.open`` mode 0o666, so the final file gets the usual permissions
    (the umask applies), unlike ``tempfile`` which would leave it private (0o600).
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _commit(tmp: str, path: PathLike) -> None:
    """Flush ``tmp`` to disk and move it onto ``path`` in one ``os.replace``."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, os.fspath(path))


@contextlib.contextmanager
def _atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for binary writing; move it onto ``path`` on success.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, os.fspath(path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _remove_temporaries(folder: PathLike, names: Callable[[str], bool]) -> int:
    """Remove the temporary files that interrupted writes left in ``folder``.

    Only files named like the temporaries of :func:`_atomic_write` whose final name satisfies
    ``names`` are removed; returns how many. A missing folder has none.
    """
    removed = 0
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry)
        if match and names(match["name"]):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, entry))
                removed += 1
    return removed


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


# --------------------------------------------------------------------------------------------
# Videos and image sequences
# --------------------------------------------------------------------------------------------
# Image files read as frames (extension compared case-insensitively).
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# A container may declare a couple of frames more than its decoder returns (edit lists drop a
# leading frame or two); more missing frames than this mean the file was cut short.
_MISSING_FRAMES_TOLERATED = 2
# The decoded frames may end this fraction of the declared duration early (or two frame periods,
# whichever is longer) before the file is called truncated.
_MISSING_DURATION_TOLERATED = 0.05


class _SourceInfo(NamedTuple):
    """What is known about a video before decoding it: both fields may be ``None``."""

    n_frames: int | None  # declared by the container or estimated from its duration
    fps: fractions.Fraction | None


def _as_path(path, name: str = "path") -> str:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fsdecode(path)


def _check_resize(resize) -> tuple[int | None, int | None] | None:
    """``resize`` as ``None`` or ``(height, width)``, one of which may be ``None``."""
    if resize is None:
        return None
    if isinstance(resize, (str, bytes)) or not isinstance(resize, Sequence) or len(resize) != 2:
        raise TypeError(f"resize must be None or a (height, width) pair, got {resize!r}")
    size = []
    for name, n in zip(("height", "width"), resize):
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(f"resize {name} must be a positive integer or None, got {n!r}")
        size.append(None if n is None else int(n))
    if size == [None, None]:
        raise ValueError("resize=(None, None) gives no size: set the height, the width or both")
    return size[0], size[1]


def _target_size(height: int, width: int, resize) -> tuple[int, int]:
    """The size frames of ``height x width`` take: a missing side keeps the aspect ratio."""
    if resize is None:
        return height, width
    new_height, new_width = resize
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


def _import_av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - PyAV is installed with sktvnet[video]
        raise ImportError(
            "reading and writing videos needs PyAV: pip install av (or sktvnet[video])"
        ) from exc
    return av


def _reason(exc: Exception) -> str:
    """FFmpeg's own words for an error, without PyAV's errno and file name decorations."""
    return getattr(exc, "strerror", None) or str(exc)


def _natural_key(name: str) -> list:
    """Sort key that puts ``frame2.png`` before ``frame10.png``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", name)]


def _image_files(folder: str) -> list[str]:
    """The PNG and JPEG files of ``folder`` in natural order; hidden files are ignored."""
    names = [
        entry for entry in os.listdir(folder)
        if not entry.startswith(".") and os.path.splitext(entry)[1].lower() in _IMAGE_EXTENSIONS
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


def _image_frames(files: Sequence[str], resize) -> Iterator[np.ndarray]:
    """Decode image files one by one as frames of one size."""
    first = None
    for path in files:
        rgb = _read_image(path)
        if first is None:
            first = (path, rgb.shape[:2])
            size = _target_size(*rgb.shape[:2], resize)
        elif rgb.shape[:2] != first[1]:
            raise ValueError(
                f"all frames of an image sequence must have the same size: {first[0]!r} is "
                f"{first[1][0]}x{first[1][1]}, {path!r} is {rgb.shape[0]}x{rgb.shape[1]}"
            )
        yield _resized(rgb, size)


def _open_video(path: str):
    """The PyAV container of ``path`` and its first video stream, or a ValueError naming it."""
    av = _import_av()
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ValueError(
            f"cannot read {path!r} as a video ({_reason(exc)}): expected a video file that FFmpeg "
            "decodes (mp4, avi, webm, mkv, ...) or a folder of PNG/JPEG frames"
        ) from exc
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path!r} holds no video stream")
    return container, container.streams.video[0]


def _declared_span(container, stream) -> tuple[float, float] | None:
    """Start and end times (s) of the video stream according to the file's header, if known."""
    if stream.duration and stream.time_base:
        start = (stream.start_time or 0) * stream.time_base
        return float(start), float(start + stream.duration * stream.time_base)
    # The container's duration covers every stream: trust it only when there is no other stream.
    if container.duration and len(container.streams) == 1:
        start = (container.start_time or 0) / 1e6
        return start, start + container.duration / 1e6
    return None


def _check_complete(path: str, container, stream, count: int, last_time: float | None) -> None:
    """Raise if fewer frames were decoded than the header promises (a file cut short)."""
    if count == 0:
        raise ValueError(f"{path!r} holds no decodable video frame")
    declared = stream.frames
    if declared and count + _MISSING_FRAMES_TOLERATED < declared:
        raise ValueError(
            f"{path!r} is truncated or corrupt: its header declares {declared} frames, "
            f"only {count} could be decoded"
        )
    span = _declared_span(container, stream)
    rate = stream.average_rate or stream.guessed_rate
    if span is None or last_time is None or not rate:
        return
    start, expected_end = span
    period = 1.0 / float(rate)
    decoded_end = last_time + period
    slack = max(2 * period, _MISSING_DURATION_TOLERATED * (expected_end - start))
    if decoded_end < expected_end - slack:
        raise ValueError(
            f"{path!r} is truncated or corrupt: its header declares {expected_end:.2f} s of "
            f"video, the decoded frames end at {decoded_end:.2f} s ({count} frames)"
        )


def _video_frames(path: str, resize) -> Iterator[np.ndarray]:
    """Decode a video file frame by frame as RGB ``(H, W, 3)`` uint8."""
    av = _import_av()
    container, stream = _open_video(path)
    with container:
        stream.thread_type = "AUTO"  # frame-parallel decoding; frames still arrive in order
        count, last_time, shape = 0, None, None
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                if shape is None:
                    shape = rgb.shape[:2]
                    size = _target_size(*shape, resize)
                elif rgb.shape[:2] != shape:
                    raise ValueError(
                        f"{path!r} changes frame size at frame {count}, from {shape[0]}x{shape[1]} "
                        f"to {rgb.shape[0]}x{rgb.shape[1]}; re-encode it at one size"
                    )
                count += 1
                if frame.time is not None:
                    last_time = float(frame.time)
                yield _resized(rgb, size)
        except av.FFmpegError as exc:
            raise ValueError(
                f"{path!r} is corrupt or truncated: decoding failed after {count} frames "
                f"({_reason(exc)})"
            ) from exc
        _check_complete(path, container, stream, count, last_time)


def _frames(path, resize) -> Iterator[np.ndarray]:
    """Frames of a video file or an image folder; the path is checked now, the data when read."""
    path = _as_path(path)
    resize = _check_resize(resize)
    if os.path.isdir(path):
        return _image_frames(_image_files(path), resize)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such video file or image folder: {path!r}")
    return _video_frames(path, resize)


def _probe(path) -> _SourceInfo:
    """Frame count and rate of a video file or image folder, without decoding it.

    The count is the header's, or is estimated from the duration (None when neither is known);
    image folders have no rate. Raises as :func:`read_video` does for files it cannot open.
    """
    path = _as_path(path)
    if os.path.isdir(path):
        return _SourceInfo(len(_image_files(path)), None)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such video file or image folder: {path!r}")
    container, stream = _open_video(path)
    with container:
        rate = stream.average_rate or stream.guessed_rate or None
        n_frames = stream.frames or None
        span = _declared_span(container, stream)
        if n_frames is None and span is not None and rate:
            n_frames = max(1, round((span[1] - span[0]) * float(rate)))
        return _SourceInfo(n_frames, fractions.Fraction(rate) if rate else None)


def _chunks(frames: Iterator[np.ndarray], chunk_size: int, overlap: int) -> Iterator[np.ndarray]:
    """Group frames into arrays of ``chunk_size``, each starting with the last ``overlap`` frames
    of the previous one."""
    chunk: list[np.ndarray] = []
    yielded = False
    try:
        for frame in frames:
            chunk.append(frame)
            if len(chunk) == chunk_size:
                yield np.stack(chunk)
                yielded = True
                chunk = chunk[chunk_size - overlap:] if overlap else []
        # After the first chunk, a remainder made only of repeated frames holds nothing new.
        if chunk and (not yielded or len(chunk) > overlap):
            yield np.stack(chunk)
    finally:
        frames.close()


def read_video(
    path: PathLike, *, resize: tuple[int | None, int | None] | None = None
) -> np.ndarray:
    """Decode a whole video, or a folder of images, into one array.

    Parameters
    ----------
    path : str or os.PathLike
        A video file that FFmpeg decodes through PyAV (mp4, avi, webm, mkv, mov, ...), or a folder
        of PNG/JPEG frames taken in natural name order (``frame2.png`` before ``frame10.png``;
        hidden files and other extensions are ignored).
    resize : (height, width), optional
        Size of the returned frames; either side may be ``None`` to keep the aspect ratio.
        Frames are resized with Pillow's bilinear filter, antialiased when shrinking.

    Returns
    -------
    frames : ndarray of shape (T, H, W, 3), uint8
        RGB frames in display order; grey, palette and RGBA images are converted to RGB.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` cannot be decoded (not a video, corrupt, truncated: fewer frames or a shorter
        duration than its header declares), a folder holds no image, or frames differ in size.
        The message names the file.

    See Also
    --------
    iter_video : The same frames in chunks, for videos too long to hold in memory.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_video, save_png
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for t in range(3):
    ...         frame = np.full((32, 48, 3), 80 * t, np.uint8)
    ...         save_png(os.path.join(folder, f"{t:06d}.png"), frame)
    ...     frames = read_video(folder)
    ...     small = read_video(folder, resize=(16, None))
    >>> frames.shape, frames.dtype, frames[:, 0, 0, 0].tolist()
    ((3, 32, 48, 3), dtype('uint8'), [0, 80, 160])
    >>> small.shape
    (3, 16, 24, 3)
    """
    return np.stack(list(_frames(path, resize)))


def iter_video(
    path: PathLike,
    *,
    chunk_size: int = 64,
    overlap: int = 0,
    resize: tuple[int | None, int | None] | None = None,
) -> Iterator[np.ndarray]:
    """Decode a video, or a folder of images, in chunks of frames: memory bounded by the chunk.

    Parameters
    ----------
    path : str or os.PathLike
        A video file or a folder of PNG/JPEG frames, as for :func:`read_video`.
    chunk_size : int, default=64
        Frames per chunk (the last chunk may hold fewer).
    overlap : int, default=0
        Frames each chunk repeats from the end of the previous one, ``0 <= overlap < chunk_size``.
        With ``overlap=0`` the chunks partition the video (``np.concatenate`` gives
        :func:`read_video`'s array); with ``overlap=1`` the consecutive pairs ``(t, t+1)`` of all
        chunks are every pair of the video, each exactly once.
    resize : (height, width), optional
        As for :func:`read_video`.

    Yields
    ------
    chunk : ndarray of shape (n, H, W, 3), uint8
        ``n <= chunk_size`` consecutive RGB frames.

    Raises
    ------
    FileNotFoundError
        At the call, if ``path`` does not exist.
    ValueError
        As :func:`read_video`. Decoding happens during the iteration, so a corrupt or truncated
        file raises there, after the chunks decoded before the damage were yielded.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import iter_video, save_png
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for t in range(7):
    ...         save_png(os.path.join(folder, f"{t}.png"), np.full((8, 8, 3), t, np.uint8))
    ...     plain = [c[:, 0, 0, 0].tolist() for c in iter_video(folder, chunk_size=3)]
    ...     pairs = [c[:, 0, 0, 0].tolist() for c in iter_video(folder, chunk_size=3, overlap=1)]
    >>> plain
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> pairs
    [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    """
    if (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
            or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if (isinstance(overlap, bool) or not isinstance(overlap, numbers.Integral)
            or not 0 <= overlap < chunk_size):
        raise ValueError(
            f"overlap must be an integer in [0, chunk_size - 1] = [0, {chunk_size - 1}], "
            f"got {overlap!r}"
        )
    return _chunks(_frames(path, resize), int(chunk_size), int(overlap))


# --------------------------------------------------------------------------------------------
# Flow stacks written as they are computed: .npz and colour-coded video
# --------------------------------------------------------------------------------------------
# Container format for each video extension the flow-video writer accepts.
_VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
_NPZ_KEY = "flow"
_COPY_BLOCK = 1 << 24


def _check_fps(fps) -> fractions.Fraction:
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise TypeError(f"fps must be a positive real number, got {type(fps).__name__} {fps!r}")
    if not (np.isfinite(float(fps)) and fps > 0):
        raise ValueError(f"fps must be positive and finite, got {fps}")
    return fractions.Fraction(fps).limit_denominator(100_000)


class _FlowStackWriter:
    """Base of the writers that take flows one at a time and publish one file at the end.

    ``write`` checks that every flow is ``(2, H, W)`` of the first one's size; ``close`` finishes
    the file and moves it into place atomically; ``abort`` (or an exception inside a ``with``
    block) discards it. Nothing exists under the final name before ``close`` succeeds.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = _as_path(path)
        self.count = 0
        self._size: tuple[int, int] | None = None

    def write(self, flow: np.ndarray) -> None:
        flow = _check_flow(flow)
        if self._size is None:
            self._size = flow.shape[1:]
            self._start(self._size)
        elif flow.shape[1:] != self._size:
            raise ValueError(
                f"every flow written to {self.path!r} must have the size of the first, "
                f"{self._size[0]}x{self._size[1]}, got {flow.shape[1]}x{flow.shape[2]}"
            )
        self._write(flow)
        self.count += 1

    def close(self) -> int:
        """Finish the file and move it into place; returns the number of flows written."""
        try:
            if self.count == 0:
                raise ValueError(f"no flow was written: {self.path!r} needs at least one")
            self._finish()
        except BaseException:
            self.abort()
            raise
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _start(self, size: tuple[int, int]) -> None:
        raise NotImplementedError

    def _write(self, flow: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class _FlowNpzWriter(_FlowStackWriter):
    """Flows spilled to an anonymous temporary file, then copied into a ``.npz`` in one pass.

    The number of flows is known only at the end and the ``.npy`` header that leads the archive
    member needs it, so the data wait on disk, never in memory.
    """

    def __init__(self, path: PathLike) -> None:
        super().__init__(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        # Anonymous (unlinked) file on the output's file system: the kernel frees it whatever
        # happens to this process, and it never fills a RAM-backed /tmp.
        self._spill = tempfile.TemporaryFile(dir=folder)

    def _start(self, size):
        pass

    def _write(self, flow):
        self._spill.write(np.ascontiguousarray(flow, dtype="<f4").tobytes())

    def _finish(self):
        header = {"descr": "<f4", "fortran_order": False, "shape": (self.count, 2, *self._size)}
        self._spill.seek(0)
        with _atomic_write(self.path) as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                with archive.open(f"{_NPZ_KEY}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_1_0(member, header)
                    shutil.copyfileobj(self._spill, member, _COPY_BLOCK)
        self._spill.close()

    def abort(self):
        self._spill.close()


class _FlowVideoWriter(_FlowStackWriter):
    """Flows colour-coded (:func:`flow_to_color`) and encoded with PyAV into a temporary file."""

    def __init__(self, path: PathLike, *, fps=25.0, max_flow=None, legend=False) -> None:
        super().__init__(path)
        extension = os.path.splitext(self.path)[1].lower()
        if extension not in _VIDEO_FORMATS:
            raise ValueError(
                f"cannot tell the video format of {self.path!r}: expected one of the extensions "
                f"{', '.join(sorted(_VIDEO_FORMATS))}"
            )
        self._format = _VIDEO_FORMATS[extension]
        self._rate = _check_fps(fps)
        # Checked now rather than at the first frame, with flow_to_color's own message.
        flow_to_color(np.zeros((2, 1, 1)), max_flow=max_flow)
        self._max_flow = max_flow
        self._legend = bool(legend)
        self._av = _import_av()
        self._tmp: str | None = None
        self._container = None
        self._stream = None

    def _start(self, size):
        av = self._av
        tmp, fd = _create_temporary(self.path)
        os.close(fd)
        self._tmp = tmp
        self._container = av.open(tmp, "w", format=self._format)
        if "libx264" in av.codecs_available:
            stream = self._container.add_stream("libx264", rate=self._rate, options={"crf": "18"})
        else:  # FFmpeg builds without x264 still have MPEG-4 part 2
            stream = self._container.add_stream("mpeg4", rate=self._rate)
            stream.bit_rate = 8_000_000
        # 4:2:0 chroma needs even sides: odd ones are padded by repeating the last row/column.
        stream.height = size[0] + size[0] % 2
        stream.width = size[1] + size[1] % 2
        stream.pix_fmt = "yuv420p"
        self._stream = stream

    def _write(self, flow):
        rgb = flow_to_color(flow, max_flow=self._max_flow, legend=self._legend)
        pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
        if any(p[1] for p in pad):
            rgb = np.pad(rgb, pad, mode="edge")
        frame = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _finish(self):
        for packet in self._stream.encode():  # flush the encoder's delayed frames
            self._container.mux(packet)
        self._container.close()
        self._container = None
        _commit(self._tmp, self.path)
        self._tmp = None

    def abort(self):
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(self._tmp)
            self._tmp = None


def _flow_items(flows, name: str = "flows") -> Iterable:
    if isinstance(flows, np.ndarray) and flows.ndim != 4:
        raise ValueError(
            f"{name} must be an array of shape (n, 2, H, W) or an iterable of (2, H, W) flows, "
            f"got an array of shape {flows.shape}; a single flow is flows[None]"
        )
    return flows


def write_flow_npz(path: PathLike, flows: np.ndarray | Iterable[np.ndarray]) -> int:
    """Write a stack of flows to one ``.npz`` file, atomically, holding one flow at a time.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, normally ending in ``.npz``; its folder must exist. Nothing appears under this
        name before the whole stack is written.
    flows : array-like of shape (n, 2, H, W), or an iterable of (2, H, W) arrays
        Flows u then v in pixels, for example a generator that computes them: only one is in
        memory at a time (the others wait in an anonymous temporary file next to ``path``).

    Returns
    -------
    n : int
        The number of flows written.

    Raises
    ------
    ValueError
        If a flow is not ``(2, H, W)``, the flows differ in size, or there is none.

    Notes
    -----
    The archive holds one uncompressed member, ``flow``, float32 of shape ``(n, 2, H, W)``:
    ``np.load(path)["flow"]`` reads it.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import write_flow_npz
    >>> flows = (np.full((2, 4, 5), t, np.float32) for t in range(3))  # computed lazily
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_flow_npz(os.path.join(folder, "clip.npz"), flows)
    ...     with np.load(os.path.join(folder, "clip.npz")) as archive:
    ...         stack = archive["flow"]
    3
    >>> stack.shape, stack.dtype, stack[:, 0, 0, 0].tolist()
    ((3, 2, 4, 5), dtype('float32'), [0.0, 1.0, 2.0])
    """
    with _FlowNpzWriter(path) as writer:
        for flow in _flow_items(flows):
            writer.write(flow)
    return writer.count


def write_flow_video(
    path: PathLike,
    flows: np.ndarray | Iterable[np.ndarray],
    *,
    fps: float = 25.0,
    max_flow: float | None = None,
    legend: bool = False,
) -> int:
    """Colour-code flows (Middlebury wheel) and encode them as a video, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ending in ``.mp4``, ``.m4v``, ``.mov``, ``.mkv`` or ``.avi``; its folder must
        exist. Encoded to a temporary file next to it and moved into place when complete.
    flows : array-like of shape (n, 2, H, W), or an iterable of (2, H, W) arrays
        Flows u then v in pixels; an iterable is consumed one flow at a time.
    fps : float, default=25.0
        Frame rate of the video.
    max_flow : float, optional
        Magnitude drawn fully saturated in every frame, as in :func:`flow_to_color`. By default
        each frame uses its own largest magnitude (no flow saturates, but colours of one frame
        cannot be compared with another's); give a value for a steady scale.
    legend : bool, default=False
        Paste the colour wheel in the bottom-right corner of every frame.

    Returns
    -------
    n : int
        The number of frames written.

    Raises
    ------
    ValueError
        If the extension is not one of the above, a flow is not ``(2, H, W)``, the flows differ
        in size, there is none, or ``fps`` or ``max_flow`` is not positive.

    Notes
    -----
    H.264 (libx264, constant quality 18) in 4:2:0 chroma, or MPEG-4 part 2 where the FFmpeg build
    lacks x264; 4:2:0 needs even sides, so an odd height or width is padded by one repeated
    row or column.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_video, write_flow_video
    >>> flows = np.zeros((4, 2, 32, 48), np.float32)
    >>> flows[:, 0] = 1.0  # everything moves right: red
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_flow_video(os.path.join(folder, "flow.mp4"), flows, fps=10)
    ...     frames = read_video(os.path.join(folder, "flow.mp4"))
    4
    >>> frames.shape
    (4, 32, 48, 3)
    >>> bool(frames[..., 0].min() > 200 and frames[..., 1:].max() < 40)  # red, up to coding noise
    True
    """
    with _FlowVideoWriter(path, fps=fps, max_flow=max_flow, legend=legend) as writer:
        for flow in _flow_items(flows):
            writer.write(flow)
    return writer.count
