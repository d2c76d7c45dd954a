"""Where the fleet tests find their Redis broker: the one place that names
``LOOM_SCIM_FLEET_BROKER_URL`` for tests.

As with PostgreSQL (``tests/pg_server.py``): when Redis (or the redis client) is
missing, the tests skip with a reason naming the variable, except under CI (``CI=true``),
where a missing server is a failure.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import NoReturn

import pytest

from .pg_server import in_ci

URL_VAR = "LOOM_SCIM_FLEET_BROKER_URL"
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def unavailable(why: str, *, module_level: bool = False) -> NoReturn:
    reason = f"Redis tests need a server at {URL_VAR} (default {DEFAULT_URL}): {why}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def require_celery() -> None:
    """Call at module level, before importing the fleet's Celery modules."""
    for module in ("celery", "redis", "cryptography"):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{module} is not installed (pip install -e '.[fleet]')", module_level=True)


@functools.cache
def _probe(url: str) -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        # The client's messages name the host and port, never a password.
        return " ".join(str(exc).split())
    return None


def redis_url() -> str:
    """The broker's URL, or skip (fail under CI) when it cannot be reached."""
    url = os.environ.get(URL_VAR) or DEFAULT_URL
    problem = _probe(url)
    if problem is not None:
        unavailable(problem)
    return url
