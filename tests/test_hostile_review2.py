"""A second hostile review of the fast sync path as merged (fastread, pages queued ahead,
the one-statement sighting, the CLI's start-up): the public CLI against raw stand-ins on
loopback, one test for each break found, named for what it proves."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK
from loom_scim_connector.store import SQLiteStore

from .test_speed_hostile import cli, deleted, listing, not_found, raw, serve


def _user(uid: str, n: int) -> dict[str, Any]:
    email = f"u{n}@acme.example"
    return {"id": uid, "userName": email, "emails": [{"value": email}], "active": True}


# -- the sighting of unchanged records in one statement ---------------------------------


def test_a_user_whose_id_holds_a_nul_is_quarantined_seen_and_never_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id holding a NUL: no store keeps it whole (PostgreSQL refuses it; SQLite's
    json_each, which moves unchanged rows' sighting, cut it at the NUL, so a listed user
    kept its old sighting and was deleted when the server's lookup of that id, a path
    with ``%00``, answered a SCIM 404). Such a record is quarantined: reported, counted
    as seen, never looked up as gone, never deleted; the others are saved."""
    users = [_user(f"odd\x00{n}" if n % 2 else str(n), n) for n in range(1, 7)]
    store = tmp_path / "s.sqlite3"
    argv = ["sync", "users", "--store", str(store)]
    lookups: list[str] = []

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users":
            return listing(users, query)
        lookups.append(path)
        found = [u for u in users if path == f"/Users/{u['id']}"]
        return raw(200, found[0]) if found else not_found()  # a NUL in a path finds no one

    with serve(answer) as url:
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
    assert deleted(store) == set()
    assert not [p for p in lookups if "%00" in p], "a listed user was looked up as gone"
    actions = {
        json.loads(line)["id"]: json.loads(line)["_metadata"]["lastAction"]
        for line in out.splitlines()
    }
    assert actions == {"2": "UNCHANGED", "4": "UNCHANGED", "6": "UNCHANGED"}
    assert "3 quarantined" in err and "NUL" in err


def test_the_sqlite_store_sees_an_unchanged_record_whose_id_holds_a_nul(
    tmp_path: Path,
) -> None:
    """The store itself (a row an older version saved, or any host's record): an
    unchanged record's sighting moves whatever its id holds, so it is no candidate."""
    store = SQLiteStore(tmp_path / "s.sqlite3", "conn")
    records = [{"id": "a\x00b", "email": "a@x"}, {"id": "c", "email": "c@x"}]
    for _ in range(2):
        run = store.begin_run("users", "User", lease=30.0)
        saved = store.save(run, records)
        assert store.candidates(run) == []
        store.finish_run(run, "success")
    assert [action for action, _ in saved] == ["UNCHANGED", "UNCHANGED"]
    store.close()


# -- Ctrl-C at any moment of the console script ---------------------------------------

ROOT = Path(__file__).resolve().parents[1]
# The console script pyproject.toml declares, run as pip's generated script runs it, with
# a Ctrl-C (KeyboardInterrupt) raised the first time the named module is imported.
CONSOLE = """
import importlib, sys, tomllib
target = tomllib.load(open(sys.argv[1], "rb"))["project"]["scripts"]["loom-scim"]
module, function = target.split(":")
where, fired = sys.argv[2], []

def ctrl_c(event, args):
    if event == "import" and args[0] == where and not fired:
        fired.append(True)
        raise KeyboardInterrupt

sys.addaudithook(ctrl_c)
sys.argv = ["loom-scim", *sys.argv[3:]]
sys.exit(getattr(importlib.import_module(module), function)())
"""


@pytest.mark.parametrize(
    "where",
    [
        "loom_scim_connector.store",  # while the console script imports the CLI
        "loom_scim_connector.fleet.cli",  # while the command line is being read
    ],
)
def test_ctrl_c_while_the_cli_starts_is_one_line_and_exit_130_not_a_traceback(
    tmp_path: Path, where: str
) -> None:
    """A Ctrl-C in the first few hundred milliseconds (the imports, reading the command
    line) printed Python's traceback of the import and died by the signal: the README
    promises one line and 130 without --debug. Nothing was sent then, nothing deleted."""
    env = {
        **os.environ,
        "LOOM_SCIM_BRIDGE_URL": "http://127.0.0.1:9/scim/v2",
        "LOOM_SCIM_API_KEY": "hostile-review-key-0123456789",
    }
    argv = ["sync", "users", "--store", str(tmp_path / "s.sqlite3")]
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", CONSOLE, str(ROOT / "pyproject.toml"), where, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr.startswith("loom-scim: interrupted"), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


# -- a store of this schema, opened with reads only --------------------------------------


