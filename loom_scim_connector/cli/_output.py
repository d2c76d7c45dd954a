"""What the CLI prints: JSON, summaries, tables, the held message; one line per error."""

from __future__ import annotations

import argparse
import functools
import json
import os
from typing import TYPE_CHECKING, Any, TextIO

from loom_scim_connector._constants import ENV_KEY
from loom_scim_connector._messages import redact, shown
from loom_scim_connector.store import text_of

if TYPE_CHECKING:
    from loom_scim_connector.host import SyncReport


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, default=str) + "\n")
    out.flush()


def _jsonl_line(
    model: str, action: str, record: dict[str, Any], *, ascii_only: bool = False
) -> str:
    """A synced record as one JSON line: the bytes the store saved, plus ``_metadata``.
    ``ascii_only`` (a stream that cannot write UTF-8): non-ASCII text as \\u escapes."""
    text = text_of(record)
    if ascii_only and not text.isascii():
        text = json.dumps(json.loads(text), separators=(",", ":"))
    return f"{text[:-1]}{',' if len(text) > 2 else ''}{_metadata(model, action)}}}\n"


@functools.cache
def _metadata(model: str, action: str) -> str:
    metadata = json.dumps({"model": model, "lastAction": action}, separators=(",", ":"))
    return f'"_metadata":{metadata}'


def writes_utf8(stream: TextIO) -> bool:
    """Whether ``stream`` can take any text (UTF-8), or only its own smaller charset."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    return encoding in ("utf8", "utf8sig")


def _summary(report: SyncReport) -> str:
    return (
        f"{report.sync}: {report.status}; {report.saved} saved ({report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged), {report.deleted} deleted"
        + _candidates_note(report)
        + (f", {len(report.quarantined)} quarantined" if report.quarantined else "")
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
    unreadable = sum(q.stage == "lookup" for q in report.quarantined)
    gone = report.candidates - report.recovered - unreadable
    return (
        f" ({report.candidates} not listed, each looked up: {gone} gone, "
        f"{report.recovered} still there"
        + (f", {unreadable} unreadable and kept" if unreadable else "")
        + ")"
    )


def _capabilities(caps: dict[str, Any]) -> str:
    def said(value: object) -> str:
        return "unknown" if value is None else "yes" if value else "no"

    page = caps.get("maxResults") or "no limit given"
    return f"PATCH {said(caps.get('patch'))}, filter {said(caps.get('filter'))}, max page {page}"


def _one_line(text: str) -> str:
    """An error is one line, even when a field name or a file name has a newline in it."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _redact_env_key(text: str) -> str:
    key = os.environ.get(ENV_KEY, "").strip()
    return redact(text, key) if len(key) >= 4 else text


def _table_row(action: str, record: dict[str, Any]) -> str:
    """One record for people: what happened, who, role, active, and how it is managed."""
    if "email" in record:
        value = record.get("active")
        active = "?" if value is None else "active" if value else "INACTIVE"
        managed = (
            f"IdP {shown(record['externalId'])}" if record.get("externalId") else "domain capture"
        )
        return (
            f"{action:<9} {shown(record['email']):<40} {shown(record.get('role') or '-'):<8} "
            f"{active:<8} {managed}"
        )
    members = len(record.get("memberIds") or [])
    name = shown(record.get("displayName", record.get("id")))
    return f"{action:<9} {name:<40} {_n(members, 'member')}"


def _held_message(args: argparse.Namespace, report: SyncReport, held: list[dict[str, Any]]) -> str:
    listed = [
        f"  {shown(r.get('id'))}  {shown(r.get('email') or r.get('displayName') or '')}"
        for r in held
    ]
    more = len(report.held) - len(listed)
    return "\n".join(
        [
            f"{_n(len(report.held), report.model + ' record')} not seen in two walks of run "
            f"{report.run_id}; they are kept, none was deleted:",
            *listed,
            *([f"  ... and {more} more"] if more > 0 else []),
            "If they really left, release them (each is still looked up first, and only "
            "those the server says are gone are deleted):",
            f"  {report.release_command(args.store)}",
        ]
    )
