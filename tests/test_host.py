"""The local host: batches, deletion tracking, and the safety of failed or partial syncs."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import (
    AuthenticationError,
    IncompleteSyncError,
    LoomConnection,
    LoomScimClient,
    RetryPolicy,
    no_wait,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox import Sandbox

from .conftest import Reply, Script, list_body, scim


def scripted_host(
    connection: LoomConnection, store: Path, script: Script, page_size: int = 2
) -> LocalHost:
    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn,
            retry=RetryPolicy(sleep=no_wait),
            transport=httpx.MockTransport(script),
            page_size=page_size,
        )

    return LocalHost(connection, store=store, client_factory=factory)


def pages(ids: list[str], size: int, total: int | None = None) -> list[Reply]:
    count = len(ids) if total is None else total
    return [scim(200, list_body(ids[i : i + size], total=count)) for i in range(0, len(ids), size)]


IDS = [f"u{i}" for i in range(1, 7)]


async def test_users_sync_over_several_pages(host: LocalHost, sandbox: Sandbox) -> None:
    report = await host.run_sync("users")
    assert report.status == "success"
    assert (report.added, report.deleted, report.pages) == (12, 0, 3)
    saved = host.records("User")
    assert sorted(r["id"] for r in saved) == sorted(sandbox.seeded["all"])
    assert any(r["externalId"] is None for r in saved), "domain-captured users are synced too"


async def test_a_user_removed_server_side_is_marked_deleted(
    host: LocalHost, sandbox: Sandbox
) -> None:
    await host.run_sync("users")
    gone = sandbox.seeded["all"][4]
    sandbox.call("DELETE", f"/Users/{gone}")
    report = await host.run_sync("users")
    assert (report.deleted, report.unchanged, report.added) == (1, 11, 0)
    deleted = [r for r in host.records("User", include_deleted=True) if "_deletedAt" in r]
    assert [r["id"] for r in deleted] == [gone]
    assert gone not in {r["id"] for r in host.records("User")}


async def test_a_changed_user_is_reported_updated(host: LocalHost, sandbox: Sandbox) -> None:
    await host.run_sync("users")
    target = sandbox.seeded["all"][0]
    sandbox.call(
        "PATCH",
        f"/Users/{target}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "name.givenName", "value": "Renamed"}],
        },
    )
    report = await host.run_sync("users")
    assert (report.updated, report.unchanged, report.deleted) == (1, 11, 0)


async def test_a_sync_failing_on_page_3_deletes_nothing_and_keeps_records(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    assert (await first.run_sync("users")).added == 6
    first.close()

    failing = Script([*pages(IDS[:4], 2, total=6), scim(401, {"detail": "expired"})])
    second = scripted_host(connection, store, failing)
    with pytest.raises(AuthenticationError):
        await second.run_sync("users")
    assert len(failing.requests) == 3
    assert [r["id"] for r in second.records("User")] == IDS  # nothing marked deleted
    runs = sqlite3.connect(store).execute("SELECT status FROM runs ORDER BY run_id").fetchall()
    assert runs == [("success",), ("failed",)]


async def test_a_short_server_count_is_incomplete_and_deletes_nothing(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    # The server claims 6 but pages end after 4: the last two were not seen, not deleted.
    short = Script([*pages(IDS[:4], 2, total=6), scim(200, list_body([], total=6))])
    second = scripted_host(connection, store, short)
    with pytest.raises(IncompleteSyncError, match="announced 6"):
        await second.run_sync("users")
    assert len(second.records("User")) == 6


async def test_a_cancelled_sync_deletes_nothing(connection: LoomConnection, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")

    def cancel(request: httpx.Request) -> httpx.Response:
        raise asyncio.CancelledError

    second = scripted_host(connection, store, Script([*pages(IDS[:2], 2, total=6), cancel]))
    with pytest.raises(asyncio.CancelledError):
        await second.run_sync("users")
    assert len(second.records("User")) == 6
    status = (
        sqlite3.connect(store).execute("SELECT status FROM runs ORDER BY run_id DESC").fetchone()
    )
    assert status == ("cancelled",)


async def test_an_unreadable_user_fails_the_sync_without_deletions(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    broken = {
        "Resources": [{"id": "u1", "userName": "u1@example.com"}, {"id": "u2"}],
        "totalResults": 2,
    }
    second = scripted_host(connection, store, Script([scim(200, broken)]))
    with pytest.raises(IncompleteSyncError, match="u2"):
        await second.run_sync("users")
    assert len(second.records("User")) == 6


async def test_records_are_saved_a_page_at_a_time(
    connection: LoomConnection, tmp_path: Path
) -> None:
    batches: list[int] = []
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    original = host.store.save

    def spy(model: str, run_id: int, records: list[dict[str, object]]) -> object:
        batches.append(len(records))
        return original(model, run_id, records)

    host.store.save = spy  # type: ignore[method-assign,assignment]
    await host.run_sync("users")
    assert batches == [2, 2, 2]


async def test_groups_sync_with_members(host: LocalHost, sandbox: Sandbox) -> None:
    report = await host.run_sync("groups")
    assert report.status == "success"
    groups = {g["displayName"]: g for g in host.records("Group")}
    assert set(groups) == {"Loom Creators", "Loom Viewers", "Loom Admins"}
    assert sorted(groups["Loom Creators"]["memberIds"]) == sorted(sandbox.seeded["creator"])


async def test_explicit_batch_delete(connection: LoomConnection, tmp_path: Path) -> None:
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    await host.run_sync("users")
    seen: list[tuple[str, str]] = []
    host.on_record = lambda model, action, record: seen.append((action, str(record["id"])))
    from loom_scim_connector.host import SyncReport, _SyncContext

    client = LoomScimClient(connection)
    ctx = _SyncContext(
        connection,
        client,
        host.logger,
        host.store,
        "users",
        99,
        SyncReport("users", "User"),
        host.on_record,
    )
    await ctx.batch_delete(["u2", "nope"], "User")
    await client.aclose()
    assert seen == [("DELETED", "u2")]
    assert "u2" not in {r["id"] for r in host.records("User")}


def test_unknown_sync_is_named(connection: LoomConnection, tmp_path: Path) -> None:
    from loom_scim_connector import UnknownNameError

    host = LocalHost(connection, store=tmp_path / "s.sqlite3")
    with pytest.raises(UnknownNameError, match="known: groups, users"):
        asyncio.run(host.run_sync("people"))
