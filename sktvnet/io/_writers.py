"""Flow stacks written as they are computed: one ``.npz`` array, or one colour-coded video.

Each writer takes flows one at a time, holds at most one in memory, and publishes its file only
when it is complete (:func:`~sktvnet.io.atomic_write`'s rule).
"""

from __future__ import annotations

import contextlib
import fractions
import numbers
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable

import numpy as np

from .._validation import check_flow, check_path
from ..visualization import flow_to_color
from ._atomic import PathLike, _commit, _create_temporary, atomic_write
from ._video import _import_av

# Container format for each video extension the flow-video writer accepts.
_VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
_NPZ_KEY = "flow"
_COPY_BLOCK = 1 << 24


def _check_fps(fps) -> fractions.Fraction:
    """``fps`` as an exact fraction (PyAV's rate type), or a clear error."""
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

    #: Number of flows written so far.
    count: int

    def __init__(self, path: PathLike) -> None:
        self.path = check_path(path)
        self.count = 0
        self._size: tuple[int, int] | None = None

    def write(self, flow: np.ndarray) -> None:
        """Append one flow ``(2, H, W)``, of the size of the first one written."""
        flow = check_flow(flow)
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
        """Finish the file and move it into place; return the number of flows written."""
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
        """Discard what was written: nothing appears under the final name."""
        raise NotImplementedError


class FlowNpzWriter(_FlowStackWriter):
    """Write flows one at a time into one ``.npz`` file, published when :meth:`close` is called.

    The streaming form of :func:`write_flow_npz`, for flows that arrive from a loop. ``write``
    appends a flow ``(2, H, W)``; ``close`` finishes the file, moves it into place and returns
    the number of flows; ``abort`` discards everything. Used as a context manager, it closes on
    success and aborts on an exception. The archive is the one :func:`write_flow_npz` writes.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, normally ending in ``.npz``; its folder must exist.

    Notes
    -----
    The number of flows is known only at the end and the ``.npy`` header that leads the archive
    member needs it, so the flows wait in an anonymous temporary file next to ``path`` (on disk,
    never in memory) and are copied into the archive in one pass.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import FlowNpzWriter
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with FlowNpzWriter(os.path.join(folder, "clip.npz")) as writer:
    ...         for t in range(3):
    ...             writer.write(np.full((2, 4, 5), t, np.float32))
    ...     np.load(os.path.join(folder, "clip.npz"))["flow"].shape
    (3, 2, 4, 5)
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
        with atomic_write(self.path) as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                with archive.open(f"{_NPZ_KEY}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_1_0(member, header)
                    shutil.copyfileobj(self._spill, member, _COPY_BLOCK)
        self._spill.close()

    def abort(self):
        self._spill.close()


class FlowVideoWriter(_FlowStackWriter):
    """Colour-code flows one at a time into a video, published when :meth:`close` is called.

    The streaming form of :func:`write_flow_video`, with the same parameters and encoding; the
    methods are those of :class:`FlowNpzWriter`. Frames are colour-coded with
    :func:`sktvnet.visualization.flow_to_color` and encoded with PyAV into a temporary file next
    to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ending in ``.mp4``, ``.m4v``, ``.mov``, ``.mkv`` or ``.avi``.
    fps : float, default=25.0
        Frame rate of the video.
    max_flow : float, optional
        Magnitude drawn fully saturated; by default each frame's largest.
    legend : bool, default=False
        Paste the colour wheel in the bottom-right corner of every frame.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import FlowVideoWriter, probe_video
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with FlowVideoWriter(os.path.join(folder, "flow.mp4"), fps=10) as writer:
    ...         for t in range(4):
    ...             writer.write(np.full((2, 16, 16), t, np.float32))
    ...     probe_video(os.path.join(folder, "flow.mp4")).n_frames
    4
    """

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
    with FlowNpzWriter(path) as writer:
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
        Magnitude drawn fully saturated in every frame, as in
        :func:`sktvnet.visualization.flow_to_color`. By default each frame uses its own largest
        magnitude (no flow saturates, but colours of one frame cannot be compared with
        another's); give a value for a steady scale.
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
    with FlowVideoWriter(path, fps=fps, max_flow=max_flow, legend=legend) as writer:
        for flow in _flow_items(flows):
            writer.write(flow)
    return writer.count
