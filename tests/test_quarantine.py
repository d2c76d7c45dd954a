"""Issue 18, case 9: one unreadable record (or lookup answer) must not poison every sync.

Through the public CLI against a :class:`~tests.simserver.SimServer` served on
127.0.0.1: a first sync is clean; then one user is served unreadable (an empty id, a
lone surrogate in a name, or a deleted user whose lookup answers a scrubbed
``200 {"id", "active": false}``) while another user leaves. The second sync must
succeed, delete the leaver, keep the bad record, and name it (id and why) in the
summary and on stderr. On SQLite and on PostgreSQL. Before the quarantine, each of
these failed every later sync with "unexpected ... please report it".
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from loom_scim_connector import LoomConnection
from loom_scim_connector.cli import EXIT_OK, run
from loom_scim_connector.host import LocalHost

from .conftest import SECRET
from .loopback import Loopback
from .simserver import SimServer, deleted_ids


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    from .pg_server import postgres_url, require_psycopg

    require_psycopg()
    return postgres_url()  # each test's loopback port is its own connection key


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SimServer, str]]:
    sim = SimServer.with_users(12)
    with Loopback(sim) as server:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", SECRET)
        yield sim, server.url


def stored(url: str, store: str) -> LocalHost:
    return LocalHost(LoomConnection.create(url, SECRET), store=store)


@pytest.mark.parametrize("kind", ["empty_id", "surrogate_name", "scrubbed_lookup"])
def test_one_unreadable_record_is_quarantined_and_the_leaver_still_deleted(
    served: tuple[SimServer, str], store: str, kind: str
) -> None:
    sim, url = served
    code, out, err = cli("sync", "users", "--store", store)
    assert code == EXIT_OK, err
    bad, leaver = sim.listing[2], sim.listing[5]
    if kind == "scrubbed_lookup":  # gone from the list; its lookup: 200 {"id", "active"}
        sim.scrubbed.add(bad)
        sim.delete(bad)
    else:
        sim.unreadable[bad] = "empty_id" if kind == "empty_id" else "surrogate_name"
    sim.delete(leaver)

    for attempt in (1, 2):  # and the next sync is not poisoned either
        code, out, err = cli("sync", "users", "--store", store)
        assert code == EXIT_OK, err
        assert "unexpected" not in err and "Traceback" not in err
        # An empty id names no record: the listing's entry is quarantined without an id,
        # and the stored record it was, now unlisted, is looked up: unreadable too, kept.
        count = 2 if kind == "empty_id" else 1
        assert f", {count} quarantined," in err.splitlines()[-1], err
        assert f"{bad}: " in err, err
        if kind == "empty_id":
            assert "(no usable id): its id is empty" in err
        deleted = [json.loads(line)["id"] for line in out.splitlines() if '"DELETED"' in line]
        assert deleted == ([leaver] if attempt == 1 else []), out

    with closing(stored(url, store)) as host:
        assert deleted_ids(host) == {leaver}
        live = {str(r["id"]) for r in host.records("User")}
        assert bad in live, "the unreadable record was not kept"
        assert live == set(sim.users) | ({bad} if kind == "scrubbed_lookup" else set())
        assert all("\udc3c" not in json.dumps(r) for r in host.records("User"))


def test_the_reason_says_why_for_a_missing_email(served: tuple[SimServer, str], store: str) -> None:
    sim, _ = served
    assert cli("sync", "users", "--store", store)[0] == EXIT_OK
    sim.unreadable[sim.listing[0]] = "no_email"
    code, _, err = cli("sync", "users", "--store", store)
    assert code == EXIT_OK, err
    assert f"{sim.listing[0]}: emails (or userName) is missing or not text" in err
