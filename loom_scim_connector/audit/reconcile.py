"""Loom's members against the identity provider's roster: a pure function, no I/O.

Each Loom account is matched to a roster entry (:mod:`.roster_match`) on ``externalId``
first, then on email (case-insensitively, the roster's aliases included); each finding
says which rule matched. The findings fall in five categories, each with its reason:

* ``orphaned``: active in Loom, and absent from the roster or marked as gone there;
* ``unmanaged``: active in Loom with no ``externalId`` (domain capture): the identity
  provider cannot deprovision them;
* ``role_drift``: the Loom role differs from the one the roster implies (by a role map);
* ``missing``: active in the roster, with no active Loom account;
* ``duplicates``: one person with more than one active Loom account.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loom_scim_connector._constants import RECONCILE_MIN_ROSTER_FRACTION
from loom_scim_connector.identity import email_key

from .roster import RosterEntry
from .roster_match import Member, RosterIndex, roster_state

CATEGORIES = ("orphaned", "unmanaged", "role_drift", "missing", "duplicates")
# When several roster groups map to different roles, the highest wins.
_RANK = {"viewer": 0, "creator": 1, "admin": 2}


@dataclass(frozen=True)
class Finding:
    category: str
    email: str
    reason: str
    id: str | None = None
    matched_by: str | None = None  # "externalId", "email", or None (no match)
    name: str | None = None
    external_id: str | None = None
    loom_role: str | None = None
    roster_role: str | None = None
    implied_role: str | None = None
    roster_status: str | None = None
    roster_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reconciliation:
    orphaned: tuple[Finding, ...]
    unmanaged: tuple[Finding, ...]
    role_drift: tuple[Finding, ...]
    missing: tuple[Finding, ...]
    duplicates: tuple[Finding, ...]
    loom_active: int
    roster_entries: int
    matched_active: int  # Loom's active members matched to an entry the roster calls active
    roster_active: int = 0  # the roster's entries that say the person is still there

    def category(self, name: str) -> tuple[Finding, ...]:
        found: tuple[Finding, ...] = getattr(self, name)
        return found

    def counts(self) -> dict[str, int]:
        return {name: len(self.category(name)) for name in CATEGORIES}

    def any(self) -> bool:
        return any(self.counts().values())

    def truncated(self) -> str | None:
        """Why the roster looks truncated (or is the wrong file), or None."""
        if self.loom_active == 0:
            return None
        least = RECONCILE_MIN_ROSTER_FRACTION
        share = f"{least:.0%} of Loom's {self.loom_active} active members"
        # Only entries that say someone is still there count: a roster where everyone
        # reads as gone (a wrong status column) would otherwise orphan the workspace.
        if self.roster_active < least * self.loom_active:
            people = "person" if self.roster_active == 1 else "people"
            return (
                f"the roster lists {self.roster_active} active {people} in "
                f"{self.roster_entries} entries, fewer than {share}"
            )
        if self.matched_active < least * self.loom_active:
            return (
                f"only {self.matched_active} of Loom's active members match an active person "
                f"of the roster, fewer than {share}"
            )
        return None


def implied_role(groups: str | None, role_map: Mapping[str, str]) -> str | None:
    """The Loom role a roster's role or group text implies (several: the highest)."""
    if not groups:
        return None
    roles = [
        role_map[g]
        for g in (p.strip().lower() for p in re.split(r"[;|,]", groups))
        if g in role_map
    ]
    return max(roles, key=_RANK.__getitem__) if roles else None


