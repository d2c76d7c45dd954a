"""``make fleet-load``: the fleet under load, then with workers killed mid-run. Figures,
printed; not a timed test.

* **Services**: the real Redis at ``LOOM_SCIM_FLEET_BROKER_URL`` (its host; database
  ``--redis-db``, 13 by default, flushed before and after) and the real PostgreSQL at
  ``LOOM_SCIM_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
  in a schema of the run's own, dropped afterwards.
* **Server**: :class:`~loom_scim_connector.sandbox.multi.MultiSandbox`, every workspace
  by path in one thread pool of this process, counting requests in flight per workspace.
* **Workers**: ``loom-scim fleet worker`` processes (Celery prefork), started here.
* **Phase 1**: the connections added (the library: the key encrypted), one users sync
  each queued with ``loom-scim fleet sync-now --all``; syncs per minute and p50/p95 from
  the runs table.
* **Phase 2**: each workspace changed (5 users renamed, 5 added, 2 removed), all queued
  again; mid-run, one pool process of worker 1 is SIGKILLed (``task_reject_on_worker_lost``:
  its message goes back to the queue at once) and worker 2 is SIGKILLed whole, its main
  process and pool (a machine lost: nobody is left to reject its messages, so Redis
  redelivers them after the visibility timeout; this run lowers the sync's time limit to
  30 s, ``LOOM_SCIM_FLEET_SYNC_TIME_LIMIT``, which the visibility timeout follows: 62 s
  instead of 2 h). A replacement worker and Celery beat (ticking every 5 s) start: beat's
  dispatch queues the groups syncs, and queues again any users sync whose message the
  Redis transport lost with the killed worker (see :mod:`loom_scim_connector.fleet.schedule`).
  As a random kill meets that window only now and then, the run also takes one message
  off the queue itself (``--no-lose-one`` not to), so the sweep is seen working each time.
* **Counted** (the exit status is 1 unless each is 0): syncs that never succeeded, users
  lost, duplicated, falsely deleted, deletions missed, API keys in Redis or the workers'
  logs, workspaces that saw more than K requests in flight.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

import redis

from loom_scim_connector.fleet.connections import ENV_FERNET_KEY, Cipher, ConnectionRegistry
from loom_scim_connector.fleet.settings import store_key
from loom_scim_connector.sandbox.multi import MultiSandbox
from loom_scim_connector.store.postgres import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_checks import (
    Runs,
    check_store,
    last_run_id,
    leaks,
    percentile,
    read_runs,
    redis_blob,
    task_results,
)
from fleet_procs import QUEUE, Fleet, broker_url, flush, pg_schema

PG_VAR, PG_DEFAULT = "LOOM_SCIM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
REQUEUED = re.compile(r"sync queued again \(task ")
RECEIVED = re.compile(r"Task loom_scim\.sync\[([0-9a-f-]+)\] received")


def lose_one_message(broker: str) -> str | None:
    """Take the next message off the queue and drop it: what Celery's Redis transport
    does to a message a worker popped (BRPOP) and was killed before recording as
    unacknowledged (celery/celery#7950). Killing at random meets that window only now
    and then; this makes the dispatch's sweep (which must queue that sync again) run
    every time. Returns the connection id of the sync lost."""
    client = redis.Redis.from_url(broker)
    try:
        raw = client.rpop(QUEUE)
    finally:
        client.close()
    if not isinstance(raw, bytes):
        return None
    envelope = json.loads(raw)
    args = json.loads(base64.b64decode(envelope["body"]))[0]
    return str(args[0])


def wait_for(dsn: str, after: int, ids: set[str], timeout: float) -> Runs:
    deadline = time.monotonic() + timeout
    while True:
        runs = read_runs(dsn, after)
        if runs.succeeded >= ids or time.monotonic() > deadline:
            return runs
        time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="pool processes per worker")
    parser.add_argument("--max-in-flight", type=int, default=2, help="K, per workspace")
    parser.add_argument("--latency", type=float, default=0.02, help="server seconds per request")
    parser.add_argument("--sync-time-limit", type=int, default=30)
    parser.add_argument(
        "--no-lose-one",
        dest="lose_one",
        action="store_false",
        help="do not take one message off the queue (as the Redis transport loses one)",
    )
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per phase")
    args = parser.parse_args()
    broker = broker_url(args.redis_db)
    logs = Path(tempfile.mkdtemp(prefix="fleet-load-"))
    flush(broker)
    print(f"fleet-load: seeding {args.connections} workspaces x {args.users} users ...", flush=True)
    with (
        MultiSandbox(workspaces=args.connections, users=args.users, latency=args.latency) as multi,
        pg_schema(os.environ.get(PG_VAR) or PG_DEFAULT) as dsn,
    ):
        fleet = Fleet(args, dsn, broker, logs)
        try:
            return run(args, multi, fleet, dsn, broker, logs)
        finally:
            fleet.stop()
            flush(broker)


def run(
    args: argparse.Namespace,
    multi: MultiSandbox,
    fleet: Fleet,
    dsn: str,
    broker: str,
    logs: Path,
) -> int:
    ids = {f"ws{n:04d}": n for n in range(args.connections)}
    keys = [multi.token(n) for n in ids.values()]
    started = time.monotonic()
    with ConnectionRegistry(dsn, Cipher(fleet.env[ENV_FERNET_KEY])) as registry:
        for cid, n in ids.items():
            registry.add(cid, multi.url(n), multi.token(n))
    added = time.monotonic() - started
    PostgresStore(dsn, store_key("")).close()  # the store's tables, before the first run
    for _ in range(args.workers):
        fleet.start_worker()
    print(f"fleet-load: {len(ids)} connections added in {added:.1f} s; phase 1", flush=True)

    # Phase 1: a first sync of every connection.
    before, t0 = last_run_id(dsn), time.time()
    queued, tasks1 = fleet.sync_now_all(1)
    one = wait_for(dsn, before, set(ids), args.timeout)
    res1 = task_results(broker, tasks1)
    span1 = (res1.last_done or time.time()) - t0
    after_one = multi.stats()

    # Phase 2: changes, all queued again; kills mid-run; a replacement worker.
    changed = {n: multi.workspaces[n].change(rename=5, add=5, remove=2) for n in ids.values()}
    before2, t1 = last_run_id(dsn), time.time()
    _, tasks2 = fleet.sync_now_all(2)
    mid_run_blob, mid_messages = redis_blob(broker)
    deadline = time.monotonic() + args.timeout
    while len(read_runs(dsn, before2).succeeded) < len(ids) // 5:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    w1, w2 = fleet.workers[0], fleet.workers[1 % len(fleet.workers)]
    killed_child = w1.children()[0]
    os.kill(killed_child, signal.SIGKILL)
    killed_main = [w2.process.pid, *w2.children()]
    os.killpg(w2.process.pid, signal.SIGKILL)
    w2.process.wait()
    killed_at = time.time()
    killed_blob, killed_messages = redis_blob(broker)  # the dead worker's unacked messages
    dropped = lose_one_message(broker) if args.lose_one else None
    fleet.start_worker()
    fleet.start_beat()
    print("fleet-load: phase 2: killed one pool process and one whole worker", flush=True)
    two = wait_for(dsn, before2, set(ids), args.timeout)
    res2 = task_results(broker, tasks2)
    # The runs table too: a sync queued again by the dispatch has a task id of its own.
    last2 = max(res2.last_done or 0.0, two.last_finish or 0.0) or time.time()
    span2 = last2 - t1
    end_blob, end_messages = redis_blob(broker)
    stats = multi.stats()

    served = {cid: dict(multi.workspaces[n].names) for cid, n in ids.items()}
    store = check_store(dsn, served)
    removed = sum(len(c["removed"]) for c in changed.values())
    log_text = "".join(w.text() for w in fleet.workers).encode()
    log_text += (logs / "sync-now-1.log").read_bytes() + (logs / "sync-now-2.log").read_bytes()
    key_leaks = leaks(mid_run_blob + killed_blob + end_blob, keys) + leaks(log_text, keys)
    received = Counter(RECEIVED.findall(log_text.decode(errors="replace")))
    delivered_again = sum(1 for t in tasks2 if received[t] > 1)
    requeued = len(REQUEUED.findall(log_text.decode(errors="replace")))
    groups = read_runs(dsn, before2, "groups")
    interrupted = sum(len(two.by_owner_pid.get(pid, [])) for pid in [killed_child, *killed_main])
    over_k = sum(1 for s in stats.values() if s["maxInFlight"] > args.max_in_flight)
    requests = sum(s["requests"] for s in stats.values())
    connections = sum(s["connections"] for s in stats.values())
    never = len(set(ids) - two.succeeded)
    counted = {
        "syncs that never succeeded": never,
        "users lost": store.lost,
        "users duplicated": store.duplicated,
        "users falsely deleted": store.falsely_deleted,
        "deletions missed": store.not_deleted,
        "API keys in Redis or logs": key_leaks,
        f"workspaces over K={args.max_in_flight} in flight": over_k,
    }
    rows = [
        ("machine", f"{os.cpu_count()} cores, {platform.machine()}, {_cpu()}"),
        ("Python", platform.python_version()),
        ("connections x users", f"{len(ids)} x {args.users}"),
        (
            "workers",
            f"{args.workers} x prefork --concurrency {args.concurrency}, "
            f"K = {args.max_in_flight}, server latency {args.latency * 1000:.0f} ms",
        ),
        ("phase 1: sync-now --all", f"{queued:.1f} s to queue {len(ids)}"),
        ("phase 1: syncs per minute", f"{len(one.succeeded) / span1 * 60:.0f} ({span1:.1f} s)"),
        (
            "phase 1: sync time p50 / p95",
            f"{percentile(res1.seconds, 50):.2f} s / {percentile(res1.seconds, 95):.2f} s",
        ),
        ("phase 1: max in flight", f"{max(s['maxInFlight'] for s in after_one.values())}"),
        ("phase 2: syncs per minute", f"{len(two.succeeded) / span2 * 60:.0f} ({span2:.1f} s)"),
        (
            "phase 2: sync time p50 / p95",
            f"{percentile(res2.seconds, 50):.2f} s / {percentile(res2.seconds, 95):.2f} s",
        ),
        (
            "phase 2: killed",
            f"pool process {killed_child} of {w1.name}; {w2.name} whole "
            f"({len(killed_main)} processes); last sync done "
            f"{last2 - killed_at:.0f} s after",
        ),
        (
            "phase 2: runs interrupted",
            f"{interrupted} (left {dict(two.other)}); each connection synced again",
        ),
        (
            "phase 2: lost, queued again",
            f"{requeued} syncs queued again by beat's dispatch"
            + (f" (1 message taken off the queue on purpose: {dropped})" if dropped else ""),
        ),
        (
            "phase 2: beat's groups syncs",
            f"{len(groups.succeeded)} of {len(ids)} succeeded (queued at beat's first tick)",
        ),
        (
            "phase 2: delivered again",
            f"{delivered_again} sync messages (WorkerLostError in {w1.name}'s log: "
            f"{'yes' if 'WorkerLostError' in w1.text() else 'no'})",
        ),
        ("max in flight per workspace", f"{max(s['maxInFlight'] for s in stats.values())}"),
        (
            "requests / TCP connections",
            f"{requests} / {connections} ({requests / max(connections, 1):.1f} per connection)",
        ),
        ("users live in the store", f"{store.live} (server: {sum(map(len, served.values()))})"),
        ("deleted (true deletions)", f"{store.deleted} of {removed} removed on the server"),
        (
            "task messages scanned",
            f"{mid_messages} queued, {killed_messages} after the kills, {end_messages} at the end",
        ),
        *((name, str(value)) for name, value in counted.items()),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print(f"\nworker logs: {logs}")
    bad = [name for name, value in counted.items() if value]
    if bad:
        print(f"fleet-load: FAILED: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def _cpu() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
