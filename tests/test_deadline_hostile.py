"""The request deadline against stalls other than a byte drip, and what a write that
hit it reports: from outside, the real CLI in a subprocess (:mod:`tests.deadline_cli`,
its retries instant) against :mod:`tests.stall_server` on loopback.

A DELETE whose first attempt reached the server but whose answer never came (the
deadline) is sent again and answered 404: the connector's own first attempt deleted
the account, so the outcome is "deleted", never "already_gone" ("the user was already
gone"), which the offboarding evidence would keep as a false statement of who did it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from loom_scim_connector.cli import EXIT_FAILURE, EXIT_OK

from .drip_server import ERROR, user
from .stall_server import StallState, serve
from .test_deadline import DEADLINE, error_lines, loom_scim


class Deleting(StallState):
    """The drip server's users, and DELETE: 204 once, 404 after."""

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        path = unquote(urlsplit(target).path.removeprefix("/scim/v2"))
        if method != "DELETE":
            return super().answer(method, target, body)
        with self.lock:
            self.log.append(f"{method} {path}")
            for found in [u for u in self.users if path == f"/Users/{u['id']}"]:
                self.users.remove(found)
                return 204, None
        return 404, {"schemas": [ERROR], "status": "404", "detail": "not found"}


@pytest.fixture
def stalling() -> Iterator[tuple[Deleting, str]]:
    state = Deleting(users=[user(f"u{n}", f"person{n}@acme.example") for n in range(3)])
    with serve(state) as url:
        yield state, url


def first_delete_unanswered(state: Deleting) -> None:
    """The first DELETE is applied, then its answer never comes (nothing is sent)."""
    deletes = []

    def stall(method: str, _path: str, _query: dict[str, list[str]]) -> str | None:
        if method != "DELETE":
            return None
        deletes.append(1)
        return "silent" if len(deletes) == 1 else None

    state.stall = stall


@pytest.mark.parametrize("how", ["chunked", "continue", "silent"])
def test_a_list_page_that_never_ends_fails_the_sync_and_deletes_nothing(
    stalling: tuple[Deleting, str], tmp_path: Path, how: str
) -> None:
    state, url = stalling
    store = tmp_path / "s.db"
    assert loom_scim(url, "sync", "users", "--store", str(store), cwd=tmp_path).returncode == 0
    state.stall = lambda method, path, _q: how if (method, path) == ("GET", "/Users") else None
    done = loom_scim(url, "sync", "users", "--store", str(store), "-q", cwd=tmp_path)
    assert done.returncode == EXIT_FAILURE, done.stderr
    (line,) = error_lines(done.stderr)
    assert f"request deadline of {DEADLINE:g} s" in line
    with sqlite3.connect(store) as db:
        (live,) = db.execute("SELECT count(*) FROM records WHERE deleted_at IS NULL").fetchone()
    assert live == 3


def test_a_delete_whose_answer_never_came_and_is_then_404_is_deleted_not_already_gone(
    stalling: tuple[Deleting, str], tmp_path: Path
) -> None:
    state, url = stalling
    first_delete_unanswered(state)
    done = loom_scim(url, "action", "delete-user", "--input", '{"id": "u1"}', cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert state.log.count("DELETE /Users/u1") == 2, state.log
    assert json.loads(done.stdout)["outcome"] == "deleted"


def test_offboard_evidence_says_deleted_when_its_own_unanswered_delete_removed_the_account(
    stalling: tuple[Deleting, str], tmp_path: Path
) -> None:
    state, url = stalling
    first_delete_unanswered(state)
    store = tmp_path / "s.db"
    done = loom_scim(
        url, "offboard", "--delete", "person1@acme.example", "--store", str(store), cwd=tmp_path
    )
    assert done.returncode == EXIT_OK, done.stderr
    with sqlite3.connect(store) as db:
        outcomes = [o for (o,) in db.execute("SELECT outcome FROM evidence WHERE user_id = 'u1'")]
    assert outcomes[-1] == "deleted", outcomes


class DeletingBehindAGateway(Deleting):
    """The first DELETE is applied, then a gateway answers 502 (the server's answer lost
    behind it); the retry is answered 404."""

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        if method == "DELETE" and not any(line.startswith("DELETE") for line in self.log):
            super().answer(method, target, body)
            return 502, {"message": "Bad Gateway"}
        return super().answer(method, target, body)


def test_a_delete_answered_502_after_it_landed_and_then_404_is_deleted_not_already_gone(
    tmp_path: Path,
) -> None:
    state = DeletingBehindAGateway(users=[user("u1", "person1@acme.example")])
    with serve(state) as url:
        done = loom_scim(url, "action", "delete-user", "--input", '{"id": "u1"}', cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert state.log.count("DELETE /Users/u1") == 2, state.log
    assert json.loads(done.stdout)["outcome"] == "deleted"
