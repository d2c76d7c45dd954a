"""The MCP server: the manifest's actions and syncs, and the read tools, as MCP tools.

Built on the official SDK's low-level :class:`mcp.server.lowlevel.Server`: the tools
are generated (:mod:`.tools`) with the schemas the manifest already holds, so the
SDK's decorators, which derive schemas from Python signatures, are not the right fit.
Each call opens the named connection's store, runs, and closes it; each answer names
the connection and workspace it acted on. Every failure is a structured tool error
(:mod:`._errors`) and nothing a tool returns carries a secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)

from loom_scim_connector._version import __version__
from loom_scim_connector.audit.offboard import session
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import InputError, UnknownNameError
from loom_scim_connector.host import LocalHost, validate_input
from loom_scim_connector.manifest import Manifest, load_manifest

from ._budget import ChangeBudget
from ._confirm import actor_of, answered, ask_person, question
from ._errors import Secrets, error_result, loggable
from ._files import fenced
from ._reads import READS
from ._sync import run_sync
from ._token import CONFIRM_FIELD, Confirmations
from ._writes import act, plan_of
from .tools import CONNECTION_FIELD, ToolSpec, generate

log = logging.getLogger("loom_scim_connector")
INSTRUCTIONS = """\
Loom workspace administration over SCIM. Read tools answer from the server's store:
run sync-users first for a fresh view. Every write (an action that is not read-only)
changes nothing on its first call: it returns the plan and a confirm token; show the
plan to the person, and only with their consent call again with the same arguments and
confirm. A token is single-use, bound to that plan, and expires in minutes."""


@dataclass
class Options:
    connections: Mapping[str, LoomConnection]
    store: Path | str
    read_only: bool = False
    max_changes: int = 10
    budget: ChangeBudget = field(default_factory=ChangeBudget)  # --max-total-changes
    manifest: Manifest = field(default_factory=load_manifest)
    confirmations: Confirmations = field(default_factory=Confirmations)
    extra_secrets: tuple[str, ...] = ()
    roster_dirs: tuple[Path, ...] = ()  # where the read tools may open a roster


class LoomTools:
    """What the server does for each request, apart from the protocol."""

    def __init__(self, options: Options) -> None:
        if not options.connections:
            raise UnknownNameError("no connection to serve")
        self.options = options
        self.names = list(options.connections)
        self.tools = generate(options.manifest, self.names, read_only=options.read_only)
        self.secrets = Secrets(
            [c.api_key.get_secret_value() for c in options.connections.values()]
            + list(options.extra_secrets)
        )

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=[spec.tool() for spec in self.tools.values()])

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        try:
            spec = self.tools.get(params.name)
            if spec is None:
                raise UnknownNameError(
                    f"no tool {params.name!r}"
                    + (" (this server is read-only)" if self.options.read_only else "")
                )
            args = dict(params.arguments or {})
            name = self._connection(spec, args.pop(CONNECTION_FIELD, None))
            host = LocalHost(
                self.options.connections[name],
                store=self.options.store,
                manifest=self.options.manifest,
                read_only=self.options.read_only,
            )
            try:
                data = await self._run(ctx, params, spec, host, name, args)
            finally:
                host.close()
        except Exception as exc:  # every failure is a tool error, never a protocol one
            failed = error_result(exc, self.secrets)
            said = (failed.structured_content or {}).get("error", {})
            line = f"{params.name}: {said.get('message')} ({said.get('class')})"
            log.warning("%s", loggable(self.secrets.clean(line)))
            return failed
        if isinstance(data, InputRequiredResult):
            return data
        data = self.secrets.clean_data(data)
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
            structured_content=data,
        )

    def _connection(self, spec: ToolSpec, given: object) -> str:
        if given is None and len(self.names) == 1:
            return self.names[0]
        if given is None:
            raise InputError(spec.name, {CONNECTION_FIELD: f"name one of {', '.join(self.names)}"})
        if not isinstance(given, str) or given not in self.options.connections:
            served = ", ".join(self.names)
            raise InputError(spec.name, {CONNECTION_FIELD: f"is not served; name one of {served}"})
        return given

    async def _run(
        self,
        ctx: ServerRequestContext[Any],
        params: CallToolRequestParams,
        spec: ToolSpec,
        host: LocalHost,
        name: str,
        args: dict[str, Any],
    ) -> dict[str, Any] | InputRequiredResult:
        where = {CONNECTION_FIELD: name, "workspace": host.connection.base_url}
        if spec.kind == "read":
            read = READS[spec.target]
            query = validate_input(spec.name, read.input_model, args)
            query = fenced(spec.name, query, self.options.roster_dirs)
            answer = await read.handler(host, query)
            return {**where, "result": answer.model_dump(mode="json", by_alias=True)}
        if spec.kind == "sync":
            if args:
                raise InputError(spec.name, {k: "is not an input of a sync" for k in args})
            summary = await run_sync(host, spec.target, str(self.options.store))
            where["workspace"] = host.connection.base_url  # as discovered
            return {**where, "result": summary.model_dump(mode="json", by_alias=True)}
        if not spec.write:
            output = await host.run_action(spec.target, args)
            where["workspace"] = host.connection.base_url
            return {**where, "result": output.model_dump(mode="json", by_alias=True)}
        return await self._write(ctx, params, spec, host, name, args)

    async def _write(
        self,
        ctx: ServerRequestContext[Any],
        params: CallToolRequestParams,
        spec: ToolSpec,
        host: LocalHost,
        name: str,
        args: dict[str, Any],
    ) -> dict[str, Any] | InputRequiredResult:
        token = args.pop(CONFIRM_FIELD, None)
        if token is not None and not isinstance(token, str):
            raise InputError(spec.name, {CONFIRM_FIELD: "must be the token a plan returned"})
        answer, state = answered(params)
        if token is None and answer is not None:  # the person answered the question asked
            token = state or ""  # no state: refused, as any token not issued
        action = self.options.manifest.action(spec.target)
        validated = validate_input(spec.name, action.input_model, args)
        max_changes = self.options.max_changes
        async with session(host) as (client, witness):
            plan = await plan_of(host, client, action, validated, name, max_changes)
            self.options.budget.check(plan["changes"])  # no token for a call that cannot act
            base = {CONNECTION_FIELD: name, "workspace": host.connection.base_url, "plan": plan}
            if token is None:
                issued, expires = self.options.confirmations.issue(plan)
                asked = question(ctx, plan, issued)
                if asked is not None:
                    return asked
                answer = await ask_person(ctx, plan)
                if answer is None:  # no one to ask: the agent must come back with the token
                    return _reply(base, "planned", confirm=issued, expires=expires)
                if answer == "accepted":  # a person takes minutes: plan again, as a token does
                    plan = await plan_of(host, client, action, validated, name, max_changes)
                    self.options.confirmations.redeem(spec.name, issued, plan)
            else:
                self.options.confirmations.redeem(spec.name, token, plan)
            if answer == "declined":
                return _reply(base, "declined")
            self.options.budget.spend(plan["changes"])
            output, ids = await act(host, client, witness, action, args, plan, actor_of(ctx))
        return _reply(base, "done", output.model_dump(mode="json", by_alias=True), ids=ids)


def _reply(
    base: dict[str, Any],
    status: str,
    result: dict[str, Any] | None = None,
    *,
    confirm: str | None = None,
    expires: str | None = None,
    ids: list[int] | None = None,
) -> dict[str, Any]:
    return {
        **base,
        "status": status,
        "result": result,
        "confirm": confirm,
        "expiresAt": expires,
        "evidenceIds": ids or [],
    }


def build_server(options: Options) -> Server[Any]:
    """The low-level SDK server for ``options``; run it on any transport."""
    tools = LoomTools(options)
    return Server(
        "loom-scim",
        version=__version__,
        title="Loom (SCIM)",
        instructions=INSTRUCTIONS,
        on_list_tools=tools.list_tools,
        on_call_tool=tools.call_tool,
    )
