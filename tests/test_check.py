from __future__ import annotations

from datetime import date

from loom_scim_connector import AuthenticationError, LoomConnection, check_connection
from loom_scim_connector.sandbox import Sandbox

from .conftest import fast_factory


async def test_check_ok_with_users_and_expiry(sandbox: Sandbox) -> None:
    conn = LoomConnection.create(sandbox.url, sandbox.token, "2027-01-10")
    report = await check_connection(conn, fast_factory(), today=date(2026, 12, 20))
    assert report.ok and report.users == 12 and report.base_url == sandbox.url
    assert report.key_days_left == 21
    assert any("expires in 21 days" in w for w in report.warnings)


async def test_check_discovers_the_prefix_on_a_bare_host(sandbox: Sandbox) -> None:
    conn = LoomConnection.create(sandbox.root, sandbox.token, "2030-01-01")
    report = await check_connection(conn, fast_factory(), today=date(2026, 1, 1))
    assert report.ok and report.base_url == sandbox.root + "/scim/v2"
    assert any("answered at" in w for w in report.warnings)
    assert report.tried == [sandbox.root + "/scim/v2"]


async def test_check_reports_a_bad_key_with_the_fix(sandbox: Sandbox) -> None:
    conn = LoomConnection.create(sandbox.url, "wrong-key")
    report = await check_connection(conn, fast_factory())
    assert not report.ok
    assert isinstance(report.error, AuthenticationError)
    assert report.problem is not None and "Regenerate" in report.problem
    assert not any("expiry unknown" in w for w in report.warnings)  # not on a failure


async def test_check_on_a_host_without_scim(sandbox: Sandbox) -> None:
    conn = LoomConnection.create(sandbox.root + "/nothing-here", sandbox.token)
    report = await check_connection(conn, fast_factory())
    assert not report.ok and report.error is not None and report.error.status == 404


async def test_expired_key_date_warns() -> None:
    from loom_scim_connector.check import _expiry_warnings

    conn = LoomConnection.create("https://x.example/scim/v2", "k", "2026-01-01")
    days, warnings = _expiry_warnings(conn, date(2026, 1, 11))
    assert days == -10 and "expired 10 days ago" in warnings[0]
    days, warnings = _expiry_warnings(conn, date(2025, 1, 1))
    assert warnings == []


async def test_check_reads_what_the_server_says_it_supports(sandbox: Sandbox) -> None:
    conn = LoomConnection.create(sandbox.url, sandbox.token, "2030-01-01")
    report = await check_connection(conn, fast_factory(), today=date(2026, 1, 1))
    assert report.capabilities is not None
    assert report.capabilities["patch"] is True and report.capabilities["filter"] is True


def test_capabilities_are_read_leniently() -> None:
    from loom_scim_connector.models.scim import parse_service_provider_config

    django_like = {
        "patch": {"supported": True},
        "filter": {"supported": False, "maxResults": 50},
        "Bulk": {"supported": "false"},
    }
    caps = parse_service_provider_config(django_like)
    assert (caps.patch, caps.filter, caps.max_results, caps.bulk) == (True, False, 50, False)
    unknown = parse_service_provider_config("not an object")
    assert (unknown.patch, unknown.filter, unknown.max_results) == (None, None, None)
