from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from loom_scim_connector.errors import InputError
from loom_scim_connector.host import validate_input
from loom_scim_connector.models import (
    CreateGroupInput,
    CreateUserInput,
    GroupMembersInput,
    SetUserRoleInput,
    UpdateUserInput,
)
from loom_scim_connector.models.fieldmap import create_body, marks, patch_ops
from loom_scim_connector.models.records import Group, User
from loom_scim_connector.models.scim import (
    ENTERPRISE_USER,
    UnreadableRecord,
    group_from_scim,
    user_from_scim,
)

FULL: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
    "id": "u1",
    "userName": "jane@example.com",
    "name": {"givenName": "Jane", "familyName": "Doe"},
    "emails": [{"value": "other@example.com"}, {"value": "jane.doe@example.com", "primary": True}],
    "active": True,
    "externalId": "00u1",
    "loomMemberRole": "creator",
    ENTERPRISE_USER: {"employeeNumber": "42"},
    "photos": [{"value": "https://img.example.com/j.png", "type": "photo"}],
    "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-02-01T00:00:00Z"},
    "x-unknown": {"anything": 1},
}


def test_full_user_to_record() -> None:
    record = user_from_scim(FULL)
    dumped = record.model_dump(mode="json", by_alias=True)
    assert dumped == {
        "id": "u1",
        "email": "jane.doe@example.com",
        "firstName": "Jane",
        "lastName": "Doe",
        "active": True,
        "role": "creator",
        "externalId": "00u1",
        "employeeNumber": "42",
        "photoUrl": "https://img.example.com/j.png",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-02-01T00:00:00Z",
    }


def test_attribute_names_in_any_case() -> None:
    raw = {
        "ID": "u2",
        "USERNAME": "a@example.com",
        "Name": {"GIVENNAME": "A"},
        "Active": "False",
        "EXTERNALID": "e",
        "LoomMemberRole": "viewer",
    }
    user = user_from_scim(raw)
    assert (user.id, user.email, user.first_name, user.active, user.external_id, user.role) == (
        "u2",
        "a@example.com",
        "A",
        False,
        "e",
        "viewer",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        ("True", True),
        ("false", False),
        ("FALSE", False),
        (None, None),
    ],
)
def test_active_as_bool_or_string(value: object, expected: bool | None) -> None:
    assert (
        user_from_scim({"id": "u", "userName": "u@x.example", "active": value}).active is expected
    )


def test_role_from_the_enterprise_extension_or_a_custom_one() -> None:
    ent = {"id": "u", "userName": "u@x.example", ENTERPRISE_USER: {"loomMemberRole": "admin"}}
    assert user_from_scim(ent).role == "admin"
    custom = {
        "id": "u",
        "userName": "u@x.example",
        "urn:loom:scim:User": {"LOOMMEMBERROLE": "viewer"},
    }
    assert user_from_scim(custom).role == "viewer"


def test_email_falls_back_to_first_then_user_name() -> None:
    first = {
        "id": "u",
        "userName": "u@x.example",
        "emails": [{"value": "f@x.example"}, {"value": "s@x.example"}],
    }
    assert user_from_scim(first).email == "f@x.example"
    primary_str = {
        "id": "u",
        "userName": "u@x.example",
        "emails": [{"value": "f@x.example"}, {"value": "p@x.example", "primary": "true"}],
    }
    assert user_from_scim(primary_str).email == "p@x.example"
    none = {"id": "u", "userName": "u@x.example"}
    assert user_from_scim(none).email == "u@x.example"
    assert user_from_scim({**none, "emails": "junk"}).email == "u@x.example"


def test_domain_captured_user_has_no_external_id() -> None:
    record = user_from_scim({"id": 17, "userName": "walk-in@x.example"})
    assert record.id == "17" and record.external_id is None and record.role is None


def test_a_user_without_id_is_refused() -> None:
    with pytest.raises(UnreadableRecord) as caught:
        user_from_scim({"userName": "u@x.example"})
    assert (caught.value.record_id, caught.value.reason) == (None, "id is missing or not text")


