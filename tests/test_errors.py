from __future__ import annotations

import pytest

from loom_scim_connector import _status, errors
from loom_scim_connector.models.scim import parse_error_body


@pytest.mark.parametrize(
    ("status", "cls", "retry"),
    [
        (400, errors.InvalidRequestError, False),
        (401, errors.AuthenticationError, False),
        (403, errors.PermissionDeniedError, False),
        (404, errors.NotFoundError, False),
        (408, errors.ServerError, True),
        (409, errors.ConflictError, False),
        (412, errors.ConflictError, False),
        (422, errors.InvalidRequestError, False),
        (429, errors.RateLimitedError, True),
        (500, errors.ServerError, True),
        (502, errors.ServerError, True),
        (503, errors.ServerError, True),
        (504, errors.ServerError, True),
        (418, errors.InvalidRequestError, False),
        (501, errors.NotSupportedError, False),
    ],
)
def test_the_status_table(status: int, cls: type[errors.ApiError], retry: bool) -> None:
    error = _status.error_for_status("GET", "/Users", status)
    assert type(error) is cls
    assert error.retryable is retry
    assert error.status == status


def test_401_says_what_to_do() -> None:
    text = str(_status.error_for_status("GET", "/Users", 401, detail="Invalid token"))
    assert "expired" in text and "rotated" in text and "one year" in text
    assert "Regenerate" in text and "LOOM_SCIM_API_KEY" in text
    assert text.startswith("GET /Users failed (HTTP 401, authentication)")


def test_403_mentions_the_plan() -> None:
    assert "Enterprise" in str(_status.error_for_status("GET", "/Users", 403))


def test_conflict_carries_scim_type() -> None:
    error = _status.error_for_status("POST", "/Users", 409, scim_type="uniqueness", detail="taken")
    assert error.scim_type == "uniqueness"
    assert "scimType=uniqueness" in str(error)


@pytest.mark.parametrize(
    ("body", "ctype", "scim_type", "detail", "status"),
    [
        (
            b'{"status": "409", "scimType": "uniqueness", "detail": "dup"}',
            "application/scim+json",
            "uniqueness",
            "dup",
            409,
        ),
        (
            b'{"status": 400, "Detail": "bad filter", "SCIMTYPE": "invalidFilter"}',
            "application/json",
            "invalidFilter",
            "bad filter",
            400,
        ),
        (b'{"status": "500"}', "application/scim+json", None, None, 500),
        (b'{"message": "Too many"}', "application/json", None, "Too many", None),
        (b"", "", None, None, None),
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "text/html",
            None,
            "an HTML page: 502 Bad Gateway",
            None,
        ),
        (b"<html><body>oops</body></html>", "text/html", None, "an HTML page", None),
        (b"upstream connect error", "text/plain", None, "upstream connect error", None),
        (b"[1, 2]", "application/json", None, "[1, 2]", None),
    ],
)
def test_error_bodies_are_read_leniently(
    body: bytes, ctype: str, scim_type: str | None, detail: str | None, status: int | None
) -> None:
    parsed = parse_error_body(body, ctype)
    assert (parsed.scim_type, parsed.detail, parsed.status) == (scim_type, detail, status)


def test_a_huge_error_body_is_shortened() -> None:
    parsed = parse_error_body(b"x" * 10_000, "text/plain")
    assert parsed.detail is not None and len(parsed.detail) <= 300


def test_errors_survive_pickle_and_copy() -> None:
    import copy
    import pickle

    error = _status.error_for_status("POST", "/Users", 409, scim_type="uniqueness", detail="dup")
    for clone in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):  # noqa: S301
        assert type(clone) is errors.ConflictError
        assert str(clone) == str(error)
        assert clone.scim_type == "uniqueness"
