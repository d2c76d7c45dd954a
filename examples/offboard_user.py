"""Offboard a user by email and verify it: the account must no longer be active.

    .venv/bin/python examples/offboard_user.py leaver@acme.example

What Loom does with `active: false` (deactivate and keep content, or delete) is the
workspace's Member Deprovisioning setting; the outcome says which happened.
Uses the local sandbox unless LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
"""

from __future__ import annotations

import sys

from _common import connection, run

from loom_scim_connector.host import LocalHost
from loom_scim_connector.models import FindUserResult, UserDeprovisioning


async def main(email: str | None) -> int:
    with connection() as conn:
        host = LocalHost(conn, store=":memory:")
        try:
            if email is None:  # sandbox convenience: offboard the first seeded user
                first = await host.run_action("get-user", {"id": await _first_id(host)})
                email = str(first.model_dump(by_alias=True)["email"])
            found = await host.run_action("find-user", {"email": email})
            assert isinstance(found, FindUserResult)
            if not found.complete:  # the listing was read only in part: not "gone"
                print(f"{email}: not found in the users read ({found.searched})")
                return 1
            if not found.users:
                print(f"{email}: no such Loom user; nothing to do")
                return 0
            for user in found.users:  # one person may have two accounts: each of them
                result = await host.run_action("deactivate-user", {"id": user.id})
                assert isinstance(result, UserDeprovisioning)
                print(f"{email}: {result.outcome} ({user.id})")
            return 0
        finally:
            host.close()


async def _first_id(host: LocalHost) -> str:
    from loom_scim_connector import LoomScimClient

    async with LoomScimClient(host.connection) as client:
        page = await client.list_page("Users", 1, 1)
    return str(page.resources[0]["id"])


if __name__ == "__main__":
    run(main(sys.argv[1] if len(sys.argv) > 1 else None))
