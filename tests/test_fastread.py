"""The fast reader of the common case (models/fastread.py) gives exactly the lenient
reader's record, or declines: on canonical records and on odd ones (case variants, extra
keys, extensions, numbers and strings where others are expected, primary flags in odd
forms, nulls, lone surrogates, duplicate keys in the JSON text); on users shaped as
Atlassian and WorkOS send them (other extensions, loomMemberRole in one, vendors' own
attributes, the primary email not first), which it reads, and on odd variants of those.
Each deliberate mutation of the widened shape check is caught by these cases."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import ValidationError, from_json

from loom_scim_connector.models import fastread
from loom_scim_connector.models.fastread import fast_reader
from loom_scim_connector.models.records import Group, User
from loom_scim_connector.models.scim import (
    ENTERPRISE_USER,
    UnreadableRecord,
    _read_user,
    _record,
    user_from_scim,
)

FAST = fast_reader(User)
assert FAST is not None
CANONICAL_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
    "id": "u1",
    "externalId": "00u1",
    "userName": "jane@example.com",
    "name": {"givenName": "Jane", "familyName": "Doe"},
    "emails": [{"value": "jane@example.com", "type": "work", "primary": True}],
    "active": True,
    "loomMemberRole": "viewer",
    ENTERPRISE_USER: {"employeeNumber": "E1"},
    "meta": {
        "resourceType": "User",
        "created": "2026-11-22T07:26:55.031947Z",
        "lastModified": "2026-11-22T07:26:55Z",
        "version": 'W/"1"',
    },
}


def lenient(raw: Any) -> User | str:
    try:
        return _record(User, _read_user, raw)
    except UnreadableRecord as exc:
        return f"{exc.record_id}: {exc.reason}"


Reader = Callable[[Any], User | None]


def fast(raw: Any, reader: Reader | None = FAST) -> User | None:
    assert reader is not None
    try:
        return reader(raw)
    except ValidationError:
        return None


def assert_same_or_declined(raw: Any, reader: Reader | None = FAST) -> User | None:
    record = fast(raw, reader)
    if record is not None:
        expected = lenient(raw)
        assert isinstance(expected, User), (raw, expected)
        assert type(record) is User
        assert record == expected
        assert record.__dict__ == expected.__dict__
        assert record.model_dump_json(by_alias=True) == expected.model_dump_json(by_alias=True)
    return record


def test_the_canonical_user_is_read_fast_and_equal() -> None:
    record = assert_same_or_declined(CANONICAL_USER)
    assert record is not None
    assert record.email == "jane@example.com" and record.role == "viewer"
    assert record.employee_number == "E1" and record.created_at is not None
    assert user_from_scim(CANONICAL_USER) == record


def test_the_model_class_is_left_complete() -> None:
    assert User.__pydantic_complete__ is True
    assert User.model_validate({"id": "x", "email": "e"}).id == "x"


def test_groups_have_no_fast_reader() -> None:
    assert fast_reader(Group) is None


def variant(**changes: Any) -> dict[str, Any]:
    raw = {**CANONICAL_USER, **changes}
    return {k: v for k, v in raw.items() if v is not ...}


ODD = [
    variant(Emails=[{"value": "x@y"}]),  # a case variant: the lenient reader lower-cases
    variant(name={"GivenName": "J", "givenName": "K"}),
    variant(meta={"Created": "2020-01-01T00:00:00Z"}),
    variant(emails=[{"value": "a@x"}, {"value": "b@x", "primary": True}]),
    variant(emails=[{"value": "a@x", "primary": 1}, {"value": "b@x", "primary": True}]),
    variant(emails=[{"value": "a@x", "primary": "true"}, {"value": "b@x"}]),
    variant(emails=[{"value": ""}, {"value": "b@x"}]),
    variant(emails=[{"value": 7}]),
    variant(emails=[{"value": ""}]),
    variant(emails=[{"value": "a@x", "VALUE": "b@x"}]),
    variant(
        emails=[
            {"value": "a@x", "primary": True, "Primary": False},
            {"value": "b@x", "primary": True},
        ]
    ),
    variant(emails=["a@x"]),
    variant(emails=[]),
    variant(emails=None),
    variant(emails=...),
    variant(id=17),
    variant(id=""),
    variant(id=...),
    variant(id="a\udc3cb"),
    variant(externalId=42),
    variant(externalId=1.5),
    variant(externalId="x\udc3c"),
    variant(userName="\udc3c", emails=...),
    variant(active="true"),
    variant(active="True "),
    variant(active="no"),
    variant(active=1),
    variant(**{ENTERPRISE_USER: {"loomMemberRole": None, "employeeNumber": "E"}}),
    variant(**{ENTERPRISE_USER: {"loomMemberRole": "admin"}}),
    variant(**{ENTERPRISE_USER: {"loomMemberRole": 3}}),
    variant(**{ENTERPRISE_USER: "x"}),
    variant(**{ENTERPRISE_USER: None}),
    variant(**{"urn:example:custom:1.0": {"loomMemberRole": "admin"}}),
    variant(**{"x-unknown": 1}),
    variant(name="Jane Doe"),
    variant(name=None),
    variant(meta={"created": "not a date"}),
    variant(meta={"created": 1700000000}),
    variant(loomMemberRole=None),
    variant(photos=[{"value": "https://p", "type": "photo"}]),
    variant(photos=[{"value": "https://p"}, {"value": "https://q", "primary": True}]),
]


def test_odd_records_are_read_the_same_or_declined() -> None:
    declined = 0
    for raw in ODD:
        declined += assert_same_or_declined(raw) is None
    assert declined >= 20  # the odd ones mostly go to the lenient reader


KEYS = [
    "schemas", "id", "externalId", "userName", "name", "displayName", "active", "emails",
    "photos", "meta", "loomMemberRole", ENTERPRISE_USER, "urn:example:custom:1.0", "x-other",
]  # fmt: skip
SUBKEYS = [
    "givenName", "familyName", "created", "lastModified", "resourceType", "employeeNumber",
    "loomMemberRole", "value", "primary", "type", "display", "other",
]  # fmt: skip


def spelled(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from([key, key, key, key.lower(), key.upper(), key.capitalize()])


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 99),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "true", "True ", "false", "x@y.example", "a\udc3cb", "\u00e9t\u00e9"]),
    st.sampled_from(["2026-11-22T07:26:55.031947Z", "2026-01-01", "1700000000", "yes"]),
    st.text(max_size=6),
)
primary_flags = st.sampled_from([True, False, None, "true", "True ", 1, 0, "false"])
items = st.dictionaries(
    st.sampled_from(["value", "primary", "type", "display", "Value", "PRIMARY", "other"]),
    st.one_of(scalars, primary_flags),
    max_size=4,
)
subdicts = st.dictionaries(st.sampled_from(SUBKEYS).flatmap(spelled), scalars, max_size=5)
values = st.one_of(
    scalars,
    subdicts,
    st.lists(st.one_of(items, scalars), max_size=3),
)


@st.composite
def wire_texts(draw: st.DrawFn) -> str:
    """A record as JSON text: canonical often, odd often, sometimes a key twice."""
    raw = draw(st.sampled_from([CANONICAL_USER, {}]))
    pairs: list[tuple[str, Any]] = list(raw.items())
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=6)):
        pairs.append((draw(spelled(key)), draw(values)))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)
    return "{" + body + "}"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire_texts())
def test_fast_equals_lenient_or_declines(text: str) -> None:
    check_text(text)


def check_text(text: str) -> None:
    loaded = json.loads(text)  # duplicate keys: the last one wins
    try:
        parsed = from_json(text.encode("utf-8", "surrogatepass"), cache_strings="keys")
    except ValueError:  # a lone surrogate: the client reads such a page with json.loads
        parsed = loaded
    assert parsed == loaded
    assert_same_or_declined(parsed)
    # and through the public function, whichever way it went: the lenient outcome
    expected = lenient(parsed)
    try:
        got: User | str = user_from_scim(parsed)
    except UnreadableRecord as exc:
        got = f"{exc.record_id}: {exc.reason}"
    assert got == expected


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
