"""An operator's day with no surprises (issue 20): help that helps, options anywhere,
an --output file that never looks complete when it is not, an https:// URL on a plain
port named as such, an expired key never called OK."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_KEY_EXPIRED, EXIT_OK, run
from loom_scim_connector.manifest import load_manifest
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.sandbox.multi import MultiSandbox


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def env(sandbox_module: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox_module.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox_module.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox_module


# -- 1. `action --help` lists the actions -----------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_action_help_lists_every_action(flag: str) -> None:
    result = cli("action", flag)
    assert result.code == EXIT_OK, result.err
    assert result.err == ""
    listed = result.out.split("\nactions:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(load_manifest().actions)
    assert "usage: loom-scim action NAME --input JSON" in result.out


def test_a_bare_action_prints_the_list_and_exits_2() -> None:
    result = cli("action")
    assert result.code == EXIT_BAD_INPUT and result.out == ""
    assert all(f"  {name} " in result.err for name in load_manifest().actions)
    last = result.err.splitlines()[-1]
    assert last == "loom-scim: error: name the action to run, one of those listed above"
    assert "see loom-scim action --help" not in result.err


# -- 2. global options before or after the command ----------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("sync", "users", "-q", "--store", "s.sqlite3"),
        ("sync", "users", "--store", "s.sqlite3", "--quiet"),
        ("-q", "sync", "users", "--store", "s.sqlite3"),
    ],
)
def test_quiet_works_before_or_after_the_command(env: Sandbox, argv: tuple[str, ...]) -> None:
    result = cli(*argv)
    assert result.code == EXIT_OK, result.err
    assert result.err == ""  # no summary: only warnings and errors
    assert len(result.out.splitlines()) == 12


def test_debug_connection_and_config_work_after_the_command(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LOOM_SCIM_BRIDGE_URL")
    monkeypatch.delenv("LOOM_SCIM_API_KEY")
    missing = tmp_path / "missing.toml"
    result = cli("check", "--debug", "--connection", "acme", "--config", str(missing))
    assert result.code == EXIT_BAD_INPUT
    assert "unrecognized" not in result.err and str(missing) in result.err
    assert "Traceback" in result.err  # --debug took effect after the command's name


def test_an_option_given_before_the_command_is_kept(env: Sandbox) -> None:
    """The command's copy of a global option must not reset one given before it."""
    from loom_scim_connector.cli import build_parser

    args = build_parser().parse_args(["--debug", "-q", "--connection", "a", "sync", "users"])
    assert (args.debug, args.quiet, args.connection) == (True, True, "a")
    args = build_parser().parse_args(["sync", "users"])
    assert (args.debug, args.quiet, args.connection, args.config) == (False, False, None, None)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ("sync", "users", "--pagesize", "3"),
            "unknown option --pagesize: did you mean --page-size? (see loom-scim sync --help)",
        ),
        (
            ("action", "get-user", "--dryrun"),
            "unknown option --dryrun: did you mean --dry-run? (see loom-scim action --help)",
        ),
        (
            ("offboard", "a@acme.example", "--dryrun=yes"),
            "unknown option --dryrun: did you mean --dry-run? (see loom-scim offboard --help)",
        ),
        (
            ("sync", "users", "surplus"),
            "unrecognized arguments: surplus (see loom-scim sync --help)",
        ),
    ],
)
def test_a_misspelt_option_gets_the_close_one(argv: tuple[str, ...], line: str) -> None:
    result = cli(*argv)
    assert result.code == EXIT_BAD_INPUT and result.out == ""
    assert result.err == f"loom-scim: error: {line}\n"


# -- 4. https:// on a port that speaks plain HTTP -----------------------------------------


class _PlainHttp(BaseHTTPRequestHandler):
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plain_http() -> Iterator[int]:
    _PlainHttp.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHttp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("argv", [("check",), ("sync", "users", "--store", "s.sqlite3")])
