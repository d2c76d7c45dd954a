"""The fleet on RabbitMQ: Celery's AMQP transport, for real (``LOOM_SCIM_TEST_AMQP_URL``),
with the results and the politeness semaphore on the real Redis and the records in the
real PostgreSQL. Skipped, naming the variable, where one cannot be reached (failed under
``CI=true``). Queues and connection ids are this module's own, removed afterwards.

What RabbitMQ changes, each shown here: a message is persistent in a durable queue and
confirmed by the broker before ``apply_async`` returns (so a publish the broker refuses
raises, where it would vanish unconfirmed); a worker SIGKILLed whole (main process and
pool: nobody left to reject its message) has its sync delivered again as soon as its
connection drops, with the default time limits (Redis waits out the visibility
timeout, just over 2 hours); a busy sync's countdown works on the durable queue.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.sandbox import Sandbox

from .amqp_server import amqp_url
from .pg_server import postgres_url, require_psycopg
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

from cryptography.fernet import Fernet  # noqa: E402
from kombu import connection, entity  # noqa: E402

from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.app import make_app  # noqa: E402
from loom_scim_connector.fleet.connections import ENV_FERNET_KEY, Cipher, ConnectionRegistry  # noqa: E402
from loom_scim_connector.fleet.ledger import ActionLedger  # noqa: E402
from loom_scim_connector.fleet.settings import store_key  # noqa: E402
from loom_scim_connector.store.postgres import PostgresStore  # noqa: E402

from .test_fleet import (  # noqa: E402
    Fleet,
    Worker,
    _cleanup,
    _forget,
    assert_no_key,
    check_worker_log,
    children,
    start_worker,
)

USERS = 12
WAIT = 30
# kombu's are untyped: taken as Any.
Connection: Any = connection.Connection
Exchange: Any = entity.Exchange
Queue: Any = entity.Queue


@pytest.fixture(scope="module")
def rabbit() -> Iterator[Fleet]:
    pg, redis, broker = postgres_url(), redis_url(), amqp_url()
    run = uuid.uuid4().hex[:10]
    prefix = f"test-amqp-{run}-"
    fernet_key = Fernet.generate_key().decode()
    sandboxes = {
        name: Sandbox(seed_users=USERS, seed=n, token=f"Rabbit-Key-{name}-{uuid.uuid4().hex}")
        for n, name in enumerate(["acme", "globex"])
    }
    for sandbox in sandboxes.values():
        sandbox.start()
    queue = f"loom-scim-test-{run}"
    try:
        ActionLedger(pg).close()  # the tables the cleanup empties
        PostgresStore(pg, store_key("")).close()
        with ConnectionRegistry(pg, Cipher(fernet_key)) as registry:
            for name, sandbox in sandboxes.items():
                registry.add(prefix + name, sandbox.url, sandbox.token)
        with pytest.MonkeyPatch.context() as env:
            env.setenv(settings.ENV_REDIS, redis)  # the results' backend
            app = make_app(broker, queue=queue)
        made = Fleet(pg, broker, queue, prefix, fernet_key, app, sandboxes, [])
        yield made
        _forget(redis, queue, prefix, made.sent)
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
        _cleanup(pg, prefix)
        _delete_queues(broker, queue)


def _delete_queues(broker: str, queue: str) -> None:
    """This module's queues (the main one and those named after it) and exchanges."""
    with Connection(broker) as conn:
        for name in (queue, f"{queue}-parked", f"{queue}-killed"):
            channel = conn.channel()
            try:
                Queue(name, channel=channel).delete()
                Exchange(name, channel=channel).delete()
            except Exception:  # noqa: S110 (never declared: nothing to remove)
                pass
            finally:
                channel.close()


def _env(rabbit: Fleet) -> dict[str, str]:
    return {settings.ENV_REDIS: redis_url()}


