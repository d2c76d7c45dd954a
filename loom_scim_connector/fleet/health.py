"""``loom-scim fleet health``: is this fleet able to work? For a supervisor's or a
Kubernetes probe: the database answers, the broker answers, and a worker consuming
this fleet's queue answers (a given ``--hostname``, else any such worker). Not a bare
Celery ping: every worker on the broker's vhost answers that, whatever queue it
consumes, so another fleet's worker would answer for this one's dead workers. One
line says what is wrong; no URL (which may hold a password) is ever printed.
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
    queue = app.conf.task_default_queue
    inspect = app.control.inspect(destination=destination, timeout=timeout)
    replies: dict[str, Any] = inspect.active_queues() or {}
    if not replies:
        if hostname:
            return f"worker {hostname} did not answer a ping within {timeout:g} s"
        return f"no worker answered a ping within {timeout:g} s"
    if not any(queue in _names(queues) for queues in replies.values()):
        if hostname:
            return f"worker {hostname} answered but does not consume the queue {queue}"
        return f"workers answered, but none consumes the queue {queue}"
    return None


def _names(queues: Any) -> set[str]:
    return {str(q.get("name")) for q in queues or [] if isinstance(q, dict)}
