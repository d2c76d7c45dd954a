"""The fleet's settings: environment variables and time limits, in one place.

The time limits and the broker's visibility timeout go together. With ``acks_late``, a
task's message stays unacknowledged in Redis until the task ends; the Redis transport
redelivers any message not acknowledged within ``visibility_timeout`` to another worker.
So the visibility timeout must exceed the longest a task can run (its hard time limit)
plus the longest ``countdown`` it can be retried with, or a healthy long sync would be
run twice (the store's lease would refuse the second, but it is wasted work).
"""

from __future__ import annotations

import os

from loom_scim_connector.errors import ConfigError

ENV_BROKER = "LOOM_SCIM_FLEET_BROKER_URL"
ENV_DATABASE = "LOOM_SCIM_FLEET_DATABASE_URL"
ENV_QUEUE = "LOOM_SCIM_FLEET_QUEUE"
ENV_BUSY_RETRY = "LOOM_SCIM_FLEET_BUSY_RETRY_SECONDS"
ENV_DISPATCH = "LOOM_SCIM_FLEET_DISPATCH_SECONDS"
ENV_IN_FLIGHT = "LOOM_SCIM_FLEET_MAX_IN_FLIGHT"

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "loom-scim"

# A sync is killed (hard limit) after an hour; the soft limit lets it finish as
# cancelled, deleting nothing, a minute earlier.
SYNC_TIME_LIMIT = 3600
SYNC_SOFT_TIME_LIMIT = SYNC_TIME_LIMIT - 60
ACTION_TIME_LIMIT = 300
ACTION_SOFT_TIME_LIMIT = ACTION_TIME_LIMIT - 30
# An action's claim on its idempotency key outlives the action's hard limit.
ACTION_LEASE = ACTION_TIME_LIMIT + 60
# A busy sync (another run of the same model holds the lease) or action is retried later.
DEFAULT_BUSY_RETRY = 30
BUSY_MAX_RETRIES = 240
# Celery beat queues the dispatch task this often (seconds); it queues the due syncs.
DEFAULT_DISPATCH = 60.0
DISPATCH_TIME_LIMIT = 120
# Twice the longest task, so no healthy task is ever redelivered while it runs.
VISIBILITY_TIMEOUT = 2 * SYNC_TIME_LIMIT
assert VISIBILITY_TIMEOUT > SYNC_TIME_LIMIT + DEFAULT_BUSY_RETRY


def store_key(connection_id: str) -> str:
    """The store's connection key for a fleet connection: its records and runs."""
    return f"fleet:{connection_id}"


def broker_url() -> str:
    return os.environ.get(ENV_BROKER, "").strip() or DEFAULT_BROKER


def queue() -> str:
    return os.environ.get(ENV_QUEUE, "").strip() or DEFAULT_QUEUE


def database_url() -> str:
    url = os.environ.get(ENV_DATABASE, "").strip()
    if not url:
        raise ConfigError(
            ENV_DATABASE,
            "is not set: set it to the fleet's PostgreSQL URL, e.g. "
            "postgresql://loom@db.example.com:5432/loom",
        )
    return url


def busy_retry_seconds() -> float:
    raw = os.environ.get(ENV_BUSY_RETRY, "").strip()
    if not raw:
        return DEFAULT_BUSY_RETRY
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(ENV_BUSY_RETRY, "must be a number of seconds") from None
    if not 0 < seconds <= DEFAULT_BUSY_RETRY * 10:
        raise ConfigError(ENV_BUSY_RETRY, f"must be from 0 to {DEFAULT_BUSY_RETRY * 10}")
    return seconds


def dispatch_seconds() -> float:
    raw = os.environ.get(ENV_DISPATCH, "").strip()
    if not raw:
        return DEFAULT_DISPATCH
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(ENV_DISPATCH, "must be a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise ConfigError(ENV_DISPATCH, "must be from 0 to 3600")
    return seconds


def max_in_flight() -> int:
    """Requests in flight per workspace, across all workers (:mod:`.politeness`)."""
    raw = os.environ.get(ENV_IN_FLIGHT, "").strip()
    if not raw:
        return 4
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ConfigError(ENV_IN_FLIGHT, "must be a whole number from 1 to 100")
    return int(raw)
