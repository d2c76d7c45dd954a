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
    ProtocolError,
    RetryPolicy,
    no_wait,
)
from loom_scim_connector.host import LocalHost, SyncReport
from loom_scim_connector.models.records import User
from loom_scim_connector.sandbox import Sandbox

from .conftest import Reply, Script, list_body, scim

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scripted_host(
    connection: LoomConnection, store: Path, script: Script, page_size: int = 2
) -> LocalHost:
    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn,
            retry=RetryPolicy(sleep=no_wait),
            transport=httpx.MockTransport(script),
            page_size=page_size,
            page_concurrency=1,  # scripts the sequential walk's requests, in order
        )

    return LocalHost(connection, store=store, client_factory=factory)


def pages(ids: list[str], size: int, total: int | None = None) -> list[Reply]:
    """The list pages a server gives for ``ids``; a walk whose last page is full asks
    once more, so an empty page ends it."""
    count = len(ids) if total is None else total
    replies: list[Reply] = [
        scim(200, list_body(ids[i : i + size], total=count)) for i in range(0, len(ids), size)
    ]
    if not ids or len(ids) % size == 0:
        replies.append(scim(200, list_body([], total=count)))
    return replies


def user(uid: str) -> httpx.Response:
    return scim(200, {"id": uid, "userName": f"{uid}@example.com"})


def gone() -> httpx.Response:
    return scim(404, {"schemas": [ERROR], "detail": "not found", "status": "404"})


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

    failing = Script([*pages(IDS[:4], 2, total=6)[:2], scim(401, {"detail": "expired"})])
    second = scripted_host(connection, store, failing)
    with pytest.raises(AuthenticationError):
        await second.run_sync("users")
    assert len(failing.requests) == 3
    assert [r["id"] for r in second.records("User")] == IDS  # nothing marked deleted
    runs = sqlite3.connect(store).execute("SELECT status FROM runs ORDER BY run_id").fetchall()
    assert runs == [("success",), ("failed",)]


