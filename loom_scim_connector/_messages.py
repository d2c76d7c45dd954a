"""Validation problems in the user's words, never pydantic's.

``plain(error, known)`` turns one pydantic error into ``(field, message)``: an unknown
field is named with the closest known one suggested, a bad date says which format it
wants, a missing field says it is required. Our own validators' messages are kept as
they are (they are written for people already).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

_BY_TYPE = {
    "missing": "is required",
    "string_type": "must be text (in double quotes)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": 'must be a list, such as ["id1", "id2"]',
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "date_type": "must be a date such as 2027-03-31 (YYYY-MM-DD)",
    "date_parsing": "must be a date such as 2027-03-31 (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date such as 2027-03-31 (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date such as 2027-03-31, without a time",
    "datetime_parsing": "must be a date and time such as 2027-03-31T09:00:00+00:00",
    "string_unicode": "must be valid text",
}


def plain(error: Mapping[str, Any], known: Iterable[str] = ()) -> tuple[str, str]:
    """``(field, message)`` for one pydantic error (``errors(include_input=False)``)."""
    loc = [str(part) for part in error.get("loc", ())]
    field = ".".join(loc) or "(input)"
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1] if loc else "", list(known), n=1, cutoff=0.6)
        hint = f": did you mean {close[0]!r}?" if close else ""
        allowed = "" if close else f" (known fields: {', '.join(known)})" if known else ""
        return field, f"is not a known field{hint}{allowed}"
    if kind == "literal_error":
        return field, f"must be one of {ctx.get('expected', 'the allowed values')}"
    if kind in ("string_too_short", "too_short"):
        least = ctx.get("min_length", 1)
        what = "character" if kind == "string_too_short" else "item"
        return field, f"must have at least {least} {what}{'' if least == 1 else 's'}"
    if kind in ("string_too_long", "too_long"):
        most = ctx.get("max_length")
        what = "characters" if kind == "string_too_long" else "items"
        return field, f"must have at most {most} {what}"
    if kind in ("value_error", "assertion_error"):
        return field, str(error.get("msg", "")).removeprefix("Value error, ")
    if kind in _BY_TYPE:
        return field, _BY_TYPE[kind]
    if kind.startswith(("date_", "datetime_")):
        return field, _BY_TYPE["date_parsing"]
    return field, "is not valid here"


REDACTED = "[REDACTED]"


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (an API key) replaced."""
    return text.replace(secret, REDACTED) if secret else text
