"""What a sync run reports: counts a person or a monitor reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from loom_scim_connector._messages import shown as printable

Stage = Literal["listed", "lookup"]


def shown_store(store: str) -> str:
    """The store as a person (or an assistant) may see it: a URL's password replaced."""
    parts = urlsplit(store)
    if "://" not in store or "@" not in parts.netloc:
        return store
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    netloc = f"{user}:***@{hostport}" if has_password else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc))


SyncStatus = Literal["success", "failed", "cancelled", "held"]


@dataclass(frozen=True)
class Quarantined:
    """A record the server sent that could not be read: skipped, never deleted.
    ``id`` is ``None`` when the record had no usable id (missing, empty, not text);
    ``stage``: in the listing, or in the answer to a deletion candidate's lookup."""

    id: str | None
    reason: str
    stage: Stage = "listed"


@dataclass
class SyncReport:
    sync: str
    model: str
    run_id: int | None = None
    status: SyncStatus = "failed"
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    candidates: int = 0
    recovered: int = 0
    held: list[str] = field(default_factory=list)
    walks: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    released: int | None = None
    quarantined: list[Quarantined] = field(default_factory=list)

    def release_command(self, store: str) -> str:
        """The command that releases this held run, on the store it ran on."""
        return (
            f"loom-scim sync {self.sync} --store {shown_store(store)} --release-held {self.run_id}"
        )

    @property
    def saved(self) -> int:
        return self.added + self.updated + self.unchanged

    def quarantine_note(self, shown: int = 10) -> str | None:
        """One line naming the quarantined records (the first ``shown``) and why."""
        if not self.quarantined:
            return None
        listed = "; ".join(
            f"{printable(q.id) if q.id is not None else '(no usable id)'}: {printable(q.reason)}"
            for q in self.quarantined[:shown]
        )
        more = len(self.quarantined) - shown
        return (
            f"{len(self.quarantined)} {self.model} record"
            f"{'' if len(self.quarantined) == 1 else 's'} the server sent could not be read "
            f"and {'was' if len(self.quarantined) == 1 else 'were'} quarantined (skipped, "
            f"kept as stored, not deleted): {listed}" + (f"; and {more} more" if more > 0 else "")
        )
