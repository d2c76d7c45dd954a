"""Ctrl-C during ``offboard --file``: what was done is printed, every account changed has
evidence (an outcome, or the intent recorded before its change), the next run resolves
each unknown outcome crediting who sent the change, and the chain still verifies."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_OK, run
from loom_scim_connector.sandbox import Sandbox, SandboxSettings
from loom_scim_connector.store import SQLiteStore


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _rows(path: Path) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT evidence_id, outcome, intent_id FROM evidence").fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        return []


def _in_flight(rows: list[tuple[Any, ...]]) -> bool:
    """At least two people done, and a change sent whose answer has not come yet."""
    settled = {row[2] for row in rows if row[2] is not None}
    done = sum(1 for row in rows if row[1] == "deactivated")
    return done >= 2 and any(row[1] == "unknown" and row[0] not in settled for row in rows)


def test_ctrl_c_during_offboard_file_keeps_the_proof_and_the_next_run_resolves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(seed_users=60, settings=SandboxSettings(latency=0.2)) as sandbox:
        people = [
            u
            for u in sandbox.call("GET", "/Users", query={"count": "100"})["Resources"]
            if u.get("active") is True
        ][:20]
        leavers = tmp_path / "leavers.txt"
        leavers.write_text("".join(f"{u['userName']}\n" for u in people))
        store = tmp_path / "s.sqlite3"
        env = {**os.environ, "LOOM_SCIM_BRIDGE_URL": sandbox.url}
        env["LOOM_SCIM_API_KEY"] = sandbox.token
        env.pop("LOOM_SCIM_API_KEY_EXPIRES_AT", None)
        argv = ["offboard", "--file", str(leavers), "--store", str(store), "--actor", "ann"]
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "loom_scim_connector", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _in_flight(_rows(store)):
            assert process.poll() is None and time.monotonic() < deadline, "never in flight"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        # The PATCH in flight still lands on the server (its latency comes first).
        deadline = time.monotonic() + 5
        by_id = {u["id"]: u for u in people}
        while True:
            shown = sandbox.call("GET", "/Users", query={"count": "100"})["Resources"]
            inactive = {u["id"] for u in shown if u["id"] in by_id and u["active"] is False}
            kept = SQLiteStore(store, sandbox.url)
            evidence = kept.evidence()
            kept.close()
            settled = {e.intent_id for e in evidence if e.intent_id is not None}
            pending = [
                e for e in evidence if e.outcome == "unknown" and e.evidence_id not in settled
            ]
            if all(e.user_id in inactive for e in pending) or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        # Every account the server shows deactivated has evidence: an outcome, or an intent.
        outcomes = {e.user_id: e for e in evidence if e.outcome != "unknown"}
        assert inactive and inactive <= {e.user_id for e in evidence}
        assert 0 < len(inactive) < len(people)
        assert pending and all(e.actor == "ann" for e in pending)
        # What was done is printed: each settled account's line, and each one pending.
        lines = [line.split()[:3] for line in out.splitlines()]
        for item in outcomes.values():
            assert [item.email, item.outcome, item.user_id] in lines
        for item in pending:
            assert [item.email, "!unknown", item.user_id] in lines
        assert "interrupted: " in err and "nothing was deleted" not in err
        assert f"{len(pending)} change(s) sent with no outcome known yet" in err

        # The next run resolves the unknown outcome, credited to who sent the change.
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
        code, _, said = cli(
            "offboard", "--file", str(leavers), "--store", str(store), "--actor", "bob"
        )
        assert code == EXIT_OK, said
        kept = SQLiteStore(store, sandbox.url)
        after = kept.evidence()
        kept.close()
        for intent in pending:
            [resolved] = [e for e in after if e.intent_id == intent.evidence_id]
            # Deactivated when the PATCH reached the server before the interruption; else
            # (cancelled before it was sent) not applied: what the account shows, either way.
            landed = "deactivated" if intent.user_id in inactive else "not_applied"
            assert (resolved.outcome, resolved.actor, resolved.at) == (landed, "ann", intent.at)
            assert "read back by bob" in (resolved.detail or "")
            assert f"evidence {intent.evidence_id} resolved" in said
        assert all(u["active"] is False for u in sandbox.call(
            "GET", "/Users", query={"count": "100"})["Resources"] if u["id"] in by_id)  # fmt: skip

    code, verified, said = cli("evidence", "verify", "--store", str(store))
    assert code == EXIT_OK, said
    assert "the evidence chain is whole" in verified
