"""The fleet's finishing touches: ``fleet status`` names the last error's class and kind,
an unknown connection id exits 4 in one line, a sync's requests share pooled HTTP
connections, and a lower sync time limit brings the broker's visibility timeout down
with it. Real PostgreSQL (a schema of this module's own) and Redis; loopback sandboxes."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator

import pytest

from loom_scim_connector.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.sandbox.multi import MultiSandbox

from .pg_server import require_psycopg, schema_of_its_own
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

import psycopg  # noqa: E402
import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.cli import run  # noqa: E402
from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.app import make_app  # noqa: E402
from loom_scim_connector.fleet.connections import (  # noqa: E402
    ENV_FERNET_KEY,
    Cipher,
    ConnectionRegistry,
    FleetKeyError,
)
from loom_scim_connector.fleet.errors import error_kind  # noqa: E402
from loom_scim_connector.fleet.status import fleet_status  # noqa: E402
from loom_scim_connector.fleet.work import run_sync  # noqa: E402
from loom_scim_connector.store import StoreError  # noqa: E402


@pytest.fixture
def dsn() -> Iterator[str]:
    with schema_of_its_own() as conninfo:
        yield conninfo


@pytest.fixture
def fleet_env(dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment a worker has; yields a connection-id prefix of this test's own."""
    prefix = f"gaps-{uuid.uuid4().hex[:8]}-"
    broker = redis_url()
    monkeypatch.setenv(settings.ENV_DATABASE, dsn)
    monkeypatch.setenv(settings.ENV_BROKER, broker)
    monkeypatch.setenv(ENV_FERNET_KEY, Fernet.generate_key().decode())
    yield prefix
    client = redis.Redis.from_url(broker)
    try:
        keys = list(client.scan_iter(match=f"loom_scim:*:{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _add(dsn: str, cid: str, url: str, key: str, fernet_key: str) -> None:
    with ConnectionRegistry(dsn, Cipher(fernet_key)) as registry:
        registry.add(cid, url, key)


def _status(dsn: str, cid: str) -> dict[str, object]:
    with ConnectionRegistry(dsn, Cipher(Fernet.generate_key().decode())) as registry:
        (item,) = [s for s in fleet_status(dsn, registry.list()) if s["id"] == cid]
    users: dict[str, object] = item["syncs"]["users"]
    return users


def test_error_kinds() -> None:
    def api(cls: type[ApiError]) -> ApiError:
        return cls("GET", "/Users", status=500, detail="x")

    assert error_kind(api(AuthenticationError)) == "auth"
    assert error_kind(api(RateLimitedError)) == "rate-limited"
    assert error_kind(api(ServerError)) == "server"
    assert error_kind(api(TransportError)) == "network"
    assert error_kind(FleetKeyError("is not set")) == "config"
    assert error_kind(ConfigError("x", "bad")) == "config"
    assert error_kind(StoreError("postgresql://db:5432/x", "down")) == "store"
    assert error_kind(ValueError("a bug")) == "other"


def test_status_names_the_last_error_class(
    dsn: str, fleet_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, token = fleet_env + "acme", f"Gaps-Key-{uuid.uuid4().hex}"
    with Sandbox(seed_users=5, token=token) as sandbox:
        _add(dsn, cid, sandbox.url, token, os.environ[ENV_FERNET_KEY])
        assert run_sync(cid, "users")["status"] == "success"
        assert _status(dsn, cid)["lastErrorClass"] is None

        sandbox.rotate_token()  # the stored key is refused now
        with pytest.raises(AuthenticationError):
            run_sync(cid, "users")
        users = _status(dsn, cid)
        assert (users["lastErrorClass"], users["lastErrorKind"]) == ("AuthenticationError", "auth")
        assert users["lastError"] and users["lastFailure"]

        out, err = io.StringIO(), io.StringIO()
        assert run(["fleet", "status"], out=out, err=err) == 0, err.getvalue()
        line = next(x for x in out.getvalue().splitlines() if x.strip().startswith("users"))
        assert "last error: [auth] AuthenticationError: " in line
        out = io.StringIO()
        assert run(["fleet", "status", "--json"], out=out, err=err) == 0
        shown = [json.loads(x) for x in out.getvalue().splitlines()]
        assert shown[0]["syncs"]["users"]["lastErrorKind"] == "auth"

        sandbox.tokens.token = token  # the key works again: a success clears the class
        assert run_sync(cid, "users")["status"] == "success"
        users = _status(dsn, cid)
        assert (users["lastErrorClass"], users["lastError"]) == (None, None)

        # A Fernet key that cannot read the stored key: a failure before any run began.
        monkeypatch.setenv(ENV_FERNET_KEY, Fernet.generate_key().decode())
        with pytest.raises(FleetKeyError):
            run_sync(cid, "users")
        users = _status(dsn, cid)
        assert (users["lastErrorClass"], users["lastErrorKind"]) == ("FleetKeyError", "config")
        assert ENV_FERNET_KEY in str(users["lastError"])
        assert token not in json.dumps(users, default=str) + out.getvalue() + err.getvalue()

        # Removing the connection forgets its errors too.
        assert run(["fleet", "remove", cid], out=io.StringIO(), err=io.StringIO()) == 0
        with psycopg.connect(dsn) as db:
            row = db.execute("SELECT count(*) FROM loom_scim_fleet_errors").fetchone()
        assert row == (0,)


def test_an_unknown_connection_id_exits_4_in_one_line(dsn: str, fleet_env: str) -> None:
    nobody = fleet_env + "nobody"
    for argv in (
        ["remove", nobody],
        ["sync-now", nobody],
        ["sync-now", nobody, "--wait"],
        ["release-held", nobody, "users", "1"],
    ):
        out, err = io.StringIO(), io.StringIO()
        assert run(["fleet", *argv], out=out, err=err) == 4, err.getvalue()
        assert err.getvalue() == f"loom-scim: error: no fleet connection {nobody!r}\n"
        assert out.getvalue() == ""


def test_a_fleet_sync_reuses_its_http_connections(dsn: str, fleet_env: str) -> None:
    """One sync: 500 users in 5 pages of 100, K=4 in flight; each request does not open
    a connection of its own (the sandbox counts TCP connections per workspace)."""
    cid = fleet_env + "pooled"
    with MultiSandbox(workspaces=1, users=500) as multi:
        _add(dsn, cid, multi.url(0), multi.token(0), os.environ[ENV_FERNET_KEY])
        report = run_sync(cid, "users")
        report_again = run_sync(cid, "users")
        stats = multi.stats()[0]
    assert (report["saved"], report_again["saved"]) == (500, 500)
    assert stats["requests"] == report["requests"] + report_again["requests"]
    assert stats["maxInFlight"] <= settings.max_in_flight()
    # Per sync: at most K connections (K requests at once), never one per request.
    assert stats["connections"] <= 2 * settings.max_in_flight() < stats["requests"]


def test_a_lower_sync_time_limit_shortens_the_visibility_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = make_app("redis://127.0.0.1:1/0", queue="q")
    assert default.conf.broker_transport_options["visibility_timeout"] > 2 * 3600
    monkeypatch.setenv(settings.ENV_SYNC_LIMIT, "20")
    monkeypatch.setenv(settings.ENV_BUSY_RETRY, "1")
    app = make_app("redis://127.0.0.1:1/0", queue="q")
    sync_task, action_task, _ = app.fleet_tasks
    assert (sync_task.time_limit, action_task.time_limit) == (20, 20)
    assert sync_task.soft_time_limit < 20 and action_task.soft_time_limit < 20
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == 2 * 20 + 1 + 1
    assert options["unacked_restore_interval"] <= 10
    for bad in ("5", "x", "0"):
        monkeypatch.setenv(settings.ENV_SYNC_LIMIT, bad)
        with pytest.raises(ConfigError, match=settings.ENV_SYNC_LIMIT):
            settings.sync_time_limit()
