"""`loom-scim reconcile`: Loom's members against the IdP's roster (tests/data), the five
categories, the outputs, and the bounded, verified --apply; against a sandbox seeded
through the actions with managed, unmanaged, role-drifted, orphaned and duplicated people."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector import LoomConnection
from loom_scim_connector.audit.reconcile import CATEGORIES, implied_role, reconcile
from loom_scim_connector.audit.roster import RosterEntry, read_roster
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, build_parser, run
from loom_scim_connector.cli._exit import EPILOG, EXIT_FINDINGS, EXIT_HELD
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.outputs import UserProvisioning
from loom_scim_connector.sandbox import Sandbox, SandboxSettings
from loom_scim_connector.store import SQLiteStore

DATA = Path(__file__).parent / "data"
ROLES = str(DATA / "roles.yaml")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HR_MAP = "email=Work Email,externalId=Employee ID,status=Employment Status,name=Full Name,role=Team"

# The workspace: (email, externalId, role, active). Ada and Fay are as they should be;
# Ben's role drifted; Chloe joined by domain capture; Dev left (the roster says so); Eli
# joined by domain capture and is in no roster; Gus has two accounts; Ivan is deactivated.
PEOPLE = [
    ("ada.okafor@acme.example", "00u1000001", "creator", True),
    ("ben.marsh@acme.example", "00u1000002", "viewer", True),
    ("chloe.park@acme.example", None, "creator", True),
    ("dev.iyer@acme.example", "00u1000004", "creator", True),
    ("eli.novak@acme.example", None, "viewer", True),
    ("fay.lindqvist@acme.example", "00u1000006", "viewer", True),
    ("gus.romero@acme.example", "00u1000007", "viewer", True),
    ("gus.romero.old@acme.example", "00u1000007", "viewer", True),
    ("ivan.petrov@acme.example", "00u1000009", "viewer", False),
]


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


async def _seed(sandbox: Sandbox) -> dict[str, str]:
    host = LocalHost(LoomConnection.create(sandbox.url, sandbox.token), store=":memory:")
    ids = {}
    try:
        for email, external_id, role, active in PEOPLE:
            payload: dict[str, Any] = {"email": email, "role": role}
            if external_id:
                payload["externalId"] = external_id
            created = await host.run_action("create-user", payload)
            assert isinstance(created, UserProvisioning)
            ids[email] = created.id
            if not active:
                await host.run_action("deactivate-user", {"id": ids[email]})
    finally:
        host.close()
    return ids


@dataclass
class Workspace:
    """The seeded sandbox, the connection in the environment, and the ids by email."""

    sandbox: Sandbox
    ids: dict[str, str]

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self.sandbox.call(*args, **kwargs)

    def served(self) -> int:
        return self.sandbox.app.requests_served

    def patch_active(self, email: str, active: bool) -> None:
        op = {"op": "replace", "path": "active", "value": active}
        self.call("PATCH", f"/Users/{self.ids[email]}", {"schemas": [PATCH], "Operations": [op]})


@pytest.fixture
def loom(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Workspace]:
    with Sandbox(seed_users=0, seed=3) as sandbox:
        ids = asyncio.run(_seed(sandbox))
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        yield Workspace(sandbox, ids)


def cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run(["reconcile", *argv], out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


def state(sandbox: Sandbox | Workspace) -> dict[str, tuple[Any, ...]]:
    """Every user as (active, role): what a write would change."""
    users = sandbox.call("GET", "/Users", query={"count": "100"})["Resources"]
    return {u["userName"]: (u.get("active"), u.get("loomMemberRole")) for u in users}


def emails(found: list[dict[str, Any]]) -> set[str]:
    return {f["email"] for f in found}


# -- the pure function -------------------------------------------------------------------


def _entry(
    email: str, external_id: str | None = None, active: bool = True, **more: Any
) -> RosterEntry:
    return RosterEntry(email, external_id, active, more.pop("status", ""), None, None, 2, **more)


def _user(
    uid: str, email: str, external_id: str | None = None, active: bool = True
) -> dict[str, Any]:
    return {
        "id": uid,
        "email": email,
        "externalId": external_id,
        "active": active,
        "role": "viewer",
    }


def test_externalid_wins_over_email_and_says_so() -> None:
    # Loom still has her old address; the IdP knows her by the same externalId.
    result = reconcile(
        [_user("u1", "ada.old@acme.example", "00u1")],
        [
            _entry("ada.okafor@acme.example", "00u1"),
            _entry("ada.old@acme.example", status="SUSPENDED", active=False),
        ],
    )
    assert result.orphaned == () and result.missing == ()
    drift = reconcile(
        [_user("u1", "ada.old@acme.example", "00u1")],
        [RosterEntry("ada.okafor@acme.example", "00u1", True, "", None, "Admins", 2)],
        {"admins": "admin"},
    ).role_drift
    assert [(f.id, f.matched_by, f.implied_role) for f in drift] == [("u1", "externalId", "admin")]


def test_a_rehire_is_not_offboarded_by_their_old_record() -> None:
    roster = [
        _entry("bo@acme.example", "00u-old", active=False, status="DEPROVISIONED"),
        _entry("bo@acme.example", "00u-new"),
    ]
    result = reconcile([_user("u1", "Bo@acme.example")], roster)
    assert result.orphaned == ()
    assert [f.matched_by for f in result.unmanaged] == ["email"]


def test_inactive_accounts_are_never_findings_to_act_on() -> None:
    result = reconcile([_user("u1", "x@acme.example", "1", active=False)], [])
    assert result.counts() == dict.fromkeys(CATEGORIES, 0) and not result.any()


def test_duplicates_by_email_case_and_by_externalid() -> None:
    result = reconcile(
        [
            _user("a", "Kim@acme.example", "1"),
            _user("b", "kim@acme.example", "2"),
            _user("c", "lee@acme.example", "9"),
            _user("d", "lee.2@acme.example", "9"),
        ],
        [_entry("kim@acme.example"), _entry("lee@acme.example", "9")],
    )
    assert {f.id for f in result.duplicates} == {"a", "b", "c", "d"}
    assert all("2 active Loom accounts" in f.reason for f in result.duplicates)


def test_the_highest_of_several_groups() -> None:
    roles = {"loom viewers": "viewer", "loom admins": "admin", "loom creators": "creator"}
    assert implied_role("Loom Viewers; Loom Admins|Loom Creators", roles) == "admin"
    assert implied_role("Sales", roles) is None and implied_role(None, roles) is None


def test_a_truncated_roster_is_noticed() -> None:
    users = [_user(f"u{n}", f"p{n}@acme.example", str(n)) for n in range(10)]
    assert reconcile(users, [_entry("p1@acme.example", "1")]).truncated() == (
        "the roster lists 1 active person in 1 entries, fewer than 50% of Loom's 10 active members"
    )
    strangers = [_entry(f"q{n}@acme.example") for n in range(10)]
    assert "only 0 of Loom's active members match an active person" in (
        reconcile(users, strangers).truncated() or ""
    )
    whole = [_entry(f"p{n}@acme.example", str(n)) for n in range(10)]
    assert reconcile(users, whole).truncated() is None


def test_a_roster_where_everyone_has_left_looks_wrong() -> None:
    """A wrong status column (every value reads as gone) must not orphan the workspace:
    entries that say someone left do not count towards a complete roster."""
    users = [_user(f"u{n}", f"p{n}@acme.example", str(n)) for n in range(4)]
    gone = [_entry(f"p{n}@acme.example", str(n), active=False, status="false") for n in range(4)]
    result = reconcile(users, gone)
    assert len(result.orphaned) == 4
    assert "the roster lists 0 active people in 4 entries" in (result.truncated() or "")


def test_a_rehire_is_matched_to_the_active_entry_across_keys() -> None:
    """The old externalId's entry says terminated, the email's entry is active: the
    account belongs to the person still there, and is not orphaned."""
    users = [_user("u1", "a@acme.example", "old-1")]
    roster = [
        _entry("a@acme.example", "old-1", active=False, status="terminated"),
        _entry("a@acme.example", "new-2"),
    ]
    result = reconcile(users, roster)
    assert result.orphaned == ()
    assert result.truncated() is None


# -- the command, against the sandbox ----------------------------------------------------


def test_json_has_exactly_the_categories_and_counts(loom: Workspace) -> None:
    result = cli("--roster", str(DATA / "roster.csv"), "--role-map", ROLES, "--format", "json")
    assert result.code == EXIT_OK, result.err
    data = result.json()
    assert list(data) == [*CATEGORIES, "counts"]
    ids = loom.ids
    assert emails(data["orphaned"]) == {"dev.iyer@acme.example", "eli.novak@acme.example"}
    dev = next(f for f in data["orphaned"] if f["email"] == "dev.iyer@acme.example")
    assert dev["id"] == ids["dev.iyer@acme.example"] and dev["matched_by"] == "externalId"
    assert "terminated" in dev["reason"]
    eli = next(f for f in data["orphaned"] if f["email"] == "eli.novak@acme.example")
    assert eli["matched_by"] is None and eli["reason"] == "not in the roster"
    assert emails(data["unmanaged"]) == {"chloe.park@acme.example", "eli.novak@acme.example"}
    chloe = next(f for f in data["unmanaged"] if f["email"] == "chloe.park@acme.example")
    assert chloe["matched_by"] == "email"  # Chloe.Park@ in the roster
    assert [(f["email"], f["loom_role"], f["implied_role"]) for f in data["role_drift"]] == [
        ("ben.marsh@acme.example", "viewer", "creator")
    ]
    assert emails(data["missing"]) == {"hana.sato@acme.example", "ivan.petrov@acme.example"}
    ivan = next(f for f in data["missing"] if f["email"] == "ivan.petrov@acme.example")
    assert ivan["id"] == ids["ivan.petrov@acme.example"] and "deactivated" in ivan["reason"]
    assert emails(data["duplicates"]) == {"gus.romero@acme.example", "gus.romero.old@acme.example"}
    assert data["counts"] == {
        "orphaned": 2, "unmanaged": 2, "role_drift": 1, "missing": 2, "duplicates": 2
    }  # fmt: skip
    for name in CATEGORIES:
        for finding in data[name]:
            assert {"email", "id", "reason", "matched_by"} <= finding.keys()


def test_seat_price_adds_the_monthly_cost_of_orphaned_seats(loom: Workspace) -> None:
    result = cli("--roster", str(DATA / "roster.csv"), "--format", "json", "--seat-price", "15")
    assert list(result.json()) == [*CATEGORIES, "counts", "orphaned_monthly_cost"]
    assert result.json()["orphaned_monthly_cost"] == 30
    table = cli("--roster", str(DATA / "roster.csv"), "--seat-price", "15")
    assert "orphaned seats cost about 30.00 a month" in table.out


@pytest.mark.parametrize(
    "argv",
    [
        ("okta_users.csv",),
        ("entra_users.csv",),
        ("google_users.csv",),
        ("roster.json",),
        ("roster.jsonl",),
        ("hr_export.csv", "--map", HR_MAP),
    ],
)
def test_every_format_finds_the_same_leavers(loom: Workspace, argv: tuple[str, ...]) -> None:
    result = cli("--roster", str(DATA / argv[0]), *argv[1:], "--format", "json")
    assert result.code == EXIT_OK, result.err
    data = result.json()
    # Exports without externalIds match by email, so Gus's old account is not in them.
    assert {"dev.iyer@acme.example", "eli.novak@acme.example"} <= emails(data["orphaned"])
    assert emails(data["orphaned"]) <= {
        "dev.iyer@acme.example", "eli.novak@acme.example", "gus.romero.old@acme.example"
    }  # fmt: skip
    assert emails(data["missing"]) == {"hana.sato@acme.example", "ivan.petrov@acme.example"}
    assert emails(data["unmanaged"]) == {"chloe.park@acme.example", "eli.novak@acme.example"}


def test_csv_is_one_row_a_finding_with_its_category(loom: Workspace) -> None:
    result = cli("--roster", str(DATA / "roster.csv"), "--role-map", ROLES, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == 9
    assert {r["category"] for r in rows} == set(CATEGORIES)
    drift = next(r for r in rows if r["category"] == "role_drift")
    assert (drift["email"], drift["implied_role"]) == ("ben.marsh@acme.example", "creator")


def test_the_table_and_a_dry_run_send_no_write(loom: Workspace) -> None:
    before = state(loom)
    result = cli(
        "--roster", str(DATA / "roster.csv"), "--role-map", ROLES, "--apply-roles", "--delete"
    )
    assert result.code == EXIT_OK, result.err
    assert "orphaned (2)" in result.out and "role_drift (1)" in result.out
    assert "plan (dry run, nothing changed): 3 change(s)" in result.out
    assert "DELETE dev.iyer@acme.example" in result.out
    assert "set role creator for ben.marsh@acme.example" in result.out
    assert state(loom) == before
    assert loom.sandbox.token not in result.out + result.err


def test_fail_on_findings_is_exit_10_and_documented(loom: Workspace) -> None:
    assert cli("--roster", str(DATA / "roster.csv"), "--fail-on-findings").code == EXIT_FINDINGS
    assert f"{EXIT_FINDINGS} reconcile --fail-on-findings" in EPILOG


def test_apply_deactivates_orphans_only_verified_with_evidence(
    loom: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    before = state(loom)
    roster, actor = str(DATA / "roster.csv"), "it-admin@acme.example"
    result = cli(
        "--roster", roster, "--role-map", ROLES, "--apply", "--store", str(store), "--actor", actor
    )
    assert result.code == EXIT_OK, result.err
    after = state(loom)
    assert after["dev.iyer@acme.example"] == (False, "creator")
    assert after["eli.novak@acme.example"] == (False, "viewer")
    changed = {email for email in before if before[email] != after[email]}
    assert changed == {"dev.iyer@acme.example", "eli.novak@acme.example"}  # no roles, no Chloe
    assert "-> deactivated (read back active=false)" in result.out
    kept = SQLiteStore(store, loom.sandbox.url)
    try:
        evidence = kept.evidence(email="dev.iyer@acme.example")
    finally:
        kept.close()
    assert [(e.source, e.action, e.outcome, e.actor) for e in evidence] == [
        ("reconcile", "deactivate-user", "deactivated", actor),
        ("reconcile", "deactivate-user", "unknown", actor),  # the intent, before the PATCH
    ]
    assert evidence[0].intent_id == evidence[1].evidence_id
    assert evidence[0].user_id == loom.ids["dev.iyer@acme.example"]
    assert "PATCH /Users/" in evidence[0].request
    # Run again: the store is synced first, so nothing is left to do.
    again = cli("--roster", str(DATA / "roster.csv"), "--apply", "--store", str(store))
    assert again.code == EXIT_OK and "applied: nothing to change" in again.out


def test_apply_roles_sets_the_drifted_role(loom: Workspace) -> None:
    roster = str(DATA / "roster.csv")
    cli("--roster", roster, "--role-map", ROLES, "--apply")
    assert state(loom)["ben.marsh@acme.example"] == (True, "viewer")
    result = cli("--roster", roster, "--role-map", ROLES, "--apply", "--apply-roles")
    assert result.code == EXIT_OK, result.err
    assert state(loom)["ben.marsh@acme.example"] == (True, "creator")
    assert "-> role_set" in result.out


def test_delete_is_needed_to_delete(loom: Workspace) -> None:
    roster = str(DATA / "roster.csv")
    assert cli("--roster", roster, "--apply").code == EXIT_OK
    assert "dev.iyer@acme.example" in state(loom)  # deactivated, still there
    for email in ("dev.iyer@acme.example", "eli.novak@acme.example"):
        loom.patch_active(email, True)
    result = cli("--roster", roster, "--apply", "--delete")
    assert result.code == EXIT_OK, result.err
    assert "dev.iyer@acme.example" not in state(loom)
    assert "-> deleted" in result.out


def test_the_workspace_setting_decides_what_deactivate_means(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Sandbox(seed_users=0, settings=SandboxSettings(deprovisioning="delete")) as sandbox:
        asyncio.run(_seed(sandbox))
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        result = cli("--roster", str(DATA / "roster.csv"), "--apply")
        assert result.code == EXIT_OK, result.err
        assert "deactivate dev.iyer@acme.example" in result.out and "-> deleted" in result.out
        assert "dev.iyer@acme.example" not in state(sandbox)


def test_apply_is_refused_whole_beyond_max_changes(loom: Workspace) -> None:
    before = state(loom)
    result = cli("--roster", str(DATA / "roster.csv"), "--apply", "--max-changes", "1")
    assert result.code == EXIT_BAD_INPUT
    assert "the plan has 2 changes, more than 1: nothing was changed" in result.err
    assert "--max-changes 2" in result.err and "Traceback" not in result.err
    assert state(loom) == before


def test_a_truncated_roster_is_refused_unless_forced(loom: Workspace, tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text(
        "email,status\nada.okafor@acme.example,active\nben.marsh@acme.example,active\n"
    )
    before = state(loom)
    dry = cli("--roster", str(short))
    assert dry.code == EXIT_OK and "looks truncated" in dry.err
    refused = cli("--roster", str(short), "--apply", "--max-changes", "20")
    assert refused.code == EXIT_BAD_INPUT
    said = "the roster lists 2 active people in 2 entries, fewer than 50% of Loom's 8 active"
    assert said in refused.err
    assert "--force" in refused.err and state(loom) == before
    forced = cli("--roster", str(short), "--apply", "--max-changes", "20", "--force")
    assert forced.code == EXIT_OK, forced.err
    assert state(loom)["chloe.park@acme.example"] == (False, "creator")  # orphaned too
    assert state(loom)["ada.okafor@acme.example"] == (True, "creator")


def test_no_sync_reuses_the_store(loom: Workspace, tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite3")
    empty = cli("--roster", str(DATA / "roster.csv"), "--no-sync", "--store", store)
    assert empty.code == EXIT_BAD_INPUT and "the store has no synced users" in empty.err
    cli("--roster", str(DATA / "roster.csv"), "--store", store)
    loom.patch_active("eli.novak@acme.example", False)
    served = loom.served()
    stale = cli(
        "--roster", str(DATA / "roster.csv"), "--no-sync", "--store", store, "--format", "json"
    )
    assert "eli.novak@acme.example" in emails(stale.json()["orphaned"])
    assert loom.served() == served  # not one request
    fresh = cli("--roster", str(DATA / "roster.csv"), "--store", store, "--format", "json")
    assert "eli.novak@acme.example" not in emails(fresh.json()["orphaned"])


def test_a_bad_roster_is_one_line_before_any_request(loom: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text("email,status\nada.okafor@acme.example,active\n,active\n")
    served = loom.served()
    result = cli("--roster", str(bad))
    assert result.code == EXIT_BAD_INPUT
    assert result.err == 'loom-scim: error: roster.csv line 3: no email in column "email"\n'
    assert loom.served() == served
    missing = cli("--roster", str(tmp_path / "nope.csv"))
    assert missing.code == EXIT_BAD_INPUT and "cannot be read" in missing.err


def test_a_change_loom_ignores_fails_the_apply_and_says_so(loom: Workspace) -> None:
    loom.sandbox.settings.role_mapped = False  # Loom silently drops loomMemberRole
    result = cli(
        "--roster", str(DATA / "roster.csv"), "--role-map", ROLES, "--apply", "--apply-roles"
    )
    assert result.code == EXIT_FAILURE
    assert "set role creator for ben.marsh@acme.example" in result.out
    assert "-> failed (Loom did not apply role 'creator'" in result.out
    assert "-> deactivated" in result.out  # the other changes still happened
    assert state(loom)["ben.marsh@acme.example"] == (True, "viewer")


def test_every_option_says_what_it_does() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for option in sub.choices["reconcile"]._actions:
        if option.option_strings and option.dest != "help":
            assert option.help, option.option_strings[0]
            # A global option's copy on a command has no default of its own (SUPPRESS).
            if option.default not in (None, False, argparse.SUPPRESS):
                assert "default" in option.help, option.option_strings[0]


def test_json_with_apply_keeps_stdout_the_findings(loom: Workspace) -> None:
    result = cli("--roster", str(DATA / "roster.csv"), "--apply", "--format", "json")
    assert result.code == EXIT_OK, result.err
    assert list(result.json()) == [*CATEGORIES, "counts"]
    assert result.err.count("applied: deactivate") == 2


def test_a_held_sync_applies_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with Sandbox(seed_users=30, seed=5) as sandbox:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        roster = tmp_path / "roster.csv"
        roster.write_text("email\nsomeone@acme.example\n")
        assert cli("--roster", str(roster)).code == EXIT_OK  # the store knows 30 users
        for uid in sandbox.seeded["all"][:27]:
            sandbox.call("DELETE", f"/Users/{uid}")
        before = state(sandbox)
        result = cli("--roster", str(roster), "--apply", "--force", "--max-changes", "50")
        assert result.code == EXIT_HELD
        assert "nothing was applied: release the held sync" in result.err
        assert state(sandbox) == before


def test_the_dry_run_says_role_drift_needs_apply_roles() -> None:
    """A dry run that leaves role drift out of the plan says how to include it."""
    import argparse
    import io

    from loom_scim_connector.audit.reconcile import reconcile
    from loom_scim_connector.audit.roster import RosterEntry
    from loom_scim_connector.cli._reconcile import _dry_run

    member = {"id": "u1", "email": "a@acme.example", "active": True, "role": "viewer",
              "externalId": "e1"}  # fmt: skip
    entry = RosterEntry("a@acme.example", "e1", True, "", "A", "Creators", 2)
    result = reconcile([member], [entry], {"creators": "creator"})  # as read_role_map keys it
    out = io.StringIO()
    args = argparse.Namespace(format="table", apply_roles=False, fail_on_findings=False)
    assert _dry_run(args, result, [], out) == 0
    assert "1 role drift not in the plan: add --apply-roles to fix it" in out.getvalue()


# -- --apply acts only on accounts that are still what the plan says ---------------------


def _renamed_since_the_sync(loom: Workspace, tmp_path: Path) -> tuple[Path, str]:
    """A roster where jane.doe is active; the store synced while her account was still
    jane.smith (domain capture); then Loom renamed it. Returns the roster and the store."""
    roster = tmp_path / "roster.csv"
    jane = "jane.doe@acme.example,,active,Jane Doe,Loom Viewers\n"
    roster.write_text((DATA / "roster.csv").read_text() + jane)
    host = LocalHost(LoomConnection.create(loom.sandbox.url, loom.sandbox.token), store=":memory:")
    try:
        made = asyncio.run(host.run_action("create-user", {"email": "jane.smith@acme.example"}))
    finally:
        host.close()
    assert isinstance(made, UserProvisioning)
    loom.ids["jane"] = made.id
    store = tmp_path / "s.sqlite3"
    assert cli("--roster", str(roster), "--store", str(store)).code == EXIT_OK
    address = [{"value": "jane.doe@acme.example", "primary": True, "type": "work"}]
    ops = [
        {"op": "replace", "path": "userName", "value": "jane.doe@acme.example"},
        {"op": "replace", "path": "emails", "value": address},
    ]
    loom.call("PATCH", f"/Users/{made.id}", {"schemas": [PATCH], "Operations": ops})
    return roster, str(store)


def test_apply_no_sync_leaves_an_account_renamed_since_the_sync(
    loom: Workspace, tmp_path: Path
) -> None:
    roster, store = _renamed_since_the_sync(loom, tmp_path)
    result = cli("--roster", str(roster), "--apply", "--no-sync", "--store", store)
    assert result.code == EXIT_OK, result.err
    assert state(loom)["jane.doe@acme.example"][0] is True  # left alone
    assert state(loom)["eli.novak@acme.example"] == (False, "viewer")  # still done
    [line] = [x for x in result.out.splitlines() if "jane.smith" in x and "applied" in x]
    assert "-> skipped" in line and "jane.doe@acme.example" in line
    kept = SQLiteStore(Path(store), loom.sandbox.url)
    try:
        [record] = kept.evidence(email="jane.smith@acme.example")
    finally:
        kept.close()
    assert (record.outcome, record.user_id) == ("skipped", loom.ids["jane"])
    assert "PATCH" not in record.request


def test_apply_no_sync_leaves_an_orphan_the_roster_now_has(loom: Workspace, tmp_path: Path) -> None:
    """Eli (domain capture, in no roster) was linked by the IdP since the sync: his
    account now has Hana's externalId, an active roster entry; --apply leaves him."""
    store = str(tmp_path / "s.sqlite3")
    roster = str(DATA / "roster.csv")
    assert cli("--roster", roster, "--store", store).code == EXIT_OK
    op = {"op": "replace", "path": "externalId", "value": "00u1000008"}
    eli = loom.ids["eli.novak@acme.example"]
    loom.call("PATCH", f"/Users/{eli}", {"schemas": [PATCH], "Operations": [op]})
    result = cli("--roster", roster, "--apply", "--no-sync", "--store", store)
    assert result.code == EXIT_OK, result.err
    assert state(loom)["eli.novak@acme.example"] == (True, "viewer")
    assert state(loom)["dev.iyer@acme.example"] == (False, "creator")
    [line] = [x for x in result.out.splitlines() if "eli.novak" in x and "applied" in x]
    assert "-> skipped" in line and "hana.sato@acme.example" in line


def test_an_entra_guest_matches_loom_by_her_own_address(tmp_path: Path) -> None:
    """A guest's #EXT# UPN in the roster is the person ``jane.doe@example.com``: her Loom
    account matches her (by either address), and a missing guest is listed by it."""
    roster = tmp_path / "entra.csv"
    roster.write_text(
        "userPrincipalName,displayName,mail,objectId,accountEnabled\n"
        "jane.doe_example.com#EXT#@tenant.onmicrosoft.com,Jane Doe,,g1,True\n"
        "raj_partner.example#EXT#@tenant.onmicrosoft.com,Raj,,g2,True\n"
        "kim_partner.example#EXT#@tenant.onmicrosoft.com,Kim,,g3,True\n"
    )
    entries = read_roster(roster).entries
    loom = [
        _user("u1", "Jane.Doe@example.com"),
        _user("u2", "raj_partner.example#EXT#@tenant.onmicrosoft.com"),
    ]
    result = reconcile(loom, entries)
    assert result.orphaned == () and result.matched_active == 2
    assert [f.email for f in result.missing] == ["kim@partner.example"]
    assert [f.matched_by for f in result.unmanaged] == ["email", "email"]
