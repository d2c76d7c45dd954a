"""The identity providers' user exports this connector knows: the headers that identify
each, the columns of each field, and the status words that mean active or gone.

Header names as the exports write them (compared case-insensitively). Okta's People
export and Google Workspace's users CSV are matched on their column labels; Entra ID's
"Download users" on its property names (``userPrincipalName``, ``accountEnabled``...)
and, for the newer admin center's download, on their labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loom_scim_connector.identity import guest_address

# Status words, compared lower-cased. Okta's API states and its console labels, Entra's
# accountEnabled, Google's Status [READ ONLY], and what HR systems usually write.
_ACTIVE = "active enabled true yes 1 y employed current staged provisioned recovery"
_ACTIVE_TOO = "password_expired locked_out pending_user_action password_reset"
_LEFT = "deprovisioned deactivated suspended terminated disabled false no 0 n inactive"
_LEFT_TOO = "archived deleted left leaver offboarded"
ACTIVE_WORDS = frozenset(f"{_ACTIVE} {_ACTIVE_TOO}".split())
INACTIVE_WORDS = frozenset(f"{_LEFT} {_LEFT_TOO}".split())


@dataclass(frozen=True)
class Format:
    """A known export: the headers that identify it, and the columns of each field (the
    first present email column is the email, the others present are aliases; every
    present name column is joined with a space)."""

    name: str
    signature: frozenset[str]
    email: tuple[str, ...]
    external_id: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    full_name: tuple[str, ...] = ()
    role: tuple[str, ...] = ()


# Headers as the exports write them (compared case-insensitively).
FORMATS = (
    Format(
        "okta",
        frozenset({"username", "primary email", "status"}),
        email=("Primary email", "Username"),
        external_id=("User Id", "Okta Id", "Id"),
        status=("Status",),
        full_name=("First name", "Last name"),
        role=("Group", "Groups"),
    ),
    Format(  # Okta's API attribute names, as scripts and report exports write them.
        "okta",
        frozenset({"login", "status"}),
        email=("email", "login"),
        external_id=("id",),
        status=("status",),
        full_name=("firstName", "lastName"),
        role=("group", "groups"),
    ),
    Format(  # Okta's users API JSON (/api/v1/users): the profile nested, by dotted path.
        "okta",
        frozenset({"profile.login", "status"}),
        email=("profile.email", "profile.login"),
        external_id=("id",),
        status=("status",),
        full_name=("profile.firstName", "profile.lastName"),
    ),
    Format(  # Entra ID (Azure AD) "Download users": property names since ever...
        "entra",
        frozenset({"userprincipalname", "accountenabled"}),
        email=("userPrincipalName", "mail"),
        external_id=("objectId", "id"),
        status=("accountEnabled",),
        full_name=("displayName",),
    ),
    Format(  # ...and the labels of the newer admin center's download.
        "entra",
        frozenset({"user principal name", "account enabled"}),
        email=("User principal name", "Mail"),
        external_id=("Object ID", "Object Id", "Id"),
        status=("Account enabled",),
        full_name=("Display name",),
    ),
    Format(
        "google",
        frozenset({"email address [required]"}),
        email=("Email Address [Required]",),
        status=("Status [READ ONLY]",),
        full_name=("First Name [Required]", "Last Name [Required]"),
    ),
    Format(
        "generic",
        frozenset({"email"}),
        email=("email",),
        external_id=("externalId", "external_id", "external id"),
        status=("status",),
        full_name=("name",),
        role=("role", "group"),
    ),
)


def status_active(raw: str) -> bool | None:
    """True or False for a known status word ("" is active), None for an unknown one."""
    word = "_".join(raw.strip().lower().split())  # "Locked out" as LOCKED_OUT
    if not word or word in ACTIVE_WORDS:
        return True
    return False if word in INACTIVE_WORDS else None


_SWITCHED_OFF = frozenset({"false", "no", "0", "n"})  # a yes/no column: accountEnabled


def status_phrase(raw: str) -> str:
    """Why the roster counts someone gone, as a person would say it: a yes/no column
    (Entra's ``accountEnabled: false``) is "disabled in the IdP", a status word is quoted."""
    if raw.strip().lower() in _SWITCHED_OFF:
        return "disabled in the IdP"
    return f"the roster says {raw} (gone from the IdP)"


def own_first(emails: Sequence[str]) -> list[str]:
    """A row's addresses, the person's own first: an Entra guest's UPN (``..#EXT#@..``)
    comes after the row's other addresses and the address it encodes (see
    :func:`~loom_scim_connector.identity.guest_address`), which come before it."""
    decoded = {e: guest_address(e) for e in emails}
    own = [e for e in emails if decoded[e] is None]
    return [*own, *(d for d in decoded.values() if d), *(e for e in emails if decoded[e])]
