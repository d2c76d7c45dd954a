"""`loom-scim sync users` imports what a sync needs, not the other commands' modules.

Imports are most of a small sync's fixed cost (and of its memory): the actions and their
input models, the MCP server, the fleet's Celery, the sandbox, the audit's review pages,
and httpx's own command line (click, pygments) stay out of a sync's process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import loom_scim_connector
from loom_scim_connector.sandbox import Sandbox

# The child imports the package this test imported (this checkout, wherever installed).
HOME = str(Path(loom_scim_connector.__file__).resolve().parents[1])

# Run as the console script does (main(), its exit included), listing the modules loaded.
SCRIPT = """
import atexit, json, sys
from loom_scim_connector.__main__ import main
path, sys.argv = sys.argv[1], ["loom-scim", *sys.argv[2:]]
atexit.register(lambda: open(path, "w").write(json.dumps(sorted(sys.modules))))
main()
"""
NOT_ON_A_SYNC = (
    "loom_scim_connector.actions",
    "loom_scim_connector.models.inputs",
    "loom_scim_connector.models.outputs",
    "loom_scim_connector.describe",
    "loom_scim_connector.dryrun",
    "loom_scim_connector.audit",
    "loom_scim_connector.mcp",
    "loom_scim_connector.sandbox",
    "loom_scim_connector.store.postgres",
    "mcp",
    "celery",
    "kombu",
    "jinja2",
    "click",
    "pygments",
    "scim2_server",
)


def test_a_sync_imports_only_what_it_needs(sandbox_module: Sandbox, tmp_path: Path) -> None:
    listed = tmp_path / "modules.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": HOME,
        "LOOM_SCIM_BRIDGE_URL": sandbox_module.url,
        "LOOM_SCIM_API_KEY": sandbox_module.token,
    }
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SCRIPT, str(listed), "sync", "users", "--store", "s.sqlite3"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "users: success; 12 saved" in done.stderr
    modules = json.loads(listed.read_text())
    loaded = [m for m in modules if m.startswith(NOT_ON_A_SYNC)]
    assert loaded == []
