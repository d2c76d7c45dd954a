"""Streamable HTTP: the SDK's app behind a bearer token of the server's own.

The token is the MCP server's, never the Loom key (the CLI refuses one equal to a key
it serves): read from a file or ``LOOM_SCIM_MCP_TOKEN``, compared in constant time.
The server binds loopback; any other address is refused unless ``--allow-remote``,
and then TLS must be terminated in front (a reverse proxy): this server speaks plain
HTTP. On loopback the SDK's DNS-rebinding protection checks Host and Origin too.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import uvicorn
from mcp.server.lowlevel import Server
from starlette.types import ASGIApp, Receive, Scope, Send

from loom_scim_connector.errors import ConfigError

ENV_TOKEN = "LOOM_SCIM_MCP_TOKEN"  # noqa: S105 (a variable's name)
MIN_TOKEN = 16
PATH = "/mcp"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            "--host",
            f"{host} is not loopback: the MCP server speaks plain HTTP; pass --allow-remote "
            "only with TLS terminated in front of it (a reverse proxy)",
        )


def check_token(token: str, loom_keys: list[str]) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN:
        raise ConfigError("MCP token", f"must be at least {MIN_TOKEN} characters")
    if any(hmac.compare_digest(token, key) for key in loom_keys):
        raise ConfigError("MCP token", "must not be a Loom API key: give the server its own")
    return token


class BearerGate:
    """An ASGI wrapper: HTTP requests without ``Authorization: Bearer <token>`` get 401
    and never reach the MCP app. The scheme is matched in any case (RFC 9110), the token
    in constant time; any other connection but the app's lifespan (a websocket) is
    closed unheard: the MCP app serves none, and nothing reaches it ungated."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    def _authorised(self, scope: Scope) -> bool:
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, credentials = given.partition(b" ")
        # Compare the token even when the scheme is wrong, so the time taken says nothing.
        same = hmac.compare_digest(credentials.strip(b" "), self.expected)
        return scheme.lower() == b"bearer" and same

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        if not self._authorised(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="loom-scim mcp"'),
                    ],
                }
            )
            body = b'{"error": "unauthorized: send Authorization: Bearer <the MCP token>"}'
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def http_app(server: Server[Any], token: str, host: str) -> ASGIApp:
    return BearerGate(server.streamable_http_app(streamable_http_path=PATH, host=host), token)


async def serve_http(server: Server[Any], token: str, host: str, port: int) -> None:
    config = uvicorn.Config(
        http_app(server, token, host),
        host=host.strip("[]"),
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()
