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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_speed import LIST_SCHEMA, PAGE, _user

from loom_scim_connector._exchange import json_of
from loom_scim_connector.host.context import encode
from loom_scim_connector.models.scim import (
    UnreadableRecord,
    parse_list_response,
    user_from_scim,
)
from loom_scim_connector.pagination import PageCursor

STAGES = ("none", "parse", "accept", "read", "encode")


def render(pages: int) -> list[bytes]:
    total = pages * PAGE
    out = []
    for p in range(pages):
        users = b",".join(_user(i) for i in range(p * PAGE, (p + 1) * PAGE))
        head = f'{{"schemas":["{LIST_SCHEMA}"],"totalResults":{total},'
        head += f'"startIndex":{p * PAGE + 1},"itemsPerPage":{PAGE},"Resources":['
        out.append(head.encode() + users + b"]}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--stage", choices=STAGES, default="encode")
    args = parser.parse_args()
    bodies = render(args.pages)
    started = time.process_time()
    done = decode(bodies, args.stage)
    seconds = time.process_time() - started
    users = args.pages * PAGE
    per_user = f"{seconds / users * 1e6:.2f} µs CPU a user" if users else "no users"
    print(f"{args.pages} pages, {done} records to {args.stage}: {seconds:.3f} s CPU, {per_user}")


if __name__ == "__main__":
    main()
