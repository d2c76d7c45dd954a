"""Who is asking, and asking a person: the actor of the evidence, and elicitation.

The actor is ``mcp:<client name>``, the name the client gave when it connected (one
line, at most 80 characters). Where the client declares elicitation, a write's plan is
put to the person through it instead of a token: accepted, the change is made at once;
declined or cancelled, nothing is. A client that cannot be asked (no capability, or no
channel back to it) gets the token instead.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError, NoBackChannelError

Answer = Literal["accepted", "declined"] | None

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


def actor_of(ctx: ServerRequestContext[Any]) -> str:
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    name = " ".join(str(name).split())[:80]
    return f"mcp:{name or 'unknown-client'}"


def _message(plan: dict[str, Any]) -> str:
    current = json.dumps(plan.get("current"), ensure_ascii=False)
    return (
        f"{plan['tool']} on {plan['connection']} ({plan['workspace']}): {plan['what']}\n"
        f"input: {json.dumps(plan['input'], ensure_ascii=False)}\n"
        f"now in Loom: {current}\n{plan['changes']} change(s). Carry it out?"
    )


async def ask_person(ctx: ServerRequestContext[Any], plan: dict[str, Any]) -> Answer:
    """Put the plan to the person; ``None`` when this client cannot be asked."""
    caps = ctx.session.client_capabilities
    if caps is None or caps.elicitation is None:
        return None
    try:
        result = await ctx.session.elicit_form(_message(plan), _SCHEMA, ctx.request_id)
    except (NoBackChannelError, MCPError):
        return None
    if result.action == "accept" and (result.content or {}).get("confirm") is True:
        return "accepted"
    return "declined"
