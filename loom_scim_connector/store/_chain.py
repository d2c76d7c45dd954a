"""The evidence chain: each record's hash covers its content and its predecessor's hash,
so an edited, deleted or reordered record shows (``loom-scim evidence verify``).

The one algorithm, used by both stores when they append, by ``evidence verify`` and
``evidence export``, and written out again, with only the standard library, in
``examples/verify_evidence.py`` for an auditor:

1. Each connection (the ``connection`` field) has its own chain, in ``evidence_id``
   order. The first record's ``prev_hash`` is 64 zeros; every other record's
   ``prev_hash`` is the ``hash`` of the connection's record before it.
2. A record's ``hash`` is the SHA-256 (lower-case hex) of the canonical JSON of its
   fields :data:`CHAINED` plus ``prev_hash`` (every field of an export line except
   ``hash``): keys sorted, no spaces (``separators=(",", ":")``), non-ASCII characters
   as themselves (``ensure_ascii=False``), encoded as UTF-8. ``evidence_id`` and
   ``intent_id`` are JSON integers (or ``null``); the other fields strings (or ``null``).

A chain proves the records were not changed since they were written, not that the
newest were not removed: keep the last ``hash`` that ``evidence verify`` prints (or an
export) somewhere else, and a later chain must still contain it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# The fields a record's hash covers, besides ``prev_hash``: an export line is these, plus
# ``prev_hash`` and ``hash``.
CHAINED = (
    "evidence_id",
    "connection",
    "at",
    "actor",
    "source",
    "action",
    "user_id",
    "email",
    "outcome",
    "request",
    "detail",
    "intent_id",
)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is taken over."""
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def record_hash(record: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of ``record`` (its :data:`CHAINED` fields) after ``prev_hash``."""
    content = {name: record.get(name) for name in CHAINED}
    return hashlib.sha256(canonical({**content, "prev_hash": prev_hash})).hexdigest()


@dataclass(frozen=True)
class Break:
    """Where a chain is broken: the first record that does not verify, and why."""

    evidence_id: Any
    connection: Any
    reason: str

    def __str__(self) -> str:
        return f"evidence {self.evidence_id} (connection {self.connection}): {self.reason}"


@dataclass(frozen=True)
class Verified:
    """A whole chain: how many records, and each connection's last hash (keep it)."""

    records: int
    heads: dict[str, str]


def verify(records: Iterable[Mapping[str, Any]]) -> Verified | Break:
    """Check records (export lines or store rows, in ``evidence_id`` order) link up."""
    last: dict[str, tuple[Any, str]] = {}  # connection -> (evidence_id, hash)
    count = 0
    for record in records:
        count += 1
        rid, key = record.get("evidence_id"), record.get("connection")
        missing = [name for name in (*CHAINED, "prev_hash", "hash") if name not in record]
        if missing:
            return Break(rid, key, f"the record lacks {', '.join(missing)}")
        stored, prev = record["hash"], record["prev_hash"]
        if not isinstance(stored, str) or not isinstance(prev, str):
            return Break(rid, key, "the record has no hash: it was not written by loom-scim")
        if record_hash(record, prev) != stored:
            return Break(
                rid, key, "its content does not match its hash: a field was changed after it "
                "was written (or its hash was)",
            )  # fmt: skip
        before = last.get(str(key))
        if before is None and prev != GENESIS:
            return Break(
                rid, key, "it is the connection's first record but its prev_hash is not 64 "
                "zeros: the records before it were deleted",
            )  # fmt: skip
        if before is not None and prev != before[1]:
            return Break(
                rid, key, f"its prev_hash is not the hash of the record before it (evidence "
                f"{before[0]}): a record between them was deleted or changed, or records "
                "were reordered",
            )  # fmt: skip
        last[str(key)] = (rid, stored)
    return Verified(count, {key: value[1] for key, value in last.items()})
