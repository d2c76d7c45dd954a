"""How far the users sync is from a bare HTTP loop, over the same pages, as whole processes.

A cheap SCIM list server runs in its own process (asyncio streams, HTTP/1.1 keep-alive,
pages pre-rendered once as bytes), so it never shares a GIL with the client measured.
Each client is a separate process, run ``--repeat`` times (median shown):

* ``raw httpx loop``: ``httpx.Client`` GETs each page in turn, ``json.loads``, counts;
* ``raw 8 in flight``: page 1, then the rest planned from ``totalResults`` and fetched
  by 8 threads, each with its own ``httpx.Client`` (``json.loads``, count);
* ``loom-scim sync users``: the real CLI, a fresh SQLite store in a temporary folder,
  records to ``/dev/null``;
* ``loom-scim resync (unchanged)``: the same sync again on a store that already holds
  every user as served (the steady state of a scheduled sync);
* ``scim2-client query``: scim2-client's ``query(User, SearchRequest(...))`` page after
  page (skipped when scim2-client is not installed: ``pip install -e '.[bench]'``).

Wall seconds, the ratio to the raw loop, the child's CPU seconds (user + system: on a
shared machine the steadier figure) and peak RSS (``wait4``). Then the latency scenario:
every request answered 50 ms late (10k users, pages of 100), the raw sequential loop,
the raw 8-in-flight loop and the connector, with the most requests the server saw at
once. Then peak RSS as the user count grows (``--memory``; add 1000000 for the 1M run,
about a minute), and where the connector's time goes: one run under cProfile, its
shares (``_phases``) applied to the unprofiled CPU seconds. Each goal: met, or short
by how much and what the time is spent on.

    .venv/bin/python benchmarks/bench_speed.py [--users 100000] [--memory 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGE = 100
PREFIX = "/scim/v2"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
HERE = Path(__file__).resolve()
BIN = Path(sys.executable).parent


# -- the server (its own process) --------------------------------------------------------


def _user(i: int) -> bytes:
    return json.dumps(
        {
            "schemas": [USER_SCHEMA],
            "id": f"{i:024x}",
            "userName": f"user{i}@acme.example",
            "name": {"givenName": "User", "familyName": f"Number{i}"},
            "displayName": f"User Number{i}",
            "active": i % 17 != 0,
            "externalId": f"00u{i:07d}",
            "emails": [{"value": f"user{i}@acme.example", "primary": True, "type": "work"}],
            "meta": {
                "resourceType": "User",
                "created": "2026-01-01T00:00:00Z",
                "lastModified": "2026-01-02T00:00:00Z",
                "location": f"https://bench.example{PREFIX}/Users/{i:024x}",
            },
        },
        separators=(",", ":"),
    ).encode()


class Pages:
    """Every list page as ready bytes: rendered once, served many times."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.users = [_user(i) for i in range(1, total + 1)]
        self.cache: dict[tuple[int, int], bytes] = {}
        for start in range(1, total + 2, PAGE):
            self.page(start, PAGE)

    def page(self, start: int, count: int) -> bytes:
        key = (start, count)
        body = self.cache.get(key)
        if body is None:
            window = self.users[start - 1 : start - 1 + count]
            head = (
                f'{{"schemas":["{LIST_SCHEMA}"],"totalResults":{self.total},'
                f'"startIndex":{start},"itemsPerPage":{len(window)},"Resources":['
            ).encode()
            body = head + b",".join(window) + b"]}"
            self.cache[key] = body
        return body


@dataclass
class Counters:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


