"""``loom-scim``: check a connection, run syncs and actions, print the manifest, run the sandbox.

Records and action outputs go to stdout as JSON; progress, summaries and errors go to
stderr. Errors are one line (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit, urlunsplit

from ._constants import DEFAULT_PAGE_SIZE, ENV_KEY, EXPIRY_WARNING_DAYS, LOOPBACK_HOSTS
from ._exchange import redact
from ._version import __version__
from .check import check_connection, key_status
from .client import LoomScimClient
from .config import LoomConnection
from .connections import default_config_path, load, resolve
from .describe import action_help, action_lines
from .dryrun import DryRunTransport, WouldSend
from .errors import (
    AuthenticationError,
    ConfigError,
    InputError,
    LoomScimError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    UnknownNameError,
    WrongUrlError,
)
from .host import DEFAULT_STORE, LocalHost, SyncReport
from .manifest import ManifestError, load_manifest, manifest_path, stale_models, write_models
from .store import StoreError, SyncBusyError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_HELD = 5
EXIT_BUSY = 6
EXIT_NOT_SUPPORTED = 7
EXIT_KEY_EXPIRED = 8
EXIT_KEY_EXPIRING = 9
EXIT_INTERRUPTED = 130
HELD_SHOWN = 20

EPILOG = f"""\
connection (from the environment):
  LOOM_SCIM_BRIDGE_URL          the SCIM endpoint URL from Loom, e.g. https://scim.example.com/scim/v2
  LOOM_SCIM_API_KEY             the SCIM bearer token from Loom (never printed)
  LOOM_SCIM_API_KEY_EXPIRES_AT  optional ISO date of the key's expiry, for check's warning

exit codes:
  {EXIT_OK}  success
  {EXIT_FAILURE}  other failure (server error after retries, network, incomplete sync, ...)
  {EXIT_BAD_INPUT}  bad input: invalid arguments, --input, --store or connection configuration
  {EXIT_AUTH}  authentication or permission refused (expired or rotated key, plan without SCIM)
  {EXIT_NOT_FOUND}  not found
  {EXIT_HELD}  sync held: too many records were not seen, so nothing was deleted; review
     the listed records, then run the same sync with --release-held RUN_ID
  {EXIT_BUSY}  busy: another sync of the same model is running on this store (see --wait)
  {EXIT_NOT_SUPPORTED}  not supported by this SCIM server (501, or an unsupported filter, path or
     attribute): running again will not help
  {EXIT_KEY_EXPIRED}  check: the API key has expired (by LOOM_SCIM_API_KEY_EXPIRES_AT)
  {EXIT_KEY_EXPIRING}  check: the API key expires within --warn-days (30 by default)
  {EXIT_INTERRUPTED} interrupted (Ctrl-C): the run was cancelled and deleted nothing