@pytest.mark.parametrize(
    ("raw", "record_id", "reason"),
    [
        ({"id": "", "userName": "u@x.example"}, None, "its id is empty"),
        ({"id": {"x": 1}, "userName": "u@x.example"}, None, "id is missing or not text"),
        ({"id": True, "userName": "u@x.example"}, None, "id is missing or not text"),
        ({"id": "u\udc3c", "userName": "u@x.example"}, None, "id holds invalid Unicode"),
        (
            {"id": "u1", "userName": "u@x.example", "name": {"givenName": "Jo\ud83d"}},
            "u1",
            "name.givenName holds invalid Unicode (a lone surrogate)",
        ),
        ({"id": "u1", "active": False}, "u1", "emails (or userName) is missing or not text"),
    ],
)
def test_an_unreadable_user_names_its_usable_id_and_why(
    raw: dict[str, Any], record_id: str | None, reason: str
) -> None:
    """The reader refuses (never repairs) what it cannot hold: an id it could not send
    back or store, text a UTF-8 store cannot hold (a lone surrogate), a missing email."""
    with pytest.raises(UnreadableRecord) as caught:
        user_from_scim(raw)
    assert caught.value.record_id == record_id
    assert caught.value.reason.startswith(reason)


def test_a_group_whose_member_id_is_invalid_unicode_is_unreadable() -> None:
    with pytest.raises(UnreadableRecord, match="members holds invalid Unicode"):
        group_from_scim({"id": "g1", "displayName": "G", "members": [{"value": "\udc3c"}]})


def test_valid_non_ascii_text_is_read_as_it_is() -> None:
    user = user_from_scim(
        {"id": "u1", "userName": "zoë@x.example", "name": {"givenName": "Zoë 😀"}}
    )
    assert (user.email, user.first_name) == ("zoë@x.example", "Zoë 😀")


def test_group_members() -> None:
    group = group_from_scim(
        {
            "id": "g",
            "DisplayName": "Loom Creators",
            "members": [{"value": "u1"}, {"Value": 2}, {"display": "x"}, "junk"],
        }
    )
    assert group.model_dump(by_alias=True) == {
        "id": "g",
        "displayName": "Loom Creators",
        "externalId": None,
        "memberIds": ["u1", "2"],
    }


def test_every_record_field_says_where_it_lives_in_scim() -> None:
    assert list(marks(User)) == list(User.model_fields)
    assert list(marks(Group)) == list(Group.model_fields)


def test_a_user_read_from_what_an_action_writes_is_the_same_user() -> None:
    """The field map used both ways: a create body read back gives the values written."""
    values = {
        "email": "jane@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "active": True,
        "role": "creator",
        "external_id": "00u1",
        "employee_number": "42",
        "photo_url": "https://img.example.com/j.png",
    }
    body = create_body(User, values, schema="urn:ietf:params:scim:schemas:core:2.0:User")
    assert body["userName"] == "jane@example.com"
    assert ENTERPRISE_USER in body["schemas"]
    user = user_from_scim({**body, "id": "u1"})
    assert user.model_dump(exclude={"id", "created_at", "updated_at"}) == values


def test_patch_paths_come_from_the_same_map() -> None:
    ops = patch_ops(User, {"email": "a@b.io", "first_name": "A", "employee_number": "7"})
    assert [op["path"] for op in ops] == [
        "userName",
        "emails",
        "name.givenName",
        f"{ENTERPRISE_USER}:employeeNumber",
    ]
    assert patch_ops(User, {"id": "x", "created_at": None}) == []


def test_group_members_written_and_read_back() -> None:
    body = create_body(
        Group, {"display_name": "G", "member_ids": ["u1", "u2"]}, schema="core:Group"
    )
    assert group_from_scim({**body, "id": "g"}).member_ids == ["u1", "u2"]


@pytest.mark.parametrize("email", ["jane@example.com", "j.doe+loom@sub.example.co.uk", "  a@b.io "])
def test_valid_emails(email: str) -> None:
    assert CreateUserInput.model_validate({"email": email}).email == email.strip()


