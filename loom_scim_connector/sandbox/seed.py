"""Seeded workspace: reproducible people, some provisioned by an identity provider
(externalId, employeeNumber, a role), some who joined by domain capture (neither)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from loom_scim_connector.models.scim import CORE_GROUP, CORE_USER, ENTERPRISE_USER

from .schema import ROLE_EXTENSION

DOMAIN = "acme.example"
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Tim",
    "Margaret",
    "Dennis",
    "Hedy",
    "John",
    "Katherine",
    "Linus",
    "Sophie",
    "Vint",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Hamilton",
    "Ritchie",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Torvalds",
    "Wilson",
    "Cerf",
]
ROLE_GROUPS = {"creator": "Loom Creators", "viewer": "Loom Viewers", "admin": "Loom Admins"}


UPN_DOMAIN = "acme.onmicrosoft.example"


def seed_users(
    count: int, seed: int, *, role_location: str = "top", username_upn: bool = False
) -> Iterator[dict[str, Any]]:
    """``role_location``: where ``loomMemberRole`` is put (``top``, or the ``enterprise``
    or ``custom`` extension). ``username_upn``: userName is an Entra UPN, not the email."""
    rng = random.Random(seed)
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{n}@{DOMAIN}"
        upn = f"{first[0].lower()}{last.lower()}{n}@{UPN_DOMAIN}"
        user: dict[str, Any] = {
            "schemas": [CORE_USER],
            "userName": upn if username_upn else email,
            "name": {"givenName": first, "familyName": last},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": rng.random() > 0.05,
        }
        if n % 5 != 0:  # every fifth person joined by domain capture: no IdP fields
            user["externalId"] = f"00u{n:07d}"
            role = rng.choice(["creator", "creator", "viewer", "admin"])
            user["schemas"].append(ENTERPRISE_USER)
            user[ENTERPRISE_USER] = {"employeeNumber": f"E{1000 + n}"}
            if role_location == "top":
                user["loomMemberRole"] = role
            else:
                urn = ENTERPRISE_USER if role_location == "enterprise" else ROLE_EXTENSION
                if urn not in user["schemas"]:
                    user["schemas"].append(urn)
                user.setdefault(urn, {})["loomMemberRole"] = role
        yield user


def role_of(user: dict[str, Any]) -> str | None:
    """A seeded user's role, wherever it was put."""
    role = user.get("loomMemberRole")
    for urn in (ENTERPRISE_USER, ROLE_EXTENSION):
        role = role or (user.get(urn) or {}).get("loomMemberRole")
    return role


def role_groups() -> Iterator[tuple[str, dict[str, Any]]]:
    for role, name in ROLE_GROUPS.items():
        yield role, {"schemas": [CORE_GROUP], "displayName": name, "members": []}
