"""``review``: the access review as self-contained HTML and as CSV, from the store.

What a browser shows is checked in tests/test_review_browser.py; here, the content.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.audit.review import build_review
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK, run
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.store import SQLiteStore

from .conftest import errors_of

EVIL = '<img src=x onerror="alert(1)">'


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), errors_of(err.getvalue())


def users(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(sandbox.call("GET", "/Users", query={"count": "100"})["Resources"])


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
    monkeypatch.setenv("LOOM_SCIM_API_KEY_EXPIRES_AT", str(date.today() + timedelta(days=20)))
    monkeypatch.chdir(tmp_path)
    return sandbox


def test_the_report_covers_members_evidence_and_the_key(env: Sandbox, tmp_path: Path) -> None:
    env.call(
        "POST",
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "mallory@acme.example",
            "name": {"givenName": EVIL, "familyName": "=HYPERLINK(1)"},
            "emails": [{"value": "mallory@acme.example", "primary": True}],
            "active": True,
        },
    )
    leaver = next(u for u in users(env) if u.get("active") and u.get("externalId"))
    assert cli("offboard", leaver["userName"])[0] == EXIT_OK
    code, out, err = cli("review", "--csv", "members.csv")
    assert code == EXIT_OK, err
    html_path = tmp_path / f"loom-access-review-{date.today().isoformat()}.html"
    assert out.splitlines() == [html_path.name, "members.csv"]
    page = html_path.read_text()
    shown = page.replace("<wbr>", "")  # an email may break after its @
    # Every member, escaped; nothing the server sent becomes markup.
    for user in users(env):
        assert user["userName"] in shown
    assert EVIL not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    # Self-contained: no script, no link, no external reference.
    assert not re.search(r"<(script|link|iframe|img)\b|<[^>]*\b(src|href)\s*=|@import|url\(", page)
    assert "default-src 'none'" in page
    # The key's expiry, and the offboarding with its verified outcome.
    assert 'id="key-expiry" data-status="expiring"' in page
    assert "The SCIM key expires in 20 days" in page
    assert f"PATCH /Users/{leaver['id']} -&gt; 204" in page
    assert "read back active=false" in page
    # The charts: a stacked bar per role, and the unmanaged at a glance.
    assert page.count('class="bar-managed"') == page.count('class="bar-unmanaged"') >= 3
    unmanaged = sum(1 for u in users(env) if u.get("active") and not u.get("externalId"))
    assert f'<section id="at-risk" data-count="{unmanaged}">' in page
    assert page.count('class="cell-risk"') == unmanaged
    assert env.token not in page


def test_the_csv_has_one_row_a_member_and_no_formulas(env: Sandbox, tmp_path: Path) -> None:
    env.call(
        "POST",
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "formula@acme.example",
            "name": {"givenName": "=cmd|' /C calc'!A0", "familyName": "X"},
            "emails": [{"value": "formula@acme.example", "primary": True}],
            "active": True,
        },
    )
    leaver = next(u for u in users(env) if u.get("active"))
    cli("offboard", leaver["userName"], "--actor", "auditor")
    code, _, err = cli("review", "--html", "r.html", "--csv", "r.csv")
    assert code == EXIT_OK, err
    rows = list(csv.DictReader((tmp_path / "r.csv").open(newline="")))
    assert len(rows) == len(users(env))
    by_email = {r["email"]: r for r in rows}
    assert by_email["formula@acme.example"]["name"].startswith("'=")
    left = by_email[leaver["userName"]]
    assert (left["status"], left["lastOutcome"], left["lastActor"]) == (
        "inactive",
        "deactivated",
        "auditor",
    )
    assert {r["managed"] for r in rows} == {"managed", "unmanaged"}


def test_a_roster_adds_status_and_orphans(env: Sandbox, tmp_path: Path) -> None:
    active = [u for u in users(env) if u.get("active")]
    stays, gone, absent = active[:-2], active[-2], active[-1]
    lines = ["email,name,status"] + [f"{u['userName']},Someone,active" for u in stays]
    lines.append(f"{gone['userName']},Someone,terminated")
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(lines) + "\n")
    code, _, err = cli("review", "--html", "r.html", "--csv", "r.csv", "--roster", str(roster))
    assert code == EXIT_OK, err
    page = (tmp_path / "r.html").read_text()
    assert "Orphaned members at a glance: 2 of" in page
    assert '<div class="card risk" id="count-orphaned"><b>2</b>' in page
    rows = {r["email"]: r for r in csv.DictReader((tmp_path / "r.csv").open(newline=""))}
    assert rows[absent["userName"]]["rosterStatus"] == "not in the roster"
    assert "terminated" in rows[gone["userName"]]["rosterStatus"]
    assert rows[stays[0]["userName"]]["rosterStatus"] == "in the roster"
    assert rows[absent["userName"]]["findings"].startswith("orphaned")


def test_no_sync_uses_the_store_as_it_is(env: Sandbox, tmp_path: Path) -> None:
    SQLiteStore("loom-scim.sqlite3", env.url).close()  # an empty store
    served = env.app.requests_served
    code, _, err = cli("review", "--no-sync", "--html", "empty.html")
    assert code == EXIT_OK, err
    page = (tmp_path / "empty.html").read_text()
    assert "No active members in the store." in page and "Members (0)" in page
    assert env.app.requests_served == served  # nothing was sent


def test_bad_review_arguments_are_one_line_exit_2(env: Sandbox, tmp_path: Path) -> None:
    SQLiteStore("loom-scim.sqlite3", env.url).close()  # an empty store
    code, _, err = cli("review", "--no-sync", "--map", "email=Mail")
    assert code == EXIT_BAD_INPUT and "--map" in err and err.count("\n") == 1
    code, _, err = cli("review", "--no-sync", "--html", str(tmp_path / "no" / "r.html"))
    assert code == EXIT_BAD_INPUT and "cannot be written" in err
    code, _, err = cli("review", "--no-sync", "--roster", str(tmp_path / "nope.csv"))
    assert code == EXIT_BAD_INPUT and "nope.csv" in err and "Traceback" not in err


def test_an_expired_or_unknown_key_is_shown(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", "https://scim.example.com/scim/v2")
    expired = LoomConnection.create(
        "https://scim.example.com/scim/v2", "k" * 20, api_key_expires_at="2020-01-01"
    )
    review = build_review(store, expired, today=date(2020, 1, 31))
    assert (review.key_status, review.key_days_left) == ("expired", -30)
    from loom_scim_connector.audit._review_html import render

    assert "expired 30 days ago" in render(review)
    unknown = build_review(
        store, LoomConnection.create("https://scim.example.com/scim/v2", "k" * 20)
    )
    assert unknown.key_status == "unknown" and "expiry unknown" in render(unknown)
    store.close()


def test_the_sign_off_block_and_the_csv_decision_columns(env: Sandbox, tmp_path: Path) -> None:
    """Issue 20, point 11: a reviewer, a date, and a decision per finding (keep, remove,
    investigate) with a place to record it; the CSV carries the same, empty to fill in."""
    active = [u for u in users(env) if u.get("active")]
    lines = ["email,name,status"] + [f"{u['userName']},Someone,active" for u in active[:-1]]
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(lines) + "\n")
    argv = ["review", "--html", "r.html", "--csv", "r.csv", "--roster", str(roster)]
    code, _, err = cli(*argv, "--reviewer", "Dana Whitfield")
    assert code == EXIT_OK, err
    page = (tmp_path / "r.html").read_text()
    block = page[page.index('<section id="sign-off"') :]
    block = block[: block.index("</section>")]
    # One row a member with a finding: the orphan, and every unmanaged one.
    decide = {active[-1]["id"]} | {u["id"] for u in active if not u.get("externalId")}
    assert f'data-findings="{len(decide)}"' in block
    assert set(re.findall(r'<tr data-id="([^"]+)"', block)) == decide
    for n in range(1, len(decide) + 1):
        for choice in ("keep", "remove", "investigate"):
            assert f'name="decision-{n}" value="{choice}"' in block
    assert block.count('aria-label="Note on ') == len(decide)
    assert "<b>Dana Whitfield</b>" in block and 'aria-label="Date"' in block
    assert "orphaned: not in the roster" in block
    with (tmp_path / "r.csv").open(newline="") as sheet:
        reader = csv.DictReader(sheet)
        rows = list(reader)
    assert reader.fieldnames is not None
    assert reader.fieldnames[-3:] == ["decision", "reviewer", "decidedOn"]
    assert {(r["decision"], r["reviewer"], r["decidedOn"]) for r in rows} == {
        ("", "Dana Whitfield", "")
    }
    # Without --reviewer, the name is left to be written in.
    code, _, err = cli("review", "--no-sync", "--html", "blank.html", "--csv", "blank.csv")
    assert code == EXIT_OK, err
    assert '<input type="text" aria-label="Reviewer">' in (tmp_path / "blank.html").read_text()
    with (tmp_path / "blank.csv").open(newline="") as sheet:
        assert {r["reviewer"] for r in csv.DictReader(sheet)} == {""}


def test_the_roster_column_says_deactivated_in_words(tmp_path: Path) -> None:
    """A member inactive in Loom whom the roster marks Deactivated: the roster's state,
    in reconcile's words, not '-'; one the roster lacks: 'not in the roster'."""
    store = SQLiteStore(tmp_path / "s.sqlite3", "https://scim.example.com/scim/v2")
    run = store.begin_run("users", "User", lease=60)
    records = [
        {"id": f"u{n}", "email": f"p{n}@acme.example", "active": active, "externalId": f"e{n}"}
        for n, active in ((1, False), (2, True), (3, False))
    ]
    store.save(run, records)
    store.finish_run(run, "success")
    roster = tmp_path / "okta.csv"
    roster.write_text("email,name,status\np1@acme.example,Pat One,Deactivated\n"
                      "p2@acme.example,Pat Two,Active\n")  # fmt: skip
    connection = LoomConnection.create("https://scim.example.com/scim/v2", "k" * 20)
    review = build_review(store, connection, roster=roster)
    said = {m.id: (m.roster_status, m.name) for m in review.members}
    assert said == {
        "u1": ("the roster says Deactivated (gone from the IdP)", "Pat One"),
        "u2": ("in the roster", "Pat Two"),
        "u3": ("not in the roster", None),
    }
    store.close()
