"""The fast reader of the common case (models/fastread.py) gives exactly the lenient
reader's record, or declines: on canonical records and on odd ones (case variants, extra
keys, extensions, numbers and strings where others are expected, primary flags in odd
forms, nulls, lone surrogates, duplicate keys in the JSON text). The shapes real servers
send: test_fastread_vendors.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import ValidationError, from_json

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
