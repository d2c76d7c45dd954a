"""``loom-scim fleet health``: is this fleet able to work? For a supervisor's or a
Kubernetes probe: the database answers, the broker answers, and a worker answers a
Celery ping (a given ``--hostname``, else any worker on the broker). One line says
what is wrong; no URL (which may hold a password) is ever printed.
"""

from __future__ import annotations

from typing import Any

from loom_scim_connector.errors import LoomScimError
from loom_scim_connector.store._pg_base import connect


def health(database: str, app: Any, *, timeout: float, hostname: str | None) -> str | None:
    """``None`` when healthy, else one line naming what is not."""
    try:
        _, db = connect(database)
        try:
            db.execute("SELECT 1")
        finally:
            db.close()
    except LoomScimError as exc:
        return f"the database does not answer: {exc}"
    except Exception as exc:  # psycopg's own, after connecting
        return f"the database does not answer: {type(exc).__name__}"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # kombu's OperationalError and the like: never the URL
        return f"the broker does not answer: {type(exc).__name__}"
    destination = [hostname] if hostname else None
    replies = app.control.ping(destination=destination, timeout=timeout)
    if not replies:
        if hostname:
            return f"worker {hostname} did not answer a ping within {timeout:g} s"
        return f"no worker answered a ping within {timeout:g} s"
    return None
