"""`make demo`: it installs the sandbox extra only, runs with nothing more, and each step
says which deprovisioning setting the workspace has (a step that changes it says so)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Installed by [dev] or [fleet], never by [sandbox]: the demo must not need any of them.
NOT_IN_SANDBOX = (
    "celery",
    "cryptography",
    "django",
    "django_scim",
    "hypothesis",
    "kombu",
    "mypy",
    "psycopg",
    "pytest",
    "redis",
    "scim2_client",
    "scim2_tester",
    "vcr",
)
GUARD = f"""\
import importlib.abc
import sys

BLOCKED = {NOT_IN_SANDBOX!r}


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not in the sandbox extra")
        return None


sys.meta_path.insert(0, Refuse())
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_installs_the_sandbox_extra_only(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    planned = subprocess.run(
        ["make", "-n", "demo"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line and " -e " in line]
    assert installs == [".venv-demo/bin/python -m pip install --quiet -e '.[sandbox]'"]
    assert "examples/demo.py" in planned and "[dev]" not in planned


def test_the_demo_runs_with_the_sandbox_extra_alone_and_says_each_steps_mode(
    tmp_path: Path,
) -> None:
    (tmp_path / "sitecustomize.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_SCIM_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    env["LOOM_SCIM_CONFIG"] = str(tmp_path / "no-connections.toml")
    shown = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout[-3000:] + shown.stderr[-3000:]
    steps = re.findall(r"^== (\d+)\. .*\[workspace deprovisioning: (.+)\]$", shown.stdout, re.M)
    assert [int(n) for n, _ in steps] == list(range(1, 14))
    modes = dict(steps)
    assert modes["6"] == "deactivate"
    assert modes["7"] == "delete, changed here"
    assert modes["8"] == "deactivate, changed here"
    assert modes["12"] == "deactivate"
    offboarded = shown.stdout.split("== 12.")[1].split("== 13.")[0]
    assert "1 deactivated" in offboarded and "deleted" not in offboarded
