"""Seeded workspace: reproducible people, some provisioned by an identity provider
(externalId, employeeNumber, a role), some who joined by domain capture (neither)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from loom_scim_connector.models.scim import CORE_GROUP, CORE_USER, ENTERPRISE_USER

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


def seed_users(count: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{n}@{DOMAIN}"
        user: dict[str, Any] = {
            "schemas": [CORE_USER],
            "userName": email,
            "name": {"givenName": first, "familyName": last},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": rng.random() > 0.05,
        }
        if n % 5 != 0:  # every fifth person joined by domain capture: no IdP fields
            user["externalId"] = f"00u{n:07d}"
            user["loomMemberRole"] = rng.choice(["creator", "creator", "viewer", "admin"])
            user["schemas"].append(ENTERPRISE_USER)
            user[ENTERPRISE_USER] = {"employeeNumber": f"E{1000 + n}"}
        yield user


def role_groups() -> Iterator[tuple[str, dict[str, Any]]]:
    for role, name in ROLE_GROUPS.items():
        yield role, {"schemas": [CORE_GROUP], "displayName": name, "members": []}
