"""Hostile review of the fleet on RabbitMQ (issue 23): real Celery workers in
subprocesses, the real RabbitMQ, Redis and PostgreSQL, each attack a test that failed
before its fix. Queues and connection ids are this module's own (the ``rabbit``
fixture of :mod:`.test_fleet_rabbitmq`), removed afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .pg_server import require_psycopg
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

import psycopg  # noqa: E402
import redis  # noqa: E402

from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.app import make_app  # noqa: E402
from loom_scim_connector.fleet.fairness import LargeSyncsBusy, run_fairly  # noqa: E402
from loom_scim_connector.fleet.health import health  # noqa: E402
from loom_scim_connector.fleet.settings import store_key  # noqa: E402

from .test_fleet import WAIT, Fleet, start_worker  # noqa: E402
from .test_fleet_rabbitmq import _delete_queues, rabbit  # noqa: E402, F401


def test_health_is_not_fooled_by_a_worker_of_another_queue(
    rabbit: Fleet,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Celery's ping goes to every worker on the broker (one control exchange per
    vhost), whatever queue it consumes: a worker of another fleet, or another queue,
    answered for this fleet's dead workers, so ``fleet health`` said ready while no
    worker would ever take this queue's syncs."""
    env = {settings.ENV_REDIS: redis_url()}
    with start_worker(rabbit, tmp_path / "worker.log", rabbit.queue, "--pool=solo", env=env):
        monkeypatch.setenv(settings.ENV_REDIS, redis_url())
        # This fleet's own worker answers: ready.
        assert health(rabbit.pg, rabbit.app, timeout=5, hostname=None) is None
        orphan = f"{rabbit.queue}-orphan"
        try:
            other = make_app(rabbit.broker, queue=orphan)
            problem = health(rabbit.pg, other, timeout=2, hostname=None)
        finally:
            _delete_queues(rabbit.broker, orphan)
        assert problem is not None, "ready, with no worker consuming the queue"
        assert orphan in problem


def _close_amqp_connections_of(pid: int) -> int:
    """Close, from RabbitMQ's side, every AMQP connection of process ``pid`` (found by
    its local ports): the broker drops the worker, as a network cut or a broker-side
    ``close_connection`` would. Returns how many were closed."""
    ports = set()
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", "dport", "= :5672"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if f"pid={pid}," in line:
            ports.add(line.split()[2].rpartition(":")[2])
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "peer_port"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    closed = 0
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] in ports:
            subprocess.run(  # noqa: S603
                ["rabbitmqctl", "-q", "close_connection", fields[0], "hostile test"],  # noqa: S607
                capture_output=True,
                check=True,
            )
            closed += 1
    return closed


def _runs(pg: str, connection_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg) as db:
        return db.execute(
            "SELECT run_id, owner, started_at, finished_at, status FROM loom_scim_runs"
            " WHERE connection = %s ORDER BY run_id",
            (store_key(connection_id),),
        ).fetchall()


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl")
def test_a_sync_survives_the_broker_dropping_its_worker(
    rabbit: Fleet,  # noqa: F811
    tmp_path: Path,
) -> None:
    """RabbitMQ closes the worker's connection mid-sync: its unacknowledged message goes
    back to the queue at once. The sync must still end in one success, never two runs
    at once, and nothing deleted. Before the fix the sync ran to its end, its ack failed
    on the closed connection ("Couldn't ack"), and the redelivered message ran the same
    sync a second time: one queued sync, two runs."""
    queue = f"{rabbit.queue}-dropped"
    sandbox = rabbit.sandboxes["acme"]
    env = {settings.ENV_REDIS: redis_url(), settings.ENV_BUSY_RETRY: "2"}
    cid = rabbit.cid("acme")
    before_runs = len(_runs(rabbit.pg, cid))
    try:
        with start_worker(
            rabbit, tmp_path / "w.log", queue, "--pool=prefork", "--concurrency=1", env=env
        ) as worker:
            sandbox.settings.latency = 8.0
            try:
                result = rabbit.sync("acme", queue=queue)
                deadline = time.monotonic() + WAIT
                while len(_runs(rabbit.pg, cid)) == before_runs:  # the sync is under way
                    assert time.monotonic() < deadline, worker.text()[-3000:]
                    time.sleep(0.05)
                assert _close_amqp_connections_of(worker.process.pid) >= 1
            finally:
                sandbox.settings.latency = 0.0
            report = result.get(timeout=60)
            assert report["status"] == "success", report
            assert report["deleted"] == 0
            time.sleep(8)  # a duplicate delivery, if any, runs now
            runs = _runs(rabbit.pg, cid)[before_runs:]
            log = worker.text()
    finally:
        _delete_queues(rabbit.broker, queue)
    assert [r[4] for r in runs].count("running") == 0, runs
    for a, b in itertools.pairwise(runs):  # never two at once
        assert a[3] is not None and a[3] <= b[2], runs
    assert "Couldn't ack" in log  # the drop did land mid-sync
    assert len([r for r in runs if r[4] == "success"]) == 1, (runs, log[-4000:])


def test_a_stalled_large_sync_keeps_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large sync's slot was renewed by a task on the sync's own event loop, which the
    store's blocking calls stall: stalled past its lease, the slot lapsed while the sync
    ran on, and a third large sync started with the limit at two."""
    monkeypatch.setenv(settings.ENV_LARGE_MEMBERS, "1")
    url, key = redis_url(), f"loom_scim:large-syncs:hostile-{uuid.uuid4().hex[:8]}"
    running: set[str] = set()
    peak = 0

    async def work(name: str, stall: bool) -> None:
        nonlocal peak
        running.add(name)
        peak = max(peak, len(running))
        if stall:
            time.sleep(1.0)  # noqa: ASYNC251 (the point: a blocking call stalls this loop)
        await asyncio.sleep(1.0)
        running.discard(name)

    async def one(name: str, stall: bool, delay: float) -> str:
        await asyncio.sleep(delay)
        try:
            await run_fairly(work(name, stall), name, 10, redis_url=url, key=key, lease=0.3)
        except LargeSyncsBusy:
            return "busy"
        return "ran"

    stalled: list[str] = []
    thread = threading.Thread(target=lambda: stalled.append(asyncio.run(one("a", True, 0))))
    try:
        thread.start()

        async def others() -> list[str]:
            return list(await asyncio.gather(one("b", False, 0.05), one("c", False, 0.6)))

        outcomes = asyncio.run(others())
        thread.join()
    finally:
        redis.Redis.from_url(url).delete(key)
    assert stalled == ["ran"]
    assert peak <= 2, f"{peak} large syncs at once, limit 2 ({outcomes})"
    assert outcomes == ["ran", "busy"]
