"""What ``fleet_load.py`` counts after a run: the store against the server, the runs
table's timings, the messages still held by a broker, and API keys in the broker or the
workers' logs."""

from __future__ import annotations

import base64
import json
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from loom_scim_connector.fleet.settings import store_key


@dataclass
class StoreCheck:
    lost: int = 0  # on the server, not live in the store
    duplicated: int = 0  # an id or an email twice among the live records
    falsely_deleted: int = 0  # marked deleted in the store, still on the server
    not_deleted: int = 0  # live in the store, gone from the server (a missed deletion)
    deleted: int = 0  # marked deleted and gone from the server (true deletions)
    live: int = 0


def check_store(dsn: str, served: dict[str, dict[str, str]]) -> StoreCheck:
    """``served``: per connection id, the server's users now (id -> userName)."""
    check = StoreCheck()
    keys = {store_key(cid): cid for cid in served}
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            "SELECT connection, id, data, deleted_at FROM loom_scim_records"
            " WHERE model = 'User' AND connection = ANY(%s)",
            (list(keys),),
        ).fetchall()
    live: dict[str, list[tuple[str, str]]] = {cid: [] for cid in served}
    gone: dict[str, set[str]] = {cid: set() for cid in served}
    for key, record_id, data, deleted_at in rows:
        cid = keys[key]
        if deleted_at is None:
            live[cid].append((record_id, str(json.loads(data).get("email", "")).lower()))
        else:
            gone[cid].add(record_id)
    for cid, users in served.items():
        ids = Counter(i for i, _ in live[cid])
        emails = Counter(e for _, e in live[cid])
        check.live += len(live[cid])
        check.duplicated += sum(n - 1 for n in ids.values()) + sum(n - 1 for n in emails.values())
        check.lost += len(set(users) - set(ids))
        check.not_deleted += len(set(ids) - set(users))
        check.falsely_deleted += len(gone[cid] & set(users))
        check.deleted += len(gone[cid] - set(users))
    return check


@dataclass
class Runs:
    succeeded: set[str]  # connection ids with a successful run
    finished: dict[str, float]  # each one's first success: when it finished (epoch s)
    other: Counter[str]  # runs that did not succeed, by status
    by_owner_pid: dict[int, list[str]]  # connection ids of runs not successful, by owner pid
    runs: int
    first_start: float | None
    last_finish: float | None


def read_runs(dsn: str, after_run: int, sync: str = "users") -> Runs:
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            "SELECT connection, owner, status,"
            " extract(epoch FROM started_at::timestamptz),"
            " extract(epoch FROM finished_at::timestamptz)"
            " FROM loom_scim_runs WHERE sync = %s AND run_id > %s",
            (sync, after_run),
        ).fetchall()
    runs = Runs(set(), {}, Counter(), {}, len(rows), None, None)
    for key, owner, status, started, finished in rows:
        cid = key.removeprefix(store_key(""))
        started = float(started)
        runs.first_start = started if runs.first_start is None else min(runs.first_start, started)
        if status == "success" and finished is not None:
            runs.succeeded.add(cid)
            end = float(finished)
            runs.finished[cid] = min(end, runs.finished.get(cid, end))
            runs.last_finish = end if runs.last_finish is None else max(runs.last_finish, end)
        else:
            runs.other[status] += 1
            pid = owner.rpartition(":")[2]
            if pid.isdigit():
                runs.by_owner_pid.setdefault(int(pid), []).append(cid)
    return runs


def last_run_id(dsn: str) -> int:
    with psycopg.connect(dsn) as db:
        row = db.execute("SELECT COALESCE(MAX(run_id), 0) FROM loom_scim_runs").fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def redis_blob(url: str) -> tuple[bytes, int]:
    """Every key and value of the Redis database, kombu message bodies decoded too;
    and how many task messages were found."""
    client = redis.Redis.from_url(url)
    chunks: list[bytes] = []
    messages = 0
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            values: list[Any] = []
            if kind == b"list":
                values = client.lrange(key, 0, -1)
            elif kind == b"hash":
                values = [v for pair in client.hgetall(key).items() for v in pair]
            elif kind == b"set":
                values = list(client.smembers(key))
            elif kind == b"zset":
                values = client.zrange(key, 0, -1)
            elif kind == b"string":
                values = [client.get(key) or b""]
            chunks.append(key)
            for value in values:
                value = value if isinstance(value, bytes) else str(value).encode()
                chunks.append(value)
                body = _message_body(value)
                if body is not None:
                    messages += 1
                    chunks.append(body)
    finally:
        client.close()
    return b"\n".join(chunks), messages


def _message_body(value: bytes) -> bytes | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # an entry of kombu's unacked hash: [message, exchange, key]
    if not isinstance(data, dict) or "body" not in data or "headers" not in data:
        return None
    try:
        return base64.b64decode(data["body"])
    except (ValueError, TypeError):
        return str(data["body"]).encode()


def leaks(text: bytes, keys: list[str]) -> int:
    """How many keys appear in ``text``, plainly or base64-encoded at any alignment."""
    found = 0
    for key in keys:
        forms = [key.encode()]
        for shift in range(3):
            encoded = base64.b64encode(("\0" * shift + key).encode())
            forms.append(encoded[4 if shift else 0 : -4])
        found += any(form in text for form in forms)
    return found


def redis_unacked(url: str) -> set[str]:
    """Task ids in the Redis transport's ``unacked`` hash: delivered, not acknowledged,
    waiting for the visibility timeout if their worker is gone."""
    client = redis.Redis.from_url(url)
    try:
        values = client.hvals("unacked")
    finally:
        client.close()
    ids = set()
    for value in values:
        with suppress(ValueError, KeyError, IndexError, TypeError):
            ids.add(str(json.loads(value)[0]["headers"]["id"]))
    return ids


def amqp_peek(url: str, queue: str, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` messages of a RabbitMQ queue, read without acknowledging them:
    the channel is closed after, and RabbitMQ puts them back."""
    from kombu import connection

    chunks: list[bytes] = []
    with connection.Connection(url) as conn:  # type: ignore[no-untyped-call]
        channel = conn.channel()
        try:
            for _ in range(limit):
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                chunks.append(json.dumps(message.headers).encode())
                body = message.body
                chunks.append(body if isinstance(body, bytes) else str(body).encode())
        finally:
            channel.close()
    return b"\n".join(chunks), len(chunks) // 2


def table_bytes(dsn: str) -> int:
    """The store's and the fleet's tables in the run's schema, indexes and TOAST too."""
    with psycopg.connect(dsn) as db:
        row = db.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relkind = 'r' AND c.relname LIKE 'loom_scim%%'"
            " AND c.relnamespace = current_schema()::regnamespace"
        ).fetchone()
    return int(row[0]) if row else 0
