"""The API key never shows: not in repr, str, dumps, errors, logs or the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from loom_scim_connector import ApiError, LoomConnection, LoomScimClient

from .conftest import SECRET, Script, list_body, scim

Make = Callable[..., tuple[LoomScimClient, Script]]


def test_connection_repr_str_and_dumps(connection: LoomConnection) -> None:
    for text in (
        repr(connection),
        str(connection),
        connection.model_dump_json(),
        str(connection.model_dump()),
        repr(connection.api_key),
    ):
        assert SECRET not in text


def test_validation_error_of_direct_construction_hides_input() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        LoomConnection.model_validate({"scimBridgeUrl": "http://evil.example", "apiKey": SECRET})
    assert SECRET not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        LoomConnection.model_validate(
            {"scimBridgeUrl": "https://x.example", "apiKey": f"Bearer {SECRET}"}
        )
    assert SECRET not in str(caught.value)


def test_client_repr(make_client: Make) -> None:
    client, _ = make_client()
    assert SECRET not in repr(client)


async def test_the_key_is_sent_as_a_bearer_token(make_client: Make) -> None:
    client, script = make_client(scim(200, list_body([])))
    await client.list_page("Users", 1, 1)
    request = script.requests[0]
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.headers["Accept"] == "application/scim+json, application/json"
    assert request.headers["User-Agent"].startswith("loom-scim-connector/")


async def test_an_echoed_key_is_redacted_from_errors(make_client: Make) -> None:
    client, _ = make_client(scim(401, {"detail": f"token {SECRET} is expired"}))
    with pytest.raises(ApiError) as caught:
        await client.get("Users", "u1")
    assert SECRET not in str(caught.value)
    assert "[REDACTED]" in str(caught.value)


async def test_a_key_echoed_across_the_detail_cut_off_is_not_half_shown(make_client: Make) -> None:
    detail = "x" * (300 - len(SECRET) // 2) + SECRET + " is expired"
    client, _ = make_client(scim(401, {"detail": detail}))
    with pytest.raises(ApiError) as caught:
        await client.get("Users", "u1")
    assert SECRET[: len(SECRET) // 2] not in str(caught.value)


async def test_logs_never_hold_the_key(make_client: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = make_client(
        httpx.ConnectError(f"failed for {SECRET}"),
        scim(429, {"detail": SECRET}),
        scim(200, list_body(["u1"], total=1)),
    )
    await client.list_page("Users", 1, 10)
    assert caplog.records, "the client should have logged its retries"
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert SECRET not in caplog.text
