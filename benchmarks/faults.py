"""The fault matrix: the real ``loom-scim`` CLI as subprocesses against a seeded sandbox behind
``fault_proxy.py``, checked after every run against the server's real state and the store.
Rows: each proxy fault, the sandbox's knobs (faults; ignoring startIndex), 4 concurrent
syncs, SIGINT and SIGKILL mid-sync, and stand-ins answering for the server
(``empty_listing``: an empty replica whose lookups answer a SCIM 404, its held run then
released as the hint says; ``late_404``: a replica lacking 10 users, whose lookups answer
a SCIM 404 after the first 2);
each seed: a fresh sandbox (taking duplicate userNames unless ``--strict-uniqueness``, so a
duplicate create is the connector's) and store, the workspace changing between syncs.
Counted, each failing the run (exit codes are only data points):
  lost               on the server before and after a run that exited 0, not live in the store
  duplicated         an id or an email twice among the store's live records
  falsely deleted    marked deleted in the store while present on the server
  duplicate creates  more than one server user for one requested email (case-insensitive)
  key leaks          the API key in a process's stdout/stderr, the store's files, the proxy log

    make faults      (or .venv/bin/python benchmarks/faults.py --seeds 1 --only reset,sigkill)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from loom_scim_connector.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_proxy import KINDS, FaultProxy, Forward, Request, Response

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OFF = [{"op": "replace", "path": "active", "value": False}]
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": OFF}
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SANDBOX_KINDS = {"sandbox_429": 429, "sandbox_500": 500, "sandbox_503": 503, "sandbox_queue": 0}
STAND_INS = ("empty_listing", "late_404")
# The sandbox ignoring startIndex and count (page 1 to every request): capped at 3 pages'
# worth on odd seeds (no way to read everything: each sync must end incomplete, exit 11),
# every user at once on even seeds (a sync must read them all).
IGNORES_START = "ignores_start"
ALL = (
    "none",
    *KINDS,
    "mixed",
    *SANDBOX_KINDS,
    IGNORES_START,
    "concurrent",
    "sigint",
    "sigkill",
    *STAND_INS,
)
COUNTED = ("lost", "duplicated", "falsely deleted", "duplicate creates", "key leaks")
CLI = Path(sys.executable).with_name("loom-scim")
TIMEOUT = 300.0  # seconds per CLI process
LATENCY = 0.12  # the sandbox's latency per request while a sync is to be interrupted
Started = tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]


def _read(f: IO[bytes]) -> str:
    with f:
        f.seek(0)
        return f.read().decode(errors="replace")


@dataclass
class Row:
    name: str
    runs: int = 0
    faults: int = 0
    exits: Counter[int] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class Scenario:
    """One seed of one row: a fresh sandbox, proxy and store."""

    args: argparse.Namespace
    row: Row
    seed: int
    sb: Sandbox
    px: FaultProxy
    path: Path
    rng: random.Random
    arm: Callable[[], None] | None = None  # called before each CLI process starts
    found: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in COUNTED})
    requested: set[str] = field(default_factory=set)

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """The sandbox's knobs paused, for the script's own reads and writes."""
        s = self.sb.settings
        saved = s.fault_rate, s.fail_next, s.latency, s.ignore_paging, s.page_size_cap
        s.fault_rate, s.fail_next, s.latency, s.ignore_paging, s.page_size_cap = (
            0.0,
            [],
            0.0,
            False,
            None,
        )
        try:
            yield
        finally:
            s.fault_rate, s.fail_next, s.latency, s.ignore_paging, s.page_size_cap = saved

    def server(self) -> dict[str, str]:
        """The server's users right now: id -> userName."""
        with self.quiet():
            body = self.sb.call("GET", "/Users", query={"count": "1000000"})
        return {r["id"]: str(r.get("userName", "")) for r in body.get("Resources", [])}

    def check(self, rcs: list[int], server: set[str]) -> None:
        """After a run (syncs never write to the server, so its state is ``server``)."""
        ids, emails, deleted, rows = [], [], set(), []
        if self.path.exists():
            with closing(sqlite3.connect(self.path, timeout=30)) as db:
                query = "SELECT id, data, deleted_at FROM records WHERE model = 'User'"
                rows = db.execute(query).fetchall()
        for rid, data, deleted_at in rows:
            if deleted_at is not None:
                deleted.add(rid)
            else:
                ids.append(rid)
                emails.append(str(json.loads(data).get("email") or rid).casefold())
        if 0 in rcs:
            self.found["lost"] |= server - set(ids)
        self.found["duplicated"] |= {i for i, n in Counter(ids + emails).items() if n > 1}
        self.found["falsely deleted"] |= deleted & server

    def start(self, *argv: str) -> Started:
        if self.arm is not None:
            self.arm()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_SCIM_")}
        env["LOOM_SCIM_BRIDGE_URL"] = f"{self.px.root}/scim/v2"
        env["LOOM_SCIM_API_KEY"] = self.sb.token
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
        proc = subprocess.Popen([str(CLI), *argv], env=env, stdout=out, stderr=err)  # noqa: S603
        return proc, out, err

    def finish(self, started: Started) -> tuple[int, str]:
        proc, out, err = started
        try:
            rc = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = -1
        texts = [_read(out), _read(err)]
        self.row.runs += 1
        self.row.exits[rc] += 1
        if self.sb.token in texts[0] + texts[1]:
            self.found["key leaks"].add(f"process {self.row.runs}")
        if self.args.verbose and rc != 0:
            last = (texts[1].strip().splitlines() or [""])[-1]
            print(f"    exit {rc}: {last[:160]}", file=sys.stderr)
        return rc, texts[0]

    def sync_argv(self, *extra: str) -> tuple[str, ...]:
        page = str(self.args.page_size)
        return ("sync", "users", "--store", str(self.path), "--page-size", page, *extra)

    def sync(self, *extra: str) -> int:
        server = set(self.server())
        rc, _ = self.finish(self.start(*self.sync_argv(*extra)))
        self.check([rc], server)
        return rc

    def email(self) -> str:
        email = f"Fault.Matrix{len(self.requested) + 1}.S{self.seed}@Acme.example"
        self.requested.add(email.casefold())
        return email

    def create(self) -> None:
        spec: dict[str, Any] = {"email": self.email(), "firstName": "Fault", "lastName": "Matrix"}
        if self.rng.random() < 0.5:
            spec["role"] = "creator"
        rc, out = self.finish(self.start("action", "create-user", "--input", json.dumps(spec)))
        outcome = json.loads(out).get("outcome", "ok") if rc == 0 else f"exit {rc}"
        self.row.counts[f"create: {outcome}"] += 1

    def mutate(self, cli_creates: int) -> None:
        """Behind the connector's back: 3 users deleted, 3 deactivated, 3 created; then
        ``cli_creates`` users created by the connector itself, through the proxy."""
        picks = self.rng.sample(sorted(self.server()), 6)
        with self.quiet():
            for uid in picks[:3]:
                self.sb.call("DELETE", f"/Users/{uid}")
            for uid in picks[3:]:
                self.sb.call("PATCH", f"/Users/{uid}", DEACTIVATE)
            for _ in range(3):
                self.sb.call("POST", "/Users", {"schemas": [CORE_USER], "userName": self.email()})
        for _ in range(cli_creates):
            self.create()

    def close(self, injected: int) -> None:
        by_name = Counter(name.casefold() for name in self.server().values())
        self.found["duplicate creates"] |= {e for e in self.requested if by_name[e] > 1}
        for suffix in ("", "-wal", "-shm", "-journal"):
            part = Path(f"{self.path}{suffix}")
            if part.exists() and self.sb.token.encode() in part.read_bytes():
                self.found["key leaks"].add(f"store{suffix}")
        if any(self.sb.token in line for line in self.px.drain_log()):
            self.found["key leaks"].add("proxy log")
        for name in COUNTED:
            self.row.counts[name] += len(self.found[name])
        self.row.faults += injected