def reconcile(
    records: Sequence[Mapping[str, Any]],
    roster: Sequence[RosterEntry],
    role_map: Mapping[str, str] | None = None,
) -> Reconciliation:
    members = [Member.of(r) for r in records]
    index = RosterIndex(roster)
    found: dict[str, list[Finding]] = {name: [] for name in CATEGORIES}
    covered: dict[int, list[Member]] = defaultdict(list)  # roster entry -> active accounts
    names: dict[int, str] = {}
    rules: dict[str, str | None] = {}
    matched_active = 0
    for member in (m for m in members if m.active):
        entry, rule = index.match(member)
        rules[member.id] = rule
        if entry is not None:
            covered[id(entry)].append(member)
            names[id(entry)] = entry.email
            matched_active += entry.active
        for finding in _judge(member, entry, rule, role_map or {}):
            found[finding.category].append(finding)
    found["duplicates"] = _duplicates(members, covered, names, rules)
    inactive: dict[int, tuple[Member, str | None]] = {}  # roster entry -> a deactivated account
    for member in (m for m in members if not m.active):
        entry, rule = index.match(member)
        if entry is not None:
            inactive.setdefault(id(entry), (member, rule))
    for entry in roster:
        if entry.active and not covered.get(id(entry)):
            found["missing"].append(_missing(entry, *inactive.get(id(entry), (None, None))))
    by_email = {name: tuple(sorted(found[name], key=_by_email)) for name in CATEGORIES}
    return Reconciliation(
        by_email["orphaned"],
        by_email["unmanaged"],
        by_email["role_drift"],
        by_email["missing"],
        tuple(found["duplicates"]),  # grouped by person
        loom_active=sum(m.active for m in members),
        roster_entries=len(roster),
        matched_active=matched_active,
        roster_active=sum(e.active for e in roster),
    )


def _by_email(finding: Finding) -> tuple[str, str]:
    return email_key(finding.email), finding.id or ""


def _judge(
    member: Member, entry: RosterEntry | None, rule: str | None, role_map: Mapping[str, str]
) -> list[Finding]:
    """The findings of one active Loom account matched (or not) to a roster entry."""

    def finding(category: str, reason: str, implied: str | None = None) -> Finding:
        return Finding(
            category,
            member.email,
            reason,
            member.id,
            rule,
            member.name,
            member.external_id,
            member.role,
            roster_role=entry.role if entry else None,
            implied_role=implied,
            roster_status=(entry.status or None) if entry else None,
            roster_line=entry.line if entry else None,
        )

    found = []
    if entry is None or not entry.active:
        found.append(finding("orphaned", roster_state(entry)))
    if member.external_id is None:
        where = " (and not in the roster)" if entry is None else ""
        reason = "no externalId: joined by domain capture, so the IdP cannot deprovision them"
        found.append(finding("unmanaged", reason + where))
    if entry is not None and entry.active and role_map:
        wanted = implied_role(entry.role, role_map)
        if wanted is not None and wanted != member.role:
            reason = (
                f"Loom role {member.role or 'unknown'}, the roster's {entry.role!r} "
                f"implies {wanted}"
            )
            found.append(finding("role_drift", reason, wanted))
    return found


def _missing(entry: RosterEntry, old: Member | None, rule: str | None) -> Finding:
    """An active roster person without an active Loom account (maybe a deactivated one)."""
    reason = "active in the roster, no Loom account"
    if old is not None:
        reason = f"active in the roster, their Loom account {old.id} is deactivated"
    return Finding(
        "missing",
        entry.email,
        reason,
        id=old.id if old else None,
        matched_by=rule,
        name=entry.name,
        external_id=entry.external_id,
        loom_role=old.role if old else None,
        roster_role=entry.role,
        roster_status=entry.status or None,
        roster_line=entry.line,
    )


def _duplicates(
    members: Sequence[Member],
    covered: Mapping[int, list[Member]],
    names: Mapping[int, str],
    rules: Mapping[str, str | None],
) -> list[Finding]:
    """Active accounts of one person: the same roster entry, externalId or email."""
    groups: dict[str, list[Member]] = {}
    for key, accounts in covered.items():
        groups[f"roster {names[key]}"] = accounts
    by_key: dict[str, list[Member]] = defaultdict(list)
    for member in (m for m in members if m.active):
        by_key[f"email {email_key(member.email)}"].append(member)
        if member.external_id:
            by_key[f"externalId {member.external_id}"].append(member)
    groups.update(by_key)
    seen: set[str] = set()
    found = []
    for label, accounts in groups.items():
        new = [m for m in accounts if m.id not in seen]
        if len(accounts) < 2 or not new:
            continue
        ids = ", ".join(m.id for m in accounts)
        what = f"same {label}".replace("same roster ", "one roster person, ", 1)
        for member in new:
            seen.add(member.id)
            found.append(
                Finding(
                    "duplicates",
                    member.email,
                    f"{len(accounts)} active Loom accounts for one person ({what}): {ids}",
                    member.id,
                    rules.get(member.id),
                    member.name,
                    member.external_id,
                    member.role,
                )
            )
    return found
