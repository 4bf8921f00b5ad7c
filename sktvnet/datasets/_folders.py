"""Action datasets stored as one folder of videos per class (the UCF101 and HMDB51 layout)."""

from __future__ import annotations

import os

import numpy as np

from ..io import IMAGE_EXTENSIONS

#: Extensions (compared case-insensitively) that :func:`load_video_folder` takes for video files.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv")


def _visible(folder: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def _is_frame_folder(path: str) -> bool:
    return any(os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS for name in os.listdir(path))


def class_folders(root: str, classes) -> list[str]:
    """The visible class folders of ``root`` in name order, only ``classes`` when given (a
    list of names, each of which must have its folder)."""
    found = [name for name in _visible(root) if os.path.isdir(os.path.join(root, name))]
    if classes is not None:
        if isinstance(classes, str):
            raise TypeError(f"classes must be a list of class names, got the string {classes!r}")
        missing = sorted(set(classes) - set(found))
        if missing:
            raise ValueError(
                f"no folder for the classes {missing} in {root!r}; its class folders are {found}"
            )
        found = [name for name in found if name in set(classes)]
    return found


def load_video_folder(
    root: str | os.PathLike,
    *,
    classes: list[str] | None = None,
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
) -> tuple[list[str], np.ndarray]:
    """List an action dataset stored as one folder of videos per class (UCF101, HMDB51).

    ``root/<class>/<video>`` is a video file (``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi``)
    or a folder of its frames as PNG/JPEG images (the layout of extracted frames). Nothing is
    decoded here: the estimators decode each video when they need it, with
    :func:`sktvnet.io.read_video`, so a dataset larger than memory can be used.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset folder. Hidden entries (names starting with ``.``) are ignored.
    classes : list of str, optional
        Class folders to keep (all by default), e.g. a subset of UCF101's 101 classes.
    extensions : tuple of str, default=VIDEO_EXTENSIONS
        File extensions taken as videos, compared case-insensitively (``.avi``, ``.mp4``,
        ``.mkv``, ``.webm``, ``.mov``, ``.m4v``, ``.mpg``, ``.mpeg``, ``.ogv``); other files
        (annotations, split lists) are skipped.

    Returns
    -------
    paths : list of str
        Video paths, sorted by class then by name.
    labels : ndarray of shape (n_videos,), str
        The class (folder name) of each video.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a folder.
    ValueError
        If a class in ``classes`` has no folder, or no class folder holds a video.

    See Also
    --------
    sktvnet.io.read_video : How each path is decoded.
    make_motion_videos : Labelled videos generated on the spot.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet.datasets import load_video_folder
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ("Run/a.avi", "Run/b.mp4", "Jump/c.avi", "Jump/notes.txt"):
    ...         os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
    ...         open(os.path.join(root, name), "wb").close()
    ...     paths, labels = load_video_folder(root)
    ...     names = [os.path.relpath(p, root) for p in paths]
    >>> names, labels.tolist()
    (['Jump/c.avi', 'Run/a.avi', 'Run/b.mp4'], ['Jump', 'Run', 'Run'])
    """
    root = os.fsdecode(os.fspath(root))
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such dataset folder: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"{root!r} is a file; root must be a folder holding one folder of videos per class"
        )
    if isinstance(extensions, str) or not all(isinstance(e, str) for e in extensions):
        raise TypeError(
            f"extensions must be a tuple of strings such as ('.avi',), got {extensions!r}"
        )
    extensions = tuple(e.lower() for e in extensions)
    found = class_folders(root, classes)
    paths, labels = [], []
    for label in found:
        folder = os.path.join(root, label)
        for name in _visible(folder):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                if not _is_frame_folder(path):
                    continue
            elif os.path.splitext(name)[1].lower() not in extensions:
                continue
            paths.append(path)
            labels.append(label)
    if not paths:
        raise ValueError(
            f"{root!r} holds no video: expected one folder per class, each holding video files "
            f"({', '.join(extensions)}) or folders of PNG/JPEG frames"
        )
    return paths, np.asarray(labels)


# Disjoint by definition: a model trained on pairs from FLOW_TRAIN_IMAGES is measured on pairs from
# FLOW_TEST_IMAGES, images it has never seen.
