"""Where a connection's settings came from, so that advice names the place to change
them: the environment variable, a named connection's entry in its file, or the fleet.

Every message that tells an admin to fix the URL, the key or the key's expiry names the
place through :class:`Origins` (a connection's ``origins``, an error's ``origins``);
none names an environment variable itself (``tests/test_origins.py`` checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._constants import ENV_EXPIRES, ENV_KEY, ENV_URL


@dataclass(frozen=True)
class Origins:
    """Each setting's place, as a message names it (never a value, never the key)."""

    url: str = ENV_URL
    key: str = ENV_KEY
    expiry: str = ENV_EXPIRES

    @classmethod
    def of_entry(cls, name: str, path: Path | None, key_source: str) -> Origins:
        """A named connection of a connections file (``key_source``: ``key_command`` or
        ``key_keyring``)."""

        def of(setting: str) -> str:
            return f"connection {name!r}'s {setting} in {path}"

        return cls(url=of("url"), key=of(key_source), expiry=of("key_expires_at"))

    @classmethod
    def of_fleet(cls, connection_id: str) -> Origins:
        """A fleet connection: its settings are those given to ``fleet add-connection``."""

        def of(setting: str) -> str:
            return f"the {setting} of fleet connection {connection_id!r}"

        return cls(url=of("--url"), key=of("key"), expiry=of("--expires-at"))


FROM_ENV = Origins()
