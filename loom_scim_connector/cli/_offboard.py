"""``loom-scim offboard`` and ``loom-scim review``: their options and their handlers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from loom_scim_connector._messages import shown
from loom_scim_connector.audit.offboard import (
    SETTLED,
    default_actor,
    offboard_emails,
    resolve_pending,
    unresolved,
)
from loom_scim_connector.errors import InputError
from loom_scim_connector.host import LocalHost
from loom_scim_connector.host.report import shown_store as _shown
from loom_scim_connector.identity import email_key
from loom_scim_connector.models.inputs import FindUserInput
from loom_scim_connector.store import Evidence

from ._connect import connect
from ._exit import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK, UsageError
from ._output import _print_json
from ._progress import Progress

log = logging.getLogger("loom_scim_connector")
# -- offboard ------------------------------------------------------------------------


def read_emails(emails: list[str], file: Path | None) -> list[str]:
    """The emails to offboard, each checked before any request; every bad one is named
    (where it came from and why) in one :class:`InputError`. Repeats count once."""
    given = [(f"EMAIL {n}", text) for n, text in enumerate(emails, 1)]
    if file is not None:
        given += _from_file(file)
    if not given:
        raise UsageError("give at least one EMAIL, or --file FILE (see loom-scim offboard --help)")
    problems: dict[str, str] = {}
    wanted: dict[str, str] = {}
    for where, text in given:
        try:
            email = FindUserInput(email=text).email
        except ValidationError as exc:
            why = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            problems[where] = f"{text!r} {why}"
            continue
        wanted.setdefault(email_key(email), email)
    if problems:
        raise InputError("offboard", problems)
    return list(wanted.values())


def _from_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "is not UTF-8 text"
        raise InputError("offboard", {"--file": f"{path} {why}"}) from None
    lines = [
        (f"{path.name} line {n}", line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if lines and all(_plain(line) for _, line in lines):
        return lines
    return _from_roster(path)


def _plain(line: str) -> bool:
    """A line of a plain list: no separator a CSV or JSON file would have."""
    return not any(mark in line for mark in ',;\t"{[')


def _from_roster(path: Path) -> list[tuple[str, str]]:
    """Every person of a roster export. One the roster says is *active* is refused:
    offboard takes a list of leavers (reconcile compares a whole roster)."""
    from loom_scim_connector.audit.roster import read_roster

    roster = read_roster(path)
    # Only a roster that says each person left is a list of leavers. No status (a staff
    # export with an email column and nothing else) means active, as reconcile reads it.
    active = [e for e in roster.entries if e.active]
    if active:
        first = active[0]
        said = "says" if first.status else "gives no status for"
        raise InputError(
            "offboard",
            {
                f"{path.name} {roster.unit} {first.line}": f"the roster {said} {first.email}, "
                f"so they count as active ({len(active)} active in all): --file takes a "
                "list of leavers; compare a whole roster with loom-scim reconcile"
            },
        )
    return [(f"{path.name} {roster.unit} {e.line}", e.email) for e in roster.entries]


async def offboard_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    emails = read_emails(args.emails, args.file)
    connection = connect(args)
    # A dry run writes nothing: an existing store is opened for reading (an auditor's
    # read-only copy will do).
    read_only = args.dry_run and Path(args.store).is_file()  # noqa: ASYNC240 (once, first)
    host = LocalHost(connection, store=args.store, read_only=read_only)
    # One live line on a terminal (a log line every few seconds elsewhere), as a sync has.
    progress = Progress(
        err, "people done", lambda: len(emails), live=err.isatty(), one="person done", look_every=1
    )
    handlers = logging.getLogger("loom_scim_connector").handlers
    for handler in handlers:
        handler.addFilter(progress)
    actor = args.actor or default_actor()
    results: list[Evidence] = []

    def settled(item: Evidence) -> None:
        results.append(item)
        if not args.quiet:
            progress.step()

    try:
        resolved = [] if args.dry_run else await resolve_pending(host, actor)
        await offboard_emails(
            host, emails, delete=args.delete, actor=actor, dry_run=args.dry_run, on_each=settled
        )
    except asyncio.CancelledError:  # Ctrl-C: say what was done, and what is not known yet
        progress.done()
        return interrupted(results, unresolved(host.store), len(emails), args.store, out)
    finally:
        progress.done()
        for handler in handlers:
            handler.removeFilter(progress)
        host.close()
    counts = Counter(item.outcome for item in results)
    if args.json:
        _print_json(
            {
                "dryRun": args.dry_run,
                "results": [dataclasses.asdict(item) for item in results],
                "counts": dict(sorted(counts.items())),
                "resolved": [dataclasses.asdict(item) for item in resolved],
            },
            out,
        )
    else:
        out.write(offboard_table(results))
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    if args.dry_run:
        log.info("dry run: %s; nothing was changed or recorded", summary)
    else:
        log.info("%s; evidence recorded in %s", summary, _shown(args.store))
    return offboard_exit(results)


def interrupted(
    results: list[Evidence], pending: list[Evidence], asked: int, store: str, out: TextIO
) -> int:
    """What an interrupted offboard did: each settled account's line, then each change
    sent whose outcome is not known yet (its intent is recorded, the next run reads the
    account and records what happened); exit 130."""
    why = "interrupted before its outcome was known: the next run reads the account"
    unsure = [
        dataclasses.replace(item, detail=f"{item.action} sent at {item.at}, {why}")
        for item in pending
    ]
    out.write(offboard_table(results + unsure))
    emails = {email_key(item.email) for item in results + pending}
    counts = Counter(item.outcome for item in results)
    done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
    log.warning(
        "interrupted: %s; %d change(s) sent with no outcome known yet (recorded as unknown: "
        "the next offboard, or loom-scim evidence resolve, reads each account and records "
        "what happened); %d of %d emails not reached; evidence in %s",
        done, len(pending), max(0, asked - len(emails)), asked, _shown(store),
    )  # fmt: skip
    return EXIT_INTERRUPTED


def offboard_exit(results: list[Evidence]) -> int:
    """1 when an account failed or a search was incomplete; else 4 when an email has
    no account that was offboarded (none found, or each one found was skipped); else 0."""
    if any(item.outcome in ("failed", "incomplete") for item in results):
        return EXIT_FAILURE
    done: dict[str, bool] = {}
    for item in results:
        settled = item.outcome in SETTLED or item.outcome.startswith("would_")
        done[email_key(item.email)] = done.get(email_key(item.email), False) or settled
    return EXIT_OK if all(done.values()) else EXIT_NOT_FOUND


def offboard_table(results: list[Evidence]) -> str:
    rows: list[tuple[str, ...]] = [("EMAIL", "OUTCOME", "USER ID", "VERIFIED")]
    for item in results:
        mark = "" if item.outcome in SETTLED or item.outcome.startswith("would_") else "!"
        # What a server sent (the id, the detail): escaped, or a newline in an id would
        # print a row of its own (a forged "offboarded").
        user_id, detail = shown(item.user_id or "-"), shown(item.detail or "")
        rows.append((shown(item.email), mark + item.outcome, user_id, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip()
        + "\n"
        for row in rows
    )


# -- review --------------------------------------------------------------------------


async def review_command(args: argparse.Namespace, out: TextIO) -> int:
    from loom_scim_connector.audit.review import build_review, write_csv, write_html

    connection = connect(args)
    html_path = args.html or Path(f"loom-access-review-{date.today().isoformat()}.html")
    # Without a sync, the review only reads the store: a read-only copy will do.
    host = LocalHost(connection, store=args.store, read_only=args.no_sync)
    note = None
    try:
        if not args.no_sync:
            report = await host.run_sync("users")
            log.info("users synced: %d saved, %d deleted", report.saved, report.deleted)
            if report.status == "held":
                log.warning(
                    "the sync was held (run %s): its deletions wait for review, so the report "
                    "may still list people Loom no longer has",
                    report.run_id,
                )
            note = report.quarantine_note()
            if note:  # the page says it too: a review must not be silently partial
                log.warning("%s", note)
        review = build_review(
            host.store,
            host.connection,
            roster=args.roster,
            mapping=args.map,
            reviewer=args.reviewer,
            sync_note=note,
        )
    finally:
        host.close()
    write_html(review, html_path)
    out.write(f"{html_path}\n")
    if args.csv is not None:
        write_csv(review, args.csv)
        out.write(f"{args.csv}\n")
    log.info("%s", review.summary())
    return EXIT_OK
