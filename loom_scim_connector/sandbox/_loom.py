"""What Loom does with a request body: read whether it deactivates, drop an unmapped role."""

from __future__ import annotations

from typing import Any


def sets_inactive(body: Any) -> bool:
    """Whether a PATCH or PUT body sets ``active`` to false."""
    if not isinstance(body, dict):
        return False
    low = {k.lower(): v for k, v in body.items()}
    if "active" in low:
        return str(low["active"]).lower() == "false"
    for op in low.get("operations") or []:
        o = {k.lower(): v for k, v in op.items()} if isinstance(op, dict) else {}
        if str(o.get("op", "")).lower() not in ("replace", "add"):
            continue
        path, value = str(o.get("path") or "").lower(), o.get("value")
        if path == "active" and str(value).lower() == "false":
            return True
        if not path and isinstance(value, dict) and sets_inactive(value):
            return True
    return False


def without_role(body: Any) -> Any:
    """The body with every ``loomMemberRole`` dropped, as Loom does when it is unmapped."""
    if not isinstance(body, dict):
        return body
    cleaned = {k: v for k, v in body.items() if k.lower() != "loommemberrole"}
    ops = next((k for k in cleaned if k.lower() == "operations"), None)
    if ops and isinstance(cleaned[ops], list):
        cleaned[ops] = [
            without_role(op)
            for op in cleaned[ops]
            if not (isinstance(op, dict) and str(op.get("path", "")).lower() == "loommemberrole")
        ]
    if "value" in cleaned and isinstance(cleaned["value"], dict):
        cleaned["value"] = without_role(cleaned["value"])
    return cleaned


def operations(body: dict[str, Any]) -> list[Any]:
    ops = next((v for k, v in body.items() if k.lower() == "operations"), None)
    return ops if isinstance(ops, list) else []
