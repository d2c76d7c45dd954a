"""`make mcp-demo`: the scripted assistant answers "who left but still has access?" and
offboards them with confirmation, each protocol step printed, the evidence verified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_assistant_example_finds_the_leavers_and_offboards_them_confirmed() -> None:
    shown = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "examples" / "mcp_assistant.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    out = shown.stdout
    steps = [
        "-> tools/call sync-users",
        "-> tools/call reconcile-roster",
        "the roster says terminated",
        "plan: deactivate",
        "[the assistant shows the plan; the admin says yes]",
        "deactivated; evidence",
        "deactivated by mcp:demo-assistant",
        "the evidence chain is whole: 8 records",
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), out
    assert out.count('"confirm": "') == 4  # each write confirmed by its own token


def test_make_mcp_demo_runs_the_example() -> None:
    planned = subprocess.run(
        ["make", "-n", "mcp-demo"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "examples/mcp_assistant.py" in planned
