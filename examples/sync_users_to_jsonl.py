"""Sync every Loom user to a JSON-lines file, the way a host would.

    .venv/bin/python examples/sync_users_to_jsonl.py users.jsonl

Uses the local sandbox unless LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import connection, run

from loom_scim_connector.host import LocalHost


async def main(target: Path) -> None:
    orphans = 0
    with connection() as conn, target.open("w") as out, tempfile.TemporaryDirectory() as tmp:

        def write(model: str, action: str, record: dict[str, Any]) -> None:
            nonlocal orphans
            # Each line is one record; deleted ones carry their last known state.
            out.write(json.dumps({**record, "_action": action}) + "\n")
            orphans += record.get("externalId") is None

        # The SQLite store remembers earlier runs: that is what deletion tracking compares
        # against. Keep it somewhere durable in real use (here a temporary directory).
        host = LocalHost(conn, store=Path(tmp) / "store.sqlite3", on_record=write)
        try:
            report = await host.run_sync("users")
        finally:
            host.close()
    print(
        f"{report.saved} users written to {target} in {report.pages} pages; "
        f"{orphans} have no externalId (joined outside the identity provider)"
    )


if __name__ == "__main__":
    run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "users.jsonl")))
