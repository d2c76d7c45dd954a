"""Each example runs against a sandbox it starts itself, as a developer would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("sync_users_to_jsonl.py", ["out.jsonl"], "25 users written to out.jsonl"),
        ("onboard_user.py", ["jane.doe@acme.example", "creator"], "member of Loom Creators"),
        ("offboard_user.py", [], ": deactivated"),
        ("check_key_expiry.py", [], "-> OK"),
    ],
)
def test_example_runs_against_the_sandbox(
    script: str, args: list[str], expected: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_SCIM_")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "Using a local sandbox" in result.stdout
