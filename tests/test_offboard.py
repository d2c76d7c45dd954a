"""``offboard``: deactivate or delete, verify by reading back, and keep the evidence.

Against the sandbox on loopback: its Member Deprovisioning setting decides whether
``active: false`` deactivates or deletes, as Loom's does.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.audit.offboard import default_actor, offboard_emails, offboard_user
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, run
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.scim import PATCH_OP as PATCH
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.store import SQLiteStore

from .conftest import errors_of


def users(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(sandbox.call("GET", "/Users", query={"count": "100"})["Resources"])


def one(sandbox: Sandbox, *, active: bool = True) -> dict[str, Any]:
    return next(u for u in users(sandbox) if u.get("active") is active)


def email_of(user: dict[str, Any]) -> str:
    return str(user["userName"])


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), errors_of(err.getvalue())


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox


# -- the library function (what reconcile --apply calls) -------------------------------


async def test_deactivating_is_verified_and_recorded(host: LocalHost, sandbox: Sandbox) -> None:
    user = one(sandbox)
    uid = user["id"]
    done = await offboard_user(
        host, user_id=uid, email=email_of(user), delete=False, source="reconcile", actor="it-bot"
    )
    assert done.outcome == "deactivated" and done.detail == "read back active=false"
    assert done.request == (
        f"GET /Users/{uid} -> 200; PATCH /Users/{uid} -> 204; GET /Users/{uid} -> 200"
    )
    assert (done.actor, done.source, done.action) == ("it-bot", "reconcile", "deactivate-user")
    assert sandbox.call("GET", f"/Users/{uid}")["active"] is False
    [kept, intent] = host.store.evidence()  # the intent, recorded before the PATCH
    assert kept == done and done.evidence_id is not None and done.intent_id == intent.evidence_id
    assert (intent.outcome, intent.user_id, intent.actor) == ("unknown", uid, "it-bot")
    assert intent.request == f"GET /Users/{uid} -> 200"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", done.at)


async def test_offboarding_twice_says_already_inactive_and_sends_no_change(
    host: LocalHost, sandbox: Sandbox
) -> None:
    user = one(sandbox)
    kwargs: dict[str, Any] = {"user_id": user["id"], "email": email_of(user), "actor": "a"}
    await offboard_user(host, delete=False, source="offboard", **kwargs)
    again = await offboard_user(host, delete=False, source="offboard", **kwargs)
    assert again.outcome == "already_inactive"
    assert again.request == f"GET /Users/{user['id']} -> 200"  # read only, no PATCH
    outcomes = [e.outcome for e in host.store.evidence()]
    assert outcomes == ["already_inactive", "deactivated", "unknown"]


async def test_a_workspace_that_deletes_on_deprovisioning_reports_deleted(
    host: LocalHost, sandbox: Sandbox
) -> None:
    sandbox.settings.deprovisioning = "delete"
    user = one(sandbox)
    kwargs: dict[str, Any] = {"user_id": user["id"], "email": email_of(user), "actor": "a"}
    done = await offboard_user(host, delete=False, source="offboard", **kwargs)
    assert done.outcome == "deleted" and "deprovisioning setting deletes" in (done.detail or "")
    assert done.request.endswith(f"GET /Users/{user['id']} -> 404")
    again = await offboard_user(host, delete=False, source="offboard", **kwargs)
    assert again.outcome == "already_gone" and again.request == f"GET /Users/{user['id']} -> 404"


async def test_delete_deletes_even_an_inactive_user(host: LocalHost, sandbox: Sandbox) -> None:
    user = one(sandbox, active=False)
    kwargs: dict[str, Any] = {"user_id": user["id"], "email": email_of(user), "actor": "a"}
    done = await offboard_user(host, delete=True, source="offboard", **kwargs)
    assert (done.action, done.outcome) == ("delete-user", "deleted")
    assert f"DELETE /Users/{user['id']} -> 204" in done.request
    again = await offboard_user(host, delete=True, source="offboard", **kwargs)
    assert again.outcome == "already_gone"


async def test_a_failure_is_an_outcome_with_its_reason_and_is_recorded(
    host: LocalHost, sandbox: Sandbox
) -> None:
    user = one(sandbox)
    sandbox.settings.fail_next = [400]
    done = await offboard_user(
        host, user_id=user["id"], email=email_of(user), delete=False, source="offboard", actor="a"
    )
    assert done.outcome == "failed" and done.detail and "400" in done.detail
    assert done.request == f"GET /Users/{user['id']} -> 400"
    assert sandbox.call("GET", f"/Users/{user['id']}")["active"] is True
    assert host.store.evidence()[0].outcome == "failed"


async def test_by_email_not_found_and_known_to_the_store(host: LocalHost, sandbox: Sandbox) -> None:
    await host.run_sync("users")
    gone = one(sandbox)
    sandbox.call("DELETE", f"/Users/{gone['id']}")  # removed in Loom itself
    done = await offboard_emails(
        host, [email_of(gone), "nobody@acme.example"], delete=False, actor="a"
    )
    assert [(e.email, e.outcome, e.user_id) for e in done] == [
        (email_of(gone), "already_gone", gone["id"]),
        ("nobody@acme.example", "not_found", None),
    ]
    assert done[1].request.startswith('GET /Users?filter=userName eq "nobody@acme.example" -> 200')
    assert len(host.store.evidence()) == 2


async def test_an_id_from_the_store_is_changed_only_if_it_still_has_that_email(
    host: LocalHost, sandbox: Sandbox
) -> None:
    """The server no longer lists the email; the store knew its id. That id now belongs
    to someone with another email (a rename): they are not offboarded."""
    await host.run_sync("users")
    user = one(sandbox)
    old = email_of(user)
    op = {"op": "replace", "path": "userName", "value": "renamed@acme.example"}
    ops = [op, {**op, "path": "emails", "value": [{"value": "renamed@acme.example",
                                                   "primary": True}]}]  # fmt: skip
    sandbox.call("PATCH", f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": ops})
    [done] = await offboard_emails(host, [old], delete=False, actor="a")
    assert (done.outcome, done.user_id) == ("skipped", user["id"])
    assert "renamed@acme.example" in (done.detail or "")
    assert sandbox.call("GET", f"/Users/{user['id']}")["active"] is True


async def test_a_dry_run_reads_only_and_records_nothing(host: LocalHost, sandbox: Sandbox) -> None:
    user = one(sandbox)
    done = await offboard_emails(host, [email_of(user)], delete=False, actor="a", dry_run=True)
    assert done[0].outcome == "would_deactivate" and done[0].evidence_id is None
    assert "PATCH" not in done[0].request
    assert sandbox.call("GET", f"/Users/{user['id']}")["active"] is True
    assert host.store.evidence() == []


def test_the_default_actor_is_a_name_a_person_recognises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20, point 11: not ``root@vm:18359``. The account's full name when it has
    one, then login@host; never the process id."""
    import getpass
    import pwd
    import socket

    host = socket.gethostname()
    assert re.fullmatch(r"[^@\s]+@[^:\s]+", default_actor())  # this machine's: no :pid
    monkeypatch.setattr(getpass, "getuser", lambda: "jane")
    gecos = {"jane": "Jane Doe,Room 4,,"}

    def entry(user: str) -> pwd.struct_passwd:
        if user not in gecos:
            raise KeyError(user)
        return pwd.struct_passwd((user, "x", 1000, 1000, gecos[user], "/home/j", "/bin/sh"))

    monkeypatch.setattr(pwd, "getpwnam", entry)
    assert default_actor() == f"Jane Doe (jane@{host})"
    gecos["jane"] = "jane"  # a name that only repeats the login says nothing more
    assert default_actor() == f"jane@{host}"
    gecos["jane"] = "Jane\x1b[2J Doe"  # no control character reaches the evidence
    assert default_actor() == f"Jane[2J Doe (jane@{host})"
    del gecos["jane"]  # a login the password database does not know
    assert default_actor() == f"jane@{host}"


