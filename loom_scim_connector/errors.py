"""Error classes: what went wrong, classified, with what to do about it.

Every failure the connector reports is a :class:`LoomScimError`. Failures that came back
from the server are :class:`ApiError` subclasses chosen by ``_status.STATUS_TABLE``: the
only place that decides which status is retried; each class here says what the admin
should do about it.
No error ever carries the API key: the client redacts it from anything the server echoes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ._constants import ENV_DEADLINE, MANIFEST_NAME, RATE_LIMIT_HEADERS
from ._origins import FROM_ENV, Origins


class LoomScimError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(LoomScimError):
    """The connection configuration is missing or invalid.

    ``field`` names the offending setting: the environment variable when the value came
    from the environment, else the connection field (``scimBridgeUrl``, ``apiKey``...).
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InputError(LoomScimError):
    """An action's input is invalid; raised before any request is sent.

    ``problems`` maps a field path (``email``, ``memberIds.2``) to why it is wrong.
    """

    def __init__(self, action: str, problems: dict[str, str]) -> None:
        self.action = action
        self.problems = problems
        listed = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(f"invalid input for {action}: {listed}")


class UnknownNameError(LoomScimError):
    """A sync or action name that the manifest does not declare."""


class ActionError(LoomScimError):
    """An action ran but could not reach the state it promised (Nango's ActionError)."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.fix = fix
        super().__init__(f"{message} {fix}" if fix else message)


class IncompleteSyncError(LoomScimError):
    """A sync could not prove it saw every record, so it must not track deletions."""


class IncompleteWalkError(IncompleteSyncError):
    """The walk over a collection did not read all of it, and knows it (how many of how
    many, what was tried): what it read is saved, nothing is deleted (exit 11)."""


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The rate-limit headers of an answer, by lower-case name, as sent."""
    found = {name.lower(): value for name, value in headers.items()}
    return {name: found[name] for name in RATE_LIMIT_HEADERS if name in found}


