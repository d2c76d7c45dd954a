"""The actions' idempotency ledger in PostgreSQL: claim, replay, busy, takeover, conflict."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .pg_server import postgres_url, require_psycopg

require_psycopg()

import psycopg  # noqa: E402

from loom_scim_connector.fleet.ledger import (  # noqa: E402
    TABLE,
    ActionBusyError,
    ActionLedger,
    IdempotencyConflictError,
)

LEASE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cid() -> Iterator[str]:
    mine = f"test-{uuid.uuid4().hex[:12]}"
    yield mine
    with psycopg.connect(postgres_url(), autocommit=True) as db:
        db.execute(f"DELETE FROM {TABLE} WHERE connection_id = %s", (mine,))  # noqa: S608


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ledger(clock: Clock, owner: str) -> ActionLedger:
    return ActionLedger(postgres_url(), owner=owner, clock=clock)


def test_done_is_replayed_and_running_is_busy(cid: str, clock: Clock) -> None:
    data = {"email": "a@acme.example"}
    with ledger(clock, "other-host:1") as one, ledger(clock, "other-host:2") as two:
        assert one.claim(cid, "k", "create-user", data, lease=LEASE).state == "run"
        with pytest.raises(ActionBusyError, match="running now"):
            two.claim(cid, "k", "create-user", data, lease=LEASE)
        one.finish(cid, "k", output={"id": "u1", "outcome": "created"})
        again = two.claim(cid, "k", "create-user", data, lease=LEASE)
        assert (again.state, again.output) == ("done", {"id": "u1", "outcome": "created"})


def test_an_expired_claim_is_taken_over(cid: str, clock: Clock) -> None:
    with ledger(clock, "other-host:1") as one, ledger(clock, "other-host:2") as two:
        one.claim(cid, "k", "delete-user", {"id": "u1"}, lease=LEASE)
        clock.now += LEASE + 1  # the first worker died mid-action
        taken = two.claim(cid, "k", "delete-user", {"id": "u1"}, lease=LEASE)
        assert (taken.state, taken.attempts) == ("run", 2)


def test_a_failure_is_final_for_its_key(cid: str, clock: Clock) -> None:
    with ledger(clock, "other-host:1") as one:
        one.claim(cid, "k", "get-user", {"id": "u1"}, lease=LEASE)
        one.finish(cid, "k", error=LookupError("gone"))
        failed = one.claim(cid, "k", "get-user", {"id": "u1"}, lease=LEASE)
        assert (failed.state, failed.error) == ("failed", "LookupError: gone")


def test_a_released_claim_runs_again(cid: str, clock: Clock) -> None:
    with ledger(clock, "other-host:1") as one, ledger(clock, "other-host:2") as two:
        one.claim(cid, "k", "get-user", {"id": "u1"}, lease=LEASE)
        one.release(cid, "k")
        assert two.claim(cid, "k", "get-user", {"id": "u1"}, lease=LEASE).state == "run"


@pytest.mark.parametrize(
    ("action", "data", "what"),
    [("create-user", {"email": "b@acme.example"}, "input"), ("find-user", {}, "action")],
)
def test_a_key_reused_for_something_else_is_refused(
    cid: str, clock: Clock, action: str, data: dict[str, str], what: str
) -> None:
    with ledger(clock, "other-host:1") as one:
        one.claim(cid, "k", "create-user", {"email": "a@acme.example"}, lease=LEASE)
        with pytest.raises(IdempotencyConflictError, match=f"used for another {what}"):
            one.claim(cid, "k", action, data, lease=LEASE)
