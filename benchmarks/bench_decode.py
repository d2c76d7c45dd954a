"""Decoding pages through the real code path, without HTTP: for instruction counts.

Renders ``--pages`` list pages of 100 users (the users of ``bench_speed.py``) once, then
for each: the client's JSON parse (``_exchange.json_of`` on an ``httpx.Response``),
``parse_list_response``, the walk's ``PageCursor.accept``, ``user_from_scim`` per record
and the host's ``encode``. Wall times on a loaded machine are noise; count instructions
instead, old code against new (the difference of two runs removes start-up):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/bench_decode.py --pages 200
    valgrind ... --pages 200 --stage none   # start-up and rendering only
    # the old code: PYTHONPATH=<a `git archive main` copy> and run from outside the tree

``--stage`` stops after a stage (none, parse, accept, read, encode) to split the cost.
``--shape`` renders the users as a vendor shapes them (``vendor_shapes.py``: plain,
atlassian, workos...); ``--share`` also prints how many took the fast path (untimed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_speed import LIST_SCHEMA, PAGE, _user
from vendor_shapes import SHAPES, shaped_users

from loom_scim_connector._exchange import json_of
from loom_scim_connector.host.context import encode
from loom_scim_connector.models import scim
from loom_scim_connector.models.scim import (
    UnreadableRecord,
    parse_list_response,
    user_from_scim,
)
from loom_scim_connector.pagination import PageCursor

STAGES = ("none", "parse", "accept", "read", "encode")


def render(pages: int, shape: str = "plain") -> list[bytes]:
    total = pages * PAGE
    shaped = [] if shape == "plain" else shaped_users(shape, total)
    out = []
    for p in range(pages):
        if shape == "plain":
            page = b",".join(_user(i) for i in range(p * PAGE, (p + 1) * PAGE))
        else:
            chunk = shaped[p * PAGE : (p + 1) * PAGE]
            page = json.dumps(chunk, separators=(",", ":")).encode()[1:-1]
        head = f'{{"schemas":["{LIST_SCHEMA}"],"totalResults":{total},'
        head += f'"startIndex":{p * PAGE + 1},"itemsPerPage":{PAGE},"Resources":['
        out.append(head.encode() + page + b"]}")
    return out


def decode(bodies: list[bytes], stage: str) -> int:
    cursor = PageCursor(page_size=PAGE)
    headers = {"content-type": "application/scim+json"}
    done = 0
    for body in bodies:
        if stage == "none":
            continue
        parsed: Any = json_of(
            "GET", "/Users", httpx.Response(200, content=body, headers=headers), 1
        )
        if stage == "parse":
            continue
        page = parse_list_response(parsed)
        fresh = cursor.accept(page)
        if stage == "accept":
            continue
        records = []
        for raw in fresh:
            try:
                records.append(user_from_scim(raw))
            except UnreadableRecord:
                done -= 1  # none in these pages
        if stage == "read":
            done += len(records)
            continue
        done += len(encode(records))
    return done


def share(bodies: list[bytes]) -> tuple[int, int]:
    """How many of the pages' users the fast reader takes (declining none that it reads)."""
    fast = total = 0
    for body in bodies:
        for raw in parse_list_response(json.loads(body)).resources:
            total += 1
            with contextlib.suppress(ValueError):  # pydantic_core.ValidationError: declined
                fast += scim._fast_user is not None and scim._fast_user(raw) is not None
    return fast, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--stage", choices=STAGES, default="encode")
    parser.add_argument("--shape", choices=SHAPES, default="plain")
    parser.add_argument("--share", action="store_true", help="print the fast path's share")
    args = parser.parse_args()
    bodies = render(args.pages, args.shape)
    if args.share:
        fast, total = share(bodies)
        print(f"{args.shape}: {fast} of {total} users read by the fast path ({fast / total:.0%})")
    started = time.process_time()
    done = decode(bodies, args.stage)
    seconds = time.process_time() - started
    users = args.pages * PAGE
    per_user = f"{seconds / users * 1e6:.2f} µs CPU a user" if users else "no users"
    what = f"{args.shape}: {args.pages} pages, {done} records to {args.stage}"
    print(f"{what}: {seconds:.3f} s CPU, {per_user}")


if __name__ == "__main__":
    main()
