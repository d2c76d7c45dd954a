"""Property tests of "never a false delete", against a server that misbehaves at random.

Each example syncs a well-behaved :class:`~tests.simserver.SimServer` once, then mutates
it and syncs one or more times while it misbehaves (lying totals, capped, short or
repeated pages, an ignored ``startIndex``, users created and deleted between pages,
transient faults, HTML 404s, lookups that 404 for everyone). After every run:

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

Examples per test come from the hypothesis profile (tests/conftest.py): ``default`` in
CI, ``HYPOTHESIS_PROFILE=long`` (``make properties``) for many more.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import event, given, note
from hypothesis import strategies as st

from loom_scim_connector import LoomScimError
from loom_scim_connector.host import LocalHost, SyncReport

from .simserver import TOTAL_MODES, Behaviour, Gateway404, SimServer, deleted_ids, sim_host

GUARD_MIN = 25  # DeletionGuard().min_count: at most this many deletions are never held
# Proxy 404s drawn for lookups: none of them may confirm a deletion.
GATEWAY_404S: tuple[Gateway404, ...] = ("html", "text", "empty")


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
)
honest = st.builds(Behaviour, fault_rate=rates)


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
        if sim.behaviour.total == "true" and sim.behaviour.mutation_rate == 0:
            unread = sim.stable_ids() - (set(ids) - deleted)
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
            if outcome.report.status == "held":
                assert len(gone) > GUARD_MIN, f"held with only {len(gone)} users gone"
                continue
            assert outcome.report.status == "success"
            live = {str(r["id"]) for r in host.records("User")}
            assert live == sim.user_ids()
            assert deleted_ids(host) == (before.deleted | gone)


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
