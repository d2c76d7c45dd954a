"""The sync's progress line: live on a terminal, a log line every few seconds elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from loom_scim_connector.cli._progress import LOG_EVERY, TTY_EVERY, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_line_redraws_in_place_with_rate_and_eta() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, "users", lambda: 1000, live=True, clock=clock)
    for _ in range(64):
        progress.step()
    assert stream.getvalue() == ""  # not yet due
    clock.now += TTY_EVERY + 0.8  # 1 s in: 64 users/s
    for _ in range(64):
        progress.step()
    assert stream.getvalue() == "\r\x1b[K128 users, 128/s"  # no ETA in the first seconds
    for _ in range(5):  # 64 users a second from now on
        clock.now += 1
        for _ in range(64):
            progress.step()
    assert stream.getvalue().endswith("\r\x1b[K448 users, 64/s, about 9 s left of 1,000")
    progress.done()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_off_a_terminal_a_log_line_every_few_seconds(caplog: pytest.LogCaptureFixture) -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, "users", lambda: None, live=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="loom_scim_connector"):
        for _ in range(3):
            clock.now += LOG_EVERY
            for _ in range(64):
                progress.step()
    assert [r.getMessage() for r in caplog.records] == [
        "64 users, 13/s",
        "128 users, 13/s",
        "192 users, 13/s",
    ]
    progress.done()
    assert stream.getvalue() == ""  # nothing drawn, nothing to clear


def test_an_eta_needs_a_total_above_the_count() -> None:
    clock = Clock()
    progress = Progress(io.StringIO(), "users", lambda: 10, live=True, clock=clock)
    progress.count = 64
    clock.now += 1
    assert progress.line(clock.now) == "64 users, 64/s"


def _feed(progress: Progress, clock: Clock, seconds: float, per_second: int) -> None:
    """Records at a steady rate, in steps of 64 (as often as the progress looks)."""
    steps = int(seconds * per_second / 64)
    for _ in range(steps):
        clock.now += 64 / per_second
        for _ in range(64):
            progress.step()


def test_no_eta_in_the_first_seconds() -> None:
    """The first page is slow (connecting, planning the walk): an ETA from it is wrong."""
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, "users", lambda: 20_000, live=True, clock=clock)
    _feed(progress, clock, 1.0, 128)
    assert progress.line(clock.now) == "128 users, 128/s"


def test_the_eta_follows_the_recent_rate_not_a_slow_start() -> None:
    """A 20k sync: 2 s for the first 64 users, then 1,000 a second. The ETA after 6 s
    must be about the 16 s left, not the 23 s the average since the start gives (nor
    the 20 minutes of a first page's rate)."""
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, "users", lambda: 20_000, live=True, clock=clock)
    clock.now += 2.0
    for _ in range(64):
        progress.step()
    _feed(progress, clock, 4.0, 1000)
    line = progress.line(clock.now)
    assert line.startswith(f"{progress.count:,} users, 1,000/s, about "), line
    left = int(line.split("about ")[1].split(" s left")[0])
    assert 14 <= left <= 18, line


def test_a_slow_list_shows_a_decimal_rate_and_a_singular() -> None:
    clock = Clock()
    progress = Progress(
        io.StringIO(), "people done", lambda: 3, live=True, clock=clock, one="person done"
    )
    clock.now += 2.5
    progress.step()
    assert progress.line(clock.now) == "1 person done, 0.4/s"
