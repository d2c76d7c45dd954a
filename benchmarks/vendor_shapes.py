"""Users as each server behind a Loom connection shapes them, for the decode benchmarks.

From ``vendor-behaviour.md`` (the project's shared reference) and the sandbox's profiles:

* ``plain``: ``bench_speed.py``'s user (core schema only, one primary email);
* ``atlassian``: Atlassian's user provisioning API [doc]: core, enterprise and
  ``urn:scim:schemas:extension:atlassian-external:1.0`` (``atlassianAccountId``); top-level
  ``department``, ``organization``, ``timezone``; ``name.formatted``, ``phoneNumbers``,
  ``groups`` (``type``, ``value``, ``display``, ``$ref``), ``meta.location``; every third
  ``userName`` a UPN, the email only in ``emails``; ``loomMemberRole`` at the top level;
* ``atlassian-emails``: the same, every fourth user with a second, primary, address after
  a first one (Atlassian asks for one primary [doc]; its place in the list is a [guess]);
* ``workos``, ``workos-top``, ``workos-enterprise``: the sandbox's seed as WorkOS's bridge
  sends it, ``loomMemberRole`` where the identity provider maps it [guess]: a custom
  extension (the sandbox's ``workos`` profile), the top level, the enterprise extension.

Every fifth person has no ``externalId`` and no role (WorkOS: nor an extension: they
joined Loom by domain capture).
"""

from __future__ import annotations

from typing import Any

from loom_scim_connector.models.scim import CORE_USER, ENTERPRISE_USER
from loom_scim_connector.sandbox.seed import seed_users

ATLASSIAN_EXTERNAL = "urn:scim:schemas:extension:atlassian-external:1.0"
SHAPES = (
    "plain",
    "atlassian",
    "atlassian-emails",
    "workos",
    "workos-top",
    "workos-enterprise",
)
_WORKOS_ROLE = {"workos": "custom", "workos-top": "top", "workos-enterprise": "enterprise"}
_ROLES = ("creator", "creator", "viewer", "admin")
_META = {
    "resourceType": "User",
    "created": "2026-01-01T00:00:00.123Z",
    "lastModified": "2026-01-02T00:00:00.456Z",
}


def shaped_users(shape: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` users of a workspace of this shape (not ``plain``)."""
    if shape in _WORKOS_ROLE:
        seeded = seed_users(count, 7, role_location=_WORKOS_ROLE[shape])
        return [_served(i, user) for i, user in enumerate(seeded)]
    if shape.startswith("atlassian"):
        return [_atlassian(i, two_emails=shape == "atlassian-emails") for i in range(count)]
    raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")


def _served(i: int, user: dict[str, Any]) -> dict[str, Any]:
    """A seeded user as a server lists it: an id first, ``meta`` last."""
    where = f"https://api.workos.example/scim/v2.0/k/Users/{i:024x}"
    return {"id": f"{i:024x}", **user, "meta": {**_META, "location": where}}


def _atlassian(i: int, *, two_emails: bool) -> dict[str, Any]:
    email = f"user{i}@acme.example"
    user: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE_USER, ATLASSIAN_EXTERNAL],
        "id": f"{i:08x}-6f1c-4b8e-9a3d-{i:012x}",
        "userName": f"u{i}@acme.onmicrosoft.example" if i % 3 == 0 else email,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "name": {"formatted": f"User Number{i}", "givenName": "User", "familyName": f"Number{i}"},
        "displayName": f"User Number{i}",
        "title": "Engineer",
        "preferredLanguage": "en-US",
        "department": "Research",
        "organization": "Acme",
        "timezone": "Europe/London",
        "phoneNumbers": [
            {"type": "work", "value": f"+44 20 7946 {i % 10000:04d}", "primary": True}
        ],
        "active": i % 17 != 0,
        "groups": [
            {
                "type": "Group",
                "value": "7b1c2d3e-loom-creators",
                "display": "Loom Creators",
                "$ref": "https://api.atlassian.com/scim/directory/d/Groups/7b1c2d3e-loom-creators",
            }
        ],
        "meta": {**_META, "location": f"https://api.atlassian.com/scim/directory/d/Users/{i}"},
    }
    if two_emails and i % 4 == 0:
        user["emails"].insert(0, {"value": f"user{i}@home.example", "type": "home"})
        user["emails"][1]["primary"] = True
    if i % 5 != 4:  # provisioned by the identity provider
        user["externalId"] = f"00u{i:07d}"
        user["loomMemberRole"] = _ROLES[i % 4]
    user[ENTERPRISE_USER] = {"organization": "Acme", "department": "Research"}
    user[ATLASSIAN_EXTERNAL] = {"atlassianAccountId": f"5b10ac8d82e05b22cc7d{i:04x}"}
    return user