def fault_row(sc: Scenario, kind: str) -> None:
    """Two syncs under the fault (creates between them), then a clean sync."""
    s, rate = sc.sb.settings, sc.args.rate

    def arm() -> None:
        if kind == "sandbox_queue":
            codes = [429, 500, 502, 503, 504]
            s.fail_next = [sc.rng.choice(codes) for _ in range(sc.rng.randint(1, 5))]
        elif kind in SANDBOX_KINDS:
            s.fault_rate, s.fault_status = rate, SANDBOX_KINDS[kind]
        elif kind == IGNORES_START:
            s.ignore_paging = True
            s.page_size_cap = 3 * sc.args.page_size if sc.seed % 2 else None

    if kind not in ("none", IGNORES_START) and kind not in SANDBOX_KINDS:
        sc.px.configure(kind, rate, sc.seed * 100 + ALL.index(kind), write_rate=sc.args.write_rate)
    sc.arm = arm
    sc.sync()
    sc.mutate(cli_creates=sc.args.creates)
    sc.sync()
    sc.arm = None
    sc.px.configure(None)
    s.fault_rate, s.fail_next, s.ignore_paging, s.page_size_cap = 0.0, [], False, None
    sc.sync()


def concurrent_row(sc: Scenario, wait_flag: bool) -> None:
    """Rounds of 4 syncs at once on one store (the last with --wait), then a clean sync."""
    sc.sb.settings.latency = 0.02  # so that the 4 syncs overlap
    for step, extra in enumerate([[], [], ["--wait"] if wait_flag else []]):
        if step:
            sc.mutate(cli_creates=1)
        server = set(sc.server())
        started = [sc.start(*sc.sync_argv(*extra)) for _ in range(4)]
        sc.check([sc.finish(p)[0] for p in started], server)
    sc.sb.settings.latency = 0.0
    sc.sync()


