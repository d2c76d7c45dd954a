"""Where the politeness semaphore lives: Redis (as shipped) or PostgreSQL, side by side.

Every request a fleet sends takes a slot of its workspace's semaphore and gives it back
(:mod:`loom_scim_connector.fleet.politeness`): two round trips per request. This times
``--rounds`` take-and-give-back cycles from ``--clients`` threads at once, on the real
Redis (the shipped Lua script, a sorted set of leases) and on the real PostgreSQL (the
same lease logic in a table: a transaction under an advisory lock to take a slot, a
DELETE to give it back), each on a key and a table of its own, removed after.
"""

from __future__ import annotations

import argparse
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable

import psycopg
import redis

from loom_scim_connector.fleet.leases import ACQUIRE
from loom_scim_connector.fleet.settings import DEFAULT_REDIS, ENV_REDIS

PG_URL = (
    os.environ.get("LOOM_SCIM_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
)
LIMIT, LEASE_MS = 4, 15000


def redis_cycle() -> tuple[Callable[[], None], Callable[[], None]]:
    key = f"loom_scim:bench-semaphore:{uuid.uuid4().hex}"
    url = os.environ.get(ENV_REDIS) or DEFAULT_REDIS
    local = threading.local()

    def cycle() -> None:
        if not hasattr(local, "client"):
            local.client = redis.Redis.from_url(url)
            local.script = local.client.register_script(ACQUIRE)
        client, script, token = local.client, local.script, secrets.token_hex(8)
        while not script(keys=[key], args=[LIMIT, LEASE_MS, token]):
            time.sleep(0.001)
        client.zrem(key, token)

    def done() -> None:
        redis.Redis.from_url(url).delete(key)

    return cycle, done


def pg_cycle() -> tuple[Callable[[], None], Callable[[], None]]:
    table = f"bench_semaphore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (key TEXT, token TEXT, expires_at DOUBLE PRECISION)")
    local = threading.local()

    def cycle() -> None:
        if not hasattr(local, "db"):
            local.db = psycopg.connect(PG_URL, autocommit=True)
        db, token = local.db, secrets.token_hex(8)
        while True:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(hashtext('bench'))")
                now = time.time()
                db.execute(f"DELETE FROM {table} WHERE key = 'w' AND expires_at < %s", (now,))  # noqa: S608
                row = db.execute(f"SELECT COUNT(*) FROM {table} WHERE key = 'w'").fetchone()  # noqa: S608
                if row and row[0] < LIMIT:
                    db.execute(
                        f"INSERT INTO {table} VALUES ('w', %s, %s)",  # noqa: S608
                        (token, now + LEASE_MS / 1000),
                    )
                    break
            time.sleep(0.001)
        db.execute(f"DELETE FROM {table} WHERE key = 'w' AND token = %s", (token,))  # noqa: S608

    def done() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as db:
            db.execute(f"DROP TABLE {table}")

    return cycle, done


def run(
    make: Callable[[], tuple[Callable[[], None], Callable[[], None]]], args: argparse.Namespace
) -> tuple[float, float]:
    cycle, done = make()
    per = args.rounds // args.clients

    def client() -> None:
        for _ in range(per):
            cycle()

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    wall, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done()
    return wall / (per * args.clients) * 1e6, cpu / (per * args.clients) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(
        f"| semaphore ({args.clients} clients, K = {LIMIT}) | µs per request, wall | client CPU |"
    )
    print("|---|---|---|")
    for name, make in (("Redis (shipped)", redis_cycle), ("PostgreSQL", pg_cycle)):
        wall, cpu = run(make, args)
        print(f"| {name} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
