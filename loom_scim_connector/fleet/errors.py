"""The last error of each connection's syncs, by class: what ``fleet status`` shows a
monitor besides the message.

The runs table keeps each failed run's message; a monitor wants to branch on the kind
of failure (a refused key needs a person, a 429 or a 5xx only time). A sync task that
fails records here the error's class (``AuthenticationError``) and its kind (``auth``),
including failures before any run began (a key the Fernet key cannot read); a sync
that succeeds clears it. A connection removed is forgotten here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from loom_scim_connector.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    IncompleteSyncError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    TransportError,
    WrongUrlError,
)
from loom_scim_connector.store import LeaseLostError, StoreError, WorkspaceMismatchError

from ._db import Tables

TABLE = "loom_scim_fleet_errors"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    connection_id TEXT NOT NULL,
    sync TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    error_class TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (connection_id, sync)
)
"""
# The first match wins: subclasses before their bases.
KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (AuthenticationError, "auth"),
    (PermissionDeniedError, "auth"),
    (RateLimitedError, "rate-limited"),
    (ServerError, "server"),
    (TransportError, "network"),
    (WrongUrlError, "wrong-url"),
    (NotFoundError, "not-found"),
    (NotSupportedError, "not-supported"),
    (ConflictError, "conflict"),
    (InvalidRequestError, "invalid-request"),
    (ProtocolError, "protocol"),
    (IncompleteSyncError, "incomplete"),
    (LeaseLostError, "lease-lost"),
    (WorkspaceMismatchError, "other-workspace"),
    (StoreError, "store"),
    (ConfigError, "config"),
)
MESSAGE_LIMIT = 500


def error_kind(exc: BaseException) -> str:
    """A short, stable name for the kind of failure: ``auth``, ``rate-limited``, ..."""
    for cls, kind in KINDS:
        if isinstance(exc, cls):
            return kind
    return "other"


@dataclass(frozen=True)
class LastError:
    connection_id: str
    sync: str
    at: datetime
    error_class: str
    kind: str
    message: str


class ErrorLog(Tables):
    SCHEMA: ClassVar[str] = _SCHEMA
    SCHEMA_LOCK: ClassVar[str] = "loom_scim fleet errors schema"

    def record(self, connection_id: str, sync: str, exc: BaseException) -> None:
        message = " ".join((str(exc) or type(exc).__name__).split())[:MESSAGE_LIMIT]
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO {TABLE} (connection_id, sync, error_class, kind, message)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (connection_id, sync) DO UPDATE"
                " SET at = now(), error_class = EXCLUDED.error_class,"
                " kind = EXCLUDED.kind, message = EXCLUDED.message",
                (connection_id, sync, type(exc).__name__, error_kind(exc), message),
            )

    def clear(self, connection_id: str, sync: str | None = None) -> None:
        """After a success (of one sync), or when the connection is removed (all)."""
        with self.db.transaction():
            if sync is None:
                self.db.execute(
                    f"DELETE FROM {TABLE} WHERE connection_id = %s",  # noqa: S608
                    (connection_id,),
                )
            else:
                self.db.execute(
                    f"DELETE FROM {TABLE} WHERE connection_id = %s AND sync = %s",  # noqa: S608
                    (connection_id, sync),
                )

    def last(self, connection_ids: list[str]) -> dict[tuple[str, str], LastError]:
        with self.db.transaction():
            rows = self.db.execute(
                f"SELECT connection_id, sync, at, error_class, kind, message FROM {TABLE}"  # noqa: S608
                " WHERE connection_id = ANY(%s)",
                (connection_ids,),
            ).fetchall()
        return {(r[0], r[1]): LastError(*r) for r in rows}
