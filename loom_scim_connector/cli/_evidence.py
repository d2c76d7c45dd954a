"""``loom-scim evidence verify|export|resolve``: the chain's checks and export live in
:mod:`loom_scim_connector.store._chain`; here, only what is printed and the exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
from typing import TextIO

from loom_scim_connector.audit.offboard import default_actor, resolve_pending, unresolved
from loom_scim_connector.host import LocalHost
from loom_scim_connector.host.local import open_store
from loom_scim_connector.host.report import shown_store as _shown
from loom_scim_connector.store import StoreError
from loom_scim_connector.store._chain import Verified, verify

from ._connect import connect
from ._exit import EXIT_FAILURE, EXIT_OK
from ._offboard import offboard_table

log = logging.getLogger("loom_scim_connector")
# The store is opened under no connection: verify and export cover every connection.
_EVERY = ""


def evidence_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.evidence_command == "resolve":
        return asyncio.run(_resolve(args, out))
    postgres = str(args.store).startswith(("postgresql://", "postgres://"))
    if not postgres and not Path(args.store).is_file():  # never a new, empty store
        raise StoreError(str(args.store), "no such store file")
    store = open_store(args.store, _EVERY)
    try:
        records = store.evidence_chain(every_connection=True)
    finally:
        store.close()
    if args.evidence_command == "export":
        return _export(args, records, out)
    result = verify(records)
    if not isinstance(result, Verified):
        log.error("the evidence chain of %s is broken at %s", _shown(args.store), result)
        return EXIT_FAILURE
    out.write(f"the evidence chain is whole: {result.records} records\n")
    for connection, head in sorted(result.heads.items()):
        out.write(f"  {connection}  last hash {head}\n")
    return EXIT_OK


def _export(args: argparse.Namespace, records: list[dict[str, object]], out: TextIO) -> int:
    lines = "".join(
        json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n" for record in records
    )
    if args.output is None:
        out.write(lines)
    else:
        args.output.write_text(lines, encoding="utf-8")
        log.info("%d records written to %s", len(records), args.output)
    return EXIT_OK


async def _resolve(args: argparse.Namespace, out: TextIO) -> int:
    host = LocalHost(connect(args), store=args.store)
    try:
        resolved = await resolve_pending(host, args.actor or default_actor())
        left = unresolved(host.store)
    finally:
        host.close()
    if resolved:
        out.write(offboard_table(resolved))
    log.info(
        "%d resolved, %d still unknown; evidence in %s",
        len(resolved) - len(left),
        len(left),
        _shown(args.store),
    )
    return EXIT_FAILURE if left else EXIT_OK
