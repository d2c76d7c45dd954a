"""Validation problems in the user's words, never pydantic's.

``plain(error, known)`` turns one pydantic error into ``(field, message)``: an unknown
field is named with the closest known one suggested, a bad date says which format it
wants, a missing field says it is required. Our own validators' messages are kept as
they are (they are written for people already). ``redact`` takes a secret out of any text;
``shown`` makes what a server sent one printable line.
"""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._constants import BIDI_CONTROLS, CONTROL_CHARS, LINE_SEPARATORS

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

# How a server may echo one character of the key: itself, JSON-escaped (``\u002B``, with
# any number of backslashes when JSON was escaped twice; ``\/``), percent-encoded
# (``%2B``, ``%2b``) or as an HTML character reference (``&#43;``, ``&#x2B;``).
_ENCODED = re.compile(
    r"\\+u([0-9a-fA-F]{4})|\\+([/\"\\])|%([0-9a-fA-F]{2})|&#(?:x([0-9a-fA-F]+)|([0-9]+));"
)
# A run of this many characters of the key, in any of those forms, is redacted: a whole
# key, and the part of one a server cut off (an echo ending "...token Ab3+Zk").
SHOWN_AT_MOST = 7


def redact(text: str, secret: str) -> str:
    """``text`` with every echo of ``secret`` (an API key) replaced by ``[REDACTED]``:
    whole or in part (any run of more than :data:`SHOWN_AT_MOST` of its characters in a
    row), each character as itself or encoded (see ``_ENCODED``), letters in any case.
    Call it on the whole text, before anything shortens it."""
    if not secret or not text:
        return text
    text = _without_base64(text, secret)
    decoded, spans = _decoded(text)
    key = secret.lower()
    window = min(len(key), SHOWN_AT_MOST + 1)
    grams = {key[i : i + window] for i in range(len(key) - window + 1)}
    cuts: list[tuple[int, int]] = []
    i = 0
    while i <= len(decoded) - window:
        if decoded[i : i + window] not in grams:
            i += 1
            continue
        end = i + window
        while end < len(decoded) and decoded[i : end + 1] in key:
            end += 1
        cuts.append((spans[i][0], spans[end - 1][1]))
        i = end
    if not cuts:
        return text
    parts, last = [], 0
    for start, stop in cuts:
        parts += [text[last:start], REDACTED]
        last = stop
    return "".join([*parts, text[last:]])


def _base64_forms(secret: str) -> set[str]:
    """What any base64 text holding ``secret`` holds of it, whatever the bytes before it
    (three alignments, standard and URL-safe alphabets): the characters that encode only
    the secret's own bytes."""
    raw = secret.encode()
    forms = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start = 4 if shift else 0  # the first group also holds the bytes before it
        end = (shift + len(raw)) // 3 * 4  # the last full group: the next one holds what follows
        form = encoded[start:end]
        if len(form) > SHOWN_AT_MOST:
            forms |= {form, form.replace("+", "-").replace("/", "_")}
    return forms


def _without_base64(text: str, secret: str) -> str:
    """``text`` with the secret's base64 encodings (an echoed ``Authorization`` header,
    a Basic credential) replaced by ``[REDACTED]``."""
    for form in _base64_forms(secret):
        text = text.replace(form, REDACTED)
    return text


def _decoded(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with every encoded character decoded and lower-cased, and for each
    character of that, where it was in ``text`` (start, end)."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    last = 0
    for match in _ENCODED.finditer(text):
        for at in range(last, match.start()):
            chars.append(_lower(text[at]))
            spans.append((at, at + 1))
        chars.append(_lower(_char(match)))
        spans.append(match.span())
        last = match.end()
    for at in range(last, len(text)):
        chars.append(_lower(text[at]))
        spans.append((at, at + 1))
    return "".join(chars), spans


def _char(match: re.Match[str]) -> str:
    escaped, plain, percent, hex_ref, dec_ref = match.groups()
    if plain is not None:
        return plain
    code = int(escaped or percent or hex_ref, 16) if dec_ref is None else int(dec_ref)
    return chr(code) if code < 0x110000 else "\ufffd"


def _lower(char: str) -> str:
    low = char.lower()
    return low if len(low) == 1 else char


# What must not reach a terminal as it is: C0 and C1 controls (a newline, a carriage
# return, ESC), DEL, the line and paragraph separators and the bidirectional overrides.
_UNPRINTABLE = re.compile(f"[{CONTROL_CHARS}{LINE_SEPARATORS}{BIDI_CONTROLS}]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def shown(text: object) -> str:
    """What a server sent (an email, an id), for people: each control character as its
    escape (``\\n``, ``\\x1b``), so a value can neither print a line of its own nor move
    the cursor over what is really there; anything else as it is."""
    value = str(text)
    return value if value.isprintable() else _UNPRINTABLE.sub(_escaped, value)
