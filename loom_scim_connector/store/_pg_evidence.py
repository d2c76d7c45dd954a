"""The PostgreSQL store's evidence: appended to its connection's hash chain under an
advisory lock per connection, so two writers (two hosts) never fork the chain."""

from __future__ import annotations

import json
from typing import Any

from . import _evidence
from ._pg_base import Cursor, exec_on
from ._pg_records import PgRecords
from .base import Evidence

_TABLE = _evidence.POSTGRES_TABLE


class PgEvidence(PgRecords):
    def record_evidence(self, item: Evidence) -> int:
        def write(cur: Cursor) -> int:
            # Held to the end of the transaction: the next appender of this connection
            # reads the last hash only once this record is committed.
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                ("loom_scim evidence " + json.dumps(self.key),),
            )
            return _evidence.append(exec_on(cur), _TABLE, "%s", self.key, item)

        return self._atomic(write)

    def evidence(
        self, *, email: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Evidence]:
        def read(cur: Cursor) -> list[Evidence]:
            return _evidence.select(
                exec_on(cur), _TABLE, "%s", self.key, email=email, user_id=user_id, limit=limit
            )

        return self._atomic(read)

    def evidence_chain(self, *, every_connection: bool = False) -> list[dict[str, Any]]:
        key = None if every_connection else self.key
        return self._atomic(lambda cur: _evidence.chain(exec_on(cur), _TABLE, "%s", key))
