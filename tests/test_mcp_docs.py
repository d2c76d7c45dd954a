"""The README's MCP tool list is the one the server serves (see mcp_tools_doc.py)."""

from __future__ import annotations

import pytest

from loom_scim_connector.manifest import load_manifest

from .mcp_tools_doc import BLOCK, render, stale
from .readme_samples import README

SECTION = "## Use it from an AI assistant"


def test_the_readme_tool_list_is_not_stale() -> None:
    text = README.read_text(encoding="utf-8")
    if SECTION not in text:
        pytest.skip(f"README.md has no {SECTION!r} section yet")
    assert BLOCK.search(text) is not None, "the section needs a <!-- mcp-tools --> block"
    assert stale(text) is False, "stale: run `make docs`"


def test_the_generated_list_names_every_tool_once() -> None:
    table = render()
    manifest = load_manifest()
    for name in [*manifest.actions, *(f"sync-{s}" for s in manifest.syncs)]:
        assert table.count(f"| `{name}` |") == 1, name
    assert stale(f"x\n<!-- mcp-tools -->\n{table}<!-- /mcp-tools -->\n") is False
    assert stale(f"<!-- mcp-tools -->\n{table}| `extra` |\n<!-- /mcp-tools -->") is True
