"""The read tools over the store: the questions an admin asks, answered a page at a time.

None of them talks to Loom (the store is as fresh as the last ``sync-users``), none
changes anything, and none returns the whole store: members and findings come in pages
of at most 100, with ``nextCursor`` for the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from loom_scim_connector.audit.reconcile import CATEGORIES, reconcile
from loom_scim_connector.audit.review import build_review
from loom_scim_connector.audit.roster import parse_map, read_role_map, read_roster
from loom_scim_connector.check import key_status
from loom_scim_connector.errors import ConfigError, InputError
from loom_scim_connector.host import LocalHost
from loom_scim_connector.identity import same_email

from ._read_models import (
    Findings,
    FindMembersInput,
    KeyExpiry,
    MemberInput,
    MemberRecord,
    MembersPage,
    NoInput,
    ReviewInput,
    ReviewSummary,
    RosterInput,
)

Handler = Callable[[LocalHost, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Read:
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler


def _page(items: Sequence[Any], cursor: int, limit: int) -> tuple[list[Any], int | None]:
    page = list(items[cursor : cursor + limit])
    more = cursor + limit < len(items)
    return page, cursor + limit if more else None


def _updated(record: dict[str, Any]) -> datetime | None:
    text = record.get("updatedAt")
    try:
        value = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _matches(record: dict[str, Any], q: FindMembersInput) -> bool:
    if q.email is not None and not same_email(record.get("email"), q.email):
        return False
    if q.role is not None and record.get("role") != q.role:
        return False
    if q.active is not None and (record.get("active") is True) != q.active:
        return False
    if q.managed is not None and bool(record.get("externalId")) != q.managed:
        return False
    if q.updated_since is not None:
        since = q.updated_since if q.updated_since.tzinfo else q.updated_since.replace(tzinfo=UTC)
        when = _updated(record)
        return when is not None and when >= since
    return True


def _users(host: LocalHost, include_deleted: bool = False) -> list[dict[str, Any]]:
    records = host.store.records("User", include_deleted=include_deleted)
    return sorted(records, key=lambda r: (str(r.get("email") or ""), str(r["id"])))


async def find_members(host: LocalHost, q: FindMembersInput) -> MembersPage:
    found = [r for r in _users(host, q.include_deleted) if _matches(r, q)]
    page, following = _page(found, q.cursor, q.limit)
    return MembersPage(members=page, total=len(found), next_cursor=following)


async def get_member(host: LocalHost, q: MemberInput) -> MemberRecord:
    if (q.id is None) == (q.email is None):
        raise InputError("get-member", {"id": "give either id or email (one of them)"})
    if q.id is not None:
        members = host.store.records("User", include_deleted=True, ids=[q.id])
        evidence = host.store.evidence(user_id=q.id, limit=50)
    else:
        members = [r for r in _users(host, True) if same_email(r.get("email"), q.email)]
        evidence = host.store.evidence(email=q.email, limit=50)
    return MemberRecord(members=members[:20], evidence=[asdict(e) for e in evidence])


async def key_expiry(host: LocalHost, _: NoInput) -> KeyExpiry:
    days = host.connection.days_until_expiry()
    expires = host.connection.api_key_expires_at
    return KeyExpiry(
        expires_at=expires.isoformat() if expires else None,
        days_left=days,
        status=key_status(days),
    )


def _live_users(host: LocalHost) -> list[dict[str, Any]]:
    records = host.store.records("User")
    if not records:
        raise ConfigError("store", "has no synced users: call sync-users first")
    return records


async def reconcile_roster(host: LocalHost, q: RosterInput) -> Findings:
    roster = read_roster(Path(q.roster), parse_map(q.map) if q.map else None)
    role_map = read_role_map(Path(q.role_map)) if q.role_map else None
    result = reconcile(_live_users(host), roster.entries, role_map)
    names = [q.category] if q.category else list(CATEGORIES)
    every = [f.to_dict() for name in names for f in result.category(name)]
    page, following = _page(every, q.cursor, q.limit)
    return Findings(
        counts=result.counts(),
        findings=page,
        total=len(every),
        next_cursor=following,
        truncated=result.truncated(),
        roster=f"{Path(roster.path).name} ({roster.format}, {len(roster.entries)} entries)",
    )


async def access_review(host: LocalHost, q: ReviewInput) -> ReviewSummary:
    _live_users(host)
    roster = Path(q.roster) if q.roster else None
    review = build_review(host.store, host.connection, roster=roster, mapping=q.map)
    risky = review.at_risk()
    return ReviewSummary(
        generated_at=review.generated_at,
        key_status=review.key_status,
        key_days_left=review.key_days_left,
        members=len(review.members),
        active=review.active,
        unmanaged_active=review.unmanaged_active,
        by_role={
            role: {"managed": managed, "unmanaged": unmanaged}
            for role, (managed, unmanaged) in review.by_role().items()
        },
        at_risk=[
            {
                "id": m.id,
                "email": m.email,
                "role": m.role,
                "status": m.status,
                "managed": m.managed,
                "findings": list(m.findings),
            }
            for m in risky[:25]
        ],
        at_risk_total=len(risky),
        evidence_records=len(review.evidence),
        roster=review.roster,
        roster_counts=review.roster_counts,
    )


READS: dict[str, Read] = {
    "find-members": Read(
        "Find members in the server's store by email, role, active, managed (created by the "
        "identity provider) or not, and last change in Loom; a page at a time.",
        FindMembersInput,
        MembersPage,
        find_members,
    ),
    "get-member": Read(
        "One member's stored record(s) (by SCIM id, or every account carrying an email) "
        "and their offboarding evidence.",
        MemberInput,
        MemberRecord,
        get_member,
    ),
    "key-expiry": Read(
        "When the connection's SCIM API key expires: date, days left, and ok, expiring "
        "(within 30 days), expired or unknown.",
        NoInput,
        KeyExpiry,
        key_expiry,
    ),
    "reconcile-roster": Read(
        "Who left but still has access: the store's members against a roster export on "
        "the server's machine (orphaned, unmanaged, role_drift, missing, duplicates), a "
        "page of findings at a time. Changes nothing; offboard with deactivate-user.",
        RosterInput,
        Findings,
        reconcile_roster,
    ),
    "access-review": Read(
        "The access review's summary: key expiry, active members by role, managed or not, "
        "the members at risk, and how much offboarding evidence there is.",
        ReviewInput,
        ReviewSummary,
        access_review,
    ),
}
