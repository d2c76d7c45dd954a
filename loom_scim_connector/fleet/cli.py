"""``loom-scim fleet``: the parser of the fleet's commands, and their dispatch.

Its ``--help`` is written for operators (:mod:`._help`). ``sync-now`` is in
:mod:`.sync_now`, ``health`` in :mod:`.health`. This module imports Celery, psycopg
and cryptography only when a command runs, so the core install (without the ``fleet``
extra) can still build the CLI's parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from loom_scim_connector._constants import ENV_KEY
from loom_scim_connector.errors import ConfigError

from . import settings
from ._help import DESCRIPTION
from ._output import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK
from ._output import print_json as _print


def add_fleet_parser(sub: Any) -> None:
    """Add ``fleet`` and its commands to the ``loom-scim`` parser's subparsers."""
    fleet = sub.add_parser(
        "fleet",
        help="many workspaces: connections in PostgreSQL, syncs as Celery tasks (RabbitMQ, Redis)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fleet.add_argument(
        "--database",
        metavar="URL",
        help=f"the fleet's PostgreSQL URL (default: ${settings.ENV_DATABASE})",
    )
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="COMMAND")

    add = commands.add_parser("add-connection", help="add a workspace (key from the environment)")
    add.add_argument("id", help="the connection's id, e.g. acme")
    add.add_argument("--url", required=True, help="the SCIM bridge URL shown by Loom")
    add.add_argument(
        "--api-key-stdin",
        action="store_true",
        help=f"read the API key from standard input instead of ${ENV_KEY}",
    )
    add.add_argument("--expires-at", metavar="YYYY-MM-DD", help="the API key's expiry date")
    add.add_argument(
        "--deprovisioning",
        choices=["deactivate", "delete"],
        default="deactivate",
        help="the workspace's deprovisioning setting in Loom (default: %(default)s)",
    )
    add.add_argument("--schedule", metavar="'every 30m'", help="override the manifest's runs")

    listing = commands.add_parser("list", help="the connections (never their keys)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    status = commands.add_parser(
        "status", help="running, queued, last success and error, next run, held runs"
    )
    status.add_argument("--json", action="store_true", help="one JSON object per connection")

    commands.add_parser("rotate-keys", help="re-encrypt every API key with the newest Fernet key")

    remove = commands.add_parser("remove", help="remove a connection")
    remove.add_argument("id")

    now = commands.add_parser("sync-now", help="queue syncs now")
    now.add_argument("ids", nargs="*", metavar="ID", help="connection ids")
    now.add_argument("--all", action="store_true", help="every connection")
    now.add_argument(
        "--model",
        action="append",
        metavar="SYNC",
        help="a sync of the manifest, e.g. users or groups; repeat it for several "
        "(--model users --model groups); default: users",
    )
    now.add_argument("--wait", action="store_true", help="wait for the reports and print them")
    now.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS")

    release = commands.add_parser(
        "release-held", help="after review, apply the deletions a held run kept back"
    )
    release.add_argument("id", help="the connection id")
    release.add_argument("sync", help="users or groups")
    release.add_argument("run_id", type=int, metavar="RUN_ID")
    release.add_argument(
        "--without-controls",
        action="store_true",
        help="when the run held every live record: trust the server's 404s with no control "
        "lookup (an empty replica or another workspace's key answers 404 too)",
    )

    worker = commands.add_parser("worker", help="run a Celery worker for the fleet's queue")
    worker.add_argument("--pool", default="prefork", help="prefork, threads or solo")
    worker.add_argument("--concurrency", type=int, metavar="N")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--hostname", metavar="NAME@HOST")

    health = commands.add_parser(
        "health", help="exit 0 when the database, the broker and a worker answer"
    )
    health.add_argument("--hostname", metavar="NAME@HOST", help="this worker must answer")
    health.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="(default: %(default)s)"
    )

    beat = commands.add_parser("beat", help="run Celery beat: queues the due syncs")
    beat.add_argument("--loglevel", default="INFO")
    beat.add_argument(
        "--state",
        default="loom-scim-beat",
        metavar="PATH",
        help="beat's own state file (default: %(default)s)",
    )


