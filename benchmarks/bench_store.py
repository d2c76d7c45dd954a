"""The store's save alone: 100k users saved fresh, then saved again unchanged (the steady
state of a scheduled sync), in batches of ``SAVE_BATCH`` as the sync hands them over.

Records are the users sync's own (``user_from_scim`` on the bench server's users, encoded
by the host's ``encode``), prepared before timing. Each phase reports the process's CPU
seconds (``time.process_time``: on a shared machine steadier than wall time) and wall
seconds. ``--only fresh|unchanged`` times one phase (for ``valgrind --tool=callgrind``);
``--pg DSN`` measures the PostgreSQL store instead of SQLite.

    .venv/bin/python benchmarks/bench_store.py [--users 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_speed import _user  # noqa: E402

from loom_scim_connector._constants import SAVE_BATCH  # noqa: E402
from loom_scim_connector.host.context import encode  # noqa: E402
from loom_scim_connector.models.scim import user_from_scim  # noqa: E402
from loom_scim_connector.store import Encoded, SQLiteStore, Store  # noqa: E402


def batches(users: int) -> list[list[Encoded]]:
    records = [user_from_scim(json.loads(_user(i))) for i in range(users)]
    return [encode(records[i : i + SAVE_BATCH]) for i in range(0, users, SAVE_BATCH)]


def save_all(store: Store, model: str, work: list[list[Encoded]]) -> tuple[float, float]:
    """One run saving every batch, finished as a success: (CPU s, wall s)."""
    run = store.begin_run("users", model, lease=600)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in work:
        store.save(run, batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    store.finish_run(run, "success")
    return cpu, wall


def open_sqlite(folder: Path, n: int) -> Store:
    return SQLiteStore(folder / f"s{n}.sqlite3", "https://bench.example")


def open_pg(dsn: str) -> Callable[[Path, int], Store]:
    from loom_scim_connector.store.postgres import PostgresStore

    def opener(folder: Path, n: int) -> Store:
        return PostgresStore(dsn, f"https://bench.example/{time.monotonic_ns()}-{n}")

    return opener


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["fresh", "unchanged"])
    parser.add_argument("--pg", metavar="DSN")
    args = parser.parse_args()
    work = batches(args.users)
    opener = open_pg(args.pg) if args.pg else open_sqlite
    fresh: list[tuple[float, float]] = []
    unchanged: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            store = opener(Path(tmp), n)
            try:
                if args.only == "unchanged":  # filled outside the measured phase
                    save_all(store, "User", work)
                    unchanged.append(save_all(store, "User", work))
                    continue
                fresh.append(save_all(store, "User", work))
                if args.only is None:
                    unchanged.append(save_all(store, "User", work))
            finally:
                store.close()
    kind = "PostgreSQL" if args.pg else "SQLite"
    print(f"{kind} save of {args.users:,} users, batches of {SAVE_BATCH}, median of {args.repeat}")
    for name, timings in (("fresh", fresh), ("unchanged", unchanged)):
        if timings:
            cpu = statistics.median(t[0] for t in timings)
            wall = statistics.median(t[1] for t in timings)
            print(f"  {name:<10} CPU {cpu:6.3f} s  wall {wall:6.3f} s")


if __name__ == "__main__":
    main()
