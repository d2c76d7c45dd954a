"""The MCP server as an assistant's client meets it: a ``loom-scim mcp`` subprocess over
stdio or Streamable HTTP, driven by the official SDK's client, with every message on
the wire kept (both ways) so a test can read what the model would have seen.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation

LOOM_SCIM = str(Path(sys.executable).with_name("loom-scim"))
CLIENT = Implementation(name="pytest-assistant", version="1.0")
NO_CONFIG = str(Path(__file__).parent / "no-such-connections.toml")


def _text(item: Any) -> str:
    message = getattr(item, "message", None)
    if message is not None:
        return str(message.model_dump_json(by_alias=True))
    return repr(item)


class _Read:
    def __init__(self, inner: Any, seen: list[str]) -> None:
        self.inner, self.seen = inner, seen

    async def receive(self) -> Any:
        item = await self.inner.receive()
        self.seen.append(_text(item))
        return item

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except Exception as exc:  # the inner stream's end: anyio.EndOfStream and kin
            if type(exc).__name__ in ("EndOfStream", "ClosedResourceError"):
                raise StopAsyncIteration from None
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Write(_Read):
    async def send(self, item: Any) -> None:
        self.seen.append(_text(item))
        await self.inner.send(item)


class Tapped:
    """A client transport with every JSON-RPC message, either way, kept in ``seen``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[str] = []

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self.inner.__aenter__()
        return _Read(read, self.seen), _Write(write, self.seen)

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)


def server_env(url: str, key: str, **extra: str) -> dict[str, str]:
    return {
        "LOOM_SCIM_BRIDGE_URL": url,
        "LOOM_SCIM_API_KEY": key,
        "LOOM_SCIM_CONFIG": NO_CONFIG,
        "PATH": os.environ.get("PATH", ""),
        **extra,
    }


@contextlib.asynccontextmanager
async def stdio(
    env: Mapping[str, str], *args: str, errlog: Path, **client: Any
) -> AsyncIterator[tuple[Client, Tapped]]:
    """``loom-scim mcp ARGS`` as a subprocess, its stderr in ``errlog``."""
    params = StdioServerParameters(command=LOOM_SCIM, args=["mcp", *args], env=dict(env))
    with errlog.open("w") as err:
        tap = Tapped(stdio_client(params, errlog=err))
        async with Client(tap, client_info=CLIENT, **client) as session:
            yield session, tap


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(env: Mapping[str, str], *args: str, errlog: Path) -> Iterator[str]:
    """``loom-scim mcp --http PORT ARGS`` as a subprocess; yields its URL once it answers."""
    port = free_port()
    with errlog.open("w") as err:
        process = subprocess.Popen(  # noqa: S603 (our own entry point)
            [LOOM_SCIM, "mcp", "--http", str(port), *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"loom-scim mcp exited: {errlog.read_text()}")
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.asynccontextmanager
async def http(url: str, token: str, **client: Any) -> AsyncIterator[tuple[Client, Tapped]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http_client:
        tap = Tapped(streamable_http_client(url, http_client=http_client))
        async with Client(tap, client_info=CLIENT, **client) as session:
            yield session, tap


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a call that succeeded."""
    assert not result.is_error, result.structured_content
    assert result.structured_content is not None
    return dict(result.structured_content)


def error(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error and result.structured_content is not None, result
    found: dict[str, Any] = result.structured_content["error"]
    return found
