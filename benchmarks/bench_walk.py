"""What deduplicating ids across the whole walk costs in memory.

The walk keeps every id it has seen (a set of strings) so an id repeated pages later is
never counted twice. This measures that set at 10k, 100k and 1M users with 24-character
ids (the shape scim2-server and many SCIM servers use), fed through the pure cursor.

    .venv/bin/python benchmarks/bench_walk.py
"""

from __future__ import annotations

import time
import tracemalloc

from loom_scim_connector.models.scim import ListPage
from loom_scim_connector.pagination import PageCursor

PAGE = 100


def walk(users: int) -> tuple[float, float]:
    cursor = PageCursor(page_size=PAGE)
    tracemalloc.start()
    started = time.perf_counter()
    for start in range(0, users, PAGE):
        ids = range(start, min(start + PAGE, users))
        page = ListPage([{"id": f"{i:024x}"} for i in ids], users)
        cursor.accept(page)
    cursor.accept(ListPage([], users))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert cursor.received == users and cursor.complete
    return seconds, peak / 2**20


def main() -> None:
    print(f"{'users':>10} {'seconds':>8} {'peak MiB':>9} {'bytes/user':>11}")
    for users in (10_000, 100_000, 1_000_000):
        seconds, mib = walk(users)
        print(f"{users:>10,} {seconds:>8.2f} {mib:>9.1f} {mib * 2**20 / users:>11.0f}")


if __name__ == "__main__":
    main()
