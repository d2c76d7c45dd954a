"""A Loom account matched to the identity provider's roster, and what the roster says of
it in words: one matching rule (``externalId`` first, then email, an active entry winning
over a gone one) and one wording, shared by reconcile, ``--apply``'s last look, and the
access review."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loom_scim_connector.identity import email_key

from .roster import RosterEntry
from .roster_formats import status_phrase

NOT_IN_ROSTER = "not in the roster"
IN_ROSTER = "in the roster"


def roster_state(entry: RosterEntry | None) -> str:
    """What the roster says of the person an account was matched to (``None``: no one),
    as reconcile says it: "not in the roster", "in the roster", or why they count as
    gone ("disabled in the IdP", "the roster says Deactivated (gone from the IdP)")."""
    if entry is None:
        return NOT_IN_ROSTER
    return IN_ROSTER if entry.active else status_phrase(entry.status)


@dataclass(frozen=True)
class Member:
    """A Loom account as the synced store keeps it (only what reconciling needs)."""

    id: str
    email: str
    active: bool
    role: str | None
    external_id: str | None
    name: str | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Member:
        name = " ".join(filter(None, (record.get("firstName"), record.get("lastName"))))
        return cls(
            id=str(record["id"]),
            email=str(record.get("email") or ""),
            active=record.get("active") is True,  # only an account Loom says is active
            role=record.get("role"),
            external_id=record.get("externalId") or None,
            name=name or None,
        )


class RosterIndex:
    """The roster by externalId and by email; an active entry wins over an inactive
    one of the same key (a rehire must never be offboarded by their old record)."""

    def __init__(self, entries: Iterable[RosterEntry]) -> None:
        self.by_id: dict[str, RosterEntry] = {}
        self.by_email: dict[str, RosterEntry] = {}
        for entry in entries:
            if entry.external_id:
                self._put(self.by_id, entry.external_id, entry)
            for email in (entry.email, *entry.aliases):
                self._put(self.by_email, email_key(email), entry)

    @staticmethod
    def _put(index: dict[str, RosterEntry], key: str, entry: RosterEntry) -> None:
        if key not in index or (entry.active and not index[key].active):
            index[key] = entry

    def match(self, member: Member) -> tuple[RosterEntry | None, str | None]:
        by_email = self.by_email.get(email_key(member.email))
        if member.external_id and member.external_id in self.by_id:
            by_id = self.by_id[member.external_id]
            # A rehire: the old externalId's entry has left, the email's entry is active.
            # The active one wins, across keys as within one.
            if not by_id.active and by_email is not None and by_email.active:
                return by_email, "email"
            return by_id, "externalId"
        return (by_email, "email") if by_email is not None else (None, None)


class RosterCheck:
    """The roster, to judge one account again as it reads now (just before ``--apply``
    changes it): the store it was judged from may be older than the account."""

    def __init__(self, roster: Iterable[RosterEntry]) -> None:
        self._index = RosterIndex(roster)

    def not_orphaned(self, record: Mapping[str, Any]) -> str | None:
        """Why this account (a record as the store keeps it) is no longer orphaned, or
        None when it still is: in the roster under its current email or externalId,
        as someone still there."""
        entry, rule = self._index.match(Member.of(record))
        if entry is None or not entry.active:
            return None
        return (
            f"it is in the roster now, as {entry.email} (line {entry.line}, matched by "
            f"{rule}), who is still there"
        )
