"""The common case of reading a record: a shape check, then one pydantic-core call.

:func:`.fieldmap.reader` reads any wire dict leniently, in Python, and the record model
then validates the values it found. Most servers send every record the same plain way;
for that way only, :func:`fast_reader` builds from the same :class:`~.fieldmap.Scim`
marks a reader that skips the Python reading:

1. **A shape it is sure of** (C-level checks on the dict, no copies in the common
   case): every key of each sub-attribute it reads (``name``, ``meta``, the enterprise
   extension, the items of ``emails``) is one of the lenient reader's canonical names,
   so the lenient reader reads those dicts as they are; a sub-attribute is an object or
   null; the ``id`` is non-empty text without a NUL; a multi-valued attribute (``emails``) is null,
   empty, one item, or a first item whose ``primary`` is JSON ``true``, and that item's
   ``value`` is non-empty text (the item ``_primary`` picks); with several items and
   another one primary, ``_primary`` itself picks, and its value is fed as item 0; an
   attribute the lenient reader takes from the extension before the top level
   (``loomMemberRole``) is not null there when present. The record's own keys are
   canonical too, or the others are what real servers add (Atlassian's
   ``urn:scim:schemas:extension:atlassian-external:1.0``, a custom extension WorkOS
   maps attributes to, a vendor's own attribute): none a case variant of a canonical
   name, and none an extension holding ``loomMemberRole`` in any case, unless the
   enterprise extension has it (read first) or that extension is the only other key,
   its keys canonical (its value is then fed as the top-level one).
2. **One validation in Rust**: the record model's own core schema, each field's
   validator unchanged (the same ``datetime``, ``bool`` and text rules as
   ``model.model_validate``), each field fed from its wire path (``name.givenName``;
   ``emails.0.value``, else ``userName``). Text fields also refuse a lone surrogate (as
   the lenient reader does), and a number where text is expected fails (the lenient
   reader turns it into text): both are declined.

On that shape the lenient reader finds exactly these values, so the record equals the
lenient one field by field, and its JSON is the same bytes. Whatever is not that shape
is declined (``None``, or ``pydantic_core.ValidationError`` from step 2) and the caller
reads that record leniently: declining is always safe. ``tests/test_fastread.py`` checks
``fast == lenient`` on generated records, odd ones included.

The record's ``model_fields_set`` holds the fields the wire had rather than all of them;
equality, dumps and JSON do not depend on it. A model with a list-of-ids field
(``values``: groups' members) has no fast reader: it is read leniently.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from .fieldmap import CANONICAL, ENTERPRISE_USER, _primary, marks, split_path

# Each canonical name lower-cased: a key outside CANONICAL that lower-cases to one of
# these is a case variant the lenient reader would read in its place.
CANONICAL_LOWER = frozenset(name.lower() for name in CANONICAL)
# What else JSON holds: values the lenient reader finds nothing in.
_JSON_LEAVES = frozenset({list, str, int, float, bool, type(None)})

__all__ = ["fast_reader"]

R = TypeVar("R", bound=BaseModel)


def read_source(subs: tuple[str, ...], multis: tuple[str, ...], anywhere: tuple[str, ...]) -> str:
    """The fast reader as straight-line source (as :func:`.fieldmap.reader` is compiled:
    a loop over the attributes costs about as much again): step 1, whether the lenient
    reader would read ``raw`` at exactly the wire paths (else ``None``), then step 2,
    ``validate``. Only names from the marks reach it, as ``repr``."""
    lines = [
        "def read(raw):",
        "    if type(raw) is not dict: return None",
        "    if not raw.keys() <= C:",
        "        raw = others(raw)",
        "        if raw is None: return None",
        "    v = raw.get('id')",
        "    if type(v) is not str or not v or '\\0' in v: return None",
    ]
    for key in subs:
        lines += [
            f"    v = raw.get({key!r})",
            "    if v is not None and (type(v) is not dict or not v.keys() <= C): return None",
        ]
        if key == ENTERPRISE_USER:  # read before the top level: never a null there
            lines += [f"    if v and v.get({name!r}, 0) is None: return None" for name in anywhere]
    for key in multis:
        lines += [
            f"    v = raw.get({key!r})",
            "    if v:",
            "        if type(v) is not list: return None",
            "        i = v[0]",
            "        if len(v) > 1 and (type(i) is not dict or i.get('primary') is not True):",
            "            x = primary(v)",  # the lenient reader's own choice, fed as item 0
            "            if x is None: return None",
            f"            raw = {{**raw, {key!r}: [{{'value': x}}]}}",
            "        else:",
            "            if type(i) is not dict or not i.keys() <= C: return None",
            "            x = i.get('value')",
            "            if type(x) is not str or not x: return None",
            "    elif v is not None and v != []: return None",
        ]
    lines.append("    return validate(raw)")
    return "\n".join(lines) + "\n"


def _others(anywhere: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Step 1 for a record with keys outside :data:`.fieldmap.CANONICAL` (another
    extension, a vendor's own attribute): the record to validate, or ``None``.

    The lenient reader then lower-cases the record's keys: the same values, as long as
    no other key is a case variant of a name it reads (declined). It ignores those keys,
    except that an ``anywhere`` attribute (``loomMemberRole``) is read from the enterprise
    extension, then the first other extension that has it, then the top level: an
    extension holding it in any case is declined, unless the enterprise extension has
    it (read there first) or it is the record's only other key, an extension with
    canonical keys (its value is then put at the top level, where the validator reads
    it after the enterprise extension)."""
    lowered = {name.lower() for name in anywhere}

    def others(raw: dict[str, Any]) -> dict[str, Any] | None:
        extra = raw.keys() - CANONICAL
        holders = []
        for key in extra:
            if type(key) is not str or key.lower() in CANONICAL_LOWER:
                return None
            value = raw[key]
            if type(value) is dict:
                if not lowered.isdisjoint(str(k).lower() for k in value):
                    holders.append(key)
            elif type(value) not in _JSON_LEAVES:  # a Mapping the lenient reader reads
                return None
        if not holders:
            return raw
        enterprise = raw.get(ENTERPRISE_USER)
        found = enterprise if type(enterprise) is dict else {}
        missing = [name for name in anywhere if found.get(name) is None]
        if not missing:
            return raw
        if len(extra) > 1:  # which the lenient reader meets first: not checked here
            return None
        key = holders[0]
        extension = raw[key]
        if not key.lower().startswith("urn:"):  # not an extension: the lenient reader ignores it
            return None
        if not extension.keys() <= CANONICAL:  # read lower-cased: not checked here
            return None
        moved = {name: extension[name] for name in missing if extension.get(name) is not None}
        return {**raw, **moved} if moved else raw

    return others