def test_https_to_a_plain_http_port_fails_at_once_naming_tls(
    plain_http: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", f"https://127.0.0.1:{plain_http}/scim/v2")
    monkeypatch.setenv("LOOM_SCIM_API_KEY", "a-key-0123456789")
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    result = cli(*argv)
    assert time.monotonic() - started < 3
    assert _PlainHttp.connections == 1  # not retried
    assert result.code == EXIT_BAD_INPUT
    text = result.out + result.err
    assert f"127.0.0.1:{plain_http} does not speak TLS" in text
    assert f"http://127.0.0.1:{plain_http}" in text
    assert "network" not in text and "attempts" not in text


# -- 7. check with an expired key ------------------------------------------------------


def test_check_with_an_expired_key_says_expired_not_ok(
    env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = (date.today() - timedelta(days=3)).isoformat()
    monkeypatch.setenv("LOOM_SCIM_API_KEY_EXPIRES_AT", expired)
    result = cli("check")
    assert result.code == EXIT_KEY_EXPIRED
    assert result.out.startswith(f"EXPIRED: {env.url}\n"), result.out
    assert "OK" not in result.out
    assert "key expires in: -3 days" not in result.out
    assert "key expired: 3 days ago" in result.out
    report = cli("check", "--json")
    assert report.code == EXIT_KEY_EXPIRED
    data = json.loads(report.out)
    assert data["ok"] is False and data["key_status"] == "expired"


# -- 3. an interrupted sync never leaves an --output file that looks complete -------------


PAGED_ONE_BY_ONE = ("--page-size", "100", "--page-concurrency", "1")


def test_ctrl_c_during_sync_output_leaves_only_a_partial_file(tmp_path: Path) -> None:
    """5,000 users, 100 a page, one page at a time, 0.1 s each: the store takes them in
    1,000 at a time, so records reach the file long before the sync could end."""
    with MultiSandbox(workspaces=1, users=5000, latency=0.1) as sandbox:
        target = tmp_path / "users.jsonl"
        partial = tmp_path / "users.jsonl.partial"
        env = {**os.environ, "LOOM_SCIM_BRIDGE_URL": sandbox.url(0)}
        env["LOOM_SCIM_API_KEY"] = sandbox.token(0)
        argv = ["sync", "users", "--output", str(target), "--store", str(tmp_path / "s.db")]
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "loom_scim_connector", *argv, *PAGED_ONE_BY_ONE],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not any(f.exists() and f.stat().st_size for f in (target, partial)):
            assert process.poll() is None and time.monotonic() < deadline, "no records written"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert not target.exists()
    lines = partial.read_text().splitlines()
    assert 0 < len(lines) < 5000
    assert all(json.loads(line)["_metadata"]["model"] == "User" for line in lines)
    assert f"the records written so far are in {partial}; {target} was not written" in err


def test_a_finished_sync_renames_its_output_and_leaves_no_partial(
    env: Sandbox, tmp_path: Path
) -> None:
    result = cli("sync", "users", "--output", "users.jsonl", "--store", "s.sqlite3")
    assert result.code == EXIT_OK, result.err
    assert len((tmp_path / "users.jsonl").read_text().splitlines()) == 12
    assert sorted(p.name for p in tmp_path.iterdir() if "users" in p.name) == ["users.jsonl"]


# -- 15. the sandbox's latency slows requests, not its seeding ----------------------------


def test_sandbox_latency_applies_to_requests_not_to_seeding() -> None:
    import httpx

    from loom_scim_connector.sandbox import SandboxSettings

    started = time.monotonic()
    with Sandbox(seed_users=100, settings=SandboxSettings(latency=0.2)) as sandbox:
        assert time.monotonic() - started < 5  # 100 users x 0.2 s would be 20 s
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        asked = time.monotonic()
        answer = httpx.get(f"{sandbox.url}/Users", params={"count": 1}, headers=headers)
        assert answer.status_code == 200
        assert time.monotonic() - asked >= 0.2


# -- 12. offboarding a list shows its progress as it goes ---------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_offboard_of_a_list_draws_a_live_line_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Sandbox(seed_users=3, seed=5) as sandbox:
        sandbox.settings.latency = 0.1  # 3 requests a person: each takes over 0.2 s
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        emails = [sandbox.call("GET", f"/Users/{uid}")["userName"] for uid in sandbox.seeded["all"]]
        out, err = io.StringIO(), _Terminal()
        code = run(["offboard", *emails, "--store", "s.sqlite3"], out=out, err=err)
    assert code == EXIT_OK, err.getvalue()
    shown = err.getvalue()
    assert "\r\x1b[K1 person done, " in shown
    assert "\r\x1b[K2 people done, " in shown
    # The live line is cleared before the summary, which starts on a clean line.
    assert shown.endswith("\r\x1b[Kloom-scim: 3 deactivated; evidence recorded in s.sqlite3\n")
    assert out.getvalue().count("deactivated") == 3
