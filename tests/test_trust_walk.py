"""Trust from outside, the walk and the paths (issue 18, cases 8 and 5), through the real
CLI against a loopback stand-in (tests/walk_standin.py).

Case 8: a server that ignores ``startIndex`` answers page 1 to every request while its
``totalResults`` is true. A sync must then try what can still read everything (one page
of ``count=totalResults``, ``count`` omitted, smaller pages) and otherwise end
incomplete: its own exit code, nothing deleted, what it read saved and reported.

Case 5: ids are opaque data. ``.`` and ``..`` must not become dot segments (which the
client would resolve to the collection or the base URL), nor may ``/``, ``?``, ``#`` or
``%`` change the path: each id is one percent-encoded segment, on the wire.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import LoomConnection, LoomScimClient, LoomScimError
from loom_scim_connector.cli import EXIT_INCOMPLETE, EXIT_OK, run
from loom_scim_connector.store import SQLiteStore

from .walk_standin import ERROR_SCHEMA, TOKEN, StandIn

USERS = [f"u{i:04d}" for i in range(1, 251)]


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def actions(self) -> dict[str, str]:
        """id -> lastAction of every record printed on stdout."""
        rows = [json.loads(line) for line in self.out.splitlines()]
        return {str(r["id"]): r["_metadata"]["lastAction"] for r in rows}


def cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StandIn]:
    with StandIn(ids=list(USERS)) as server:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", TOKEN)
        monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
        monkeypatch.chdir(tmp_path)
        yield server


def sync(*extra: str) -> Result:
    return cli("sync", "users", "--store", "s.sqlite3", "--page-size", "100", *extra)


def stored(url: str) -> tuple[set[str], set[str]]:
    """(live ids, deleted ids) in the store."""
    store = SQLiteStore("s.sqlite3", url)
    try:
        rows = store.records("User", include_deleted=True)
    finally:
        store.close()
    live = {str(r["id"]) for r in rows if "_deletedAt" not in r}
    return live, {str(r["id"]) for r in rows if "_deletedAt" in r}


# -- case 8: complete or not success ------------------------------------------------------

CONCURRENCY = pytest.mark.parametrize("concurrency", ["1", "8"], ids=["sequential", "planned"])


@CONCURRENCY
@pytest.mark.parametrize(
    ("max_count", "omitted_gives_all"),
    [(None, False), (100, True)],
    ids=["honours a large count", "count omitted returns everything"],
)
def test_a_server_that_ignores_start_index_is_read_another_way(
    standin: StandIn, concurrency: str, max_count: int | None, omitted_gives_all: bool
) -> None:
    standin.ignore_start = True
    standin.max_count, standin.omitted_count_gives_all = max_count, omitted_gives_all
    result = sync("--page-concurrency", concurrency)
    assert result.code == EXIT_OK, result.err
    assert set(result.actions()) == set(USERS)
    assert stored(standin.url) == (set(USERS), set())


@CONCURRENCY
def test_a_server_that_cannot_be_read_whole_ends_incomplete(
    standin: StandIn, concurrency: str
) -> None:
    standin.ignore_start, standin.max_count = True, 100  # page 1, whatever is asked
    result = sync("--page-concurrency", concurrency)
    assert result.code == EXIT_INCOMPLETE, result.err
    first = set(USERS[:100])
    assert result.actions() == dict.fromkeys(first, "ADDED")  # what it read: saved, reported
    assert stored(standin.url) == (first, set())
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("loom-scim: error:")
    assert "read 100 of the 250 Users" in line and "count=250" in line and "count omitted" in line
    assert "nothing was deleted" in line
    counts = [t for t in standin.targets if "count=" in t]
    assert any("count=250" in t for t in counts)  # one page of count=totalResults was tried
    assert any("count" not in t and "/Users?" in t for t in standin.targets)  # and no count


def test_an_incomplete_walk_deletes_nothing(standin: StandIn) -> None:
    assert sync().code == EXIT_OK
    leaver = USERS[-1]
    standin.ids.remove(leaver)  # really gone: still, the run must not delete it
    standin.ignore_start, standin.max_count = True, 100
    result = sync()
    assert result.code == EXIT_INCOMPLETE, result.err
    assert "DELETED" not in result.actions().values()
    assert stored(standin.url) == (set(USERS), set())
    standin.ignore_start, standin.max_count = False, None  # the server is fixed
    after = sync()
    assert after.code == EXIT_OK, after.err
    changed = {k: v for k, v in after.actions().items() if v != "UNCHANGED"}
    assert changed == {leaver: "DELETED"}


# -- case 5: ids are opaque data ----------------------------------------------------------

ODD = {
    ".": "%2E",
    "..": "%2E%2E",
    "a/b": "a%2Fb",
    "a?b": "a%3Fb",
    "%2F": "%252F",
    "a#b": "a%23b",
}


def test_odd_ids_are_looked_up_as_one_encoded_segment_and_kept(standin: StandIn) -> None:
    standin.ids = [*ODD, *USERS[:30]]
    assert sync().code == EXIT_OK
    assert stored(standin.url)[0] == set(standin.ids)
    standin.listed = USERS[:30]  # the listing drops them; each lookup still finds them
    standin.targets.clear()
    result = sync()
    assert result.code == EXIT_OK, result.err
    assert "DELETED" not in result.actions().values()
    assert stored(standin.url) == (set(standin.ids), set())
    looked_up = set(standin.lookups())
    for encoded in ODD.values():
        assert f"/scim/v2/Users/{encoded}" in looked_up, sorted(looked_up)
    assert "/scim/v2" not in looked_up and "/scim/v2/" not in looked_up


@pytest.mark.parametrize("uid", list(ODD))
def test_get_user_sends_the_id_as_one_segment(standin: StandIn, uid: str) -> None:
    standin.ids = [uid]
    result = cli("action", "get-user", "--input", json.dumps({"id": uid}))
    assert result.code == EXIT_OK, result.err
    assert json.loads(result.out)["id"] == uid
    assert standin.lookups() == [f"/scim/v2/Users/{ODD[uid]}"]


@pytest.mark.parametrize(("uid", "encoded"), [*ODD.items(), ("...", "%2E%2E%2E"), ("a.b", "a.b")])
def test_path_of_is_the_one_place_an_id_becomes_a_segment(uid: str, encoded: str) -> None:
    assert LoomScimClient.path_of("Users", uid) == f"/Users/{encoded}"
    assert LoomScimClient.path_of("Groups", uid) == f"/Groups/{encoded}"


async def test_the_encoded_segment_is_what_goes_on_the_wire(connection: LoomConnection) -> None:
    """httpx keeps %2E%2E as sent (it removes only literal dot segments)."""
    paths: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path)
        return httpx.Response(404, json={"schemas": [ERROR_SCHEMA], "status": "404"})

    async with LoomScimClient(connection, transport=httpx.MockTransport(answer)) as client:
        for uid in ODD:
            assert await client.get_or_none("Users", uid) is None
    assert paths == [f"/scim/v2/Users/{e}".encode() for e in ODD.values()]


async def test_an_empty_id_is_refused_before_any_request(connection: LoomConnection) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be sent: {request.url}")

    async with LoomScimClient(connection, transport=httpx.MockTransport(answer)) as client:
        for call in (
            client.get_or_none("Users", ""),
            client.delete("Groups", ""),
            client.patch("Users", "", []),
        ):
            with pytest.raises(LoomScimError, match="empty"):
                await call
