"""Where the fleet tests find their RabbitMQ broker: the one place that names
``LOOM_SCIM_TEST_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672//``).

As with Redis and PostgreSQL: when RabbitMQ cannot be reached, the tests skip with a
reason naming the variable, except under CI (``CI=true``), where it is a failure. The
tests use the default vhost with queue names of their own, deleted afterwards.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from .pg_server import in_ci

URL_VAR = "LOOM_SCIM_TEST_AMQP_URL"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672//"


@functools.cache
def _probe(url: str) -> str | None:
    from kombu import connection

    Connection: Any = connection.Connection

    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # socket and AMQP errors: they name no password
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


def amqp_url() -> str:
    """RabbitMQ's URL, or skip (fail under CI) when it cannot be reached."""
    url = os.environ.get(URL_VAR) or DEFAULT_URL
    problem = _probe(url)
    if problem is not None:
        reason = f"RabbitMQ tests need a server at {URL_VAR} (default {DEFAULT_URL}): {problem}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)", pytrace=False)
        pytest.skip(reason)
    return url
