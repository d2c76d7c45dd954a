"""One function per command: read the connection, run the host, print the outcome."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from loom_scim_connector._constants import LOOPBACK_HOSTS
from loom_scim_connector.check import check_connection, key_status
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.connections import default_config_path, load
from loom_scim_connector.errors import (
    ConfigError,
    InputError,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.manifest import load_manifest, manifest_path, stale_models, write_models

from ._connect import connect
from ._exit import (
    EXIT_HELD,
    EXIT_KEY_EXPIRED,
    EXIT_KEY_EXPIRING,
    EXIT_OK,
    HELD_SHOWN,
    UsageError,
    exit_code_for,
)
from ._input import read_input
from ._output import (
    _capabilities,
    _held_message,
    _jsonl_line,
    _print_json,
    _summary,
    _table_row,
    writes_utf8,
)
from ._progress import Progress

log = logging.getLogger("loom_scim_connector")
PARTIAL = ".partial"  # the suffix of an --output file whose sync did not finish


async def _check(args: argparse.Namespace, out: TextIO) -> int:
    connection = connect(args)
    report = await check_connection(connection, warn_days=args.warn_days)
    status = key_status(report.key_days_left, args.warn_days)
    expired = status == "expired" and (report.error is None or report.error.status == 401)
    if args.json:
        _print_json(report.to_dict(args.warn_days), out)
    else:
        verdict = "EXPIRED" if expired else "OK" if report.ok else "FAILED"
        out.write(f"{verdict}: {report.base_url}\n")
        if report.users is not None:
            out.write(f"  users: {report.users}\n")
        if report.capabilities is not None:
            out.write(f"  server says: {_capabilities(report.capabilities)}\n")
        days = report.key_days_left
        if days is not None and days < 0:
            out.write(f"  key expired: {-days} day{'s' if days != -1 else ''} ago\n")
        elif days is not None:
            out.write(f"  key expires in: {days} day{'s' if days != 1 else ''}\n")
        for warning in report.warnings:
            out.write(f"  warning: {warning}\n")
        if report.problem:
            out.write(f"  problem: {report.problem}\n")
    if expired:
        return EXIT_KEY_EXPIRED
    if report.error is not None:
        return exit_code_for(report.error)
    return EXIT_KEY_EXPIRING if status == "expiring" else EXIT_OK


def _sync_to(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a sync, its records to ``--output`` when given, else to ``out``.

    ``--output FILE`` is written as ``FILE.partial`` and renamed to ``FILE`` once the
    sync has ended (held included: its records are all there); a sync that fails or is
    interrupted leaves ``FILE.partial``, named as such, and ``FILE`` as it was. The
    partial file's records are kept, not removed: the store took them in, so the next
    run reports them as UNCHANGED."""
    if args.without_controls and args.release_held is None:
        raise UsageError("--without-controls applies only with --release-held RUN_ID")
    if args.output is None:
        return asyncio.run(_sync(args, out, err))
    final = Path(args.output)
    partial = final.with_name(final.name + PARTIAL)
    try:
        target = open(partial, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        problem = f"cannot be written: {exc.strerror}"
        raise InputError("--output", {args.output: problem}) from None
    try:
        with target:
            code = asyncio.run(_sync(args, target, err))
    except BaseException:
        log.warning(
            "the sync did not finish: the records written so far are in %s; %s was not written",
            partial,
            final,
        )
        raise
    os.replace(partial, final)
    return code


async def _sync(args: argparse.Namespace, target: TextIO, err: TextIO) -> int:
    connection = connect(args)
    clients: list[LoomScimClient] = []

    def client(conn: LoomConnection) -> LoomScimClient:
        made = LoomScimClient(
            conn, page_size=args.page_size, page_concurrency=args.page_concurrency
        )
        clients.append(made)
        return made

    progress = Progress(
        err,
        args.name,
        lambda: clients[-1].stats.total if clients else None,
        live=err.isatty(),
    )

    ascii_only = not writes_utf8(target)

    def emit(model: str, action: str, record: dict[str, Any]) -> None:
        if args.format == "table":
            target.write(_table_row(action, record) + "\n")
            target.flush()
        else:  # the JSON the store saved, plus metadata; buffered, not flushed per record
            target.write(_jsonl_line(model, action, record, ascii_only=ascii_only))
        if not args.quiet:
            progress.step()

    host = LocalHost(connection, store=args.store, client_factory=client, on_record=emit)
    wait = float(args.wait_timeout) if args.wait else None
    handlers = logging.getLogger("loom_scim_connector").handlers
    for handler in handlers:
        handler.addFilter(progress)
    try:
        if args.release_held is not None:
            report = await host.release_held(
                args.name, args.release_held, wait=wait, without_controls=args.without_controls
            )
        else:
            report = await host.run_sync(args.name, wait=wait)
        held = host.store.records(report.model, ids=report.held[:HELD_SHOWN]) if report.held else []
    finally:
        progress.done()
        for handler in handlers:
            handler.removeFilter(progress)
        host.close()
    for warning in report.warnings:  # a held run's says why it was held
        log.warning("%s", warning)
    quarantined = report.quarantine_note()
    if quarantined:
        log.warning("%s", quarantined)
    if report.status == "held":
        log.warning("%s", _summary(report))
        log.warning("%s", _held_message(args, report, held))
        return EXIT_HELD
    log.info("%s", _summary(report))
    return EXIT_OK


def _connections(args: argparse.Namespace, out: TextIO) -> int:
    path = args.config or default_config_path()
    listed = load(path)
    out.write(f"{path}\n")
    for name, entry in sorted(listed.entries.items()):
        mark = " (default)" if name == listed.default else ""
        if entry.problem is not None:
            out.write(f"  {name}{mark}: UNUSABLE: {entry.problem}\n")
            continue
        if entry.key_expires_at is None:
            expiry = "key expiry unknown"
        else:
            left = (entry.key_expires_at - date.today()).days
            expiry = f"key expired {-left} days ago" if left < 0 else f"key expires in {left} days"
        out.write(f"  {name}{mark}: {entry.url} (key from {entry.key_source}; {expiry})\n")
    return EXIT_OK


def _actions(out: TextIO) -> int:
    from loom_scim_connector.describe import action_lines

    out.write("\n".join(action_lines(load_manifest())) + "\n")
    out.write("\nloom-scim action NAME --help shows an action's input fields.\n")
    return EXIT_OK


async def _action(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    # Imported here: a sync needs neither (nor the other commands' modules).
    from loom_scim_connector.describe import action_help, action_lines
    from loom_scim_connector.dryrun import DryRunTransport, WouldSend

    manifest = load_manifest(lazy=True)
    if args.name is None:  # `action --help` lists the actions; a bare `action` is an error
        parser: argparse.ArgumentParser = args.action_parser
        listed = "".join(f"  {line}\n" for line in action_lines(manifest))
        if args.help:
            out.write(f"{parser.format_help()}\nactions:\n{listed}")
            return EXIT_OK
        err.write(f"{parser.format_usage()}\nactions:\n{listed}\n")
        raise UsageError("name the action to run, one of those listed above")
    resolved = manifest.action(args.name)  # an unknown name fails before anything else
    if args.help:
        out.write(action_help(resolved))
        return EXIT_OK
    if args.input is None:
        raise UsageError(f"--input is required (see loom-scim action {args.name} --help)")
    raw = read_input(args.input, stdin)
    connection = connect(args)
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
        from loom_scim_connector.sandbox import Sandbox, SandboxSettings
    except ImportError:
        raise ConfigError(
            "sandbox", "needs the sandbox extra: pip install 'loom-scim-connector[sandbox]'"
        ) from None
    changes = {
        "deprovisioning": args.deprovisioning,
        "role_mapped": not args.role_unmapped,
        "ignore_paging": args.ignore_paging,
        "latency": args.latency,
        "fault_rate": args.fault_rate,
        "fault_status": args.fault_status,
    }
    for name in ("page_size_cap", "retry_after"):  # the profile's unless given
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    settings = SandboxSettings.for_profile(args.profile, **changes)
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
        f"Loom SCIM sandbox ({args.profile} profile) on {sandbox.url} "
        f"({len(sandbox.seeded.get('all', []))} users)\n"
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
