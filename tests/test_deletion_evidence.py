"""Deletion needs positive evidence of a healthy server, every time (issue 18, cases 1-3, 6).

Each test drives the real CLI (in-process) against a simulated SCIM server on 127.0.0.1
(:mod:`tests.loopback`): a first sync fills the store, then the server misbehaves.

* A walk that listed none of the records live before it never deletes: it is held.
* A 404 deletes only when control lookups (records the server is known to hold) found
  their records before and after it; one control 404 fails the run.
* ``--release-held`` uses the same controls; with none left it refuses unless told
  ``--without-controls``.
* Only a SCIM error body confirms a 404; a gateway's JSON does not.
* Every change either walk of a guarded run saves is reported once.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_HELD, EXIT_OK, run
from loom_scim_connector.store import SQLiteStore

from .conftest import SECRET, errors_of
from .loopback import Loopback
from .simserver import Behaviour, SimServer, sim_host


class Cli:
    """``loom-scim`` in-process against ``sim`` on loopback, with one store file."""

    def __init__(self, sim: SimServer, store: Path, base_url: str) -> None:
        self.sim, self.store, self.url = sim, store, base_url

    def __call__(self, *argv: str) -> tuple[int, list[dict[str, Any]], str]:
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, "--store", str(self.store), "--page-size", "100"]
        code = run(args, out=out, err=err, stdin=io.StringIO(""))
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        return code, rows, err.getvalue()

    def live(self) -> set[str]:
        store = SQLiteStore(self.store, self.url)
        try:
            return {str(r["id"]) for r in store.records("User")}
        finally:
            store.close()

    def held_run(self) -> int:
        store = SQLiteStore(self.store, self.url)
        try:
            return next(r.run_id for r in store.runs() if r.status == "held")
        finally:
            store.close()


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Cli]:
    sim = SimServer.with_users(request.param if hasattr(request, "param") else 20)
    with Loopback(sim) as server:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", SECRET)
        monkeypatch.chdir(tmp_path)
        tool = Cli(sim, tmp_path / "s.sqlite3", server.url)
        code, rows, err = tool("sync", "users")
        assert (code, len(rows)) == (EXIT_OK, len(sim.users)), err
        sim.start_run()
        yield tool


def actions(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["_metadata"]["lastAction"] for r in rows)


# -- case 1: an empty listing (or one without any of the known records) ------------------


@pytest.mark.parametrize("listing", ["empty", "another workspace's"])
def test_a_listing_without_any_known_record_deletes_nothing(cli: Cli, listing: str) -> None:
    """Reproduction: 20 users; the list answers 200 with no resources (a failover to an
    empty replica) and every lookup a SCIM 404. Today the second sync deletes all 20:
    the guard trips only above 25, and with nothing listed there is no control."""
    known = set(cli.sim.users)
    if listing == "empty":
        cli.sim.behaviour = Behaviour(empty_listing=True, lookups_404=True)
    else:  # other users listed, ours answer 404
        for uid in known:
            cli.sim.delete(uid)
        for _ in range(5):
            cli.sim.insert()
    code, rows, err = cli("sync", "users")

    assert actions(rows)["DELETED"] == 0, err
    assert code == EXIT_HELD, err
    assert "none of the 20 User records live before this run was listed" in err
    assert known <= cli.live()


# -- case 2: 404s that start mid-confirmation; a gateway's JSON 404 ----------------------


@pytest.mark.parametrize("cli", [100, 600], indirect=True)
def test_404s_that_start_mid_confirmation_delete_nothing(cli: Cli) -> None:
    """Reproduction: the listing leaves out 20 live users (a lagging replica); after 3
    lookups every lookup answers a SCIM 404 (the key revoked, a route flipped). Today
    the one control runs before the candidates, is found, and the 404s that follow
    delete every candidate after it. With 600 users and 60 left out, the 404s start
    inside the first batch and a control between batches sees them."""
    hidden = sorted(cli.sim.users)[:: 5 if len(cli.sim.users) == 100 else 10]
    cli.sim.hidden.update(hidden)
    cli.sim.behaviour = Behaviour(lookups_404_after=3)
    code, rows, err = cli("sync", "users")

    assert actions(rows)["DELETED"] == 0
    assert code == EXIT_FAILURE
    last = err.splitlines()[-1]
    assert last.startswith("loom-scim: error: ") and "Traceback" not in err
    assert "control" in last and "nothing was deleted" in last
    assert set(hidden) <= cli.live()


def test_a_gateways_json_404_confirms_nothing(cli: Cli) -> None:
    """Reproduction: a gateway answers the lookups of 5 users the listing left out with
    its own ``{"message": "Not Found"}``. Any JSON object counted as a SCIM error, so
    all 5 were deleted; only a body with the SCIM Error schema confirms."""
    hidden = sorted(cli.sim.users)[:5]
    cli.sim.hidden.update(hidden)
    cli.sim.gateway_ids.update(hidden)
    cli.sim.behaviour = Behaviour(gateway_404="json")
    code, rows, err = cli("sync", "users")

    assert actions(rows)["DELETED"] == 0
    assert code == EXIT_FAILURE
    last = err.splitlines()[-1]
    assert last.startswith("loom-scim: error: ") and "not a SCIM error" in last
    assert set(hidden) <= cli.live()


# -- case 3: --release-held uses the same controls ---------------------------------------


@pytest.mark.parametrize("cli", [40], indirect=True)
def test_releasing_a_run_that_held_everyone_needs_without_controls(cli: Cli) -> None:
    """Reproduction: 40 users, an empty listing and SCIM 404s: held (40 > 25). The held
    message says to release it; releasing confirmed with no control at all and deleted
    all 40 live users. Now no record is left to control with: refused in one line."""
    known = set(cli.sim.users)
    cli.sim.behaviour = Behaviour(empty_listing=True, lookups_404=True)
    code, _, err = cli("sync", "users")
    assert code == EXIT_HELD, err
    held = cli.held_run()

    code, rows, err = cli("sync", "users", "--release-held", str(held))
    assert actions(rows)["DELETED"] == 0
    assert code == EXIT_BAD_INPUT
    assert errors_of(err).count("\n") == 1 and "--without-controls" in err
    assert "no live record outside the held run" in err
    assert known == cli.live()

    # Told explicitly, on a server that really is empty now: deleted on its word.
    for uid in known:
        cli.sim.delete(uid)
    cli.sim.behaviour = Behaviour()
    code, rows, err = cli("sync", "users", "--release-held", str(held), "--without-controls")
    assert code == EXIT_OK, err
    assert actions(rows)["DELETED"] == 40
    assert cli.live() == set()


@pytest.mark.parametrize("cli", [60], indirect=True)
def test_a_release_fails_when_its_controls_answer_404(cli: Cli) -> None:
    """A run held 30 of 60 users the listing left out; at release, every lookup answers
    a SCIM 404 (a revoked key behind a gateway that says 404). Releasing used to delete
    all 30; the 30 records outside the held run are controls, and they answer 404."""
    hidden = set(sorted(cli.sim.users)[:30])
    cli.sim.hidden.update(hidden)
    code, _, err = cli("sync", "users")
    assert code == EXIT_HELD, err
    cli.sim.behaviour = Behaviour(lookups_404=True)

    code, rows, err = cli("sync", "users", "--release-held", str(cli.held_run()))
    assert actions(rows)["DELETED"] == 0
    assert code == EXIT_FAILURE and errors_of(err).count("\n") == 1
    assert "nothing was deleted" in err
    assert hidden <= cli.live()


# -- case 6: the guard's second walk reports every change it saves -----------------------


@pytest.mark.parametrize("cli", [60], indirect=True)
@pytest.mark.parametrize("second_walk", ["sees everyone", "still misses them"])
def test_changes_saved_by_the_second_walk_are_reported(cli: Cli, second_walk: str) -> None:
    """Reproduction: 40 of 60 users left out of the first walk (the guard walks again);
    before the second walk one listed user is renamed and one is hired. The second walk
    reported only the candidates: the rename and the hire were saved silently, and every
    later sync called them UNCHANGED. Both when the run confirms and when it is held."""
    users = sorted(cli.sim.users)
    hidden, renamed = set(users[:40]), users[50]
    cli.sim.hidden.update(hidden)
    hired: list[str] = []

    def between_walks(sim: SimServer) -> None:
        sim.users[renamed]["userName"] = "renamed.person@acme.example"
        hired.append(sim.insert())
        if second_walk == "sees everyone":
            sim.hidden.clear()

    cli.sim.at_page(2, between_walks)
    code, rows, err = cli("sync", "users")

    assert code == (EXIT_OK if second_walk == "sees everyone" else EXIT_HELD), err
    assert actions(rows)["DELETED"] == 0
    by_id: dict[str, list[str]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row["_metadata"]["lastAction"])
    assert by_id[renamed] == ["UNCHANGED", "UPDATED"]
    assert by_id[hired[0]] == ["ADDED"]
    assert all(len(seen) == 1 for rid, seen in by_id.items() if rid != renamed), by_id
    expected = set(users) if second_walk == "sees everyone" else set(users) - hidden
    assert expected | set(hired) == set(by_id)


async def test_a_control_is_looked_up_before_after_every_batch_and_after_the_last(
    tmp_path: Path,
) -> None:
    """600 users, 60 left out of the listing (not enough for the guard): the lookups go
    control, 50 candidates, control, 10 candidates, control."""
    sim = SimServer.with_users(600)
    with closing(sim_host(sim, tmp_path / "s.sqlite3")) as host:
        sim.start_run()
        assert (await host.run_sync("users")).added == 600
        sim.start_run()
        sim.hidden.update(sorted(sim.users)[::10])
        sim.log.clear()
        report = await host.run_sync("users")
        assert (report.status, report.deleted, report.recovered) == ("success", 0, 60)
    looked_up = [
        line.split()[1].rsplit("/", 1)[1].split("?")[0]
        for line in sim.log
        if line.startswith("GET /scim/v2/Users/")
    ]
    assert len(looked_up) == 63
    control = looked_up[0]
    assert control not in sim.hidden
    assert [i for i, rid in enumerate(looked_up) if rid == control] == [0, 51, 62]


def test_without_controls_needs_release_held(cli: Cli) -> None:
    code, rows, err = cli("sync", "users", "--without-controls")
    assert (code, rows) == (EXIT_BAD_INPUT, [])
    assert errors_of(err).count("\n") == 1 and "--release-held" in err
