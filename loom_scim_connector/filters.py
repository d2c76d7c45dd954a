"""SCIM filter building. Values are always quoted and escaped: an email is user input."""

from __future__ import annotations

import re

_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_$-]*(\.[A-Za-z][A-Za-z0-9_$-]*)*$")


def quote(value: str) -> str:
    """A SCIM/JSON string literal: backslash and double quote escaped, controls refused."""
    if any(ord(ch) < 0x20 for ch in value):
        raise ValueError("a filter value must not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def eq(attribute: str, value: str) -> str:
    """``attribute eq "value"``; the attribute is checked, the value escaped."""
    if not _ATTRIBUTE.match(attribute):
        raise ValueError(f"not a SCIM attribute path: {attribute!r}")
    return f"{attribute} eq {quote(value)}"
