"""``loom-scim reconcile --roster FILE``: Loom's members against the identity provider's
roster, as a table, JSON or CSV; then, with ``--apply``, the bounded, verified plan."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
from pathlib import Path
from typing import Any, TextIO

from loom_scim_connector._messages import shown
from loom_scim_connector.audit.offboard import default_actor
from loom_scim_connector.audit.plan import Applied, Change, apply_plan, build_plan, refuse
from loom_scim_connector.audit.reconcile import CATEGORIES, Finding, Reconciliation, reconcile
from loom_scim_connector.audit.roster import Roster, parse_map, read_role_map, read_roster
from loom_scim_connector.errors import ConfigError
from loom_scim_connector.host import LocalHost

from ._connect import connect
from ._exit import EXIT_FAILURE, EXIT_FINDINGS, EXIT_HELD, EXIT_OK

log = logging.getLogger("loom_scim_connector")

CSV_COLUMNS = tuple(Finding.__dataclass_fields__)  # category first
WHAT = {
    "orphaned": "active in Loom, gone from the roster or marked as left there",
    "unmanaged": "active in Loom without externalId: the IdP cannot deprovision them",
    "role_drift": "the Loom role differs from the one the roster implies",
    "missing": "active in the roster, no active Loom account",
    "duplicates": "one person with more than one active Loom account",
}


def run_reconcile(args: argparse.Namespace, out: TextIO) -> int:
    mapping = parse_map(args.map) if args.map else None
    roster = read_roster(args.roster, mapping)  # a bad file fails before any request
    role_map = read_role_map(args.role_map) if args.role_map else None
    # Nothing is written without a sync or --apply: an auditor's read-only copy will do.
    read_only = args.no_sync and not args.apply
    if read_only and "://" not in args.store and not Path(args.store).exists():
        raise ConfigError("--no-sync", "the store has no synced users: run without it")
    connection = connect(args)
    host = LocalHost(connection, store=args.store, read_only=read_only)
    try:
        held = False
        if not args.no_sync:
            report = asyncio.run(host.run_sync("users"))
            held = report.status == "held"
            log.info("users synced: %d saved, %d deleted", report.saved, report.deleted)
            if held:
                log.warning("the users sync is held for review: the store may list gone users")
        records = host.store.records("User")
        if args.no_sync and not records:
            raise ConfigError("--no-sync", "the store has no synced users: run without it")
        result = reconcile(records, roster.entries, role_map)
        plan = build_plan(result, delete=args.delete, roles=args.apply_roles)
        _print(args, roster, result, out)
        if not args.apply:
            return _dry_run(args, result, plan, out)
        if held:
            log.warning("nothing was applied: release the held sync, then apply again")
            return EXIT_HELD
        refuse(plan, result, max_changes=args.max_changes, force=args.force)
        done = (
            asyncio.run(
                apply_plan(host, plan, actor=args.actor or default_actor(), roster=roster.entries)
            )
            if plan
            else []
        )
    finally:
        host.close()
    _print_applied(args, done, out)
    if not all(a.ok for a in done):
        return EXIT_FAILURE
    return EXIT_FINDINGS if args.fail_on_findings and result.any() else EXIT_OK


def _dry_run(
    args: argparse.Namespace, result: Reconciliation, plan: list[Change], out: TextIO
) -> int:
    why = result.truncated()
    if why is not None:
        log.warning("the roster looks truncated or wrong: %s (--apply would refuse)", why)
    target = out if args.format == "table" else None
    lines = [f"\nplan (dry run, nothing changed): {len(plan)} change(s)"]
    lines += [f"  {shown(change.describe())}" for change in plan]
    drifted = len(result.category("role_drift"))
    if drifted and not args.apply_roles:
        lines.append(f"  ({drifted} role drift not in the plan: add --apply-roles to fix it)")
    if plan:
        lines.append("  run again with --apply to carry it out")
    for line in lines:
        if target is not None:
            target.write(line + "\n")
        else:
            log.info("%s", line.strip())
    return EXIT_FINDINGS if args.fail_on_findings and result.any() else EXIT_OK


def _print(args: argparse.Namespace, roster: Roster, result: Reconciliation, out: TextIO) -> None:
    if args.format == "json":
        data: dict[str, Any] = {
            name: [f.to_dict() for f in result.category(name)] for name in CATEGORIES
        }
        data["counts"] = result.counts()
        if args.seat_price is not None:
            data["orphaned_monthly_cost"] = round(len(result.orphaned) * args.seat_price, 2)
        out.write(json.dumps(data) + "\n")
    elif args.format == "csv":
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for name in CATEGORIES:
            writer.writerows(f.to_dict() for f in result.category(name))
    else:
        _table(args, roster, result, out)
    out.flush()


def _table(args: argparse.Namespace, roster: Roster, result: Reconciliation, out: TextIO) -> None:
    out.write(
        f"roster {roster.path} ({roster.format}): {result.roster_entries} entries; Loom: "
        f"{result.loom_active} active members, {result.matched_active} matched\n"
    )
    width = max([34, *(len(shown(f.email)) for name in CATEGORIES for f in result.category(name))])
    for name in CATEGORIES:
        found = result.category(name)
        out.write(f"\n{name} ({len(found)}): {WHAT[name]}\n")
        for f in found:
            by = f" [{shown(f.matched_by)}]" if f.matched_by else ""
            row = f"{shown(f.email):<{width}} {shown(f.id or '-'):<26} {shown(f.reason)}{by}"
            out.write(f"  {row}\n")
    counts = ", ".join(f"{n} {name}" for name, n in result.counts().items())
    out.write(f"\n{counts}\n")
    if args.seat_price is not None:
        cost = len(result.orphaned) * args.seat_price
        out.write(f"orphaned seats cost about {cost:.2f} a month\n")


def _print_applied(args: argparse.Namespace, done: list[Applied], out: TextIO) -> None:
    for item in done:
        line = f"{shown(item.change.describe())} -> {item.outcome}"
        detail = f" ({shown(item.detail)})" if item.detail else ""
        if args.format == "table":
            out.write(f"applied: {line}{detail}\n")
        else:
            (log.info if item.ok else log.warning)("applied: %s%s", line, detail)
    if args.format == "table" and not done:
        out.write("applied: nothing to change\n")
