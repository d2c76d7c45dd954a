"""The CLI: JSON on stdout, one-line errors on stderr, documented exit codes, no secrets."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import (
    EXIT_AUTH,
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    run,
)
from loom_scim_connector.sandbox import Sandbox

from .conftest import errors_of


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*argv: str, stdin: str = "") -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(stdin))
    return Result(code, out.getvalue(), errors_of(err.getvalue()))


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox


def test_help_documents_exit_codes() -> None:
    result = cli("--help")
    assert result.code == EXIT_OK
    for line in ("0  success", "2  bad input", "3  authentication", "4  not found"):
        assert line in result.out


def test_check(env: Sandbox) -> None:
    result = cli("check")
    assert result.code == EXIT_OK
    assert result.out.startswith(f"OK: {env.url}")
    assert "users: 12" in result.out
    as_json = cli("check", "--json").json()
    assert as_json["ok"] is True and as_json["users"] == 12


def test_check_with_a_rotated_key(env: Sandbox) -> None:
    env.rotate_token()
    result = cli("check")
    assert result.code == EXIT_AUTH
    assert "FAILED" in result.out and "Regenerate" in result.out


def test_sync_prints_records_and_a_summary(env: Sandbox) -> None:
    result = cli("sync", "users", "--page-size", "5", "--store", "s.sqlite3")
    assert result.code == EXIT_OK
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert len(lines) == 12
    assert all(line["_metadata"] == {"model": "User", "lastAction": "ADDED"} for line in lines)
    assert "users: success; 12 saved (12 added" in result.err
    assert "3 pages" in result.err and "0 retries" in result.err
    env.call("DELETE", f"/Users/{env.seeded['all'][0]}")
    again = cli("sync", "users", "--store", "s.sqlite3")
    deleted = [json.loads(x) for x in again.out.splitlines() if '"DELETED"' in x]
    assert [d["id"] for d in deleted] == [env.seeded["all"][0]]
    assert "1 deleted" in again.err


def test_sync_counts_retries(env: Sandbox) -> None:
    # Retry-After: 0 keeps the CLI's real retry policy from sleeping.
    env.settings.retry_after_seconds = 0
    env.settings.fail_next = [429, 503]
    result = cli("sync", "groups")
    assert result.code == EXIT_OK
    assert "2 retries" in result.err
    assert "retrying GET /Groups in 0.0 s after HTTP 429" in result.err


def test_action_from_json_file_and_stdin(env: Sandbox, tmp_path: Path) -> None:
    created = cli(
        "action", "create-user", "--input", '{"email": "cli@acme.example", "role": "viewer"}'
    )
    assert created.code == EXIT_OK, created.err
    assert created.json()["outcome"] == "created"
    user = created.json()["user"]
    assert user["email"] == "cli@acme.example" and user["role"] == "viewer"
    (tmp_path / "in.json").write_text(json.dumps({"id": user["id"], "role": "creator"}))
    assert cli("action", "set-user-role", "--input", "@in.json").json()["role"] == "creator"
    got = cli("action", "get-user", "--input", "-", stdin=json.dumps({"id": user["id"]}))
    assert got.json()["id"] == user["id"]


def test_bad_input_is_one_line_and_exit_2(env: Sandbox) -> None:
    before = env.app.requests_served
    result = cli("action", "create-user", "--input", '{"email": "nope"}')
    assert result.code == EXIT_BAD_INPUT
    assert result.err.count("\n") == 1 and "email: must be an email address" in result.err
    assert "Traceback" not in result.err
    assert env.app.requests_served == before
    assert cli("action", "create-user", "--input", "{not json").code == EXIT_BAD_INPUT
    assert cli("action", "create-user", "--input", "@missing.json").code == EXIT_BAD_INPUT
    assert cli("action", "fly", "--input", "{}").code == EXIT_BAD_INPUT
    assert cli("sync", "people").code == EXIT_BAD_INPUT


def test_not_found_is_exit_4(env: Sandbox) -> None:
    result = cli("action", "get-user", "--input", '{"id": "nope"}')
    assert result.code == EXIT_NOT_FOUND
    assert "HTTP 404" in result.err


def test_missing_configuration_names_the_variable(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOOM_SCIM_API_KEY")
    result = cli("check")
    assert result.code == EXIT_BAD_INPUT
    assert result.err.startswith("loom-scim: error: LOOM_SCIM_API_KEY: is not set")


def test_other_failures_are_exit_1_and_debug_shows_a_traceback(env: Sandbox) -> None:
    env.settings.retry_after_seconds = 0
    env.settings.fail_next = [503] * 5  # the server fails every retry
    result = cli("sync", "users")
    assert result.code == EXIT_FAILURE and "HTTP 503" in result.err
    assert "Traceback" not in result.err
    env.settings.fail_next = [503] * 5
    assert "Traceback" in cli("--debug", "sync", "users").err


def test_the_key_never_appears_in_any_output(env: Sandbox) -> None:
    outputs = [
        cli("--debug", "check"),
        cli("--debug", "sync", "users"),
        cli("--debug", "action", "get-user", "--input", '{"id": "nope"}'),
    ]
    env.rotate_token()  # now every call fails with 401
    outputs += [cli("--debug", "check", "--json"), cli("--debug", "sync", "groups")]
    for result in outputs:
        assert env.token not in result.out + result.err
    import os

    key = os.environ["LOOM_SCIM_API_KEY"]
    assert all(key not in r.out + r.err for r in outputs)


def test_manifest_command(env: Sandbox) -> None:
    result = cli("manifest")
    assert result.code == EXIT_OK
    assert result.json()["provider"]["name"] == "loom-scim"
    assert "stale" not in result.err


def test_counts_have_the_right_plural(env: Sandbox) -> None:
    env.settings.page_size_cap = None
    result = cli("sync", "users", "--page-size", "100", "--store", "one.sqlite3")
    assert result.code == EXIT_OK
    assert "1 page, 1 request, 0 retries" in result.err


def test_a_bare_host_works_for_every_command(env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", env.root)  # no /scim/v2
    assert cli("sync", "users", "--store", "bare.sqlite3").code == EXIT_OK
    found = cli("action", "get-user", "--input", json.dumps({"id": env.seeded["all"][0]}))
    assert found.code == EXIT_OK and found.json()["id"] == env.seeded["all"][0]


def test_a_wrong_url_is_named_as_the_thing_to_fix(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", env.root + "/not-scim")
    for argv in (
        ("sync", "users", "--store", "wrong.sqlite3"),
        ("action", "get-user", "--input", '{"id": "x"}'),
    ):
        result = cli(*argv)
        assert result.code == EXIT_BAD_INPUT and result.err.count("\n") == 1
        assert "LOOM_SCIM_BRIDGE_URL" in result.err and "check the id" not in result.err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("sync", "users", "--page-size", "abc"), "must be a whole number of at least 1"),
        (("sync", "users", "--page-size", "0"), "must be at least 1, not 0"),
        (("sync",), "required: name"),
        (("frobnicate",), "invalid choice"),
        (("sandbox", "--token-expires-at", "nope"), "must be a date such as 2027-03-31"),
    ],
)
def test_a_bad_command_line_is_one_line_in_plain_words(argv: tuple[str, ...], needle: str) -> None:
    result = cli(*argv)
    assert result.code == EXIT_BAD_INPUT and result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("loom-scim: error: ")
    assert needle in result.err and "--help" in result.err
    assert "_positive" not in result.err and "usage:" not in result.err


def test_an_unknown_input_field_gets_a_suggestion(env: Sandbox) -> None:
    result = cli("action", "create-user", "--input", '{"email": "a@acme.example", "fistName": "A"}')
    assert result.code == EXIT_BAD_INPUT
    assert "fistName: is not a known field: did you mean 'firstName'?" in result.err
    assert "Extra inputs" not in result.err


def test_actions_lists_every_action_with_a_line_each() -> None:
    from loom_scim_connector.manifest import load_manifest

    result = cli("actions")
    assert result.code == EXIT_OK
    for name in load_manifest().actions:
        assert any(line.startswith(name + " ") for line in result.out.splitlines())


def test_every_actions_help_shows_its_fields_and_an_example_that_validates() -> None:
    from loom_scim_connector.host import validate_input
    from loom_scim_connector.manifest import load_manifest

    for name, action in load_manifest().actions.items():
        result = cli("action", name, "--help")
        assert result.code == EXIT_OK, name
        assert "input fields:" in result.out and "required" in result.out
        example = result.out.split(f"loom-scim action {name} --input '")[-1].split("'\n")[0]
        validate_input(name, action.input_model, json.loads(example))


def test_an_action_without_input_says_how_to_see_its_fields() -> None:
    result = cli("action", "get-user")
    assert result.code == EXIT_BAD_INPUT
    assert "--input is required (see loom-scim action get-user --help)" in result.err


@pytest.mark.parametrize(
    ("days", "argv", "code", "status"),
    [
        (-691, (), 8, "expired"),
        (10, (), 9, "expiring"),
        (10, ("--warn-days", "5"), 0, "ok"),
        (400, (), 0, "ok"),
    ],
)
def test_check_alerts_on_key_expiry(
    env: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    days: int,
    argv: tuple[str, ...],
    code: int,
    status: str,
) -> None:
    from datetime import date, timedelta

    monkeypatch.setenv(
        "LOOM_SCIM_API_KEY_EXPIRES_AT", (date.today() + timedelta(days=days)).isoformat()
    )
    assert cli("check", *argv).code == code
    report = cli("check", "--json", *argv)
    assert report.code == code and report.json()["key_status"] == status


def test_a_dry_run_shows_the_write_and_sends_none(env: Sandbox) -> None:
    uid = env.seeded["all"][0]
    before = env.call("GET", f"/Users/{uid}")
    served = env.app.requests_served
    result = cli("action", "deactivate-user", "--dry-run", "--input", json.dumps({"id": uid}))
    assert result.code == EXIT_OK
    planned = result.json()
    assert planned["dryRun"] is True and planned["readsSent"] == []
    assert planned["wouldSend"]["method"] == "PATCH"
    assert planned["wouldSend"]["path"] == f"/Users/{uid}"
    assert planned["wouldSend"]["body"]["Operations"] == [
        {"op": "replace", "path": "active", "value": False}
    ]
    assert planned["wouldSend"]["headers"] == {"Authorization": "Bearer [REDACTED]"}
    assert env.token not in result.out + result.err
    assert env.app.requests_served == served  # nothing reached the server
    assert env.call("GET", f"/Users/{uid}")["active"] == before["active"]


def test_a_dry_run_create_shows_the_post_and_changes_nothing(env: Sandbox) -> None:
    result = cli(
        "action",
        "create-group",
        "--dry-run",
        "--input",
        '{"displayName": "Loom Creators", "memberIds": ["x"]}',
    )
    assert result.code == EXIT_OK
    planned = result.json()
    assert planned["wouldSend"]["method"] == "POST" and planned["wouldSend"]["path"] == "/Groups"
    groups = env.call("GET", "/Groups")["Resources"]
    assert all("x" not in [m["value"] for m in g.get("members", [])] for g in groups)


def test_sync_to_a_file_as_a_table(env: Sandbox, tmp_path: Path) -> None:
    result = cli("sync", "users", "--output", "users.txt", "--format", "table")
    assert result.code == EXIT_OK and result.out == ""
    rows = (tmp_path / "users.txt").read_text().splitlines()
    assert len(rows) == 12 and all(row.startswith("ADDED") for row in rows)
    assert any("domain capture" in row for row in rows)
    jsonl = cli("sync", "groups", "--output", "groups.jsonl")
    assert jsonl.code == EXIT_OK
    assert len((tmp_path / "groups.jsonl").read_text().splitlines()) == 3
    nowhere = cli("sync", "users", "--output", str(tmp_path / "no" / "x.txt"))
    assert nowhere.code == EXIT_BAD_INPUT and "cannot be written" in nowhere.err


@pytest.mark.parametrize(
    "command", ["check", "sync", "action", "sandbox", "manifest", "reconcile", "offboard", "review"]
)
def test_every_option_says_what_it_does(command: str) -> None:
    from loom_scim_connector.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for option in sub.choices[command]._actions:
        if option.option_strings and option.dest != "help":
            assert option.help, f"{command} {option.option_strings[0]} has no help"
            # A global option's copy on a command has no default of its own (SUPPRESS).
            if option.default not in (None, False, argparse.SUPPRESS):
                assert "default" in option.help, f"{command} {option.option_strings[0]}"


def test_sync_to_a_stream_that_cannot_write_utf8_escapes_non_ascii(env: Sandbox) -> None:
    """Records are saved as UTF-8; a stdout limited to ASCII gets valid JSON with \\u
    escapes instead of a UnicodeEncodeError after the store has committed."""
    cli("action", "create-user", "--input", '{"email": "zoe@acme.example", "firstName": "Zoë"}')
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii", newline="\n")
    code = run(["sync", "users", "--store", "s.sqlite3"], out=out, err=io.StringIO())
    out.flush()
    assert code == EXIT_OK
    lines = [json.loads(line) for line in raw.getvalue().decode("ascii").splitlines()]
    assert {r["firstName"] for r in lines if r["email"] == "zoe@acme.example"} == {"Zoë"}
