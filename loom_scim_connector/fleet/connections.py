"""The fleet's connections, in PostgreSQL, with each API key encrypted at rest.

A connection is a Loom workspace the fleet serves: an ``id`` chosen by the operator
(``acme``, a tenant id...), the SCIM bridge URL, the API key, the key's expiry date,
the workspace's deprovisioning setting (``deactivate`` or ``delete``, as set in Loom)
and an optional schedule override (``every 30m``; without one the manifest's ``runs``
frequency applies). Every value goes through :class:`~loom_scim_connector.config.LoomConnection`
first, so the fleet refuses exactly what ``loom-scim check`` refuses.

The key at rest, and rotating the Fernet key: :mod:`._cipher`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from psycopg.rows import tuple_row

from loom_scim_connector._origins import Origins
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import ConfigError, LoomScimError

from ._cipher import ENV_FERNET_KEY, Cipher, FleetKeyError
from ._db import Tables

Deprovisioning = Literal["deactivate", "delete"]
DEPROVISIONING: tuple[Deprovisioning, ...] = ("deactivate", "delete")
TABLE = "loom_scim_fleet_connections"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id TEXT COLLATE "C" PRIMARY KEY,
    bridge_url TEXT NOT NULL,
    api_key_token BYTEA NOT NULL,
    api_key_expires_at DATE,
    deprovisioning TEXT NOT NULL,
    schedule TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_SCHEMA_LOCK = "loom_scim fleet schema"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_EVERY = re.compile(r"every\s+(\d+)\s*([smhd])", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConnectionNotFoundError(LoomScimError):
    """No connection with this id."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        super().__init__(f"no fleet connection {connection_id!r}")


