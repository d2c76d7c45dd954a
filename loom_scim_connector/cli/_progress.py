"""A sync's progress for people: one live line on a terminal, a line every few seconds
elsewhere (a log file, CI), nothing with ``--quiet``. Records still go to stdout; this
goes to stderr, and says the count, the rate and, when the server gave a total, the ETA."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("loom_scim_connector")

TTY_EVERY = 0.2  # seconds between redraws of the live line
LOG_EVERY = 5.0  # seconds between progress lines off a terminal


class Progress:
    def __init__(
        self,
        stream: TextIO,
        noun: str,
        total: Callable[[], int | None],
        *,
        live: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.noun, self.total, self.live, self.clock = (
            stream,
            noun,
            total,
            live,
            clock,
        )
        self.count = 0
        self.started = clock()
        self.next_at = self.started + (TTY_EVERY if live else LOG_EVERY)
        self.drawn = False

    def step(self) -> None:
        self.count += 1
        if self.count & 63 == 0:  # look at the clock every 64 records, not every one
            now = self.clock()
            if now >= self.next_at:
                self.next_at = now + (TTY_EVERY if self.live else LOG_EVERY)
                self._show(now)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.count / elapsed
        text = f"{self.count:,} {self.noun}, {rate:,.0f}/s"
        total = self.total()
        if total and total > self.count and rate > 0:
            text += f", {_duration((total - self.count) / rate)} left of {total:,}"
        return text

    def _show(self, now: float) -> None:
        if self.live:
            self.stream.write(f"\r\x1b[K{self.line(now)}")
            self.stream.flush()
            self.drawn = True
        else:
            log.info("%s", self.line(now))

    def done(self) -> None:
        """Clear the live line, so the summary starts on a clean one."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def filter(self, record: logging.LogRecord) -> bool:
        """As a logging filter: a log line first clears the live line it would run into."""
        self.done()
        return True


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"about {seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"about {minutes} min {secs:02d} s"
    return f"about {minutes // 60} h {minutes % 60:02d} min"
