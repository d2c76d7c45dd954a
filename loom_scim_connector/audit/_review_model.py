"""What the access review holds: one row an account, the review with its counts, and the
one definition of a member (:func:`is_member`) that every count and list of it uses.

Built by :mod:`.review`, drawn by :mod:`._review_html`, :mod:`._review_svg` and
:mod:`._review_signoff`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from loom_scim_connector._origins import FROM_ENV
from loom_scim_connector.store import Evidence

NO_ROLE = "(none)"
# What a reviewer may decide for a member with a finding: the page's sign-off block offers
# these, and the CSV's decision column takes them.
DECISIONS = ("keep", "remove", "investigate")


@dataclass(frozen=True)
class MemberRow:
    id: str
    email: str
    name: str | None  # Loom's, else the roster's (name_from_roster)
    role: str | None
    active: bool | None
    external_id: str | None
    deleted_at: str | None
    roster_status: str | None  # None: no roster given; else what it says, in words
    findings: tuple[str, ...]  # reconcile categories, with their reasons
    evidence: tuple[Evidence, ...]  # newest first
    name_from_roster: bool = False

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleted"
        return "unknown" if self.active is None else "active" if self.active else "inactive"

    @property
    def managed(self) -> bool:
        return self.external_id is not None

    @property
    def orphaned(self) -> bool:
        return any(f.startswith("orphaned") for f in self.findings)


def is_member(row: MemberRow) -> bool:
    """A member is an account the workspace still has, whatever Loom says of it (active,
    inactive, or nothing), managed or not, whatever the roster says; a record the last
    sync quarantined is kept as it was last read, so it counts too. An account deleted
    is not one: it is kept in the review only for its offboarding evidence.

    The page's card and table, the CSV and the command's summary all count with this."""
    return row.deleted_at is None


@dataclass
class Review:
    generated_at: str
    base_url: str
    key_expires_at: date | None
    key_days_left: int | None
    key_status: str
    accounts: list[MemberRow]  # the members, and accounts deleted with offboarding evidence
    evidence: list[Evidence]
    roster: str | None = None  # the roster file's name and format
    roster_counts: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # roster people without Loom access
    expiry_origin: str = FROM_ENV.expiry  # where the key's expiry is set (the one to advise)
    reviewer: str | None = None  # who signs the review off (--reviewer), else left blank
    sync_note: str | None = None  # records the sync could not read (quarantined)

    @property
    def members(self) -> list[MemberRow]:
        return [m for m in self.accounts if is_member(m)]

    @property
    def removed(self) -> list[MemberRow]:
        """Accounts deleted, shown for their offboarding evidence: not members."""
        return [m for m in self.accounts if not is_member(m)]

    @property
    def active(self) -> int:
        return sum(m.active is True for m in self.members)

    @property
    def unmanaged_active(self) -> int:
        return sum(m.active is True and not m.managed for m in self.members)

    def summary(self) -> str:
        """The counts in one line, as the command prints them (the page's cards agree)."""
        members = self.members
        inactive = sum(m.active is False for m in members)
        unknown = sum(m.active is None for m in members)
        said = [f"{self.active} active ({self.unmanaged_active} unmanaged)", f"{inactive} inactive"]
        said += [f"{unknown} with no status"] if unknown else []
        line = f"{_n(len(members), 'member')}: {', '.join(said)}"
        if self.removed:
            line += f"; {_n(len(self.removed), 'account')} deleted by offboarding"
        return f"{line}; {_n(len(self.evidence), 'offboarding record')}"

    def at_risk(self) -> list[MemberRow]:
        """The members to look at first: orphaned (with a roster), else unmanaged active."""
        if self.roster is not None:
            return [m for m in self.members if m.active and m.orphaned]
        return [m for m in self.members if m.active and not m.managed]

    def to_decide(self) -> list[MemberRow]:
        """The members a reviewer decides on: at risk first, then any other finding."""
        risky = self.at_risk()
        seen = {m.id for m in risky}
        return risky + [m for m in self.members if m.findings and m.id not in seen]

    def by_role(self) -> dict[str, tuple[int, int]]:
        """Active members by role: (managed, unmanaged)."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for member in self.members:
            if member.active:
                counts[member.role or NO_ROLE][0 if member.managed else 1] += 1
        order = ["admin", "creator", "viewer", "default", NO_ROLE]
        keys = sorted(counts, key=lambda r: (order.index(r) if r in order else len(order), r))
        return {role: (counts[role][0], counts[role][1]) for role in keys}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
