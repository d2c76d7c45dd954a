"""Who is asking, and asking a person: the actor of the evidence, and elicitation.

The actor is ``mcp:<client name>``, the name the client gave when it connected (one
printable line, at most 80 characters). Where the client declares elicitation, a write's plan is
put to the person through it instead of a token: accepted, the change is made;
declined or cancelled, nothing is. On a 2026-07-28 connection the question travels as
an ``InputRequiredResult`` whose ``requestState`` is the plan's confirmation token, so
the answer confirms exactly the plan the person saw; on an older one, as an
``elicitation/create`` request during the call. A client that cannot be asked gets
the token instead, to come back with.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, Literal

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp_types import (
    CallToolRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

Answer = Literal["accepted", "declined"] | None
KEY = "loom-scim/confirm"

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {
            "type": "boolean",
            "title": "Make this change",
            "description": "true to carry out the plan shown; anything else changes nothing",
        }
    },
    "required": ["confirm"],
}


def _printable(name: str) -> str:
    """``name`` as one line a person can trust on a terminal: whitespace runs become one
    space and every other control or format character (ESC, NUL, a bidi override, a
    zero-width space) is dropped, so a client cannot garble or reorder the evidence."""
    spaced = "".join(" " if c.isspace() else c for c in name)
    kept = "".join(c for c in spaced if not unicodedata.category(c).startswith("C"))
    return " ".join(kept.split())


def actor_of(ctx: ServerRequestContext[Any]) -> str:
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    name = _printable(str(name))[:80].rstrip()
    return f"mcp:{name or 'unknown-client'}"


def _message(plan: dict[str, Any]) -> str:
    current = json.dumps(plan.get("current"), ensure_ascii=False)
    return (
        f"{plan['tool']} on {plan['connection']} ({plan['workspace']}): {plan['what']}\n"
        f"input: {json.dumps(plan['input'], ensure_ascii=False)}\n"
        f"now in Loom: {current}\n{plan['changes']} change(s). Carry it out?"
    )


def _answer(result: ElicitResult) -> Answer:
    if result.action == "accept" and (result.content or {}).get("confirm") is True:
        return "accepted"
    return "declined"


def can_ask(ctx: ServerRequestContext[Any]) -> bool:
    caps = ctx.session.client_capabilities
    return caps is not None and caps.elicitation is not None


def answered(params: CallToolRequestParams) -> tuple[Answer, str | None]:
    """The person's answer carried by a retried call (2026-07-28), and the token of the
    plan it answers (the echoed ``requestState``)."""
    response = (params.input_responses or {}).get(KEY)
    if not isinstance(response, ElicitResult):
        return None, None
    return _answer(response), params.request_state


def question(
    ctx: ServerRequestContext[Any], plan: dict[str, Any], token: str
) -> InputRequiredResult | None:
    """On a 2026-07-28 connection: the question as an ``InputRequiredResult``."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS or not can_ask(ctx):
        return None
    ask = ElicitRequest(
        params=ElicitRequestFormParams(message=_message(plan), requested_schema=_SCHEMA)
    )
    return InputRequiredResult(input_requests={KEY: ask}, request_state=token)


async def ask_person(ctx: ServerRequestContext[Any], plan: dict[str, Any]) -> Answer:
    """On an older connection: put the plan to the person during the call; ``None``
    when this client cannot be asked."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or not can_ask(ctx):
        return None
    try:
        result = await ctx.session.elicit_form(_message(plan), _SCHEMA, ctx.request_id)
    except (NoBackChannelError, MCPError):
        return None
    return _answer(result)
