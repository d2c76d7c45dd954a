"""The fleet's Celery app: RabbitMQ or Redis as the broker, and delivery settings that
survive a killed worker.

Run a worker with ``celery -A loom_scim_connector.fleet.app worker`` (environment:
``LOOM_SCIM_FLEET_BROKER_URL``, ``amqp://`` for RabbitMQ or ``redis://``, default
``redis://127.0.0.1:6379/0``; ``LOOM_SCIM_FLEET_REDIS_URL`` for the results and the
politeness semaphore; ``LOOM_SCIM_FLEET_DATABASE_URL``; ``LOOM_SCIM_FLEET_FERNET_KEY``;
optionally ``LOOM_SCIM_FLEET_QUEUE``, default ``loom-scim``).

Reliability, as Celery's docs describe it:

* ``task_acks_late``: a message is acknowledged when its task *ends*, not when a worker
  takes it, so a task whose worker dies is delivered again (at least once; the store's
  lease makes a repeated sync harmless and the ledger makes a repeated action a no-op).
* ``task_reject_on_worker_lost``: when the pool's child process running a task is killed
  (SIGKILL, the OOM killer), the message is requeued rather than acknowledged as failed.
* **RabbitMQ** (recommended): a durable queue, persistent messages and publisher
  confirms (``confirm_publish``: ``apply_async`` returns once the broker has the
  message). When a worker dies whole (its main process killed, a machine lost), its
  connection closes and RabbitMQ puts its unacknowledged messages back at once (a lost
  machine is noticed by the AMQP heartbeat, :data:`HEARTBEAT`). RabbitMQ's
  ``consumer_timeout`` (30 min by default) must exceed a sync's hard time limit:
  the queue asks for :data:`.settings.CONSUMER_TIMEOUT_MS` (RabbitMQ 3.11.15 and later
  honour it); on older servers set ``consumer_timeout`` in ``rabbitmq.conf``
  (``compose.yaml`` does).
* **Redis**: ``visibility_timeout``: an unacknowledged message is redelivered only
  after it; set to twice the sync's hard time limit plus the busy retry
  (:func:`.settings.visibility_timeout`, just over 2 h by default), so only a task whose
  worker is gone is redelivered, and swept for every tenth of it. A message popped by a
  worker killed before it recorded it as unacknowledged is lost to the transport: the
  dispatch's sweep queues that sync again (:mod:`.schedule`).
* ``worker_prefetch_multiplier = 1``: a worker holds one message more than it runs, not a
  batch that would wait behind a long sync.
* JSON only: no pickle, so a message can be read (and scanned for secrets) by anything.

Celery beat (``loom-scim fleet beat``) runs one periodic task, the dispatch, which
queues each connection's due syncs from the schedule kept in PostgreSQL
(:mod:`.schedule`). Run exactly one beat.

Results go to Redis (``celery-task-meta-*`` keys, kept a day): sync counts and action
outputs, never a key.
"""

from __future__ import annotations

from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from kombu import entity

from . import settings, tasks

# Seconds between AMQP heartbeats: a worker whose machine is gone is taken for dead
# (and its messages requeued) after two missed ones.
HEARTBEAT = 20
# kombu's entities are untyped: taken as Any.
Exchange: Any = entity.Exchange
Queue: Any = entity.Queue


def make_app(broker_url: str | None = None, *, queue: str | None = None) -> Any:
    """A Celery app for the fleet; every argument defaults to the environment."""
    broker = broker_url or settings.broker_url()
    name = queue or settings.queue()
    kind = settings.broker_kind(broker)
    backend = settings.redis_url(broker)
    app = Celery("loom_scim_fleet", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_default_queue=name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        # The broker dropped the connection: let running syncs finish (Celery 6 would
        # cancel them by default); their messages come again and a sync that succeeded
        # is not run twice (:func:`.tasks._done_already`).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        **(_amqp(name) if kind == "amqp" else _redis()),
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=86400,
        task_track_started=True,
        enable_utc=True,
        beat_schedule={
            "loom-scim-dispatch": {
                "task": tasks.DISPATCH_TASK,
                "schedule": settings.dispatch_seconds(),
                # A late dispatch is worth nothing: the next tick comes soon.
                "options": {"expires": settings.dispatch_seconds()},
            }
        },
    )
    app.fleet_tasks = tasks.register(app)
    return app


def _redis() -> dict[str, Any]:
    visibility = settings.visibility_timeout()
    return {
        "broker_transport_options": {
            "visibility_timeout": visibility,
            # Sweep for messages past their visibility timeout every tenth of it (kombu's
            # default is every 100 s, which only matters when the timeout is short).
            "unacked_restore_interval": max(1, min(10, visibility // 10)),
            "unacked_restore_throttle": 1,
        }
    }


def _amqp(name: str) -> dict[str, Any]:
    """A durable queue of persistent messages, publisher confirms, a heartbeat."""
    exchange = Exchange(name, type="direct", durable=True)
    arguments = {"x-consumer-timeout": settings.CONSUMER_TIMEOUT_MS}
    return {
        "task_queues": [Queue(name, exchange, routing_key=name, queue_arguments=arguments)],
        "task_default_exchange": name,
        "task_default_routing_key": name,
        "task_default_delivery_mode": "persistent",
        "broker_transport_options": {"confirm_publish": True},
        "broker_heartbeat": HEARTBEAT,
    }


app = make_app()
