"""A PostgreSQL connection whose tables exist: what every fleet table class shares.

Opening creates the tables (``CREATE ... IF NOT EXISTS``) under a transaction-level
advisory lock, so processes starting at once never race on the catalog; a failure
closes the connection again. Errors opening it are the store's one-line StoreError,
never the DSN's password.
"""

from __future__ import annotations

from typing import ClassVar, Self

from loom_scim_connector.store._pg_base import connect


class Tables:
    """Subclasses set ``SCHEMA`` (the DDL) and ``SCHEMA_LOCK`` (the advisory lock's name)."""

    SCHEMA: ClassVar[str]
    SCHEMA_LOCK: ClassVar[str]

    def __init__(self, dsn: str) -> None:
        self.where, self.db = connect(dsn)
        try:
            with self.db.transaction():
                self.db.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (self.SCHEMA_LOCK,)
                )
                self.db.execute(self.SCHEMA)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
