"""The CLI under drawn arguments, environments and --input documents: it never prints a
traceback, never falls into its 'unexpected error' net, and exits only with codes it
documents. Everything runs in-process against one loopback sandbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loom_scim_connector.cli import EPILOG, run
from loom_scim_connector.sandbox import Sandbox

DOCUMENTED = {
    int(line.split()[0])
    for line in EPILOG.split("exit codes:")[1].splitlines()
    if line[:3].strip().isdigit()
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "email", "firstName", "role", "memberIds", "displayName", "reactivate", "fistName"]
INPUTS = st.one_of(
    JSON.map(json.dumps),
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4).map(json.dumps),
    st.text(max_size=40),
    st.sampled_from(["", "-", "@/nonexistent.json", "[" * 3000 + "]" * 3000, '{"id": "\\u0000"}']),
)
ACTIONS = st.sampled_from(
    [
        "get-user",
        "find-user",
        "create-user",
        "update-user",
        "set-user-role",
        "create-group",
        "add-group-members",
        "nope",
    ]
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed_users=6, seed=3) as running:
        yield running


def argv_strategy() -> st.SearchStrategy[list[str]]:
    check = st.tuples(st.just("check"), st.sampled_from([[], ["--json"], ["--warn-days", "x"]]))
    sync = st.tuples(
        st.just("sync"),
        st.lists(
            st.sampled_from(
                [
                    "users",
                    "groups",
                    "people",
                    "--page-size",
                    "0",
                    "3",
                    "abc",
                    "--release-held",
                    "1",
                    "--store",
                    "s.db",
                    "--wait",
                    "--wait-timeout",
                ]
            ),
            max_size=5,
        ),
    )
    action = st.tuples(
        st.just("action"),
        st.tuples(ACTIONS, INPUTS).map(lambda pair: [pair[0], "--input", pair[1]]),
    )
    nothing: list[str] = []
    other = st.tuples(
        st.sampled_from(["actions", "manifest", "--version", "frobnicate", "--help"]),
        st.just(nothing),
    )
    return st.one_of(check, sync, action, other).map(lambda t: [t[0], *t[1]])


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    argv=argv_strategy(),
    debug=st.booleans(),
    url=st.sampled_from(["sandbox", "root", "http://127.0.0.1:1/scim/v2", "nonsense", ""]),
    key=st.sampled_from(["token", "wrong-key", "", "clé"]),
)
def test_the_cli_never_crashes(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    debug: bool,
    url: str,
    key: str,
) -> None:
    values = {"sandbox": sandbox.url, "root": sandbox.root}
    environ: dict[str, Any] = {
        "LOOM_SCIM_BRIDGE_URL": values.get(url, url),
        "LOOM_SCIM_API_KEY": sandbox.token if key == "token" else key,
    }
    sandbox.settings.retry_after_seconds = 0
    with monkeypatch.context() as patch:
        patch.chdir(tmp_path)
        for name, value in environ.items():
            patch.setenv(name, value)
        patch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
        out, err = io.StringIO(), io.StringIO()
        code = run([*(["--debug"] if debug else []), *argv], out=out, err=err, stdin=io.StringIO())
    text = err.getvalue()
    assert code in DOCUMENTED, (argv, code, text)
    assert "unexpected" not in text, (argv, text)
    if not debug:
        assert "Traceback" not in text, (argv, text)
    assert sandbox.token not in out.getvalue() + text, argv
