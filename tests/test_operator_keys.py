"""Where a key came from, and a key pasted with its quotes (issue 20, points 5 and 6):
a refused key names the place to fix it, a mangled key is never to be regenerated, and
one bad entry of the connections file leaves the others usable."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from loom_scim_connector.cli import EXIT_AUTH, EXIT_BAD_INPUT, EXIT_OK, run
from loom_scim_connector.sandbox import Sandbox


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def printing(secret: str) -> str:
    return json.dumps([sys.executable, "-c", f"print({secret!r})"])


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.delenv("LOOM_SCIM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_key_pasted_with_its_quotes_is_taken_without_them_and_said(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch, quote: str
) -> None:
    monkeypatch.setenv("LOOM_SCIM_API_KEY", f"{quote}{env.token}{quote}")
    code, out, err = cli("sync", "users")
    assert code == EXIT_OK, err
    assert "LOOM_SCIM_API_KEY: it was given in quotes (removed)" in err
    assert env.token not in out + err


def test_a_refused_key_that_was_quoted_is_not_to_be_regenerated(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_API_KEY", '"not-the-key"')
    code, _, err = cli("sync", "users")
    assert code == EXIT_AUTH
    assert "Regenerate" not in err and "regenerate it in Loom first" in err
    assert "quotes" in err and "LOOM_SCIM_API_KEY" in err


def test_a_key_with_one_quote_is_refused_in_one_line(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_API_KEY", f'"{env.token}')
    code, _, err = cli("sync", "users")
    assert code == EXIT_BAD_INPUT
    assert "quote mark that has no pair" in err and len(err.strip().splitlines()) == 1


def connections_file(tmp_path: Path, sandbox: Sandbox, key: str) -> Path:
    path = tmp_path / "connections.toml"
    path.write_text(
        f"""
[connections.good]
url = "{sandbox.url}"
key_command = {printing(key)}
[connections.bad]
url = "{sandbox.url}"
key_comand = "op read op://IT/loom"
[connections.other]
url = "https://scim.example.com/scim/v2"
key_keyring = "loom-scim/other"
"""
    )
    return path


def test_a_refused_key_from_the_file_names_its_key_command(env: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, env, "not-the-key")
    code, _, err = cli("--config", str(config), "--connection", "good", "sync", "users")
    assert code == EXIT_AUTH
    assert f"update connection 'good''s key_command in {config}" in err
    assert "LOOM_SCIM_API_KEY" not in err


def test_one_bad_entry_leaves_the_others_usable(env: Sandbox, tmp_path: Path) -> None:
    config = connections_file(tmp_path, env, env.token)
    code, out, err = cli("--config", str(config), "connections")
    assert code == EXIT_OK, err
    assert "  bad: UNUSABLE: " in out and "unknown keys key_comand" in out
    assert "  good: " in out and "  other: " in out
    code, _, err = cli("--config", str(config), "--connection", "good", "sync", "users")
    assert code == EXIT_OK, err
    code, _, err = cli("--config", str(config), "--connection", "bad", "sync", "users")
    assert code == EXIT_BAD_INPUT
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [line for line in err.splitlines()]
    assert len(errors) == 1 and "connections.bad" in errors[0] and "key_comand" in errors[0]


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("LOOM_SCIM_URL", "LOOM_SCIM_BRIDGE_URL"), ("LOOM_SCIM_TOKEN", "LOOM_SCIM_API_KEY")],
)
def test_a_misspelt_variable_is_named_in_the_error(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch, wrong: str, right: str
) -> None:
    import os

    value = os.environ[right]
    monkeypatch.delenv(right)
    monkeypatch.setenv(wrong, value)
    code, _, err = cli("sync", "users")
    assert code == EXIT_BAD_INPUT
    assert err.strip().splitlines() == [
        f"loom-scim: error: {right}: is not set; {wrong} is set: did you mean {right}?"
    ]


def test_a_misspelt_expiry_variable_is_warned_of(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_KEY_EXPIRES_AT", "2020-01-01")
    code, _, err = cli("check")
    assert code == EXIT_OK, err
    assert "LOOM_SCIM_KEY_EXPIRES_AT is set but not read: did you mean" in err
    assert "LOOM_SCIM_API_KEY_EXPIRES_AT?" in err


def test_variables_read_elsewhere_are_never_taken_for_a_misspelling(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LOOM_SCIM_MCP_TOKEN`` (the MCP server's own token) was named as a misspelt API
    key, and a test server's ``LOOM_SCIM_TEST_POSTGRES_URL`` as a misspelt bridge URL,
    ahead of the real misspelling."""
    import os

    url = os.environ["LOOM_SCIM_BRIDGE_URL"]
    monkeypatch.delenv("LOOM_SCIM_BRIDGE_URL")
    monkeypatch.setenv("LOOM_SCIM_TEST_POSTGRES_URL", "postgresql://127.0.0.1/test")
    monkeypatch.setenv("LOOM_SCIM_URL", url)
    code, _, err = cli("sync", "users")
    assert code == EXIT_BAD_INPUT
    assert "LOOM_SCIM_URL is set: did you mean LOOM_SCIM_BRIDGE_URL?" in err
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", url)
    monkeypatch.delenv("LOOM_SCIM_API_KEY")
    monkeypatch.setenv("LOOM_SCIM_MCP_TOKEN", "an-mcp-token-of-its-own-0123456789")
    code, _, err = cli("sync", "users")
    assert code == EXIT_BAD_INPUT
    assert "LOOM_SCIM_MCP_TOKEN" not in err, err
