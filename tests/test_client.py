"""The client's request and response handling (retries are in test_retry.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from loom_scim_connector import LoomScimClient

from .conftest import Script, scim

Make = Callable[..., tuple[LoomScimClient, Script]]


async def test_ids_are_url_encoded_in_paths(make_client: Make) -> None:
    client, script = make_client(scim(200, {"id": "a/b c?d", "userName": "x@example.com"}))
    await client.get("Users", "a/b c?d")
    assert script.requests[0].url.raw_path == b"/scim/v2/Users/a%2Fb%20c%3Fd"


async def test_patch_answered_200_with_a_body_or_204_without(make_client: Make) -> None:
    ops = [{"op": "replace", "path": "active", "value": False}]
    client, script = make_client(scim(200, {"id": "u1", "active": False}), scim(204))
    assert await client.patch("Users", "u1", ops) == {"id": "u1", "active": False}
    assert await client.patch("Users", "u1", ops) is None
    sent = json.loads(script.requests[0].content)
    assert sent == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}
    assert script.requests[0].headers["Content-Type"] == "application/scim+json"


async def test_a_2xx_that_is_not_json_is_a_protocol_error(make_client: Make) -> None:
    from loom_scim_connector import ProtocolError

    html = httpx.Response(200, content=b"<html>login</html>", headers={"Content-Type": "text/html"})
    client, _ = make_client(html)
    with pytest.raises(ProtocolError, match="not JSON"):
        await client.get("Users", "u1")


async def test_a_redirect_is_not_followed(make_client: Make) -> None:
    from loom_scim_connector import ProtocolError

    client, _ = make_client(httpx.Response(302, headers={"Location": "https://sso.example/login"}))
    with pytest.raises(ProtocolError, match="redirected"):
        await client.get("Users", "u1")
