"""The tools, generated from the manifest: nothing here names an action or a sync.

Each action is a tool whose input schema is the action's input model schema from
``integrations.yaml`` and whose output is the action's output model, inside an envelope
that says which workspace answered. Each sync is a tool ``sync-NAME`` that returns the
run's summary, never its records. The read tools over the store (:mod:`._reads`) join
them. Every tool's annotations come from the manifest's one ``tool_annotations`` table;
a write (an action that is not read-only) takes ``confirm``, and ``--read-only`` serves
no tool that is not read-only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import Tool, ToolAnnotations
from pydantic import BaseModel

from loom_scim_connector.errors import ManifestError
from loom_scim_connector.manifest import HintsSpec, Manifest

from ._reads import READS
from ._token import CONFIRM_FIELD

Kind = Literal["action", "sync", "read"]
CONNECTION_FIELD = "connection"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: Kind
    target: str  # the action's or sync's name in the manifest; the read tool's name
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    hints: HintsSpec

    @property
    def write(self) -> bool:
        """A change to Loom: planned first, done only once confirmed."""
        return self.kind == "action" and not self.hints.readOnlyHint

    def tool(self) -> Tool:
        h = self.hints
        return Tool(
            name=self.name,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=ToolAnnotations(
                read_only_hint=h.readOnlyHint,
                destructive_hint=h.destructiveHint,
                idempotent_hint=h.idempotentHint,
                open_world_hint=h.openWorldHint,
            ),
        )


def _embedded(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A reference to ``schema`` (a model's), its definitions moved into ``defs``."""
    body = copy.deepcopy(schema)
    defs.update(body.pop("$defs", {}))
    defs[body["title"]] = body
    return {"$ref": f"#/$defs/{body['title']}"}


def _object(
    properties: dict[str, Any], required: Sequence[str], defs: dict[str, Any]
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": [*required]}
    if defs:
        schema["$defs"] = defs
    return schema


_WHERE = {
    CONNECTION_FIELD: {"type": "string", "description": "the connection that answered"},
    "workspace": {"type": "string", "description": "its SCIM bridge URL"},
}


def _input(base: dict[str, Any], connections: Sequence[str], write: bool) -> dict[str, Any]:
    schema = copy.deepcopy(base)
    props = schema.setdefault("properties", {})
    props[CONNECTION_FIELD] = {
        "type": "string",
        "enum": [*connections],
        "description": "which connection (workspace) to act on"
        + ("" if len(connections) > 1 else "; the only one served is the default"),
    }
    if len(connections) > 1:
        schema["required"] = [*schema.get("required", []), CONNECTION_FIELD]
    if write:
        props[CONFIRM_FIELD] = {
            "type": "string",
            "description": "the token the first call returned with its plan: only a call "
            "with it changes anything (single use, expires in minutes)",
        }
    return schema


def _action_output(model: dict[str, Any], write: bool) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    result = _embedded(model, defs)
    props: dict[str, Any] = {**_WHERE, "result": result}
    if not write:
        return _object(props, ["connection", "workspace", "result"], defs)
    props["result"] = {"anyOf": [result, {"type": "null"}]}
    props["status"] = {"enum": ["planned", "done", "declined"]}
    props["plan"] = {"type": "object", "description": "who, what, and the state read from Loom"}
    props["confirm"] = {"type": ["string", "null"], "description": "pass it back to act"}
    props["expiresAt"] = {"type": ["string", "null"]}
    props["evidenceIds"] = {"type": "array", "items": {"type": "integer"}}
    return _object(props, ["connection", "workspace", "status", "plan"], defs)


def _model_output(model: type[BaseModel]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    result = _embedded(model.model_json_schema(by_alias=True, mode="serialization"), defs)
    return _object({**_WHERE, "result": result}, ["connection", "workspace", "result"], defs)


def _hints(manifest: Manifest, name: str) -> HintsSpec:
    try:
        return manifest.spec.tool_annotations[name]
    except KeyError:
        raise ManifestError(
            f"tool_annotations.{name}", "is missing: every tool needs its row"
        ) from None


def generate(
    manifest: Manifest, connections: Sequence[str], *, read_only: bool = False
) -> dict[str, ToolSpec]:
    """Every tool served, by name, in the manifest's order, then the read tools."""
    specs: list[ToolSpec] = []
    models = manifest.spec.models
    for name, action in manifest.actions.items():
        hints = _hints(manifest, name)
        write = not hints.readOnlyHint
        about = action.spec.description
        if write:
            about += (
                " A write: the first call changes nothing and returns the plan (with the "
                "account as Loom has it now) and a confirm token; call again with "
                "confirm to act. Evidence is recorded."
            )
        specs.append(
            ToolSpec(
                name,
                "action",
                name,
                about,
                _input(models[action.spec.input].json_schema, connections, write),
                _action_output(models[action.spec.output].json_schema, write),
                hints,
            )
        )
    from ._sync import SyncSummary

    for name, sync in manifest.syncs.items():
        specs.append(
            ToolSpec(
                f"sync-{name}",
                "sync",
                name,
                f"Run the {name} sync into the server's store and return its summary "
                f"(counts, deletions, held state), not the records. {sync.spec.description}",
                _input(
                    {"type": "object", "properties": {}, "additionalProperties": False},
                    connections,
                    False,
                ),
                _model_output(SyncSummary),
                _hints(manifest, f"sync-{name}"),
            )
        )
    for name, read in READS.items():
        specs.append(
            ToolSpec(
                name,
                "read",
                name,
                read.description,
                _input(read.input_model.model_json_schema(by_alias=True), connections, False),
                _model_output(read.output_model),
                _hints(manifest, name),
            )
        )
    known = {spec.name for spec in specs}
    for extra in manifest.spec.tool_annotations:
        if extra not in known:
            raise ManifestError(f"tool_annotations.{extra}", "names no tool")
    return {s.name: s for s in specs if not (read_only and not s.hints.readOnlyHint)}
