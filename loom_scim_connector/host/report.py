"""What a sync run reports: counts a person or a monitor reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SyncStatus = Literal["success", "failed", "cancelled", "held"]


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

    @property
    def saved(self) -> int:
        return self.added + self.updated + self.unchanged