class ApiError(LoomScimError):
    """A request failed. Carries what a log or a ticket needs, never the token."""

    kind: ClassVar[str] = "request failed"
    hint: ClassVar[str] = ""

    def __init__(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        detail: str | None = None,
        retryable: bool = False,
        rate_limit: Mapping[str, str] | None = None,
        attempts: int = 1,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.retryable = retryable
        # The answer's RATE_LIMIT_HEADERS, as sent (any others are dropped).
        self.rate_limit = rate_limit_headers(rate_limit or {})
        # Set by the retry policy when it gives up because the server asks for a longer
        # wait than the budget left: says when the limit resets.
        self.gave_up: str | None = None
        self.attempts = attempts
        # At most this many attempts for this kind of failure, whatever the policy says.
        self.retry_limit: int | None = None
        # What the request was about, when the caller knows (a PATCH's attribute paths,
        # a filter): shown in the message so "not supported" names what is not.
        self.subject: str | None = None
        # Set by the client: a POST/PATCH that timed out after sending, or got a 5xx,
        # may have been applied, so a retry must first check before writing again.
        self.may_have_applied = False
        # Set by the client: an earlier attempt of this request may have been applied
        # (it got no answer, or a 5xx). A write's 404 then may be its own earlier
        # attempt's doing (a DELETE that landed), not "it was already gone".
        self.earlier_may_have_applied = False
        # Set by the client: the error body was a SCIM error (RFC 7644 3.12: its schemas
        # list the Error URN). A gateway's JSON, HTML, plain text or nothing is not.
        self.scim_body = False
        # Set by the client or the host: where the connection's settings came from, so
        # that the advice names the place to fix them (None: the environment's names).
        self.origins: Origins | None = None
        # args = (method, path) so that copy and pickle can rebuild the error (the other
        # attributes travel in __dict__): hosts may pass errors between processes.
        super().__init__(method, path)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        about = f" for {self.subject}" if self.subject else ""
        parts = [f"{where}{about} failed ({status}, {self.kind})"]
        if self.scim_type:
            parts.append(f"scimType={self.scim_type}")
        if self.detail:
            parts.append(f"detail: {self.detail}")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        if self.gave_up:
            parts.append(self.gave_up)
        message = "; ".join(parts) + "."
        hint = self.advice()
        return f"{message} {hint}" if hint else message

    def advice(self) -> str:
        """What the admin should do: the class's hint, naming each setting where it came
        from (``{url}``, ``{key}``); a subclass may say more."""
        where = self.origins or FROM_ENV
        return self.hint.format(url=where.url, key=where.key)


class AuthenticationError(ApiError):
    """The key was refused. The client sets ``origins`` (where the key came from: the
    environment variable, or a connection's key_command/key_keyring in its file) and
    ``key_flaw`` (how the key as given was mangled, when it was): a mangled key is to be
    copied again, never regenerated, which would break every other identity provider
    that shares it."""

    kind = "authentication"
    hint = (
        "The SCIM API key was refused: it is invalid, expired (Loom keys expire one year "
        "after creation, with no grace period) or was rotated (regenerating a key "
        "invalidates the old one at once). Regenerate it in Loom under Workspace Settings > "
        "Security > Directory Sync (or admin.atlassian.com > Security > Identity providers "
        "> your directory > Regenerate API key), then update {key} and every "
        "identity provider that shares the key."
    )
    key_flaw: str | None = None

    def advice(self) -> str:
        if self.key_flaw:
            key = (self.origins or FROM_ENV).key
            return (
                f"The SCIM API key from {key} was refused, and it looked mangled: "
                f"{self.key_flaw}. Copy the key again, whole and alone, into {key}; "
                "do not regenerate it in Loom first: that would invalidate it for every "
                "identity provider that shares it."
            )
        return super().advice()


class PermissionDeniedError(ApiError):
    kind = "permission"
    hint = (
        "The key was accepted but may not do this. Loom SCIM needs the Enterprise plan "
        "(or Atlassian Guard) with SAML SSO configured; check the workspace's plan and "
        "Directory Sync settings."
    )


class NotFoundError(ApiError):
    kind = "not found"
    hint = "No such resource: check the id, or it was already deleted."


class ConflictError(ApiError):
    kind = "conflict"
    hint = "The resource already exists or changed meanwhile (scimType tells which)."


class InvalidRequestError(ApiError):
    kind = "invalid request"
    hint = "The server refused the request as sent; the detail says which attribute."


class NotSupportedError(ApiError):
    """The server does not support this operation or attribute (RFC 7644 3.12: 501, or
    400 with scimType invalidFilter, invalidPath or mutability). Never retried."""

    kind = "not supported by this server"
    hint = (
        "This SCIM server does not support the operation or attribute named above: "
        "running again will not help. Change it in the identity provider or in Loom "
        "directly, or leave that attribute out."
    )


class RateLimitedError(ApiError):
    kind = "rate limited"
    hint = "Loom kept throttling after every retry; run again later."


class ServerError(ApiError):
    kind = "server error"
    hint = "Loom's SCIM service failed after every retry; run again later."


class TransportError(ApiError):
    kind = "network"
    hint = "The SCIM bridge could not be reached: check {url} and the network."


class DeadlineError(TransportError):
    """An attempt whose whole answer did not come within the request deadline (a server
    that drips it): retried as any timeout; a write's outcome is unknown, so a retry looks
    before sending again."""

    kind = "timeout"
    hint = (
        "The SCIM bridge at {url} did not send its whole answer in time: run again later; "
        f"if it is slow but sound, raise {ENV_DEADLINE} (seconds)."
    )


class NotTlsError(TransportError):
    """An https:// URL on a port that does not speak TLS: never retried."""

    kind = "not TLS"
    hint = "Check the scheme and port of {url}: https:// needs a port that speaks TLS."


class ProtocolError(ApiError):
    kind = "not SCIM"
    hint = (
        "The answer is not the SCIM the request expects: check that {url} is the SCIM "
        "base URL from Loom (the one that ends before /Users)."
    )


class WrongUrlError(ProtocolError):
    """A SCIM collection (``/Users``, ``/Groups``) is not where the bridge URL says: the
    URL is wrong, not an id. Reported as a configuration error."""

    kind = "no SCIM here"
    hint = (
        "{url} is not the SCIM base URL: it must end just before /Users, as Loom shows it "
        "(e.g. https://scim.example.com/scim/v2). Run `loom-scim check`: given a bare "
        "host, it finds the prefix."
    )


class ManifestError(Exception):
    """The manifest (``integrations.yaml``) is invalid: ``key`` names where."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"{MANIFEST_NAME}: {key}: {reason}")
