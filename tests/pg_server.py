"""Where the PostgreSQL tests find their server: the one place that names
``LOOM_SCIM_TEST_POSTGRES_URL``.

When the server (or psycopg) is missing, the tests skip with a reason naming the
variable, except under CI (``CI=true``), where a missing server is a failure: CI runs
PostgreSQL, so a skip there would hide that the tests never ran.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

URL_VAR = "LOOM_SCIM_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(why: str, *, module_level: bool = False) -> NoReturn:
    reason = f"PostgreSQL tests need a server at {URL_VAR} (default {DEFAULT_URL}): {why}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def require_psycopg() -> None:
    """Call at module level, before importing the PostgreSQL store."""
    if importlib.util.find_spec("psycopg") is None:
        unavailable("psycopg is not installed (pip install -e '.[fleet]')", module_level=True)


@functools.cache
def _probe(url: str) -> str | None:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        # libpq's messages name the host and port, never the password.
        return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return None


def postgres_url() -> str:
    """The server's URL, or skip (fail under CI) when it cannot be reached."""
    url = os.environ.get(URL_VAR) or DEFAULT_URL
    problem = _probe(url)
    if problem is not None:
        unavailable(problem)
    return url


@contextlib.contextmanager
def schema_of_its_own() -> Iterator[str]:
    """A DSN whose tables live in a fresh schema, dropped afterwards: for tests that
    rewrite or count every row of a table, beside other tests' rows."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = "test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url(), autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield make_conninfo(postgres_url(), options=f"-csearch_path={schema}")
    finally:
        with psycopg.connect(postgres_url(), autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")
