"""The fleet's API keys at rest: encrypted with the Fernet key(s) of the environment.

**The key at rest.** The table ``loom_scim_fleet_connections`` holds only the key's
Fernet token (AES-128-CBC + HMAC-SHA256, from :mod:`cryptography`), never the key. The
Fernet key comes from the environment variable ``LOOM_SCIM_FLEET_FERNET_KEY`` (make one
with ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``);
the database alone is not enough to read any key. The API key is decrypted only in the
worker that runs a task, in memory, as a :class:`pydantic.SecretStr`: it is never in a
task's arguments, a broker message, a result, a ``repr``, a log line or an exception.

**Rotating the Fernet key.** ``LOOM_SCIM_FLEET_FERNET_KEY`` may hold several keys,
comma-separated, **newest first** (a :class:`cryptography.fernet.MultiFernet`): new
tokens are made with the first, and a token made with any of them can be read.

1. Generate a new key and put it first: ``LOOM_SCIM_FLEET_FERNET_KEY=NEW,OLD`` on every
   worker and CLI host (restart the workers).
2. Re-encrypt every row with the new key: ``loom-scim fleet rotate-keys``
   (:meth:`.connections.ConnectionRegistry.rotate_keys`).
3. Remove the old key: ``LOOM_SCIM_FLEET_FERNET_KEY=NEW``.

A token no configured key can read raises :class:`FleetKeyError`, which names the
variable and the connection, never a key.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from loom_scim_connector.errors import ConfigError

ENV_FERNET_KEY = "LOOM_SCIM_FLEET_FERNET_KEY"


class FleetKeyError(ConfigError):
    """The Fernet key is missing or malformed, or cannot read a stored API key."""

    def __init__(self, reason: str) -> None:
        super().__init__(ENV_FERNET_KEY, reason)


class Cipher:
    """Encrypts API keys with the Fernet key(s) of ``LOOM_SCIM_FLEET_FERNET_KEY``."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise FleetKeyError(f"is empty{_KEY_HELP}")
        fernets = []
        for n, part in enumerate(parts, 1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # cryptography's message would not quote the key, but say nothing anyway.
                raise FleetKeyError(
                    f"key {n} of {len(parts)} is not a Fernet key "
                    f"(32 url-safe base64-encoded bytes){_KEY_HELP}"
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Cipher:
        env = os.environ if environ is None else environ
        keys = env.get(ENV_FERNET_KEY, "")
        if not keys.strip():
            raise FleetKeyError(f"is not set{_KEY_HELP}")
        return cls(keys)

    def __repr__(self) -> str:
        return "Cipher(<keys hidden>)"

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode("utf-8"))

    def decrypt(self, token: bytes, *, what: str) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise FleetKeyError(
                f"no key in it can decrypt the API key of {what} "
                "(was the old key removed before rotate_keys re-encrypted it?)"
            ) from None

    def rotate(self, token: bytes, *, what: str) -> bytes:
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise FleetKeyError(f"no key in it can decrypt the API key of {what}") from None


_KEY_HELP = (
    "; generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