def signal_row(sc: Scenario, sig: signal.Signals, wait_flag: bool) -> None:
    """A sync, then twice: changes, a slow sync interrupted by ``sig``, a clean sync."""
    sc.sync()
    for _ in range(2):
        sc.mutate(cli_creates=1)
        server = set(sc.server())
        sc.sb.settings.latency = LATENCY
        started = sc.start(*sc.sync_argv())
        time.sleep(sc.rng.uniform(0.6, 1.6))
        started[0].send_signal(sig)
        sc.row.faults += 1
        rc, _ = sc.finish(started)
        sc.sb.settings.latency = 0.0
        sc.check([rc], server)
        follow = ["--wait"] if wait_flag and sig == signal.SIGKILL else []
        for _ in range(25):  # a killed sync's lease: wait for it, or retry on "busy"
            if sc.sync(*follow) != 6:
                break
            time.sleep(2)


class Replica:
    """Answers for the server: lists without the ``hidden`` users (``empty``: without any),
    and, once ``lookups_ok`` lookups by id were answered, a SCIM 404 for every lookup."""

    def __init__(self, hidden: set[str], empty: bool, lookups_ok: int) -> None:
        self.hidden, self.empty, self.lookups_ok, self.lookups = hidden, empty, lookups_ok, 0

    async def __call__(self, request: Request, forward: Forward) -> Response | None:
        path, _, query = request.target.partition("?")
        if request.method != "GET" or "/Users" not in path:
            return None
        if not path.rstrip("/").endswith("/Users"):  # a lookup by id
            self.lookups += 1
            if self.lookups <= self.lookups_ok and not self.empty:
                return None
            return _scim(404, {"schemas": [ERROR], "status": "404", "detail": "not found"})
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if "filter" in params:
            return None
        listed: list[dict[str, Any]] = []
        if not self.empty:
            everyone = Request(
                "GET", f"{path}?startIndex=1&count=1000000", "", request.headers, b""
            )
            body = json.loads((await forward(everyone)).body)
            listed = [r for r in body.get("Resources", []) if r["id"] not in self.hidden]
        start = max(1, int(params.get("startIndex") or 1))
        window = listed[start - 1 : start - 1 + int(params.get("count") or 100)]
        page = {"schemas": [LIST], "totalResults": len(listed), "startIndex": start}
        return _scim(200, {**page, "itemsPerPage": len(window), "Resources": window})


def _scim(status: int, body: dict[str, Any]) -> Response:
    headers = [("Content-Type", "application/scim+json")]
    return Response(
        status, "OK" if status == 200 else "Not Found", headers, json.dumps(body).encode()
    )


def stand_in_row(sc: Scenario, kind: str) -> None:
    """A sync, changes, a sync with the stand-in answering (a held run then released, as
    the hint says, still behind the stand-in), then a clean sync."""
    sc.sync()
    sc.mutate(cli_creates=sc.args.creates)
    hidden = set(sc.rng.sample(sorted(sc.server()), 10))
    sc.px.stand_in = Replica(hidden, empty=kind == "empty_listing", lookups_ok=2)
    sc.row.faults += 1
    if sc.sync() == 5:
        with closing(sqlite3.connect(sc.path, timeout=30)) as db:
            held = db.execute("SELECT MAX(run_id) FROM runs WHERE status = 'held'").fetchone()
        server = set(sc.server())
        rc, _ = sc.finish(sc.start(*sc.sync_argv("--release-held", str(held[0]))))
        sc.check([rc], server)
    sc.px.stand_in = None
    sc.sync()


def instrument(sb: Sandbox, strict_uniqueness: bool) -> Counter[str]:
    """Count the faults the sandbox serves; unless strict, accept duplicate userNames."""
    if not strict_uniqueness:
        sb.app.storage._check_uniqueness = lambda *_: None  # type: ignore[attr-defined]
    served: Counter[str] = Counter()
    original = sb.app._fault

    def counting() -> Any:
        fault = original()
        served["sandbox"] += fault is not None
        return fault

    sb.app._fault = counting  # type: ignore[method-assign]
    return served


