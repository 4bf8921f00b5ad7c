"""The rawframes layout of two-stream action models: flows as pairs of quantised JPEG images.

One folder per video holds ``flow_x_00001.jpg``, ``flow_y_00001.jpg``, ... (the flow of the
pair of frames 1 and 2, then 2 and 3, ...) and optionally the frames ``img_00001.jpg``, ... .
Each flow channel is an 8-bit grey JPEG: ``k = round(255 * (f + bound) / (2 * bound))`` with
``f`` clipped to ``[-bound, bound]`` (20 px by default), read back as
``f = k * 2 * bound / 255 - bound``.

What this follows, and where it was read (facts, no code):

* denseflow (open-mmlab/denseflow, ``src/common.cpp``, ``convertFlowToImage``): values above
  the bound become 255, below minus the bound 0, others ``cvRound(255 * (f - L) / (H - L))``
  with ``L = -bound``, ``H = bound``; OpenCV's ``cvRound`` rounds half to even, as
  :func:`numpy.rint`. The JPEG is ``cv::imencode(".jpg", ...)`` without parameters, so OpenCV's
  default quality, 95; Pillow at quality 95 writes the same bytes (checked with OpenCV 5 and
  Pillow 13, both on libjpeg-turbo: grey and colour files were identical).
* Numbering: mmaction2's RawframeDataset (``mmaction/datasets/rawframe_dataset.py``) takes
  ``img_{:05}.jpg`` with ``start_index=1`` by default, its flow configs ``{}_{:05d}.jpg``
  formatted with ``flow_x``/``flow_y`` by ``tools/data/build_file_list.py``'s prefixes, and its
  dataset pages (``tools/data/hmdb51/README.md``, ``ucf101``, ``diving48``) show
  ``flow_x_00001.jpg``: 1-based. denseflow wrote 1-based names until its commit 2085344
  (2019-10-31, ``writeImages``/``writeFlowImages`` in ``src/common.cpp``) and 0-based ones
  since; mmaction2's FAQ (``docs/en/get_started/faq.md``) tells users to set ``start_index``
  to match. Hence ``start_index`` here, 1 by default, and a reader that takes either.
* mmaction2's own CPU script (``tools/misc/flow_extraction.py``) truncates instead of rounding
  (``astype(np.uint8)``), which shifts its flows by half a quantum; rounding is denseflow's.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import secrets
import shutil

import numpy as np

from .._validation import check_flow, check_path
from ._atomic import PathLike

#: Flow magnitude (px) that maps to 0 and 255: denseflow's ``-b=20`` and mmaction2's default.
DEFAULT_BOUND = 20.0
#: OpenCV's default JPEG quality, that of denseflow's and mmaction2's files.
JPEG_QUALITY = 95

_FLOW_FILE = re.compile(r"^flow_([xy])_(\d+)\.jpg$")
# A folder being written is ``.<final name>.<12 hex digits>.part`` next to its final place.
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.part$")


def _check_bound(bound) -> float:
    if isinstance(bound, bool) or not isinstance(bound, numbers.Real) \
            or not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be a positive number of pixels (e.g. 20), got {bound!r}")
    return float(bound)


def quantize_flow(flow: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Flow as the 8-bit values of rawframes images: ``round(255 * (f + bound) / (2 * bound))``.

    Parameters
    ----------
    flow : ndarray of shape (..., 2, H, W)
        Flows in pixels, u then v; any leading axes.
    bound : float, default=20.0
        Magnitude mapped to 255 (and minus it to 0); larger values are clipped.

    Returns
    -------
    images : ndarray of shape (..., 2, H, W), uint8
        128 is a motion of ``bound / 255`` px; 0 and 255 hold everything beyond the bound.

    Raises
    ------
    ValueError
        If ``flow`` holds NaN or infinite values, or ``bound`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.io import quantize_flow
    >>> quantize_flow(np.array([[[-30.0, -20.0, 0.0, 20.0 / 255, 20.0, 30.0]]] * 2)).tolist()[0]
    [[0, 0, 128, 128, 255, 255]]
    """
    bound = _check_bound(bound)
    flow = np.asarray(flow)
    if flow.dtype.kind not in "iuf":
        raise TypeError(f"flow must hold real numbers, got dtype {flow.dtype}")
    if not np.isfinite(flow).all():
        raise ValueError("flow contains NaN or infinite values: they have no 8-bit value")
    # In float64 as denseflow (a float times doubles); np.rint rounds half to even like cvRound.
    scaled = (np.clip(flow, -bound, bound).astype(np.float64) + bound) * (255.0 / (2 * bound))
    return np.rint(scaled).astype(np.uint8)


