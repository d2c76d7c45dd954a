"""The processes and services of ``fleet_load.py``: Celery workers as ``loom-scim fleet``
subprocesses (each in a session of its own, so a whole worker can be SIGKILLed), a Redis
database flushed, a RabbitMQ vhost (or, where ``rabbitmqctl`` cannot make one, a queue
name of the run's own), a PostgreSQL schema made and dropped."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import redis
from cryptography.fernet import Fernet
from psycopg.conninfo import make_conninfo

from loom_scim_connector.fleet import settings
from loom_scim_connector.fleet.connections import ENV_FERNET_KEY

AMQP_VAR, AMQP_DEFAULT = "LOOM_SCIM_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"
TASK = re.compile(r"sync of (\S+) queued \(task ([0-9a-f-]+)\)")


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

    def peak_kib(self) -> tuple[int, int]:
        """Peak resident memory (VmHWM, KiB): the main process, the largest pool process."""
        main = _hwm(self.process.pid)
        return main, max((_hwm(c) for c in self.children()), default=0)


def _hwm(pid: int) -> int:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def redis_url(db: int) -> str:
    base = urlsplit(os.environ.get(settings.ENV_REDIS) or settings.DEFAULT_REDIS)
    return urlunsplit(base._replace(path=f"/{db}"))


@contextmanager
def amqp_vhost() -> Iterator[tuple[str, str]]:
    """RabbitMQ's URL in a vhost of the run's own, deleted afterwards, and how it was
    isolated; where ``rabbitmqctl`` cannot make one (not root), the URL's own vhost."""
    base = os.environ.get(AMQP_VAR) or AMQP_DEFAULT
    name = "loom-scim-load-" + uuid.uuid4().hex[:8]
    user = urlsplit(base).username or "guest"
    ctl = shutil.which("rabbitmqctl")
    made = ctl is not None and _ctl(ctl, "add_vhost", name)
    if made and ctl and _ctl(ctl, "set_permissions", "-p", name, user, ".*", ".*", ".*"):
        try:
            yield urlunsplit(urlsplit(base)._replace(path="/" + quote(name, safe=""))), name
        finally:
            _ctl(ctl, "delete_vhost", name)
        return
    if made and ctl:
        _ctl(ctl, "delete_vhost", name)
    yield base, "the URL's vhost (rabbitmqctl unusable), a queue of the run's own"


def _ctl(ctl: str, *argv: str) -> bool:
    try:
        done = subprocess.run([ctl, *argv], capture_output=True, timeout=60, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


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
    """The run's workers, on one broker, with the fleet's default time limits."""

    def __init__(
        self, args: argparse.Namespace, dsn: str, broker: str, results: str, logs: Path
    ) -> None:
        self.args, self.logs = args, logs
        self.queue = f"loom-scim-load-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            settings.ENV_BROKER: broker,
            settings.ENV_REDIS: results,
            settings.ENV_DATABASE: dsn,
            settings.ENV_QUEUE: self.queue,
            settings.ENV_IN_FLIGHT: str(args.max_in_flight),
            ENV_FERNET_KEY: Fernet.generate_key().decode(),
        }
        for name in (settings.ENV_SYNC_LIMIT, settings.ENV_BUSY_RETRY):
            self.env.pop(name, None)  # the defaults: a lost worker is not helped along
        for name, value in (
            (settings.ENV_LARGE_MEMBERS, args.large_members),
            (settings.ENV_MAX_LARGE, args.max_large_syncs),
        ):
            if value is not None:
                self.env[name] = str(value)
        self.workers: list[Worker] = []

    def start_worker(self) -> Worker:
        name = f"load{len(self.workers) + 1}"
        options = [f"--concurrency={self.args.concurrency}", f"--hostname={name}@%h"]
        log = self.logs / f"{name}.log"
        argv = [sys.executable, "-m", "loom_scim_connector", "fleet", "worker", *options]
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603
                argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(name, process, log)
        deadline = time.monotonic() + 90
        while " ready." not in worker.text():
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"fleet-load: {name} did not start:\n{worker.text()[-2000:]}")
            time.sleep(0.2)
        self.workers.append(worker)
        return worker

    def sync_now(self, label: str, ids: list[str] | None = None) -> tuple[float, dict[str, str]]:
        """``loom-scim fleet sync-now`` (``--all`` or the ids): seconds taken, and the task
        id of each connection's sync."""
        started = time.monotonic()
        argv = [sys.executable, "-m", "loom_scim_connector", "fleet", "sync-now"]
        argv += ids if ids is not None else ["--all"]
        done = subprocess.run(argv, env=self.env, capture_output=True, check=False)  # noqa: S603
        if done.returncode != 0:
            sys.exit(f"fleet-load: sync-now failed:\n{done.stderr.decode()[-2000:]}")
        (self.logs / f"sync-now-{label}.log").write_bytes(done.stdout + done.stderr)
        return time.monotonic() - started, dict(TASK.findall(done.stderr.decode()))

    def kill_whole(self, worker: Worker) -> float:
        """SIGKILL a worker's main process and pool at once (a machine lost); when."""
        at = time.time()
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        return at

    def stop(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
