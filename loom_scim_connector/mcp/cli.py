"""``loom-scim mcp``: serve the manifest's tools to an AI assistant, over stdio (the
default, for desktop assistants) or Streamable HTTP on loopback (``--http PORT``)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TextIO

import anyio

from loom_scim_connector.config import LoomConnection
from loom_scim_connector.connections import choose
from loom_scim_connector.errors import ConfigError

from ._budget import ChangeBudget
from ._http import ENV_TOKEN, check_bind, check_token, serve_http
from ._token import Confirmations
from .server import Options, build_server

log = logging.getLogger("loom_scim_connector")


def served(args: argparse.Namespace) -> dict[str, LoomConnection]:
    """The connections to serve, by the name a tool call gives: each ``--connection``,
    else the environment's (``env``) or the connections file's default."""
    names: list[str] = list(args.mcp_connections or [])
    if getattr(args, "connection", None) and args.connection not in names:
        names.insert(0, args.connection)
    if not names:
        chosen = choose(None, args.config)
        return {chosen.name or "env": chosen.connection}
    found: dict[str, LoomConnection] = {}
    for name in names:
        if name in found:
            raise ConfigError("--connection", f"{name!r} is given twice")
        found[name] = choose(name, args.config).connection
    return found


def roster_dirs(args: argparse.Namespace) -> tuple[Path, ...]:
    found = tuple(Path(d) for d in args.roster_dirs or ())
    for directory in found:
        if not directory.is_dir():
            raise ConfigError("--roster-dir", f"{directory} is not a directory")
    return found


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            text = Path(args.token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("--token-file", f"cannot be read: {exc.strerror}") from None
    else:
        text = os.environ.get(ENV_TOKEN, "")
    if not text.strip():
        raise ConfigError(
            "--http", f"needs a bearer token of its own: --token-file FILE or {ENV_TOKEN}"
        )
    return text


def run_mcp(args: argparse.Namespace, err: TextIO) -> int:
    connections = served(args)
    keys = [c.api_key.get_secret_value() for c in connections.values()]
    token = None
    if args.http is not None:
        check_bind(args.host, args.allow_remote)
        token = check_token(_token(args), keys)
    options = Options(
        connections=connections,
        store=args.store,
        read_only=args.read_only,
        max_changes=args.max_changes,
        budget=ChangeBudget(args.max_total_changes),
        confirmations=Confirmations(ttl=args.confirm_minutes * 60.0),
        extra_secrets=(token,) if token else (),
        roster_dirs=roster_dirs(args),
    )
    server = build_server(options)
    where = ", ".join(f"{name} ({c.base_url})" for name, c in connections.items())
    mode = (
        "read-only"
        if args.read_only
        else f"writes confirmed, at most {args.max_changes} a call and "
        f"{args.max_total_changes} in all"
    )
    if token is None:
        log.info("MCP server on stdio: %s; %s", where, mode)
        from mcp.server.stdio import stdio_server

        async def stdio() -> None:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

        anyio.run(stdio)
        return 0
    log.info("MCP server on http://%s:%d/mcp: %s; %s", args.host, args.http, where, mode)
    anyio.run(serve_http, server, token, args.host, args.http)
    return 0
