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
    "_origins": -0.5,  # where a setting came from, for advice: imports _constants only
    "_paths": 1,
    "_messages": 0,
    "errors": 0,
    "filters": 0,
    "identity": 0,
    "models": 0,
    "_url": 0.5,  # the bridge URL: below config, above errors
    "_status": 0.5,  # the status table: above errors, whose classes it picks
    "config": 1,
    "connections": 2,
    "retry": 1,
    "pagination": 1,
    "_exchange": 1,
    "_timeouts": 0.25,  # a request's timeouts and deadline: httpx, errors and constants
    "_threaded": 0.5,  # GETs on a few threads: httpx alone, below the request plumbing
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
    "manifest_spec": 4.5,  # the shape of integrations.yaml (pydantic only)
    "manifest": 5,
    "store": 1,
    "host": 6,
    "describe": 6,
    "fleet": 7,
    "audit": 7,
    "exits": 2,  # the exit codes and the error classification the CLI and MCP share
    "mcp": 7.5,  # a host like the CLI, which starts it
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


# One concern per module, under about 300 lines: this is the hard stop. A module that
# must stay longer is named here with its reason.
MAX_LINES = 330
LONG_MODULES: dict[str, str] = {}


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    over = {name: n for name, n in long.items() if n > MAX_LINES and name not in LONG_MODULES}
    assert over == {}, f"split these modules (over {MAX_LINES} lines): {over}"
    assert set(LONG_MODULES) <= {name for name, n in long.items() if n > MAX_LINES}


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def import_graph() -> dict[str, set[str]]:
    """Each module and the modules of ours it imports (a name imported from a package,
    ``from . import x``, counts as the module ``x`` when there is one)."""
    modules = {module_of(p).removesuffix(".__init__"): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for other in imports_of(path):
            while other and other not in modules:
                other = other.rpartition(".")[0]
            if other and other != name:
                found.add(other)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each once: the strongly connected components of more than one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
