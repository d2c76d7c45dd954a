"""The fleet's schedule in PostgreSQL: what a dispatch (Celery beat's one periodic
task) queues, and when, from the manifest's ``runs`` or a connection's override."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from .pg_server import postgres_url, require_psycopg

require_psycopg()
pytest.importorskip("cryptography", reason="needs the fleet extra (cryptography)")

import psycopg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.fleet.connections import TABLE as CONNECTIONS  # noqa: E402
from loom_scim_connector.fleet.connections import Cipher, ConnectionRegistry  # noqa: E402
from loom_scim_connector.fleet.schedule import TABLE, Dispatcher, frequencies  # noqa: E402
from loom_scim_connector.manifest import load_manifest  # noqa: E402

URL = "https://scim.example.com/scim/v2"
EVERY = {"users": 3600, "groups": 3600}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, connection_id: str, sync: str) -> str:
        self.calls.append((connection_id, sync))
        return f"task-{len(self.calls)}"


@pytest.fixture
def prefix() -> Iterator[str]:
    mine = f"test-{uuid.uuid4().hex[:12]}-"
    yield mine
    with psycopg.connect(postgres_url(), autocommit=True) as db:
        db.execute(f"DELETE FROM {CONNECTIONS} WHERE starts_with(id, %s)", (mine,))  # noqa: S608
        db.execute(f"DELETE FROM {TABLE} WHERE starts_with(connection_id, %s)", (mine,))  # noqa: S608


@pytest.fixture
def registry() -> Iterator[ConnectionRegistry]:
    with ConnectionRegistry(postgres_url(), Cipher(Fernet.generate_key().decode())) as reg:
        yield reg


def test_the_manifest_runs_every_hour() -> None:
    assert frequencies(load_manifest()) == EVERY


def test_syncs_are_queued_when_due(registry: ConnectionRegistry, prefix: str) -> None:
    clock, sent = Clock(), Sent()
    registry.add(prefix + "acme", URL, "key-a")
    registry.add(prefix + "globex", URL, "key-b", schedule="every 15m")
    with Dispatcher(postgres_url(), clock=clock) as dispatcher:
        # New connections are due at once.
        queued = dispatcher.dispatch(EVERY, sent, prefix=prefix)
        assert sorted(sent.calls) == [
            (prefix + "acme", "groups"),
            (prefix + "acme", "users"),
            (prefix + "globex", "groups"),
            (prefix + "globex", "users"),
        ]
        assert {task for _, _, task in queued} == {"task-1", "task-2", "task-3", "task-4"}
        assert dispatcher.dispatch(EVERY, sent, prefix=prefix) == []
        assert dispatcher.next_runs(prefix + "globex") == {
            "users": clock.now + 900,
            "groups": clock.now + 900,
        }

        clock.now += 900  # the override is due, the manifest's hour is not
        sent.calls.clear()
        dispatcher.dispatch(EVERY, sent, prefix=prefix)
        assert sorted(sent.calls) == [(prefix + "globex", "groups"), (prefix + "globex", "users")]

        clock.now += 2700
        sent.calls.clear()
        registry.remove(prefix + "globex")  # a removed connection is no longer scheduled
        dispatcher.dispatch(EVERY, sent, prefix=prefix)
        assert sorted(sent.calls) == [(prefix + "acme", "groups"), (prefix + "acme", "users")]
        assert dispatcher.next_runs(prefix + "globex") == {}


def test_a_failed_send_leaves_the_sync_due(registry: ConnectionRegistry, prefix: str) -> None:
    registry.add(prefix + "acme", URL, "key-a")

    def broken(connection_id: str, sync: str) -> str:
        raise ConnectionError("broker down")

    with Dispatcher(postgres_url(), clock=Clock()) as dispatcher:
        with pytest.raises(ConnectionError):
            dispatcher.dispatch({"users": 3600}, broken, prefix=prefix)
        sent = Sent()
        dispatcher.dispatch({"users": 3600}, sent, prefix=prefix)
        assert sent.calls == [(prefix + "acme", "users")]


def test_two_dispatches_at_once_queue_each_sync_once(
    registry: ConnectionRegistry, prefix: str
) -> None:
    for n in range(20):
        registry.add(f"{prefix}c{n:02d}", URL, "key")
    clock, sent, lock = Clock(), Sent(), threading.Lock()
    with Dispatcher(postgres_url(), clock=clock) as first:
        first.dispatch({}, sent, prefix=prefix)  # creates nothing: no syncs

    def send(connection_id: str, sync: str) -> str:
        with lock:
            return sent(connection_id, sync)

    def run() -> None:
        with Dispatcher(postgres_url(), clock=clock) as dispatcher:
            dispatcher.dispatch(EVERY, send, prefix=prefix)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent.calls) == 40 and len(set(sent.calls)) == 40


def test_a_sync_whose_message_was_lost_is_queued_again(prefix: str) -> None:
    """Redis's transport can lose a message popped by a worker killed at once: a sync
    queued long enough ago with no run begun since is queued again, once per period."""
    from loom_scim_connector.fleet.settings import store_key
    from loom_scim_connector.store.postgres import PostgresStore

    cid, clock, sent = prefix + "lost", Clock(), Sent()
    start = clock.now = time.time() - 600
    store = PostgresStore(postgres_url(), store_key(cid))
    with Dispatcher(postgres_url(), clock=clock) as dispatcher:
        dispatcher.record_queued(cid, "users", "task-0", 3600, at=start)  # what sync-now does
        assert dispatcher.next_runs(cid) == {"users": start + 3600}
        clock.now = start + 30
        assert dispatcher.requeue_lost(sent, lost_after=60, prefix=prefix) == []
        clock.now = start + 120
        again = dispatcher.requeue_lost(sent, lost_after=60, prefix=prefix)
        assert again == [(cid, "users", "task-1")]
        assert dispatcher.requeue_lost(sent, lost_after=60, prefix=prefix) == []
        # A run begins (now, well after it was queued again): the message was not lost.
        try:
            run = store.begin_run("users", "User", lease=30)
            store.finish_run(run, "success")
        finally:
            store.close()
        clock.now = start + 300
        assert dispatcher.requeue_lost(sent, lost_after=60, prefix=prefix) == []
        assert dispatcher.next_runs(cid) == {"users": start + 3600}  # the schedule unmoved
    assert sent.calls == [(cid, "users")]
    with psycopg.connect(postgres_url(), autocommit=True) as db:
        for table in ("runs", "locks", "checkpoints"):
            db.execute(f"DELETE FROM loom_scim_{table} WHERE connection = %s", (store_key(cid),))  # noqa: S608
