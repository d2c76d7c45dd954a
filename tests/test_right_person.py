"""The right person, on the servers Loom customers really have: a person is found by
email whatever the server's filter does, every account that carries the email is
acted on (and reported), and no account that no longer carries it is.

Through the CLI, against loopback stand-ins (tests/standin.py): an Atlassian-like server
where ``userName`` is a UPN and only ``userName``/``externalId`` can be filtered, a
server that compares filters case-sensitively, and an RFC server holding two accounts
of one email.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, run
from loom_scim_connector.store import SQLiteStore

from .standin import TOKEN, StandIn, serving, user

DONALD = "donald.wirth5@acme.example"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """Serve a stand-in and point the environment at it; the store in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    started: list[Any] = []

    def start(standin: StandIn) -> StandIn:
        context = serving(standin)
        started.append(context)
        context.__enter__()
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", standin.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", TOKEN)
        return standin

    yield start
    for context in started:
        context.__exit__(None, None, None)


def evidence(tmp_path: Path, url: str) -> list[Any]:
    store = SQLiteStore(tmp_path / "loom-scim.sqlite3", url)
    try:
        kept = store.evidence()
    finally:
        store.close()
    # Each change was announced by an intent (outcome unknown) that its outcome settles.
    settled = {e.intent_id for e in kept if e.intent_id is not None}
    assert all(e.evidence_id in settled for e in kept if e.outcome == "unknown")
    return [e for e in kept if e.outcome != "unknown"]


def atlassian() -> StandIn:
    """Entra maps userPrincipalName to userName: the email is only in ``emails``."""
    standin = StandIn("atlassian")
    standin.add(
        user("a1", "dwirth5@acmecorp.onmicrosoft.com", DONALD, externalId="e-1"),
        user("a2", "ada@acmecorp.onmicrosoft.com", "ada.okafor@acme.example", externalId="e-2"),
    )
    return standin


# -- case 6: userName is a UPN ------------------------------------------------------------


def test_offboard_finds_the_account_whose_username_is_a_upn(connect: Any, tmp_path: Path) -> None:
    standin = connect(atlassian())
    code, out, err = cli("offboard", DONALD)
    assert code == EXIT_OK, out + err
    assert standin.active("a1") is False and standin.active("a2") is True
    assert "deactivated" in out and "a1" in out
    [record] = evidence(tmp_path, standin.url)
    assert (record.user_id, record.outcome) == ("a1", "deactivated")
    # The filters the server refuses were tried, then the listing was read.
    assert 'GET /Users?filter=userName eq "donald.wirth5@acme.example"' in standin.log
    assert 'GET /Users?filter=emails.value eq "donald.wirth5@acme.example"' in standin.log


def test_create_user_adopts_the_upn_account_on_409(connect: Any) -> None:
    standin = connect(atlassian())
    payload = json.dumps({"email": DONALD, "firstName": "Donald"})
    code, out, err = cli("action", "create-user", "--input", payload)
    assert code == EXIT_OK, err
    result = json.loads(out)
    assert (result["id"], result["outcome"]) == ("a1", "existed")
    assert len(standin.users) == 2  # nobody created


def test_find_user_reads_emails_on_a_server_that_filters_only_username(connect: Any) -> None:
    connect(atlassian())
    code, out, err = cli("action", "find-user", "--input", json.dumps({"email": DONALD}))
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert found["found"] is True and [u["id"] for u in found["users"]] == ["a1"]


# -- case 7: filters compared case-sensitively ------------------------------------------------


def case_sensitive() -> StandIn:
    standin = StandIn("case_sensitive")
    standin.add(*(user(f"c{n}", f"user{n:03d}@acme.example") for n in range(1, 31)))
    return standin


def test_find_user_whatever_case_the_server_compares_in(connect: Any) -> None:
    connect(case_sensitive())
    email = "User026@Acme.Example"
    code, out, err = cli("action", "find-user", "--input", json.dumps({"email": email}))
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert found["found"] is True and found["user"]["id"] == "c26"


def test_offboard_on_a_fresh_store_whatever_case_the_server_compares_in(
    connect: Any, tmp_path: Path
) -> None:
    standin = connect(case_sensitive())
    code, out, err = cli("offboard", "User026@Acme.Example")
    assert code == EXIT_OK, out + err
    assert standin.active("c26") is False
    assert [u for u in standin.users.values() if u["active"] is False] == [standin.users["c26"]]


