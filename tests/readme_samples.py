"""The README's sample output, made by running the commands it shows, so it cannot go
stale: `make docs` rewrites each block between ``<!-- sample: NAME -->`` and
``<!-- /sample -->``; tests/test_readme.py fails when a block differs from a fresh run.

Runs are in-process against a sandbox seeded as the quick start seeds it. Only what
changes from run to run is normalized: the port, timings and timestamps.

    .venv/bin/python -m tests.readme_samples --write
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from contextlib import chdir
from pathlib import Path

from loom_scim_connector.cli import run
from loom_scim_connector.sandbox import Sandbox

from .conftest import errors_of

README = Path(__file__).resolve().parents[1] / "README.md"
PORT_URL = "http://127.0.0.1:8700"
TOKEN = "demo-token-0123456789"
SEED, USERS = 0, 8
BLOCK = re.compile(r"(<!-- sample: (\S+) -->\n```text\n)(.*?)(```\n<!-- /sample -->)", re.S)


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    # The README's samples leave out the line naming the workspace (the sandbox's URL).
    return code, errors_of(err.getvalue()) + out.getvalue()


def _shown(command: str, text: str) -> str:
    return f"$ {command}\n{text}"


def samples() -> dict[str, str]:
    """Every sample block's text, by name."""
    found: dict[str, str] = {}
    saved = {k: os.environ.get(k) for k in ("LOOM_SCIM_BRIDGE_URL", "LOOM_SCIM_API_KEY")}
    with (
        Sandbox(seed_users=USERS, seed=SEED, token=TOKEN) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
        chdir(tmp),
    ):
        os.environ["LOOM_SCIM_BRIDGE_URL"] = sandbox.url
        os.environ["LOOM_SCIM_API_KEY"] = TOKEN
        os.environ.pop("LOOM_SCIM_API_KEY_EXPIRES_AT", None)
        try:
            clean = _normalizer(sandbox.root)
            found["check"] = _shown("loom-scim check", clean(_cli("check")[1]))
            _, text = _cli("sync", "users", "--format", "table")
            found["sync"] = _shown("loom-scim sync users --format table", clean(text))
            leaver = sandbox.seeded["all"][1]
            command = ("action", "deactivate-user", "--input", json.dumps({"id": leaver}))
            _, text = _cli(*command)
            found["deactivate"] = _shown(
                f"loom-scim action deactivate-user --input '{json.dumps({'id': leaver})}'",
                clean(_pretty(text)),
            )
            sandbox.call("DELETE", f"/Users/{sandbox.seeded['all'][2]}")
            _, text = _cli("sync", "users", "--format", "table")
            changed = "\n".join(line for line in text.splitlines() if "UNCHANGED" not in line)
            found["resync"] = _shown("loom-scim sync users --format table", clean(changed) + "\n")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return found


def _pretty(text: str) -> str:
    data = json.loads(text)
    user = data.get("user") or {}
    for key in ("createdAt", "updatedAt"):
        user.pop(key, None)
    return json.dumps(data, indent=2) + "\n"


def _normalizer(root: str) -> Callable[[str], str]:
    def clean(text: str) -> str:
        text = text.replace(root, PORT_URL)
        text = re.sub(r"\d+\.\d\d s\b", "0.05 s", text)
        return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "2026-11-23T09:00:00Z", text)

    return clean


def render(readme: str, found: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(1) + found[name] + match.group(4) if name in found else match.group(0)

    return BLOCK.sub(fill, readme)


def main() -> int:
    current = README.read_text()
    fresh = render(current, samples())
    if "--write" in sys.argv:
        README.write_text(fresh)
        print("README samples regenerated")
        return 0
    print("up to date" if fresh == current else "stale: run make docs")
    return 0 if fresh == current else 1


if __name__ == "__main__":
    raise SystemExit(main())