@pytest.fixture
def read_only_file(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """``file`` seen read-only in a writable folder (where SQLite can make its WAL files):
    a read-only bind mount of the file itself, which root cannot write either."""
    mounted: list[Path] = []

    def mount(file: Path) -> Path:
        target = tmp_path / "read-only.sqlite3"
        target.touch()
        done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [shutil.which("mount") or "/bin/mount", "--bind", "-o", "ro", str(file), str(target)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip("no read-only file can be made here (mount refused)")
        mounted.append(target)
        with pytest.raises(OSError, match="Read-only file system"):
            target.open("ab").close()
        return target

    yield mount
    for target in mounted:
        subprocess.run([shutil.which("umount") or "/bin/umount", "-l", str(target)], check=True)  # noqa: S603


def test_a_current_store_that_cannot_be_written_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_only_file: Callable[[Path], Path]
) -> None:
    """A store of this schema is opened without writes now; a read-only one was no longer
    refused at open ("is read-only: the store must be writable", exit 2, as before) but at
    the first write, mid-sync: 'unexpected OperationalError: attempt to write a readonly
    database ... please report it', exit 1."""
    users = [_user(str(n), n) for n in range(1, 4)]
    store = tmp_path / "s.sqlite3"

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        assert cli(url, ["sync", "users", "--store", str(store)], monkeypatch)[0] == EXIT_OK
        frozen = read_only_file(store)
        code, out, err = cli(url, ["sync", "users", "--store", str(frozen)], monkeypatch)
    assert "unexpected" not in err, err
    assert code == EXIT_BAD_INPUT, err
    assert "is read-only: the store must be writable" in err
    assert out == ""


# -- what a server sends, printed for people ------------------------------------------

FORGED = "\nloom-scim: users: success; 999 saved (0 deleted)\x1b[2K\r"


def test_server_text_in_the_table_and_the_quarantine_note_cannot_forge_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records and ids went to the terminal as the server sent them: an email with a
    newline printed a forged ``DELETED   boss@...`` row in ``--format table``, and an
    unreadable record's id a forged ``loom-scim: users: success`` line in the quarantine
    note, with ESC sequences that erase what is really there. Each control character is
    shown as its escape instead: one row a record, one line a note."""
    users = [
        _user("1", 1),
        {**_user("2", 2), "emails": [{"value": "x@y\nDELETED   boss@acme.example\x1b[2K"}]},
        {"id": "evil" + FORGED, "userName": None},  # no email: quarantined
    ]
    argv = ["sync", "users", "--store", str(tmp_path / "s.sqlite3"), "--format", "table"]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        code, out, err = cli(url, argv, monkeypatch)
    assert code == EXIT_OK, err
    assert len(out.splitlines()) == 2, out
    assert not [line for line in out.splitlines() if line.startswith("DELETED")], out
    assert "\\nDELETED" in out  # shown, escaped, in its own row
    assert len(err.splitlines()) == 4, err  # workspace, pages, the note, the summary
    assert "\x1b" not in out + err and "\r" not in out + err
    assert "evil\\nloom-scim: users: success" in err


# -- reconcile --apply: an account read again that cannot be read ---------------------


def test_reconcile_apply_skips_an_orphan_it_cannot_read_again_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The orphan read again just before acting came back unreadable (``active`` of
    "maybe"): the roster re-check caught only pydantic's ValidationError, which the
    readers never raise, so the UnreadableRecord ended the whole apply as 'unexpected
    ... please report it', exit 1, leaving the next orphans as they were. That one is
    skipped, not changed, its evidence saying why; the next is offboarded."""

    def member(i: int, **more: Any) -> dict[str, Any]:
        return {**_user(str(i), i), "externalId": f"x{i}", **more}

    users = {str(i): member(i) for i in range(1, 11)}
    sent: list[str] = []

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users":
            return listing(list(users.values()), query)
        uid = path.removeprefix("/Users/")
        if method == "PATCH" and uid in users:
            sent.append(f"PATCH {uid}")
            users[uid] = {**users[uid], "active": False}
        if uid == "3":  # read again, it no longer reads
            return raw(200, {**users[uid], "active": "maybe"})
        return raw(200, users[uid]) if uid in users else not_found()

    roster = tmp_path / "roster.csv"
    kept = [i for i in range(1, 11) if i not in (3, 7)]
    roster.write_text("email,status\n" + "".join(f"u{i}@acme.example,ACTIVE\n" for i in kept))
    store = tmp_path / "s.sqlite3"
    argv = ["reconcile", "--roster", str(roster), "--apply", "--store", str(store)]
    with serve(answer) as url:
        code, out, err = cli(url, argv, monkeypatch)
    assert "unexpected" not in err, err
    assert code == EXIT_OK, err  # a change skipped, as for an account renamed meanwhile
    assert sent == ["PATCH 7"], (sent, err)
    assert users["7"]["active"] is False and users["3"]["active"] is True
    with sqlite3.connect(store) as db:
        outcomes = dict(db.execute("SELECT user_id, outcome FROM evidence").fetchall())
    assert outcomes.get("3") == "skipped", (outcomes, err, out)


def test_reconcile_tables_cannot_be_forged_by_an_address_the_server_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The findings table and the plan printed a Loom address as sent: a newline in it
    printed a forged finding row of its own."""
    users = [{**_user(str(i), i), "externalId": f"x{i}"} for i in range(1, 6)]
    users[2]["emails"] = [{"value": "u3@acme.example\n  ceo@acme.example   1   forged\x1b[2K"}]
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email,status\n" + "".join(f"u{i}@acme.example,ACTIVE\n" for i in (1, 2, 4, 5))
    )
    argv = ["reconcile", "--roster", str(roster), "--store", str(tmp_path / "s.sqlite3")]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        code, out, err = cli(url, argv, monkeypatch)
    assert "unexpected" not in err, err
    assert code == EXIT_OK, err
    assert not [
        line for line in out.splitlines() if "ceo@acme.example" in line and "u3@" not in line
    ], out
    assert "\x1b" not in out + err
    assert "u3@acme.example\\n  ceo@acme.example" in out
