"""A second hostile review of the fast sync path as merged (fastread, pages queued ahead,
the one-statement sighting, the CLI's start-up): the public CLI against raw stand-ins on
loopback, one test for each break found, named for what it proves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_OK

from .test_speed_hostile import cli, deleted, listing, not_found, raw, serve


def _user(uid: str, n: int) -> dict[str, Any]:
    email = f"u{n}@acme.example"
    return {"id": uid, "userName": email, "emails": [{"value": email}], "active": True}


# -- the sighting of unchanged records in one statement ---------------------------------


def test_an_unchanged_user_whose_id_holds_a_nul_is_seen_and_never_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQLite store moves unchanged rows' sighting with ``id IN json_each(?)``; SQLite
    cuts a JSON string's value at an escaped NUL (``\\u0000``), so a listed, unchanged user
    whose id holds one kept its old sighting, became a deletion candidate and was deleted
    when the server's lookup of that id (a path with ``%00``) answered a SCIM 404: a user
    this very walk listed. Every listed user must count as seen: no lookup, no deletion."""
    users = [_user(f"odd\x00{n}" if n % 2 else str(n), n) for n in range(1, 7)]
    store = tmp_path / "s.sqlite3"
    argv = ["sync", "users", "--store", str(store)]
    lookups: list[str] = []

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users":
            return listing(users, query)
        lookups.append(path)
        found = [u for u in users if path == f"/Users/{u['id']}"]
        return raw(200, found[0]) if found else not_found()  # a NUL in a path finds no one

    with serve(answer) as url:
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
    assert deleted(store) == set()
    assert not [p for p in lookups if "%00" in p], "a listed user was looked up as gone"
    actions = [json.loads(line)["_metadata"]["lastAction"] for line in out.splitlines()]
    assert actions == ["UNCHANGED"] * len(users)