def _response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/scim+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def serve(total: int, delay: float) -> None:
    pages = Pages(total)
    counters = Counters()

    async def answer(target: str) -> bytes:
        url = urlsplit(target)
        if url.path == "/_stats":
            stats = json.dumps(counters.__dict__).encode()
            counters.requests = counters.max_in_flight = 0
            return _response(200, stats)
        counters.requests += 1
        counters.in_flight += 1
        counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
        try:
            if delay:
                await asyncio.sleep(delay)
            if url.path.rstrip("/") != f"{PREFIX}/Users":
                error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"]}
                return _response(404, json.dumps({**error, "status": "404"}).encode())
            query = parse_qs(url.query)
            start = max(1, int(query.get("startIndex", ["1"])[0]))
            count = max(0, int(query.get("count", [str(PAGE)])[0]))
            return _response(200, pages.page(start, count))
        finally:
            counters.in_flight -= 1

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                writer.write(await answer(target))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


class Server:
    """The list server in a child process, for a ``with`` block."""

    def __init__(self, total: int, delay: float = 0.0) -> None:
        self.args = [sys.executable, str(HERE), "_serve", str(total), str(delay)]

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()

    def stats(self) -> dict[str, int]:
        import httpx

        answer: dict[str, int] = httpx.get(f"http://127.0.0.1:{self.port}/_stats").json()
        return answer


# -- the clients (each its own process) -----------------------------------------------


def raw_loop(url: str) -> int:
    import httpx

    seen = 0
    start = 1
    with httpx.Client(base_url=url) as client:
        while True:
            response = client.get("/Users", params={"startIndex": start, "count": PAGE})
            resources = json.loads(response.content).get("Resources", [])
            seen += len(resources)
            start += len(resources)
            if len(resources) < PAGE:
                return seen


def raw_parallel(url: str, in_flight: int = 8) -> int:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    local = threading.local()

    def page(start: int) -> list[object]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url)
        response = client.get("/Users", params={"startIndex": start, "count": PAGE})
        resources: list[object] = json.loads(response.content).get("Resources", [])
        return resources

    with httpx.Client(base_url=url) as first:
        body = json.loads(first.get("/Users", params={"startIndex": 1, "count": PAGE}).content)
    seen = len(body.get("Resources", []))
    starts = range(1 + PAGE, int(body.get("totalResults", 0)) + 1, PAGE)
    with ThreadPoolExecutor(in_flight) as pool:
        for resources in pool.map(page, starts):
            seen += len(resources)
    return seen


def scim2_loop(url: str) -> int:
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import SearchRequest, User

    seen = 0
    start = 1
    with httpx2.Client(base_url=url) as http:
        scim = SyncSCIMClient(http, resource_models=[User])
        while True:
            page = scim.query(User, query_parameters=SearchRequest(start_index=start, count=PAGE))
            resources = getattr(page, "resources", None) or []
            seen += len(resources)
            start += len(resources)
            if len(resources) < PAGE:
                return seen


def has_scim2_client() -> bool:
    try:
        import httpx2  # noqa: F401
        import scim2_client  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Timing:
    seconds: float
    rss_mib: float
    cpu: float = 0.0  # user + system seconds of the child


def run_child(args: list[str], env: dict[str, str] | None = None) -> Timing:
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{args[:4]} exited {proc.returncode}:\n{tail}")
    return Timing(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def client_runs(
    url: str, tmp: Path, scim2: bool = True
) -> dict[str, list[str] | tuple[list[str], dict[str, str]]]:
    env = {
        **os.environ,
        "LOOM_SCIM_BRIDGE_URL": url,
        "LOOM_SCIM_API_KEY": "bench-key",
    }
    env.pop("LOOM_SCIM_API_KEY_EXPIRES_AT", None)
    cli = str(BIN / "loom-scim") if (BIN / "loom-scim").exists() else shutil.which("loom-scim")
    assert cli, "loom-scim is not installed"
    runs: dict[str, list[str] | tuple[list[str], dict[str, str]]] = {
        "raw httpx loop": [sys.executable, str(HERE), "_raw", url],
        "raw 8 in flight": [sys.executable, str(HERE), "_raw8", url],
        "loom-scim sync users": (
            [cli, "sync", "users", "--store", str(tmp / "STORE"), "--page-size", str(PAGE)],
            env,
        ),
        "loom-scim resync (unchanged)": (
            [cli, "sync", "users", "--store", str(tmp / "KEPT"), "--page-size", str(PAGE)],
            env,
        ),
    }
    if scim2 and has_scim2_client():
        runs["scim2-client query"] = [sys.executable, str(HERE), "_scim2", url]
    return runs


def measure(
    spec: list[str] | tuple[list[str], dict[str, str]], tmp: Path, repeat: int
) -> list[Timing]:
    args, env = (spec, None) if isinstance(spec, list) else spec
    timings = []
    kept = tmp / "kept.sqlite3"
    if any("KEPT" in a for a in args) and not kept.exists():  # filled once, not timed
        run_child([a.replace("KEPT", kept.name) for a in args], env)
    for n in range(repeat):
        store = tmp / f"run{time.monotonic_ns()}-{n}.sqlite3"
        names = [a.replace("STORE", store.name).replace("KEPT", kept.name) for a in args]
        timings.append(run_child(names, env))
        store.unlink(missing_ok=True)
    return timings


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.seconds for t in timings),
        statistics.median(t.rss_mib for t in timings),
        statistics.median(t.cpu for t in timings),
    )


