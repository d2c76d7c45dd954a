"""What the fleet's tasks do, without Celery: one sync, one release of a held run, one
action, for a connection id.

Each reads the connection from PostgreSQL (``LOOM_SCIM_FLEET_DATABASE_URL``) and decrypts
its key in memory, so the key is never in a broker message, a result or a log line, and
runs the reference :class:`~loom_scim_connector.host.LocalHost` with a
:class:`~loom_scim_connector.store.postgres.PostgresStore` keyed ``fleet:<connection id>``:
the same single flight, deletion guard and held runs as a local sync. Every request goes
through the workspace's politeness semaphore (:mod:`.politeness`): at most
``LOOM_SCIM_FLEET_MAX_IN_FLIGHT`` (4) in flight per connection, fleet-wide. An action
records its idempotency key first (:mod:`.ledger`). :mod:`.tasks` wraps these as Celery
tasks, with their retries.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import asdict
from typing import Any

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.host import LocalHost, SyncReport
from loom_scim_connector.manifest import Manifest, load_manifest
from loom_scim_connector.store import SyncBusyError
from loom_scim_connector.store.postgres import PostgresStore

from . import settings
from .connections import ConnectionNotFoundError, ConnectionRegistry, FleetConnection
from .errors import ErrorLog
from .fairness import LargeSyncsBusy, run_fairly
from .ledger import ActionFailedError, ActionLedger
from .politeness import PoliteTransport
from .settings import store_key

log = logging.getLogger("loom_scim_connector.fleet")


@functools.cache
def manifest() -> Manifest:
    """The manifest, loaded once per worker process."""
    return load_manifest()


def _load(connection_id: str, dsn: str) -> FleetConnection:
    with ConnectionRegistry(dsn) as registry:
        return registry.get(connection_id)


def _host(fleet: FleetConnection, dsn: str) -> LocalHost:
    redis_url, limit = settings.redis_url(), settings.max_in_flight()
    store = PostgresStore(dsn, store_key(fleet.id))

    def client(connection: LoomConnection) -> LoomScimClient:
        # Every request of this workspace, from any worker, goes through its semaphore.
        polite = PoliteTransport(redis_url, fleet.id, limit=limit)
        return LoomScimClient(connection, transport=polite)

    return LocalHost(
        fleet.connection,
        store=store,
        manifest=manifest(),
        client_factory=client,
        logger=log.getChild(f"host.{fleet.id}"),
    )


def run_sync(connection_id: str, model: str, *, dsn: str | None = None) -> dict[str, Any]:
    """Run one sync of one connection; raises :class:`SyncBusyError` when busy.

    A failure is recorded by class in :mod:`.errors` (for ``fleet status``), then raised;
    a sync that ends without one clears it."""
    dsn = dsn or settings.database_url()
    try:
        result = _run_sync(connection_id, model, dsn)
    except (SyncBusyError, LargeSyncsBusy, ConnectionNotFoundError):
        raise  # not a failure of this connection's sync
    except Exception as exc:
        _note_error(dsn, connection_id, model, exc)
        raise
    _note_error(dsn, connection_id, model, None)
    return result


def _note_error(dsn: str, connection_id: str, model: str, exc: Exception | None) -> None:
    try:
        with ErrorLog(dsn) as errors:
            if exc is None:
                errors.clear(connection_id, model)
            else:
                errors.record(connection_id, model, exc)
    except Exception as failed:  # the database itself: the task's own error says more
        log.debug("%s: %s sync: last error not recorded: %s", connection_id, model, failed)


def _run_sync(connection_id: str, model: str, dsn: str) -> dict[str, Any]:
    fleet = _load(connection_id, dsn)
    host = _host(fleet, dsn)
    try:
        members = host.store.live_count(host.manifest.sync(model).spec.output)
        report = asyncio.run(run_fairly(host.run_sync(model), connection_id, members))
    finally:
        host.close()
    result = _report(connection_id, report)
    if report.status == "held":
        log.warning(
            "%s: %s sync held (run %s): %d records not seen, none deleted; review them, "
            "then release the run",
            connection_id,
            model,
            report.run_id,
            len(report.held),
        )
    else:
        log.info(
            "%s: %s sync %s: %d saved, %d deleted",
            connection_id,
            model,
            report.status,
            report.saved,
            report.deleted,
        )
    return result


def release_held(
    connection_id: str,
    sync: str,
    run_id: int,
    *,
    dsn: str | None = None,
    without_controls: bool = False,
) -> dict[str, Any]:
    """Confirm and apply the deletions a held run kept back (after a person's review),
    between control lookups unless ``without_controls`` (see ``loom-scim sync --help``)."""
    dsn = dsn or settings.database_url()
    host = _host(_load(connection_id, dsn), dsn)
    try:
        report = asyncio.run(host.release_held(sync, run_id, without_controls=without_controls))
    finally:
        host.close()
    return _report(connection_id, report)


def _report(connection_id: str, report: SyncReport) -> dict[str, Any]:
    data = asdict(report)
    data["held"] = len(report.held)
    data["saved"] = report.saved
    data["connectionId"] = connection_id
    return data


def run_action(
    connection_id: str,
    name: str,
    raw_input: Any,
    idempotency_key: str,
    *,
    dsn: str | None = None,
) -> dict[str, Any]:
    """Run an action once per idempotency key; a repeat returns the first output."""
    dsn = dsn or settings.database_url()
    base = {"connectionId": connection_id, "action": name, "idempotencyKey": idempotency_key}
    # Read the connection first: a missing connection, Fernet key or database is not an
    # outcome of the action, and must not be recorded against its idempotency key.
    host = _host(_load(connection_id, dsn), dsn)
    try:
        with ActionLedger(dsn) as ledger:
            claim = ledger.claim(
                connection_id, idempotency_key, name, raw_input, lease=settings.ACTION_LEASE
            )
            if claim.state == "done":
                log.info(
                    "%s: %s %r already done: first output returned",
                    connection_id,
                    name,
                    idempotency_key,
                )
                return {**base, "output": claim.output, "replayed": True}
            if claim.state == "failed":
                raise ActionFailedError(f"{name} failed on its first delivery: {claim.error}")
            try:
                output = asyncio.run(host.run_action(name, raw_input))
                dumped: dict[str, Any] = output.model_dump(mode="json", by_alias=True)
            except Exception as exc:
                ledger.finish(connection_id, idempotency_key, error=exc)
                raise
            except BaseException:
                # Killed or stopped (a time limit, a shutdown): the next delivery runs it.
                ledger.release(connection_id, idempotency_key)
                raise
            ledger.finish(connection_id, idempotency_key, output=dumped)
    finally:
        host.close()
    return {**base, "output": dumped, "replayed": False}