async def test_unseen_records_are_deleted_only_when_the_server_confirms(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    # The server now lists 4 (and counts 4): u5 and u6 are only candidates. The control
    # lookups (a user just listed) answer 200, u5 is still there, u6 is gone. (Had it
    # counted 6, the walk would know it is short: tests/test_trust_walk.py.)
    short = Script([*pages(IDS[:4], 2), user("u1"), user("u5"), gone(), user("u1")])
    second = scripted_host(connection, store, short)
    second.confirm_concurrency = 1
    report = await second.run_sync("users")
    assert (report.status, report.deleted, report.recovered, report.candidates) == (
        "success",
        1,
        1,
        2,
    )
    looked_up = [r.url.path.rsplit("/", 1)[-1] for r in short.requests[-4:]]
    assert looked_up == ["u1", "u5", "u6", "u1"]
    assert [r["id"] for r in second.records("User")] == IDS[:5]


async def test_a_failed_confirmation_deletes_nothing(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    short = Script([*pages(IDS[:4], 2), user("u1"), scim(401, {"detail": "expired"})])
    second = scripted_host(connection, store, short)
    second.confirm_concurrency = 1
    with pytest.raises(AuthenticationError):
        await second.run_sync("users")
    assert len(second.records("User")) == 6


async def test_a_404_for_a_user_just_listed_deletes_nothing(
    connection: LoomConnection, tmp_path: Path
) -> None:
    """A server whose lookups by id answer 404 for everyone cannot confirm a deletion."""
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    broken = Script([*pages(IDS[:4], 2), gone(), gone(), gone()])
    second = scripted_host(connection, store, broken)
    with pytest.raises(IncompleteSyncError, match="cannot confirm"):
        await second.run_sync("users")
    assert len(second.records("User")) == 6


async def test_an_html_404_is_not_a_confirmation(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    page = httpx.Response(404, text="<html><title>Not Found</title></html>")
    page.headers["Content-Type"] = "text/html"
    html = Script([*pages(IDS[:4], 2), user("u1"), page, page])
    second = scripted_host(connection, store, html)
    second.confirm_concurrency = 1
    with pytest.raises(ProtocolError, match="not a SCIM error"):
        await second.run_sync("users")
    assert len(second.records("User")) == 6


async def test_a_cancelled_sync_deletes_nothing(connection: LoomConnection, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")

    def cancel(request: httpx.Request) -> httpx.Response:
        raise asyncio.CancelledError

    second = scripted_host(connection, store, Script([*pages(IDS[:2], 2, total=6)[:1], cancel]))
    with pytest.raises(asyncio.CancelledError):
        await second.run_sync("users")
    assert len(second.records("User")) == 6
    status = (
        sqlite3.connect(store).execute("SELECT status FROM runs ORDER BY run_id DESC").fetchone()
    )
    assert status == ("cancelled",)


async def test_an_unreadable_user_is_quarantined_and_the_rest_settled(
    connection: LoomConnection, tmp_path: Path
) -> None:
    """u2 is listed without an email: it is skipped, named with why, and kept (listed,
    so not a candidate); u6, gone, is still deleted. It used to fail every run."""
    store = tmp_path / "s.sqlite3"
    first = scripted_host(connection, store, Script(pages(IDS, 2)))
    await first.run_sync("users")
    listed = list_body(IDS[:5], total=5)
    listed["Resources"][1] = {"id": "u2"}

    def server(request: httpx.Request) -> httpx.Response:
        uid = request.url.path.rpartition("/")[2]
        if uid == "Users":
            return scim(200, listed)
        return gone() if uid == "u6" else user(uid)

    second = LocalHost(
        connection,
        store=store,
        client_factory=lambda conn: LoomScimClient(conn, transport=httpx.MockTransport(server)),
    )
    report = await second.run_sync("users")
    assert (report.status, report.deleted, report.saved) == ("success", 1, 4)
    assert [(q.id, q.stage) for q in report.quarantined] == [("u2", "listed")]
    assert report.quarantined[0].reason == "emails (or userName) is missing or not text"
    assert {r["id"] for r in second.records("User")} == set(IDS[:5])


async def test_records_reach_the_store_in_batches_of_whole_pages(
    connection: LoomConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several pages to a transaction (SAVE_BATCH records or more), in page order."""
    monkeypatch.setattr("loom_scim_connector.syncs._run.SAVE_BATCH", 3)
    batches: list[int] = []
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    original = host.store.save

    def spy(run: object, records: list[dict[str, object]]) -> object:
        batches.append(len(records))
        return original(run, records)  # type: ignore[arg-type]

    host.store.save = spy  # type: ignore[method-assign,assignment]
    await host.run_sync("users")
    assert batches == [4, 2]


async def test_groups_sync_with_members(host: LocalHost, sandbox: Sandbox) -> None:
    report = await host.run_sync("groups")
    assert report.status == "success"
    groups = {g["displayName"]: g for g in host.records("Group")}
    assert set(groups) == {"Loom Creators", "Loom Viewers", "Loom Admins"}
    assert sorted(groups["Loom Creators"]["memberIds"]) == sorted(sandbox.seeded["creator"])


async def test_explicit_batch_delete_is_confirmed_too(
    connection: LoomConnection, tmp_path: Path
) -> None:
    """A sync that says a record is gone is believed only once the server confirms it."""
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    await host.run_sync("users")
    from loom_scim_connector.host.syncrun import SyncRun

    claimed = Script([user("u3"), user("u1"), gone(), user("u3")])  # control, u1, u2, control
    client = LoomScimClient(connection, transport=httpx.MockTransport(claimed))
    sync = host.manifest.sync("users")
    report = SyncReport("users", "User")
    runner = SyncRun(sync, host.store, client, connection, host.logger, report)
    runner.concurrency = 1
    run = host.store.begin_run("users", "User", lease=30)
    ctx = runner._context(run)
    await ctx.batch_save([User(id=i, email=f"{i}@example.com") for i in IDS[2:]], "User")
    await ctx.batch_delete(["u1", "u2"], "User")
    gone_ids = await runner.confirm(ctx, runner._candidates(ctx), ["u3"])
    host.store.finish_run(run, "success", deleted=gone_ids)
    await client.aclose()
    assert gone_ids == ["u2"]
    assert [r["id"] for r in host.records("User")] == ["u1", *IDS[2:]]


async def test_saving_under_another_model_is_refused(
    connection: LoomConnection, tmp_path: Path
) -> None:
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    from loom_scim_connector.host.context import ContractError
    from loom_scim_connector.host.syncrun import SyncRun

    client = LoomScimClient(connection, transport=httpx.MockTransport(Script([])))
    runner = SyncRun(
        host.manifest.sync("users"),
        host.store,
        client,
        connection,
        host.logger,
        SyncReport("users", "User"),
    )
    ctx = runner._context(host.store.begin_run("users", "User", lease=30))
    with pytest.raises(ContractError, match=r"ctx\.model"):
        await ctx.batch_save([User(id="u1", email="u1@example.com")], "Users")
    await client.aclose()


def test_unknown_sync_is_named(connection: LoomConnection, tmp_path: Path) -> None:
    from loom_scim_connector import UnknownNameError

    host = LocalHost(connection, store=tmp_path / "s.sqlite3")
    with pytest.raises(UnknownNameError, match="known: groups, users"):
        asyncio.run(host.run_sync("people"))