# Sandboxes are built one at a time: building one makes pydantic parse source with
# ast.parse, and CPython 3.11 can fail two parses at once in two threads with
# "SystemError: AST constructor recursion depth mismatch" (rows run in threads).
_BUILDING = threading.Lock()


def run_row(args: argparse.Namespace, name: str, tmp: Path, wait_flag: bool) -> Row:
    row = Row(name)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        began = time.perf_counter()
        with _BUILDING:  # see _BUILDING
            sandbox = Sandbox(seed_users=args.users, seed=seed)
        with (
            sandbox as sb,
            FaultProxy("127.0.0.1", sb.port, slow_delay=args.slow) as px,
        ):
            served_faults = instrument(sb, args.strict_uniqueness)
            path = tmp / f"{name}-{seed}.sqlite3"
            sc = Scenario(args, row, seed, sb, px, path, random.Random(seed))
            if name == "concurrent":
                concurrent_row(sc, wait_flag)
            elif name in STAND_INS:
                stand_in_row(sc, name)
            elif name in ("sigint", "sigkill"):
                signal_row(sc, signal.SIGINT if name == "sigint" else signal.SIGKILL, wait_flag)
            else:
                fault_row(sc, name)
            sc.close(sum(px.faults.values()) + served_faults["sandbox"])
        seconds = time.perf_counter() - began
        print(f"  {name}, seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return row


def table(rows: list[Row]) -> str:
    total = Row("total", sum(r.runs for r in rows), sum(r.faults for r in rows))
    for row in rows:
        total.exits.update(row.exits)
        total.counts.update(row.counts)
    exits = {
        r.name: " ".join(f"{c}x{n}" for c, n in sorted(r.exits.items())) for r in [*rows, total]
    }
    w = max(15, *map(len, exits.values()))
    fmt = f"{{:<17}} {{:>4}} {{:>6}}  {{:<{w}}}  {{:>4}} {{:>10}} {{:>15}} {{:>17}} {{:>9}}"
    lines = [fmt.format("scenario", "runs", "faults", "exit codes seen", *COUNTED)]
    for row in [*rows, total]:
        counted = [row.counts[name] for name in COUNTED]
        lines.append(fmt.format(row.name, row.runs, row.faults, exits[row.name], *counted))
    rule = "-" * len(lines[0])
    creates = sorted((k[8:], v) for k, v in total.counts.items() if k.startswith("create: "))
    outcomes = "create-user outcomes: " + ", ".join(f"{k} {v}" for k, v in creates)
    return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1], outcomes])


def main() -> int:
    parser = argparse.ArgumentParser(description="The fault matrix of the loom-scim CLI.")
    add = parser.add_argument
    add("--seeds", type=int, default=2, help="seeds per row (default: %(default)s)")
    add("--first-seed", type=int, default=1)
    add("--jobs", type=int, default=2, help="rows run at once (%(default)s): mostly waits")
    add("--only", help=f"comma-separated rows, of: {', '.join(ALL)}")
    add("--users", type=int, default=200, help="seeded users (default: %(default)s)")
    add("--page-size", type=int, default=20, help="default: %(default)s")
    add("--rate", type=float, default=0.15, help="fault rate per request (%(default)s)")
    add("--write-rate", type=float, default=0.5, help="proxy fault rate of writes (%(default)s)")
    add("--creates", type=int, default=3, help="create-user runs per seed (%(default)s)")
    add("--slow", type=float, default=0.6, help="delay of a slow answer (%(default)s s)")
    add("--strict-uniqueness", action="store_true", help="the sandbox refuses dupes (409)")
    add("-v", "--verbose", action="store_true", help="show the last line of non-zero exits")
    args = parser.parse_args()
    names = ALL if not args.only else tuple(n.strip() for n in args.only.split(","))
    if unknown := set(names) - set(ALL):
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    sync_help = subprocess.run([str(CLI), "sync", "--help"], capture_output=True, text=True)  # noqa: S603
    wait_flag = "--wait" in sync_help.stdout
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loom-faults-") as tmp,
        ThreadPoolExecutor(max_workers=args.jobs) as pool,
    ):
        jobs = [pool.submit(run_row, args, name, Path(tmp), wait_flag) for name in names]
        rows = [job.result() for job in jobs]
    print(table(rows))
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}; {args.seeds} seed(s) per row, {args.users} users, page size "
        f"{args.page_size}, fault rate {args.rate} (writes {args.write_rate}), {args.jobs} "
        f"jobs, --wait {'used' if wait_flag else 'absent'}; {time.perf_counter() - started:.0f} s"
    )
    return 1 if any(row.counts[name] for row in rows for name in COUNTED) else 0


if __name__ == "__main__":
    sys.exit(main())
