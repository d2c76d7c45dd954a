"""Regressions: a users sync must never mark a live user DELETED.

One test per reproduction, each against :class:`~tests.simserver.SimServer` with
realistic sizes (a few hundred or a couple of thousand users, pages of 100). Each first
syncs a well-behaved server, then syncs again while the server misbehaves.
"""

from __future__ import annotations

from contextlib import closing, suppress
from pathlib import Path

import pytest

from loom_scim_connector import LoomScimError
from loom_scim_connector.host import LocalHost

from .simserver import Behaviour, Gateway404, SimServer, TotalMode, deleted_ids, sim_host


async def synced(sim: SimServer, store: Path) -> LocalHost:
    """A host whose store holds every user of ``sim`` after one clean sync."""
    host = sim_host(sim, store)
    sim.start_run()
    report = await host.run_sync("users")
    assert (report.status, report.added, report.deleted) == ("success", len(sim.users), 0)
    return host


def assert_no_live_user_deleted(host: LocalHost, sim: SimServer) -> None:
    falsely = deleted_ids(host) & sim.user_ids()
    assert not falsely, f"{len(falsely)} live users marked DELETED, e.g. {sorted(falsely)[:3]}"
    live = {str(r["id"]) for r in host.records("User")}
    assert sim.stable_ids() <= live


async def test_a_user_deleted_mid_walk_does_not_take_the_skipped_user_with_it(
    tmp_path: Path,
) -> None:
    """Reproduction: 300 users, pages of 100. Between pages 1 and 2 the 11th user is
    deleted on the server: every later user moves up one place, so the 101st slides
    into page 1's window and is never listed, and totalResults drops to 299. Today the
    walk counts 299 received = 299 announced, calls itself complete, and marks the
    innocent skipped user DELETED. (The leaver, listed on page 1, goes on the next sync.)"""
    sim = SimServer.with_users(300)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        leaver, innocent = sim.listing[10], sim.listing[100]
        sim.start_run()
        sim.at_page(2, lambda server: server.delete(leaver))
        report = await host.run_sync("users")

        assert innocent not in deleted_ids(host), "the user skipped by the shift was DELETED"
        assert_no_live_user_deleted(host, sim)
        assert (report.status, report.deleted) == ("success", 0)  # the leaver was listed
        assert report.recovered == 1  # the innocent: looked up, found, kept

        sim.start_run()
        after = await host.run_sync("users")
        assert (after.status, after.deleted, deleted_ids(host)) == ("success", 1, {leaver})


@pytest.mark.parametrize("total", ["page_size", "negative"])
async def test_a_lying_total_does_not_end_the_walk_after_page_one(
    tmp_path: Path, total: TotalMode
) -> None:
    """Reproduction: 300 users, pages of 100, and a server whose totalResults is lower
    than the truth: the page size (100), or negative (-1..-3). Today the walk stops
    after page 1 ("totalResults reached": 100 >= 100, or 100 >= -1) and marks the other
    200 live users DELETED."""
    sim = SimServer.with_users(300)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        sim.start_run(Behaviour(total=total))
        report = await host.run_sync("users")

        assert_no_live_user_deleted(host, sim)
        assert sim.list_pages > 1, "the walk stopped after page 1"
        assert (report.status, report.deleted) == ("success", 0)
        assert len(host.records("User")) == 300


async def test_an_id_repeated_two_pages_later_is_not_counted_twice(tmp_path: Path) -> None:
    """Reproduction: 300 users, pages of 100, totalResults exact (300). The server's
    unstable order lists the first user again at the top of page 3, which pushes the
    300th user to a page 4. Today ids are deduplicated only against the previous page:
    the repeat counts as new, 300 received = 300 announced ends the walk before page 4,
    and the 300th user, live, is marked DELETED."""
    sim = SimServer.with_users(300)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        last = sim.listing[-1]
        sim.repeat(sim.listing[0], 200)
        sim.start_run()
        report = await host.run_sync("users")

        assert last not in deleted_ids(host), "the user pushed to page 4 was DELETED"
        assert_no_live_user_deleted(host, sim)
        assert (report.status, report.deleted) == ("success", 0)
        assert len(host.records("User")) == 300


async def test_users_created_during_the_walk_do_not_fail_the_sync(tmp_path: Path) -> None:
    """Reproduction: 2000 users, pages of 100. Before pages 5, 10 and 15 a user is
    created on the server, sorted first: totalResults becomes 2003, and each creation
    shifts the listing so that one already-listed user comes again on the next page.
    Today the sync fails with "the server announced 2003 Users but returned 2000". The
    created users need not be seen by this run (the next sync adds them), but the run
    must succeed and delete nothing."""
    sim = SimServer.with_users(2000)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        sim.start_run()
        created: list[str] = []
        for page in (5, 10, 15):
            sim.at_page(page, lambda server: created.append(server.insert(0)))
        report = await host.run_sync("users")

        assert report.status == "success"
        assert_no_live_user_deleted(host, sim)
        assert (report.deleted, len(created)) == (0, 3)
        assert len(host.records("User")) >= 2000

        sim.start_run()
        again = await host.run_sync("users")
        assert (again.status, again.deleted) == ("success", 0)
        assert {str(r["id"]) for r in host.records("User")} == sim.user_ids()


@pytest.mark.parametrize("body", ["text", "empty"])
async def test_a_404_that_is_not_scim_json_confirms_nothing(
    tmp_path: Path, body: Gateway404
) -> None:
    """Reproduction: as in the mid-walk deletion above, the 101st user is skipped and
    becomes a candidate; a proxy in front of the SCIM server answers its lookup 404
    with a plain-text body ("404 page not found": Go's net/http, Traefik) or no body.
    The control lookup answers 200. Only a SCIM JSON 404 may confirm a deletion (an
    HTML page was the only one refused at first, so this user was marked DELETED)."""
    sim = SimServer.with_users(300)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        leaver, innocent = sim.listing[10], sim.listing[100]
        sim.start_run(Behaviour(gateway_404=body))
        sim.gateway_ids.add(innocent)
        sim.at_page(2, lambda server: server.delete(leaver))
        with suppress(LoomScimError):  # failing the run is fine; deleting is not
            await host.run_sync("users")

        assert innocent not in deleted_ids(host), "a proxy's 404 marked a live user DELETED"
        assert_no_live_user_deleted(host, sim)


async def test_a_fingerprint_collision_costs_a_lookup_never_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk remembers ids as 64-bit fingerprints. Force the rare collision: one
    live user's id looks already seen, so the walk skips it. It must never be deleted:
    here the walk counts 299 of the 300 the server counts, so it knows it is short and
    ends incomplete (the collision is forced on every attempt; a real one is not, each
    walk salting its fingerprints anew), deleting nothing; the next run reads all."""
    from loom_scim_connector.pagination import IdFingerprints

    sim = SimServer.with_users(300)
    with closing(await synced(sim, tmp_path / "s.sqlite3")) as host:
        victim = sim.listing[150]
        real_add = IdFingerprints.add

        def colliding(self: IdFingerprints, rid: str) -> bool:
            return False if rid == victim else real_add(self, rid)

        monkeypatch.setattr(IdFingerprints, "add", colliding)
        sim.start_run()
        with pytest.raises(LoomScimError, match="read 299 of the 300 Users"):
            await host.run_sync("users")
        assert victim not in deleted_ids(host)
        assert_no_live_user_deleted(host, sim)

        monkeypatch.undo()
        sim.start_run()
        report = await host.run_sync("users")
        assert (report.status, report.deleted) == ("success", 0)
        assert_no_live_user_deleted(host, sim)
