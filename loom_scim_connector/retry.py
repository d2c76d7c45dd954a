"""The one retry policy, built on tenacity.

What is retried is decided by the error (``ApiError.retryable``, set from the status
table in :mod:`errors`); *how* is decided here: the wait the server asks for
(:func:`server_wait`, the one reader of rate-limit headers), else exponential backoff
with jitter; at most ``max_attempts`` tries and at most ``max_total_wait`` seconds spent
waiting, the one wait budget. A server that asks for more than the budget has left is
not retried into its limit: the error says when the limit resets. The sleep function,
the clock and the random source are injectable, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from ._constants import RATE_LIMIT_HEADERS
from .errors import ApiError, rate_limit_headers

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[["RetryEvent"], None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def no_wait(_seconds: float) -> None:
    """A sleep that returns at once: for tests and cassette replay."""


@dataclass(frozen=True)
class RetryEvent:
    """Told to ``on_retry`` before each wait: enough for a log line or a counter."""

    attempt: int
    wait: float
    error: ApiError


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_EPOCH_FLOOR = 1_000_000_000.0  # a number this large is a time (epoch seconds), not a delta


def _reset_time(value: str, now: datetime) -> float | None:
    """Seconds until an ``X-RateLimit-Reset``: an ISO 8601 time, epoch seconds, or
    (small numbers) delta seconds."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if number >= _EPOCH_FLOOR:
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def _delta(value: str) -> float | None:
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def server_wait(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the server asks to wait before the next request, from the first of
    :data:`RATE_LIMIT_HEADERS` it sent that can be read; ``None`` when none says."""
    found = rate_limit_headers(headers)
    readers: dict[str, Callable[[str], float | None]] = {
        "retry-after": lambda v: parse_retry_after(v, now),
        "x-ratelimit-reset": lambda v: _reset_time(v, now),
        "ratelimit-reset": _delta,
    }
    for name in RATE_LIMIT_HEADERS:
        if name in found:
            seconds = readers[name](found[name])
            if seconds is not None:
                return seconds
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    max_total_wait: float = 120.0
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.25
    sleep: Sleep = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.max_total_wait, self.initial_backoff, self.max_backoff) < 0:
            raise ValueError("waits must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def wait_for(self, attempt: int, error: ApiError) -> float:
        """How long to wait after failed attempt number ``attempt`` (1-based): what the
        server asks, plus up to ``jitter`` seconds (never earlier: clients told the same
        reset time must not all come back at once; an asked 0 stays 0); else the
        jittered backoff."""
        asked = server_wait(error.rate_limit, self.clock())
        if asked is not None:
            return asked + min(asked, 1.0) * self.jitter * self.rand()
        backoff = min(self.max_backoff, self.initial_backoff * float(2 ** (attempt - 1)))
        return backoff * (1 - self.jitter * self.rand())

    def retrying(self, on_retry: OnRetry | None = None) -> AsyncRetrying:
        """A fresh tenacity controller; the caller re-raises the last error when it stops."""

        def wait(state: RetryCallState) -> float:
            return self.wait_for(state.attempt_number, _error_of(state))

        def stop(state: RetryCallState) -> bool:
            error = _error_of(state)
            limit = error.retry_limit or self.max_attempts
            if state.attempt_number >= min(self.max_attempts, limit):
                return True
            if state.idle_for + state.upcoming_sleep <= self.max_total_wait:
                return False
            now = self.clock()
            asked = server_wait(error.rate_limit, now)
            if asked is not None:
                resets = now + timedelta(seconds=asked)
                error.gave_up = (
                    f"the server's limit resets at {resets:%Y-%m-%dT%H:%M:%SZ} (in "
                    f"{asked:.0f} s), past the wait budget of "
                    f"{self.max_total_wait:.0f} s ({state.idle_for:.0f} s already waited): "
                    "try again after that time"
                )
            return True

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None:
                on_retry(RetryEvent(state.attempt_number, state.upcoming_sleep, _error_of(state)))

        return AsyncRetrying(
            sleep=self.sleep,
            stop=stop,
            wait=wait,
            retry=retry_if_exception(_is_retryable),
            before_sleep=before_sleep,
            reraise=True,
        )


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def _error_of(state: RetryCallState) -> ApiError:
    outcome = state.outcome
    assert outcome is not None
    exc = outcome.exception()
    assert isinstance(exc, ApiError)
    return exc
