"""Each resource's fields and where they live in SCIM, written once and used both ways.

A record model declares each field with a :class:`Scim` mark (``Annotated[str | None,
Scim("name.givenName")]``). From those marks alone:

* :func:`reader` compiles the wire-to-record reading a sync and an action's read-back
  use: one pass over the dict ``json.loads`` gave, no intermediate model (a record in
  a common shape is read by :mod:`.fastread` instead, to the same record);
* :func:`create_body` and :func:`patch_ops` write an action's values to the wire, with
  the same paths, as RFC 7644 PATCH paths.

Reading is lenient, as real servers are: attribute names in any case, unknown ones
ignored, a multi-valued attribute's primary item (else its first), a fallback attribute
(the email from ``userName``), an attribute an extension holds before a top-level copy
(``loomMemberRole``).
The common case (attribute names spelled as the RFC spells them) skips lower-casing.
Text that cannot be written as UTF-8 (a lone surrogate) is refused, never repaired
(:class:`UnreadableValue`): the host quarantines that record instead of saving it altered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass(frozen=True)
class Scim:
    """Where a record field lives in SCIM.

    ``path``: an RFC 7644 attribute path: ``externalId``, ``name.givenName``, or an
    extension's ``urn:...:User:employeeNumber``. ``primary``: the path is multi-valued
    and the field is the ``value`` of its primary item; writing sends one item of this
    ``type``. ``fallback``: read this attribute when ``path`` gives nothing, and write
    it too (``userName`` mirrors the email). ``anywhere``: also look inside any
    extension. ``values``: the path holds ``[{"value": id}]`` items, read as a list of
    ids. ``writable``: actions may send it.
    """

    path: str
    primary: str | None = None
    fallback: str | None = None
    anywhere: bool = False
    values: bool = False
    writable: bool = True


def marks(model: type[BaseModel]) -> dict[str, Scim]:
    """Each field's :class:`Scim` mark, by field name, in declaration order."""
    found = {}
    for name, info in model.model_fields.items():
        mark = next((m for m in info.metadata if isinstance(m, Scim)), None)
        if mark is not None:
            found[name] = mark
    return found


# -- reading ---------------------------------------------------------------------------

# Attribute names as RFC 7643 spells them, and Loom's: a dict whose keys are all among
# these is read as is; any other spelling (or an unknown key) lower-cases the dict first.
CANONICAL = frozenset(
    {
        "schemas", "id", "externalId", "userName", "name", "displayName", "nickName",
        "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone",
        "active", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
        "entitlements", "roles", "x509Certificates", "meta", "loomMemberRole", "members",
        "givenName", "familyName", "middleName", "formatted", "honorificPrefix",
        "honorificSuffix", "value", "type", "primary", "display", "$ref", "resourceType",
        "created", "lastModified", "location", "version", "employeeNumber", "costCenter",
        "organization", "division", "department", "manager", ENTERPRISE_USER,
    }
)  # fmt: skip


def _keyed(raw: Any) -> tuple[Mapping[str, Any], bool]:
    """The dict and whether its keys are canonical; else lower-cased (``False``)."""
    if type(raw) is not dict and (raw is None or not isinstance(raw, Mapping)):  # fast first
        return {}, True
    if raw.keys() <= CANONICAL:
        return raw, True
    return {str(k).lower(): v for k, v in raw.items()}, False


def _get(raw: Any, key: str) -> Any:
    data, canonical = _keyed(raw)
    return data.get(key if canonical else key.lower())


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _primary(items: Any) -> str | None:
    """The ``value`` of the primary item of a multi-valued attribute, else of the first."""
    if not isinstance(items, list):
        return None
    first: str | None = None
    for item in items:
        value, is_primary = _get(item, "value"), _get(item, "primary")
        if not isinstance(value, str) or not value:
            continue
        if is_primary is True or _truthy(is_primary):
            return value
        if first is None:
            first = value
    return first


def _ids(items: Any, path: str) -> list[str]:
    if not isinstance(items, list):
        return []
    values = (_get(m, "value") for m in items if isinstance(m, Mapping))
    ids = [str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)]
    for value in ids:
        if not value.isascii():
            _text(value, path)
    return ids


class UnreadableValue(ValueError):
    """A value the reader will not take as it came: ``path`` (the SCIM attribute) and why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def _text(value: str, path: str) -> str:
    """Text that can be written as UTF-8 (to a store, a file, a terminal), else
    :class:`UnreadableValue`. A lone surrogate (JSON ``"\\udc3c"``: half of an emoji cut
    in two by a server counting UTF-16 units) cannot be. The record is refused rather than
    repaired: the reader never changes what it reads (a repaired id would name another
    user), and the store keeps the last version it could read whole."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableValue(path, "holds invalid Unicode (a lone surrogate)") from None
    return value


def wire_id(raw: Any) -> str | None:
    """A resource's ``id`` when it is one we can look up and store: non-empty text (a
    number is read as its text) that can be written as UTF-8; else ``None``."""
    value = _get(raw, "id")
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def split_path(path: str) -> tuple[str, ...]:
    """``name.givenName`` -> (name, givenName); ``urn:...:User:employeeNumber`` ->
    (urn:...:User, employeeNumber): the extension is the part before the last colon."""
    if path.startswith("urn:"):
        urn, _, attribute = path.rpartition(":")
        return (urn, attribute)
    return tuple(path.split("."))


_ENTERPRISE_LOWER = ENTERPRISE_USER.lower()