def _read_text_whole(schema: Any) -> None:
    """A text field's own schema, made to read its text (``min_length=0`` passes any
    text, but pydantic-core then refuses one holding a lone surrogate)."""
    while schema["type"] in ("default", "nullable"):
        schema = schema["schema"]
    if schema["type"] == "str":
        schema.setdefault("min_length", 0)


def _compile(model: type[R]) -> Callable[[Any], R | None] | None:
    core: Any = copy.deepcopy(model.__pydantic_core_schema__)
    if core["type"] != "model" or core["schema"]["type"] != "model-fields":
        return None
    core.pop("ref", None)
    core["config"] = {
        **core.get("config", {}),
        "extra_fields_behavior": "ignore",
        "validate_by_name": False,
    }
    core["schema"]["extra_behavior"] = "ignore"
    fields = core["schema"]["fields"]
    subs: list[str] = []
    multis: list[str] = []
    anywhere: list[str] = []
    for name, mark in marks(model).items():
        if mark.values:
            return None
        _read_text_whole(fields[name]["schema"])
        first, *rest = split_path(mark.path)
        paths: list[list[str | int]]
        if mark.primary is not None:
            multis.append(first)
            paths = [[first, 0, "value"]]
        elif rest:
            subs.append(first)
            paths = [[first, rest[0]]]
        elif mark.anywhere:
            anywhere.append(first)
            paths = [[ENTERPRISE_USER, first], [first]]
        else:
            paths = [[first]]
        if mark.fallback is not None:
            paths.append([mark.fallback])
        fields[name]["validation_alias"] = paths
    # pydantic-core uses a model class's own validator for any schema of that class (its
    # "prebuilt" validator) when the class says it is complete: not while building this.
    type.__setattr__(model, "__pydantic_complete__", False)
    try:
        validator = SchemaValidator(core)
    finally:
        type.__setattr__(model, "__pydantic_complete__", True)
    if anywhere and ENTERPRISE_USER not in subs:
        subs.append(ENTERPRISE_USER)
    source = read_source(tuple(dict.fromkeys(subs)), tuple(multis), tuple(anywhere))
    namespace: dict[str, Any] = {
        "C": CANONICAL,
        "validate": validator.validate_python,
        "others": _others(tuple(anywhere)),
        "primary": _primary,
    }
    name = f"<reader of {model.__name__}, its common case>"
    exec(compile(source, name, "exec"), namespace)  # noqa: S102
    read: Callable[[Any], R | None] = namespace["read"]
    return read


def fast_reader(model: type[R]) -> Callable[[Any], R | None] | None:
    """The reader of ``model``'s common case (see the module's docstring): the record;
    ``None`` when the dict is not that case; ``pydantic_core.ValidationError`` when a
    value is not one the fast reader takes. ``None`` itself when the model has a field
    it cannot read (a list of ids)."""
    return _compile(model)
