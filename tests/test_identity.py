"""The one identity rule (``loom_scim_connector.identity``): who is the same person.

Unit cases over the letters that fooled ``casefold`` and ``lower`` before, then the rule
seen from outside: ``offboard`` and ``reconcile`` through the CLI against the sandbox.
"""

from __future__ import annotations

import ast
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loom_scim_connector.cli import EXIT_NOT_FOUND, EXIT_OK
from loom_scim_connector.identity import email_key, guest_address, look_alike, same_email
from loom_scim_connector.sandbox import Sandbox

from .conftest import cli

PACKAGE = Path(__file__).resolve().parents[1] / "loom_scim_connector"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bob@Acme.Example", "bob@acme.example"),
        ("JOSÉ@acme.example", "josé@acme.example"),
        (unicodedata.normalize("NFD", "josé@acme.example"), "josé@acme.example"),
        ("  bob@acme.example\t", "bob@acme.example"),
        ("STRAẞE@acme.example", "straße@acme.example"),  # capital sharp s lowercases to ß
    ],
)
def test_the_same_person(a: str, b: str) -> None:
    assert same_email(a, b) and email_key(a) == email_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("straße@acme.example", "strasse@acme.example"),  # casefold made these one
        ("ſtrasse@acme.example", "strasse@acme.example"),  # long s: casefold and NFKC
        ("ıvan@acme.example", "ivan@acme.example"),  # dotless i
        ("ｂｏｂ@acme.example", "bob@acme.example"),  # full-width: NFKC would fold it
        ("bob+loom@acme.example", "bob@acme.example"),
        ("bob@acme.example", "bob@acme.example.com"),
    ],
)
def test_different_people(a: str, b: str) -> None:
    assert not same_email(a, b) and email_key(a) != email_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("straße@acme.example", "strasse@acme.example"),
        ("ſtrasse@acme.example", "strasse@acme.example"),
        ("ｂｏｂ@acme.example", "bob@acme.example"),
        ("jose@acme.example", "josé@acme.example"),  # an accent lost in an export
    ],
)
def test_different_people_who_look_alike_are_named_as_such(a: str, b: str) -> None:
    assert look_alike(a, b) and look_alike(b, a) and not same_email(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bob@acme.example", "bob@acme.example"),  # the same person: not a look-alike
        ("bob+loom@acme.example", "bob@acme.example"),
        ("ivan@acme.example", "ivan@acme.example.com"),
        ("bob@acme.example", None),
    ],
)
def test_the_same_person_or_plainly_another_is_no_look_alike(a: str, b: str | None) -> None:
    assert not look_alike(a, b)


def test_not_an_address_is_no_one() -> None:
    assert not same_email(None, None) and not same_email("a@b.c", None)


@given(st.text(min_size=1, max_size=20))
def test_the_key_is_stable_and_normal(text: str) -> None:
    key = email_key(text)
    assert email_key(key) == key
    assert unicodedata.is_normalized("NFC", key)
    assert same_email(text, text.upper()) or text.upper().lower() != text.lower()


def test_nothing_else_compares_people() -> None:
    """``casefold`` appears nowhere in the package but in the look-alike hint's skeleton
    (never a match): it makes one person of two."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        allowed: set[ast.AST] = set()
        if path.name == "identity.py":
            skeleton = [n for n in tree.body if getattr(n, "name", None) == "_skeleton"]
            allowed = {node for fn in skeleton for node in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "casefold" and node not in allowed:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


# -- from outside ----------------------------------------------------------------------


def add_user(sandbox: Sandbox, email: str, **extra: Any) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "emails": [{"value": email, "primary": True}],
        "active": True,
        **extra,
    }
    return dict(sandbox.call("POST", "/Users", body))


@pytest.mark.parametrize("asked", ["straße@acme.example", "ſtrasse@acme.example"])
def test_offboarding_an_address_no_one_has_touches_no_one(env: Sandbox, asked: str) -> None:
    strasse = add_user(env, "strasse@acme.example")
    assert cli("sync", "users")[0] == EXIT_OK  # the store now knows strasse@

    code, out, err = cli("offboard", asked)

    assert code == EXIT_NOT_FOUND, err
    assert env.call("GET", f"/Users/{strasse['id']}")["active"] is True
    # Named only as the look-alike it is, never as the one acted on.
    assert out.count("strasse@acme.example") == 1
    hint = "only looks like it (another person to the connector; check it is the one meant)"
    assert f"{hint}: strasse@acme.example (id {strasse['id']})" in " ".join(out.split())


def test_a_roster_in_nfd_matches_loom_in_nfc(env: Sandbox, tmp_path: Path) -> None:
    jose = add_user(env, "josé@acme.example", externalId="00u-jose")
    active = [u for u in env.call("GET", "/Users", query={"count": "100"})["Resources"]]
    rows = ["email,status"] + [
        f"{unicodedata.normalize('NFD', str(u['userName']))},ACTIVE"
        for u in active
        if u.get("active", True)
    ]
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, out, err = cli("reconcile", "--roster", str(roster), "--apply", "--format", "json")

    assert code == EXIT_OK, err
    assert env.call("GET", f"/Users/{jose['id']}")["active"] is True
    assert "jos" not in json.dumps(json.loads(out)["orphaned"])


@pytest.mark.parametrize(
    ("upn", "address"),
    [
        ("jane.doe_example.com#EXT#@tenant.onmicrosoft.com", "jane.doe@example.com"),
        ("Jane_Doe_Example.COM#ext#@t.onmicrosoft.com", "jane_doe@example.com"),  # last _
        ("jane.doe@example.com", None),  # a member's UPN is an address of its own
        ("jane#EXT#@tenant.onmicrosoft.com", None),  # no encoded address in it
        ("jane_localhost#EXT#@tenant.onmicrosoft.com", None),  # no domain
        ("a_b.example#EXT#@x@y.example", None),
    ],
)
def test_an_entra_guest_upn_decodes_to_the_address_it_encodes(
    upn: str, address: str | None
) -> None:
    assert guest_address(upn) == address


def test_a_line_names_five_look_alikes_and_counts_the_rest() -> None:
    from loom_scim_connector.actions._find import nothing_found

    alikes = [f"b\u00f6b{n}@acme.example (id {n})" for n in range(2500)]
    said = nothing_found("userName eq ...: 0 found", True, alikes)
    assert said.endswith("b\u00f6b4@acme.example (id 4) and 2495 more")
    assert len(said) < 500
