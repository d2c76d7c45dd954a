"""The one table that maps an HTTP status to an error class, and whether to try again.

Which status is retried is decided here and nowhere else; :mod:`.retry` and the request
plumbing ask :func:`rule_for`, and :func:`error_for_status` builds the error a response
becomes. A 400 whose ``scimType`` says the server cannot do this kind of request at all
counts as 501.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
)


@dataclass(frozen=True)
class StatusRule:
    """What a status means: which error, and whether trying again may help."""

    error: type[ApiError]
    retry: bool


STATUS_TABLE: dict[int, StatusRule] = {
    400: StatusRule(InvalidRequestError, retry=False),
    401: StatusRule(AuthenticationError, retry=False),
    403: StatusRule(PermissionDeniedError, retry=False),
    404: StatusRule(NotFoundError, retry=False),
    408: StatusRule(ServerError, retry=True),
    409: StatusRule(ConflictError, retry=False),
    412: StatusRule(ConflictError, retry=False),
    422: StatusRule(InvalidRequestError, retry=False),
    429: StatusRule(RateLimitedError, retry=True),
    501: StatusRule(NotSupportedError, retry=False),
    500: StatusRule(ServerError, retry=True),
    502: StatusRule(ServerError, retry=True),
    503: StatusRule(ServerError, retry=True),
    504: StatusRule(ServerError, retry=True),
}


def rule_for(status: int) -> StatusRule:
    """The rule for any status; statuses outside the table are never retried."""
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if 400 <= status < 500:
        return StatusRule(InvalidRequestError, retry=False)
    if status >= 500:
        return StatusRule(ServerError, retry=False)
    return StatusRule(ProtocolError, retry=False)


# A 400 with one of these scimTypes says the server cannot do this kind of request at
# all (a filter it does not support, a path it does not know, an attribute it will not
# change): the same as 501 for the person who reads it.
UNSUPPORTED_SCIM_TYPES = frozenset({"invalidfilter", "invalidpath", "mutability"})


def error_for_status(
    method: str,
    path: str,
    status: int,
    *,
    scim_type: str | None = None,
    detail: str | None = None,
    rate_limit: Mapping[str, str] | None = None,
) -> ApiError:
    rule = rule_for(status)
    if status == 400 and (scim_type or "").lower() in UNSUPPORTED_SCIM_TYPES:
        rule = StatusRule(NotSupportedError, retry=False)
    return rule.error(
        method,
        path,
        status=status,
        scim_type=scim_type,
        detail=detail,
        retryable=rule.retry,
        rate_limit=rate_limit,
    )
