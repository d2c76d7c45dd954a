"""The README's list of MCP tools, generated from the manifest as `loom-scim mcp` serves
it, so it cannot go stale: `make docs` rewrites the block between ``<!-- mcp-tools -->``
and ``<!-- /mcp-tools -->``; tests/test_mcp_docs.py fails when it differs.

    .venv/bin/python -m tests.mcp_tools_doc --write
"""

from __future__ import annotations

import re
import sys

from loom_scim_connector.manifest import load_manifest
from loom_scim_connector.mcp.tools import ToolSpec, generate

from .readme_samples import README

BLOCK = re.compile(r"(<!-- mcp-tools -->\n)(.*?)(<!-- /mcp-tools -->)", re.S)


def _kind(spec: ToolSpec) -> str:
    if spec.write:
        return "write: plan, then confirm"
    if spec.kind == "sync":
        return "sync into the store"
    return "read (Loom)" if spec.hints.openWorldHint else "read (local)"


def _hints(spec: ToolSpec) -> str:
    h = spec.hints
    named = [
        ("read-only", h.readOnlyHint),
        ("destructive", h.destructiveHint),
        ("idempotent", h.idempotentHint),
        ("open world", h.openWorldHint),
    ]
    return ", ".join(name for name, on in named if on) or "-"


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def render() -> str:
    """The block's markdown: one row a tool, in the order the server lists them."""
    tools = generate(load_manifest(), ["env"])
    rows = [
        "| Tool | Kind | Annotations | What it does |",
        "|---|---|---|---|",
    ]
    for spec in tools.values():
        about = _first_sentence(spec.description).replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {_kind(spec)} | {_hints(spec)} | {about} |")
    return "\n".join(rows) + "\n"


def stale(text: str) -> bool | None:
    """Whether the README's block differs from :func:`render`; ``None``: no block."""
    found = BLOCK.search(text)
    return None if found is None else found.group(2) != render()


def write() -> None:
    text = README.read_text(encoding="utf-8")
    if BLOCK.search(text) is None:  # the section is not written yet: nothing to refresh
        sys.stderr.write("README.md has no <!-- mcp-tools --> block: nothing written\n")
        return
    README.write_text(
        BLOCK.sub(lambda m: m.group(1) + render() + m.group(3), text), encoding="utf-8"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.stdout.write(render())
