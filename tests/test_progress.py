"""Progress lines for logs (sktvnet._progress): what a line says, when lines are written."""

import io
import sys

import pytest

from sktvnet import _progress
from sktvnet._progress import LineProgress, progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def lines_of(out):
    return out.getvalue().splitlines()


def test_a_line_per_interval_with_rate_eta_and_postfix():
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(desc="bikes", unit="pair", total=100, interval=10, file=out, clock=clock)
    for _ in range(4):  # 8 pairs in 4 s: no line before 10 s
        clock.now += 1
        bar.update(2)
    assert lines_of(out) == []
    clock.now = 10.0
    bar.set_postfix(loss="0.1234")
    bar.update(12)  # 20 pairs in 10 s
    assert lines_of(out) == ["bikes: 20/100 pairs (20%), 2.0 pairs/s, ETA 40 s, loss=0.1234"]
    clock.now = 15.0
    bar.update(5)  # 5 s after the last line: none
    bar.close()  # but the final count is written
    assert lines_of(out)[-1].startswith("bikes: 25/100 pairs (25%), 1.7 pairs/s, ETA 45 s")
    assert len(lines_of(out)) == 2


def test_unknown_total_long_eta_and_reset():
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(desc="stream", unit="pair", interval=0, file=out, clock=clock)
    clock.now = 2.0
    bar.update(1)
    assert lines_of(out) == ["stream: 1 pair, 0.5 pairs/s"]
    bar.reset(total=4000)
    clock.now = 4.0
    bar.update(1)  # 1 pair in 2 s: 3999 more take 2 h 13 min
    assert lines_of(out)[-1] == "stream: 1/4000 pairs (0%), 0.5 pairs/s, ETA 2 h 13 min"


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv(_progress.INTERVAL_ENV_VAR, "2.5")
    assert LineProgress(total=1).interval == 2.5
    monkeypatch.delenv(_progress.INTERVAL_ENV_VAR)
    assert LineProgress(total=1).interval == _progress.DEFAULT_INTERVAL
    monkeypatch.setenv(_progress.INTERVAL_ENV_VAR, "soon")
    with pytest.raises(ValueError, match="SKTVNET_PROGRESS_INTERVAL must be a number of seconds "
                                         ">= 0, got 'soon'; unset it for the default"):
        LineProgress()


def test_progress_picks_lines_off_a_terminal_and_a_bar_on_one(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress(desc="x", unit="pair"), LineProgress)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert not isinstance(progress(desc="x", unit="pair"), LineProgress)
    assert not isinstance(progress(desc="x", unit="pair", disable=True), LineProgress)
