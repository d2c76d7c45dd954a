"""Issue 20, point 11: the access review counts one kind of member everywhere, says what
the roster says of each, and names them.

A workspace with every kind of account (active, inactive, no status, unmanaged, nameless
in Loom, quarantined by the last sync, deleted by an offboarding, deleted without one)
and an Entra ID roster that disables one of them, reviewed through the public CLI
against a :class:`~tests.simserver.SimServer` on 127.0.0.1. The page's card, its table's
heading and rows, the CSV's rows and the command's summary must all give one count: that
of :func:`loom_scim_connector.audit._review_model.is_member`. Before, the card said 10
where the table, the CSV and the command said 11 (they counted the deleted account).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from loom_scim_connector.cli import EXIT_OK
from loom_scim_connector.store import Evidence, SQLiteStore, now_iso

from .conftest import SECRET, cli
from .loopback import Loopback
from .simserver import SimServer


def test_the_card_the_table_the_csv_and_the_summary_count_the_same_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = SimServer.with_users(12)
    ids = list(sim.listing)
    inactive, no_status, unmanaged, nameless, quarantined, offboarded, gone = ids[:7]
    sim.users[inactive]["active"] = False
    del sim.users[no_status]["active"]
    del sim.users[unmanaged]["externalId"]
    del sim.users[nameless]["name"]
    email = {uid: user["userName"] for uid, user in sim.users.items()}
    store, page, sheet = tmp_path / "store.sqlite3", tmp_path / "r.html", tmp_path / "r.csv"
    # Entra ID's export: the inactive one is disabled there; the nameless one has a name.
    roster = tmp_path / "entra.csv"
    lines = ["userPrincipalName,displayName,accountEnabled"]
    lines += [f"{email[uid]},Person {uid},{str(uid != inactive).lower()}" for uid in ids]
    roster.write_text("\n".join(lines).replace(f"Person {nameless}", "Nora Nameless") + "\n")
    with Loopback(sim) as server:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", SECRET)
        assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
        kept = SQLiteStore(store, server.url)
        kept.record_evidence(
            Evidence(
                at=now_iso(), actor="it-admin", source="offboard", action="delete-user",
                user_id=offboarded, email=email[offboarded], outcome="deleted",
                request=f"DELETE /Users/{offboarded} -> 204",
            )
        )  # fmt: skip
        kept.close()
        sim.delete(offboarded)  # deleted by that offboarding
        sim.delete(gone)  # deleted some other way: nothing to review
        sim.unreadable[quarantined] = "surrogate_name"  # kept as last read
        code, _, err = cli(
            "review", "--store", str(store), "--html", str(page), "--csv", str(sheet),
            "--roster", str(roster),
        )  # fmt: skip
    assert code == EXIT_OK, err
    members = 12 - 2  # the two deleted are not members; the quarantined one is
    html = page.read_text()
    said = re.search(r"loom-scim: (\d+) members?\b[^\n]*", err)
    assert said is not None, err
    card = re.search(r'id="count-members"><b>(\d+)</b>', html)
    heading = re.search(r"<h2>Members \((\d+)\)</h2>", html)
    table = html[html.index('<section id="members"') : html.index('<section id="evidence"')]
    rows = list(csv.DictReader(sheet.open(newline="")))
    counts = {
        "the command's summary": int(said.group(1)),
        "the card": int(card.group(1)) if card else None,
        "the table's heading": int(heading.group(1)) if heading else None,
        "the table's rows": table.count("<tr class="),
        "the CSV's rows": len(rows),
    }
    assert counts == dict.fromkeys(counts, members), said.group(0)
    assert said.group(0) == (
        "loom-scim: 10 members: 8 active (1 unmanaged), 1 inactive, 1 with no status; "
        "1 account deleted by offboarding; 1 offboarding record"
    )
    assert "and 1 deleted by offboarding" in html  # said apart, beside the card
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == set(ids) - {offboarded, gone}
    assert by_id[quarantined]["status"] == "active"  # as last read
    assert 'id="sync-note"' in html and quarantined in html[html.index('id="sync-note"') :]
    # The roster's state for an account inactive in Loom too, in reconcile's words.
    assert by_id[inactive]["rosterStatus"] == "disabled in the IdP"
    assert by_id[ids[8]]["rosterStatus"] == "in the roster"
    # A name Loom does not have comes from the roster, and the page says so.
    assert by_id[nameless]["name"] == "Nora Nameless"
    assert (
        by_id[ids[8]]["name"]
        == sim.users[ids[8]]["name"]["givenName"] + " " + (sim.users[ids[8]]["name"]["familyName"])
    )
    assert 'Nora Nameless <span class="muted">(roster)</span>' in html
