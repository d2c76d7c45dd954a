"""Data flows one way: CLI or host -> manifest -> sync/action -> client -> retry -> httpx.

Each module has a layer; a module may import only from lower layers or from its own
subpackage. The sandbox stands apart: it may use the wire models only, and nothing but
the CLI may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "loom_scim_connector"

LAYERS = {
    "_version": 0,
    "_constants": -1,  # imports nothing of ours; everything may import it
    "_paths": 1,
    "_messages": 0,
    "errors": 0,
    "filters": 0,
    "identity": 0,
    "models": 0,
    "config": 1,
    "connections": 2,
    "retry": 1,
    "pagination": 1,
    "_exchange": 1,
    # The client's private halves, between pagination and retry (1) and the client (2)
    # that imports them: none imports another (the request plumbing, the search by
    # filter, the create-exactly-once), each takes the client as a protocol.
    "_request": 1.5,
    "_search": 1.5,
    "_create": 1.5,
    "client": 2,
    "dryrun": 2,
    "contract": 3,
    "check": 3,
    "syncs": 4,
    "actions": 4,
    "manifest": 5,
    "store": 1,
    "host": 6,
    "describe": 6,
    "fleet": 7,
    "audit": 7,
    "cli": 8,
    "__init__": 8,
    "__main__": 9,
    "sandbox": 1,
}


def top(module: str) -> str:
    return module.split(".")[0]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    here = list(parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                if not node.module:
                    found.update(f"{module}.{a.name}".strip(".") for a in node.names)
                    continue
            elif node.module and node.module.startswith("loom_scim_connector"):
                module = node.module.removeprefix("loom_scim_connector").lstrip(".")
            else:
                continue
            if module:
                found.add(module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("loom_scim_connector."):
                    found.add(alias.name.removeprefix("loom_scim_connector."))
    return found


def test_no_module_imports_upward() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for other in imports_of(path):
            mine, theirs = top(me), top(other)
            if mine == theirs:
                continue
            if theirs == "sandbox" and mine != "cli":
                problems.append(f"{me} imports the sandbox")
            elif mine == "sandbox" and theirs not in ("models", "_constants"):
                problems.append(f"the sandbox module {me} imports {other}")
            elif mine != "sandbox" and LAYERS[theirs] >= LAYERS[mine]:
                problems.append(
                    f"{me} (layer {LAYERS[mine]}) imports {other} (layer {LAYERS[theirs]})"
                )
    assert problems == []


def test_every_module_has_a_layer() -> None:
    tops = {
        top(".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")
    }
    assert tops <= set(LAYERS)


def test_the_checker_sees_imports() -> None:
    found = imports_of(PACKAGE / "syncs" / "_run.py")
    assert {"client", "contract", "errors", "pagination"} <= found