def verdict(
    label: str,
    value: float,
    goal: float,
    *,
    at_most: bool = True,
    unit: str = "x",
    spent: str = "",
) -> str:
    sign = "<=" if at_most else ">="
    head = f"  goal {label} {sign} {goal:g}{unit}:"
    if value <= goal if at_most else value >= goal:
        return f"{head} met ({value:.2f}{unit})"
    gap = value / goal if at_most else goal / value
    return f"{head} SHORT by {gap:.2f}x ({value:.2f}{unit}){'; spent on ' + spent if spent else ''}"


HEADER = f"{'client':<30} {'seconds':>8} {'x raw':>6} {'users/s':>9} {'CPU s':>6} {'RSS MiB':>8}"


def row(name: str, users: int, m: Timing, baseline: float) -> str:
    return (
        f"{name:<30} {m.seconds:>8.2f} {m.seconds / baseline:>6.2f} "
        f"{users / m.seconds:>9,.0f} {m.cpu:>6.2f} {m.rss_mib:>8.1f}"
    )


def throughput(users: int, repeat: int, scim2: bool = True) -> dict[str, Timing]:
    print(f"== {users:,} users, pages of {PAGE}, loopback, median of {repeat}")
    print(HEADER)
    results: dict[str, Timing] = {}
    with Server(users) as server, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        baseline = None
        for name, spec in client_runs(server.url, tmp, scim2).items():
            m = median(measure(spec, tmp, repeat))
            results[name] = m
            baseline = baseline or m.seconds
            print(row(name, users, m, baseline), flush=True)
    return results


def memory(sizes: list[int]) -> None:
    """Peak RSS of the connector's sync alone, as the number of users grows."""
    print("== peak RSS of loom-scim sync users, one run each")
    print(f"{'users':>10} {'seconds':>8} {'peak RSS MiB':>13}")
    for users in sizes:
        with Server(users) as server, tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            m = measure(client_runs(server.url, tmp, False)["loom-scim sync users"], tmp, 1)[0]
            print(f"{users:>10,} {m.seconds:>8.2f} {m.rss_mib:>13.1f}", flush=True)


def latency(users: int, delay: float, repeat: int) -> dict[str, Timing]:
    print(
        f"== {users:,} users, pages of {PAGE}, {delay * 1000:.0f} ms per request, "
        f"median of {repeat}"
    )
    print(f"{'client':<30} {'seconds':>8} {'x raw':>6} {'requests':>9} {'max in flight':>14}")
    results: dict[str, Timing] = {}
    with Server(users, delay) as server, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        runs = client_runs(server.url, tmp)
        baseline = None
        for name in ("raw httpx loop", "raw 8 in flight", "loom-scim sync users"):
            server.stats()
            m = median(measure(runs[name], tmp, repeat))
            stats = server.stats()
            baseline = baseline or m.seconds
            results[name] = m
            print(
                f"{name:<30} {m.seconds:>8.2f} {m.seconds / baseline:>6.2f} "
                f"{stats['requests'] // repeat:>9} {stats['max_in_flight']:>14}",
                flush=True,
            )
    return results