@pytest.fixture(scope="module")
def worker(rabbit: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("rabbit") / "worker.log"
    with start_worker(rabbit, log, rabbit.queue, "--pool=solo", env=_env(rabbit)) as running:
        yield running


def test_a_message_is_persistent_confirmed_and_carries_no_key(rabbit: Fleet) -> None:
    parked = rabbit.queue + "-parked"
    app = make_app(rabbit.broker, queue=parked)
    app.conf.result_backend = rabbit.app.conf.result_backend
    sent = app.fleet_tasks[0].apply_async(args=[rabbit.cid("acme"), "users"])
    with Connection(rabbit.broker) as conn:
        channel = conn.channel()
        # Declared as the app declares it (durable): a mismatch would be refused.
        bound = app.amqp.queues[parked].bind(channel)
        assert bound.durable
        _, count, _ = bound.queue_declare(passive=True)
        assert count == 1
        message = bound.get(no_ack=True)
        channel.close()
    assert message is not None
    assert message.headers["id"] == sent.id
    assert message.properties["delivery_mode"] == 2  # persistent: survives a restart
    assert json.loads(message.body)[0] == [rabbit.cid("acme"), "users"]
    assert_no_key(str(message.body) + json.dumps(message.headers), rabbit.keys)

    # Publisher confirms: a publish the broker refuses raises, rather than vanishing.
    with pytest.raises(Exception, match="NOT_FOUND"):
        app.fleet_tasks[0].apply_async(
            args=[rabbit.cid("acme"), "users"],
            exchange=f"no-such-{uuid.uuid4().hex}",
            routing_key="nowhere",
        )


def test_syncs_and_an_action_on_rabbitmq(rabbit: Fleet, worker: Worker) -> None:
    results = [rabbit.sync("acme"), rabbit.sync("globex"), rabbit.sync("acme", "groups")]
    reports = [r.get(timeout=WAIT) for r in results]
    assert [(r["connectionId"], r["sync"], r["status"]) for r in reports] == [
        (rabbit.cid("acme"), "users", "success"),
        (rabbit.cid("globex"), "users", "success"),
        (rabbit.cid("acme"), "groups", "success"),
    ]
    key = f"onboard-{uuid.uuid4().hex}"
    data = {"email": "new.hire@globex.example", "firstName": "New", "role": "creator"}
    one = rabbit.action("globex", "create-user", data, key).get(timeout=WAIT)
    two = rabbit.action("globex", "create-user", data, key).get(timeout=WAIT)
    assert (one["replayed"], two["replayed"], two["output"]) == (False, True, one["output"])
    check_worker_log(worker, rabbit)


def test_a_busy_sync_is_retried_after_its_countdown(rabbit: Fleet, worker: Worker) -> None:
    store = PostgresStore(rabbit.pg, store_key(rabbit.cid("acme")), owner="elsewhere:1")
    try:
        holder = store.begin_run("users", "User", lease=60)
        result = rabbit.sync("acme")
        deadline = time.monotonic() + WAIT
        while "sync busy" not in worker.text():
            assert time.monotonic() < deadline, "the worker never saw the sync busy"
            time.sleep(0.1)
        store.finish_run(holder, "cancelled")
    finally:
        store.close()
    assert result.get(timeout=WAIT)["status"] == "success"


def test_the_health_command_pings_the_worker_over_rabbitmq(
    rabbit: Fleet, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import re

    from loom_scim_connector.cli import run

    for name, value in {
        settings.ENV_BROKER: rabbit.broker,
        settings.ENV_REDIS: redis_url(),
        settings.ENV_QUEUE: rabbit.queue,
        ENV_FERNET_KEY: rabbit.fernet_key,
    }.items():
        monkeypatch.setenv(name, value)
    banner = re.search(r"(test-[0-9a-f]{8}@\S+) v\d", worker.text())
    assert banner is not None, worker.text()[:2000]
    absent = f"nobody-{uuid.uuid4().hex[:8]}@nowhere"
    for hostname, code in ((banner.group(1), 0), (absent, 1)):
        out, err = io.StringIO(), io.StringIO()
        argv = ["fleet", "--database", rabbit.pg, "health", "--timeout", "3"]
        assert run([*argv, "--hostname", hostname], out=out, err=err) == code, err.getvalue()
        assert "guest" not in err.getvalue()  # the URL's password
    assert f"worker {absent} did not answer" in err.getvalue()


def test_a_worker_killed_whole_has_its_sync_delivered_again_at_once(
    rabbit: Fleet, tmp_path: Path
) -> None:
    """Default time limits: a worker SIGKILLed with its pool (a machine lost: nobody is
    left to reject the message) has its unacknowledged sync delivered again as soon as
    RabbitMQ sees its connection close; on Redis it would wait out the visibility
    timeout (2 x 3600 s + 31 s)."""
    queue = rabbit.queue + "-killed"
    sandbox = rabbit.sandboxes["globex"]
    env = _env(rabbit)
    assert settings.ENV_SYNC_LIMIT not in os.environ  # the default limits
    with start_worker(
        rabbit, tmp_path / "doomed.log", queue, "--pool=prefork", "--concurrency=1", env=env
    ) as doomed:
        users = sandbox.call("GET", "/Users", query={"count": "1"})["totalResults"]
        before = sandbox.app.requests_served
        sandbox.settings.latency = 1.0
        # Pages of a third: the walk needs 3 or more requests of a second each, so it is
        # still under way when its first answer is seen (with one page, a fast machine
        # finished the sync before the kill, and nothing was left to deliver again).
        sandbox.settings.page_size_cap = max(1, users // 3)
        try:
            result = rabbit.sync("globex", queue=queue)
            deadline = time.monotonic() + WAIT
            while sandbox.app.requests_served == before:  # the sync is under way
                assert time.monotonic() < deadline, doomed.text()[-3000:]
                time.sleep(0.05)
            pids = [doomed.process.pid, *children(doomed.process.pid)]
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            doomed.process.wait()
            killed = time.monotonic()
        finally:
            sandbox.settings.latency = 0.0
            sandbox.settings.page_size_cap = None
    assert f"Task loom_scim.sync[{result.id}] received" in doomed.text()
    with start_worker(rabbit, tmp_path / "next.log", queue, "--pool=solo", env=env) as after:
        report: dict[str, Any] = result.get(timeout=WAIT)
        took = time.monotonic() - killed
    assert (report["status"], report["saved"]) == ("success", users)
    assert took < WAIT  # seconds, not the 2 hours Redis would wait
    assert f"Task loom_scim.sync[{result.id}] received" in after.text()
    check_worker_log(after, rabbit)
