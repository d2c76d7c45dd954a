"""The fleet's settings: environment variables and time limits, in one place.

The broker is RabbitMQ (``amqp://``, recommended) or Redis (``redis://``), chosen by
the scheme of ``LOOM_SCIM_FLEET_BROKER_URL``. Redis is needed either way, for the
politeness semaphore and the task results (``LOOM_SCIM_FLEET_REDIS_URL``; by default
the broker's URL when the broker is Redis).

The time limits and Redis's visibility timeout go together. With ``acks_late``, a
task's message stays unacknowledged until the task ends; the Redis transport
redelivers any message not acknowledged within ``visibility_timeout`` to another worker.
So the visibility timeout must exceed the longest a task can run (its hard time limit)
plus the longest ``countdown`` it can be retried with, or a healthy long sync would be
run twice (the store's lease would refuse the second, but it is wasted work). RabbitMQ
has no such timer: it redelivers when the consumer's connection closes.
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
ENV_SYNC_LIMIT = "LOOM_SCIM_FLEET_SYNC_TIME_LIMIT"
ENV_REDIS = "LOOM_SCIM_FLEET_REDIS_URL"
ENV_LARGE_MEMBERS = "LOOM_SCIM_FLEET_LARGE_MEMBERS"
ENV_MAX_LARGE = "LOOM_SCIM_FLEET_MAX_LARGE_SYNCS"

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
REDIS_SCHEMES = ("redis", "rediss")
DEFAULT_QUEUE = "loom-scim"

# A sync is killed (hard limit) after an hour by default; the soft limit lets it finish
# as cancelled, deleting nothing, a minute earlier (:func:`sync_soft_time_limit`).
SYNC_TIME_LIMIT = 3600
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
# RabbitMQ closes a channel whose delivery stays unacknowledged longer than its
# consumer_timeout (30 min by default): the queue asks for a day and a half, longer than
# the longest hard time limit allowed (a day) plus the busy retry.
CONSUMER_TIMEOUT_MS = 36 * 3600 * 1000


def sync_time_limit() -> int:
    """A sync's hard time limit (seconds); ``LOOM_SCIM_FLEET_SYNC_TIME_LIMIT`` lowers it.

    The broker's visibility timeout follows it (:func:`visibility_timeout`), so a lower
    limit also means a message whose worker vanished (a machine lost, the worker's main
    process killed) is redelivered sooner: ``make fleet-load`` uses that.
    """
    raw = os.environ.get(ENV_SYNC_LIMIT, "").strip()
    if not raw:
        return SYNC_TIME_LIMIT
    if not raw.isdigit() or not 10 <= int(raw) <= 86400:
        raise ConfigError(ENV_SYNC_LIMIT, "must be a whole number of seconds from 10 to 86400")
    return int(raw)


def action_time_limits() -> tuple[int, int]:
    """An action's hard and soft limits: 5 minutes, or the sync's limit if lower, so
    the visibility timeout covers actions too."""
    hard = min(ACTION_TIME_LIMIT, sync_time_limit())
    return hard, hard - min(ACTION_TIME_LIMIT - ACTION_SOFT_TIME_LIMIT, max(1, hard // 10))


def sync_soft_time_limit() -> int:
    """A minute before the hard limit (a tenth of it for limits under ten minutes)."""
    hard = sync_time_limit()
    return hard - min(60, max(1, hard // 10))


def visibility_timeout() -> int:
    """Twice the longest task plus the busy retry's countdown: no healthy task is
    redelivered while it runs or waits for its countdown."""
    return 2 * sync_time_limit() + int(busy_retry_seconds()) + 1


def lost_after() -> float:
    """Seconds after which a queued sync with no run started is taken for a lost message
    and queued again (:mod:`.schedule`): half as long again as the visibility timeout,
    after which a message merely unacknowledged would have been redelivered already."""
    return visibility_timeout() * 1.5


def store_key(connection_id: str) -> str:
    """The store's connection key for a fleet connection: its records and runs."""
    return f"fleet:{connection_id}"


def broker_url() -> str:
    return os.environ.get(ENV_BROKER, "").strip() or DEFAULT_BROKER


def broker_kind(url: str | None = None) -> str:
    """``amqp`` (RabbitMQ) or ``redis``, from the broker URL's scheme."""
    scheme = (url or broker_url()).partition("://")[0].lower()
    if scheme in AMQP_SCHEMES:
        return "amqp"
    if scheme in REDIS_SCHEMES:
        return "redis"
    raise ConfigError(ENV_BROKER, "must be an amqp:// (RabbitMQ) or a redis:// URL")


def redis_url(broker: str | None = None) -> str:
    """Redis for the politeness semaphore and the task results: ``LOOM_SCIM_FLEET_REDIS_URL``,
    else the broker's URL when the broker is Redis, else the local default."""
    explicit = os.environ.get(ENV_REDIS, "").strip()
    if explicit:
        return explicit
    broker = broker or broker_url()
    return broker if broker_kind(broker) == "redis" else DEFAULT_REDIS


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


def large_members() -> int:
    """A workspace with this many live records of a sync's model is large (:mod:`.fairness`)."""
    return _whole(ENV_LARGE_MEMBERS, 5000, 1, 10_000_000)


def max_large_syncs() -> int:
    """Syncs of large workspaces running at once, fleet-wide (:mod:`.fairness`)."""
    return _whole(ENV_MAX_LARGE, 2, 1, 1000)


def _whole(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}")
    return int(raw)
