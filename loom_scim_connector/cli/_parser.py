"""The command line: every command and option, with help that says its default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loom_scim_connector._constants import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_STORE,
    EXPIRY_WARNING_DAYS,
    PAGE_CONCURRENCY,
)
from loom_scim_connector._paths import default_config_path
from loom_scim_connector._version import __version__

from ._argparse import Parser, every_subparser, positive, timestamp
from ._exit import (
    EPILOG,
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_KEY_EXPIRING,
)
from ._parser_audit import add_evidence_parser, add_offboard_parsers, add_reconcile_parser
from ._parser_mcp import OWN_OPTIONS, add_mcp_parser

D = " (default: %(default)s)"


# The sandbox's options: every one says what it does and its default.
def _sandbox_options() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    return [
        (
            ("--host",),
            {"default": "127.0.0.1", "help": "address to serve on (keep it loopback)" + D},
        ),
        (("--port",), {"type": int, "default": 8700, "help": "port to serve on" + D}),
        (("--token",), {"help": "the bearer token to accept (default: a random one, printed)"}),
        (
            ("--token-expires-at",),
            {
                "type": timestamp,
                "metavar": "ISO",
                "help": "401 after this date (default: never)",
            },
        ),
        (("--seed-users",), {"type": int, "default": 25, "metavar": "N", "help": "users" + D}),
        (("--seed",), {"type": int, "default": 0, "help": "seed of ids, data and faults" + D}),
        (
            ("--deprovisioning",),
            {
                "choices": ["deactivate", "delete"],
                "default": "deactivate",
                "help": "what active: false does, as Loom's workspace setting" + D,
            },
        ),
        (("--role-unmapped",), {"action": "store_true", "help": "silently ignore loomMemberRole"}),
        (
            ("--page-size-cap",),
            {"type": positive, "metavar": "N", "help": "serve at most N a page (default: no cap)"},
        ),
        (("--ignore-paging",), {"action": "store_true", "help": "ignore startIndex and count"}),
        (
            ("--latency",),
            {
                "type": float,
                "default": 0.0,
                "metavar": "SECONDS",
                "help": "delay per HTTP request (seeding is not slowed)" + D,
            },
        ),
        (
            ("--fault-rate",),
            {
                "type": float,
                "default": 0.0,
                "metavar": "0..1",
                "help": "share of faulted requests" + D,
            },
        ),
        (
            ("--fault-status",),
            {
                "type": int,
                "default": 429,
                "choices": [429, 500, 502, 503, 504],
                "help": "the status of a fault" + D,
            },
        ),
        (
            ("--retry-after",),
            {
                "choices": ["seconds", "date", "x-ratelimit-reset", "ratelimit-reset", "none"],
                "help": "how a 429/503 says when to retry (default: the profile's; rfc and "
                "workos: seconds, atlassian: x-ratelimit-reset)",
            },
        ),
        (
            ("--profile",),
            {
                "choices": ["rfc", "atlassian", "workos"],
                "default": "rfc",
                "help": "behave as this server: RFC 7644, Atlassian's user provisioning API, "
                "or WorkOS (Loom's SCIM bridge); the knobs are in the settings" + D,
            },
        ),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="loom-scim",
        description="Provision and deprovision Loom accounts over SCIM 2.0.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="verify the connection with one cheap request")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--warn-days",
        type=positive,
        default=EXPIRY_WARNING_DAYS,
        metavar="DAYS",
        help=f"exit {EXIT_KEY_EXPIRING} when the key expires within DAYS (default: %(default)s)",
    )

    sync = sub.add_parser("sync", help="run a sync; records as JSON lines on stdout")
    sync.add_argument("name", help="users or groups")
    sync.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="a SQLite file, or a postgresql:// URL (the fleet extra) (default: %(default)s)",
    )
    sync.add_argument(
        "--page-size",
        type=positive,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help="users asked for per page (default: %(default)s)",
    )
    sync.add_argument(
        "--page-concurrency",
        type=positive,
        default=PAGE_CONCURRENCY,
        metavar="N",
        help="list pages in flight at once, planned from the first page; 1 walks them one "
        "after another (default: %(default)s)",
    )
    sync.add_argument(
        "--output",
        metavar="FILE",
        help="write the records to FILE instead of standard output; FILE appears only "
        "when the sync ends: until then, and after a failure or Ctrl-C, the records so "
        "far are in FILE.partial",
    )
    sync.add_argument(
        "--format",
        choices=["jsonl", "table"],
        default="jsonl",
        help="JSON lines for programs, or a table for people (default: %(default)s)",
    )
    sync.add_argument(
        "--wait",
        action="store_true",
        help=f"wait for a running sync of the same model instead of exiting with {EXIT_BUSY}",
    )
    sync.add_argument(
        "--wait-timeout",
        type=positive,
        default=600,
        metavar="SECONDS",
        help="how long --wait waits (default: %(default)s)",
    )
    sync.add_argument(
        "--release-held",
        type=positive,
        metavar="RUN_ID",
        help="after review, confirm each record a held run kept back and delete those "
        "the server says are gone",
    )
    sync.add_argument(
        "--without-controls",
        action="store_true",
        help="with --release-held, when the run held every live record: trust the "
        "server's 404s with no control lookup (an empty replica or another workspace's "
        "key answers 404 too)",
    )

    sub.add_parser("actions", help="list every action with what it does")
    sub.add_parser("connections", help="the named connections of the config file (no keys)")
    action = sub.add_parser(
        "action",
        help="run an action; its output as JSON on stdout",
        description="Run an action (create a user, deactivate one, change a role...). "
        "Alone, --help lists the actions; after an action's name, it shows that action's "
        "input fields with an example. Without a name, the list is printed and the exit "
        f"code is {EXIT_BAD_INPUT}.",
        add_help=False,
        usage="%(prog)s NAME --input JSON [--dry-run]\n       %(prog)s [NAME] --help",
    )
    action.add_argument(
        "name", nargs="?", metavar="NAME", help="the action to run, e.g. create-user"
    )
    action.add_argument(
        "--input",
        metavar="JSON",
        help="the input as JSON, @file.json to read a file, or - for stdin",
    )
    action.add_argument(
        "-h",
        "--help",
        action="store_true",
        help="the actions, or with NAME the action's input fields with an example",
    )
    action.add_argument(
        "--dry-run",
        action="store_true",
        help="show the first request that would change something, and send none (lookups "
        "before it are still sent, and listed)",
    )
    # The list of actions comes from the manifest, read only when it is asked for.
    action.set_defaults(action_parser=action)

    manifest = sub.add_parser("manifest", help="print the loaded, validated manifest")
    manifest.add_argument(
        "--write-models", action="store_true", help="regenerate the models section in place"
    )

    sandbox = sub.add_parser("sandbox", help="run the local Loom SCIM sandbox")
    for flags, options in _sandbox_options():
        sandbox.add_argument(*flags, **options)
    from loom_scim_connector.fleet.cli import (
        add_fleet_parser,  # its heavy imports wait for a fleet command
    )

    add_fleet_parser(sub)
    add_reconcile_parser(sub)
    add_offboard_parsers(sub)
    add_evidence_parser(sub)
    add_mcp_parser(sub)
    for command in every_subparser(parser):
        _add_global_options(command, top=False)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes, before or after its name (``loom-scim -q sync
    users`` and ``loom-scim sync users -q`` alike). Defined here once: the top-level
    parser gives the defaults, and a command's copy sets a value only when given, so
    it never overwrites one given before the command."""
    group = parser.add_argument_group("global options (before or after the command)")
    unset: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    group.add_argument("--debug", action="store_true", help="debug logs and tracebacks", **unset)
    group.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors", **unset
    )
    if top or not OWN_OPTIONS & set(parser._option_string_actions):
        group.add_argument(
            "--connection",
            metavar="NAME",
            help="a named connection of the config file; it wins over LOOM_SCIM_BRIDGE_URL "
            "and LOOM_SCIM_API_KEY (used when it is not given)",
            **unset,
        )
    _add_config_option(group, unset)


def _add_config_option(group: Any, unset: dict[str, Any]) -> None:
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the connections file (default: {default_config_path()})",
        **unset,
    )
