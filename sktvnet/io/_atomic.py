"""Atomic writes: a file appears under its final name complete, or not at all.

The data go to a temporary file in the destination folder, which then replaces the destination in
one ``os.replace``, so an interrupted write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from typing import BinaryIO

PathLike = str | os.PathLike

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
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for binary writing; move it onto ``path`` on success.

    Every writer of sktvnet goes through this: until the ``with`` block ends without an error,
    nothing exists under the final name (an existing file there is left as it was); on any error
    the temporary file is removed. The file gets the permissions the umask gives (0o644 with the
    usual umask 0o022), as a plain ``open`` would.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. The temporary file, ``.<name>.<12 hex>.tmp``, is
        created in the same folder so that the final ``os.replace`` stays on one file system.

    Yields
    ------
    handle : binary file object
        Write the data to it; it is flushed to disk before it is moved into place.

    See Also
    --------
    remove_temporaries : Clean up the temporary files of a process that was killed mid-write.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet.io import atomic_write
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "data.bin")
    ...     with atomic_write(path) as handle:
    ...         _ = handle.write(b"abc")
    ...         exists_before = os.path.exists(path)
    ...     print(exists_before, os.path.getsize(path))
    False 3
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


def remove_temporaries(folder: PathLike, names: Callable[[str], bool]) -> int:
    """Remove the temporary files that interrupted writes left in ``folder``.

    A process killed during :func:`atomic_write` (or any writer of :mod:`sktvnet.io`) cannot
    remove its temporary file: this finds them by their name, ``.<final name>.<12 hex>.tmp``.

    Parameters
    ----------
    folder : str or os.PathLike
        Where to look; a missing folder has none.
    names : callable (str) -> bool
        Only temporaries whose final name satisfies it are removed, so that the writes of another
        program (or of another run writing other files) are left alone.

    Returns
    -------
    n : int
        How many files were removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktvnet.io import remove_temporaries
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in (".a.flo.0123456789ab.tmp", ".b.png.0123456789ab.tmp", "c.flo"):
    ...         open(os.path.join(folder, name), "w").close()
    ...     remove_temporaries(folder, lambda name: name.endswith(".flo"))
    ...     sorted(os.listdir(folder))
    1
    ['.b.png.0123456789ab.tmp', 'c.flo']
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
