"""A store belongs to one workspace (issue 18, case 4), through the public CLI.

The stand-in server (:mod:`tests.tenant_server`) tells workspaces apart by the bearer
token alone, behind one URL. A sync of workspace B into the store of workspace A used to
look A's users up with B's key, get a 404 for each and mark every one DELETED. Now the
store is bound to the key it was synced with (a salted fingerprint, never the key); a
new key must prove it sees the same workspace (a stored live user found by id) before
the store takes it: a rotated key does, another workspace's key does not and is refused
in one line, exit 2, nothing saved or deleted.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK, run

from .conftest import errors_of
from .tenant_server import TenantServer

A_USERS = [f"a-{i:04d}" for i in range(20)]
B_USERS = [f"b-{i:04d}" for i in range(20)]
KEY_A, KEY_A_ROTATED, KEY_B = (
    "key-of-A-" + "a" * 24,
    "key-of-A-next-" + "c" * 20,
    "key-of-B-" + "b" * 24,
)


@pytest.fixture
def server() -> Iterator[TenantServer]:
    with TenantServer({"A": list(A_USERS), "B": list(B_USERS)}, {KEY_A: "A", KEY_B: "B"}) as srv:
        yield srv


def sync(
    server: TenantServer, key: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[dict[str, object]], str]:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", key)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = run(["sync", "users", "--store", str(store)], out=out, err=err, stdin=io.StringIO())
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return code, lines, err.getvalue()


def deleted(line: dict[str, object]) -> bool:
    metadata = line.get("_metadata")
    return isinstance(metadata, dict) and metadata.get("lastAction") == "DELETED"


def stored(store: Path) -> tuple[set[str], set[str]]:
    """(live ids, deleted ids) as the store file holds them."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT id, deleted_at FROM records WHERE model = 'User'").fetchall()
    return {r for r, d in rows if d is None}, {r for r, d in rows if d is not None}


def test_another_workspaces_key_behind_the_same_url_is_refused_and_deletes_nothing(
    server: TenantServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "a.sqlite3"
    code, _, err = sync(server, KEY_A, store, monkeypatch)
    assert code == EXIT_OK, err
    assert stored(store) == (set(A_USERS), set())

    code, lines, err = sync(server, KEY_B, store, monkeypatch)

    assert stored(store) == (set(A_USERS), set()), "workspace A's users were touched"
    assert code == EXIT_BAD_INPUT, err
    assert errors_of(err).count("\n") == 1 and errors_of(err).startswith("loom-scim: error: store ")
    assert "another workspace" in err and "--store" in err
    assert not any(deleted(line) for line in lines)
    assert KEY_B not in err and KEY_A not in err
    with sqlite3.connect(store) as db:  # the key itself is never stored
        dump = "\n".join(db.iterdump())
    assert KEY_A not in dump and KEY_B not in dump

    # Workspace B gets a store of its own, as the message says, and syncs there.
    code, _, err = sync(server, KEY_B, tmp_path / "b.sqlite3", monkeypatch)
    assert code == EXIT_OK, err
    assert stored(tmp_path / "b.sqlite3") == (set(B_USERS), set())


def test_a_rotated_key_of_the_same_workspace_takes_the_store_over(
    server: TenantServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "a.sqlite3"
    assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_OK
    before = len(server.lookups())
    assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_OK
    assert len(server.lookups()) == before, "the same key needs no proof"

    # The key expires and is regenerated: the old one stops at once.
    server.tokens = {KEY_A_ROTATED: "A", KEY_B: "B"}
    server.tenants["A"].remove(A_USERS[0])  # someone left meanwhile
    code, lines, err = sync(server, KEY_A_ROTATED, store, monkeypatch)
    assert code == EXIT_OK, err
    assert "new API key" in err
    assert stored(store) == (set(A_USERS[1:]), {A_USERS[0]})
    assert [line["id"] for line in lines if deleted(line)] == [A_USERS[0]]

    # The store now follows the new key: B is still refused, the rotated key needs no proof.
    assert sync(server, KEY_B, store, monkeypatch)[0] == EXIT_BAD_INPUT
    before = len(server.lookups())
    assert sync(server, KEY_A_ROTATED, store, monkeypatch)[0] == EXIT_OK
    assert len(server.lookups()) == before
    assert stored(store) == (set(A_USERS[1:]), {A_USERS[0]})


def test_a_store_made_before_bindings_is_bound_by_the_key_that_proves_it(
    server: TenantServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "a.sqlite3"
    assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_OK
    with sqlite3.connect(store) as db:  # as an older version left it: no binding
        db.execute("DELETE FROM bindings")
    assert sync(server, KEY_B, store, monkeypatch)[0] == EXIT_BAD_INPUT
    assert stored(store) == (set(A_USERS), set())
    assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_OK
    assert sync(server, KEY_B, store, monkeypatch)[0] == EXIT_BAD_INPUT


def test_an_empty_store_binds_on_first_use(
    server: TenantServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "new.sqlite3"
    assert sync(server, KEY_B, store, monkeypatch)[0] == EXIT_OK
    assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_BAD_INPUT
    assert stored(store) == (set(B_USERS), set())


def test_ids_that_every_workspace_has_are_no_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that numbers each tenant's users 1, 2, 3 answers B's lookups of A's ids
    with B's own users: found by id is not enough, the identity must match too."""
    ids = [str(i) for i in range(1, 21)]
    tenants = {"A": list(ids), "B": list(ids)}
    with TenantServer(tenants, {KEY_A: "A", KEY_B: "B", KEY_A_ROTATED: "A"}) as server:
        store = tmp_path / "a.sqlite3"
        assert sync(server, KEY_A, store, monkeypatch)[0] == EXIT_OK
        code, lines, err = sync(server, KEY_B, store, monkeypatch)
        assert code == EXIT_BAD_INPUT, err
        assert not lines
        with sqlite3.connect(store) as db:
            emails = {json.loads(d)["email"] for (d,) in db.execute("SELECT data FROM records")}
        assert emails == {f"{i}@a.example.com" for i in ids}
        assert sync(server, KEY_A_ROTATED, store, monkeypatch)[0] == EXIT_OK
