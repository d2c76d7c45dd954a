"""What every example shares: a connection to a real workspace when the two environment
variables are set, else to a local sandbox started for the example and stopped after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from loom_scim_connector import LoomConnection


@contextmanager
def connection(seed_users: int = 25) -> Iterator[LoomConnection]:
    if os.environ.get("LOOM_SCIM_BRIDGE_URL") and os.environ.get("LOOM_SCIM_API_KEY"):
        print(f"Using the workspace at {os.environ['LOOM_SCIM_BRIDGE_URL']}")
        yield LoomConnection.from_env()
        return
    from loom_scim_connector.sandbox import Sandbox

    with Sandbox(seed_users=seed_users) as sandbox:
        print(
            f"Using a local sandbox at {sandbox.url} (set LOOM_SCIM_BRIDGE_URL and "
            "LOOM_SCIM_API_KEY to use a real workspace)"
        )
        yield LoomConnection.create(sandbox.url, sandbox.token)