def test_not_found_says_what_was_searched(connect: Any, tmp_path: Path) -> None:
    standin = connect(atlassian())
    code, out, err = cli("offboard", "nobody@acme.example")
    assert code == EXIT_NOT_FOUND, out + err
    [record] = evidence(tmp_path, standin.url)
    assert record.outcome == "not_found"
    detail = record.detail or ""
    assert 'userName eq "nobody@acme.example"' in detail
    assert "emails.value" in detail and "refused" in detail
    assert "all 2 users read" in detail


def test_a_look_alike_address_is_named_next_to_not_found_and_never_acted_on(
    connect: Any, tmp_path: Path
) -> None:
    """A leaver's address typed with a full-width letter finds no account: the identity
    rule keeps it apart (another person, never acted on), but "not found" alone reads as
    "gone" while Donald keeps his access. The account it looks like is named."""
    standin = connect(atlassian())
    typed = "\uff44onald.wirth5@acme.example"  # a full-width d
    code, out, err = cli("offboard", typed)
    assert code == EXIT_NOT_FOUND, out + err
    assert standin.active("a1") is True
    [record] = evidence(tmp_path, standin.url)
    assert record.outcome == "not_found"
    hint = "only looks like it (another person to the connector; check it is the one meant)"
    assert f"{hint}: {DONALD} (id a1)" in (record.detail or "")
    code, out, err = cli("action", "find-user", "--input", json.dumps({"email": typed}))
    found = json.loads(out)
    assert found["found"] is False and found["lookAlikes"] == [f"{DONALD} (id a1)"]


def test_a_scan_cut_at_its_bound_is_not_not_found(
    connect: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("loom_scim_connector.actions._find.SCAN_LIMIT", 10)
    standin = StandIn("atlassian")
    standin.add(*(user(f"c{n}", f"upn{n}@corp.example", f"p{n}@acme.example") for n in range(30)))
    connect(standin)
    code, out, err = cli("offboard", "p25@acme.example")
    assert code == EXIT_FAILURE, out + err
    [record] = evidence(tmp_path, standin.url)
    assert record.outcome == "incomplete"
    assert "not found in the first 10" in (record.detail or "")
    assert standin.writes() == []  # nothing changed
    assert standin.active("c25") is True


# -- case 4: two accounts, one email ------------------------------------------------------


def test_every_account_of_the_email_is_offboarded_and_reported(
    connect: Any, tmp_path: Path
) -> None:
    standin = StandIn("rfc")
    standin.add(
        user("b1", "Bob@acme.example", externalId="idp-bob"),  # from the IdP
        user("b2", "bob@acme.example"),  # from domain capture
        user("x1", "bobby@acme.example"),
    )
    connect(standin)
    code, out, err = cli("offboard", "bob@acme.example")
    assert code == EXIT_OK, out + err
    assert (standin.active("b1"), standin.active("b2"), standin.active("x1")) == (
        False,
        False,
        True,
    )
    rows = [line for line in out.splitlines() if "deactivated" in line]
    assert len(rows) == 2 and "b1" in rows[0] + rows[1] and "b2" in rows[0] + rows[1]
    records = evidence(tmp_path, standin.url)
    assert sorted((e.user_id, e.outcome) for e in records) == [
        ("b1", "deactivated"),
        ("b2", "deactivated"),
    ]


def test_an_account_that_changed_email_since_it_was_found_is_skipped(
    connect: Any, tmp_path: Path
) -> None:
    """The store (synced) knows two accounts of bob@; one was renamed since: only the
    one that still carries bob@ is offboarded; the other is reported and recorded."""
    standin = StandIn("rfc")
    standin.add(user("b1", "bob@acme.example"), user("b2", "Bob@acme.example"))
    connect(standin)
    assert cli("sync", "users", "--format", "table")[0] == EXIT_OK
    standin.users["b2"].update(user("b2", "robert@acme.example"))
    code, out, err = cli("offboard", "bob@acme.example")
    assert code == EXIT_OK, out + err
    assert (standin.active("b1"), standin.active("b2")) == (False, True)
    records = {e.user_id: e for e in evidence(tmp_path, standin.url)}
    assert records["b1"].outcome == "deactivated"
    assert records["b2"].outcome == "skipped"
    assert "robert@acme.example" in (records["b2"].detail or "")
