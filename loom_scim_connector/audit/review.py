"""The access review: every member of the workspace, as the synced store knows them,
with role, managed or not, status in the roster, the offboarding evidence, and the key's
expiry (the rows and the review: :mod:`._review_model`). Written as one self-contained
HTML page (:mod:`._review_html`) and as CSV.

It reads the store only; the roster, when given, is compared by :mod:`.reconcile`, and
every member is matched to it (for their roster state, and a name Loom lacks) by
:mod:`.roster_match`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from loom_scim_connector.check import key_status
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import InputError
from loom_scim_connector.identity import email_key
from loom_scim_connector.store import Evidence, Store

from ._review_model import MemberRow, Review
from .reconcile import CATEGORIES, reconcile
from .roster import RosterEntry, parse_map, read_roster
from .roster_match import Member, RosterIndex, roster_state

CSV_COLUMNS = (
    "id",
    "email",
    "name",
    "role",
    "status",
    "managed",
    "externalId",
    "rosterStatus",
    "findings",
    "lastAction",
    "lastOutcome",
    "lastActionAt",
    "lastActor",
    # For the reviewer to fill in: keep, remove or investigate, who decided, and when.
    "decision",
    "reviewer",
    "decidedOn",
)


def build_review(
    store: Store,
    connection: LoomConnection,
    *,
    roster: Path | None = None,
    mapping: str | None = None,
    today: date | None = None,
    reviewer: str | None = None,
    sync_note: str | None = None,
) -> Review:
    records = store.records("User", include_deleted=True)
    # An intent its outcome settles says nothing more than the outcome; one unsettled is
    # shown (outcome unknown: the change was sent and the run stopped before knowing).
    everything = store.evidence()
    settled = {item.intent_id for item in everything if item.intent_id is not None}
    evidence = [item for item in everything if item.evidence_id not in settled]
    days = connection.days_until_expiry(today)
    review = Review(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        base_url=connection.base_url,
        key_expires_at=connection.api_key_expires_at,
        key_days_left=days,
        key_status=key_status(days),
        accounts=[],
        evidence=evidence,
        expiry_origin=connection.origins.expiry,
        reviewer=reviewer or None,
        sync_note=sync_note,
    )
    matched: dict[str, RosterEntry | None] = {}
    findings: dict[str, list[str]] = defaultdict(list)
    if roster is not None:
        read = read_roster(roster, parse_map(mapping) if mapping else None)
        live = [r for r in records if "_deletedAt" not in r]
        result = reconcile(live, read.entries)
        review.roster = f"{roster.name} ({read.format}, {len(read.entries)} people)"
        review.roster_counts = result.counts()
        review.missing = [f"{f.email}: {f.reason}" for f in result.missing]
        for name in CATEGORIES:
            for finding in result.category(name):
                if finding.id is not None and name != "missing":
                    findings[finding.id].append(f"{name}: {finding.reason}")
        # Every member, active or not, matched as reconcile matches the active ones.
        index = RosterIndex(read.entries)
        matched = {str(r["id"]): index.match(Member.of(r))[0] for r in live}
    elif mapping is not None:
        raise InputError("review", {"--map": "names the columns of --roster: give --roster too"})
    review.accounts = _rows(records, evidence, matched, findings, with_roster=roster is not None)
    return review


def _rows(
    records: Sequence[Mapping[str, Any]],
    evidence: Sequence[Evidence],
    matched: Mapping[str, RosterEntry | None],
    findings: Mapping[str, list[str]],
    *,
    with_roster: bool,
) -> list[MemberRow]:
    by_id: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:  # newest first, so each list is too
        if item.user_id:
            by_id[item.user_id].append(item)
    rows = []
    for record in records:
        rid = str(record["id"])
        proofs = by_id.get(rid, [])
        if "_deletedAt" in record and not proofs:
            continue  # long gone, and not by an offboarding: nothing to review
        entry = matched.get(rid)
        # Loom's name, else the roster's (for an account Loom holds no name for).
        name = Member.of(record).name
        rows.append(
            MemberRow(
                id=rid,
                email=str(record.get("email") or ""),
                name=name or (entry.name if entry else None),
                role=record.get("role"),
                active=record.get("active"),
                external_id=record.get("externalId") or None,
                deleted_at=record.get("_deletedAt"),
                roster_status=roster_state(entry) if with_roster and rid in matched else None,
                findings=tuple(findings.get(rid, ())),
                evidence=tuple(proofs),
                name_from_roster=not name and entry is not None and bool(entry.name),
            )
        )
    rows.sort(key=lambda m: (m.deleted_at is not None, email_key(m.email)))
    return rows


def csv_rows(review: Review) -> list[dict[str, str]]:
    """One row a member (as the page counts them), the decision left empty to fill in."""
    rows = []
    for m in review.members:
        last = m.evidence[0] if m.evidence else None
        rows.append(
            {
                "id": m.id,
                "email": m.email,
                "name": m.name or "",
                "role": m.role or "",
                "status": m.status,
                "managed": "managed" if m.managed else "unmanaged",
                "externalId": m.external_id or "",
                "rosterStatus": m.roster_status or "",
                "findings": "; ".join(m.findings),
                "lastAction": last.action if last else "",
                "lastOutcome": last.outcome if last else "",
                "lastActionAt": last.at if last else "",
                "lastActor": last.actor if last else "",
                "decision": "",
                "reviewer": review.reviewer or "",
                "decidedOn": "",
            }
        )
    return rows


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (names come from the server)."""
    risky = value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-"
    return "'" + value if risky else value


def write_csv(review: Review, path: Path) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as target:
            writer = csv.DictWriter(target, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in csv_rows(review):
                writer.writerow({k: _safe_cell(v) for k, v in row.items()})
    except OSError as exc:
        raise InputError("review", {"--csv": f"{path} cannot be written: {exc.strerror}"}) from None


def write_html(review: Review, path: Path) -> None:
    from ._review_html import render

    try:
        path.write_text(render(review), encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "review", {"--html": f"{path} cannot be written: {exc.strerror}"}
        ) from None
