"""Reading an identity provider's roster: Okta's user export, Entra ID's "Download users",
Google Workspace's users CSV, or a generic CSV, JSON or JSON-lines file.

The format is detected from the headers (``--map`` names the columns of any other file).
Every entry is normalised to a :class:`RosterEntry`; a file that cannot be read raises
:class:`RosterError` naming the file, the line and why, in one line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loom_scim_connector._constants import CONTROL_CHARS, LINE_SEPARATORS
from loom_scim_connector.errors import ConfigError
from loom_scim_connector.identity import email_key

from .roster_formats import FORMATS, own_first, status_active

FIELDS = ("email", "externalId", "status", "name", "role")
LOOM_ROLES = ("creator", "viewer", "admin")


class RosterError(ConfigError):
    """The roster (or the role map) cannot be read: where, and why, in one line."""


@dataclass(frozen=True)
class RosterEntry:
    """One person of the roster. ``email`` is lower-cased (the match key); ``aliases``
    are other addresses of the same person (Entra's ``mail`` beside its UPN)."""

    email: str
    external_id: str | None
    active: bool
    status: str  # the raw value, "" when the roster says nothing
    name: str | None
    role: str | None
    line: int
    aliases: tuple[str, ...] = ()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Control characters and line separators: never part of a cell, and they would break the
# one-line outputs, so each becomes a space.
_CONTROL = re.compile(f"[{CONTROL_CHARS}{LINE_SEPARATORS}]")
_MAP_HELP = "name its columns with --map email=COLUMN[,externalId=COLUMN,status=,name=,role=]"


@dataclass(frozen=True)
class Roster:
    path: str
    format: str
    entries: tuple[RosterEntry, ...]
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unit: str = "line"  # "item" for a JSON list


def parse_map(text: str) -> dict[str, str]:
    """``email=Work Email,externalId=Employee ID`` to ``{"email": "Work Email", ...}``."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, column = part.partition("=")
        wanted = {f.lower(): f for f in FIELDS}.get(key.strip().lower())
        if not sep or wanted is None or not column.strip():
            raise RosterError("--map", f"{part!r} is not FIELD=COLUMN with FIELD one of {FIELDS}")
        mapping[wanted] = column.strip()
    if not mapping:
        raise RosterError("--map", "give at least one FIELD=COLUMN, e.g. email=Work Email")
    return mapping


def read_roster(path: Path, mapping: Mapping[str, str] | None = None) -> Roster:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(str(path), f"cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = "is not UTF-8 text (export it as UTF-8 CSV)"
        raise RosterError(f"{name} line {line}", problem) from None
    if not text.strip():
        raise RosterError(name, "the file is empty")
    first = text.lstrip()[0]
    if first == "[" or (first == "{" and not _json_lines(text)):
        rows, unit = _json_rows(name, text), "item"
    elif first == "{":
        rows, unit = _jsonl_rows(name, text), "line"
    else:
        rows, unit = _csv_rows(name, text), "line"
    return _entries(name, rows, mapping or {}, unit)


def read_role_map(path: Path) -> dict[str, str]:
    """A YAML or JSON mapping of IdP group or role (any case) to a Loom role."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise RosterError(str(path), f"cannot be read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" line {where + 1}" if where is not None else ""
        raise RosterError(f"{path.name}{at}", "is not YAML or JSON") from None
    if not isinstance(loaded, dict) or not loaded:
        raise RosterError(path.name, "must map IdP groups or roles to creator, viewer or admin")
    roles: dict[str, str] = {}
    for key, value in loaded.items():
        role = str(value).strip().lower()
        if role not in LOOM_ROLES:
            raise RosterError(path.name, f"{key!r} maps to {value!r}, not one of {LOOM_ROLES}")
        roles[str(key).strip().lower()] = role
    return roles


Row = tuple[int, dict[str, str]]


def _csv_rows(name: str, text: str) -> tuple[list[str], list[Row]]:
    lines = text.splitlines()
    skip = 1 if lines and lines[0].lower().startswith("version:") else 0  # Entra's bulk files
    head = lines[skip] if len(lines) > skip else ""
    delimiter = next((d for d in (",", ";", "\t") if d in head), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for _ in range(skip):
            next(reader)
        headers = [_clean(h) for h in next(reader, [])]
        rows: list[Row] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(headers) and any(v.strip() for v in values[len(headers) :]):
                raise RosterError(
                    f"{name} line {reader.line_num}",
                    f"{len(values)} values, but the header has {len(headers)} columns",
                )
            rows.append((reader.line_num, dict(zip(headers, map(_clean, values), strict=False))))
    except csv.Error as exc:
        raise RosterError(f"{name} line {reader.line_num}", f"not valid CSV ({exc})") from None
    if not any(headers):
        raise RosterError(name, "has no header line")
    return headers, rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    return _clean(str(value))


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _object_rows(
    name: str, items: Iterator[tuple[int, Any]], unit: str
) -> tuple[list[str], list[Row]]:
    headers: dict[str, None] = {}
    rows: list[Row] = []
    for number, item in items:
        if not isinstance(item, dict):
            raise RosterError(f"{name} {unit} {number}", "is not an object")
        row = dict(_flat(item))
        headers.update(dict.fromkeys(row))
        rows.append((number, row))
    return list(headers), rows


def _flat(item: dict[Any, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """A JSON object's fields as columns; a nested object's by their dotted path
    (Okta's API: ``profile.email``)."""
    for key, value in item.items():
        column = prefix + _clean(str(key))
        if isinstance(value, dict):
            yield from _flat(value, column + ".")
        else:
            yield column, _cell(value)


def _json_lines(text: str) -> bool:
    """Whether text that starts with ``{`` is JSON lines (else one JSON document): several
    documents, or a single one on a single line."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"
    return "\n" not in text.strip()


def _json_rows(name: str, text: str) -> tuple[list[str], list[Row]]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RosterError(f"{name} line {exc.lineno}", f"not valid JSON ({exc.msg})") from None
    if not isinstance(loaded, list):
        raise RosterError(name, "must be a JSON list of objects (or JSON lines), one a person")
    return _object_rows(name, enumerate(loaded, 1), "item")


def _jsonl_rows(name: str, text: str) -> tuple[list[str], list[Row]]:
    def items() -> Iterator[tuple[int, Any]]:
        for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is JSON
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise RosterError(f"{name} line {number}", f"not valid JSON ({exc.msg})") from None

    return _object_rows(name, items(), "line")


def _columns(
    name: str, headers: Sequence[str], mapping: Mapping[str, str]
) -> tuple[str, dict[str, tuple[str, ...]]]:
    by_lower = {h.lower(): h for h in headers}

    def present(candidates: Sequence[str]) -> tuple[str, ...]:
        return tuple(by_lower[c.lower()] for c in candidates if c.lower() in by_lower)

    known = next((f for f in FORMATS if f.signature <= by_lower.keys()), None)
    columns: dict[str, tuple[str, ...]] = {}
    if known is not None:
        columns = {
            "email": present(known.email),
            "externalId": present(known.external_id)[:1],
            "status": present(known.status)[:1],
            "name": present(known.full_name),
            "role": present(known.role)[:1],
        }
    for key, column in mapping.items():
        if column.lower() not in by_lower:
            raise RosterError(
                "--map",
                f"{key}={column}: no column {column!r} in {name} (it has: {_list(headers)})",
            )
        columns[key] = (by_lower[column.lower()],)
    if not columns.get("email"):
        raise RosterError(
            name,
            f"unknown roster format (its columns: {_list(headers)}); {_MAP_HELP}",
        )
    if known is None:
        return "mapped", columns
    return (f"{known.name} with --map" if mapping else known.name), columns


def _list(headers: Sequence[str]) -> str:
    shown = ", ".join(f'"{h}"' for h in headers[:12])
    return shown + (f" and {len(headers) - 12} more" if len(headers) > 12 else "")


def _entries(
    name: str, parsed: tuple[list[str], list[Row]], mapping: Mapping[str, str], unit: str
) -> Roster:
    headers, rows = parsed
    fmt, columns = _columns(name, headers, mapping)
    entries = []
    for number, row in rows:
        where = f"{name} {unit} {number}"
        given = [(c, email_key(row[c])) for c in columns["email"] if row.get(c)]
        emails = own_first([e for _, e in given if _EMAIL.match(e)])
        if not given:
            raise RosterError(where, f'no email in column "{columns["email"][0]}"')
        if not emails:
            column, bad = given[0]
            raise RosterError(where, f'{bad!r} in column "{column}" is not an email address')

        def value(key: str, row: dict[str, str] = row) -> str:
            return " ".join(filter(None, (row.get(c, "") for c in columns.get(key, ()))))

        status = value("status")
        active = status_active(status)
        if active is None:
            raise RosterError(
                where,
                f'status {status!r} in column "{columns["status"][0]}" is not one I know '
                f"(active: ACTIVE, true, Active...; left: DEPROVISIONED, SUSPENDED, "
                "terminated, false, Suspended, Archived...)",
            )
        aliases = tuple(dict.fromkeys(e for e in emails[1:] if e != emails[0]))
        entries.append(
            RosterEntry(
                email=emails[0],
                external_id=value("externalId") or None,
                active=active,
                status=status,
                name=value("name") or None,
                role=value("role") or None,
                line=number,
                aliases=aliases,
            )
        )
    return Roster(name, fmt, tuple(entries), columns, unit)
