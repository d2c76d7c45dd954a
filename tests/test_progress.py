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
    text = stream.getvalue()
    assert text.startswith("\r\x1b[K128 users, 128/s, about 7 s left of 1,000")
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
