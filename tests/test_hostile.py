"""What a hostile reviewer found from outside: the public CLI against a small stand-in
(:mod:`tests.hostile_server`, written apart from the project's other stand-ins), one test
for each break, each seen failing before its fix."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK, run

from .hostile_server import ERROR, Hostile, serve, user

KEY_A = "tok-A-0123456789abcdef"
KEY_B = "tok-B-9876543210fedcba"


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, str]]:
    state = Hostile()
    with serve(state) as url:
        yield state, url


def cli(
    url: str, key: str, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[dict[str, Any]], str]:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", key)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, out=out, err=err, stdin=io.StringIO())
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return code, lines, err.getvalue()


def live(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT id FROM records WHERE deleted_at IS NULL").fetchall()
    return {str(rid) for (rid,) in rows}


def test_another_workspace_sharing_one_id_and_email_does_not_take_the_store(
    hostile: tuple[Hostile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces behind one URL, told apart by the token, numbering their users
    1, 2, 3: the admin who set both up is user 1 in each, with one email. One probe
    found with the same id and email used to be proof enough: the store followed B's
    key, and B's sync marked A's six other live users DELETED (exit 0)."""
    state, url = hostile
    state.tenants[KEY_A] = [user(str(i), f"u{i}@acme.example") for i in range(1, 8)]
    state.tenants[KEY_B] = [
        user("1", "u1@acme.example"),
        user("b2", "x@eu.example"),
        user("b3", "y@eu.example"),
    ]
    store = tmp_path / "a.sqlite3"
    argv = ["sync", "users", "--store", str(store)]
    assert cli(url, KEY_A, argv, monkeypatch)[0] == EXIT_OK

    code, lines, err = cli(url, KEY_B, argv, monkeypatch)

    assert not [line["id"] for line in lines if line["_metadata"]["lastAction"] == "DELETED"]
    assert live(store) == {str(i) for i in range(1, 8)}, "workspace A's users were touched"
    assert code == EXIT_BAD_INPUT, err
    assert "another workspace" in err


def test_offboard_finds_an_account_carrying_the_email_only_in_emails_beside_one_by_username(
    hostile: tuple[Hostile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One person, two accounts: ``bob@`` as userName, and an Entra-provisioned one whose
    userName is a UPN with ``bob@`` only in ``emails``. The search stopped at the first
    filter that found anyone (``userName eq``), so offboard deactivated one, exited 0,
    and left the other active."""
    state, url = hostile
    upn = user("2", "bob.upn@corp.onmicrosoft.com")
    upn["emails"] = [{"value": "bob@acme.example", "primary": True}]
    state.tenants[KEY_A] = [user("1", "bob@acme.example"), upn, user("3", "x@acme.example")]
    argv = ["offboard", "bob@acme.example", "--json", "--store", str(tmp_path / "s.sqlite3")]

    code, _, err = cli(url, KEY_A, argv, monkeypatch)

    assert {u["id"]: u["active"] for u in state.tenants[KEY_A]} == {
        "1": False,
        "2": False,
        "3": True,
    }
    assert code == EXIT_OK, err


def test_a_key_echoed_in_base64_is_not_printed(
    hostile: tuple[Hostile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = hostile
    key = "Ab3+Zk/9QwErTy-LoNg_KeY.xyz=="
    echo = base64.b64encode(f"Bearer {key}".encode()).decode()
    state.hook = lambda method, path, query, token, body: (
        400,
        {"schemas": [ERROR], "status": "400", "detail": f"request header was {echo}"},
    )
    code, _, err = cli(
        url, key, ["sync", "users", "--store", str(tmp_path / "s.sqlite3")], monkeypatch
    )
    assert code != EXIT_OK
    assert echo not in err and echo[:16] not in err
