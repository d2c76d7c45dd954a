"""Onboard a user into a role, and into the matching role group.

    .venv/bin/python examples/onboard_user.py jane.doe@acme.example creator

Loom's usual pattern is three groups, Loom Creators / Viewers / Admins, one per role.
Uses the local sandbox unless LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
"""

from __future__ import annotations

import asyncio
import sys

from _common import connection

from loom_scim_connector import LoomScimClient
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models import Group, User

ROLE_GROUPS = {"creator": "Loom Creators", "viewer": "Loom Viewers", "admin": "Loom Admins"}


async def main(email: str, role: str) -> None:
    with connection() as conn:
        host = LocalHost(conn, store=":memory:")
        try:
            # Exactly once: run it twice and the same user comes back, brought to `role`.
            user = await host.run_action("create-user", {"email": email, "role": role})
            assert isinstance(user, User)  # the manifest declares create-user -> User
            print(f"user {user.email} has id {user.id} and role {user.role}")
            group_name = ROLE_GROUPS.get(role)
            if group_name:
                async with LoomScimClient(conn) as client:
                    group = await client.find_one("Groups", "displayName", group_name)
                if group is None:
                    group_out = await host.run_action(
                        "create-group", {"displayName": group_name, "memberIds": [user.id]}
                    )
                else:
                    group_out = await host.run_action(
                        "add-group-members", {"id": group["id"], "memberIds": [user.id]}
                    )
                assert isinstance(group_out, Group)
                print(f"member of {group_name} ({group_out.id})")
        finally:
            host.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: onboard_user.py EMAIL default|creator|viewer|admin")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
