"""``loom-scim fleet sync-now``: queue syncs now, each one the manifest has.

Each task carries the connection id only. What is queued is recorded in the schedule,
whose dispatch queues a sync again if its message is lost (:mod:`.schedule`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from loom_scim_connector.errors import ConfigError

from ._output import EXIT_FAILURE, EXIT_HELD, EXIT_OK, print_json


def _models(asked: list[str] | None) -> list[str]:
    """The syncs asked for, each one the manifest has; else one line naming those it has."""
    from loom_scim_connector.manifest import load_manifest

    known = list(load_manifest().syncs)
    models = list(dict.fromkeys(asked or ["users"]))
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ConfigError(
            "--model",
            f"no sync named {', '.join(map(repr, unknown))}: the manifest's syncs are "
            f"{', '.join(known)} (repeat --model for several)",
        )
    return models


def sync_now(args: argparse.Namespace, database: str, out: TextIO, err: TextIO) -> int:
    from .app import make_app
    from .connections import ConnectionRegistry

    models = _models(args.model)  # before anything is looked up or queued
    with ConnectionRegistry(database) as registry:
        known = [c.id for c in registry.list()]
        ids: list[str] = known if args.all else list(args.ids)
        if not ids:
            raise ConfigError("sync-now", "name at least one connection id, or pass --all")
        for connection_id in ids:
            if connection_id not in known:
                registry.get(connection_id)  # raises ConnectionNotFoundError
    app = make_app()
    sync_task = app.fleet_tasks[0]
    queued_at = time.time()  # before sending: a run may begin before it is recorded
    sent = [
        (cid, model, sync_task.apply_async(args=[cid, model])) for cid in ids for model in models
    ]
    _watch(database, sent, queued_at)
    for cid, model, result in sent:
        err.write(f"loom-scim: {model} sync of {cid} queued (task {result.id})\n")
    if not args.wait:
        return EXIT_OK
    code = EXIT_OK
    for cid, _model, result in sent:
        try:
            report = result.get(timeout=args.timeout, propagate=True)
        except Exception as exc:  # the task's error, rebuilt by Celery
            err.write(f"loom-scim: {cid}: {type(exc).__name__}: {exc}\n")
            code = EXIT_FAILURE
            continue
        print_json(out, report)
        if report.get("status") == "held" and code == EXIT_OK:
            code = EXIT_HELD
    return code


def _watch(database: str, sent: list[tuple[str, str, Any]], at: float) -> None:
    """Record the queued syncs in the schedule, where the dispatch's sweep queues them
    again should their messages be lost (:mod:`.schedule`)."""
    from loom_scim_connector.manifest import load_manifest

    from .schedule import Dispatcher, frequencies

    every = frequencies(load_manifest())
    with Dispatcher(database) as dispatcher:
        for cid, model, result in sent:
            interval = every.get(model)
            if interval is not None:  # else not a scheduled sync: nothing watches it
                dispatcher.record_queued(cid, model, str(result.id), interval, at=at)
