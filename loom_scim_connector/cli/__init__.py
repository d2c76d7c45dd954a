"""``loom-scim``: check a connection, run syncs and actions, print the manifest, run the sandbox.

A package of one concern a module: ``_parser`` (the command line), ``_input`` (reading
--input), ``_commands`` (one function a command), ``_output`` (what is printed),
``_exit`` (the exit codes); here, the dispatch and its one-line error net.

Records and action outputs go to stdout as JSON; progress, summaries and errors go to
stderr. Errors are one line (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn, TextIO

from loom_scim_connector.errors import ConfigError, LoomScimError, ManifestError

from ._exit import (
    EPILOG,
    EXIT_AUTH,
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_FAILURE,
    EXIT_HELD,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_KEY_EXPIRED,
    EXIT_KEY_EXPIRING,
    EXIT_NOT_FOUND,
    EXIT_NOT_SUPPORTED,
    EXIT_OK,
    UsageError,
    exit_code_for,
)
from ._input import read_input
from ._output import _one_line, _redact_env_key
from ._parser import build_parser

# httpx imports its own command line whenever click is installed (click and pygments,
# about 2 MiB and 20 ms, before failing without rich); this CLI never runs it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


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
    whole_process: bool = False,
) -> int:
    """Run the CLI and return its exit code (``main`` exits with it, ``whole_process``:
    the process is this command's alone)."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    try:
        parser = build_parser()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or --version
        return int(exc.code or 0)
    except UsageError as exc:
        err.write(f"loom-scim: error: {_one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # while reading the command line: nothing sent yet
        err.write("loom-scim: interrupted; nothing was sent\n")
        return EXIT_INTERRUPTED
    _configure_logging(args, err)
    try:
        # Imported once the command is known: --version and --help pay for none of it.
        from ._commands import (
            _action,
            _actions,
            _check,
            _connections,
            _manifest,
            _sandbox,
            _sync_to,
        )

        if whole_process:
            # What exists now (the modules, their classes and schemas) lives as long as the
            # process: the full collections of a long walk need not visit it again (about
            # 0.15 s of CPU at 100k users).
            gc.freeze()

        if args.command == "check":
            return asyncio.run(_check(args, out))
        if args.command == "sync":
            return _sync_to(args, out, err)
        if args.command == "action":
            return asyncio.run(_action(args, out, err, stdin))
        if args.command == "manifest":
            return _manifest(args, out)
        if args.command == "actions":
            return _actions(out)
        if args.command == "connections":
            return _connections(args, out)
        if args.command == "reconcile":
            from ._reconcile import run_reconcile

            return run_reconcile(args, out)
        if args.command == "offboard":
            from ._offboard import offboard_command

            return asyncio.run(offboard_command(args, out, err))
        if args.command == "review":
            from ._offboard import review_command

            return asyncio.run(review_command(args, out))
        if args.command == "evidence":
            from ._evidence import evidence_command

            return evidence_command(args, out)
        if args.command == "mcp":
            return _mcp(args, err)
        if args.command == "fleet":
            from loom_scim_connector.fleet.cli import run_fleet

            return run_fleet(args, out, err, stdin)
        return _sandbox(args, out)
    except (LoomScimError, ManifestError) as exc:
        if args.debug:
            traceback.print_exc(file=err)
        err.write(f"loom-scim: error: {_one_line(str(exc))}\n")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        if args.command in ("sync", "check", "manifest", "actions", "connections", "sandbox"):
            err.write("loom-scim: interrupted; nothing was deleted\n")
        else:  # a command that changes people may have sent a change already
            err.write(
                "loom-scim: interrupted: a change already sent may have been made; its "
                "evidence says so (loom-scim evidence resolve settles any outcome not known)\n"
            )
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


def _mcp(args: argparse.Namespace, err: TextIO) -> int:
    try:
        from loom_scim_connector.mcp.cli import run_mcp
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("mcp", "mcp_types", "uvicorn"):
            raise
        raise ConfigError(
            "mcp", "needs the mcp extra: pip install 'loom-scim-connector[mcp]'"
        ) from None
    return run_mcp(args, err)


def _two_malloc_arenas() -> None:
    """glibc gives each thread that allocates an arena of its own (up to 8 a core), each
    keeping what it freed: the GET threads' response bodies held about 1 MiB of peak RSS
    that way at 100k users. Two arenas, shared, keep them; elsewhere, nothing changes."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX; before any thread starts
    except (OSError, AttributeError, TypeError):  # not glibc (Windows: no CDLL(None))
        pass


def main() -> NoReturn:
    _two_malloc_arenas()
    code = run(whole_process=True)
    # The command is over and has said how: a Ctrl-C now would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The interpreter's exit ends in full collections over every object still alive
    # (about 0.1 s after a sync); frozen, they are freed with the process instead.
    # Files and the store are closed by then, and atexit handlers still run.
    gc.freeze()
    sys.exit(code)


__all__ = [
    "EPILOG",
    "EXIT_AUTH",
    "EXIT_BAD_INPUT",
    "EXIT_BUSY",
    "EXIT_FAILURE",
    "EXIT_HELD",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_KEY_EXPIRED",
    "EXIT_KEY_EXPIRING",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_SUPPORTED",
    "EXIT_OK",
    "UsageError",
    "build_parser",
    "exit_code_for",
    "main",
    "read_input",
    "run",
]
