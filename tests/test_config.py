from __future__ import annotations

from datetime import date

import pytest

from loom_scim_connector import ConfigError, LoomConnection
from loom_scim_connector.config import ENV_EXPIRES, ENV_KEY, ENV_URL

KEY = "k-123456789"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://scim.example.com/scim/v2/", "https://scim.example.com/scim/v2"),
        (
            "  https://scim.example.com/scim/v2.0/abc123//  ",
            "https://scim.example.com/scim/v2.0/abc123",
        ),
        ("https://scim.example.com", "https://scim.example.com"),
        ("http://127.0.0.1:8700/scim/v2", "http://127.0.0.1:8700/scim/v2"),
        ("http://localhost:8700/scim", "http://localhost:8700/scim"),
        ("http://[::1]:8700/scim/v2", "http://[::1]:8700/scim/v2"),
    ],
)
def test_url_is_kept_as_pasted_less_trailing_slashes(raw: str, expected: str) -> None:
    assert LoomConnection.create(raw, KEY).base_url == expected


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("http://scim.example.com/scim/v2", "https"),
        ("https://admin:pw@scim.example.com/scim/v2", "user name or password"),
        ("https://scim.example.com/scim/v2?tenant=1", "query"),
        ("https://scim.example.com/scim/v2#frag", "fragment"),
        ("scim.example.com/scim/v2", "absolute URL"),
        ("ftp://scim.example.com", "absolute URL"),
        ("", "empty"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(raw: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.create(raw, KEY)
    assert caught.value.field == "scimBridgeUrl"
    assert needle in str(caught.value)


def test_a_password_in_the_url_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.create("https://admin:hunter2@scim.example.com", KEY)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "needle"),
    [("", "empty"), ("Bearer abc", "without the 'Bearer '"), ("ab c", "spaces")],
)
def test_bad_keys_are_refused(key: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.create("https://scim.example.com/scim/v2", key)
    assert caught.value.field == "apiKey"
    assert needle in str(caught.value)


def test_from_env_reads_all_three_variables() -> None:
    conn = LoomConnection.from_env(
        {ENV_URL: "https://scim.example.com/scim/v2/", ENV_KEY: KEY, ENV_EXPIRES: "2027-01-31"}
    )
    assert conn.base_url == "https://scim.example.com/scim/v2"
    assert conn.api_key.get_secret_value() == KEY
    assert conn.api_key_expires_at == date(2027, 1, 31)
    assert conn.days_until_expiry(date(2027, 1, 1)) == 30


@pytest.mark.parametrize("missing", [ENV_URL, ENV_KEY])
def test_a_missing_variable_is_named(missing: str) -> None:
    env = {ENV_URL: "https://scim.example.com/scim/v2", ENV_KEY: KEY}
    env[missing] = "  "
    with pytest.raises(ConfigError) as caught:
        LoomConnection.from_env(env)
    assert caught.value.field == missing
    assert str(caught.value).startswith(f"{missing}: is not set")


def test_an_invalid_value_from_env_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.from_env({ENV_URL: "https://x.example", ENV_KEY: KEY, ENV_EXPIRES: "soon"})
    assert caught.value.field == ENV_EXPIRES
    with pytest.raises(ConfigError) as caught:
        LoomConnection.from_env({ENV_URL: "http://x.example", ENV_KEY: KEY})
    assert caught.value.field == ENV_URL


def test_bare_host_discovery_candidates() -> None:
    bare = LoomConnection.create("https://scim.example.com/", KEY)
    assert bare.is_bare_host
    assert bare.candidate_base_urls() == [
        "https://scim.example.com/scim/v2",
        "https://scim.example.com/scim",
    ]
    full = LoomConnection.create("https://scim.example.com/scim/v2", KEY)
    assert full.candidate_base_urls() == ["https://scim.example.com/scim/v2"]
