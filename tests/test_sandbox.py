"""The sandbox behaves like Loom, its knobs work, and scim2-tester finds it compliant."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from loom_scim_connector.sandbox import Sandbox, SandboxSettings

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url + "/", headers={"Authorization": f"Bearer {sandbox.token}"}
    ) as client:
        yield client


def user_ids(response: httpx.Response) -> list[str]:
    return [r["id"] for r in response.json().get("Resources", [])]


def test_scim2_tester_finds_no_error(sandbox: Sandbox) -> None:
    httpx2 = pytest.importorskip("httpx2")
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    headers = {"Authorization": f"Bearer {sandbox.token}"}
    with httpx2.Client(base_url=sandbox.url, headers=headers) as http2:
        results = check_server(SyncSCIMClient(http2))
    statuses = Counter(result.status for result in results)
    bad = [(r.title, r.reason) for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert bad == []
    assert statuses[Status.SUCCESS] > 100, statuses
    tags = set().union(*(r.tags for r in results))
    wanted = {
        "discovery",
        "crud:create",
        "crud:read",
        "crud:update",
        "crud:delete",
        "patch:add",
        "patch:replace",
        "patch:remove",
    }
    assert wanted <= tags


def test_seed_has_idp_and_domain_captured_users(sandbox: Sandbox, http: httpx.Client) -> None:
    users = http.get("Users", params={"count": 100}).json()["Resources"]
    assert len(users) == 12
    captured = [u for u in users if "externalId" not in u]
    assert captured and all("loomMemberRole" not in u for u in captured)
    assert any(u.get("loomMemberRole") == "creator" for u in users)


def test_content_type_and_409(http: httpx.Client) -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@acme.example"}
    created = http.post("Users", json=body)
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/scim+json")
    again = http.post("Users", json=body)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"


def test_expired_and_rotated_tokens(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.get("Users").status_code == 200
    sandbox.tokens.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = http.get("Users")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    new = sandbox.rotate_token()
    assert http.get("Users").status_code == 401
    assert http.get("Users", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_deprovisioning_setting(sandbox: Sandbox, http: httpx.Client) -> None:
    a, b = sandbox.seeded["all"][:2]
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert http.patch(f"Users/{a}", json=off).status_code in (200, 204)
    assert http.get(f"Users/{a}").json()["active"] is False
    sandbox.settings.deprovisioning = "delete"
    assert http.patch(f"Users/{b}", json=off).status_code in (200, 204)
    assert http.get(f"Users/{b}").status_code == 404


def test_unmapped_role_is_silently_ignored(sandbox: Sandbox, http: httpx.Client) -> None:
    uid = sandbox.seeded["viewer"][0]
    sandbox.settings.role_mapped = False
    op = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "loomMemberRole", "value": "admin"}],
    }
    assert http.patch(f"Users/{uid}", json=op).status_code == 204
    assert http.get(f"Users/{uid}").json()["loomMemberRole"] == "viewer"
    assert http.patch("Users/missing", json=op).status_code == 404


def test_page_size_cap_and_ignored_paging(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.settings.page_size_cap = 5
    capped = http.get("Users", params={"startIndex": 1, "count": 50})
    assert len(user_ids(capped)) == 5 and capped.json()["totalResults"] == 12
    sandbox.settings.page_size_cap = None
    sandbox.settings.ignore_paging = True
    first = http.get("Users", params={"startIndex": 1, "count": 2})
    later = http.get("Users", params={"startIndex": 5, "count": 2})
    assert user_ids(first) == user_ids(later) and len(user_ids(first)) == 12


def test_fail_next_with_retry_after_seconds_and_date(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.settings.fail_next = [429, 503]
    sandbox.settings.retry_after_seconds = 3
    first = http.get("Users")
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.json()["status"] == "429"
    assert http.get("Users").status_code == 503
    assert http.get("Users").status_code == 200
    sandbox.settings.retry_after = "date"
    sandbox.settings.fail_next = [429]
    dated = http.get("Users")
    assert parsedate_to_datetime(dated.headers["Retry-After"]) > datetime.now(UTC)


def test_fault_rate_is_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[int]:
        settings = SandboxSettings(fault_rate=0.3, fault_status=502)
        with (
            Sandbox(seed=seed, settings=settings) as sb,
            httpx.Client(
                base_url=sb.url + "/", headers={"Authorization": f"Bearer {sb.token}"}
            ) as client,
        ):
            return [client.get("ServiceProviderConfig").status_code for _ in range(30)]

    first, second = run(3), run(3)
    assert first == second
    assert set(first) == {200, 502}


def test_admin_endpoints(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.root) as admin:
        assert admin.get("/_sandbox/settings").json()["deprovisioning"] == "deactivate"
        changed = admin.patch("/_sandbox/settings", json={"deprovisioning": "delete"})
        assert changed.json()["deprovisioning"] == "delete"
        assert sandbox.settings.deprovisioning == "delete"
        assert admin.patch("/_sandbox/settings", json={"nope": 1}).status_code == 400
        token = admin.post("/_sandbox/rotate-token").json()["token"]
        assert token == sandbox.token
        assert admin.get("/Users").status_code == 404  # SCIM lives under /scim/v2 only


def test_latency_knob(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.settings.latency = 0.05
    response = http.get("ServiceProviderConfig")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.05


def test_loom_schema_is_published(http: httpx.Client) -> None:
    schemas: list[dict[str, Any]] = http.get("Schemas").json()["Resources"]
    user = next(s for s in schemas if s["id"].endswith("core:2.0:User"))
    role = next(a for a in user["attributes"] if a["name"] == "loomMemberRole")
    assert role["canonicalValues"] == ["default", "creator", "viewer", "admin"]


async def test_ipv6_loopback_and_service_provider_config() -> None:
    from loom_scim_connector import LoomConnection, LoomScimClient

    with Sandbox(host="::1") as sandbox:
        assert sandbox.url.startswith("http://[::1]:")
        async with LoomScimClient(LoomConnection.create(sandbox.url, sandbox.token)) as client:
            config = await client.service_provider_config()
    assert config["patch"]["supported"] is True


def test_a_stopped_clock_makes_the_server_s_times_reproducible() -> None:
    """The README's samples stop the sandbox's clock: what it writes and what it checks
    (meta times, a token's expiry) read that clock, not the machine's."""
    stopped = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with Sandbox(seed_users=1, token="t0123456789", clock=lambda: stopped) as sb:
        (user,) = sb.call("GET", "/Users")["Resources"]
        assert user["meta"]["created"] == user["meta"]["lastModified"] == "2026-11-23T09:00:00Z"
        sb.rotate_token(expires_at=stopped + timedelta(seconds=1))  # not yet expired then
        headers = {"Authorization": f"Bearer {sb.token}"}
        assert httpx.get(sb.url + "/Users", headers=headers).status_code == 200
