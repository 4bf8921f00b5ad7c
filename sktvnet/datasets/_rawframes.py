"""Flows stored once in the rawframes layout, loaded back as (X, y) for the estimators."""

from __future__ import annotations

import os

import numpy as np

from ..io import DEFAULT_BOUND, is_rawframes_flow, read_rawframes
from ._folders import _visible, class_folders


def _video_folders(folder: str) -> list[str]:
    """Folders under ``folder`` (itself included) that hold flow images, in name order; hidden
    entries (a video still being written, ``.name.<hex>.part``) are skipped."""
    names = _visible(folder)
    if any(is_rawframes_flow(name) for name in names):
        return [folder]
    found = []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            found.extend(_video_folders(path))
    return found


def load_rawframes_folder(
    root: str | os.PathLike,
    *,
    classes: list[str] | None = None,
    bound: float = DEFAULT_BOUND,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Load the flows of a rawframes tree, one folder of video folders per class, as (X, y).

    The tree is what ``sktvnet extract`` (or denseflow, or mmaction2's scripts) writes:
    ``root/<class>/<video>/flow_x_00001.jpg, flow_y_00001.jpg, ...``, videos possibly deeper
    below their class folder. Flows computed once are then used as many times as needed, by
    :class:`sktvnet.FlowHistogram` followed by any scikit-learn classifier.

    Parameters
    ----------
    root : str or os.PathLike
        The tree's folder. Hidden entries are ignored, among them the partial folders of an
        interrupted ``sktvnet extract``; ``manifest.jsonl`` and other files are ignored.
    classes : list of str, optional
        Class folders to keep (all by default).
    bound : float, default=20.0
        The bound the flows were quantised with.

    Returns
    -------
    X : list of ndarray of shape (T_i-1, 2, H_i, W_i), float32
        The dequantised flows of each video (u then v, pixels), as
        :meth:`sktvnet.TVNetFlow.transform` returns them; what :class:`sktvnet.FlowHistogram`
        takes.
    y : ndarray of shape (n_videos,), str
        The class (first-level folder) of each video. Videos come sorted by class, then by path.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` does not exist or is a file.
    ValueError
        If a class in ``classes`` has no folder, no folder holds flows, or a video's folder is
        incomplete or unreadable (see :func:`sktvnet.io.read_rawframes`).

    See Also
    --------
    load_video_folder : The videos themselves, for :class:`sktvnet.TVNetFlow` or the classifier.
    sktvnet.io.read_rawframes : One video's folder.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktvnet import FlowHistogram
    >>> from sktvnet.datasets import load_rawframes_folder
    >>> from sktvnet.io import write_rawframes
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for label, u in (("Left", -3.0), ("Right", 3.0)):
    ...         for k in range(2):
    ...             flows = np.zeros((4, 2, 16, 16), np.float32)
    ...             flows[:, 0] = u
    ...             _ = write_rawframes(os.path.join(root, label, f"v{k}"), flows)
    ...     X, y = load_rawframes_folder(root)
    >>> len(X), X[0].shape, y.tolist()
    (4, (4, 2, 16, 16), ['Left', 'Left', 'Right', 'Right'])
    >>> hof = FlowHistogram(n_bins=4, grid=(1, 1), statistics=("mean",)).fit_transform(X)
    >>> np.round(hof[:, 0], 1).tolist()  # mean u of each video
    [-3.0, -3.0, 3.0, 3.0]
    """
    root = os.fsdecode(os.fspath(root))
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such rawframes folder: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is a file; root must be a folder holding one folder "
                                 "of video folders per class")
    found = class_folders(root, classes)
    flows, labels = [], []
    for label in found:
        class_folder = os.path.join(root, label)
        for folder in _video_folders(class_folder):
            if folder == class_folder:
                raise ValueError(f"{class_folder!r} holds flow images itself: expected one "
                                 "folder per video inside each class folder")
            flows.append(read_rawframes(folder, bound=bound))
            labels.append(label)
    if not flows:
        raise ValueError(f"{root!r} holds no rawframes video: expected <class>/<video>/"
                         "flow_x_00001.jpg, flow_y_00001.jpg, ...")
    return flows, np.asarray(labels)
