"""The fleet's Celery tasks: ``loom_scim.sync``, ``loom_scim.action`` and the beat's
``loom_scim.dispatch``. What each does is in :mod:`.work`; here, how Celery runs it.

Both carry the **connection id only** (never a key). Outcomes a sync task handles
explicitly:

* ``success``: returns the report's counts;
* ``held`` (too many records unseen, nothing deleted): returns ``status: held`` with the
  run id and the number kept back, and logs a warning; it is not retried, as a person
  must review it (``loom-scim fleet release-held ID users RUN_ID``);
* busy (:class:`~loom_scim_connector.store.SyncBusyError`: another run of this
  connection and model holds the lease, or every slot for large syncs is taken):
  retried with a ``countdown`` (``LOOM_SCIM_FLEET_BUSY_RETRY_SECONDS``, 30 s by
  default), never run concurrently;
* delivered again after it succeeded (its ack lost with the broker connection): its
  stored result is returned, it is not run twice;
* any other error fails the task; a sync that fails deletes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from loom_scim_connector.store import SyncBusyError
from loom_scim_connector.store.postgres import PostgresStore

from . import settings
from .fairness import LargeSyncsBusy
from .ledger import ActionBusyError
from .schedule import Dispatcher, frequencies
from .settings import store_key
from .work import manifest, run_action, run_sync

SYNC_TASK = "loom_scim.sync"
ACTION_TASK = "loom_scim.action"
DISPATCH_TASK = "loom_scim.dispatch"
log = logging.getLogger("loom_scim_connector.fleet")


def _done_already(task: Any) -> dict[str, Any] | None:
    """This message's earlier delivery's result, when it succeeded: a sync that ran to
    its end but whose ack was lost (the broker dropped the connection) is delivered
    again, and must not run a second time. A retry (busy) reuses the task id but never
    stored a success. The result backend away: ``None``, the sync runs (at least once)."""
    try:
        meta = task.backend.get_task_meta(task.request.id)
    except Exception as exc:  # Redis away: run it rather than lose it
        log.debug("task %s: result not read: %s", task.request.id, type(exc).__name__)
        return None
    result = meta.get("result")
    return result if meta.get("status") == "SUCCESS" and isinstance(result, dict) else None


def register(app: Any) -> tuple[Any, Any, Any]:
    """Register the tasks on a Celery app; return them (sync, action, dispatch)."""

    def sync(task: Any, connection_id: str, model: str) -> dict[str, Any]:
        done = _done_already(task)
        if done is not None:
            log.info(
                "%s: %s sync %s already succeeded: its message came again (its ack was "
                "lost with the broker connection), not run twice",
                connection_id,
                model,
                task.request.id,
            )
            return done
        try:
            return run_sync(connection_id, model)
        except SyncBusyError as busy:
            countdown = settings.busy_retry_seconds()
            log.info(
                "%s: %s sync busy (run %s by %s): retrying in %.0f s",
                connection_id,
                model,
                busy.run_id,
                busy.owner,
                countdown,
            )
            raise task.retry(
                exc=busy, countdown=countdown, max_retries=settings.BUSY_MAX_RETRIES
            ) from None
        except LargeSyncsBusy as large:
            log.info("%s; retrying in %.0f s", large, settings.busy_retry_seconds())
            raise task.retry(
                exc=large,
                countdown=settings.busy_retry_seconds(),
                max_retries=settings.BUSY_MAX_RETRIES,
            ) from None

    def action(
        task: Any, connection_id: str, name: str, input: Any, idempotency_key: str
    ) -> dict[str, Any]:
        try:
            return run_action(connection_id, name, input, idempotency_key)
        except ActionBusyError as busy:
            raise task.retry(
                exc=busy,
                countdown=settings.busy_retry_seconds(),
                max_retries=settings.BUSY_MAX_RETRIES,
            ) from None

    # shared=False: the tasks belong to this app only, not to every app made later.
    common = {"bind": True, "shared": False, "acks_late": True, "reject_on_worker_lost": True}
    sync_task = app.task(
        name=SYNC_TASK,
        time_limit=settings.sync_time_limit(),
        soft_time_limit=settings.sync_soft_time_limit(),
        **common,
    )(sync)
    action_task = app.task(
        name=ACTION_TASK,
        time_limit=settings.action_time_limits()[0],
        soft_time_limit=settings.action_time_limits()[1],
        **common,
    )(action)

    def dispatch(task: Any) -> int:
        """Queue the syncs that are due, and again those whose message was lost (Celery
        beat runs this periodically)."""
        dsn = settings.database_url()

        def send(cid: str, name: str) -> str:
            return str(sync_task.apply_async(args=[cid, name]).id)

        PostgresStore(dsn, store_key("")).close()  # the runs table, for the sweep
        with Dispatcher(dsn) as dispatcher:
            queued = dispatcher.dispatch(frequencies(manifest()), send)
            lost = dispatcher.requeue_lost(send, lost_after=settings.lost_after())
        log.info("dispatch: %d syncs queued", len(queued))
        for cid, name, task_id in lost:
            log.warning(
                "%s: %s sync queued again (task %s): no run began since it was last queued, "
                "its message was lost",
                cid,
                name,
                task_id,
            )
        return len(queued) + len(lost)

    dispatch_task = app.task(
        name=DISPATCH_TASK,
        time_limit=settings.DISPATCH_TIME_LIMIT,
        # Lost with its worker? The next tick dispatches again: no need to redeliver.
        ignore_result=True,
        **{**common, "acks_late": False, "reject_on_worker_lost": False},
    )(dispatch)
    return sync_task, action_task, dispatch_task
