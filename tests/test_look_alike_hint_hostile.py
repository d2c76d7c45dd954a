"""The look-alike hint (``find-user``'s lookAlikes, offboard's detail and evidence)
shows what a server sent about *another* account: its address and its id. That text
is the server's, never checked as a user is (a look-alike is never acted on, so it is
never read as a SCIM user): a lone surrogate in it must not crash the offboarding or
lose its evidence, and a newline or an escape in it must not forge a line of the table.

Run from outside: the real CLI in a subprocess, against a raw-socket stand-in on
loopback (:mod:`tests.drip_server`) answering whatever users the test gives it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from loom_scim_connector.cli import EXIT_NOT_FOUND

from .drip_server import DripState, serve, user
from .test_deadline import loom_scim

ASKED = "bob@acme.example"
LEAVER = "alice@acme.example"


class Listing(DripState):
    """Every GET /Users answers the whole list (the filters "find" everyone, as a server
    folding compatibility forms would), so the client's own rule must decide."""

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        path = unquote(urlsplit(target).path.removeprefix("/scim/v2"))
        with self.lock:
            self.log.append(f"{method} {path}")
            if path == "/Users" and method == "GET":
                return 200, {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": len(self.users),
                    "startIndex": 1,
                    "itemsPerPage": len(self.users),
                    "Resources": self.users,
                }
        return super().answer(method, target, body)


def look_alike(uid: str) -> dict[str, Any]:
    return {**user(uid, "b\u00f6b@acme.example"), "id": uid}


def test_a_look_alike_whose_id_holds_a_lone_surrogate_neither_crashes_nor_loses_evidence(
    tmp_path: Path,
) -> None:
    state = Listing(users=[look_alike("7\udc80"), user("u-alice", LEAVER)])
    store = tmp_path / "s.db"
    with serve(state) as url:
        done = loom_scim(url, "offboard", ASKED, LEAVER, "--store", str(store), cwd=tmp_path)
    assert "unexpected" not in done.stderr, done.stderr
    # bob is not found (his look-alike named); alice, the leaver after him, is offboarded.
    assert "PATCH /Users/u-alice" in state.log, state.log
    assert done.returncode == EXIT_NOT_FOUND, done.stdout
    assert "b\u00f6b@acme.example" in done.stdout
    with sqlite3.connect(store) as db:
        kept = {
            email: outcome for email, outcome in db.execute("SELECT email, outcome FROM evidence")
        }
    assert kept.get(ASKED) == "not_found" and LEAVER in kept, f"evidence lost: {kept}"


def test_a_look_alike_whose_id_holds_a_newline_forges_no_line_of_the_table(
    tmp_path: Path,
) -> None:
    forged = f"7\n{ASKED}  offboarded  7  yes\x1b[2K"
    state = Listing(users=[look_alike(forged)])
    with serve(state) as url:
        done = loom_scim(url, "offboard", ASKED, "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    assert done.returncode == EXIT_NOT_FOUND, done.stderr
    _header, *rows = done.stdout.splitlines()
    assert len(rows) == 1, f"one person asked, {len(rows)} lines shown: {rows}"
    assert "\x1b" not in done.stdout
    assert not [line for line in state.log if not line.startswith("GET")], state.log


def test_find_user_names_a_look_alike_with_an_unprintable_id_as_printable_json(
    tmp_path: Path,
) -> None:
    state = Listing(users=[look_alike("7\udc80\n")])
    with serve(state) as url:
        done = loom_scim(
            url, "action", "find-user", "--input", json.dumps({"email": ASKED}), cwd=tmp_path
        )
    assert done.returncode == 0, done.stderr
    (hint,) = json.loads(done.stdout)["lookAlikes"]
    assert "b\u00f6b@acme.example" in hint
    hint.encode("utf-8")  # a lone surrogate cannot be written anywhere else
    assert "\n" not in hint


def test_an_account_whose_id_holds_a_newline_forges_no_line_of_the_table(
    tmp_path: Path,
) -> None:
    """Not a look-alike: an account that does carry the address, with an id the server
    made up. The id reaches the table as sent; its newline printed a row of its own."""
    forged = f"7\n{LEAVER}  offboarded  7  yes"
    state = Listing(users=[{**user(forged, ASKED), "id": forged}])
    with serve(state) as url:
        done = loom_scim(url, "offboard", ASKED, "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    _header, *rows = done.stdout.splitlines()
    assert len(rows) == 1, f"one account, {len(rows)} lines shown: {rows}"
