"""Hostile review of the fleet on RabbitMQ (issue 23): real Celery workers in
subprocesses, the real RabbitMQ, Redis and PostgreSQL, each attack a test that failed
before its fix. Queues and connection ids are this module's own (the ``rabbit``
fixture of :mod:`.test_fleet_rabbitmq`), removed afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .pg_server import require_psycopg
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.app import make_app  # noqa: E402
from loom_scim_connector.fleet.health import health  # noqa: E402

from .test_fleet import Fleet, start_worker  # noqa: E402
from .test_fleet_rabbitmq import _delete_queues, rabbit  # noqa: E402, F401


def test_health_is_not_fooled_by_a_worker_of_another_queue(
    rabbit: Fleet,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Celery's ping goes to every worker on the broker (one control exchange per
    vhost), whatever queue it consumes: a worker of another fleet, or another queue,
    answered for this fleet's dead workers, so ``fleet health`` said ready while no
    worker would ever take this queue's syncs."""
    env = {settings.ENV_REDIS: redis_url()}
    with start_worker(rabbit, tmp_path / "worker.log", rabbit.queue, "--pool=solo", env=env):
        monkeypatch.setenv(settings.ENV_REDIS, redis_url())
        # This fleet's own worker answers: ready.
        assert health(rabbit.pg, rabbit.app, timeout=5, hostname=None) is None
        orphan = f"{rabbit.queue}-orphan"
        try:
            other = make_app(rabbit.broker, queue=orphan)
            problem = health(rabbit.pg, other, timeout=2, hostname=None)
        finally:
            _delete_queues(rabbit.broker, orphan)
        assert problem is not None, "ready, with no worker consuming the queue"
        assert orphan in problem