@pytest.mark.parametrize(
    "email",
    [
        "jane",
        "jane@",
        "@example.com",
        "ja ne@example.com",
        'a"b@example.com',
        "a@localhost",
        "a\\b@example.com",
        "",
    ],
)
def test_invalid_emails(email: str) -> None:
    with pytest.raises(ValidationError, match="email address"):
        CreateUserInput.model_validate({"email": email})


def test_input_errors_name_each_field_without_echoing_values() -> None:
    with pytest.raises(InputError) as caught:
        validate_input(
            "create-user",
            CreateUserInput,
            {"email": "nope", "role": "owner", "photoUrl": "ftp://x", "fistName": "J"},
        )
    problems = caught.value.problems
    assert set(problems) == {"email", "role", "photoUrl", "fistName"}
    assert "default" in problems["role"] and "creator" in problems["role"]
    assert problems["fistName"] == "is not a known field: did you mean 'firstName'?"


def test_role_and_ids_are_strict() -> None:
    with pytest.raises(ValidationError):
        SetUserRoleInput.model_validate({"id": " ", "role": "creator"})
    with pytest.raises(ValidationError):
        SetUserRoleInput.model_validate({"id": "u1", "role": "Creator"})
    with pytest.raises(ValidationError):
        SetUserRoleInput.model_validate({"id": 5, "role": "creator"})
    assert SetUserRoleInput.model_validate({"id": "u1", "role": "viewer"}).role == "viewer"


def test_update_needs_something_to_change() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        UpdateUserInput.model_validate({"id": "u1"})
    with pytest.raises(ValidationError, match="at least one"):
        UpdateUserInput.model_validate({"id": "u1", "firstName": None})
    assert UpdateUserInput.model_validate({"id": "u1", "lastName": "Doe"}).last_name == "Doe"


def test_member_ids_must_be_unique_and_present() -> None:
    with pytest.raises(ValidationError, match="repeat"):
        GroupMembersInput.model_validate({"id": "g", "memberIds": ["a", "a"]})
    with pytest.raises(ValidationError):
        GroupMembersInput.model_validate({"id": "g", "memberIds": []})
    with pytest.raises(ValidationError):
        CreateGroupInput.model_validate({"displayName": "  "})


def test_non_object_input() -> None:
    with pytest.raises(InputError, match="JSON object"):
        validate_input("get-user", CreateUserInput, ["u1"])


def test_a_number_becomes_text_only_where_text_is_expected() -> None:
    """An id of 17 reads as "17"; an ``active`` of 1.0 stays a number, read as true."""
    user = user_from_scim({"id": 17, "userName": "n@x.example", "active": 1.0})
    assert (user.id, user.active) == ("17", True)
    assert user_from_scim({"id": "u", "userName": "n@x.example", "active": 0}).active is False


def test_the_role_is_read_from_the_extension_that_keeps_it_before_a_top_level_copy() -> None:
    """The enterprise extension, then any other, then the top level: a server that maps
    loomMemberRole to an extension keeps a top-level copy but acts on the extension's
    (issue 19, case 9: the top-level copy was read, and the sync showed the wrong role)."""
    both = {
        "id": "u",
        "userName": "u@x.example",
        "urn:x:y": {"loomMemberRole": "viewer"},
        ENTERPRISE_USER: {"loomMemberRole": "admin"},
    }
    assert user_from_scim(both).role == "admin"
    assert user_from_scim({**both, "LoomMemberRole": "creator"}).role == "admin"
    assert user_from_scim({**both, "loomMemberRole": "creator"}).role == "admin"
    custom = {"id": "u", "userName": "u@x.example", "urn:x:y": {"loomMemberRole": "viewer"}}
    assert user_from_scim({**custom, "loomMemberRole": "creator"}).role == "viewer"
    assert (
        user_from_scim({"id": "u", "userName": "u@x.example", "loomMemberRole": "creator"}).role
        == "creator"
    )
