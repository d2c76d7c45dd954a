"""Cassette-backed failures: throttling, server errors, an expired key, an ignored role.

These need the sandbox's knobs, so a real workspace cannot record them (they are
skipped there and keep their sandbox recordings).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loom_scim_connector import ActionError, AuthenticationError

from .replay import Scenario

pytestmark = pytest.mark.vcr


async def test_429_then_success(scene: Scenario) -> None:
    scene.needs_sandbox("injected 429")
    scene.knobs.fail_next = [429]
    report = await scene.host().run_sync("groups")
    assert (report.status, report.retries, report.requests) == ("success", 1, 2)


async def test_503_then_success(scene: Scenario) -> None:
    scene.needs_sandbox("injected 503")
    scene.knobs.retry_after = "none"
    scene.knobs.fail_next = [503]
    report = await scene.host(page_size=5).run_sync("users")
    assert (report.status, report.retries) == ("success", 1)
    assert report.pages >= 3


async def test_expired_key_is_refused_once(scene: Scenario) -> None:
    scene.needs_sandbox("a key that has expired")
    if scene.sandbox is not None:
        scene.sandbox.tokens.expires_at = datetime.now(UTC) - timedelta(days=1)
    host = scene.host()
    with pytest.raises(AuthenticationError, match="expired") as caught:
        await host.run_sync("users")
    assert caught.value.attempts == 1


async def test_role_the_server_did_not_apply(scene: Scenario) -> None:
    scene.needs_sandbox("an unmapped loomMemberRole")
    host = scene.host()
    user = await host.run_action("create-user", {"email": scene.email("unmapped")})
    scene.knobs.role_mapped = False
    with pytest.raises(ActionError, match="did not apply role 'admin'"):
        await host.run_action("set-user-role", {"id": user.model_dump()["id"], "role": "admin"})
