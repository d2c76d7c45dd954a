"""What every example shares: a connection to a real workspace when the two environment
variables are set, else to a local sandbox started for the example and stopped after,
and one-line errors (``run``) instead of tracebacks.

The sandbox holds its seeded people plus ``leaver@acme.example``, the person the
README's offboarding command names, so that command works as written."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from loom_scim_connector import LoomConnection, LoomScimError

LEAVER = "leaver@acme.example"


def run(main: Coroutine[Any, Any, int | None]) -> None:
    """Run an example's ``main``; a failure is one line on stderr, exit 1 (2 for input)."""
    from loom_scim_connector.errors import ConfigError, InputError

    try:
        code = asyncio.run(main)
    except (InputError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except LoomScimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(code or 0)


@contextmanager
def connection(seed_users: int = 25) -> Iterator[LoomConnection]:
    if os.environ.get("LOOM_SCIM_BRIDGE_URL") and os.environ.get("LOOM_SCIM_API_KEY"):
        print(f"Using the workspace at {os.environ['LOOM_SCIM_BRIDGE_URL']}")
        yield LoomConnection.from_env()
        return
    from loom_scim_connector.sandbox import Sandbox

    with Sandbox(seed_users=seed_users) as sandbox:
        sandbox.call(
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": LEAVER,
                "name": {"givenName": "Lee", "familyName": "Ver"},
                "emails": [{"value": LEAVER, "primary": True}],
                "active": True,
            },
        )
        print(
            f"Using a local sandbox at {sandbox.url} (set LOOM_SCIM_BRIDGE_URL and "
            "LOOM_SCIM_API_KEY to use a real workspace)"
        )
        yield LoomConnection.create(sandbox.url, sandbox.token)