def test_an_older_store_file_gets_the_evidence_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE records (connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT"
            " NULL, data TEXT NOT NULL, last_seen_run INTEGER NOT NULL, first_seen_at TEXT NOT"
            " NULL, updated_at TEXT NOT NULL, deleted_at TEXT, PRIMARY KEY (connection, model,"
            " id))"
        )
    store = SQLiteStore(path, "conn")
    assert store.evidence() == []
    store.close()


# -- the command -------------------------------------------------------------------------


def test_offboard_prints_a_table_and_exits_0(env: Sandbox) -> None:
    active, inactive = one(env), one(env, active=False)
    code, out, err = cli("offboard", email_of(active), email_of(inactive).upper())
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert lines[0].split() == ["EMAIL", "OUTCOME", "USER", "ID", "VERIFIED"]
    assert lines[1].split()[:3] == [email_of(active), "deactivated", active["id"]]
    assert lines[2].split()[:2] == [email_of(inactive).upper(), "already_inactive"]
    assert "1 already_inactive, 1 deactivated; evidence recorded in loom-scim.sqlite3" in err
    assert env.token not in out + err
    store = SQLiteStore("loom-scim.sqlite3", env.url)
    assert [e.outcome for e in store.evidence()] == ["already_inactive", "deactivated", "unknown"]
    store.close()


