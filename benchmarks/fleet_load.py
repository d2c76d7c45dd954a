"""``make fleet-load``: 2,000 workspaces of uneven sizes, on RabbitMQ and on Redis in one
run, a whole worker SIGKILLed mid-run with the fleet's default time limits. Figures,
printed; not a timed test. ``--quick``: 200 workspaces, sizes a tenth, for development.

* **Services**: the real RabbitMQ (``LOOM_SCIM_TEST_AMQP_URL``, default
  ``amqp://guest:guest@127.0.0.1:5672//``; a vhost of the run's own when ``rabbitmqctl``
  can make one), the real Redis (``LOOM_SCIM_FLEET_REDIS_URL``'s host, database
  ``--redis-db``, 13 by default, flushed before and after: the broker of the Redis run,
  the results and the politeness semaphore of both) and the real PostgreSQL
  (``LOOM_SCIM_TEST_POSTGRES_URL``), a schema per broker, dropped afterwards.
* **Server**: :class:`~loom_scim_connector.sandbox.multi.MultiSandbox`, every workspace
  by path, ``--latency`` per request, counting requests in flight per workspace. Sizes
  drawn with a fixed seed: most workspaces 5 to 199 members, ``--mid`` of 200 to 1,999,
  and ``--large`` ones (20,000 to 50,000).
* **Per broker**, two ``loom-scim fleet worker`` processes (prefork), then: *phase 1*,
  every workspace's first sync (``sync-now --all``); *phase 2*, the small workspaces
  alone, changed and queued again: how long a small sync waits with no large one in the
  way; *phase 3*, every workspace changed and queued again, and once a fifth have
  finished, worker 2 is SIGKILLed whole (main process and pool: nobody left to reject
  its messages) and a new worker starts, as a supervisor would. Time limits are the
  defaults: on Redis the dead worker's messages wait out the visibility timeout (2 h),
  which the run does not; it checks they are in Redis's ``unacked`` hash (delayed, not
  lost) and leaves those workspaces out of the store's check.
* **Counted** (the exit status is 1 unless each is 0, both brokers): syncs lost (neither
  succeeded nor held by the broker), users lost, duplicated, falsely deleted, deletions
  missed, API keys in the broker or the logs, workspaces over K requests in flight.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

from loom_scim_connector.fleet.connections import ENV_FERNET_KEY, Cipher, ConnectionRegistry
from loom_scim_connector.fleet.settings import store_key, visibility_timeout
from loom_scim_connector.sandbox.multi import MultiSandbox
from loom_scim_connector.store._owner import is_dead
from loom_scim_connector.store.postgres import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_checks import (
    Runs,
    amqp_peek,
    check_store,
    last_run_id,
    leaks,
    read_runs,
    redis_blob,
    redis_unacked,
    table_bytes,
)
from fleet_procs import Fleet, amqp_vhost, flush, pg_schema, redis_url
from fleet_table import print_table

PG_VAR, PG_DEFAULT = "LOOM_SCIM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
RECEIVED = re.compile(r"Task loom_scim\.sync\[([0-9a-f-]+)\] received")
LOGGED = re.compile(
    r"\[([\d-]+ [\d:,]+): INFO/\S+\] Task loom_scim\.sync\[([0-9a-f-]+)\] (received|succeeded)"
)
SUCCEEDED = re.compile(r"Task loom_scim\.sync\[([0-9a-f-]+)\] succeeded")
SMALL = 200


def draw_sizes(args: argparse.Namespace) -> list[int]:
    rnd = random.Random(args.seed)
    large = [int(x) for x in args.large.split(",") if x]
    small = args.workspaces - len(large) - args.mid
    sizes = [int(10 ** rnd.uniform(0.7, 2.3)) for _ in range(small)]
    sizes += [int(10 ** rnd.uniform(2.31, 3.3)) for _ in range(args.mid)] + large
    rnd.shuffle(sizes)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 workspaces, sizes a tenth")
    parser.add_argument("--workspaces", type=int, default=2000)
    parser.add_argument("--mid", type=int, default=100, help="workspaces of 200 to 1,999")
    parser.add_argument("--large", help="their sizes (default 20000,30000,40000,50000)")
    parser.add_argument("--brokers", default="amqp,redis", help="amqp, redis or both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="pool processes per worker")
    parser.add_argument("--max-in-flight", type=int, default=2, help="K, per workspace")
    parser.add_argument("--latency", type=float, default=0.02, help="server seconds per request")
    parser.add_argument(
        "--large-members", type=int, help="a large workspace's members (fleet default 5000)"
    )
    parser.add_argument(
        "--max-large-syncs", type=int, help="large syncs at once (fleet default 2; 1000: no cap)"
    )
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds per phase")
    args = parser.parse_args()
    if args.quick:
        args.workspaces, args.mid = 200, 10
    if args.large is None:
        args.large = "2000,3000,4000,5000" if args.quick else "20000,30000,40000,50000"
    sizes = draw_sizes(args)
    logs = Path(tempfile.mkdtemp(prefix="fleet-load-"))
    started = time.monotonic()
    print(f"fleet-load: seeding {len(sizes)} workspaces, {sum(sizes)} members ...", flush=True)
    figures: dict[str, dict[str, Any]] = {}
    with MultiSandbox(workspaces=len(sizes), users=sizes, latency=args.latency) as multi:
        for kind in args.brokers.split(","):
            figures[kind] = run_broker(kind, args, multi, sizes, logs / kind)
    total = time.monotonic() - started
    return print_table(args, sizes, figures, total, logs)


def run_broker(
    kind: str, args: argparse.Namespace, multi: MultiSandbox, sizes: list[int], logs: Path
) -> dict[str, Any]:
    logs.mkdir(parents=True)
    results = redis_url(args.redis_db)
    where: AbstractContextManager[tuple[str, str]] = (
        amqp_vhost() if kind == "amqp" else nullcontext((results, f"db {args.redis_db}"))
    )
    with pg_schema(os.environ.get(PG_VAR) or PG_DEFAULT) as dsn, where as (broker, isolated):
        flush(results)
        for space in multi.workspaces.values():
            space.max_in_flight = space.requests = space.connections = 0
        fleet = Fleet(args, dsn, broker, results, logs)
        try:
            figures = phases(kind, args, multi, sizes, fleet, dsn, broker)
            figures["isolated"] = isolated
            return figures
        finally:
            fleet.stop()
            flush(results)


def phases(
    kind: str,
    args: argparse.Namespace,
    multi: MultiSandbox,
    sizes: list[int],
    fleet: Fleet,
    dsn: str,
    broker: str,
) -> dict[str, Any]:
    ids = {f"ws{n:04d}": n for n in range(len(sizes))}
    size = {cid: sizes[n] for cid, n in ids.items()}
    small = [cid for cid in ids if size[cid] < SMALL]
    with ConnectionRegistry(dsn, Cipher(fleet.env[ENV_FERNET_KEY])) as registry:
        for cid, n in ids.items():
            registry.add(cid, multi.url(n), multi.token(n))
    PostgresStore(dsn, store_key("")).close()
    for _ in range(args.workers):
        fleet.start_worker()
    keys = [multi.token(n) for n in ids.values()]
    f: dict[str, Any] = {"size": size, "small": set(small)}
    print(f"fleet-load: {kind}: phase 1, every workspace's first sync", flush=True)
    t0, before = time.time(), last_run_id(dsn)
    f["queue1"], _ = fleet.sync_now("1")
    blob = scan_broker(kind, broker, fleet.queue)
    f["p1"], f["t1"] = wait(dsn, before, set(ids), args.timeout), t0

    print(f"fleet-load: {kind}: phase 2, the small ones alone", flush=True)
    for cid in small:
        multi.workspaces[ids[cid]].change(rename=2, add=2, remove=2)
    t0, before = time.time(), last_run_id(dsn)
    fleet.sync_now("2", small)
    f["p2"], f["t2"] = wait(dsn, before, set(small), args.timeout), t0

    print(f"fleet-load: {kind}: phase 3, all of them, a worker killed", flush=True)
    for n in ids.values():
        multi.workspaces[n].change(rename=2, add=2, remove=2)
    t0, before = time.time(), last_run_id(dsn)
    _, tasks = fleet.sync_now("3")
    blob += scan_broker(kind, broker, fleet.queue)
    deadline = time.monotonic() + args.timeout
    while len(read_runs(dsn, before).succeeded) < len(ids) // 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    doomed = fleet.workers[1 % len(fleet.workers)]
    f["others_from"] = {w.name: len(w.text()) for w in fleet.workers if w is not doomed}
    killed_at = fleet.kill_whole(doomed)
    log = doomed.text()
    by_task = {task: cid for cid, task in tasks.items()}
    interrupted = {by_task[t] for t in set(RECEIVED.findall(log)) - set(SUCCEEDED.findall(log))}
    interrupted &= set(by_task.values())
    fleet.start_worker()
    waiting: set[str] = set()
    f["p3"] = wait(dsn, before, set(ids), args.timeout, kind, broker, tasks, waiting)
    interrupted |= waiting  # a message it had taken but not yet logged as received
    f["t3"], f["killed_at"], f["interrupted"] = t0, killed_at, interrupted
    again = {tasks[c] for c in interrupted}
    f["redelivered"] = logged(fleet, f["others_from"], again, "received")
    f["recovered"] = logged(fleet, f["others_from"], again, "succeeded")
    f["waiting"], f["visibility"] = waiting, visibility_timeout()
    if kind == "redis":
        blob += redis_blob(broker)[0]
    f["memory"] = [w.peak_kib() for w in fleet.workers if w.process.poll() is None]
    served = {cid: dict(multi.workspaces[n].names) for cid, n in ids.items() if cid not in waiting}
    f["store"] = check_store(dsn, served)
    f["table_bytes"] = table_bytes(dsn)
    logs_text = "".join(w.text() for w in fleet.workers).encode()
    logs_text += b"".join(p.read_bytes() for p in fleet.logs.glob("sync-now-*.log"))
    f["key_leaks"] = leaks(blob, keys) + leaks(logs_text, keys)
    f["large_waits"] = logs_text.count(b"large syncs are running already; retrying")
    stats = multi.stats()
    f["max_in_flight"] = max(s["maxInFlight"] for s in stats.values())
    f["over_k"] = sum(1 for s in stats.values() if s["maxInFlight"] > args.max_in_flight)
    f["lost_syncs"] = len(set(ids) - f["p3"].succeeded - waiting)
    return f


def logged(fleet: Fleet, since: dict[str, int], ids: set[str], what: str) -> dict[str, float]:
    """When each of ``ids`` was first ``received`` (or ``succeeded``) in a live worker's
    log after the kill: epoch seconds, from the logs' millisecond timestamps (the runs
    table keeps whole seconds)."""
    at: dict[str, float] = {}
    for worker in fleet.workers:
        if worker.process.poll() is not None:
            continue  # the dead worker: what it received before the kill
        for line in worker.text()[since.get(worker.name, 0) :].splitlines():
            found = LOGGED.match(line)
            if found and found.group(3) == what and found.group(2) in ids:
                when = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                at[found.group(2)] = min(when, at.get(found.group(2), when))
    return at


def scan_broker(kind: str, broker: str, queue: str) -> bytes:
    """The messages as the broker holds them, to search for keys."""
    if kind == "amqp":
        return amqp_peek(broker, queue, 500)[0]
    return redis_blob(broker)[0]


def wait(
    dsn: str,
    after: int,
    ids: set[str],
    timeout: float,
    kind: str = "",
    broker: str = "",
    tasks: dict[str, str] | None = None,
    waiting: set[str] | None = None,
) -> Runs:
    """Until each of ``ids`` has succeeded; on Redis after a kill, until nothing is queued
    or running any more and the only ones left are in the ``unacked`` hash (the dead
    worker's, put in ``waiting``); one in neither, after 30 s, was lost."""
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    while True:
        runs = read_runs(dsn, after)
        pending = ids - runs.succeeded
        if not pending or time.monotonic() > deadline:
            return runs
        if kind == "redis" and tasks and waiting is not None and _idle(dsn, after, broker):
            idle_since = idle_since or time.monotonic()
            unacked = redis_unacked(broker)
            held = {cid for cid in pending if tasks[cid] in unacked}
            if held == pending or time.monotonic() - idle_since > 30:
                waiting |= held
                return runs
        else:
            idle_since = None
        time.sleep(1.0)


def _idle(dsn: str, after: int, broker: str) -> bool:
    """Nothing queued in Redis, and no run going on in a live process."""
    client = redis.Redis.from_url(broker)
    try:
        names = client.scan_iter(match="loom-scim-load-*")
        queued = sum(int(client.llen(k)) for k in names)
    finally:
        client.close()
    with psycopg.connect(dsn) as db:
        owners = db.execute(
            "SELECT owner FROM loom_scim_runs WHERE status = 'running' AND run_id > %s", (after,)
        ).fetchall()
    return queued == 0 and all(is_dead(str(owner)) for (owner,) in owners)


if __name__ == "__main__":
    sys.exit(main())
