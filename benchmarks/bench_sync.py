"""A users sync end to end through LocalHost: throughput, and memory that stays flat as
the user count grows (records are saved a page at a time, never held all at once).

The server is synthetic (an httpx MockTransport that builds each page on demand), so
the figures are the connector's own cost: HTTP client, paging, parsing, SQLite. A
second run against the sandbox shows a real loopback server.

    make bench      (or .venv/bin/python benchmarks/bench_sync.py)
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector.host import LocalHost


def synthetic_server(total: int) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("startIndex", "1"))
        count = int(request.url.params.get("count", "100"))
        ids = range(start, min(start + count, total + 1))
        resources = [
            {
                "id": f"u{i:08d}",
                "userName": f"user{i}@acme.example",
                "name": {"givenName": "User", "familyName": str(i)},
                "active": i % 17 != 0,
                "externalId": f"00u{i}",
                "loomMemberRole": "creator",
                "emails": [{"value": f"user{i}@acme.example", "primary": True}],
                "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-02T00:00:00Z"},
            }
            for i in ids
        ]
        body = {"totalResults": total, "startIndex": start, "Resources": resources}
        return httpx.Response(
            200,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/scim+json"},
        )

    return httpx.MockTransport(handle)


async def run(total: int, page_size: int, store: Path) -> tuple[float, int]:
    conn = LoomConnection.create("https://scim.bench.test/scim/v2", "bench-key")
    transport = synthetic_server(total)

    def factory(c: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            c, retry=RetryPolicy(sleep=no_wait), transport=transport, page_size=page_size
        )

    host = LocalHost(conn, store=store, client_factory=factory)
    tracemalloc.start()
    started = time.perf_counter()
    report = await host.run_sync("users")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    host.close()
    assert report.added == total, report
    return seconds, peak


async def sandbox_run(users: int) -> None:
    try:
        from loom_scim_connector.sandbox import Sandbox
    except ImportError:
        print("sandbox extra not installed: skipped")
        return
    seeded = time.perf_counter()
    with Sandbox(seed_users=users) as sandbox, tempfile.TemporaryDirectory() as tmp:
        print(f"sandbox seeded with {users:,} users in {time.perf_counter() - seeded:.1f} s")
        host = LocalHost(
            LoomConnection.create(sandbox.url, sandbox.token), store=Path(tmp) / "s.sqlite3"
        )
        started = time.perf_counter()
        report = await host.run_sync("users")
        seconds = time.perf_counter() - started
        host.close()
    print(
        f"sandbox over loopback: {report.saved:,} users, {report.pages} pages in {seconds:.2f} s "
        f"({report.saved / seconds:,.0f} users/s; the server's scim2-models validation dominates)"
    )


async def main() -> None:
    print("users sync through LocalHost against a synthetic server, page size 100")
    print(f"{'users':>8} {'seconds':>8} {'users/s':>9} {'peak MiB':>9}")
    for total in (2_000, 10_000, 50_000):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, peak = await run(total, 100, Path(tmp) / "bench.sqlite3")
        print(f"{total:>8,} {seconds:>8.2f} {total / seconds:>9,.0f} {peak / 2**20:>9.2f}")
    print(
        "peak memory grows only with the ids a walk remembers to deduplicate (8-byte "
        "fingerprints) and the pages in flight (at most 8); records are never all held"
    )
    await sandbox_run(1_000)


if __name__ == "__main__":
    asyncio.run(main())
