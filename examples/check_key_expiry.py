"""Check the endpoint and how long the API key has left (Loom keys expire after a year).

    LOOM_SCIM_API_KEY_EXPIRES_AT=2027-03-31 .venv/bin/python examples/check_key_expiry.py

Exits 0 when the connection works and the key has more than 30 days left, 1 otherwise:
suitable for a daily cron job or a CI schedule that alerts before provisioning stops.
Uses the local sandbox unless LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
"""

from __future__ import annotations

import os
from datetime import date

from _common import connection, run

from loom_scim_connector import check_connection
from loom_scim_connector.config import EXPIRY_WARNING_DAYS


async def main() -> int:
    with connection() as conn:
        expires = os.environ.get("LOOM_SCIM_API_KEY_EXPIRES_AT")
        if expires and conn.api_key_expires_at is None:
            conn = conn.model_copy(update={"api_key_expires_at": date.fromisoformat(expires)})
        report = await check_connection(conn)
    print(f"endpoint: {report.base_url} -> {'OK' if report.ok else 'FAILED'}")
    if report.users is not None:
        print(f"users: {report.users}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.problem:
        print(f"problem: {report.problem}")
    days = report.key_days_left
    return 0 if report.ok and (days is None or days > EXPIRY_WARNING_DAYS) else 1


if __name__ == "__main__":
    run(main())
