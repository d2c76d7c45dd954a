"""Property tests of "never a false delete", against a server that misbehaves at random.

Each example syncs a well-behaved :class:`~tests.simserver.SimServer` once, then mutates
it and syncs one or more times while it misbehaves (lying totals, capped, short or
repeated pages, an ignored ``startIndex``, users created and deleted between pages,
users left out of the listing, an empty listing, transient faults, a proxy's 404s (HTML,
text, empty, a gateway's JSON), lookups that 404 for everyone from the start or after
the first few). After every run:

* every record the store marks DELETED is absent from the server at the end;
* every user on the server for the whole run that the store knew is still live;
* no id is stored twice;
* a run that raised or was held deleted nothing; a successful one reports exactly what
  it deleted;
* no silent partial: against a server whose ``totalResults`` is true and that does not
  change during the run, a run that ends in success has every user of the server live
  in the store, whatever else it does (ignore ``startIndex``, cap pages, short pages).
  (A server that lies about its total, or gives none, cannot be told from one that
  has fewer users; one that changes under the walk leaves new users to the next run.)

Against an honest server (only transient faults, changes between syncs) a run must not
fail, and after a successful one the store mirrors the server exactly.

Two more stand-ins: another workspace behind the same URL, told apart by the key alone
(its sync into this store is refused and changes nothing, ids colliding or not; a
rotated key of the same workspace is taken), and a stalled run (paused mid-walk past its
lease while another run takes over and deletes; it must then fail and undo nothing).

Examples per test come from the hypothesis profile (tests/conftest.py): ``default`` in
CI, ``HYPOTHESIS_PROFILE=long`` (``make properties``) for many more.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import event, given, note
from hypothesis import strategies as st

from loom_scim_connector import LoomScimError
from loom_scim_connector.host import LocalHost, SyncReport
from loom_scim_connector.store import LeaseLostError

from .simserver import TOTAL_MODES, Behaviour, Gateway404, SimServer, deleted_ids, sim_host
from .store_contract import FakeClock

GUARD_MIN = 25  # DeletionGuard().min_count: at most this many deletions are never held
# Proxy 404s drawn for lookups: none of them may confirm a deletion.
GATEWAY_404S: tuple[Gateway404, ...] = ("html", "text", "empty", "json")


@dataclass(frozen=True)
class Store:
    """What the store held before a run."""

    live: frozenset[str]
    deleted: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    report: SyncReport | None
    error: LoomScimError | None

    @property
    def status(self) -> str:
        return "raised" if self.report is None else self.report.status


rates = st.sampled_from((0.0, 0.0, 0.05, 0.2, 0.5))
short_rates = st.sampled_from((0.0, 0.0, 0.02, 0.1))
seldom = st.integers(0, 5).map(lambda i: i == 0)  # True one time in six

behaviours = st.builds(
    Behaviour,
    # a true total more often than the others: it is what lets the walk plan its pages
    # and fetch them concurrently (the event "fetched list pages concurrently" counts it)
    total=st.sampled_from(("true", "true", *TOTAL_MODES)),
    page_cap=st.none() | st.integers(1, 30),
    short_rate=short_rates,
    ignore_start_index=seldom,
    no_count_gives_all=st.booleans(),
    mutation_rate=rates,
    fault_rate=rates,
    max_consecutive_faults=st.just(2),
    gateway_404_rate=st.sampled_from((0.0, 0.0, 0.0, 0.1)),
    gateway_404=st.sampled_from(GATEWAY_404S),
    lookups_404=seldom,
    # a key revoked or a route flipped mid-confirmation: every lookup after the first N
    lookups_404_after=st.none() | st.none() | st.integers(0, 40),
    empty_listing=seldom,  # a failover to an empty replica
    hide_rate=st.sampled_from((0.0, 0.0, 0.05, 0.3)),  # a lagging replica
    unreadable_rate=st.sampled_from((0.0, 0.0, 0.0, 0.02, 0.1)),
    scrubbed_tombstones=seldom,
)
honest = st.builds(Behaviour, fault_rate=rates)
# An honest server but for unreadable records: some users served with an empty, missing
# or non-text id, a lone surrogate or no email; deleted users whose lookup answers a
# scrubbed 200 {"id", "active": false}.
unreadable = st.builds(
    Behaviour,
    fault_rate=rates,
    unreadable_rate=st.sampled_from((0.02, 0.1, 0.3)),
    scrubbed_tombstones=st.booleans(),
)


def snapshot(host: LocalHost) -> Store:
    rows = host.records("User", include_deleted=True)
    return Store(
        live=frozenset(str(r["id"]) for r in rows if "_deletedAt" not in r),
        deleted=frozenset(str(r["id"]) for r in rows if "_deletedAt" in r),
    )


def sync(
    host: LocalHost, sim: SimServer, behaviour: Behaviour, *, clean: bool = False
) -> tuple[Store, Outcome]:
    """One run of the users sync against ``sim`` behaving so; the store before it."""
    before = snapshot(host)
    sim.start_run(behaviour)
    try:
        outcome = Outcome(asyncio.run(host.run_sync("users")), None)
    except LoomScimError as exc:
        outcome = Outcome(None, exc)
    note(f"{behaviour} -> {outcome.status}: {outcome.error or outcome.report}")
    if clean:
        return before, outcome
    if sim.max_list_in_flight > 1:
        event("a later run fetched list pages concurrently")
    event(f"a later run {outcome.status}")
    if outcome.error is not None:
        event(f"a later run raised {type(outcome.error).__name__}")
    if behaviour.ignore_start_index:
        event(f"a later run against a server ignoring startIndex {outcome.status}")
    if outcome.report is not None and outcome.report.deleted:
        event("a later run deleted some")
    if outcome.report is not None and outcome.report.recovered:
        event("a later run recovered some (found by lookup)")
    if behaviour.lookups_404_after is not None and sim.lookups > behaviour.lookups_404_after:
        event("lookups began to answer 404 mid-run")
    if outcome.report is not None and outcome.report.quarantined:
        event("a later run quarantined some")
    return before, outcome


def check_run(host: LocalHost, sim: SimServer, before: Store, outcome: Outcome) -> None:
    """The invariants that hold after any run, whatever the server did."""
    rows = host.records("User", include_deleted=True)
    ids = [str(r["id"]) for r in rows]
    assert len(ids) == len(set(ids)), "an id is stored twice"
    deleted = deleted_ids(host)
    falsely = deleted & sim.user_ids()
    assert not falsely, f"marked DELETED but on the server: {sorted(falsely)[:5]}"
    lost = (sim.stable_ids() & before.live) - (set(ids) - deleted)
    assert not lost, f"on the server all run long, no longer live: {sorted(lost)[:5]}"
    assert before.deleted <= deleted, "a deletion was undone"
    newly = deleted - before.deleted
    if outcome.report is None or outcome.report.status != "success":
        assert not newly, f"a run that ended {outcome.status} deleted {sorted(newly)[:5]}"
    else:
        assert outcome.report.deleted == len(newly)
        quarantined = {q.id for q in outcome.report.quarantined}
        assert not newly & quarantined, f"quarantined and deleted: {sorted(newly & quarantined)}"
        if sim.behaviour.total == "true" and sim.behaviour.mutation_rate == 0:
            # A record served unreadable is quarantined and reported, not silently missed.
            unread = sim.stable_ids() - (set(ids) - deleted) - sim.served_unreadable
            assert not unread, f"success without reading {len(unread)}: {sorted(unread)[:5]}"


@contextmanager
def synced_host(sim: SimServer, page_size: int) -> Iterator[LocalHost]:
    """A host on a fresh store in a temporary folder, after a first clean sync."""
    with (
        tempfile.TemporaryDirectory() as folder,
        closing(sim_host(sim, Path(folder) / "store.sqlite3", page_size)) as host,
    ):
        _, first = sync(host, sim, Behaviour(), clean=True)
        assert first.report is not None and first.report.status == "success", first.error
        assert {str(r["id"]) for r in host.records("User")} == sim.user_ids()
        yield host


def dump(sim: SimServer) -> None:
    note("server log (last 60 lines):\n" + "\n".join(sim.log[-60:]))


@given(
    users=st.integers(0, 120),
    page_size=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    runs=st.lists(st.tuples(st.integers(0, 40), behaviours), min_size=1, max_size=3),
)
def test_no_live_user_is_ever_marked_deleted(
    users: int, page_size: int, seed: int, runs: list[tuple[int, Behaviour]]
) -> None:
    sim = SimServer.with_users(users, seed=seed)
    with synced_host(sim, page_size) as host:
        for between, behaviour in runs:
            sim.mutate(between, anywhere=True)
            before, outcome = sync(host, sim, behaviour)
            try:
                check_run(host, sim, before, outcome)
            except AssertionError:
                dump(sim)
                raise


@given(
    users=st.integers(0, 150),
    page_size=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    runs=st.lists(st.tuples(st.integers(0, 60), honest), min_size=1, max_size=3),
)
def test_an_honest_server_is_mirrored_exactly(
    users: int, page_size: int, seed: int, runs: list[tuple[int, Behaviour]]
) -> None:
    sim = SimServer.with_users(users, seed=seed)
    with synced_host(sim, page_size) as host:
        for between, behaviour in runs:
            sim.mutate(between, anywhere=True, repeats=False)
            before, outcome = sync(host, sim, behaviour)
            check_run(host, sim, before, outcome)
            assert outcome.report is not None, f"transient faults failed the run: {outcome.error}"
            gone = before.live - sim.user_ids()
            if outcome.report.status == "held":  # too many gone, or every one the store knew
                everyone = bool(before.live) and gone == before.live
                assert len(gone) > GUARD_MIN or everyone, f"held with only {len(gone)} gone"
                continue
            assert outcome.report.status == "success"
            live = {str(r["id"]) for r in host.records("User")}
            assert live == sim.user_ids()
            assert deleted_ids(host) == (before.deleted | gone)


@given(
    users=st.integers(1, 80),
    page_size=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    runs=st.lists(st.tuples(st.integers(0, 20), unreadable), min_size=1, max_size=3),
)
def test_unreadable_records_are_quarantined_never_blocking_never_deleting(
    users: int, page_size: int, seed: int, runs: list[tuple[int, Behaviour]]
) -> None:
    """Issue 18, case 9: unreadable records never fail a run (only transient faults and
    changes between syncs here); each is quarantined, never deleted; every other leaver
    whose lookup answers a SCIM 404 is deleted as usual."""
    sim = SimServer.with_users(users, seed=seed)
    with synced_host(sim, page_size) as host:
        for between, behaviour in runs:
            sim.mutate(between, anywhere=True, repeats=False)
            before, outcome = sync(host, sim, behaviour)
            check_run(host, sim, before, outcome)
            assert outcome.report is not None, (
                f"an unreadable record failed the run: {outcome.error}"
            )
            if outcome.report.status == "held":
                continue
            assert outcome.report.status == "success"
            gone = before.live - sim.user_ids()
            newly = deleted_ids(host) - before.deleted
            kept = gone - newly
            quarantined = {q.id for q in outcome.report.quarantined}
            assert kept <= quarantined, (
                f"gone, not deleted, not quarantined: {sorted(kept - quarantined)}"
            )


@given(
    users=st.integers(1, 80),
    others=st.integers(0, 80),
    page_size=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    behaviour=behaviours,
)
def test_a_key_of_another_workspace_behind_the_same_url_changes_nothing(
    users: int, others: int, page_size: int, seed: int, behaviour: Behaviour
) -> None:
    """The other workspace numbers its users as this one does (ids collide), with other
    people: however it misbehaves, a sync with its key is refused or fails, and the
    store is as it was. A rotated key of this workspace takes the store."""
    sim = SimServer.with_users(users, seed=seed)
    other = SimServer(seed=seed + 1, behaviour=behaviour, tenant="other")
    for _ in range(others):
        other.insert()
    sim.tenants = {"key-of-the-other-workspace": other, "rotated-key-of-this-one": sim}
    with synced_host(sim, page_size) as host:
        before = snapshot(host)
        store = host.store.path  # type: ignore[attr-defined]
        with closing(sim_host(sim, store, page_size, key="key-of-the-other-workspace")) as them:
            try:
                asyncio.run(them.run_sync("users"))
            except LoomScimError as exc:
                event(f"another workspace's key: {type(exc).__name__}")
            else:
                raise AssertionError("another workspace's key synced into this store")
        assert snapshot(host) == before
        with closing(sim_host(sim, store, page_size, key="rotated-key-of-this-one")) as rotated:
            sim.start_run()
            report = asyncio.run(rotated.run_sync("users"))
        assert (report.status, report.deleted) == ("success", 0)
        assert any("new API key" in warning for warning in report.warnings)


@given(
    users=st.integers(2, 120),
    page_size=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
    stall_at=st.integers(1, 6),
    leaving=st.integers(0, 25),
)
def test_a_stalled_run_never_undoes_the_deletions_of_the_run_that_took_over(
    users: int, page_size: int, seed: int, stall_at: int, leaving: int
) -> None:
    """Run A stalls before list page ``stall_at`` past its lease; meanwhile users leave
    and run B syncs to the end (deleting them). A then resumes: it must fail on its
    lost lease, and every deletion B made must stay."""
    sim = SimServer.with_users(users, seed=seed)
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.sqlite3"
        with closing(sim_host(sim, path, page_size, clock=clock)) as host:
            _, first = sync(host, sim, Behaviour(), clean=True)
            assert first.report is not None and first.report.status == "success"
            taken_over: list[SyncReport] = []

            def take_over(server: SimServer) -> None:
                clock.now += 3600  # A is paused past its lease
                for uid in sorted(server.users)[: min(leaving, len(server.users) - 1)]:
                    server.delete(uid)

                def run_b() -> None:
                    with closing(sim_host(sim, path, page_size, clock=clock)) as other:
                        taken_over.append(asyncio.run(other.run_sync("users")))

                thread = threading.Thread(target=run_b)
                thread.start()
                thread.join()

            sim.start_run()
            sim.at_page(stall_at, take_over)
            try:
                asyncio.run(host.run_sync("users"))
                lost = False
            except LeaseLostError:
                lost = True
            if not taken_over:
                event("the walk ended before the stall")
                assert not lost
                return
            assert lost, "the stalled run did not fail on its lost lease"
            report = taken_over[0]
            note(f"run B: {report}")
            assert not (deleted_ids(host) & sim.user_ids()), "a live user marked DELETED"
            if report.status == "success":
                event("run B succeeded, then the stalled run resumed")
                assert len(deleted_ids(host)) == report.deleted, "run B's deletion was undone"
            live = {str(r["id"]) for r in host.records("User")}
            assert sim.user_ids() <= live, "a user on the server is not live in the store"


@given(
    users=st.integers(0, 150),
    page_size=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    between=st.integers(0, 40),
    behaviour=st.builds(
        Behaviour,
        page_cap=st.none() | st.integers(1, 60),
        short_rate=short_rates,
        ignore_start_index=st.booleans(),
        no_count_gives_all=st.booleans(),
        fault_rate=rates,
    ),
)
def test_success_means_every_user_was_read(
    users: int, page_size: int, seed: int, between: int, behaviour: Behaviour
) -> None:
    """No silent partial: a server with a true totalResults that does not change during
    the run. A run that ends in success has every user of the server; one that cannot
    read them all ends incomplete, deleting nothing. Exactly when: a server that honours
    ``startIndex`` is always read whole; one that ignores it (page 1 to every request)
    only when one answer can hold every user: no page cap, or one as large as the
    workspace (one page of ``count=totalResults``), or every user when ``count`` is left
    out. (Short pages mid-walk make that last rule depend on chance: not checked then.)"""
    sim = SimServer.with_users(users, seed=seed)
    with synced_host(sim, page_size) as host:
        sim.mutate(between, anywhere=True)
        before, outcome = sync(host, sim, behaviour)
        try:
            check_run(host, sim, before, outcome)
            if outcome.status == "success":
                live = {str(r["id"]) for r in host.records("User")}
                assert live == sim.user_ids(), f"success without {sim.user_ids() - live}"
            cap = behaviour.page_cap
            whole = (
                not behaviour.ignore_start_index
                or behaviour.no_count_gives_all
                or cap is None
                or len(sim.users) <= cap
            )
            if behaviour.short_rate == 0 or not behaviour.ignore_start_index:
                assert (outcome.status != "raised") == whole, outcome.error
            if outcome.status == "raised":
                assert "incomplete" in str(outcome.error), outcome.error
        except AssertionError:
            dump(sim)
            raise
