"""The CLI on a PostgreSQL store: the same syncs, deletions and held runs as on SQLite,
and a database password never printed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from loom_scim_connector.cli import EXIT_HELD, EXIT_OK, run
from loom_scim_connector.sandbox import Sandbox

from .pg_server import postgres_url, require_psycopg

require_psycopg()


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def url_with_password() -> str:
    """The test server's URL with a password added (trust auth ignores it)."""
    parts = urlsplit(postgres_url())
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:pg-Secret-9@{host}"))


def test_sync_delete_and_hold_on_postgres(
    url_with_password: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Sandbox(seed_users=40, seed=21) as sandbox:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        store = ["--store", url_with_password, "--page-size", "10"]
        code, out, err = cli("sync", "users", *store)
        assert code == EXIT_OK, err
        assert len(out.splitlines()) == 40
        gone = sandbox.seeded["all"][0]
        sandbox.call("DELETE", f"/Users/{gone}")
        code, out, err = cli("sync", "users", *store)
        deleted = [json.loads(line)["id"] for line in out.splitlines() if '"DELETED"' in line]
        assert (code, deleted) == (EXIT_OK, [gone])
        for uid in sandbox.seeded["all"][1:30]:
            sandbox.call("DELETE", f"/Users/{uid}")
        code, out, err = cli("sync", "users", *store)
        assert code == EXIT_HELD and '"DELETED"' not in out
        assert "--release-held" in err and "pg-Secret-9" not in err
        assert not list(tmp_path.iterdir()), "no SQLite file was made"
