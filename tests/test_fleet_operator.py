"""The fleet as an operator meets it: ``sync-now --model`` checked against the
manifest, ``status`` showing what runs, what is queued and what never ran, ``--help``
written for a person, and ``health`` for a supervisor's probe.

PostgreSQL (``LOOM_SCIM_TEST_POSTGRES_URL``) and Redis (``LOOM_SCIM_FLEET_BROKER_URL``)
are real; each test skips naming the variable when one cannot be reached (fails under
``CI=true``). Each test has a schema and a queue of its own.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

from .pg_server import require_psycopg, schema_of_its_own
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.cli import run  # noqa: E402
from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.connections import (  # noqa: E402
    ENV_FERNET_KEY,
    Cipher,
    ConnectionRegistry,
)
from loom_scim_connector.fleet.schedule import TABLE as SCHEDULE  # noqa: E402
from loom_scim_connector.store._pg_base import connect  # noqa: E402

URL = "https://scim.example.com/scim/v2"
KEY = "operator-Secret-Key-7d1f0a"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """(dsn, broker URL, queue), set in the environment as the CLI reads them."""
    broker, queue = redis_url(), f"loom-scim-test-op-{uuid.uuid4().hex[:10]}"
    fernet_key = Fernet.generate_key().decode()
    with schema_of_its_own() as dsn:
        for name, value in {
            settings.ENV_DATABASE: dsn,
            settings.ENV_BROKER: broker,
            settings.ENV_QUEUE: queue,
            ENV_FERNET_KEY: fernet_key,
        }.items():
            monkeypatch.setenv(name, value)
        with ConnectionRegistry(dsn, Cipher(fernet_key)) as registry:
            registry.add("acme", URL, KEY)
        try:
            yield dsn, broker, queue
        finally:
            redis.Redis.from_url(broker).delete(queue)


def fleet(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["fleet", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def scheduled(dsn: str) -> list[tuple[str, str]]:
    _, db = connect(dsn)
    try:
        rows = db.execute(f"SELECT connection_id, sync FROM {SCHEDULE} ORDER BY 1, 2").fetchall()  # noqa: S608
    except Exception:  # no table yet: nothing recorded
        return []
    finally:
        db.close()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_sync_now_refuses_a_model_the_manifest_has_no_sync_for(
    env: tuple[str, str, str],
) -> None:
    dsn, broker, queue = env
    code, out, err = fleet("sync-now", "acme", "--model", "userz")
    assert out == ""
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "userz" in err and "users" in err and "groups" in err
    assert redis.Redis.from_url(broker).llen(queue) == 0  # nothing queued
    assert scheduled(dsn) == []
    code, _, err = fleet("sync-now", "acme", "--model", "users", "--model", "nope")
    assert code == 2 and "nope" in err
    assert redis.Redis.from_url(broker).llen(queue) == 0


def test_sync_now_queues_several_models(env: tuple[str, str, str]) -> None:
    dsn, broker, queue = env
    code, _, err = fleet("sync-now", "acme", "--model", "users", "--model", "groups")
    assert code == 0, err
    assert "users sync of acme queued" in err and "groups sync of acme queued" in err
    assert redis.Redis.from_url(broker).llen(queue) == 2
    assert scheduled(dsn) == [("acme", "groups"), ("acme", "users")]


def test_status_shows_what_runs_what_is_queued_and_what_never_ran(
    env: tuple[str, str, str],
) -> None:
    import json
    import time

    from loom_scim_connector.fleet.schedule import Dispatcher
    from loom_scim_connector.fleet.settings import store_key
    from loom_scim_connector.store._owner import default_owner
    from loom_scim_connector.store.postgres import PostgresStore

    dsn, _, _ = env
    code, out, err = fleet("status", "--json")
    assert code == 0, err
    syncs = json.loads(out)["syncs"]
    assert set(syncs) == {"users", "groups"}  # never synced: each model, not {}
    assert {s["state"] for s in syncs.values()} == {"never"}
    code, out, _ = fleet("status")
    assert "users    last success never" in out and "groups   last success never" in out

    store = PostgresStore(dsn, store_key("acme"))
    try:
        run_ = store.begin_run("users", "User", lease=300)
        with Dispatcher(dsn) as dispatcher:
            dispatcher.record_queued("acme", "groups", "task-1", 3600, at=time.time() + 1)
        code, out, err = fleet("status", "--json")
        assert code == 0, err
        syncs = json.loads(out)["syncs"]
        assert syncs["users"]["state"] == "running"
        assert syncs["users"]["running"] == {"since": run_.started_at, "owner": default_owner()}
        assert syncs["groups"]["state"] == "queued"
        assert syncs["groups"]["queued"]["taskId"] == "task-1"
        code, out, _ = fleet("status")
        assert f"RUNNING since {run_.started_at} by {default_owner()}" in out
        assert "QUEUED since" in out
        store.finish_run(run_, "success")
        syncs = json.loads(fleet("status", "--json")[1])["syncs"]
        assert syncs["users"]["state"] == "idle" and syncs["users"]["running"] is None
    finally:
        store.close()


def test_fleet_help_is_written_for_operators() -> None:
    code, text, _ = fleet("--help")
    assert code == 0
    assert "``" not in text and ":mod:" not in text and ":meth:" not in text  # no reST
    for needed in (
        "sync-now",
        "status",
        "health",
        "LOOM_SCIM_FLEET_DATABASE_URL",
        "LOOM_SCIM_FLEET_BROKER_URL",
        "LOOM_SCIM_FLEET_REDIS_URL",
        "RabbitMQ",
        "LOOM_SCIM_FLEET_MAX_LARGE_SYNCS",
        "LOOM_SCIM_FLEET_FERNET_KEY",
        "search_path",  # the fleet's tables in a schema of their own
        "Running a fleet",  # where to read more
    ):
        assert needed in text, needed


def test_health_says_in_one_line_what_is_not_ready(
    env: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@nowhere"
    code, out, err = fleet("health", "--hostname", nobody, "--timeout", "0.5")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"loom-scim: fleet not ready: worker {nobody} did not answer a ping within 0.5 s"
    ]
    monkeypatch.setenv(settings.ENV_BROKER, "redis://:Secret-Pw@127.0.0.1:1/0")
    code, _, err = fleet("health", "--timeout", "0.5")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert "broker does not answer" in err and "Secret-Pw" not in err
    monkeypatch.setenv(settings.ENV_BROKER, "amqp://u:Secret-Pw@127.0.0.1:1//")
    code, _, err = fleet("health", "--timeout", "0.5")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert "broker does not answer" in err and "Secret-Pw" not in err
    monkeypatch.setenv(settings.ENV_BROKER, "sqs://u:Secret-Pw@queue.example.com")
    code, _, err = fleet("health", "--timeout", "0.5")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert settings.ENV_BROKER in err and "amqp://" in err and "Secret-Pw" not in err
    monkeypatch.setenv(settings.ENV_BROKER, "redis://127.0.0.1:1/0")
    monkeypatch.setenv(settings.ENV_DATABASE, "postgresql://u:Secret-Pw@127.0.0.1:1/x")
    code, _, err = fleet("health", "--timeout", "0.5")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert "database does not answer" in err and "Secret-Pw" not in err
