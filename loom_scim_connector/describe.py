"""What the CLI shows about actions: the list, and one action's input fields, all read
from the manifest and the input models (so they cannot drift from what is validated)."""

from __future__ import annotations

import json
from typing import Any

from .manifest import Manifest, ResolvedAction

# Example values by field name, for the example input an action's help prints.
_EXAMPLES: dict[str, Any] = {
    "email": "jane.doe@acme.example",
    "id": "2c9f1a0e5b7d4c3e8f6a1b2c",
    "firstName": "Jane",
    "lastName": "Doe",
    "role": "creator",
    "displayName": "Loom Creators",
    "memberIds": ["2c9f1a0e5b7d4c3e8f6a1b2c"],
}


def action_lines(manifest: Manifest) -> list[str]:
    """One line per action: its name and the first sentence of its description."""
    width = max(len(name) for name in manifest.actions)
    return [
        f"{name:<{width}}  {_first_sentence(action.spec.description)}"
        for name, action in sorted(manifest.actions.items())
    ]


def action_help(action: ResolvedAction) -> str:
    """The fields an action takes: name, type, required or not, allowed values, and an
    example input that validates."""
    schema = action.input_model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        need = "required" if name in required else _default(prop)
        rows.append((name, _type_of(prop), need))
    width = max((len(r[0]) for r in rows), default=4)
    type_width = max((len(r[1]) for r in rows), default=4)
    example = _example(action, list(schema.get("properties", {})), required)
    lines = [
        f"loom-scim action {action.name} --input JSON",
        "",
        action.spec.description.strip(),
        "",
        "input fields:",
        *(f"  {n:<{width}}  {t:<{type_width}}  {need}" for n, t, need in rows),
        "",
        "example:",
        f"  loom-scim action {action.name} --input '{json.dumps(example)}'",
        "",
        "--input also takes @file.json, or - to read standard input.",
    ]
    return "\n".join(lines) + "\n"


def _example(action: ResolvedAction, fields: list[str], required: set[str]) -> dict[str, Any]:
    """The required fields (and a role, where there is one), plus the first optional
    fields an input needs to be valid (update-user wants at least one change)."""
    example = {n: _EXAMPLES.get(n, "...") for n in fields if n in required or n == "role"}
    for name in [n for n in fields if n not in example and n in _EXAMPLES]:
        try:
            action.input_model.model_validate(example)
        except ValueError:  # pydantic's ValidationError is a ValueError
            example[name] = _EXAMPLES[name]
        else:
            break
    return example


def _type_of(prop: dict[str, Any]) -> str:
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    kinds = []
    for option in options:
        if "enum" in option:
            kinds.append(" | ".join(str(v) for v in option["enum"]))
        elif option.get("type") == "array":
            kinds.append(f"list of {option.get('items', {}).get('type', 'value')}")
        else:
            kinds.append(str(option.get("type", "value")))
    return " or ".join(kinds)


def _default(prop: dict[str, Any]) -> str:
    default = prop.get("default")
    return "optional" if default is None else f"optional, default {json.dumps(default)}"


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    end = flat.find(". ")
    return flat if end < 0 else flat[: end + 1]
