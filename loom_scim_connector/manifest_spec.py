"""The shape of ``integrations.yaml``: one frozen pydantic model a section, unknown keys
refused. What the sections mean together (and the code they name) is :mod:`.manifest`'s."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Spec):
    type: Literal["string"]
    title: str
    description: str
    secret: bool = False
    example: str | None = None
    format: str | None = None
    pattern: str | None = None
    doc_section: str | None = None
    env: str


class VerificationSpec(_Spec):
    method: Literal["GET"]
    endpoint: str
    params: dict[str, int | str] = {}
    entrypoint: str


class ProviderSpec(_Spec):
    name: str
    display_name: str
    categories: list[str]
    auth_mode: Literal["API_KEY"]
    base_url: str
    base_url_rule: str
    headers: dict[str, str]
    verification: VerificationSpec
    credentials: dict[str, FieldSpec]
    connection_config: dict[str, FieldSpec]
    docs: str


class EndpointSpec(_Spec):
    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str


class SyncSpec(_Spec):
    description: str
    runs: str
    sync_type: Literal["full", "incremental"]
    track_deletes: bool
    auto_start: bool
    output: str
    endpoint: EndpointSpec
    entrypoint: str
    confirm: str | None = None


class ActionSpec(_Spec):
    description: str
    input: str
    output: str
    endpoint: EndpointSpec
    entrypoint: str


class HintsSpec(_Spec):
    """A tool's MCP annotations (what an agent's client shows and may ask a person about)."""

    # The MCP spec's names, as the table in the manifest writes them.
    readOnlyHint: bool
    destructiveHint: bool
    idempotentHint: bool
    openWorldHint: bool


class ModelSpec(_Spec):
    python: str
    json_schema: dict[str, Any] = Field(alias="schema")


class ManifestSpec(_Spec):
    provider: ProviderSpec
    syncs: dict[str, SyncSpec]
    actions: dict[str, ActionSpec]
    tool_annotations: dict[str, HintsSpec]
    models: dict[str, ModelSpec]
