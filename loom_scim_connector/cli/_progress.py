"""Progress for people: one live line on a terminal, a line every few seconds elsewhere
(a log file, CI), nothing with ``--quiet``. Records still go to stdout; this goes to
stderr, and says the count, the rate and, when the total is known, the ETA.

The ETA is no guess from the first page: none is shown for the first few seconds
(connecting and the first, slower page), and then it comes from a rate smoothed over
the last seconds (an exponentially weighted mean), not the average since the start."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("loom_scim_connector")

TTY_EVERY = 0.2  # seconds between redraws of the live line
LOG_EVERY = 5.0  # seconds between progress lines off a terminal
WARMUP = 3.0  # seconds before any ETA: the rate of the first page says little
SAMPLE_EVERY = 0.5  # seconds between samples of the rate
HALF_LIFE = 3.0  # seconds after which a sample of the rate counts half as much


class Progress:
    def __init__(
        self,
        stream: TextIO,
        noun: str,
        total: Callable[[], int | None],
        *,
        live: bool,
        clock: Callable[[], float] = time.monotonic,
        one: str | None = None,
        look_every: int = 64,
    ) -> None:
        self.stream, self.noun, self.total, self.live, self.clock = (
            stream,
            noun,
            total,
            live,
            clock,
        )
        self.one = one or noun  # the noun for a count of 1
        self.look_every = look_every  # records between looks at the clock
        self.count = 0
        self.started = clock()
        self.next_at = self.started + (TTY_EVERY if live else LOG_EVERY)
        self.drawn = False
        self.rate: float | None = None  # the smoothed rate, once past the warm-up
        self._since: tuple[float, int] | None = None  # (time, count) of the last sample

    def step(self) -> None:
        self.count += 1
        if self.count % self.look_every == 0:  # not the clock at every record
            now = self.clock()
            self._sample(now)
            if now >= self.next_at:
                self.next_at = now + (TTY_EVERY if self.live else LOG_EVERY)
                self._show(now)

    def _sample(self, now: float) -> None:
        if now - self.started < WARMUP:
            return
        if self._since is None:
            self._since = (now, self.count)
            return
        then, count = self._since
        if now - then < SAMPLE_EVERY:
            return
        recent = (self.count - count) / (now - then)
        if self.rate is None:
            self.rate = recent
        else:
            kept = 0.5 ** ((now - then) / HALF_LIFE)
            self.rate = kept * self.rate + (1 - kept) * recent
        self._since = (now, self.count)

    def line(self, now: float) -> str:
        self._sample(now)
        rate = self.rate if self.rate is not None else self.count / max(now - self.started, 1e-9)
        shown = f"{rate:,.1f}" if rate < 9.95 else f"{rate:,.0f}"
        text = f"{self.count:,} {self.one if self.count == 1 else self.noun}, {shown}/s"
        total = self.total()
        if self.rate and total and total > self.count:
            text += f", {_duration((total - self.count) / self.rate)} left of {total:,}"
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