def test_offboard_json_and_actor(env: Sandbox) -> None:
    user = one(env)
    code, out, _ = cli("offboard", email_of(user), "--json", "--actor", "jane (IT ticket 42)")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["counts"] == {"deactivated": 1} and data["dryRun"] is False
    (item,) = data["results"]
    assert item["actor"] == "jane (IT ticket 42)" and item["user_id"] == user["id"]
    assert set(item) == {
        "at", "actor", "source", "action", "user_id", "email", "outcome", "request",
        "detail", "intent_id", "evidence_id",
    }  # fmt: skip
    assert item["intent_id"] is not None and data["resolved"] == []


def test_someone_not_found_exits_4_and_is_still_recorded(env: Sandbox) -> None:
    code, out, _ = cli("offboard", "ghost@acme.example", "--json")
    assert code == EXIT_NOT_FOUND
    assert json.loads(out)["results"][0]["outcome"] == "not_found"
    store = SQLiteStore("loom-scim.sqlite3", env.url)
    assert store.evidence()[0].email == "ghost@acme.example"
    store.close()


def test_a_failure_exits_1(env: Sandbox) -> None:
    first, second = one(env), one(env, active=False)
    env.settings.fail_next = [400]  # the first lookup fails; the second person is fine
    code, out, err = cli("offboard", email_of(first), email_of(second))
    assert code == EXIT_FAILURE
    assert "!failed" in out.splitlines()[1] and "400" in out.splitlines()[1]
    assert "already_inactive" in out.splitlines()[2]
    assert "1 already_inactive, 1 failed" in err


def test_bad_emails_are_refused_before_any_request(env: Sandbox, tmp_path: Path) -> None:
    people = tmp_path / "leavers.txt"
    people.write_text("# leavers\nada@acme.example\nnot-an-email\n")
    served = env.app.requests_served
    code, out, err = cli("offboard", "bob@", "--file", str(people))
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "EMAIL 1: 'bob@' must be an email address" in err
    assert "leavers.txt line 3: 'not-an-email'" in err
    assert env.app.requests_served == served


def test_nothing_to_offboard_is_a_usage_error(env: Sandbox) -> None:
    code, _, err = cli("offboard")
    assert code == EXIT_BAD_INPUT and "give at least one EMAIL" in err


def test_a_file_of_emails_and_a_dry_run(env: Sandbox, tmp_path: Path) -> None:
    a, b = one(env), one(env, active=False)
    people = tmp_path / "leavers.txt"
    people.write_text(f"{email_of(a)}\n\n{email_of(b)}\n{email_of(a).upper()}\n")
    code, out, err = cli("offboard", "--file", str(people), "--dry-run", "--json")
    assert code == EXIT_OK
    outcomes = [r["outcome"] for r in json.loads(out)["results"]]
    assert outcomes == ["would_deactivate", "already_inactive"]  # the repeat counts once
    assert "nothing was changed or recorded" in err
    assert env.call("GET", f"/Users/{a['id']}")["active"] is True


def test_a_roster_export_of_leavers_is_accepted_and_a_full_roster_refused(
    env: Sandbox, tmp_path: Path
) -> None:
    user = one(env)
    leavers = tmp_path / "leavers.csv"
    leavers.write_text(f"email,name,status\n{email_of(user)},Someone,terminated\n")
    code, out, err = cli("offboard", "--file", str(leavers), "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["results"][0]["outcome"] == "deactivated"
    roster = tmp_path / "everyone.csv"
    roster.write_text("email,status\nada@acme.example,active\nbob@acme.example,terminated\n")
    code, out, err = cli("offboard", "--file", str(roster))
    assert code == EXIT_BAD_INPUT
    assert "everyone.csv line 2" in err and "reconcile" in err
    staff = tmp_path / "staff.csv"  # no status column: everyone counts as active
    staff.write_text(f"email,name,department\n{email_of(one(env))},Someone,Sales\n")
    code, out, err = cli("offboard", "--file", str(staff))
    assert code == EXIT_BAD_INPUT
    assert "gives no status for" in err and "reconcile" in err


def test_offboard_help_documents_its_exit_codes() -> None:
    code, out, _ = cli("offboard", "--help")
    assert code == EXIT_OK
    assert "Exit 0" in out and "4" in out and "--delete" in out


def test_offboard_delete_via_cli(env: Sandbox) -> None:
    user = one(env)
    code, out, _ = cli("offboard", email_of(user), "--delete", "--json")
    assert code == EXIT_OK
    assert json.loads(out)["results"][0]["outcome"] == "deleted"
    assert all(u["id"] != user["id"] for u in users(env))


def test_a_refused_key_stops_the_run_with_exit_3(env: Sandbox) -> None:
    user = one(env)
    env.rotate_token()
    code, out, err = cli("offboard", email_of(user))
    assert code == 3 and out == "" and err.count("\n") == 1
    assert env.call("GET", f"/Users/{user['id']}")["active"] is True
