"""Advice names where a setting came from (issue 20's leftovers of point 6): a
connection from the connections file is told to fix its entry in that file, never an
environment variable it does not use; the environment's connection, the variable."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy
from loom_scim_connector._origins import Origins
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK
from loom_scim_connector.errors import TransportError
from loom_scim_connector.sandbox import Sandbox

from .conftest import cli

PACKAGE = Path(__file__).resolve().parents[1] / "loom_scim_connector"
VARIABLES = re.compile(r"LOOM_SCIM_(BRIDGE_URL|API_KEY)|\bENV_(URL|KEY|EXPIRES)\b")

# The only modules that may name the connection's environment variables, and why: each
# is about the environment itself. Advice about a setting goes through Origins.
NAMES_THE_VARIABLES = {
    "_constants.py": "defines them",
    "_origins.py": "the environment's connection: advice names its variables",
    "config.py": "reads them: a missing one, or a look-alike, is named",
    "connections.py": "chooses the environment or the file, and says which",
    "cli/_connect.py": "warns that --connection wins over the variables also set",
    "cli/_exit.py": "--help lists the variables",
    "cli/_parser.py": "--help of --connection",
    "cli/_commands.py": "the sandbox prints the export lines to paste",
    "cli/_output.py": "reads the key to keep it out of the output",
    "fleet/cli.py": "fleet add-connection reads the key from the variable",
    "fleet/_help.py": "fleet --help says so",
}


def test_only_modules_about_the_environment_name_its_variables() -> None:
    naming = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if VARIABLES.search(path.read_text())
    }
    assert naming == set(NAMES_THE_VARIABLES), (
        "advice that names LOOM_SCIM_* to a connection that may come from the file: "
        f"name the setting through connection.origins instead ({naming ^ set(NAMES_THE_VARIABLES)})"
    )


def connections_file(tmp_path: Path, url: str, token: str) -> Path:
    path = tmp_path / "connections.toml"
    command = json.dumps([sys.executable, "-c", f"print({token!r})"])
    path.write_text(f'[connections.acme]\nurl = "{url}"\nkey_command = {command}\n')
    return path


def from_file(config: Path, *argv: str) -> tuple[int, str, str]:
    return cli("--config", str(config), "--connection", "acme", *argv)


def test_not_tls_names_the_entry_s_url(sandbox: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, f"https://127.0.0.1:{sandbox.port}/scim/v2", "t")
    code, _, err = from_file(config, "sync", "users")
    assert code == EXIT_BAD_INPUT, err
    assert f"Check the scheme and port of connection 'acme''s url in {config}" in err
    assert "LOOM_SCIM" not in err


def test_a_wrong_url_names_the_entry_s_url(sandbox: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, sandbox.root + "/not-scim/v2", sandbox.token)
    code, _, err = from_file(config, "sync", "users")
    assert code == EXIT_BAD_INPUT, err
    assert f"connection 'acme''s url in {config} is not the SCIM base URL" in err
    assert "LOOM_SCIM" not in err


def test_check_advises_the_entry_s_url_and_expiry(sandbox: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, sandbox.root, sandbox.token)  # a bare host
    code, out, err = from_file(config, "check")
    assert code == EXIT_OK, err
    assert f"SCIM answered at {sandbox.url}: set connection 'acme''s url in {config} to it" in out
    assert f"key expiry unknown: set connection 'acme''s key_expires_at in {config}" in out
    assert "LOOM_SCIM" not in out + err


def test_the_review_s_banner_names_the_entry_s_expiry(sandbox: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, sandbox.url, sandbox.token)
    page = tmp_path / "review.html"
    code, _, err = from_file(config, "review", "--store", str(tmp_path / "s"), "--html", str(page))
    assert code == EXIT_OK, err
    banner = re.search(r'id="key-expiry"[^>]*>([^<]*)<', page.read_text())
    assert banner is not None and "LOOM_SCIM" not in banner.group(1)
    assert "connection &#x27;acme&#x27;&#x27;s key_expires_at in" in banner.group(1)


async def test_a_network_failure_names_where_the_url_came_from(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def no_sleep(_: float) -> None:
        return None

    for origins, named in (
        (Origins.of_entry("acme", tmp_path / "c.toml", "key_command"), "connection 'acme''s url"),
        (Origins.of_fleet("acme"), "the --url of fleet connection 'acme'"),
        (Origins(), "LOOM_SCIM_BRIDGE_URL"),
    ):
        connection = LoomConnection.create(
            "https://scim.example.com/scim/v2", "k" * 20, None, origins
        )
        client = LoomScimClient(
            connection, transport=httpx.MockTransport(refuse), retry=RetryPolicy(sleep=no_sleep)
        )
        async with client:
            with pytest.raises(TransportError) as caught:
                await client.list_page("Users", 1, 1)
        assert f"could not be reached: check {named}" in str(caught.value)
        if named != "LOOM_SCIM_BRIDGE_URL":
            assert "LOOM_SCIM" not in str(caught.value)
