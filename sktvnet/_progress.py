"""Progress where people look: bars on a terminal, plain lines in logs.

tqdm redraws one line with carriage returns, which a log file, ``nohup`` or CI shows as one line
written at the end (or not at all when the command disables bars off a terminal). Off a terminal,
:class:`LineProgress` writes a whole line every ``SKTVNET_PROGRESS_INTERVAL`` seconds (10 by
default) instead: what is done, the rate and the time left, as tqdm does in non-interactive use.
Loads neither torch nor scikit-learn.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator

#: Environment variable: seconds between two progress lines off a terminal (default 10).
INTERVAL_ENV_VAR = "SKTVNET_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0


def _interval() -> float:
    text = os.environ.get(INTERVAL_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(f"{INTERVAL_ENV_VAR} must be a number of seconds >= 0, got {text!r}; "
                         f"unset it for the default ({DEFAULT_INTERVAL:g} s)")
    return value


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _plural(unit: str) -> str:
    return unit + "es" if unit.endswith(("s", "x", "ch", "sh")) else unit + "s"


class LineProgress:
    """A tqdm look-alike for logs: one line per interval, ``desc: n/total units, rate, ETA``.

    It offers the part of tqdm's interface that sktvnet uses: iteration, :meth:`update`,
    :meth:`reset`, :meth:`set_description`, :meth:`set_postfix`, :meth:`close` and ``with``.

    Parameters
    ----------
    iterable : iterable, optional
        Counted one unit per item when iterated.
    desc : str, default=""
        Label at the start of each line.
    unit : str, default="it"
        What is counted (pluralised with an "s").
    total : int, optional
        Expected count (``len(iterable)`` when it has one); gives the percentage and the ETA.
    interval : float, optional
        Seconds between lines; ``SKTVNET_PROGRESS_INTERVAL`` or 10 by default. 0 writes a line
        at every update.
    file : file object, optional
        Where the lines go; ``sys.stderr`` by default.
    clock : callable, default=time.monotonic
        Seconds now (replaceable in tests).

    Examples
    --------
    >>> import io
    >>> ticks = iter(range(100))
    >>> out = io.StringIO()
    >>> for _ in LineProgress(range(3), desc="video", unit="pair", interval=1.0, file=out,
    ...                       clock=lambda: float(next(ticks))):
    ...     pass
    >>> print(out.getvalue(), end="")
    video: 1/3 pairs (33%), 1.0 pairs/s, ETA 2 s
    video: 2/3 pairs (67%), 1.0 pairs/s, ETA 1 s
    video: 3/3 pairs (100%), 1.0 pairs/s, ETA 0 s
    """

    def __init__(self, iterable: Iterable | None = None, *, desc: str = "", unit: str = "it",
                 total: int | None = None, interval: float | None = None, file=None,
                 clock=time.monotonic) -> None:
        self.iterable = iterable
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.desc = desc
        self.unit = unit
        self.interval = _interval() if interval is None else float(interval)
        self.file = file
        self._clock = clock
        self._postfix = ""
        self.reset(total)

    def reset(self, total: int | None = None) -> None:
        """Start counting again from 0 (for instance for the next input), expecting ``total``."""
        self.total = total
        self.n = 0
        self._written_n = 0
        self._start = self._last = self._clock()

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def set_postfix(self, **values) -> None:
        """Values shown at the end of the next lines, as ``name=value``."""
        self._postfix = ", ".join(f"{name}={value}" for name, value in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self.interval:
            self._write(now)

    def close(self) -> None:
        """Write the final count if the last line did not show it."""
        if self.n != self._written_n:
            self._write(self._clock())

    def _write(self, now: float) -> None:
        self._last = now
        self._written_n = self.n
        units = self.unit if self.n == 1 and self.total in (None, 1) else _plural(self.unit)
        done = f"{self.n}" if self.total is None else f"{self.n}/{self.total}"
        parts = [f"{done} {units}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        elapsed = now - self._start
        if elapsed > 0 and self.n:
            rate = self.n / elapsed
            parts.append(f"{rate:.1f} {_plural(self.unit)}/s" if rate >= 1
                         else f"{rate:.2g} {_plural(self.unit)}/s")
            if self.total is not None:
                parts.append(f"ETA {_duration(max(self.total - self.n, 0) / rate)}")
        if self._postfix:
            parts.append(self._postfix)
        prefix = f"{self.desc}: " if self.desc else ""
        print(prefix + ", ".join(parts), file=self.file or sys.stderr, flush=True)

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _interactive() -> bool:
    """Whether tqdm's redrawn bars can be seen: stderr is a terminal, or a notebook shows them."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def progress(iterable: Iterable | None = None, *, desc: str, unit: str, total: int | None = None,
             disable: bool = False, **tqdm_options):
    """A tqdm bar where one can be seen, else a :class:`LineProgress`; nothing when ``disable``.

    ``tqdm_options`` (``leave``, ``position``) apply to the bar only.
    """
    if disable or _interactive():
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, unit=unit, total=total, disable=disable, **tqdm_options)
    return LineProgress(iterable, desc=desc, unit=unit, total=total)
