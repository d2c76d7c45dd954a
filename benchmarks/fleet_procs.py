"""The processes and services of ``fleet_load.py``: Celery workers and beat as
``loom-scim fleet`` subprocesses (each in a session of its own, so a whole worker can
be SIGKILLed), a Redis database flushed, a PostgreSQL schema made and dropped."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from cryptography.fernet import Fernet
from psycopg.conninfo import make_conninfo

from loom_scim_connector.fleet import settings
from loom_scim_connector.fleet.connections import ENV_FERNET_KEY

QUEUE = "loom-scim-load"
TASK_ID = re.compile(r"queued \(task ([0-9a-f-]+)\)")


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        pid = self.process.pid
        with suppress(OSError):
            return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return []


def broker_url(db: int) -> str:
    base = urlsplit(os.environ.get(settings.ENV_BROKER) or settings.DEFAULT_BROKER)
    return urlunsplit(base._replace(path=f"/{db}"))


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    schema = "fleet_load_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield make_conninfo(url, options=f"-csearch_path={schema}")
    finally:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


class Fleet:
    def __init__(self, args: argparse.Namespace, dsn: str, broker: str, logs: Path) -> None:
        self.args, self.logs = args, logs
        self.env = {
            **os.environ,
            settings.ENV_BROKER: broker,
            settings.ENV_DATABASE: dsn,
            settings.ENV_QUEUE: QUEUE,
            settings.ENV_IN_FLIGHT: str(args.max_in_flight),
            settings.ENV_BUSY_RETRY: "1",
            settings.ENV_SYNC_LIMIT: str(args.sync_time_limit),
            ENV_FERNET_KEY: Fernet.generate_key().decode(),
        }
        self.workers: list[Worker] = []

    def start_worker(self) -> Worker:
        name = f"load{len(self.workers) + 1}"
        options = [f"--concurrency={self.args.concurrency}", f"--hostname={name}@%h"]
        return self._start(name, "worker", options, " ready.")

    def start_beat(self) -> Worker:
        """Celery beat, ticking every 5 s: its dispatch queues the groups syncs (the
        users syncs were queued by sync-now, which counts as their run this hour) and
        queues again any sync whose message was lost (:mod:`...fleet.schedule`)."""
        state = f"--state={self.logs / 'beat-state'}"
        return self._start("beat", "beat", [state], "beat: Starting", {settings.ENV_DISPATCH: "5"})

    def _start(
        self,
        name: str,
        command: str,
        options: list[str],
        ready: str,
        env: dict[str, str] | None = None,
    ) -> Worker:
        log = self.logs / f"{name}.log"
        argv = [sys.executable, "-m", "loom_scim_connector", "fleet", command, *options]
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603
                argv,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, process, log)
        deadline = time.monotonic() + 60
        while ready not in worker.text():
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"fleet-load: {name} did not start:\n{worker.text()[-2000:]}")
            time.sleep(0.2)
        self.workers.append(worker)
        return worker

    def sync_now_all(self, phase: int) -> tuple[float, set[str]]:
        """``loom-scim fleet sync-now --all``: seconds taken, and the task ids it printed."""
        started = time.monotonic()
        argv = [sys.executable, "-m", "loom_scim_connector", "fleet", "sync-now", "--all"]
        done = subprocess.run(argv, env=self.env, capture_output=True, check=False)  # noqa: S603
        if done.returncode != 0:
            sys.exit(f"fleet-load: sync-now --all failed:\n{done.stderr.decode()[-2000:]}")
        (self.logs / f"sync-now-{phase}.log").write_bytes(done.stdout + done.stderr)
        return time.monotonic() - started, set(TASK_ID.findall(done.stderr.decode()))

    def stop(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
