"""Check an export of loom-scim's offboarding evidence, with Python's standard library only.

    loom-scim evidence export --output evidence.jsonl
    python verify_evidence.py evidence.jsonl

Exit 0 and the count (and each connection's last hash: keep it) when the chain is whole;
exit 1 naming the first broken record, and why, when it is not. The algorithm (also in
``loom-scim evidence --help``):

1. Group the lines by their "connection", keeping their order. The first record of a
   connection has "prev_hash" 64 zeros; every other has the "hash" of the record before it.
2. A record's "hash" is the SHA-256 (lower-case hex) of the canonical JSON of the line
   without its "hash" key: keys sorted, no spaces, non-ASCII as itself, UTF-8.

The chain shows that no record was changed, deleted or moved since it was written; it
cannot show that the newest records were not removed: compare the last hash with one
you kept from an earlier check.
"""

from __future__ import annotations

import hashlib
import json
import sys

GENESIS = "0" * 64


def line_hash(record: dict[str, object]) -> str:
    content = {key: value for key, value in record.items() if key != "hash"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check(lines: list[str]) -> tuple[bool, str]:
    last: dict[str, tuple[object, str]] = {}
    count = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return False, f"line {number}: not JSON"
        if not isinstance(record, dict) or "hash" not in record or "prev_hash" not in record:
            return False, f"line {number}: not a chained record (no hash or prev_hash)"
        count += 1
        where = f"line {number} (evidence {record.get('evidence_id')})"
        if line_hash(record) != record["hash"]:
            return False, f"{where}: its content does not match its hash (a field was changed)"
        connection = str(record.get("connection"))
        before = last.get(connection)
        expected = GENESIS if before is None else before[1]
        if record["prev_hash"] != expected:
            if before is None:
                why = "the first record of its connection, but prev_hash is not 64 zeros"
            else:
                why = f"prev_hash is not the hash of the record before it (evidence {before[0]})"
            return False, f"{where}: {why}: a record was deleted, changed or moved"
        last[connection] = (record.get("evidence_id"), record["hash"])
    heads = "; ".join(f"{name}: last hash {value[1]}" for name, value in sorted(last.items()))
    return True, f"the chain is whole: {count} records" + (f" ({heads})" if heads else "")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: verify_evidence.py EXPORT.jsonl", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as export:
        whole, said = check(export.read().splitlines())
    print(said, file=sys.stdout if whole else sys.stderr)
    return 0 if whole else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