def _anywhere(data: Mapping[str, Any], canonical: bool, keys: tuple[str, str]) -> Any:
    """The attribute in the enterprise extension, else in the first other extension that
    has it (not null), else at the top level. A server that maps the attribute to an
    extension acts on that one; a top-level copy beside it is one it keeps but ignores
    (WorkOS maps custom attributes such as ``loomMemberRole`` by the IdP's settings)."""
    if canonical:  # the only extension a canonical dict can hold
        found = _get(data.get(ENTERPRISE_USER), keys[0])
        return data.get(keys[0]) if found is None else found
    others = [v for k, v in data.items() if str(k).startswith("urn:") and k != _ENTERPRISE_LOWER]
    for extension in [data.get(_ENTERPRISE_LOWER), *others]:
        sub, sub_canonical = _keyed(extension)
        found = sub.get(keys[0] if sub_canonical else keys[1])
        if found is not None:
            return found
    return data.get(keys[1])


def reader(model: type[BaseModel]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Compile the reading of ``model``'s marked fields: a wire dict to a dict of values
    by field name, ready for ``model.model_validate`` (which checks their types).

    Like ``dataclasses`` and ``attrs``, it writes the function's source from the marks
    and compiles it once: straight-line code, each sub-attribute's dict (``name``,
    ``meta``) keyed once, is half the cost of a loop over per-field closures, and this
    runs for every user of every sync. ``reader_source`` shows what it compiled."""
    source, constants = reader_source(model)
    namespace: dict[str, Any] = {
        "_keyed": _keyed,
        "_primary": _primary,
        "_ids": _ids,
        "_text": _text,
        "_anywhere": _anywhere,
        **constants,
    }
    exec(compile(source, f"<reader of {model.__name__}>", "exec"), namespace)  # noqa: S102
    read: Callable[[Mapping[str, Any]], dict[str, Any]] = namespace["read"]
    return read


def _is_text(annotation: Any) -> bool:
    """``str`` or ``str | None``: a field a number may stand in for."""
    return annotation is str or str in get_args(annotation)


def reader_source(model: type[BaseModel]) -> tuple[str, dict[str, tuple[str, str]]]:
    """The source of :func:`reader`'s function, and the key pairs (as the RFC spells a
    name, lower-cased) it reads: only names from the marks reach the source, as data."""
    lines = ["def read(raw):", "    data, canonical = _keyed(raw)", "    c = 0 if canonical else 1"]
    constants: dict[str, tuple[str, str]] = {}
    subs: dict[str, str] = {}
    fields = []
    for n, (name, mark) in enumerate(marks(model).items()):
        first, *rest = split_path(mark.path)
        if len(rest) > 1:
            raise ValueError(f"{model.__name__}.{name}: SCIM paths nest one level, not {mark.path}")
        constants[f"K{n}"] = (first, first.lower())
        if mark.anywhere:
            lines.append(f"    v = _anywhere(data, canonical, K{n})")
        elif rest:
            sub = subs.get(first.lower())
            if sub is None:
                sub = subs[first.lower()] = f"s{len(subs)}"
                lines.append(f"    {sub} = _keyed(data.get(K{n}[c]))")
            constants[f"A{n}"] = (rest[0], rest[0].lower())
            lines.append(f"    v = {sub}[0].get(A{n}[0 if {sub}[1] else 1])")
        else:
            lines.append(f"    v = data.get(K{n}[c])")
        if mark.primary is not None:
            lines.append("    v = _primary(v)")
        elif mark.values:
            constants[f"P{n}"] = (mark.path, mark.path)
            lines.append(f"    v = _ids(v, P{n}[0])")
        if mark.fallback is not None:
            constants[f"F{n}"] = (mark.fallback, mark.fallback.lower())
            lines.append(f"    if v is None: v = data.get(F{n}[c])")
        if _is_text(model.model_fields[name].annotation):
            # A number where text is expected (an id of 17) is read as its text.
            lines.append("    if type(v) is int or type(v) is float: v = str(v)")
            # Text a store cannot hold is refused (UnreadableValue): see _text.
            constants[f"P{n}"] = (mark.path, mark.path)
            lines.append(f"    elif type(v) is str and not v.isascii(): v = _text(v, P{n}[0])")
        lines.append(f"    v{n} = v")
        fields.append(f"{name!r}: v{n}")
    lines.append("    return {" + ", ".join(fields) + "}")
    return "\n".join(lines) + "\n", constants


# -- writing ---------------------------------------------------------------------------


def _wire_value(mark: Scim, value: Any) -> Any:
    if mark.primary is not None:
        return [{"value": value, "type": mark.primary, "primary": True}]
    if mark.values:
        return [{"value": v} for v in value]
    return value


def create_body(
    model: type[BaseModel], values: Mapping[str, Any], *, schema: str
) -> dict[str, Any]:
    """A POST body setting each given (non-null) value at its field's path."""
    body: dict[str, Any] = {"schemas": [schema]}
    fields = marks(model)
    for name, value in values.items():
        mark = fields[name]
        if value is None or not mark.writable:
            continue
        steps = split_path(mark.path)
        if steps[0].startswith("urn:") and steps[0] not in body["schemas"]:
            body["schemas"].append(steps[0])
        if mark.fallback is not None:
            body[mark.fallback] = value
        target = body
        for step in steps[:-1]:
            target = target.setdefault(step, {})
        target[steps[-1]] = _wire_value(mark, value)
    return body


def patch_ops(model: type[BaseModel], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PATCH ``replace`` operations setting each given (non-null) value at its path."""
    ops = []
    fields = marks(model)
    for name, value in values.items():
        mark = fields[name]
        if value is None or not mark.writable:
            continue
        if mark.fallback is not None:
            ops.append({"op": "replace", "path": mark.fallback, "value": value})
        ops.append({"op": "replace", "path": mark.path, "value": _wire_value(mark, value)})
    return ops
