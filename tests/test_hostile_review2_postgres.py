"""The second hostile review on a PostgreSQL store: a record whose id no PostgreSQL text
can hold never blocks a sync."""

from __future__ import annotations

import json

import pytest

from loom_scim_connector.cli import EXIT_OK

from .pg_server import postgres_url, require_psycopg
from .test_hostile_review2 import _user
from .test_speed_hostile import cli, listing, not_found, serve

require_psycopg()


def test_a_user_whose_id_holds_a_nul_is_quarantined_on_postgresql_not_a_failed_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL refuses a NUL in text: one listed user whose id held one failed every
    sync on a PostgreSQL store ('unexpected DataError ... please report it', exit 1,
    nothing saved), run after run. It is quarantined and reported; the rest are saved."""
    users = [_user("bad\x00id" if n == 2 else f"pg-nul-{n}", n) for n in range(1, 5)]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        code, out, err = cli(url, ["sync", "users", "--store", postgres_url()], monkeypatch)
    assert code == EXIT_OK, err
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == [
        "pg-nul-1",
        "pg-nul-3",
        "pg-nul-4",
    ]
    assert "1 quarantined" in err
