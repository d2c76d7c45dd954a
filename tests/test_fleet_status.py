"""``loom-scim fleet status``: key expiry, last success, last error, next run and held
runs per connection, from PostgreSQL (in a schema of this test's own)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date

import pytest

from .pg_server import require_psycopg, schema_of_its_own

require_psycopg()
pytest.importorskip("cryptography", reason="needs the fleet extra (cryptography)")

from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.cli import run  # noqa: E402
from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.connections import (  # noqa: E402
    ENV_FERNET_KEY,
    Cipher,
    ConnectionRegistry,
)
from loom_scim_connector.fleet.schedule import Dispatcher  # noqa: E402
from loom_scim_connector.fleet.settings import store_key  # noqa: E402
from loom_scim_connector.fleet.status import fleet_status  # noqa: E402
from loom_scim_connector.store.postgres import PostgresStore  # noqa: E402

URL = "https://scim.example.com/scim/v2"
KEY = "status-Secret-Key-41c9e2"


@pytest.fixture
def dsn() -> Iterator[str]:
    with schema_of_its_own() as conninfo:
        yield conninfo


def test_status_per_connection(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fernet_key = Fernet.generate_key().decode()
    with ConnectionRegistry(dsn, Cipher(fernet_key)) as registry:
        registry.add("acme", URL, KEY, api_key_expires_at="2027-01-31")
        registry.add("globex", URL, KEY, schedule="every 30m")
        registry.add("new", URL, KEY)
    store = PostgresStore(dsn, store_key("acme"))
    try:
        ok = store.begin_run("users", "User", lease=30)
        store.finish_run(ok, "success")
        bad = store.begin_run("groups", "Group", lease=30)
        store.finish_run(bad, "failed", error="AuthenticationError: the key was refused")
        held = store.begin_run("users", "User", lease=30)
        store.finish_run(held, "held", held=["u1", "u2"])
    finally:
        store.close()
    with Dispatcher(dsn, clock=lambda: 1_800_000_000.0) as dispatcher:
        dispatcher.dispatch({"users": 3600}, lambda cid, sync: f"{cid}-{sync}", prefix="globex")

    with ConnectionRegistry(dsn, Cipher(fernet_key)) as registry:
        acme, globex, new = fleet_status(dsn, registry.list(), today=date(2027, 1, 1))
    assert (acme["apiKeyExpiresAt"], acme["daysUntilKeyExpiry"]) == ("2027-01-31", 30)
    users, groups = acme["syncs"]["users"], acme["syncs"]["groups"]
    assert users["lastSuccess"] is not None and users["lastError"] is None
    assert users["held"] == [{"runId": held.run_id, "records": 2}]
    assert groups["lastSuccess"] is None
    assert groups["lastError"] == "AuthenticationError: the key was refused"
    assert globex["syncs"]["users"] == {
        "state": "queued",  # by the dispatch, and no run has started since
        "running": None,
        "queued": {"since": "2027-01-15T08:00:00+00:00", "taskId": "globex-users"},
        "lastSuccess": None,
        "lastFailure": None,
        "lastError": None,
        "lastErrorClass": None,
        "lastErrorKind": None,
        "nextRun": "2027-01-15T08:30:00+00:00",
        "held": [],
    }
    assert set(new["syncs"]) == {"users", "groups"} and new["daysUntilKeyExpiry"] is None

    monkeypatch.setenv(settings.ENV_DATABASE, dsn)
    monkeypatch.setenv(ENV_FERNET_KEY, fernet_key)
    out, err = io.StringIO(), io.StringIO()
    assert run(["fleet", "status", "--json"], out=out, err=err) == 0, err.getvalue()
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [
        "acme",
        "globex",
        "new",
    ]
    out = io.StringIO()
    assert run(["fleet", "status"], out=out, err=err) == 0
    text = out.getvalue()
    assert f"HELD: run {held.run_id} (2 records)" in text
    assert "last error: AuthenticationError" in text
    assert KEY not in text + err.getvalue()
