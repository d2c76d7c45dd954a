"""Each retry case through the real client, with a MockTransport and an injected sleep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from loom_scim_connector import (
    ApiError,
    AuthenticationError,
    LoomScimClient,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from loom_scim_connector.retry import parse_retry_after

from .conftest import Script, Sleeps, list_body, scim

Make = Callable[..., tuple[LoomScimClient, Script]]
OK = scim(200, list_body(["u1"], total=1))


async def test_429_with_seconds_waits_as_asked(make_client: Make, sleeps: Sleeps) -> None:
    client, script = make_client(scim(429, headers={"Retry-After": "7"}), OK)
    await client.list_page("Users", 1, 10)
    assert sleeps.waits == [7.0]
    assert len(script.requests) == 2
    assert client.stats.retries == 1


async def test_429_with_an_http_date(connection: object, sleeps: Sleeps) -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=12), usegmt=True)
    script = Script([scim(429, headers={"Retry-After": when}), OK])
    policy = RetryPolicy(sleep=sleeps, clock=lambda: now, rand=lambda: 0.0)
    client = LoomScimClient(connection, retry=policy, transport=httpx.MockTransport(script))  # type: ignore[arg-type]
    await client.list_page("Users", 1, 10)
    assert sleeps.waits == [12.0]


async def test_a_wait_past_the_budget_fails_at_once_saying_when_the_limit_resets(
    connection: object, sleeps: Sleeps
) -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    script = Script([scim(429, headers={"Retry-After": "3600"}), OK])
    policy = RetryPolicy(sleep=sleeps, clock=lambda: now, max_total_wait=120)
    client = LoomScimClient(connection, retry=policy, transport=httpx.MockTransport(script))  # type: ignore[arg-type]
    with pytest.raises(RateLimitedError) as caught:
        await client.list_page("Users", 1, 10)
    assert sleeps.waits == []  # not retried into the limit after a shortened wait
    assert len(script.requests) == 1
    message = str(caught.value)
    assert "\n" not in message
    assert "resets at 2026-11-22T13:00:00Z (in 3600 s), past the wait budget of 120 s" in message


# Case 10: Atlassian answers 429 with X-RateLimit-Reset (an ISO time) and no Retry-After.
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Reset": "2026-11-22T12:00:20Z", "X-RateLimit-Limit": "100"}, 20.0),
        ({"X-RateLimit-Reset": "2026-11-22T12:00:09.5+00:00"}, 9.5),
        ({"X-RateLimit-Reset": str(int(NOW.timestamp()) + 15)}, 15.0),  # epoch seconds
        ({"RateLimit-Reset": "11"}, 11.0),  # IETF draft: delta seconds
        ({"Retry-After": "4", "X-RateLimit-Reset": "2026-11-22T12:00:20Z"}, 4.0),
        ({"X-RateLimit-Reset": "whenever", "RateLimit-Reset": "3"}, 3.0),
    ],
)
async def test_429_waits_for_the_rate_limit_reset_the_server_names(
    connection: object, sleeps: Sleeps, headers: dict[str, str], expected: float
) -> None:
    script = Script([scim(429, headers=headers), OK])
    policy = RetryPolicy(sleep=sleeps, clock=lambda: NOW, rand=lambda: 0.0)
    client = LoomScimClient(connection, retry=policy, transport=httpx.MockTransport(script))  # type: ignore[arg-type]
    await client.list_page("Users", 1, 10)
    assert sleeps.waits == [expected]
    assert len(script.requests) == 2


async def test_a_reset_window_longer_than_the_backoff_does_not_fail_a_read(
    connection: object, sleeps: Sleeps
) -> None:
    """Before: 0.5, 1, 2, 4 s of backoff into a 30 s window, then failure."""
    clock = [NOW]

    async def sleep(seconds: float) -> None:
        sleeps.waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    reset = {"X-RateLimit-Reset": "2026-11-22T12:00:30Z"}

    def answer(request: httpx.Request) -> httpx.Response:
        return OK if clock[0] >= NOW + timedelta(seconds=30) else scim(429, headers=reset)

    script = Script([answer] * 5)
    policy = RetryPolicy(sleep=sleep, clock=lambda: clock[0], rand=lambda: 0.0)
    client = LoomScimClient(connection, retry=policy, transport=httpx.MockTransport(script))  # type: ignore[arg-type]
    await client.list_page("Users", 1, 10)
    assert sleeps.waits == [30.0]
    assert len(script.requests) == 2


def test_a_server_asked_wait_is_jittered_later_never_earlier() -> None:
    error = RateLimitedError("GET", "/Users", status=429, retryable=True)
    error.rate_limit = {"ratelimit-reset": "10"}
    assert RetryPolicy(rand=lambda: 0.0, jitter=0.25).wait_for(1, error) == 10.0
    assert RetryPolicy(rand=lambda: 1.0, jitter=0.25).wait_for(1, error) == 10.25


async def test_503_then_success(make_client: Make, sleeps: Sleeps) -> None:
    client, _ = make_client(scim(503, {"status": "503"}), OK)
    page = await client.list_page("Users", 1, 10)
    assert [r["id"] for r in page.resources] == ["u1"]
    assert sleeps.waits == [0.5]  # initial backoff; jitter is injected as zero


async def test_transport_error_then_success(make_client: Make) -> None:
    client, script = make_client(httpx.ConnectError("refused"), OK)
    await client.list_page("Users", 1, 10)
    assert len(script.requests) == 2


async def test_timeout_then_success(make_client: Make) -> None:
    client, script = make_client(httpx.ReadTimeout("slow"), OK)
    await client.list_page("Users", 1, 10)
    assert len(script.requests) == 2


async def test_retries_exhausted_raise_the_last_error(make_client: Make, sleeps: Sleeps) -> None:
    client, script = make_client(*[scim(429)] * 5)
    with pytest.raises(RateLimitedError) as caught:
        await client.list_page("Users", 1, 10)
    assert len(script.requests) == 5
    assert caught.value.attempts == 5
    assert "after 5 attempts" in str(caught.value)
    assert sleeps.waits == [0.5, 1.0, 2.0, 4.0]  # exponential


async def test_network_errors_exhausted(make_client: Make) -> None:
    client, _ = make_client(*[httpx.ConnectError("down")] * 5)
    with pytest.raises(TransportError, match="ConnectError"):
        await client.get("Users", "u1")


async def test_total_wait_is_bounded(connection: object, sleeps: Sleeps) -> None:
    script = Script([scim(503, headers={"Retry-After": "50"})] * 5)
    policy = RetryPolicy(sleep=sleeps, max_total_wait=120, rand=lambda: 0.0)
    client = LoomScimClient(connection, retry=policy, transport=httpx.MockTransport(script))  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        await client.get("Users", "u1")
    assert sleeps.waits == [50.0, 50.0]  # a third 50 s wait would pass 120 s
    assert len(script.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 422])
async def test_client_errors_are_never_retried(
    make_client: Make, sleeps: Sleeps, status: int
) -> None:
    client, script = make_client(scim(status, {"status": str(status)}))
    with pytest.raises(ApiError) as caught:
        await client.get("Users", "u1")
    assert caught.value.status == status
    assert len(script.requests) == 1
    assert sleeps.waits == []


async def test_401_is_tried_exactly_once(make_client: Make) -> None:
    client, script = make_client(scim(401, {"detail": "expired"}), OK)
    with pytest.raises(AuthenticationError):
        await client.list_page("Users", 1, 10)
    assert len(script.requests) == 1


def test_jitter_shortens_backoff_within_bounds() -> None:
    error = ServerError("GET", "/Users", status=503, retryable=True)
    low = RetryPolicy(rand=lambda: 1.0, jitter=0.25).wait_for(3, error)
    high = RetryPolicy(rand=lambda: 0.0, jitter=0.25).wait_for(3, error)
    assert (low, high) == (1.5, 2.0)
    assert RetryPolicy(rand=lambda: 0.0, max_backoff=3).wait_for(10, error) == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("soon", None),
        (None, None),
        ("", None),
        ("Sun, 22 Nov 2026 12:00:30 GMT", 30.0),
        ("Sun, 22 Nov 2026 11:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_a_refused_connection_is_tried_once_more_only(make_client: Make) -> None:
    refused = httpx.ConnectError("All connection attempts failed")
    refused.__context__ = ConnectionRefusedError(111, "Connect call failed")
    client, script = make_client(refused, refused, refused)
    with pytest.raises(TransportError, match="connection refused"):
        await client.list_page("Users", 1, 10)
    assert len(script.requests) == 2


async def test_a_host_name_that_does_not_exist_is_not_retried(make_client: Make) -> None:
    import socket

    missing = httpx.ConnectError("[Errno -2] Name or service not known")
    missing.__context__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    client, script = make_client(missing, missing)
    with pytest.raises(TransportError, match="does not exist"):
        await client.list_page("Users", 1, 10)
    assert len(script.requests) == 1