def run_fleet(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run a ``fleet`` command; errors are raised as :class:`LoomScimError`, but an
    unknown connection id is one line and exit 4 (not found)."""
    try:
        import celery  # type: ignore[import-untyped]  # noqa: F401
        import cryptography  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "fleet", "needs the fleet extra: pip install 'loom-scim-connector[fleet]'"
        ) from None
    from .connections import ConnectionNotFoundError

    try:
        return _run(args, out, err, stdin)
    except ConnectionNotFoundError as exc:
        err.write(f"loom-scim: error: {exc}\n")
        return EXIT_NOT_FOUND


def _run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    command: str = args.fleet_command
    if command in ("worker", "beat") and args.database:
        # The tasks this process runs read the database from the environment.
        os.environ[settings.ENV_DATABASE] = args.database
    if command == "worker":
        return _worker(args)
    if command == "beat":
        return _beat(args)
    database = args.database or settings.database_url()
    if command == "sync-now":
        from .sync_now import sync_now

        return sync_now(args, database, out, err)
    if command == "health":
        return _health(args, database, err)
    if command == "release-held":
        return _release_held(args, database, out)

    from .connections import ConnectionRegistry

    with ConnectionRegistry(database) as registry:
        if command == "add-connection":
            key = stdin.readline().strip() if args.api_key_stdin else os.environ.get(ENV_KEY, "")
            if not key.strip():
                where = "standard input" if args.api_key_stdin else f"${ENV_KEY}"
                raise ConfigError("apiKey", f"is empty: give the API key in {where}")
            info = registry.add(
                args.id,
                args.url,
                key,
                api_key_expires_at=args.expires_at,
                deprovisioning=args.deprovisioning,
                schedule=args.schedule,
            )
            _print(out, info.as_json())
            err.write(f"loom-scim: fleet connection {info.id} added (its key is encrypted)\n")
        elif command == "list":
            for item in registry.list():
                if args.json:
                    _print(out, item.as_json())
                else:
                    expires = (
                        item.api_key_expires_at.isoformat() if item.api_key_expires_at else "-"
                    )
                    out.write(
                        f"{item.id:<24} {item.bridge_url:<48} key expires {expires:<10} "
                        f"{item.deprovisioning:<10} {item.schedule or '-'}\n"
                    )
        elif command == "rotate-keys":
            count = registry.rotate_keys()
            err.write(f"loom-scim: {count} API key{'s' if count != 1 else ''} re-encrypted\n")
        elif command == "status":
            from .status import fleet_status, status_lines

            for status in fleet_status(database, registry.list()):
                if args.json:
                    _print(out, status)
                else:
                    out.write(status_lines(status))
        else:
            registry.remove(args.id)
            from .errors import ErrorLog

            with ErrorLog(database) as errors:
                errors.clear(args.id)
            err.write(f"loom-scim: fleet connection {args.id} removed\n")
    return EXIT_OK


def _health(args: argparse.Namespace, database: str, err: TextIO) -> int:
    from .app import make_app
    from .health import health

    problem = health(database, make_app(), timeout=args.timeout, hostname=args.hostname)
    if problem:
        err.write(f"loom-scim: fleet not ready: {problem}\n")
        return EXIT_FAILURE
    err.write("loom-scim: fleet ready: database, broker and a worker answer\n")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from .app import make_app

    argv = ["worker", f"--pool={args.pool}", f"--loglevel={args.loglevel}"]
    argv.append(f"--queues={settings.queue()}")
    if args.concurrency:
        argv.append(f"--concurrency={args.concurrency}")
    if args.hostname:
        argv.append(f"--hostname={args.hostname}")
    settings.database_url()  # fail now, not at the first task
    make_app().worker_main(argv)
    return EXIT_OK


def _release_held(args: argparse.Namespace, database: str, out: TextIO) -> int:
    """Here, not on a worker: a person runs it after reviewing the held records. Each
    is still looked up first; only those the server says are gone are deleted."""
    from .work import release_held

    released = release_held(
        args.id, args.sync, args.run_id, dsn=database, without_controls=args.without_controls
    )
    _print(out, released)
    return EXIT_OK


def _beat(args: argparse.Namespace) -> int:
    from .app import make_app

    settings.database_url()  # the dispatch task needs it; say so now
    make_app().start(["beat", f"--loglevel={args.loglevel}", f"--schedule={args.state}"])
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run ``fleet`` alone (``python -m loom_scim_connector.fleet.cli``)."""
    parser = argparse.ArgumentParser(prog="loom-scim")
    add_fleet_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return run_fleet(args, sys.stdout, sys.stderr, sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
