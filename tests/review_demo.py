"""The access review of a demo workspace, as an auditor meets one: every kind of member
(active, inactive, unmanaged, nameless in Loom, one deleted by offboarding, some the
roster marks disabled, one it lacks), three offboardings, and an Entra ID roster with
names. For the layout tests (tests/test_review_layout.py) and the README's screenshot:

    .venv/bin/python -m tests.review_demo docs/review-page.png    (or: make screenshot)
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loom_scim_connector.cli import run
from loom_scim_connector.sandbox import Sandbox

# The laptops the page is laid out for, as CSS pixels of the viewport.
LAPTOPS = ((1366, 768), (1280, 800))
SHOT_WIDTH = LAPTOPS[0][0]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "review-page.png"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
REVIEWER = "Dana Whitfield (IT audit)"


def _add(sandbox: Sandbox, email: str, name: tuple[str, str] | None, external: str | None) -> None:
    body: dict[str, Any] = {
        "schemas": [USER],
        "userName": email,
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }
    if name:
        body["name"] = {"givenName": name[0], "familyName": name[1]}
    if external:
        body["externalId"] = external
    sandbox.call("POST", "/Users", body)


def _cli(*argv: str) -> int:
    quiet = io.StringIO()
    return run(["-q", *argv], out=quiet, err=quiet)


@contextmanager
def _environment(sandbox: Sandbox) -> Iterator[None]:
    env = {
        "LOOM_SCIM_BRIDGE_URL": sandbox.url,
        "LOOM_SCIM_API_KEY": sandbox.token,
        "LOOM_SCIM_API_KEY_EXPIRES_AT": "2027-01-10",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_review(folder: Path, sandbox: Sandbox) -> Path:
    """Seed the workspace, offboard, write a roster, and review it all: the page's path
    (the CSV beside it, ``review.csv``)."""
    # A contractor who joined by domain capture, with no name in Loom (the roster has it),
    # and a long address, as real ones are.
    _add(sandbox, "wilhelmina.vandenberg-castellano@contractors.acme.example", None, None)
    _add(sandbox, "ola.nordmann@acme.example", ("Ola", "Nordmann"), "00uOLA")
    store = str(folder / "store.sqlite3")
    with _environment(sandbox):
        users = sandbox.call("GET", "/Users", query={"count": "100"})["Resources"]
        active = [u for u in users if u.get("active") and u.get("externalId")]
        assert _cli("sync", "users", "--store", store) == 0
        deactivated, deleted = active[0]["userName"], active[3]["userName"]
        for leaver, how in ((deactivated, []), (deleted, ["--delete"])):
            _cli("offboard", leaver, *how, "--store", store, "--actor", "Sam Okafor (IT)")
        _cli(
            "offboard", "ex.contractor@acme.example", "--store", store, "--actor", "Sam Okafor (IT)"
        )
        # Entra ID's "Download users": accountEnabled false is "disabled in the IdP".
        lines = ["userPrincipalName,displayName,accountEnabled"]
        gone = {deactivated, deleted, active[1]["userName"]}
        for user in users:
            if user["userName"] == active[2]["userName"]:
                continue  # someone Loom has and the roster does not
            name = " ".join(user.get("name", {}).values()) or "Wilhelmina van den Berg"
            lines.append(f"{user['userName']},{name},{str(user['userName'] not in gone).lower()}")
        roster = folder / "roster.csv"
        roster.write_text("\n".join(lines) + "\n")
        page = folder / "review.html"
        argv = [
            "review",
            "--store",
            store,
            "--html",
            str(page),
            "--csv",
            str(folder / "review.csv"),
        ]
        assert _cli(*argv, "--roster", str(roster), "--reviewer", REVIEWER) == 0
    return page


@contextmanager
def demo_review() -> Iterator[Path]:
    """The demo workspace's review page, in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder, Sandbox(seed_users=12, seed=3) as sandbox:
        yield write_review(Path(folder), sandbox)


def screenshot(page: Path) -> bytes:
    """The whole page at the first laptop's width, as PNG."""
    from .browser import webdriver

    with webdriver() as web:
        web.viewport(*LAPTOPS[0])
        web.open(page.as_uri())
        return web.full_page(SHOT_WIDTH)


if __name__ == "__main__":  # python -m tests.review_demo docs/review-page.png
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else SCREENSHOT
    with demo_review() as review:
        target.write_bytes(screenshot(review))
    print(f"{target}: {target.stat().st_size} bytes")
