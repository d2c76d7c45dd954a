"""The read tools' inputs and outputs: their JSON Schemas are the tools' schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PAGE_MAX = 100
Cursor = Annotated[int, Field(ge=0, description="where the page starts: a nextCursor")]
Limit = Annotated[int, Field(ge=1, le=PAGE_MAX, description=f"at most this many (1..{PAGE_MAX})")]
Path = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="a file under the server's --roster-dir (a relative path: from there)",
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FindMembersInput(_In):
    """Members in the store (run sync-users first for a fresh view), filtered, a page."""

    email: str | None = Field(None, description="this address, by the identity rule")
    role: str | None = Field(None, description="loomMemberRole: default, creator, viewer, admin")
    active: bool | None = None
    managed: bool | None = Field(
        None, description="true: created by the IdP (externalId); false: domain capture"
    )
    updated_since: datetime | None = Field(
        None, alias="updatedSince", description="changed in Loom at or after (meta.lastModified)"
    )
    include_deleted: bool = Field(False, alias="includeDeleted")
    cursor: Cursor = 0
    limit: Limit = 25


class MemberInput(_In):
    """One member by SCIM id or by email (every account that carries it)."""

    id: str | None = Field(None, min_length=1, max_length=256)
    email: str | None = Field(None, min_length=3, max_length=320)


class NoInput(_In):
    pass


class RosterInput(_In):
    """Reconcile the store's members with a roster export (Okta, Entra ID, Google, CSV,
    JSON or JSON lines) on the server's machine; reads only, changes nothing."""

    roster: Path
    map: str | None = Field(None, description="name the columns: email=COLUMN,status=COLUMN")
    role_map: Path | None = Field(None, alias="roleMap")
    category: Literal["orphaned", "unmanaged", "role_drift", "missing", "duplicates"] | None = (
        Field(None, description="only this category's findings")
    )
    cursor: Cursor = 0
    limit: Limit = 25


class ReviewInput(_In):
    roster: Path | None = None
    map: str | None = None


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MembersPage(_Out):
    members: list[dict[str, Any]]
    total: int = Field(description="members that match, over every page")
    next_cursor: int | None = Field(serialization_alias="nextCursor")


class MemberRecord(_Out):
    members: list[dict[str, Any]] = Field(description="every stored account that matches")
    evidence: list[dict[str, Any]] = Field(description="its offboarding evidence, newest first")


class KeyExpiry(_Out):
    expires_at: str | None = Field(serialization_alias="expiresAt")
    days_left: int | None = Field(serialization_alias="daysLeft")
    status: Literal["ok", "expiring", "expired", "unknown"]


class Findings(_Out):
    counts: dict[str, int]
    findings: list[dict[str, Any]] = Field(description="a page, each with its category")
    total: int
    next_cursor: int | None = Field(serialization_alias="nextCursor")
    truncated: str | None = Field(
        description="why the roster looks truncated or wrong (an apply would be refused)"
    )
    roster: str


class ReviewSummary(_Out):
    generated_at: str = Field(serialization_alias="generatedAt")
    key_status: str = Field(serialization_alias="keyStatus")
    key_days_left: int | None = Field(serialization_alias="keyDaysLeft")
    members: int
    active: int
    unmanaged_active: int = Field(serialization_alias="unmanagedActive")
    by_role: dict[str, dict[str, int]] = Field(serialization_alias="byRole")
    at_risk: list[dict[str, Any]] = Field(
        serialization_alias="atRisk", description="the first 25 members at risk"
    )
    at_risk_total: int = Field(serialization_alias="atRiskTotal")
    evidence_records: int = Field(serialization_alias="evidenceRecords")
    roster: str | None
    roster_counts: dict[str, int] = Field(serialization_alias="rosterCounts")
