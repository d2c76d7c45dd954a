"""The guarantees every :class:`~loom_scim_connector.store.Store` gives, as tests.

A store implementation passes them by subclassing :class:`StoreContract` and providing
a ``make_store`` fixture: ``make_store(key="conn") -> Store``, where every store made by
one fixture shares the same backing data (two "processes" on one database) and follows
the fixture's ``clock`` (a :class:`FakeClock` in seconds), so leases expire on command.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from loom_scim_connector.store import Binding, Evidence, LeaseLostError, Store, SyncBusyError
from loom_scim_connector.store._chain import GENESIS, Verified, record_hash, verify

MakeStore = Callable[..., Store]
LEASE = 30.0


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def user(uid: str, **extra: Any) -> dict[str, Any]:
    return {"id": uid, "email": f"{uid}@example.com", **extra}


def proof(email: str, outcome: str = "deactivated", **extra: Any) -> Evidence:
    fields: dict[str, Any] = {
        "at": "2026-11-23T13:00:00+00:00",
        "actor": "admin@laptop:42",
        "source": "offboard",
        "action": "deactivate-user",
        "user_id": "id-" + email.split("@")[0],
        "email": email,
        "outcome": outcome,
        "request": "PATCH /Users/x -> 200; GET /Users/x -> 200",
        **extra,
    }
    return Evidence(**fields)


def live_ids(store: Store, model: str = "User") -> list[str]:
    return [str(r["id"]) for r in store.records(model)]


class StoreContract:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    # -- single flight ------------------------------------------------------------------

    def test_one_run_per_model_at_a_time(self, make_store: MakeStore) -> None:
        first, second = make_store(), make_store()
        run = first.begin_run("users", "User", lease=LEASE)
        with pytest.raises(SyncBusyError) as busy:
            second.begin_run("users", "User", lease=LEASE)
        assert busy.value.run_id == run.run_id
        assert busy.value.started_at == run.started_at
        assert str(run.run_id) in str(busy.value) and "--wait" in str(busy.value)
        second.begin_run("groups", "Group", lease=LEASE)  # another model is free
        make_store(key="other").begin_run("users", "User", lease=LEASE)  # another connection

    def test_finishing_releases_the_lease(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.finish_run(run, "success")
        later = store.begin_run("users", "User", lease=LEASE)
        assert later.generation > run.generation

    def test_a_lease_not_renewed_expires_and_its_run_is_abandoned(
        self, make_store: MakeStore, clock: FakeClock
    ) -> None:
        crashed, other = make_store(), make_store()
        dead = crashed.begin_run("users", "User", lease=LEASE)
        crashed.save(dead, [user("u1")])
        clock.now += LEASE + 1
        alive = other.begin_run("users", "User", lease=LEASE)
        statuses = {r.run_id: r.status for r in other.runs()}
        assert statuses[dead.run_id] == "abandoned"
        assert statuses[alive.run_id] == "running"
        with pytest.raises(LeaseLostError):
            crashed.heartbeat(dead, lease=LEASE)
        with pytest.raises(LeaseLostError):
            crashed.finish_run(dead, "success", deleted=["u1"])
        assert live_ids(other) == ["u1"]

    def test_a_heartbeat_keeps_the_lease(self, make_store: MakeStore, clock: FakeClock) -> None:
        store, other = make_store(), make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        for _ in range(3):
            clock.now += LEASE * 0.8
            store.heartbeat(run, lease=LEASE)
        with pytest.raises(SyncBusyError):
            other.begin_run("users", "User", lease=LEASE)

    # -- sightings ----------------------------------------------------------------------

    def test_save_says_what_happened(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        assert [a for a, _ in store.save(run, [user("u1"), user("u2")])] == ["ADDED", "ADDED"]
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        saved = store.save(run, [user("u1"), user("u2", email="new@example.com")])
        assert [a for a, _ in saved] == ["UNCHANGED", "UPDATED"]
        assert store.live_count("User") == 2

    def test_a_record_listed_twice_in_a_batch_is_saved_as_last_listed(
        self, make_store: MakeStore
    ) -> None:
        """A server listing one user twice in a walk (paging shifted under it), changed
        the first time and as stored the second: the last one listed is kept, whichever
        copy equals what the store held (the unchanged records' one-statement sighting
        must not leave the first copy in place)."""
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1"), user("u2")])
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        saved = store.save(run, [user("u1", email="new@example.com"), user("u1"), user("u2")])
        assert [a for a, _ in saved] == ["UPDATED", "UNCHANGED", "UNCHANGED"]
        assert [r["email"] for r in store.records("User")] == ["u1@example.com", "u2@example.com"]
        assert store.candidates(run) == []

    def test_a_record_deleted_then_seen_again_is_added(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1")])
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        assert [r["id"] for r in store.finish_run(run, "success", deleted=["u1"])] == ["u1"]
        assert store.records("User") == []
        assert "_deletedAt" in store.records("User", include_deleted=True)[0]
        run = store.begin_run("users", "User", lease=LEASE)
        assert [a for a, _ in store.save(run, [user("u1")])] == ["ADDED"]
        assert live_ids(store) == ["u1"]

    def test_an_older_run_never_overwrites_a_newer_sighting(
        self, make_store: MakeStore, clock: FakeClock
    ) -> None:
        old_store, new_store = make_store(), make_store()
        first = old_store.begin_run("users", "User", lease=LEASE)
        old_store.save(first, [user("u1"), user("u2")])
        old_store.finish_run(first, "success")
        slow = old_store.begin_run("users", "User", lease=LEASE)
        clock.now += LEASE + 1  # the slow run stalls; its lease expires
        fresh = new_store.begin_run("users", "User", lease=LEASE)
        new_store.save(fresh, [user("u1", role="admin"), user("u2")])
        with pytest.raises(LeaseLostError):  # a late write from the stale run is fenced off
            old_store.save(slow, [user("u1", role="viewer")])
        assert new_store.candidates(fresh) == []
        assert new_store.records("User", ids=["u1"])[0]["role"] == "admin"
        new_store.finish_run(fresh, "success")

    def test_the_sighting_rule_holds_even_past_the_fence(self, make_store: MakeStore) -> None:
        """Behind the lease, the store's own rule: a write by an older generation lands
        neither on a record a newer one saw (data and sighting stay) nor on one a newer
        one deleted; a write by a newer generation lands on both. The fence is passed
        here by giving the lease holder an older generation."""
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1"), user("u2"), user("u3")])
        store.finish_run(run, "success")
        newer = store.begin_run("users", "User", lease=LEASE)
        store.save(newer, [user("u1", role="admin")])
        assert store.finish_run(newer, "success", deleted=["u2"])[0]["id"] == "u2"
        holder = store.begin_run("users", "User", lease=LEASE)
        older = replace(holder, generation=newer.generation - 1)
        store.save(older, [user("u1", role="viewer"), user("u2", role="viewer")])
        store.save(older, [user("u1", role="admin")])  # unchanged bytes: only the sighting
        assert store.records("User", ids=["u1"])[0]["role"] == "admin"
        assert live_ids(store) == ["u1", "u3"]
        at_newer = replace(holder, generation=newer.generation)
        assert store.candidates(at_newer) == ["u3"]  # u1's sighting did not move down
        store.save(holder, [user("u1", role="viewer"), user("u2")])
        assert [r.get("role") for r in store.records("User")] == ["viewer", None, None]
        assert store.candidates(holder) == ["u3"]
        store.finish_run(holder, "success")

    def test_a_stalled_run_can_neither_save_nor_undo_a_newer_runs_deletions(
        self, make_store: MakeStore, clock: FakeClock
    ) -> None:
        """Run A stalls (SIGSTOP) past its lease holding a batch; run B takes over and
        deletes 10 departed users; A resumes: its save, checkpoint and finish are each
        refused in the transaction that would write, and B's deletions stay."""
        stalled_store, fresh_store = make_store(), make_store()
        everyone = [user(f"u{i:02d}") for i in range(12)]
        first = stalled_store.begin_run("users", "User", lease=LEASE)
        stalled_store.save(first, everyone)
        stalled_store.finish_run(first, "success")
        stalled = stalled_store.begin_run("users", "User", lease=LEASE)
        stalled_store.save(stalled, everyone[:1])  # a first batch, while it held the lease
        clock.now += LEASE + 1  # paused past its lease
        fresh = fresh_store.begin_run("users", "User", lease=LEASE)
        fresh_store.save(fresh, everyone[:2])
        departed = [r["id"] for r in everyone[2:]]
        gone = fresh_store.finish_run(fresh, "success", deleted=departed)
        assert sorted(r["id"] for r in gone) == departed
        with pytest.raises(LeaseLostError):
            stalled_store.save(stalled, everyone)  # the stale batch it held in memory
        with pytest.raises(LeaseLostError):
            stalled_store.save_checkpoint("users", {"lastCount": 12}, run=stalled)
        with pytest.raises(LeaseLostError):
            stalled_store.finish_run(stalled, "success", deleted=["u00"])
        assert live_ids(fresh_store) == ["u00", "u01"]
        deleted = fresh_store.records("User", include_deleted=True, ids=departed)
        assert all("_deletedAt" in r for r in deleted) and len(deleted) == 10
        assert fresh_store.get_checkpoint("users") is None
        # A later run sees them as deleted, and one that finds them again adds them back.
        later = fresh_store.begin_run("users", "User", lease=LEASE)
        assert fresh_store.candidates(later) == ["u00", "u01"]
        assert [a for a, _ in fresh_store.save(later, everyone[2:3])] == ["ADDED"]

    def test_a_save_is_fenced_even_when_the_newer_run_still_runs(
        self, make_store: MakeStore, clock: FakeClock
    ) -> None:
        stalled_store, fresh_store = make_store(), make_store()
        stalled = stalled_store.begin_run("users", "User", lease=LEASE)
        clock.now += LEASE + 1
        fresh = fresh_store.begin_run("users", "User", lease=LEASE)
        with pytest.raises(LeaseLostError):
            stalled_store.save(stalled, [user("u1")])
        assert fresh_store.records("User", include_deleted=True) == []
        fresh_store.save_checkpoint("users", {"lastCount": 0}, run=fresh)  # the holder may
        fresh_store.finish_run(fresh, "success")

    def test_candidates_are_live_records_the_run_has_not_seen(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user(f"u{i}") for i in range(1, 5)])
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1"), user("u3")])
        assert store.candidates(run) == ["u2", "u4"]
        assert sorted(store.seen_sample(run)) == ["u1", "u3"]
        assert len(store.seen_sample(run, limit=1)) == 1
        # Only unseen records can be deleted, whatever the caller passes.
        gone = store.finish_run(run, "success", deleted=["u2", "u3", "nope"])
        assert [r["id"] for r in gone] == ["u2"]
        assert live_ids(store) == ["u1", "u3", "u4"]

    def test_models_and_connections_are_separate(self, make_store: MakeStore) -> None:
        store, other = make_store(), make_store(key="other")
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1")])
        groups = store.begin_run("groups", "Group", lease=LEASE)
        assert store.candidates(groups) == []
        assert other.records("User") == [] and store.live_count("Group") == 0

    def test_records_by_id_are_exactly_those(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user(f"u{i:04d}") for i in range(1200)])  # more than one chunk
        store.finish_run(run, "success")
        wanted = ["u1100", "u0003", "u0700", "nope"]
        assert [r["id"] for r in store.records("User", ids=wanted)] == ["u0003", "u0700", "u1100"]
        assert store.records("User", ids=[]) == []

    # -- held deletions -----------------------------------------------------------------

    def test_held_candidates_are_kept_and_can_be_released(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1"), user("u2"), user("u3")])
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        store.finish_run(run, "held", held=["u2", "u3"], error="held for review")
        held = store.held_run(run.run_id)
        assert held is not None and (held.status, held.ids) == ("held", ["u2", "u3"])
        assert live_ids(store) == ["u1", "u2", "u3"]
        assert store.runs()[0].held == 2
        release = store.begin_run("users", "User", lease=LEASE)
        store.finish_run(release, "success", deleted=["u3"], releases=run.run_id)
        released = store.held_run(run.run_id)
        assert released is not None and released.status == "released"
        assert live_ids(store) == ["u1", "u2"]
        assert store.held_run(999_999) is None

    # -- the workspace a store belongs to ------------------------------------------------

    def test_a_binding_is_a_compare_and_set_that_never_holds_the_key(
        self, make_store: MakeStore
    ) -> None:
        store, other = make_store(), make_store()
        assert store.binding() is None
        first = Binding.of("key-one", "2026-01-01T00:00:00+00:00")
        assert store.bind(first, replaces=None) == first
        racer = Binding.of("key-two", "2026-01-01T00:00:01+00:00")
        assert other.bind(racer, replaces=None) == first  # the first binding stays
        bound = other.binding()
        assert bound is not None and bound.matches("key-one") and not bound.matches("key-two")
        assert "key-one" not in repr(bound)
        rotated = Binding.of("key-two", "2026-02-01T00:00:00+00:00")
        stale = Binding.of("key-three", "2026-02-01T00:00:00+00:00")
        now = store.bind(rotated, replaces=first.key_mac)
        assert now.matches("key-two") and now.rebinds == 1 and now.rebound_at is not None
        assert other.bind(stale, replaces=first.key_mac).matches("key-two")  # lost the race
        assert make_store(key="other").binding() is None  # per connection

    def test_the_live_sample_is_the_most_recently_seen_first(self, make_store: MakeStore) -> None:
        store = make_store()
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u1"), user("u2"), user("u3")])
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, [user("u3")])
        store.finish_run(run, "success", deleted=["u1"])
        assert store.live_sample("User") == ["u3", "u2"]
        assert store.live_sample("User", limit=1) == ["u3"]
        assert store.live_sample("Group") == []

    # -- checkpoints --------------------------------------------------------------------

    def test_checkpoints(self, make_store: MakeStore) -> None:
        store = make_store()
        assert store.get_checkpoint("users") is None
        store.save_checkpoint("users", {"lastCount": 3})
        store.save_checkpoint("users", {"lastCount": 4})
        assert store.get_checkpoint("users") == {"lastCount": 4}
        assert make_store(key="other").get_checkpoint("users") is None

    # -- evidence -----------------------------------------------------------------------

    def test_evidence_is_kept_newest_first_and_comes_back_whole(
        self, make_store: MakeStore
    ) -> None:
        store = make_store()
        assert store.evidence() == []
        first = store.record_evidence(proof("ada@example.com", detail="read back active=false"))
        second = store.record_evidence(
            proof("Bob@Example.com", "already_gone", user_id=None, source="reconcile")
        )
        third = store.record_evidence(proof("ada@example.com", "already_inactive"))
        assert first < second < third
        got = store.evidence()
        assert [e.evidence_id for e in got] == [third, second, first]
        assert got[2] == proof(
            "ada@example.com", detail="read back active=false", evidence_id=first
        )
        assert got[1].user_id is None and got[1].detail is None
        assert got[1].source == "reconcile"

    def test_evidence_by_email_user_id_and_limit(self, make_store: MakeStore) -> None:
        store = make_store()
        for email in ("ada@example.com", "bob@example.com", "ADA@example.com"):
            store.record_evidence(proof(email))
        by_email = store.evidence(email="Ada@Example.COM")
        assert [e.email for e in by_email] == ["ADA@example.com", "ada@example.com"]
        assert [e.email for e in store.evidence(user_id="id-bob")] == ["bob@example.com"]
        assert [e.email for e in store.evidence(limit=1)] == ["ADA@example.com"]
        assert store.evidence(email="nobody@example.com") == []

    def test_evidence_by_email_follows_the_one_identity_rule(self, make_store: MakeStore) -> None:
        """NFC then lowercase, as :func:`identity.same_email`: never SQL's ``lower()``."""
        store = make_store()
        for email in ("Straße@example.com", "strasse@example.com", "BOB@example.com"):
            store.record_evidence(proof(email))
        store.record_evidence(proof("bob@example.com", "already_inactive"))
        assert [e.email for e in store.evidence(email="straße@EXAMPLE.com")] == [
            "Straße@example.com"
        ]
        assert [e.email for e in store.evidence(email="strasse@example.com")] == [
            "strasse@example.com"
        ]
        assert [e.email for e in store.evidence(email="Bob@Example.com")] == [
            "bob@example.com",
            "BOB@example.com",
        ]
        assert [e.outcome for e in store.evidence(email="bob@example.com", limit=1)] == [
            "already_inactive"
        ]
        # Beyond ASCII (SQLite's lower() is ASCII-only) and across NFC/NFD spellings.
        store.record_evidence(proof("JOSÉ@example.com"))
        nfd = unicodedata.normalize("NFD", "josé@example.com")
        assert [e.email for e in store.evidence(email=nfd)] == ["JOSÉ@example.com"]

    def test_evidence_is_chained_per_connection(self, make_store: MakeStore) -> None:
        store, other = make_store(), make_store(key="other")
        first = store.record_evidence(proof("ada@example.com"))
        other.record_evidence(proof("eve@example.com"))
        intent = proof("bob@example.com", "unknown")
        second = store.record_evidence(intent)
        settled = store.record_evidence(proof("bob@example.com", intent_id=second))
        rows = store.evidence_chain()
        assert [r["evidence_id"] for r in rows] == [first, second, settled]
        assert rows[0]["prev_hash"] == GENESIS
        assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
        for row in rows:
            assert row["hash"] == record_hash(row, row["prev_hash"])
        assert rows[2]["intent_id"] == second and store.evidence()[0].intent_id == second
        assert isinstance(verify(rows), Verified)
        every = store.evidence_chain(every_connection=True)
        assert len(every) == 4
        result = verify(every)
        assert isinstance(result, Verified) and result.records == 4
        assert result.heads[rows[0]["connection"]] == rows[-1]["hash"]
        assert other.evidence_chain()[0]["prev_hash"] == GENESIS

    def test_evidence_is_per_connection_and_survives_reopening(self, make_store: MakeStore) -> None:
        store, other = make_store(), make_store(key="other")
        store.record_evidence(proof("ada@example.com"))
        assert other.evidence() == []
        store.close()
        assert [e.email for e in make_store().evidence()] == ["ada@example.com"]
