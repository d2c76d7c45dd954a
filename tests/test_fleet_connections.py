"""The fleet's connections in PostgreSQL: validated, listed without keys, keys encrypted
at rest (the raw table holds only Fernet tokens), and Fernet key rotation."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest

from .pg_server import postgres_url, require_psycopg, schema_of_its_own

require_psycopg()
pytest.importorskip("cryptography", reason="needs the fleet extra (cryptography)")

import psycopg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.cli import run  # noqa: E402
from loom_scim_connector.errors import ConfigError  # noqa: E402
from loom_scim_connector.fleet.connections import (  # noqa: E402
    ENV_FERNET_KEY,
    TABLE,
    Cipher,
    ConnectionExistsError,
    ConnectionNotFoundError,
    ConnectionRegistry,
    FleetKeyError,
    parse_every,
)

KEY = "fleet-Secret-Key-7d1e0a9c4b"
URL = "https://scim.example.com/scim/v2"


@pytest.fixture
def prefix() -> Iterator[str]:
    mine = f"test-{uuid.uuid4().hex[:12]}-"
    yield mine
    with psycopg.connect(postgres_url(), autocommit=True) as db:
        db.execute(f"DELETE FROM {TABLE} WHERE starts_with(id, %s)", (mine,))  # noqa: S608


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def registry(fernet_key: str) -> Iterator[ConnectionRegistry]:
    with ConnectionRegistry(postgres_url(), Cipher(fernet_key)) as reg:
        yield reg


def raw_rows(prefix: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_url()) as db:
        return db.execute(
            f"SELECT * FROM {TABLE} WHERE starts_with(id, %s) ORDER BY id",  # noqa: S608
            (prefix,),
        ).fetchall()


def test_add_get_list_remove(registry: ConnectionRegistry, prefix: str) -> None:
    info = registry.add(
        prefix + "acme",
        URL + "/",
        KEY,
        api_key_expires_at="2027-03-31",
        deprovisioning="delete",
        schedule="Every  30M",
    )
    assert info.bridge_url == URL
    assert info.schedule == "every 30m"
    registry.add(prefix + "globex", URL, KEY + "2")
    assert [c.id for c in registry.list(prefix=prefix)] == [prefix + "acme", prefix + "globex"]

    got = registry.get(prefix + "acme")
    assert got.connection.api_key.get_secret_value() == KEY
    assert got.info == info
    assert str(got.connection.api_key_expires_at) == "2027-03-31"
    assert KEY not in repr(got) and KEY not in repr(registry.list(prefix=prefix))

    with pytest.raises(ConnectionExistsError):
        registry.add(prefix + "acme", URL, "other")
    registry.remove(prefix + "acme")
    with pytest.raises(ConnectionNotFoundError):
        registry.get(prefix + "acme")
    with pytest.raises(ConnectionNotFoundError):
        registry.remove(prefix + "acme")


def test_the_table_holds_only_ciphertext(
    registry: ConnectionRegistry, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry.add(prefix + "acme", URL, KEY)
    registry.get(prefix + "acme")
    (row,) = raw_rows(prefix)
    dumped = repr(row).encode() + b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row
    )
    assert KEY.encode() not in dumped
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("scimBridgeUrl", {"bridge_url": "http://scim.example.com/scim/v2"}),
        ("apiKey", {"api_key": "Bearer " + KEY}),
        ("id", {"connection_id": "bad id"}),
        ("deprovisioning", {"deprovisioning": "archive"}),
        ("schedule", {"schedule": "hourly"}),
    ],
)
def test_bad_values_are_refused_before_storing(
    registry: ConnectionRegistry, prefix: str, field: str, kwargs: dict[str, str]
) -> None:
    values = {"connection_id": prefix + "acme", "bridge_url": URL, "api_key": KEY, **kwargs}
    cid, url, key = values.pop("connection_id"), values.pop("bridge_url"), values.pop("api_key")
    with pytest.raises(ConfigError) as caught:
        registry.add(cid, url, key, **values)
    assert caught.value.field == field
    assert KEY not in str(caught.value)
    assert raw_rows(prefix) == []


@pytest.fixture
def own_schema() -> Iterator[str]:
    """A DSN whose tables are in a schema of this test's own: rotate_keys rewrites
    every row of the table, and other tests' rows use other Fernet keys."""
    with schema_of_its_own() as conninfo:
        yield conninfo


def test_rotation_with_several_keys_newest_first(
    own_schema: str, prefix: str, fernet_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_schema
    with ConnectionRegistry(url, Cipher(fernet_key)) as old:
        old.add(prefix + "acme", URL, KEY)
    new_key = Fernet.generate_key().decode()
    with ConnectionRegistry(url, Cipher(f"{new_key}, {fernet_key}")) as both:
        # Tokens made with the old key still read; rotate_keys re-encrypts with the new.
        assert both.get(prefix + "acme").connection.api_key.get_secret_value() == KEY
    # `loom-scim fleet rotate-keys` re-encrypts every key with the newest Fernet key.
    monkeypatch.setenv(ENV_FERNET_KEY, f"{new_key}, {fernet_key}")
    out, err = io.StringIO(), io.StringIO()
    assert run(["fleet", "--database", url, "rotate-keys"], out=out, err=err) == 0
    assert "1 API key re-encrypted" in err.getvalue()
    with ConnectionRegistry(url, Cipher(new_key)) as new:
        assert new.get(prefix + "acme").connection.api_key.get_secret_value() == KEY
    with ConnectionRegistry(url, Cipher(fernet_key)) as stale, pytest.raises(FleetKeyError) as e:
        stale.get(prefix + "acme")
    assert ENV_FERNET_KEY in str(e.value) and fernet_key not in str(e.value)


def test_fernet_key_from_env_is_checked() -> None:
    with pytest.raises(FleetKeyError, match=ENV_FERNET_KEY):
        Cipher.from_env({})
    with pytest.raises(FleetKeyError, match="key 2 of 2") as caught:
        Cipher.from_env({ENV_FERNET_KEY: Fernet.generate_key().decode() + ",not-a-key"})
    assert "not-a-key" not in str(caught.value)
    assert "keys hidden" in repr(Cipher(Fernet.generate_key().decode()))


def test_parse_every() -> None:
    assert parse_every("every 1h") == 3600
    assert parse_every("every 30m") == 1800
    with pytest.raises(ValueError, match="every 30m"):
        parse_every("every 0h")


def test_adding_a_connection_id_that_exists_is_bad_input_exit_2(
    prefix: str, fernet_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FERNET_KEY, fernet_key)
    argv = ["fleet", "--database", postgres_url(), "add-connection", prefix + "acme"]
    argv += ["--url", URL, "--api-key-stdin"]
    first = run(argv, out=io.StringIO(), err=io.StringIO(), stdin=io.StringIO(KEY + "\n"))
    assert first == 0
    out, err = io.StringIO(), io.StringIO()
    again = run(argv, out=out, err=err, stdin=io.StringIO("other-key-0123456789\n"))
    assert again == 2  # bad input, as everywhere else
    assert out.getvalue() == ""
    assert err.getvalue() == (
        f"loom-scim: error: fleet connection '{prefix}acme': already exists; remove it "
        f"first (loom-scim fleet remove {prefix}acme) to replace it\n"
    )
