"""The fast reader (models/fastread.py) on users shaped as the servers behind a Loom
connection send them (vendor-behaviour.md): Atlassian's (its own extension, top-level
attributes of its own), WorkOS's (loomMemberRole in a custom extension), a primary email
not first. It reads them, to exactly the lenient reader's record; odd variants of them
(generated too) are read the same or declined; and each deliberate mutation of the
widened shape check is caught by these cases."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loom_scim_connector.models import fastread
from loom_scim_connector.models.records import User
from loom_scim_connector.models.scim import ENTERPRISE_USER

from .test_fastread import (
    CANONICAL_USER,
    Reader,
    assert_same_or_declined,
    check_text,
    fast,
    primary_flags,
    scalars,
)

# -- the shapes real servers send --------------------------------------------------------

ATLASSIAN_EXTERNAL = "urn:scim:schemas:extension:atlassian-external:1.0"
ROLE_EXTENSION = "urn:ietf:params:scim:schemas:extension:loom:2.0:User"  # the sandbox's
ATLASSIAN_USER: dict[str, Any] = {  # vendor-behaviour.md, and Atlassian's API reference
    **CANONICAL_USER,
    "schemas": [*CANONICAL_USER["schemas"], ATLASSIAN_EXTERNAL],
    "userName": "jdoe@acme.onmicrosoft.example",
    "name": {"formatted": "Jane Doe", "givenName": "Jane", "familyName": "Doe"},
    "displayName": "Jane Doe",
    "department": "Research",
    "organization": "Acme",
    "timezone": "Europe/London",
    "phoneNumbers": [{"type": "work", "value": "+44 20 7946 0000", "primary": True}],
    "groups": [{"type": "Group", "value": "g1", "display": "Loom Creators", "$ref": "https://g"}],
    ENTERPRISE_USER: {"organization": "Acme", "department": "Research"},
    ATLASSIAN_EXTERNAL: {"atlassianAccountId": "5b10ac8d82e05b22cc7d4ef5"},
}
WORKOS_USER: dict[str, Any] = {  # the sandbox's workos profile: the role in its own extension
    **{k: v for k, v in CANONICAL_USER.items() if k != "loomMemberRole"},
    "schemas": [*CANONICAL_USER["schemas"], ROLE_EXTENSION],
    ROLE_EXTENSION: {"loomMemberRole": "admin"},
}
TWO_EMAILS = [
    {"value": "j@home.example", "type": "home"},
    {"value": "j@acme.example", "primary": True},
]


def vendor(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    raw = {**base, **changes}
    return {k: v for k, v in raw.items() if v is not ...}


def role(urn: str, *pairs: tuple[str, Any], base: dict[str, Any] = CANONICAL_USER) -> Any:
    """``base`` with an extension ``urn`` holding ``pairs`` (the top-level role: viewer)."""
    return vendor(base, **{urn: dict(pairs)})


# Read fast, and what the lenient reader reads (role, email).
TAKEN: list[tuple[dict[str, Any], str | None, str]] = [
    (ATLASSIAN_USER, "viewer", "jane@example.com"),
    (vendor(ATLASSIAN_USER, emails=TWO_EMAILS), "viewer", "j@acme.example"),
    (WORKOS_USER, "admin", "jane@example.com"),
    (role(ROLE_EXTENSION, ("loomMemberRole", "admin")), "admin", "jane@example.com"),
    (role(ROLE_EXTENSION, ("loomMemberRole", None)), "viewer", "jane@example.com"),
    (role("URN:Example:1.0", ("loomMemberRole", "creator")), "creator", "jane@example.com"),
    (
        vendor(WORKOS_USER, **{ENTERPRISE_USER: {"loomMemberRole": "creator"}}),
        "creator",
        "jane@example.com",
    ),
    (vendor(CANONICAL_USER, **{"x-vendor": {"a": 1}}), "viewer", "jane@example.com"),
    (
        vendor(CANONICAL_USER, **{"urn:x:1.0": [{"loomMemberRole": "admin"}]}),
        "viewer",
        "jane@example.com",
    ),
    (
        vendor(
            CANONICAL_USER,
            emails=[{"value": "a@x", "primary": False}, {"value": "b@x", "primary": " TRUE"}],
        ),
        "viewer",
        "b@x",
    ),
    (
        vendor(CANONICAL_USER, emails=[{"value": "a@x"}, {"VALUE": "b@x", "Primary": True}]),
        "viewer",
        "b@x",
    ),
    (vendor(CANONICAL_USER, emails=[{"value": ""}, "x", {"value": "c@x"}]), "viewer", "c@x"),
]


def test_vendor_shaped_users_are_read_fast_and_equal() -> None:
    for raw, expected_role, expected_email in TAKEN:
        record = assert_same_or_declined(raw)
        assert record is not None, raw
        assert (record.role, record.email) == (expected_role, expected_email), raw


# Odd variants of those: read the same, or declined (the lenient reader reads them).
VENDOR_ODD: list[Any] = [
    *(raw for raw, _, _ in TAKEN),
    role(ROLE_EXTENSION, ("LoomMemberRole", "admin")),
    role(ROLE_EXTENSION, ("loomMemberRole", "admin"), ("LoomMemberRole", "creator")),
    role(ROLE_EXTENSION, ("loomMemberRole", 3)),
    role(ROLE_EXTENSION, ("loomMemberRole", "a\udc3cb")),
    role("x-custom", ("loomMemberRole", "admin")),
    vendor(role("urn:x:1.0", ("loomMemberRole", "admin")), **{"URN:X:1.0": {"other": 1}}),
    vendor(role("urn:a:1", ("loomMemberRole", "admin")), **{"urn:b:1": {"loomMemberRole": "c"}}),
    vendor(role("urn:a:1.0", ("loomMemberRole", "admin")), **{ATLASSIAN_EXTERNAL: {"a": "1"}}),
    vendor(CANONICAL_USER, **{"urn:x:1.0": types.MappingProxyType({"loomMemberRole": "admin"})}),
    vendor(CANONICAL_USER, Emails=[{"value": "other@x"}]),
    vendor(CANONICAL_USER, **{ENTERPRISE_USER.lower(): {"loomMemberRole": "admin"}}),
    vendor(CANONICAL_USER, **{"urn:x:1.0": {"loomMemberRole": "admin"}, "USERNAME": "u@x"}),
    {**CANONICAL_USER, "urn:x:1.0": {}, 7: "seven"},
    vendor(CANONICAL_USER, emails=[{"value": ""}, {"value": 7}]),
    vendor(CANONICAL_USER, emails=[{"value": "a@x"}, {"value": "b\udc3c@x", "primary": True}]),
    vendor(CANONICAL_USER, emails=[{"value": "", "primary": True}, {"value": "b@x"}]),
    vendor(CANONICAL_USER, emails=[{"value": "a", "primary": True, "PRIMARY": 0}, {"value": "b"}]),
    vendor(CANONICAL_USER, photos=[{"value": "p"}, {"value": "q", "primary": "true"}]),
]  # fmt: skip


def test_odd_vendor_records_are_read_the_same_or_declined() -> None:
    for raw in VENDOR_ODD:
        assert_same_or_declined(raw)


# Each a wrong widening of the shape check (its text in fastread.py, and instead).
MUTATIONS = {
    "case variants let through": ("key.lower() in CANONICAL_LOWER", "False"),
    "only the canonical spelling holds the role": (
        "lowered.isdisjoint(str(k).lower() for k in value)",
        "'loomMemberRole' not in value",
    ),
    "a second other key beside the holder": ("if len(extra) > 1:", "if False:"),
    "a holder that is no extension": ('if not key.lower().startswith("urn:"):', "if False:"),
    "a holder whose keys are not canonical": ("if not extension.keys() <= CANONICAL:", "if False:"),
    "a Mapping taken for a leaf": ("type(value) not in _JSON_LEAVES", "False"),
    "the first email, not the primary": (
        '"            x = primary(v)"',
        '"            x = primary(v[:1])"',
    ),
    "the role left in its extension": ("return {**raw, **moved} if moved else raw", "return raw"),
}


def mutant(old: str, new: str) -> Reader | None:
    source = Path(fastread.__file__).read_text(encoding="utf-8")
    assert not old or source.count(old) == 1, old
    module = types.ModuleType("fastread_mutant")
    module.__dict__["__package__"] = fastread.__package__
    exec(compile(source.replace(old, new), "<fastread, mutated>", "exec"), module.__dict__)  # noqa: S102
    reader: Reader | None = module.fast_reader(User)
    return reader


@pytest.mark.parametrize("change", list(MUTATIONS.values()), ids=list(MUTATIONS))
def test_each_wrong_widening_is_caught(change: tuple[str, str]) -> None:
    reader = mutant(*change)
    caught = 0
    for raw in VENDOR_ODD:
        try:
            assert_same_or_declined(raw, reader)
        except AssertionError:
            caught += 1
    assert caught, "this mutation of the shape check passes every vendor case"


def test_the_unmutated_source_is_what_is_imported() -> None:
    reader = mutant("", "")
    for raw, _, _ in TAKEN:
        assert fast(raw, reader) == fast(raw)


# Generated: a vendor's user with other extensions (the role in some, in any case, null,
# a number), the role at the top level or not, several emails with primary anywhere.
EXTENSION_KEYS = [
    ATLASSIAN_EXTERNAL, ROLE_EXTENSION, ROLE_EXTENSION, "URN:Example:1.0", "urn:example:1.0",
    ENTERPRISE_USER, ENTERPRISE_USER.lower(), "x-vendor", "x-vendor", "Emails", "loommemberrole",
    "department", "groups",
]  # fmt: skip
EXTENSION_SUBKEYS = [
    "atlassianAccountId", "loomMemberRole", "loommemberrole", "LoomMemberRole",
    "employeeNumber", "department", "manager",
]  # fmt: skip
roles = st.sampled_from(["admin", "viewer", "creator", None, "", 3, "a\udc3cb"])
extension_dicts = st.dictionaries(
    st.sampled_from(EXTENSION_SUBKEYS), st.one_of(roles, scalars), max_size=3
)
holders = st.builds(  # an extension holding the role, spelled some way, among other keys
    lambda key, role, others: {**others, key: role},
    st.sampled_from(["loomMemberRole", "loomMemberRole", "LoomMemberRole", "loommemberrole"]),
    roles,
    extension_dicts,
)
extension_values = st.one_of(
    holders,
    holders,
    extension_dicts,
    scalars,
    st.lists(st.dictionaries(st.sampled_from(EXTENSION_SUBKEYS), roles, max_size=2), max_size=2),
)
email_items = st.fixed_dictionaries(
    {"value": st.sampled_from(["a@x", "b@x", "c@x", "a@x", "", "c\udc3c@x", 7, None])},
    optional={
        "primary": primary_flags,
        "type": st.sampled_from(["work", "home"]),
        "PRIMARY": primary_flags,
        "Value": st.sampled_from(["d@x", ""]),
    },
)
emails = st.one_of(
    st.lists(st.one_of(email_items, email_items, email_items, scalars), min_size=2, max_size=4),
    st.builds(lambda a, b: [a, {**b, "primary": True}], email_items, email_items),
)


@st.composite
def vendor_texts(draw: st.DrawFn) -> str:
    """A user as Atlassian or WorkOS send it, changed as a real server might, as JSON:
    its own extension dropped or not, others added (one spelled again in other case),
    the role at the top level or not, several emails."""
    raw = dict(draw(st.sampled_from([ATLASSIAN_USER, WORKOS_USER, CANONICAL_USER])))
    if draw(st.booleans()):
        raw.pop(ATLASSIAN_EXTERNAL, None)
        raw.pop(ROLE_EXTENSION, None)
    pairs: list[tuple[str, Any]] = list(raw.items())
    added: list[str] = draw(st.lists(st.sampled_from(EXTENSION_KEYS), max_size=2))
    for key in added:
        pairs.append((key, draw(extension_values)))
    again: bool = draw(st.booleans())
    if added and again:
        pairs.append((draw(st.sampled_from(added)).swapcase(), draw(extension_values)))
    if draw(st.booleans()):
        pairs.append(("emails", draw(emails)))
    if draw(st.booleans()):
        pairs.append(("loomMemberRole", draw(roles)))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)
    return "{" + body + "}"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vendor_texts())
def test_fast_equals_lenient_or_declines_on_vendor_shapes(text: str) -> None:
    check_text(text)
