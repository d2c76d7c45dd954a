"""``loom-scim mcp``'s options: what it serves, how, and how much a call may change."""

from __future__ import annotations

from typing import Any

from loom_scim_connector._constants import DEFAULT_STORE, MCP_MAX_TOTAL_CHANGES

from ._argparse import positive

D = " (default: %(default)s)"
OWN_OPTIONS = frozenset({"--connection"})  # repeatable here: not the global one


def _port(text: str) -> int:
    value = positive(text)
    if value > 65535:
        raise ValueError(text)
    return value


def add_mcp_parser(sub: Any) -> None:
    p = sub.add_parser(
        "mcp",
        help="serve the actions, syncs and read tools to an AI assistant (MCP)",
        description="An MCP server (needs the mcp extra: pip install "
        "'loom-scim-connector[mcp]'). Over stdio by default, for desktop assistants; "
        "--http PORT serves Streamable HTTP on 127.0.0.1 behind a bearer token of its "
        "own. Every write changes nothing until confirmed: its first call returns the "
        "plan and a single-use token.",
    )
    p.add_argument(
        "--connection",
        dest="mcp_connections",
        action="append",
        metavar="NAME",
        help="a named connection of the config file to serve; repeat it to serve several "
        "(a tool call names which). Default: the environment's, else the file's default",
    )
    p.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="the store the syncs fill and the read tools read: a SQLite file or a "
        "postgresql:// URL" + D,
    )
    p.add_argument("--read-only", action="store_true", help="serve no tool that changes anything")
    p.add_argument(
        "--max-changes",
        type=positive,
        default=10,
        metavar="N",
        help="refuse a call that would make more than N changes" + D,
    )
    p.add_argument(
        "--max-total-changes",
        type=positive,
        default=MCP_MAX_TOTAL_CHANGES,
        metavar="N",
        help="refuse a call that would take this server past N changes in all since it "
        "started (many small calls add up)" + D,
    )
    p.add_argument(
        "--confirm-minutes",
        type=positive,
        default=5,
        metavar="MINUTES",
        help="how long a confirmation token is good for" + D,
    )
    p.add_argument(
        "--roster-dir",
        dest="roster_dirs",
        action="append",
        metavar="DIR",
        help="a directory whose roster files reconcile-roster and access-review may read; "
        "repeat it for several. Default: none, and those tools read no file (a path comes "
        "from the model: anything else on this machine stays unread)",
    )
    p.add_argument(
        "--http",
        type=_port,
        metavar="PORT",
        help="serve Streamable HTTP on PORT (at /mcp) instead of stdio",
    )
    p.add_argument("--host", default="127.0.0.1", help="the address to bind with --http" + D)
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback: only with TLS terminated in front",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="the bearer token HTTP clients must send (default: LOOM_SCIM_MCP_TOKEN); "
        "never the Loom key",
    )