"""

log = logging.getLogger("loom_scim_connector")


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, ConfigError | InputError | UnknownNameError | WrongUrlError | UsageError):
        return EXIT_BAD_INPUT
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, NotSupportedError):
        return EXIT_NOT_SUPPORTED
    if isinstance(exc, SyncBusyError):
        return EXIT_BUSY
    if isinstance(exc, StoreError):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


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
            {"type": _datetime, "metavar": "ISO", "help": "401 after this date (default: never)"},
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
            {"type": _positive, "metavar": "N", "help": "serve at most N a page (default: no cap)"},
        ),
        (("--ignore-paging",), {"action": "store_true", "help": "ignore startIndex and count"}),
        (
            ("--latency",),
            {"type": float, "default": 0.0, "metavar": "SECONDS", "help": "delay per request" + D},
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
                "choices": ["seconds", "date", "none"],
                "default": "seconds",
                "help": "how a 429/503 says when to retry" + D,
            },
        ),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="loom-scim",
        description="Provision and deprovision Loom accounts over SCIM 2.0.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument(
        "--connection",
        metavar="NAME",
        help="a named connection of the config file (the environment variables win)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the connections file (default: {default_config_path()})",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="verify the connection with one cheap request")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--warn-days",
        type=_positive,
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
        type=_positive,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help="users asked for per page (default: %(default)s)",
    )
    sync.add_argument(
        "--output",
        metavar="FILE",
        help="write the records to FILE instead of standard output",
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
        type=_positive,
        default=600,
        metavar="SECONDS",
        help="how long --wait waits (default: %(default)s)",
    )
    sync.add_argument(
        "--release-held",
        type=_positive,
        metavar="RUN_ID",
        help="after review, confirm each record a held run kept back and delete those "
        "the server says are gone",
    )

    sub.add_parser("actions", help="list every action with what it does")
    sub.add_parser("connections", help="the named connections of the config file (no keys)")
    action = sub.add_parser(
        "action", help="run an action; its output as JSON on stdout", add_help=False
    )
    action.add_argument("name", help="e.g. create-user (see `loom-scim actions`)")
    action.add_argument(
        "--input",
        metavar="JSON",
        help="the input as JSON, @file.json to read a file, or - for stdin",
    )
    action.add_argument(
        "-h", "--help", action="store_true", help="the action's input fields, with an example"
    )
    action.add_argument(
        "--dry-run",
        action="store_true",
        help="show the first request that would change something, and send none (lookups "
        "before it are still sent, and listed)",
    )

    manifest = sub.add_parser("manifest", help="print the loaded, validated manifest")
    manifest.add_argument(
        "--write-models", action="store_true", help="regenerate the models section in place"
    )

    sandbox = sub.add_parser("sandbox", help="run the local Loom SCIM sandbox")
    for flags, options in _sandbox_options():
        sandbox.add_argument(*flags, **options)
    from .fleet.cli import add_fleet_parser  # its heavy imports wait for a fleet command

    add_fleet_parser(sub)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of at least 1, not {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _datetime(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), time())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a date such as 2027-03-31 or 2027-03-31T09:00:00+00:00, not {text!r}"
            ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


class UsageError(LoomScimError):
    """A command line argparse refused: reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and its --help."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def read_input(spec: str, stdin: TextIO) -> Any:
    """The action input: JSON text, ``@file`` or ``-`` (stdin). Every way it can be bad
    (unreadable, not UTF-8, empty, not JSON, nested too deeply for the parser, a number
    too long to convert) is an :class:`InputError`, never a traceback."""
    if spec == "-":
        source = "stdin"
        try:
            text = stdin.read()
        except UnicodeDecodeError:
            raise InputError("--input", {"(stdin)": "is not UTF-8 text"}) from None
    elif spec.startswith("@"):
        source = f"the file {spec[1:]}"
        try:
            text = Path(spec[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                "--input", {"(file)": f"cannot read {spec[1:]}: {exc.strerror}"}
            ) from None
        except UnicodeDecodeError:
            raise InputError("--input", {"(file)": f"{spec[1:]} is not UTF-8 text"}) from None
    else:
        source = "the --input argument"
        text = spec
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    if not text.strip():
        raise InputError(
            "--input", {"(json)": f"{source} is empty; give the input as a JSON object"}
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(
            "--input", {"(json)": "is nested too deeply ([ or { inside one another)"}
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError("--input", {"(json)": f"not valid JSON: {exc}"}) from None
    except ValueError:  # int() refuses numbers over sys.get_int_max_str_digits() digits
        raise InputError("--input", {"(json)": "has a number with too many digits"}) from None


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, default=str) + "\n")
    out.flush()


def _summary(report: SyncReport) -> str:
    return (
        f"{report.sync}: {report.status}; {report.saved} saved ({report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged), {report.deleted} deleted"
        + _candidates_note(report)
        + f", {_n(report.pages, 'page')}, {_n(report.requests, 'request')}, "
        f"{_n(report.retries, 'retry', 'retries')}, {report.seconds:.2f} s"
    )


def _n(count: int, one: str, many: str | None = None) -> str:
    """``1 page``, ``2 pages``: a count with its noun in the right number."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def _candidates_note(report: SyncReport) -> str:
    if not report.candidates:
        return ""
    if report.status == "held":
        return f" ({report.candidates} not listed: held for review)"
    gone = report.candidates - report.recovered
    return (
        f" ({report.candidates} not listed, each looked up: {gone} gone, "
        f"{report.recovered} still there)"
    )


def _capabilities(caps: dict[str, Any]) -> str:
    def said(value: object) -> str:
        return "unknown" if value is None else "yes" if value else "no"

    page = caps.get("maxResults") or "no limit given"
    return f"PATCH {said(caps.get('patch'))}, filter {said(caps.get('filter'))}, max page {page}"


async def _check(args: argparse.Namespace, out: TextIO) -> int:
    connection = resolve(args.connection, args.config)
    report = await check_connection(connection, warn_days=args.warn_days)
    if args.json:
        _print_json(report.to_dict(args.warn_days), out)
    else:
        status = "OK" if report.ok else "FAILED"
        out.write(f"{status}: {report.base_url}\n")
        if report.users is not None:
            out.write(f"  users: {report.users}\n")
        if report.capabilities is not None:
            out.write(f"  server says: {_capabilities(report.capabilities)}\n")
        if report.key_days_left is not None:
            out.write(f"  key expires in: {report.key_days_left} days\n")
        for warning in report.warnings:
            out.write(f"  warning: {warning}\n")
        if report.problem:
            out.write(f"  problem: {report.problem}\n")
    status = key_status(report.key_days_left, args.warn_days)
    if status == "expired" and (report.error is None or report.error.status == 401):
        return EXIT_KEY_EXPIRED
    if report.error is not None:
        return exit_code_for(report.error)
    return EXIT_KEY_EXPIRING if status == "expiring" else EXIT_OK


def _sync_to(args: argparse.Namespace, out: TextIO) -> int:
    """Run a sync, its records to ``--output`` when given, else to ``out``."""
    if args.output is None:
        return asyncio.run(_sync(args, out))
    try:
        with open(args.output, "w", encoding="utf-8") as target:
            return asyncio.run(_sync(args, target))
    except OSError as exc:
        problem = f"cannot be written: {exc.strerror}"
        raise InputError("--output", {args.output: problem}) from None


async def _sync(args: argparse.Namespace, target: TextIO) -> int:
    connection = resolve(args.connection, args.config)

    def emit(model: str, action: str, record: dict[str, Any]) -> None:
        if args.format == "table":
            target.write(_table_row(action, record) + "\n")
            target.flush()
        else:
            _print_json({**record, "_metadata": {"model": model, "lastAction": action}}, target)

    factory = functools.partial(LoomScimClient, page_size=args.page_size)
    host = LocalHost(connection, store=args.store, client_factory=factory, on_record=emit)
    wait = float(args.wait_timeout) if args.wait else None
    try:
        if args.release_held is not None:
            report = await host.release_held(args.name, args.release_held, wait=wait)
        else:
            report = await host.run_sync(args.name, wait=wait)
        held = host.store.records(report.model, ids=report.held[:HELD_SHOWN])
    finally:
        host.close()
    for warning in report.warnings:
        if report.status != "held":
            log.warning("%s", warning)
    if report.status == "held":
        log.warning("%s", _summary(report))
        log.warning("%s", _held_message(args, report, held))
        return EXIT_HELD
    log.info("%s", _summary(report))
    return EXIT_OK


def _table_row(action: str, record: dict[str, Any]) -> str:
    """One record for people: what happened, who, role, active, and how it is managed."""
    if "email" in record:
        value = record.get("active")
        active = "?" if value is None else "active" if value else "INACTIVE"
        managed = f"IdP {record['externalId']}" if record.get("externalId") else "domain capture"
        return (
            f"{action:<9} {record['email']:<40} {record.get('role') or '-':<8} "
            f"{active:<8} {managed}"
        )
    members = len(record.get("memberIds") or [])
    return (
        f"{action:<9} {record.get('displayName', record.get('id'))!s:<40} {_n(members, 'member')}"
    )


def _held_message(args: argparse.Namespace, report: SyncReport, held: list[dict[str, Any]]) -> str:
    shown = [f"  {r.get('id')}  {r.get('email') or r.get('displayName') or ''}" for r in held]
    more = len(report.held) - len(shown)
    return "\n".join(
        [
            f"{_n(len(report.held), report.model + ' record')} not seen in two walks of run "
            f"{report.run_id}; they are kept, none was deleted:",
            *shown,
            *([f"  ... and {more} more"] if more > 0 else []),
            "If they really left, release them (each is still looked up first, and only "
            "those the server says are gone are deleted):",
            f"  loom-scim sync {report.sync} --store {_shown(args.store)} "
            f"--release-held {report.run_id}",
        ]
    )


def _connections(args: argparse.Namespace, out: TextIO) -> int:
    path = args.config or default_config_path()
    listed = load(path)
    out.write(f"{path}\n")
    for name, entry in sorted(listed.entries.items()):
        mark = " (default)" if name == listed.default else ""
        if entry.key_expires_at is None:
            expiry = "key expiry unknown"
        else:
            left = (entry.key_expires_at - date.today()).days
            expiry = f"key expired {-left} days ago" if left < 0 else f"key expires in {left} days"
        out.write(f"  {name}{mark}: {entry.url} (key from {entry.key_source}; {expiry})\n")
    return EXIT_OK


def _actions(out: TextIO) -> int:
    out.write("\n".join(action_lines(load_manifest())) + "\n")
    out.write("\nloom-scim action NAME --help shows an action's input fields.\n")
    return EXIT_OK


async def _action(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    manifest = load_manifest()
    resolved = manifest.action(args.name)  # an unknown name fails before anything else
    if args.help:
        out.write(action_help(resolved))
        return EXIT_OK
    if args.input is None:
        raise UsageError(f"--input is required (see loom-scim action {args.name} --help)")
    raw = read_input(args.input, stdin)
    connection = resolve(args.connection, args.config)
    factory: Callable[[LoomConnection], LoomScimClient] = LoomScimClient
    if args.dry_run:

        def factory(conn: LoomConnection) -> LoomScimClient:
            return LoomScimClient(conn, transport=DryRunTransport(conn.base_url))

    host = LocalHost(connection, store=":memory:", client_factory=factory)
    try:
        output = await host.run_action(args.name, raw)
    except WouldSend as planned:
        _print_json(planned.to_dict(), out)
        return EXIT_OK
    finally:
        host.close()
    if args.dry_run:
        log.info("dry run: %s changes nothing; it ran for real (reads only)", args.name)
    _print_json(output.model_dump(mode="json", by_alias=True), out)
    return EXIT_OK


def _manifest(args: argparse.Namespace, out: TextIO) -> int:
    if args.write_models:
        write_models(manifest_path())
        load_manifest.cache_clear()
        log.info("models regenerated in %s", manifest_path())
    manifest = load_manifest()
    stale = stale_models(manifest)
    if stale:
        log.warning("stale model schemas (run `make models`): %s", ", ".join(stale))
    _print_json(manifest.spec.model_dump(mode="json", by_alias=True), out)
    return EXIT_OK


def _sandbox(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from .sandbox import Sandbox, SandboxSettings
    except ImportError:
        raise ConfigError(
            "sandbox", "needs the sandbox extra: pip install 'loom-scim-connector[sandbox]'"
        ) from None
    settings = SandboxSettings(
        deprovisioning=args.deprovisioning,
        role_mapped=not args.role_unmapped,
        page_size_cap=args.page_size_cap,
        ignore_paging=args.ignore_paging,
        latency=args.latency,
        fault_rate=args.fault_rate,
        fault_status=args.fault_status,
        retry_after=args.retry_after,
    )
    sandbox = Sandbox(
        host=args.host,
        port=args.port,
        token=args.token,
        token_expires_at=args.token_expires_at,
        seed_users=args.seed_users,
        seed=args.seed,
        settings=settings,
    )
    if args.host not in LOOPBACK_HOSTS:
        log.warning(
            "serving on %s: the sandbox has no real security; keep it on loopback", args.host
        )
    out.write(
        f"Loom SCIM sandbox on {sandbox.url} ({len(sandbox.seeded.get('all', []))} users)\n"
        f"  export LOOM_SCIM_BRIDGE_URL={sandbox.url}\n"
        f"  export LOOM_SCIM_API_KEY={sandbox.token}\n"
        f"  settings: {sandbox.root}/_sandbox/settings (GET, PATCH); "
        f"rotate the token: POST {sandbox.root}/_sandbox/rotate-token\n"
        "Ctrl-C stops it.\n"
    )
    out.flush()
    with contextlib.suppress(KeyboardInterrupt):
        sandbox.serve_forever()
    return EXIT_OK


def _configure_logging(args: argparse.Namespace, err: TextIO) -> None:
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("loom-scim: %(message)s"))
    root = logging.getLogger("loom_scim_connector")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO)


def run(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the CLI and return its exit code (``main`` exits with it)."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or --version
        return int(exc.code or 0)
    except UsageError as exc:
        err.write(f"loom-scim: error: {_one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    _configure_logging(args, err)
    try:
        if args.command == "check":
            return asyncio.run(_check(args, out))
        if args.command == "sync":
            return _sync_to(args, out)
        if args.command == "action":
            return asyncio.run(_action(args, out, stdin))
        if args.command == "manifest":
            return _manifest(args, out)
        if args.command == "actions":
            return _actions(out)
        if args.command == "connections":
            return _connections(args, out)
        if args.command == "fleet":
            from .fleet.cli import run_fleet

            return run_fleet(args, out, err, stdin)
        return _sandbox(args, out)
    except (LoomScimError, ManifestError) as exc:
        if args.debug:
            traceback.print_exc(file=err)
        err.write(f"loom-scim: error: {_one_line(str(exc))}\n")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        err.write("loom-scim: interrupted; nothing was deleted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, as Unix tools do.
        return EXIT_FAILURE
    except Exception as exc:  # a bug, or a failure nobody classified: still one line
        if args.debug:
            traceback.print_exc(file=err)
        message = _one_line(_redact_env_key(f"{type(exc).__name__}: {exc}".rstrip(": ")))
        err.write(
            f"loom-scim: error: unexpected {message} (nothing was deleted; --debug shows "
            "the traceback: please report it)\n"
        )
        return EXIT_FAILURE


def _shown(store: str) -> str:
    """The store as a person may see it: a URL's password replaced."""
    parts = urlsplit(store)
    if "://" not in store or "@" not in parts.netloc:
        return store
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    netloc = f"{user}:***@{hostport}" if has_password else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc))


def _one_line(text: str) -> str:
    """An error is one line, even when a field name or a file name has a newline in it."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _redact_env_key(text: str) -> str:
    key = os.environ.get(ENV_KEY, "").strip()
    return redact(text, key) if len(key) >= 4 else text


def main() -> NoReturn:
    sys.exit(run())
