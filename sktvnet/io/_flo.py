"""The Middlebury ``.flo`` optical-flow format."""

from __future__ import annotations

import os

import numpy as np

from .._validation import check_flow
from ._atomic import PathLike, atomic_write

# The first four bytes, b"PIEH", read as a little-endian float32 are 202021.25: a sanity check
# that also catches files written with the wrong byte order.
_FLO_MAGIC = b"PIEH"
_FLO_HEADER_BYTES = 12


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
        which :func:`sktvnet.metrics.endpoint_error` and
        :func:`sktvnet.visualization.flow_to_color` treat as unknown.

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
    flow = check_flow(flow)
    _, height, width = flow.shape
    header = _FLO_MAGIC + np.array([width, height], dtype="<i4").tobytes()
    data = np.ascontiguousarray(flow.transpose(1, 2, 0), dtype="<f4")
    with atomic_write(path) as handle:
        handle.write(header)
        handle.write(data.tobytes())
