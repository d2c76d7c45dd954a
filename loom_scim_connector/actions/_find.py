"""Finding people by email: the one person-finder (``find-user``, ``create-user``'s 409
adoption, ``offboard``, the re-check before ``reconcile --apply`` acts).

A Loom account *carries* an email when its ``userName`` or any of its ``emails[].value``
names the same person under the identity rule (:mod:`loom_scim_connector.identity`):
servers map the email to ``userName`` or not (Atlassian's often holds a UPN), and compare
filters as they please (RFC 7644 says case-insensitively; some do not). So a person is
looked for with the server's own filter first (``userName eq``), then the other forms
(``emails.value eq``, ``emails eq``), every one of them (one person may have an account
with the email as ``userName`` and another, a UPN, with it only in ``emails``; a 400 or
501 means the server does not support that form); when all found nothing, by reading
the listing, up to
``SCAN_LIMIT`` accounts. Every account found carries the email; all of them are
returned. "Not found" is said only when every step found nothing, and a scan cut at its
bound is "not found in the first N", never "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_scim_connector import filters
from loom_scim_connector._constants import SCAN_LIMIT
from loom_scim_connector.client import LoomScimClient, Search
from loom_scim_connector.identity import look_alike, same_email
from loom_scim_connector.models.scim import one_line

# How many look-alikes one line of offboard's table and evidence names.
SHOWN_LOOK_ALIKES = 5
# The filters a person is looked for with, in this order.
FORMS = ("userName", "emails.value", "emails")


def addresses(raw: Mapping[str, Any]) -> list[str]:
    """Every address a SCIM user carries: its ``userName``, then each ``emails[].value``."""
    lowered = {str(k).lower(): v for k, v in raw.items()}
    found = [lowered["username"]] if isinstance(lowered.get("username"), str) else []
    emails = lowered.get("emails")
    for email in emails if isinstance(emails, list) else []:
        value = email.get("value") if isinstance(email, dict) else email
        if isinstance(value, str):
            found.append(value)
    return found


def carries(raw: Mapping[str, Any], email: str) -> bool:
    """Whether this SCIM user carries ``email`` (its userName or any of its emails)."""
    return any(same_email(address, email) for address in addresses(raw))


async def find_people(client: LoomScimClient, email: str) -> tuple[Search, list[str]]:
    """Every account that carries ``email``, and what was searched to find them; and,
    of the accounts read on the way that do not carry it, those that carry an address
    that only looks like it (:func:`~loom_scim_connector.identity.look_alike`), as
    ``address (id)``: a hint for "not found", never acted on. The hint is the server's
    text about another account, never read as a user is: shown on one line (a newline
    could forge a line of the table, a lone surrogate could not be written)."""
    near: dict[str, str] = {}

    def match(item: dict[str, Any]) -> bool:
        if carries(item, email):
            return True
        for address in addresses(item):
            if look_alike(address, email):
                shown = one_line(f"{address} (id {item.get('id')})")
                near.setdefault(str(item.get("id")), shown)
        return False

    expressions = [filters.eq(attribute, email) for attribute in FORMS]
    found = await client.search("Users", expressions, match, scan=SCAN_LIMIT, every=True)
    return found, list(near.values())


def nothing_found(searched: str, complete: bool, look_alikes: list[str] | None = None) -> str:
    """What a search that found no one says: not found, or not found in the first N;
    and the accounts whose address only looks like the one asked for, if any."""
    if complete:
        said = f"no Loom user carries this email (searched: {searched})"
    else:
        said = (
            f"not found in the first {SCAN_LIMIT} users, which are not all of them: this "
            f"person may still have an account (searched: {searched})"
        )
    if look_alikes:
        shown = ", ".join(look_alikes[:SHOWN_LOOK_ALIKES])
        if len(look_alikes) > SHOWN_LOOK_ALIKES:  # find-user's lookAlikes lists them all
            shown += f" and {len(look_alikes) - SHOWN_LOOK_ALIKES} more"
        said += (
            "; not acted on, an address that only looks like it (another person to the "
            "connector; check it is the one meant): " + shown
        )
    return said