def profile(users: int) -> dict[str, float]:
    """One sync under cProfile: each phase's share of the main thread's time."""
    sys.path.insert(0, str(HERE.parent))
    from _phases import phases

    with Server(users) as server, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        spec = client_runs(server.url, tmp, False)["loom-scim sync users"]
        assert isinstance(spec, tuple)
        env = spec[1]
        out = tmp / "sync.prof"
        args = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "loom_scim_connector"]
        args += ["sync", "users", "--store", str(tmp / "p.sqlite3"), "--page-size", str(PAGE)]
        run_child(args, env)
        return phases(str(out))


def spent_on(shares: dict[str, float], cpu: float, top: int = 4) -> str:
    return ", ".join(f"{name} {share * cpu:.2f} s" for name, share in list(shares.items())[:top])


def report(
    fast: dict[str, Timing], slow: dict[str, Timing] | None, shares: dict[str, float], users: int
) -> None:
    ours, raw = fast["loom-scim sync users"], fast["raw httpx loop"]
    print(
        f"== where the connector's {ours.cpu:.2f} CPU seconds go (cProfile shares of the "
        "main thread; the GET threads' HTTP work is in the CPU seconds, not in the shares)"
    )
    for name, share in shares.items():
        print(f"  {name:<36} {share:>6.1%} {share * ours.cpu:>6.2f} s")
    spent = spent_on(shares, ours.cpu)
    print("== goals")
    more = f"{ours.cpu - raw.cpu:.2f} CPU s more than the raw loop: {spent}"
    size = f"{users // 1000}k"
    print(verdict(f"{size}: connector / raw loop", ours.seconds / raw.seconds, 1.3, spent=more))
    print(verdict(f"{size}: peak RSS", ours.rss_mib, 60, unit=" MiB"))
    if "scim2-client query" in fast:
        speedup = fast["scim2-client query"].seconds / ours.seconds
        print(verdict("speed-up over scim2-client", speedup, 10, at_most=False, spent=spent))
    if slow is not None:
        conn = slow["loom-scim sync users"]
        seq, par = slow["raw httpx loop"], slow["raw 8 in flight"]
        beyond = f"{conn.seconds - par.seconds:.2f} s beyond the 8-in-flight loop"
        own = f"{conn.cpu:.2f} CPU s of its own (start-up, the records)"
        label = "latency: connector / sequential loop"
        print(verdict(label, conn.seconds / seq.seconds, 0.3, spent=beyond))
        label = "latency: connector / 8-in-flight loop"
        print(verdict(label, conn.seconds / par.seconds, 1.2, spent=own))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        role, *rest = sys.argv[1:]
        if role == "_serve":
            asyncio.run(serve(int(rest[0]), float(rest[1])))
        elif role == "_raw":
            print(raw_loop(rest[0]))
        elif role == "_raw8":
            print(raw_parallel(rest[0]))
        elif role == "_scim2":
            print(scim2_loop(rest[0]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="10000, 100000 or 1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-users", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-scim2", action="store_true", help="skip scim2-client")
    parser.add_argument(
        "--memory",
        default=os.environ.get("BENCH_MEMORY", "10000,100000"),
        metavar="N,N,...",
        help="user counts for the peak-RSS run (add 1000000 for the 1M run, about a "
        "minute, or set BENCH_MEMORY; '' skips it)",
    )
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    fast = throughput(args.users, args.repeat, not args.no_scim2)
    slow = None if args.no_latency else latency(args.latency_users, args.delay, args.repeat)
    if args.memory:
        memory([int(n) for n in args.memory.split(",")])
    report(fast, slow, profile(args.users), args.users)


if __name__ == "__main__":
    main()
