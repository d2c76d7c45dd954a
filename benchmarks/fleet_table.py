"""The table ``fleet_load.py`` prints: one column per broker, the zeros last."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

from fleet_checks import Runs, percentile

BROKERS = {"amqp": "RabbitMQ", "redis": "Redis"}
LARGE = 2000  # members: the large workspaces (none of 2,000 to 19,999 in the full run)


def _spread(runs: Runs, since: float, ids: set[str]) -> tuple[str, float]:
    """p50 / p95 / max seconds from queued to finished, and the p95."""
    waits = [runs.finished[c] - since for c in ids if c in runs.finished]
    if not waits:
        return "-", float("nan")
    p95 = percentile(waits, 95)
    return f"{percentile(waits, 50):.1f} / {p95:.1f} / {max(waits):.1f} s", p95


def _rate(runs: Runs, since: float) -> str:
    if not runs.finished:
        return "-"
    span = max(runs.finished.values()) - since
    return f"{len(runs.finished) / span * 60:.0f} ({span:.0f} s)"


def rows(
    args: argparse.Namespace, f: dict[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    small: set[str] = f["small"]
    large = {c for c, n in f["size"].items() if n >= LARGE}
    waiting: set[str] = f["waiting"]
    p1_small, _ = _spread(f["p1"], f["t1"], small)
    p1_large, _ = _spread(f["p1"], f["t1"], large)
    p2_small, base = _spread(f["p2"], f["t2"], small)
    p3_small, p95 = _spread(f["p3"], f["t3"], small - waiting)
    p3_large, _ = _spread(f["p3"], f["t3"], large - waiting)
    interrupted: set[str] = f["interrupted"]
    done = [t - f["killed_at"] for t in f["recovered"].values()]
    if waiting:
        kill = (
            f"{len(interrupted)} interrupted, {len(done)} delivered again within the run; "
            f"{len(waiting)} syncs left unfinished, in Redis's unacked hash until the "
            f"visibility timeout ({f['visibility']} s)"
        )
    else:
        again = [t - f["killed_at"] for t in f["redelivered"].values()]
        kill = (
            f"{len(interrupted)} interrupted; delivered again within {max(again, default=0):.1f} s"
            f", all succeeded within {max(done, default=0):.1f} s"
        )
        if len(done) < len(interrupted):
            kill += f" ({len(interrupted) - len(done)} under another task id)"
    mains = [m for m, _ in f["memory"]]
    pools = [p for _, p in f["memory"]]
    store = f["store"]
    per_k = f["table_bytes"] / max(store.live, 1) * 1000 / 1024
    zeros = {
        "syncs lost": f["lost_syncs"],
        "users lost": store.lost,
        "users duplicated": store.duplicated,
        "users falsely deleted": store.falsely_deleted,
        "deletions missed": store.not_deleted,
        "API keys in the broker or logs": f["key_leaks"],
        f"workspaces over K={args.max_in_flight} in flight": f["over_k"],
    }
    table = [
        ("isolated in", f["isolated"]),
        ("phase 1 (first syncs): syncs per minute", _rate(f["p1"], f["t1"])),
        ("phase 1: small, queued to done p50/p95/max", p1_small),
        ("phase 1: large, queued to done p50/p95/max", p1_large),
        ("phase 2 (small alone): queued to done", p2_small),
        ("phase 3 (all, a kill): syncs per minute", _rate(f["p3"], f["t3"])),
        ("phase 3: small, queued to done p50/p95/max", p3_small),
        ("phase 3: small p95 / phase 2's (goal 2x)", f"{p95 / base:.2f}x"),
        ("phase 3: large, queued to done p50/p95/max", p3_large),
        ("phase 3: a worker SIGKILLed whole", kill),
        ("large syncs put off for a slot (all phases)", str(f["large_waits"])),
        ("max requests in flight per workspace", str(f["max_in_flight"])),
        (
            "peak memory: worker main / pool process",
            f"{max(mains, default=0) / 1024:.0f} / {max(pools, default=0) / 1024:.0f} MiB",
        ),
        ("PostgreSQL tables per 1,000 members", f"{per_k:.0f} KiB"),
        *((name, str(value)) for name, value in zeros.items()),
    ]
    return table, zeros


def print_table(
    args: argparse.Namespace,
    sizes: list[int],
    figures: dict[str, dict[str, Any]],
    total: float,
    logs: Path,
) -> int:
    small = sum(1 for s in sizes if s < 200)
    large = sorted((s for s in sizes if s >= LARGE), reverse=True)
    print(
        f"\n{os.cpu_count()} cores, {platform.machine()}, {_cpu()}; Python "
        f"{platform.python_version()}"
    )
    print(
        f"{len(sizes)} workspaces, {sum(sizes)} members: {small} under 200, "
        f"{len(sizes) - small - len(large)} of 200 to 1,999, {len(large)} of "
        f"{', '.join(map(str, large))}; {args.workers} workers x prefork {args.concurrency}, "
        f"K = {args.max_in_flight}, {args.latency * 1000:.0f} ms a request; default time limits; "
        f"large syncs at once: {args.max_large_syncs or 'default (2)'}, large from "
        f"{args.large_members or 'default (5000)'} members"
    )
    columns = {kind: rows(args, f) for kind, f in figures.items()}
    names = [name for name, _ in next(iter(columns.values()))[0]]
    width = max(map(len, names))
    print()
    print(f"| {'figure':<{width}} | " + " | ".join(BROKERS[k] for k in columns) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("---" for _ in columns) + "|")
    for i, name in enumerate(names):
        print(f"| {name:<{width}} | " + " | ".join(c[0][i][1] for c in columns.values()) + " |")
    print(f"\nthe whole run: {total / 60:.1f} min; worker logs: {logs}")
    bad = [f"{BROKERS[k]}: {n}" for k, c in columns.items() for n, v in c[1].items() if v]
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
