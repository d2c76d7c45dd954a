"""SCIM error bodies, read leniently, and a server's text made fit for one line.

A server's error body is read for its ``scimType``, ``detail`` and ``status`` whatever its
shape (:func:`parse_error_body`); only a body that is a SCIM error (:func:`is_scim_error`)
says anything about a resource. Any text a server sent that reaches a message, a table,
an answer or the evidence goes through :func:`one_line` first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loom_scim_connector._constants import CONTROL_CHARS

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def lower_keys(raw: Any) -> dict[str, Any]:
    return (
        {str(key).lower(): value for key, value in raw.items()} if isinstance(raw, Mapping) else {}
    )


def int_or_none(value: Any) -> int | None:
    """A count or status as a number, whether sent as one or as text; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_DETAIL = 300


@dataclass(frozen=True)
class ErrorBody:
    scim_type: str | None
    detail: str | None
    status: int | None


def parse_error_body(
    content: bytes, content_type: str, scrub: Callable[[str], str] = str
) -> ErrorBody:
    """Read a SCIM error leniently: ``status`` as string or number, fields missing,
    or not JSON at all (an HTML page from a gateway becomes its title).

    ``scrub`` (the key's redaction) sees each text whole, decoded from JSON, before it
    is made one line and shortened: a key cut in two could no longer be found."""

    def _shorten(text: str) -> str:
        return _one_line_short(scrub(text))

    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ErrorBody(None, None, None)
    try:
        body = json.loads(text)
    except RecursionError:
        return ErrorBody(None, "an error body nested too deeply to read", None)
    except ValueError:  # not JSON, or an integer over int's digit limit
        body = None
    if isinstance(body, Mapping):
        low = lower_keys(body)
        detail = low.get("detail") or low.get("message") or low.get("error_description")
        scim_type = low.get("scimtype")
        return ErrorBody(
            scim_type=_shorten(str(scim_type)) if scim_type else None,
            detail=_shorten(str(detail)) if detail else None,
            status=int_or_none(low.get("status")),
        )
    if "html" in content_type.lower() or text.startswith("<"):
        title = _TITLE.search(text)
        label = re.sub(r"\s+", " ", title.group(1)).strip() if title else ""
        return ErrorBody(None, f"an HTML page{': ' + _shorten(label) if label else ''}", None)
    return ErrorBody(None, _shorten(text), None)


def is_scim_error(content: bytes) -> bool:
    """Whether an error body is a SCIM error (RFC 7644 3.12): a JSON object whose
    ``schemas`` lists the Error URN, as WorkOS and Atlassian send (Atlassian with
    ``status`` as a string). Only such a 404 says a resource is gone: a gateway's own
    JSON (``{"message": "Not Found"}``), an RFC 9457 problem (``status`` and ``detail``,
    as web frameworks answer an unknown route), an HTML page or nothing says nothing
    about it."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return False
    schemas = lower_keys(body).get("schemas")
    if isinstance(schemas, str):
        schemas = [schemas]
    return isinstance(schemas, list) and any(
        isinstance(s, str) and s.strip().lower() == ERROR.lower() for s in schemas
    )


# Whitespace runs and control characters (newlines, ESC...) in what a server sent: the
# detail ends up in a one-line error, so they become one space.
_NOT_ONE_LINE = re.compile(rf"[\s{CONTROL_CHARS}]+")
# A lone surrogate (JSON "\udc3c") cannot be written as UTF-8, to a terminal or a store:
# it becomes U+FFFD, as bytes that are not UTF-8 do.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def one_line(text: str) -> str:
    """What a server sent, fit for one line of a terminal, a JSON answer or a store."""
    return _LONE_SURROGATE.sub("\ufffd", _NOT_ONE_LINE.sub(" ", text)).strip()


def _one_line_short(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
