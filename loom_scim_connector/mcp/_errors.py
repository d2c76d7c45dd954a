"""A failure as a tool error: the CLI's one-line message and its exit-code class.

Nothing a tool returns may carry a secret: every text is passed through the one
redaction (:func:`loom_scim_connector._messages.redact`) for each secret the server
holds (the Loom keys of the connections it serves, and its own bearer token), and a
server's raw error body never reaches a message (the client's errors already say only
what the body meant).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from typing import Any

from mcp_types import CallToolResult, TextContent

from loom_scim_connector._messages import redact
from loom_scim_connector.errors import InputError, LoomScimError, ManifestError
from loom_scim_connector.exits import EXIT_CLASSES, exit_code_for


class Secrets:
    """The secrets of one server, each redacted from everything it sends."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = [v for v in values if len(v) >= 4]

    def clean(self, text: str) -> str:
        for secret in self.values:
            text = redact(text, secret)
        return text

    def clean_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with any echo of a secret redacted (a record Loom sent, say)."""
        text = json.dumps(data, ensure_ascii=False)
        cleaned = self.clean(text)
        if cleaned == text:
            return data
        result: dict[str, Any] = json.loads(cleaned)
        return result


def one_line(text: str) -> str:
    return " ".join(text.split())


def loggable(text: str) -> str:
    """``text`` for the operator's log: one line, each control or format character
    (a newline, an escape, a bidi override) shown as its code, never acted on."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c).startswith("C") else c for c in text
    )


def message_of(exc: BaseException) -> str:
    """The line the CLI prints for ``exc`` (after ``loom-scim: error: ``)."""
    if isinstance(exc, LoomScimError | ManifestError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    return f"unexpected {text} (nothing was deleted; please report it)"


def error_result(exc: BaseException, secrets: Secrets) -> CallToolResult:
    """``exc`` as a structured tool error: ``isError``, its class and exit code (as the
    CLI would exit), the message, and for bad input each field and why."""
    code = exit_code_for(exc)
    error: dict[str, Any] = {
        "class": EXIT_CLASSES.get(code, "failure"),
        "exitCode": code,
        "message": one_line(secrets.clean(message_of(exc))),
    }
    if isinstance(exc, InputError):
        error["fields"] = {
            secrets.clean(str(name)): one_line(secrets.clean(str(why)))
            for name, why in exc.problems.items()
        }
    return CallToolResult(
        content=[TextContent(type="text", text=f"loom-scim: error: {error['message']}")],
        structured_content={"error": error},
        is_error=True,
    )
