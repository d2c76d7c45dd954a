"""Each example runs against a sandbox it starts itself, as a developer would run it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


README = EXAMPLES.parent / "README.md"
# What each README command must print, by example script.
EXPECTED = {
    "sync_users_to_jsonl.py": "26 users written to users.jsonl",
    "onboard_user.py": "member of Loom Creators",
    "offboard_user.py": "leaver@acme.example: deactivated",
    "check_key_expiry.py": "-> OK",
}


def readme_commands() -> list[str]:
    """The commands of the README's examples table, as a reader copies them."""
    rows = re.findall(
        r"^\| \[.*\]\(examples/(\S+?\.py)\) \| `([^`]+)` \|$", README.read_text(), re.M
    )
    assert {script for script, _ in rows} == set(EXPECTED)
    return [command for _, command in rows]


def run_as_written(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a README command verbatim, but for the interpreter and the examples' folder
    (the test runs in a temporary directory, with this interpreter)."""
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_SCIM_")}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == ".venv/bin/python" and words[1].startswith("examples/")
    argv = [sys.executable, str(EXAMPLES.parent / words[1]), *words[2:]]
    return subprocess.run(  # noqa: S603
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("command", readme_commands())
def test_the_readme_commands_work_as_written(command: str, tmp_path: Path) -> None:
    result = run_as_written(command, tmp_path)
    assert result.returncode == 0, result.stderr
    script = Path(shlex.split(command.split(".venv/bin/python ")[1])[0]).name
    assert EXPECTED[script] in result.stdout
    assert "Using a local sandbox" in result.stdout


def test_a_bad_role_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = run_as_written(
        ".venv/bin/python examples/onboard_user.py jane.doe@acme.example owner", tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: invalid input for create-user: role")
    assert result.stderr.count("\n") == 1
