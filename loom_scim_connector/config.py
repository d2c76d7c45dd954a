"""The connection: a Loom SCIM API key and the SCIM bridge URL (the manifest's auth config).

The key is a :class:`pydantic.SecretStr`: it shows as ``**********`` in ``repr``, ``str``,
dumps and validation errors. The URL is kept exactly as the admin pasted it, less
trailing slashes; the client only ever appends ``/Users``, ``/Groups`` or
``/ServiceProviderConfig`` to it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import date
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ._constants import (
    DISCOVERY_PREFIXES,
    ENV_DEADLINE,
    ENV_EXPIRES,
    ENV_KEY,
    ENV_URL,
    EXPIRY_WARNING_DAYS,
    LOOPBACK_HOSTS,
)
from ._messages import plain
from ._origins import FROM_ENV, Origins
from ._url import normalize_bridge_url
from .errors import ConfigError

__all__ = [
    "DISCOVERY_PREFIXES",
    "ENV_EXPIRES",
    "ENV_KEY",
    "ENV_URL",
    "EXPIRY_WARNING_DAYS",
    "LOOPBACK_HOSTS",
    "LoomConnection",
    "normalize_bridge_url",
]


log = logging.getLogger("loom_scim_connector")

_QUOTES = ('"', "'")

_FIELD_TO_ENV = {
    "scimBridgeUrl": ENV_URL,
    "apiKey": ENV_KEY,
    "apiKeyExpiresAt": ENV_EXPIRES,
}


class LoomConnection(BaseModel):
    """Everything needed to talk to one Loom workspace's SCIM endpoint."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    scim_bridge_url: str = Field(alias="scimBridgeUrl")
    api_key: SecretStr = Field(alias="apiKey")
    api_key_expires_at: date | None = Field(default=None, alias="apiKeyExpiresAt")
    # Where the URL, the key and its expiry came from (never a value): the environment
    # variables, a named connection's entry in its file, or the fleet. Advice names them.
    origins: Origins = Field(default=FROM_ENV)
    # How the key as given was mangled and repaired (a pair of surrounding quotes), or
    # None: a refused key that was mangled must not be "regenerated", but copied again.
    key_flaw: str | None = Field(default=None, alias="keyFlaw")

    @model_validator(mode="before")
    @classmethod
    def _unquote_key(cls, data: object) -> object:
        """A key pasted with its quotes (``"abc..."``, ``'abc...'``): one pair of matching
        quotes around it is removed, and the repair is kept in ``key_flaw``."""
        if not isinstance(data, dict):
            return data
        name = "apiKey" if "apiKey" in data else "api_key"
        raw = data.get(name)
        raw = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
        if not isinstance(raw, str):
            return data
        key = raw.strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in _QUOTES:
            return {**data, name: key[1:-1], "keyFlaw": "it was given in quotes (removed)"}
        return data

    @field_validator("scim_bridge_url", mode="before")
    @classmethod
    def _check_url(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return normalize_bridge_url(value)

    @field_validator("api_key", mode="before")
    @classmethod
    def _check_key(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            raise ValueError("must be a string")
        key = raw.strip()
        if not key:
            raise ValueError("is empty; paste the bearer token shown once by Loom")
        if key.lower().startswith("bearer "):
            raise ValueError("should be the token alone, without the 'Bearer ' prefix")
        if key[0] in _QUOTES or key[-1] in _QUOTES:
            raise ValueError(
                "starts or ends with a quote mark that has no pair; copy it again from Loom "
                "(a key in a matching pair of quotes is taken without them)"
            )
        if any(ch.isspace() or (ch.isascii() and not ch.isprintable()) for ch in key):
            raise ValueError("contains spaces or control characters; copy it again from Loom")
        if not key.isascii():
            # httpx sends headers as ASCII and would fail with a UnicodeEncodeError.
            raise ValueError(
                "contains a character that is not plain ASCII (an accented letter, a "
                "currency sign, a typographic quote, an invisible character...); Loom keys "
                "are plain ASCII, so copy it again from Loom"
            )
        return key

    @classmethod
    def create(
        cls,
        scim_bridge_url: str,
        api_key: str,
        api_key_expires_at: date | str | None = None,
        origins: Origins = FROM_ENV,
    ) -> LoomConnection:
        """Build a connection, turning a validation failure into a :class:`ConfigError`.
        ``origins`` says where the settings came from, for messages."""
        return _build(
            {
                "scimBridgeUrl": scim_bridge_url,
                "apiKey": api_key,
                "apiKeyExpiresAt": api_key_expires_at,
                "origins": origins,
            },
            names=None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoomConnection:
        """Read ``LOOM_SCIM_BRIDGE_URL``, ``LOOM_SCIM_API_KEY`` and, optionally,
        ``LOOM_SCIM_API_KEY_EXPIRES_AT`` (an ISO date such as ``2027-03-31``)."""
        env = os.environ if environ is None else environ
        for name in (ENV_URL, ENV_KEY):
            if not env.get(name, "").strip():
                alike = _look_alike(env, name)
                if alike is not None:
                    raise ConfigError(name, f"is not set; {alike} is set: did you mean {name}?")
                raise ConfigError(name, "is not set" + _ENV_HELP[name])
        expires = env.get(ENV_EXPIRES, "").strip() or None
        alike = None if expires else _look_alike(env, ENV_EXPIRES)
        if alike is not None:
            log.warning(
                "%s is set but not read: did you mean %s? The key's expiry stays unknown",
                alike,
                ENV_EXPIRES,
            )
        return _build(
            {"scimBridgeUrl": env[ENV_URL], "apiKey": env[ENV_KEY], "apiKeyExpiresAt": expires},
            names=_FIELD_TO_ENV,
        )

    @property
    def base_url(self) -> str:
        return self.scim_bridge_url

    @property
    def is_bare_host(self) -> bool:
        """True when the URL has no path, so the SCIM prefix must be discovered."""
        return urlsplit(self.scim_bridge_url).path in ("", "/")

    def candidate_base_urls(self) -> list[str]:
        """The base URLs ``check`` tries: the URL itself, or the usual prefixes on a bare host."""
        if self.is_bare_host:
            return [self.scim_bridge_url + prefix for prefix in DISCOVERY_PREFIXES]
        return [self.scim_bridge_url]

    def with_base_url(self, base_url: str) -> LoomConnection:
        return self.model_copy(update={"scim_bridge_url": normalize_bridge_url(base_url)})

    def days_until_expiry(self, today: date | None = None) -> int | None:
        if self.api_key_expires_at is None:
            return None
        return (self.api_key_expires_at - (today or date.today())).days


_ENV_HELP = {
    ENV_URL: (
        ": set it to the SCIM endpoint URL shown in Loom under Workspace Settings > "
        "Security > Directory Sync, e.g. https://scim.example.com/scim/v2"
    ),
    ENV_KEY: (
        ": set it to the SCIM bearer token shown once next to the endpoint in Loom "
        "(regenerate one there if it was lost)"
    ),
}


# The words a misspelt variable is told by (LOOM_SCIM_URL, LOOM_SCIM_TOKEN,
# LOOM_SCIM_KEY_EXPIRES_AT...), the first that matches deciding which variable it meant.
_MEANT = (
    (("EXPIR",), ENV_EXPIRES),
    (("URL", "BRIDGE", "ENDPOINT", "HOST"), ENV_URL),
    (("KEY", "TOKEN", "SECRET", "BEARER"), ENV_KEY),
)
# LOOM_SCIM_* variables read elsewhere (the fleet, `loom-scim mcp`'s own token, the
# project's tests and their browser): never taken for a misspelling.
_OTHER_VARIABLES = (
    "LOOM_SCIM_CONFIG",
    "LOOM_SCIM_FLEET_",
    "LOOM_SCIM_MCP_",
    "LOOM_SCIM_TEST_",
    "LOOM_SCIM_CHROMIUM",
    ENV_DEADLINE,
)


def _look_alike(env: Mapping[str, str], wanted: str) -> str | None:
    """A set ``LOOM_SCIM_*`` variable that nothing reads and that looks meant as ``wanted``."""
    for name in sorted(env):
        if (
            not name.startswith("LOOM_SCIM_")
            or name in (ENV_URL, ENV_KEY, ENV_EXPIRES)
            or name.startswith(_OTHER_VARIABLES)
            or not env[name].strip()
        ):
            continue
        rest = name.removeprefix("LOOM_SCIM_")
        meant = next((var for words, var in _MEANT if any(w in rest for w in words)), None)
        if meant == wanted:
            return name
    return None


def _build(values: dict[str, object], names: Mapping[str, str] | None) -> LoomConnection:
    try:
        connection = LoomConnection.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_input=False)[0]
        field = str(error["loc"][0]) if error["loc"] else "connection"
        shown = names.get(field, field) if names else field
        _, message = plain(error, _FIELD_TO_ENV)
        raise ConfigError(shown, message) from None
    if connection.key_flaw is not None:
        log.warning(
            "the API key from %s: %s; it is sent without them",
            connection.origins.key,
            connection.key_flaw,
        )
    return connection
