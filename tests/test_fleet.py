"""The fleet: Celery tasks on a real Redis broker, records and connections in a real
PostgreSQL, a real worker (a subprocess, solo pool) syncing loopback sandboxes.

Skipped, each with a reason naming the variable, where Redis
(``LOOM_SCIM_FLEET_BROKER_URL``) or PostgreSQL (``LOOM_SCIM_TEST_POSTGRES_URL``) cannot
be reached; under ``CI=true`` they fail instead. Everything this module makes is its
own: a queue, connection ids and store keys with a random prefix, removed afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.sandbox import Sandbox

from .pg_server import postgres_url, require_psycopg
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

import psycopg  # noqa: E402
import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.app import make_app  # noqa: E402
from loom_scim_connector.fleet.connections import (  # noqa: E402
    ENV_FERNET_KEY,
    Cipher,
    ConnectionRegistry,
)
from loom_scim_connector.fleet.connections import TABLE as CONNECTIONS  # noqa: E402
from loom_scim_connector.fleet.ledger import TABLE as ACTIONS  # noqa: E402
from loom_scim_connector.fleet.schedule import TABLE as SCHEDULE  # noqa: E402
from loom_scim_connector.fleet.settings import store_key  # noqa: E402
from loom_scim_connector.store.postgres import PostgresStore  # noqa: E402

USERS = 12
WAIT = 30


@dataclass
class Fleet:
    pg: str
    broker: str
    queue: str
    prefix: str
    fernet_key: str
    app: Any
    sandboxes: dict[str, Sandbox]
    sent: list[str]

    def cid(self, name: str) -> str:
        return self.prefix + name

    @property
    def keys(self) -> list[str]:
        return [sb.token for sb in self.sandboxes.values()]

    def sync(self, name: str, model: str = "users", **options: Any) -> Any:
        task = self.app.fleet_tasks[0]
        result = task.apply_async(args=[self.cid(name), model], **options)
        self.sent.append(result.id)
        return result

    def action(self, name: str, action: str, data: Any, key: str, **options: Any) -> Any:
        task = self.app.fleet_tasks[1]
        result = task.apply_async(args=[self.cid(name), action, data, key], **options)
        self.sent.append(result.id)
        return result


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    pg, broker = postgres_url(), redis_url()
    run = uuid.uuid4().hex[:10]
    prefix = f"test-{run}-"
    fernet_key = Fernet.generate_key().decode()
    sandboxes = {
        name: Sandbox(seed_users=count, seed=n, token=f"Fleet-Key-{name}-{uuid.uuid4().hex}")
        for n, (name, count) in enumerate([("acme", USERS), ("globex", USERS), ("held", 30)])
    }
    for sandbox in sandboxes.values():
        sandbox.start()
    try:
        with ConnectionRegistry(pg, Cipher(fernet_key)) as registry:
            for name, sandbox in sandboxes.items():
                registry.add(prefix + name, sandbox.url, sandbox.token)
        queue = f"loom-scim-test-{run}"
        made = Fleet(
            pg, broker, queue, prefix, fernet_key, make_app(broker, queue=queue), sandboxes, []
        )
        yield made
        _forget(broker, queue, prefix, made.sent)
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
        _cleanup(pg, prefix)


def _forget(broker: str, queue: str, prefix: str, sent: list[str]) -> None:
    """Remove this module's queues, bindings, results and politeness keys from Redis."""
    client = redis.Redis.from_url(broker)
    try:
        keys = [f"celery-task-meta-{task_id}" for task_id in sent]
        keys += [k for k in client.scan_iter(match=f"*{queue}*", count=500)]
        keys += [k for k in client.scan_iter(match=f"loom_scim:*:{prefix}*", count=500)]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _cleanup(pg: str, prefix: str) -> None:
    """Delete this test's rows from every fleet and store table that exists: on a fresh
    database a table no test has made yet is simply not there (not an error)."""
    like = store_key(prefix) + "%"
    deletes = [
        (CONNECTIONS, f"DELETE FROM {CONNECTIONS} WHERE starts_with(id, %s)", prefix),  # noqa: S608
        (ACTIONS, f"DELETE FROM {ACTIONS} WHERE starts_with(connection_id, %s)", prefix),  # noqa: S608
        (
            "loom_scim_held",
            "DELETE FROM loom_scim_held WHERE run_id IN"
            " (SELECT run_id FROM loom_scim_runs WHERE connection LIKE %s)",
            like,
        ),
    ]
    for table in ("records", "sightings", "runs", "checkpoints", "locks"):
        deletes.append(
            (f"loom_scim_{table}", f"DELETE FROM loom_scim_{table} WHERE connection LIKE %s", like)  # noqa: S608
        )
    with psycopg.connect(pg, autocommit=True) as db:
        for table, sql, value in deletes:
            exists = db.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if exists is not None and exists[0] is not None:
                db.execute(sql, (value,))


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def start_worker(
    fleet: Fleet,
    log: Path,
    queue: str,
    *options: str,
    command: str = "worker",
    database: str | None = None,
    ready: str = " ready.",
    env: dict[str, str] | None = None,
) -> Iterator[Worker]:
    """``loom-scim fleet worker`` (Celery's worker, on the queue named by
    ``LOOM_SCIM_FLEET_QUEUE``) or ``beat`` in a subprocess, its output in ``log``;
    stopped warmly afterwards."""
    env = {
        **os.environ,
        settings.ENV_BROKER: fleet.broker,
        settings.ENV_DATABASE: database or fleet.pg,
        settings.ENV_QUEUE: queue,
        settings.ENV_BUSY_RETRY: "0.5",
        settings.ENV_DISPATCH: "1",
        ENV_FERNET_KEY: fleet.fernet_key,
        **(env or {}),
    }
    if command == "worker":
        options = (*options, f"--hostname=test-{uuid.uuid4().hex[:8]}@%h")
    argv = [
        sys.executable,
        "-m",
        "loom_scim_connector",
        "--debug",
        "fleet",
        command,
        *options,
        "--loglevel=DEBUG",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    running = Worker(process, log)
    try:
        deadline = time.monotonic() + 30
        while ready not in running.text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery {command} did not start:\n{running.text()[-3000:]}")
            time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def worker(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("fleet") / "worker.log"
    with start_worker(fleet, log, fleet.queue, "--pool=solo") as running:
        yield running


def broker_dump(url: str) -> tuple[list[dict[str, Any]], bytes]:
    """Every value in the Redis database, message bodies decoded: the task messages
    found (headers and decoded body), and all the bytes, to search."""
    client = redis.Redis.from_url(url)
    messages: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    try:
        for key in client.scan_iter(count=500):
            kind = client.type(key)
            values: list[Any] = []
            if kind == b"list":
                values = client.lrange(key, 0, -1)
            elif kind == b"hash":
                values = [v for pair in client.hgetall(key).items() for v in pair]
            elif kind == b"set":
                values = list(client.smembers(key))
            elif kind == b"zset":
                values = client.zrange(key, 0, -1)
            elif kind == b"string":
                values = [client.get(key) or b""]
            chunks.append(_bytes(key))
            for item in values:
                value = _bytes(item)
                chunks.append(value)
                decoded = _decode_message(value)
                if decoded is not None:
                    messages.append(decoded)
                    chunks.append(json.dumps(decoded).encode())
    finally:
        client.close()
    return messages, b"\n".join(chunks)


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _decode_message(value: bytes) -> dict[str, Any] | None:
    """A kombu message (a JSON envelope whose body is base64), or one inside the
    ``unacked`` hash (a JSON list of [message, exchange, routing key])."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict) or "body" not in data or "headers" not in data:
        return None
    body = data["body"]
    try:
        if data.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body).decode()
        return {"headers": data["headers"], "body": json.loads(body)}
    except (ValueError, TypeError, AttributeError):  # not a kombu message after all
        return None


def assert_no_key(blob: bytes | str, keys: list[str]) -> None:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    for key in keys:
        assert key not in text
        # Nor base64-encoded at any alignment (a body left undecoded).
        for shift in range(3):
            encoded = base64.b64encode(("\0" * shift + key).encode()).decode()
            assert encoded[4 if shift else 0 : -4] not in text


def test_broker_messages_carry_the_connection_id_never_the_key(fleet: Fleet) -> None:
    # A queue no worker reads, so the messages stay there to be read.
    parked = fleet.queue + "-parked"
    sent = [
        fleet.sync("acme", queue=parked),
        fleet.sync("globex", "groups", queue=parked),
        fleet.action("acme", "find-user", {"email": "a@acme.example"}, "k-1", queue=parked),
    ]
    try:
        messages, blob = broker_dump(fleet.broker)
        mine = {m["headers"]["id"]: m for m in messages if m["headers"].get("id")}
        assert {r.id for r in sent} <= set(mine)
        args = [mine[r.id]["body"][0] for r in sent]
        assert args == [
            [fleet.cid("acme"), "users"],
            [fleet.cid("globex"), "groups"],
            [fleet.cid("acme"), "find-user", {"email": "a@acme.example"}, "k-1"],
        ]
        assert_no_key(blob, fleet.keys)
    finally:
        client = redis.Redis.from_url(fleet.broker)
        client.delete(parked)
        client.close()


def test_sync_now_for_two_connections(fleet: Fleet, worker: Worker) -> None:
    started = time.monotonic()
    results = [fleet.sync("acme"), fleet.sync("globex"), fleet.sync("acme", "groups")]
    # While they are queued or running (in the unacked hash), then after (results).
    _, blob = broker_dump(fleet.broker)
    reports = [r.get(timeout=WAIT) for r in results]
    _, after = broker_dump(fleet.broker)
    assert [(r["connectionId"], r["sync"], r["status"]) for r in reports] == [
        (fleet.cid("acme"), "users", "success"),
        (fleet.cid("globex"), "users", "success"),
        (fleet.cid("acme"), "groups", "success"),
    ]
    assert [r["added"] for r in reports[:2]] == [USERS, USERS]
    for name in ("acme", "globex"):
        store = PostgresStore(fleet.pg, store_key(fleet.cid(name)))
        try:
            emails = {r["email"] for r in store.records("User")}
        finally:
            store.close()
        served = fleet.sandboxes[name].call("GET", "/Users", query={"count": "100"})
        assert emails == {u["userName"] for u in served["Resources"]}
    assert time.monotonic() - started < WAIT
    assert_no_key(blob + after, fleet.keys)
    check_worker_log(worker, fleet)


def test_an_action_delivered_twice_takes_effect_once(fleet: Fleet, worker: Worker) -> None:
    sandbox = fleet.sandboxes["globex"]
    data = {"email": "new.hire@globex.example", "firstName": "New", "role": "creator"}
    key = f"onboard-{uuid.uuid4().hex}"
    first = fleet.action("globex", "create-user", data, key)
    again = fleet.action("globex", "create-user", data, key)  # a second delivery
    one, two = first.get(timeout=WAIT), again.get(timeout=WAIT)
    assert one["output"]["outcome"] == "created"
    assert (one["replayed"], two["replayed"]) == (False, True)
    assert two["output"] == one["output"]
    served = sandbox.app.requests_served
    # A third delivery, later: still the first output, and not one request sent.
    assert fleet.action("globex", "create-user", data, key).get(timeout=WAIT) == two
    assert sandbox.app.requests_served == served
    found = sandbox.call("GET", "/Users", query={"filter": 'userName eq "new.hire@globex.example"'})
    assert found["totalResults"] == 1
    with psycopg.connect(fleet.pg) as db:
        row = db.execute(
            f"SELECT status, attempts FROM {ACTIONS}"  # noqa: S608
            " WHERE connection_id = %s AND idempotency_key = %s",
            (fleet.cid("globex"), key),
        ).fetchone()
    assert row == ("done", 1)

    # The same key for another input is refused, and nothing runs.
    served = sandbox.app.requests_served
    other = fleet.action("globex", "create-user", {**data, "role": "admin"}, key)
    with pytest.raises(Exception, match="was used for another input"):
        other.get(timeout=WAIT, propagate=True)
    assert sandbox.app.requests_served == served
    check_worker_log(worker, fleet)


def test_a_busy_sync_is_retried_later(fleet: Fleet, worker: Worker) -> None:
    store = PostgresStore(fleet.pg, store_key(fleet.cid("acme")), owner="elsewhere:1")
    try:
        holder = store.begin_run("users", "User", lease=60)
        result = fleet.sync("acme")
        deadline = time.monotonic() + WAIT
        while "sync busy" not in worker.text():
            assert time.monotonic() < deadline, "the worker never saw the sync busy"
            time.sleep(0.1)
        store.finish_run(holder, "cancelled")
    finally:
        store.close()
    report = result.get(timeout=WAIT)
    assert report["status"] == "success"
    assert f"{fleet.cid('acme')}: users sync busy (run {holder.run_id}" in worker.text()
    check_worker_log(worker, fleet)


def test_a_held_sync_deletes_nothing_and_is_not_retried(fleet: Fleet, worker: Worker) -> None:
    sandbox = fleet.sandboxes["held"]
    assert fleet.sync("held").get(timeout=WAIT)["added"] == 30
    for uid in sandbox.seeded["all"][:27]:
        sandbox.call("DELETE", f"/Users/{uid}")
    report = fleet.sync("held").get(timeout=WAIT)
    assert (report["status"], report["deleted"], report["held"]) == ("held", 0, 27)
    assert f"users sync held (run {report['run_id']})" in worker.text()
    store = PostgresStore(fleet.pg, store_key(fleet.cid("held")))
    try:
        assert store.live_count("User") == 30
    finally:
        store.close()

    # After review, a person releases it: each record is looked up, the gone deleted.
    from loom_scim_connector.cli import run

    out, err = io.StringIO(), io.StringIO()
    argv = ["fleet", "--database", fleet.pg, "release-held", fleet.cid("held"), "users"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV_FERNET_KEY, fleet.fernet_key)
        env.setenv(settings.ENV_BROKER, fleet.broker)
        assert run([*argv, str(report["run_id"])], out=out, err=err) == 0, err.getvalue()
    released = json.loads(out.getvalue())
    assert (released["status"], released["deleted"]) == ("success", 27)
    store = PostgresStore(fleet.pg, store_key(fleet.cid("held")))
    try:
        assert store.live_count("User") == 3
    finally:
        store.close()
    assert_no_key(out.getvalue() + err.getvalue(), fleet.keys)
    check_worker_log(worker, fleet)


def check_worker_log(worker: Worker, fleet: Fleet) -> None:
    text = worker.text()
    assert "Task loom_scim." in text and "received" in text  # the log is the real one
    assert "DuplicateTaskNameWarning" not in text
    assert_no_key(text, fleet.keys)


def test_the_fleet_cli(fleet: Fleet, worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    from loom_scim_connector.cli import run

    for name, value in {
        settings.ENV_BROKER: fleet.broker,
        settings.ENV_DATABASE: fleet.pg,
        settings.ENV_QUEUE: fleet.queue,
        ENV_FERNET_KEY: fleet.fernet_key,
    }.items():
        monkeypatch.setenv(name, value)
    sandbox = fleet.sandboxes["acme"]
    cid = fleet.cid("cli")
    printed: list[str] = []

    def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run(["fleet", *argv], out=out, err=err, stdin=io.StringIO(stdin))
        printed.extend([out.getvalue(), err.getvalue()])
        return code, out.getvalue(), err.getvalue()

    monkeypatch.delenv(ENV_FERNET_KEY)
    code, _, err = cli("list")
    assert code == 2 and f"{ENV_FERNET_KEY}: is not set" in err
    monkeypatch.setenv(ENV_FERNET_KEY, fleet.fernet_key)
    monkeypatch.delenv("LOOM_SCIM_API_KEY", raising=False)
    code, _, err = cli("add-connection", cid, "--url", sandbox.url)
    assert code == 2 and "LOOM_SCIM_API_KEY" in err
    code, out, err = cli(
        "add-connection",
        cid,
        "--url",
        sandbox.url,
        "--api-key-stdin",
        "--expires-at",
        "2027-03-31",
        stdin=sandbox.token + "\n",
    )
    assert code == 0, err
    assert json.loads(out)["apiKeyExpiresAt"] == "2027-03-31"
    code, out, _ = cli("list", "--json")
    assert cid in [json.loads(line)["id"] for line in out.splitlines()]

    code, out, err = cli("sync-now", cid, "--wait", "--timeout", str(WAIT))
    assert code == 0, err
    report = json.loads(out)
    assert (report["connectionId"], report["status"]) == (cid, "success")
    assert report["saved"] == USERS
    assert "queued (task " in err
    fleet.sent.append(err.split("queued (task ")[1].split(")")[0])

    assert cli("sync-now", fleet.cid("nobody"))[0] == 4  # not found
    code, _, err = cli("health", "--timeout", "5")  # the worker answers a ping
    assert code == 0 and "fleet ready" in err, err
    assert cli("remove", cid)[0] == 0
    code, _, err = cli("remove", cid)
    assert code == 4 and "no fleet connection" in err
    assert_no_key("".join(printed), fleet.keys)
    check_worker_log(worker, fleet)


def test_a_sync_whose_worker_was_killed_runs_again(fleet: Fleet, tmp_path: Path) -> None:
    """acks_late + task_reject_on_worker_lost: SIGKILL the pool process running a sync;
    the message goes back to the queue, a new process runs the sync, and the dead run's
    lease (its owner is a dead process of this host) does not block it."""
    queue = fleet.queue + "-prefork"
    sandbox = fleet.sandboxes["globex"]
    with start_worker(
        fleet, tmp_path / "prefork.log", queue, "--pool=prefork", "--concurrency=1"
    ) as prefork:
        users = sandbox.call("GET", "/Users", query={"count": "1"})["totalResults"]
        sandbox.settings.latency = 1.0
        try:
            result = fleet.sync("globex", queue=queue)
            deadline = time.monotonic() + WAIT
            # Under way: its run begun, its first response still out (waiting for a
            # response served let the kill race the sync's end, which one page is).
            while not _running(fleet.pg, fleet.cid("globex")):
                assert time.monotonic() < deadline, prefork.text()[-3000:]
                time.sleep(0.05)
            (child,) = children(prefork.process.pid)
            os.kill(child, signal.SIGKILL)
        finally:
            sandbox.settings.latency = 0.0
        report = result.get(timeout=WAIT)
        assert (report["status"], report["saved"]) == ("success", users)
        assert "WorkerLostError" in prefork.text()
        assert children(prefork.process.pid) != [child]
        check_worker_log(prefork, fleet)


def _running(pg: str, connection_id: str) -> bool:
    with psycopg.connect(pg) as db:
        row = db.execute(
            "SELECT count(*) FROM loom_scim_runs WHERE connection = %s AND status = 'running'",
            (settings.store_key(connection_id),),
        ).fetchone()
    return bool(row and row[0])


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(n) for n in path.read_text().split()]


def test_a_failed_action_answers_the_same_failure(fleet: Fleet, worker: Worker) -> None:
    sandbox = fleet.sandboxes["acme"]
    key = f"lookup-{uuid.uuid4().hex}"
    first = fleet.action("acme", "get-user", {"id": "no-such-user"}, key)
    with pytest.raises(Exception, match=r"(?i)not found") as caught:
        first.get(timeout=WAIT)
    served = sandbox.app.requests_served
    again = fleet.action("acme", "get-user", {"id": "no-such-user"}, key)
    with pytest.raises(Exception, match="failed on its first delivery"):
        again.get(timeout=WAIT)
    assert sandbox.app.requests_served == served
    assert type(caught.value).__name__ != "ActionFailedError"
    check_worker_log(worker, fleet)


def test_beat_queues_each_connections_syncs(fleet: Fleet, tmp_path: Path) -> None:
    """`loom-scim fleet beat` ticks; the dispatch queues the due syncs of every connection.
    In a schema of its own, so it sees this test's connection only."""
    schema = "test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(fleet.pg, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(fleet.pg, options=f"-csearch_path={schema}")
    queue = fleet.queue + "-beat"
    sandbox = fleet.sandboxes["acme"]
    try:
        with ConnectionRegistry(dsn, Cipher(fleet.fernet_key)) as registry:
            registry.add("scheduled", sandbox.url, sandbox.token, schedule="every 1h")
        with (
            start_worker(fleet, tmp_path / "w.log", queue, "--pool=solo", database=dsn) as worker,
            start_worker(
                fleet,
                tmp_path / "beat.log",
                queue,
                f"--state={tmp_path / 'beat-state'}",
                command="beat",
                database=dsn,
                ready="beat: Starting",
            ) as beat,
        ):
            store = PostgresStore(dsn, store_key("scheduled"))
            try:
                deadline = time.monotonic() + WAIT
                while {(r.sync, r.status) for r in store.runs()} != {
                    ("users", "success"),
                    ("groups", "success"),
                }:
                    assert time.monotonic() < deadline, worker.text()[-3000:]
                    time.sleep(0.2)
                time.sleep(1.5)  # more ticks: nothing more is due for an hour
                assert len(store.runs()) == 2
            finally:
                store.close()
            assert "Sending due task loom-scim-dispatch" in beat.text()
            assert "dispatch: 2 syncs queued" in worker.text()
            assert "dispatch: 0 syncs queued" in worker.text()
            assert_no_key(beat.text(), fleet.keys)
            check_worker_log(worker, fleet)
    finally:
        with psycopg.connect(fleet.pg, autocommit=True) as db:
            with contextlib.suppress(psycopg.Error):  # the results, for _forget
                rows = db.execute(f"SELECT last_task_id FROM {schema}.{SCHEDULE}").fetchall()  # noqa: S608
                fleet.sent.extend(str(task_id) for (task_id,) in rows)
            db.execute(f"DROP SCHEMA {schema} CASCADE")
