"""``loom-scim`` run as ``python -m tests.deadline_cli ARGS``: the real CLI in its own
process, its retry policy's waits made instant (tests never sleep for real)."""

from __future__ import annotations

import functools

from loom_scim_connector import _request
from loom_scim_connector.cli import main
from loom_scim_connector.retry import RetryPolicy, no_wait

# The one place the client makes its default policy, here one that does not wait.
vars(_request)["RetryPolicy"] = functools.partial(RetryPolicy, sleep=no_wait)

if __name__ == "__main__":
    main()
