"""What the access review holds: one row a member, and the review with its counts.

Built by :mod:`.review`, drawn by :mod:`._review_html` and :mod:`._review_svg`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from loom_scim_connector._origins import FROM_ENV
from loom_scim_connector.store import Evidence

NO_ROLE = "(none)"


@dataclass(frozen=True)
class MemberRow:
    id: str
    email: str
    name: str | None
    role: str | None
    active: bool | None
    external_id: str | None
    deleted_at: str | None
    roster_status: str | None  # None: no roster given, or not assessed (inactive in Loom)
    findings: tuple[str, ...]  # reconcile categories, with their reasons
    evidence: tuple[Evidence, ...]  # newest first

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


@dataclass
class Review:
    generated_at: str
    base_url: str
    key_expires_at: date | None
    key_days_left: int | None
    key_status: str
    members: list[MemberRow]
    evidence: list[Evidence]
    roster: str | None = None  # the roster file's name and format
    roster_counts: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # roster people without Loom access
    expiry_origin: str = FROM_ENV.expiry  # where the key's expiry is set (the one to advise)

    @property
    def live(self) -> list[MemberRow]:
        return [m for m in self.members if m.deleted_at is None]

    @property
    def active(self) -> int:
        return sum(m.active is True for m in self.live)

    @property
    def unmanaged_active(self) -> int:
        return sum(m.active is True and not m.managed for m in self.live)

    def at_risk(self) -> list[MemberRow]:
        """The members to look at first: orphaned (with a roster), else unmanaged active."""
        if self.roster is not None:
            return [m for m in self.live if m.active and m.orphaned]
        return [m for m in self.live if m.active and not m.managed]

    def by_role(self) -> dict[str, tuple[int, int]]:
        """Active members by role: (managed, unmanaged)."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for member in self.live:
            if member.active:
                counts[member.role or NO_ROLE][0 if member.managed else 1] += 1
        order = ["admin", "creator", "viewer", "default", NO_ROLE]
        keys = sorted(counts, key=lambda r: (order.index(r) if r in order else len(order), r))
        return {role: (counts[role][0], counts[role][1]) for role in keys}
