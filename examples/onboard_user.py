"""Onboard a user into a role, and into the matching role group.

    .venv/bin/python examples/onboard_user.py jane.doe@acme.example creator

Loom's usual pattern is three groups, Loom Creators / Viewers / Admins, one per role.
Uses the local sandbox unless LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
"""

from __future__ import annotations

import sys

from _common import connection, run

from loom_scim_connector import LoomScimClient
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models import Group, UserProvisioning

ROLE_GROUPS = {"creator": "Loom Creators", "viewer": "Loom Viewers", "admin": "Loom Admins"}


async def main(email: str, role: str) -> None:
    with connection() as conn:
        host = LocalHost(conn, store=":memory:")
        try:
            # Exactly once: run it twice and the same user comes back, brought to `role`.
            # An offboarded (deactivated) user is left as is: onboarding them again is a
            # decision, made with "reactivate": true, never a side effect.
            out = await host.run_action("create-user", {"email": email, "role": role})
            assert isinstance(out, UserProvisioning)  # the manifest's create-user output
            user = out.user
            if out.outcome == "exists_deactivated":
                raise SystemExit(
                    f"{email} exists but is deactivated (offboarded); left as is. To restore"
                    ' their access on purpose, run create-user with "reactivate": true.'
                )
            print(f"user {user.email} has id {user.id} and role {user.role} ({out.outcome})")
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
    run(main(sys.argv[1], sys.argv[2]))
