"""Per-record cost of reading a SCIM user: json.loads alone, our lean wire model (the
lenient Python reader and the fast path of models/fastread.py, side by side), and
scim2-models' full validation (for comparison; it is what the sandbox uses). Then the
reading alone of a user as each vendor shapes it (``vendor_shapes.py``), both ways.

    make bench      (or .venv/bin/python benchmarks/bench_models.py)
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from loom_scim_connector.models.records import User as LoomUser
from loom_scim_connector.models.scim import (
    ENTERPRISE_USER,
    _fast_user,
    _read_user,
    _record,
    user_from_scim,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vendor_shapes import SHAPES, shaped_users

USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
    "id": "0a5d2f346baa9455e3e70682",
    "externalId": "00u0000002",
    "userName": "hedy.berners-lee2@acme.example",
    "name": {"givenName": "Hedy", "familyName": "Berners-Lee"},
    "emails": [{"value": "hedy.berners-lee2@acme.example", "type": "work", "primary": True}],
    "active": True,
    "loomMemberRole": "viewer",
    ENTERPRISE_USER: {"employeeNumber": "E1002"},
    "meta": {
        "resourceType": "User",
        "created": "2026-11-22T07:26:55.031947Z",
        "lastModified": "2026-11-22T07:26:55.031947Z",
        "version": 'W/"1"',
    },
}
RAW = json.dumps(USER)
N = 20_000


def per_record(label: str, fn: Any, baseline: float | None = None) -> float:
    seconds = min(timeit.repeat(fn, number=N, repeat=5)) / N
    extra = f"  ({seconds / baseline:.1f}x json.loads)" if baseline else ""
    print(f"{label:44} {seconds * 1e6:7.2f} µs/user{extra}")
    return seconds


def main() -> None:
    print(f"one SCIM user ({len(RAW)} bytes), best of 5 x {N:,}")
    base = per_record("json.loads", lambda: json.loads(RAW))
    per_record("json.loads + user_from_scim", lambda: user_from_scim(json.loads(RAW)), base)
    parsed = from_json(RAW, cache_strings="keys")  # as the client parses a page
    lenient = per_record(
        "  reading alone, lenient (the old path)", lambda: _record(LoomUser, _read_user, parsed)
    )
    fast = per_record("  reading alone, fast path (fastread)", lambda: user_from_scim(parsed))
    print(f"{'  fast path / lenient':44} {fast / lenient:7.2f}x")
    record = user_from_scim(USER)
    encode = type(record).__pydantic_serializer__.to_json
    total = per_record(
        "json.loads + user_from_scim + its JSON (the sync)",
        lambda: encode(user_from_scim(json.loads(RAW)), by_alias=True),
        base,
    )
    try:
        from scim2_models import Context, EnterpriseUser, User
    except ImportError:
        print("scim2-models not installed: comparison skipped")
    else:
        model = User[EnterpriseUser]
        # The stock schema has no loomMemberRole and forbids unknown attributes.
        plain = json.dumps({k: v for k, v in USER.items() if k != "loomMemberRole"})
        per_record(
            "json.loads + scim2-models User validation",
            lambda: model.model_validate(
                json.loads(plain), scim_ctx=Context.RESOURCE_QUERY_RESPONSE
            ),
            base,
        )
    print(f"=> 100,000 users: {total * 100_000:.1f} s of parsing in the sync")
    print("reading alone, a user as each vendor shapes it (the first of its workspace):")
    for shape in SHAPES[1:]:
        raw = from_json(json.dumps(shaped_users(shape, 1)[0]), cache_strings="keys")
        way = "fast" if _fast_user is not None and _fast_user(raw) is not None else "declined"
        slow = per_record(f"  {shape}: lenient", lambda raw=raw: _record(LoomUser, _read_user, raw))
        quick = per_record(
            f"  {shape}: user_from_scim ({way})", lambda raw=raw: user_from_scim(raw)
        )
        print(f"{'  ' + shape + ': user_from_scim / lenient':44} {quick / slow:7.2f}x")


if __name__ == "__main__":
    main()
