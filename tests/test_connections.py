"""Named connections in a TOML file: keys from a command, the environment wins, and no
key is ever printed or written."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from loom_scim_connector import ConfigError
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK, run
from loom_scim_connector.connections import load, resolve
from loom_scim_connector.sandbox import Sandbox


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def printing(secret: str) -> str:
    """A key command (a TOML list), as a password manager's CLI would be: prints the key."""
    return json.dumps([sys.executable, "-c", f"print({secret!r})"])


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOOM_SCIM_BRIDGE_URL", "LOOM_SCIM_API_KEY", "LOOM_SCIM_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connections.toml"
    path.write_text(text)
    return path


def test_a_named_connection_runs_a_sync(
    sandbox: Sandbox, tmp_path: Path, no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path,
        f"""
default = "other"
[connections.sandbox]
url = "{sandbox.url}"
key_command = {printing(sandbox.token)}
key_expires_at = 2030-01-01
[connections.other]
url = "https://scim.example.com/scim/v2"
key_keyring = "loom-scim/other"
""",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("--config", str(config), "--connection", "sandbox", "sync", "users")
    assert code == EXIT_OK, err
    assert len(out.splitlines()) == 12
    code, out, err = cli("--config", str(config), "connections")
    assert code == EXIT_OK
    assert "sandbox: " + sandbox.url in out and "key from key_command" in out
    assert "other (default)" in out and "key expiry unknown" in out
    assert sandbox.token not in out + err


def test_the_environment_wins_over_the_files_default_not_over_a_name(
    sandbox: Sandbox, tmp_path: Path, no_env: None
) -> None:
    config = write(
        tmp_path,
        f'default = "x"\n[connections.x]\nurl = "https://a.example/scim"\n'
        f"key_command = {printing('file-key')}\n",
    )
    env = {"LOOM_SCIM_BRIDGE_URL": sandbox.url, "LOOM_SCIM_API_KEY": sandbox.token}
    assert resolve(None, config, env).base_url == sandbox.url
    from loom_scim_connector.connections import choose

    chosen = choose("x", config, env)
    assert chosen.connection.base_url == "https://a.example/scim"
    assert chosen.ignored == sandbox.url


def test_connection_names_a_workspace_over_the_environment_and_says_which(
    tmp_path: Path, no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOOM_SCIM_* left exported for workspace A; --connection B offboards in B, and
    stderr names B (name and URL, never a key) and says the environment was ignored."""
    with Sandbox(seed_users=4, seed=1) as a, Sandbox(seed_users=4, seed=1) as b:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", a.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", a.token)
        config = write(
            tmp_path, f'[connections.B]\nurl = "{b.url}"\nkey_command = {printing(b.token)}\n'
        )
        monkeypatch.chdir(tmp_path)
        users = b.call("GET", "/Users", query={"count": "100"})["Resources"]
        leaver = next(u for u in users if u.get("active") is True)
        served = a.app.requests_served
        code, out, err = cli(
            "--config", str(config), "--connection", "B", "offboard", leaver["userName"]
        )
        assert code == EXIT_OK, out + err
        assert b.call("GET", f"/Users/{leaver['id']}")["active"] is False
        assert a.app.requests_served == served  # not one request to A
        assert f"workspace 'B' ({b.url})" in err
        assert "LOOM_SCIM_BRIDGE_URL" in err and a.url in err and "ignored" in err
        assert a.token not in err and b.token not in err
        # Without --connection, the environment's workspace is the one, and is named.
        code, out, err = cli("check")
        assert code == EXIT_OK, err
        assert f"workspace from LOOM_SCIM_BRIDGE_URL ({a.url})" in err


@pytest.mark.parametrize(
    ("text", "name", "needle"),
    [
        ('[connections.x]\nurl = "https://a.example/scim"\nkey = "abc123"\n', "x", "never kept"),
        (
            '[connections.x]\nurl = "https://a.example/scim"\nkey_command = "false"\n',
            "x",
            "exited with 1",
        ),
        ('[connections.x]\nkey_command = "true"\n', "x", "url: is missing"),
        (
            '[connections.x]\nurl = "https://a.example/scim"\nkey_command = "true"\n',
            "y",
            "no connection 'y'",
        ),
        ("default = 3\n[connections]\n", None, "default"),
        ("this is = = not toml", None, "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_clear_error(
    tmp_path: Path, no_env: None, text: str, name: str | None, needle: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as failed:
        resolve(name, config, {})
    assert needle in str(failed.value)


def test_a_missing_file_named_on_the_command_line_is_an_error(tmp_path: Path, no_env: None) -> None:
    code, _, err = cli("--config", str(tmp_path / "nope.toml"), "check")
    assert code == EXIT_BAD_INPUT and "does not exist" in err


def test_without_a_file_the_variables_are_named(
    tmp_path: Path, no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, _, err = cli("check")
    assert code == EXIT_BAD_INPUT and "LOOM_SCIM_BRIDGE_URL: is not set" in err


def test_listing_never_runs_the_key_command(tmp_path: Path, no_env: None) -> None:
    marker = tmp_path / "ran"
    command = json.dumps([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    config = write(
        tmp_path, f'[connections.x]\nurl = "https://a.example/scim"\nkey_command = {command}\n'
    )
    assert load(config).entries["x"].key_source == "key_command"
    assert cli("--config", str(config), "connections")[0] == EXIT_OK
    assert not marker.exists()