def dequantize_flow(images: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """The flow that 8-bit rawframes values stand for: ``k * 2 * bound / 255 - bound``.

    Parameters
    ----------
    images : array of shape (..., 2, H, W), uint8
        Values of ``flow_x`` then ``flow_y`` images.
    bound : float, default=20.0
        The bound they were written with.

    Returns
    -------
    flow : ndarray of shape (..., 2, H, W), float32
        Within half a quantum, ``bound / 255`` px, of the flow that :func:`quantize_flow` was
        given, where that flow was inside the bound.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet.io import dequantize_flow
    >>> dequantize_flow(np.array([0, 51, 255], np.uint8), bound=20).tolist()
    [-20.0, -12.0, 20.0]
    """
    bound = _check_bound(bound)
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got dtype {images.dtype}")
    return (images.astype(np.float64) * (2 * bound / 255.0) - bound).astype(np.float32)


def _save_jpeg(path: str, image: np.ndarray, quality: int) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path, format="JPEG", quality=quality)


def _read_grey(path: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"))
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise ValueError(f"cannot read {path!r} as a JPEG image: {exc}") from exc


class RawframesWriter:
    """Write one video's rawframes folder image by image; it appears complete, or not at all.

    The images go to a hidden folder ``.<name>.<12 hex>.part`` next to ``folder``, which
    :meth:`close` renames to ``folder`` in one step, so that a reader (or a run resumed after a
    crash) never sees a partial video; :meth:`abort`, or an exception inside a ``with`` block,
    removes it. A folder left by a killed process is recognised by its name and removed by the
    next ``sktvnet extract --resume`` (:func:`remove_partial_folders`).

    Parameters
    ----------
    folder : str or os.PathLike
        The video's folder; it must not exist, its parent is created if needed.
    bound : float, default=20.0
        Flow magnitude (px) mapped to 255 (see :func:`quantize_flow`).
    start_index : int, default=1
        Number of the first file: 1 as mmaction2's RawframeDataset expects (``start_index=1``)
        and as denseflow wrote until 2019, 0 as denseflow writes since.
    quality : int, default=95
        JPEG quality, 1 to 100; 95 is OpenCV's default, that of denseflow's files.

    Attributes
    ----------
    n_flows : int
        Flows written so far (``flow_x``/``flow_y`` pairs).
    n_frames : int
        Frames written so far (``img`` files).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import RawframesWriter
    >>> with tempfile.TemporaryDirectory() as root:
    ...     with RawframesWriter(os.path.join(root, "Run", "v_Run_g01_c01")) as writer:
    ...         writer.write_flow(np.zeros((2, 16, 16), np.float32))
    ...         writer.write_frame(np.zeros((16, 16, 3), np.uint8))
    ...     sorted(os.listdir(os.path.join(root, "Run", "v_Run_g01_c01")))
    ['flow_x_00001.jpg', 'flow_y_00001.jpg', 'img_00001.jpg']
    """

    def __init__(self, folder: PathLike, *, bound: float = DEFAULT_BOUND, start_index: int = 1,
                 quality: int = JPEG_QUALITY) -> None:
        self.folder = os.path.abspath(check_path(folder, "folder"))
        self.bound = _check_bound(bound)
        if isinstance(start_index, bool) or not isinstance(start_index, numbers.Integral) \
                or start_index < 0:
            raise ValueError(f"start_index must be an integer >= 0 (1 for mmaction2), "
                             f"got {start_index!r}")
        if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) \
                or not 1 <= quality <= 100:
            raise ValueError(f"quality must be an integer in [1, 100], got {quality!r}")
        self.start_index, self.quality = int(start_index), int(quality)
        if os.path.lexists(self.folder):
            raise FileExistsError(f"{self.folder!r} exists already: a rawframes folder is "
                                  "written whole, into a folder that does not exist yet")
        parent, name = os.path.split(self.folder)
        os.makedirs(parent, exist_ok=True)
        self._partial = os.path.join(parent, f".{name}.{secrets.token_hex(6)}.part")
        os.mkdir(self._partial)
        self.n_flows = self.n_frames = 0
        self._size: tuple[int, int] | None = None

    def _check_size(self, size: tuple[int, int], what: str) -> None:
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise ValueError(f"every image of a rawframes folder has one size: this {what} is "
                             f"{size[0]}x{size[1]}, the first was {self._size[0]}x{self._size[1]}")

    def write_flow(self, flow: np.ndarray) -> None:
        """Quantise one flow ``(2, H, W)`` and write it as the next ``flow_x``/``flow_y``."""
        images = quantize_flow(check_flow(flow), self.bound)
        self._check_size(images.shape[1:], "flow")
        index = self.start_index + self.n_flows
        for axis, image in zip("xy", images):
            _save_jpeg(os.path.join(self._partial, f"flow_{axis}_{index:05d}.jpg"), image,
                       self.quality)
        self.n_flows += 1

    def write_frame(self, frame: np.ndarray) -> None:
        """Write one frame ``(H, W, 3)`` RGB or ``(H, W)`` grey, uint8, as the next ``img``."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or not (frame.ndim == 2 or frame.ndim == 3
                                           and frame.shape[-1] == 3):
            raise ValueError(f"a frame must be uint8 (H, W, 3) or (H, W), got an array of shape "
                             f"{frame.shape} and dtype {frame.dtype}")
        self._check_size(frame.shape[:2], "frame")
        index = self.start_index + self.n_frames
        _save_jpeg(os.path.join(self._partial, f"img_{index:05d}.jpg"), frame, self.quality)
        self.n_frames += 1

    def close(self) -> str:
        """Move the folder into place; returns its path. Fails if something took its name."""
        os.rename(self._partial, self.folder)
        return self.folder

    def abort(self) -> None:
        """Remove everything written: nothing appears under the final name."""
        shutil.rmtree(self._partial, ignore_errors=True)

    def __enter__(self) -> RawframesWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_rawframes(folder: PathLike, flows, *, frames=None, bound: float = DEFAULT_BOUND,
                    start_index: int = 1, quality: int = JPEG_QUALITY) -> int:
    """Write one video's flows (and optionally its frames) as a rawframes folder.

    Parameters
    ----------
    folder : str or os.PathLike
        The video's folder, which must not exist; it appears complete or not at all (see
        :class:`RawframesWriter`).
    flows : array of shape (T-1, 2, H, W) or iterable of (2, H, W) arrays
        The flow of each pair of consecutive frames, u then v, in pixels.
    frames : array of shape (T, H, W, 3) or (T, H, W), uint8, optional
        The frames, written as ``img_00001.jpg``, ...
    bound, start_index, quality
        As for :class:`RawframesWriter`: 20 px, 1 and 95 by default.

    Returns
    -------
    n_flows : int
        The number of ``flow_x``/``flow_y`` pairs written.

    See Also
    --------
    read_rawframes : The flows back, dequantised.
    sktvnet.datasets.load_rawframes_folder : A tree of such folders as (X, y).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_rawframes, write_rawframes
    >>> flows = np.zeros((3, 2, 16, 24), np.float32)
    >>> flows[:, 0] = 2.5  # everything moves 2.5 px right
    >>> with tempfile.TemporaryDirectory() as root:
    ...     write_rawframes(os.path.join(root, "clip"), flows)
    ...     names = sorted(os.listdir(os.path.join(root, "clip")))
    ...     back = read_rawframes(os.path.join(root, "clip"))
    3
    >>> names[:2], names[-1]
    (['flow_x_00001.jpg', 'flow_x_00002.jpg'], 'flow_y_00003.jpg')
    >>> back.shape, bool(np.abs(back - flows).max() <= 20 / 255)  # within half a quantum
    ((3, 2, 16, 24), True)
    """
    with RawframesWriter(folder, bound=bound, start_index=start_index,
                         quality=quality) as writer:
        for flow in flows:
            writer.write_flow(flow)
        if writer.n_flows == 0:
            raise ValueError("flows holds no flow: a rawframes folder needs at least one")
        for frame in () if frames is None else frames:
            writer.write_frame(frame)
        return writer.n_flows


def is_rawframes_flow(name: str) -> bool:
    """Whether the file name ``name`` is a flow image of the rawframes layout,
    ``flow_x_<number>.jpg`` or ``flow_y_<number>.jpg`` (not a frame, ``img_<number>.jpg``).

    Parameters
    ----------
    name : str
        A file name, without its folder.

    Returns
    -------
    is_flow : bool

    Examples
    --------
    >>> from sktvnet.io import is_rawframes_flow
    >>> [is_rawframes_flow(name) for name in ("flow_x_00001.jpg", "img_00001.jpg")]
    [True, False]
    """
    return _FLOW_FILE.match(name) is not None


def _flow_files(folder: str) -> list[tuple[str, str]]:
    """The (flow_x, flow_y) files of a rawframes folder in order, checked to be complete."""
    numbers_of: dict[str, dict[int, str]] = {"x": {}, "y": {}}
    for name in os.listdir(folder):
        match = _FLOW_FILE.match(name)
        if match:
            numbers_of[match[1]][int(match[2])] = name
    xs, ys = numbers_of["x"], numbers_of["y"]
    if not xs and not ys:
        raise ValueError(f"{folder!r} holds no flow_x_NNNNN.jpg / flow_y_NNNNN.jpg image: not a "
                         "rawframes folder of flows")
    if set(xs) != set(ys):
        alone = sorted(set(xs) ^ set(ys))[:3]
        names = [xs.get(i) or ys.get(i) for i in alone]
        raise ValueError(f"{folder!r} is incomplete: {', '.join(names)} "
                         "has no flow_x/flow_y partner")
    first, last = min(xs), max(xs)
    if len(xs) != last - first + 1:
        missing = sorted(set(range(first, last + 1)) - set(xs))[:3]
        raise ValueError(f"{folder!r} is incomplete: the flows run from {first} to {last} but "
                         f"number(s) {missing} are missing")
    return [(os.path.join(folder, xs[i]), os.path.join(folder, ys[i]))
            for i in range(first, last + 1)]


def read_rawframes(folder: PathLike, *, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Read the flows of a rawframes folder, dequantised.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder holding ``flow_x_NNNNN.jpg`` and ``flow_y_NNNNN.jpg`` numbered without gap
        from any first number (1 as mmaction2 expects, 0 as recent denseflow writes); other
        files (``img_*.jpg``) are ignored.
    bound : float, default=20.0
        The bound the flows were written with (denseflow's ``-b``).

    Returns
    -------
    flows : ndarray of shape (T-1, 2, H, W), float32
        u then v, in pixels, as :meth:`sktvnet.TVNetFlow.transform` returns one video's.
        Each is within half a quantum, ``bound / 255`` px, of the flow written plus what JPEG
        changed (at quality 95 a few levels at sharp motion edges, see ``docs/cli.rst``).

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``folder`` does not exist or is a file.
    ValueError
        If it holds no flow image, a ``flow_x`` without its ``flow_y`` (or the reverse), a gap
        in the numbers, an unreadable image or images of different sizes.

    See Also
    --------
    write_rawframes : The writer.
    sktvnet.datasets.load_rawframes_folder : Every video of a tree of such folders.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet.io import read_rawframes, write_rawframes
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = os.path.join(root, "v")
    ...     _ = write_rawframes(folder, np.full((2, 2, 8, 8), -1.0), start_index=0)
    ...     sorted(os.listdir(folder))[:1], read_rawframes(folder).shape
    (['flow_x_00000.jpg'], (2, 2, 8, 8))
    """
    folder = check_path(folder, "folder")
    if not os.path.exists(folder):
        raise FileNotFoundError(f"no such rawframes folder: {folder!r}")
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder!r} is a file; a rawframes folder holds the images "
                                 "flow_x_00001.jpg, flow_y_00001.jpg, ...")
    files = _flow_files(folder)
    images = np.empty((len(files), 2) + _read_grey(files[0][0]).shape, np.uint8)
    for t, pair in enumerate(files):
        for axis, path in enumerate(pair):
            image = _read_grey(path)
            if image.shape != images.shape[2:]:
                raise ValueError(f"{path!r} is {image.shape[0]}x{image.shape[1]}, the first flow "
                                 f"image {images.shape[2]}x{images.shape[3]}: every image of a "
                                 "rawframes folder has one size")
            images[t, axis] = image
    return dequantize_flow(images, bound)


def remove_partial_folders(folder: PathLike) -> int:
    """Remove the partial video folders that killed writers (:class:`RawframesWriter`) left in
    ``folder``, hidden ``.<name>.<12 hex>.part`` folders: never complete, never kept.

    Parameters
    ----------
    folder : str or os.PathLike
        The parent of the video folders; a missing folder holds nothing to remove.

    Returns
    -------
    removed : int
        How many partial folders were removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet.io import remove_partial_folders
    >>> with tempfile.TemporaryDirectory() as root:
    ...     os.mkdir(os.path.join(root, ".v_Run_g01_c01.0123456789ab.part"))
    ...     os.mkdir(os.path.join(root, "v_Run_g01_c02"))
    ...     remove_partial_folders(root), os.listdir(root)
    (1, ['v_Run_g01_c02'])
    """
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if _PARTIAL.match(entry.name) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed
