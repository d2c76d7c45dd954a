"""Vendor profiles and the sandbox's settings: the servers Loom customers really have.

Built from ``vendor-behaviour.md`` (in the project's shared reference): ``rfc`` is
scim2-server's RFC 7644 behaviour; ``atlassian`` is Atlassian's user provisioning API
(``/scim/directory/{id}``); ``workos`` is Loom's SCIM bridge. What a vendor documents
is the profile's default; what is only a guess is a knob (a field of
:class:`VendorKnobs`) that tests flip. :class:`SandboxSettings` is every knob;
:class:`._vendor.VendorLayer` applies the vendor's around the rest of the sandbox, at
the JSON level.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

Profile = Literal["rfc", "atlassian", "workos"]
PROFILES: tuple[Profile, ...] = ("rfc", "atlassian", "workos")
RoleLocation = Literal["top", "enterprise", "custom"]


@dataclass
class VendorKnobs:
    """How a server departs from the RFC. ``rfc`` is every default."""

    # Users filter only on `userName eq` / `externalId eq`, Groups on `displayName eq`
    # (Atlassian [doc]); any other filter is refused with `unsupported_filter_status`
    # (400 [guess]; 200 with an empty list is the other way it could go).
    filters: Literal["any", "exact"] = "any"
    unsupported_filter_status: int = 400
    # A `count` above page_size_cap: capped silently (Atlassian [guess]) or refused (400).
    page_cap_error: bool = False
    # Seed: userName is a UPN (IdP maps userPrincipalName), the email only in `emails`.
    username_upn: bool = False
    # Error shapes: 401 as {"error", "traceId"} and a 409 detail naming the email
    # (Atlassian [doc]); WorkOS's 409 text (WorkOS [doc]).
    errors: Literal["scim", "atlassian", "workos"] = "scim"
    # PATCH answers 204 (scim2-server) or 200 with the full resource (Atlassian [doc/guess]).
    patch_answer: Literal["no_content", "resource"] = "no_content"
    # DELETE removes (404 after, RFC and Atlassian [doc]) or leaves an inactive,
    # listed tombstone (WorkOS [doc]).
    delete: Literal["remove", "tombstone"] = "remove"
    # 409 also when the email belongs to another active user (WorkOS [doc]).
    unique_active_email: bool = False
    # `active` must be a JSON boolean: a string is 400 (WorkOS [doc]).
    strict_types: bool = False
    # Group members whose value is no user are kept (scim2-server) or dropped silently
    # (WorkOS [doc]).
    unknown_members: Literal["keep", "drop"] = "keep"
    # PATCH `add` of a member already there appends it again (some servers do).
    append_duplicate_members: bool = False
    # Where loomMemberRole lives (WorkOS: by the IdP's mapping [guess]); fixed when the
    # sandbox starts (it shapes /Schemas). A top-level write is still kept and echoed.
    role_location: RoleLocation = "top"


# Each profile's settings (SandboxSettings fields, including VendorKnobs').
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "rfc": {},
    "atlassian": {
        "filters": "exact",
        "page_size_cap": 100,
        "errors": "atlassian",
        "patch_answer": "resource",
        "retry_after": "x-ratelimit-reset",
    },
    "workos": {
        "errors": "workos",
        "delete": "tombstone",
        "unique_active_email": True,
        "strict_types": True,
        "unknown_members": "drop",
        "role_location": "custom",
    },
}


@dataclass
class SandboxSettings(VendorKnobs):
    """Every knob (a vendor profile's too, :class:`VendorKnobs`). Change them at any time,
    from Python or ``PATCH /_sandbox/settings``; ``role_location`` only at the start."""

    deprovisioning: Literal["deactivate", "delete"] = "deactivate"
    role_mapped: bool = True
    page_size_cap: int | None = None
    ignore_paging: bool = False
    latency: float = 0.0
    fault_rate: float = 0.0
    fault_status: int = 429
    # How a 429/503 says when to come back: Retry-After in seconds or as an HTTP date,
    # Atlassian's X-RateLimit-Reset (an ISO time), the IETF draft's RateLimit-Reset, none.
    retry_after: Literal["seconds", "date", "x-ratelimit-reset", "ratelimit-reset", "none"] = (
        "seconds"
    )
    retry_after_seconds: int = 1
    fail_next: list[int] = field(default_factory=list)
    profile: Profile = "rfc"

    @classmethod
    def for_profile(cls, profile: Profile, **changes: Any) -> SandboxSettings:
        """A profile's settings (``rfc``, ``atlassian``, ``workos``), with ``changes``."""
        if profile not in PROFILE_SETTINGS:
            raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
        settings = cls(profile=profile)
        settings.update({**PROFILE_SETTINGS[profile], **changes})
        return settings

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, value)
