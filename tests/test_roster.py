"""Reading rosters: each export detected from its headers, --map for any other file, and a
file that cannot be read named with its line and the reason, in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loom_scim_connector.audit.roster import RosterError, parse_map, read_role_map, read_roster
from loom_scim_connector.audit.roster_formats import status_active

DATA = Path(__file__).parent / "data"
HR_MAP = "email=Work Email,externalId=Employee ID,status=Employment Status,name=Full Name,role=Team"


@pytest.mark.parametrize(
    ("file", "fmt", "gone_status", "external_id"),
    [
        ("okta_users.csv", "okta", "DEPROVISIONED", None),
        ("entra_users.csv", "entra", "False", "5f1c2d3e-0000-4000-8000-000000000004"),
        ("google_users.csv", "google", "Suspended", None),
        ("roster.csv", "generic", "terminated", "00u1000004"),
        ("roster.json", "generic", "terminated", "00u1000004"),
        ("roster.jsonl", "generic", "terminated", "00u1000004"),
    ],
)
def test_each_export_is_detected_from_its_headers(
    file: str, fmt: str, gone_status: str, external_id: str | None
) -> None:
    roster = read_roster(DATA / file)
    assert roster.format == fmt
    assert len(roster.entries) == 9
    by_email = {e.email: e for e in roster.entries}
    # Emails are lower-cased for matching, whatever the file wrote.
    assert "chloe.park@acme.example" in by_email
    dev = by_email["dev.iyer@acme.example"]
    assert (dev.active, dev.status, dev.external_id) == (False, gone_status, external_id)
    assert dev.name == "Dev Iyer"
    assert by_email["ada.okafor@acme.example"].active is True
    assert by_email["jo.kim@acme.example"].active is False


def test_okta_states_that_are_not_leavers_stay_active() -> None:
    roster = {e.email: e for e in read_roster(DATA / "okta_users.csv").entries}
    assert roster["gus.romero@acme.example"].status == "LOCKED_OUT"
    assert roster["gus.romero@acme.example"].active is True
    assert roster["ivan.petrov@acme.example"].active is True  # PASSWORD_EXPIRED


def test_line_numbers_are_the_files() -> None:
    roster = read_roster(DATA / "okta_users.csv")
    assert [e.line for e in roster.entries] == list(range(2, 11))
    assert read_roster(DATA / "roster.json").unit == "item"


def test_generic_role_or_group_column() -> None:
    assert read_roster(DATA / "roster.csv").entries[0].role == "Loom Creators"
    assert read_roster(DATA / "roster.json").entries[0].role == "Loom Creators"  # "group"


def test_entra_mail_is_an_alias_of_the_upn(tmp_path: Path) -> None:
    path = tmp_path / "entra.csv"
    path.write_text(
        "userPrincipalName,displayName,mail,objectId,accountEnabled\n"
        "ada_acme.example#EXT#@acme.onmicrosoft.example,Ada,Ada.Okafor@acme.example,x1,True\n"
    )
    entry = read_roster(path).entries[0]
    # A guest's UPN is no address of hers: her mail is her email; the address the UPN
    # encodes, and the UPN itself, are aliases (a Loom account may carry either).
    assert entry.email == "ada.okafor@acme.example"
    assert entry.aliases == ("ada@acme.example", "ada_acme.example#ext#@acme.onmicrosoft.example")


def test_an_entra_guest_shows_as_the_address_her_upn_encodes(tmp_path: Path) -> None:
    path = tmp_path / "entra.csv"
    path.write_text(
        "userPrincipalName,displayName,mail,objectId,accountEnabled\n"
        "jane.doe_example.com#EXT#@tenant.onmicrosoft.com,Jane Doe,,g1,True\n"
        "ben.marsh@acme.example,Ben Marsh,ben.marsh@acme.example,m1,True\n"
    )
    guest, member = read_roster(path).entries
    assert guest.email == "jane.doe@example.com"
    assert guest.aliases == ("jane.doe_example.com#ext#@tenant.onmicrosoft.com",)
    assert (member.email, member.aliases) == ("ben.marsh@acme.example", ())


def test_entra_newer_column_labels_and_id(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "User principal name,Display name,Object ID,Account enabled\n"
        "ada.okafor@acme.example,Ada Okafor,abc,No\n"
    )
    entry = read_roster(labels).entries[0]
    assert (entry.email, entry.external_id, entry.active) == (
        "ada.okafor@acme.example",
        "abc",
        False,
    )
    ids = tmp_path / "ids.csv"
    ids.write_text("id,userPrincipalName,accountEnabled\nabc,ada.okafor@acme.example,true\n")
    assert read_roster(ids).entries[0].external_id == "abc"


def test_map_names_the_columns_of_any_other_file() -> None:
    # hr_export.csv: semicolons, CRLF, "Employed"/"Terminated".
    roster = read_roster(DATA / "hr_export.csv", parse_map(HR_MAP))
    assert roster.format == "mapped"
    dev = next(e for e in roster.entries if e.email == "dev.iyer@acme.example")
    assert (dev.active, dev.status, dev.external_id, dev.role) == (
        False,
        "Terminated",
        "00u1000004",
        "Loom Creators",
    )


def test_map_can_add_a_column_to_a_known_export() -> None:
    roster = read_roster(DATA / "okta_users.csv", parse_map("role=Department"))
    assert roster.format == "okta with --map"
    assert roster.entries[0].role == "Media"


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "roster.csv").read_bytes().replace(b"\n", b"\r\n"))
    roster = read_roster(path)
    assert roster.format == "generic" and len(roster.entries) == 9
    assert roster.entries[0].email == "ada.okafor@acme.example"


def _error(tmp_path: Path, name: str, content: str | bytes, mapping: str | None = None) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(RosterError) as caught:
        read_roster(path, parse_map(mapping) if mapping else None)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_row_without_email_names_its_line_and_column(tmp_path: Path) -> None:
    text = (DATA / "okta_users.csv").read_text().splitlines()
    text[3] = ",Chloe,Park,,,,Engineer,Platform,ACTIVE"
    message = _error(tmp_path, "roster.csv", "\n".join(text) + "\n")
    assert message == 'roster.csv line 4: no email in column "Primary email"'


def test_the_username_stands_in_for_an_empty_primary_email(tmp_path: Path) -> None:
    path = tmp_path / "okta.csv"
    path.write_text(
        "Username,First name,Last name,Primary email,Status\nada@acme.example,Ada,O,,ACTIVE\n"
    )
    assert read_roster(path).entries[0].email == "ada@acme.example"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("blank.csv", "\r\n  \n", "blank.csv: the file is empty"),
        (
            "bad.csv",
            "email,status\nada@acme.example,on leave\n",
            "bad.csv line 2: status 'on leave'",
        ),
        ("bad.csv", "email\nnot-an-email\n", "bad.csv line 2: 'not-an-email' in column \"email\""),
        (
            "wide.csv",
            "email\nada@acme.example,extra\n",
            "wide.csv line 2: 2 values, but the header",
        ),
        ("bad.json", '[{"email": "a@acme.example"},\n 3]', "bad.json item 2: is not an object"),
        (
            "bad.json",
            '[{"email": "a@acme.example"}\n {"email"}]',
            "bad.json line 2: not valid JSON",
        ),
        (
            "bad.jsonl",
            '{"email": "a@acme.example"}\n\n{"email": }\n',
            "bad.jsonl line 3: not valid",
        ),
        ("obj.json", '{\n"users": []}', "obj.json: must be a JSON list of objects"),
        ("one.jsonl", '{"email": "a@acme.example"', "one.jsonl line 1: not valid JSON"),
    ],
)
def test_unreadable_files_say_where_and_why(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    assert _error(tmp_path, name, content).startswith(expected)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    content = b"email,name\na@acme.example,Ana\nb@acme.example,Jos\xe9\n"
    assert _error(tmp_path, "latin1.csv", content).startswith("latin1.csv line 3: is not UTF-8")


def test_an_unknown_format_lists_its_columns_and_suggests_map(tmp_path: Path) -> None:
    message = _error(tmp_path, "hr.csv", "Work Email,Employee ID\nada@acme.example,1\n")
    assert '"Work Email", "Employee ID"' in message
    assert "--map email=" in message


def test_map_naming_a_missing_column(tmp_path: Path) -> None:
    message = _error(tmp_path, "hr.csv", "Work Email\nada@acme.example\n", "email=Mail")
    assert message.startswith("--map: email=Mail: no column 'Mail' in hr.csv")


@pytest.mark.parametrize("text", ["email", "mail=Work Email", "email=", ","])
def test_a_bad_map(text: str) -> None:
    with pytest.raises(RosterError, match="--map"):
        parse_map(text)


@pytest.mark.parametrize(
    ("raw", "active"),
    [
        ("ACTIVE", True),
        ("", True),
        ("STAGED", True),
        ("Locked out", True),
        ("DEPROVISIONED", False),
        ("SUSPENDED", False),
        ("terminated", False),
        ("False", False),
        ("Archived", False),
        ("maybe", None),
    ],
)
def test_status_words(raw: str, active: bool | None) -> None:
    assert status_active(raw) is active


def test_role_map_yaml_and_json(tmp_path: Path) -> None:
    assert read_role_map(DATA / "roles.yaml") == {
        "loom creators": "creator",
        "loom viewers": "viewer",
        "loom admins": "admin",
    }
    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"Engineering": "Creator"}))
    assert read_role_map(path) == {"engineering": "creator"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Loom Editors: editor\n", "'Loom Editors' maps to 'editor'"),
        ("- creator\n", "must map IdP groups"),
        ("a: [\n", "roles.yaml line"),
    ],
)
def test_a_bad_role_map(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(content)
    with pytest.raises(RosterError, match=expected.replace("[", r"\[")):
        read_role_map(path)


def test_okta_api_attribute_names(tmp_path: Path) -> None:
    path = tmp_path / "okta_api.csv"
    path.write_text(
        "id,status,login,email,firstName,lastName\n"
        "00u1000004,DEPROVISIONED,dev.iyer,Dev.Iyer@acme.example,Dev,Iyer\n"
    )
    roster = read_roster(path)
    entry = roster.entries[0]
    assert roster.format == "okta"
    assert (entry.email, entry.external_id, entry.active, entry.name) == (
        "dev.iyer@acme.example",
        "00u1000004",
        False,
        "Dev Iyer",
    )


def test_control_characters_never_reach_the_output(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps({"email": "a@acme.example", "name": "Ann\u2028\x1b[31mLee"}) + "\r\n",
        encoding="utf-8",
    )
    assert read_roster(path).entries[0].name == "Ann  [31mLee"


OKTA_API = [
    {
        "id": "00u1abcd",
        "status": "ACTIVE",
        "profile": {
            "login": "ana@example.com",
            "email": "ana@example.com",
            "firstName": "Ana",
            "lastName": "Lima",
        },
    },
    {
        "id": "00u2efgh",
        "status": "DEPROVISIONED",
        "profile": {"login": "bo.login@example.com", "email": "bo@example.com"},
    },
]


def test_okta_users_api_json_with_the_email_under_profile(tmp_path: Path) -> None:
    path = tmp_path / "okta-users.json"
    path.write_text(json.dumps(OKTA_API))
    roster = read_roster(path)
    assert roster.format == "okta"
    ana, bo = roster.entries
    assert (ana.email, ana.name, ana.external_id, ana.active) == (
        "ana@example.com",
        "Ana Lima",
        "00u1abcd",
        True,
    )
    assert (bo.email, bo.active, bo.aliases) == ("bo@example.com", False, ("bo.login@example.com",))
    # A dotted path names a field of a nested object, for --map too.
    mapped = read_roster(path, parse_map("email=profile.login"))
    assert [e.email for e in mapped.entries] == ["ana@example.com", "bo.login@example.com"]


def test_entra_account_disabled_reads_as_disabled_in_the_idp() -> None:
    from loom_scim_connector.audit.roster_formats import status_phrase

    assert status_phrase("False") == "disabled in the IdP"
    assert status_phrase("false") == "disabled in the IdP"
    assert status_phrase("DEPROVISIONED") == "the roster says DEPROVISIONED (gone from the IdP)"