class ConnectionExistsError(ConfigError):
    """A connection with this id already exists: bad input (exit 2), as a ConfigError."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        super().__init__(
            f"fleet connection {connection_id!r}",
            f"already exists; remove it first (loom-scim fleet remove {connection_id}) "
            "to replace it",
        )


def parse_every(text: str) -> int:
    """Seconds in a frequency such as ``every 1h`` or ``every 30m`` (the manifest's form)."""
    match = _EVERY.fullmatch(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError("must look like 'every 30m' (units s, m, h, d) and be positive")
    return int(match.group(1)) * _UNIT[match.group(2).lower()]


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as listed: everything but the key."""

    id: str
    bridge_url: str
    api_key_expires_at: date | None
    deprovisioning: Deprovisioning
    schedule: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bridgeUrl": self.bridge_url,
            "apiKeyExpiresAt": self.api_key_expires_at.isoformat()
            if self.api_key_expires_at
            else None,
            "deprovisioning": self.deprovisioning,
            "schedule": self.schedule,
        }


@dataclass(frozen=True)
class FleetConnection:
    """A connection with its decrypted key, inside the :class:`LoomConnection` (a
    ``SecretStr``: hidden in ``repr``)."""

    info: ConnectionInfo
    connection: LoomConnection

    @property
    def id(self) -> str:
        return self.info.id


def validate(
    connection_id: str,
    bridge_url: str,
    api_key: str,
    *,
    api_key_expires_at: date | str | None = None,
    deprovisioning: str = "deactivate",
    schedule: str | None = None,
) -> FleetConnection:
    """Check a connection's values before anything is stored; :class:`ConfigError` if bad."""
    if not _ID.fullmatch(connection_id):
        raise ConfigError(
            "id", "must be 1-128 letters, digits or '._:/-', starting with a letter or digit"
        )
    if deprovisioning not in DEPROVISIONING:
        raise ConfigError("deprovisioning", "must be 'deactivate' or 'delete'")
    if schedule is not None:
        try:
            parse_every(schedule)
        except ValueError as exc:
            raise ConfigError("schedule", str(exc)) from None
    loom = LoomConnection.create(bridge_url, api_key, api_key_expires_at)
    info = ConnectionInfo(
        id=connection_id,
        bridge_url=loom.base_url,
        api_key_expires_at=loom.api_key_expires_at,
        deprovisioning=deprovisioning,  # checked above
        schedule=" ".join(schedule.split()).lower() if schedule else None,
    )
    return FleetConnection(info, loom)


class ConnectionRegistry(Tables):
    """Add, list, get and remove the fleet's connections in PostgreSQL."""

    SCHEMA = _SCHEMA
    SCHEMA_LOCK = _SCHEMA_LOCK

    def __init__(self, dsn: str, cipher: Cipher | None = None) -> None:
        self.cipher = cipher or Cipher.from_env()
        super().__init__(dsn)

    def __repr__(self) -> str:
        return f"ConnectionRegistry({self.where})"

    def add(
        self,
        connection_id: str,
        bridge_url: str,
        api_key: str,
        *,
        api_key_expires_at: date | str | None = None,
        deprovisioning: str = "deactivate",
        schedule: str | None = None,
    ) -> ConnectionInfo:
        checked = validate(
            connection_id,
            bridge_url,
            api_key,
            api_key_expires_at=api_key_expires_at,
            deprovisioning=deprovisioning,
            schedule=schedule,
        )
        info = checked.info
        token = self.cipher.encrypt(checked.connection.api_key.get_secret_value())
        cur = self.db.execute(
            f"INSERT INTO {TABLE} (id, bridge_url, api_key_token, api_key_expires_at,"  # noqa: S608
            " deprovisioning, schedule) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            (
                info.id,
                info.bridge_url,
                token,
                info.api_key_expires_at,
                info.deprovisioning,
                info.schedule,
            ),
        )
        if cur.rowcount != 1:
            raise ConnectionExistsError(connection_id)
        return info

    def list(self, *, prefix: str = "") -> list[ConnectionInfo]:
        with self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                "SELECT id, bridge_url, api_key_expires_at, deprovisioning, schedule"  # noqa: S608
                f" FROM {TABLE} WHERE starts_with(id, %s) ORDER BY id",
                (prefix,),
            )
            return [_info(row) for row in cur.fetchall()]

    def get(self, connection_id: str) -> FleetConnection:
        with self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                "SELECT id, bridge_url, api_key_expires_at, deprovisioning, schedule,"  # noqa: S608
                f" api_key_token FROM {TABLE} WHERE id = %s",
                (connection_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise ConnectionNotFoundError(connection_id)
        info = _info(row)
        key = self.cipher.decrypt(bytes(row[5]), what=f"fleet connection {connection_id!r}")
        loom = LoomConnection.create(
            info.bridge_url, key, info.api_key_expires_at, Origins.of_fleet(connection_id)
        )
        return FleetConnection(info, loom)

    def remove(self, connection_id: str) -> None:
        cur = self.db.execute(f"DELETE FROM {TABLE} WHERE id = %s", (connection_id,))  # noqa: S608
        if cur.rowcount != 1:
            raise ConnectionNotFoundError(connection_id)

    def rotate_keys(self) -> int:
        """Re-encrypt every stored key with the newest Fernet key; return how many."""
        count = 0
        with self.db.transaction():
            rows = self.db.execute(
                f"SELECT id, api_key_token FROM {TABLE} ORDER BY id FOR UPDATE"  # noqa: S608
            ).fetchall()
            for connection_id, token in rows:
                new = self.cipher.rotate(bytes(token), what=f"fleet connection {connection_id!r}")
                self.db.execute(
                    f"UPDATE {TABLE} SET api_key_token = %s WHERE id = %s",  # noqa: S608
                    (new, connection_id),
                )
                count += 1
        return count


def _info(row: tuple[Any, ...]) -> ConnectionInfo:
    return ConnectionInfo(
        id=str(row[0]),
        bridge_url=str(row[1]),
        api_key_expires_at=row[2],
        deprovisioning=row[3],
        schedule=row[4],
    )


__all__ = [
    "DEPROVISIONING",
    "ENV_FERNET_KEY",
    "Cipher",
    "ConnectionExistsError",
    "ConnectionInfo",
    "ConnectionNotFoundError",
    "ConnectionRegistry",
    "FleetConnection",
    "FleetKeyError",
    "parse_every",
    "validate",
]
