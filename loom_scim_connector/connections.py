"""Named connections: several workspaces in one TOML file, keys never written by us.

The file (``--config``, else ``$LOOM_SCIM_CONFIG``, else
``$XDG_CONFIG_HOME/loom-scim/connections.toml``, else
``~/.config/loom-scim/connections.toml``)::

    default = "acme"

    [connections.acme]
    url = "https://scim.example.com/scim/v2"
    key_command = "op read op://IT/loom-scim-acme/credential"   # a password manager
    key_expires_at = 2027-03-31

    [connections.acme-eu]
    url = "https://scim.example.eu/scim/v2"
    key_keyring = "loom-scim/acme-eu"     # the OS keyring: service/username

The key comes from a command (run without a shell; its standard output, stripped, is
the key) or from the OS keyring (the optional ``keyring`` package). ``--connection
NAME`` picks a connection of the file, and wins over the environment variables (the CLI
says so when they are set too); without it, the environment variables, when both are
set, win over the file's default. The tool never writes a key anywhere.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ._constants import ENV_CONFIG, ENV_EXPIRES, ENV_KEY, ENV_URL
from ._origins import Origins
from ._paths import default_config_path
from .config import LoomConnection
from .errors import ConfigError

KEY_COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class NamedConnection:
    """One entry of the file, before its key is fetched (listing never fetches keys)."""

    name: str
    url: str
    key_source: str
    key_expires_at: date | None
    spec: Mapping[str, Any]
    path: Path | None = None
    # Why the entry cannot be used (a bad entry does not break the others): None when fine.
    problem: ConfigError | None = None

    def connect(self) -> LoomConnection:
        if self.problem is not None:
            raise self.problem
        key = _key_of(self.name, self.spec)
        origins = Origins.of_entry(self.name, self.path, self.key_source)
        return _build(self.name, self.url, key, self.key_expires_at, origins)


@dataclass(frozen=True)
class ConnectionsFile:
    path: Path
    default: str | None
    entries: dict[str, NamedConnection]

    def pick(self, name: str | None) -> NamedConnection:
        chosen = (
            name or self.default or (next(iter(self.entries)) if len(self.entries) == 1 else None)
        )
        if chosen is None:
            raise ConfigError(
                "--connection",
                f"{self.path} names {len(self.entries)} connections and no default: "
                f"pick one of {', '.join(sorted(self.entries))}",
            )
        if chosen not in self.entries:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ConfigError(
                "--connection", f"no connection {chosen!r} in {self.path} (known: {known})"
            )
        return self.entries[chosen]


def load(path: Path) -> ConnectionsFile:
    """Read and check the file; every problem is one :class:`ConfigError` naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "does not exist (see README: Several workspaces)") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    table = data.get("connections", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: connections", "must be a table of named connections")
    entries = {name: _checked(path, name, spec) for name, spec in table.items()}
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or default not in entries):
        raise ConfigError(f"{path}: default", f"names no connection of the file: {default!r}")
    return ConnectionsFile(path, default, entries)


@dataclass(frozen=True)
class Chosen:
    """The connection in force, and where it came from (never its key)."""

    connection: LoomConnection
    name: str | None  # the file's connection; None: the environment's
    ignored: str | None = None  # the environment's URL, set too and overridden by the name

    def describe(self) -> str:
        """One line naming the workspace: its name (or the environment) and its URL."""
        url = self.connection.base_url
        if self.name is None:
            return f"workspace from {ENV_URL} ({url})"
        return f"workspace {self.name!r} ({url})"


def choose(
    name: str | None,
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Chosen:
    """The connection to use. A name (``--connection``) wins: that connection of the
    file, even when the environment sets one too (``ignored`` then says which). Without
    a name, the environment's when both variables are set, else the file's default."""
    env = os.environ if environ is None else environ
    from_env = bool(env.get(ENV_URL, "").strip() and env.get(ENV_KEY, "").strip())
    path = config or default_config_path(env)
    if name is not None:
        entry = load(path).pick(name)
        return Chosen(entry.connect(), entry.name, env[ENV_URL].strip() if from_env else None)
    if from_env or (config is None and not path.exists()):
        return Chosen(LoomConnection.from_env(env), None)  # names any missing variable
    entry = load(path).pick(None)
    return Chosen(entry.connect(), entry.name)


def resolve(
    name: str | None,
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoomConnection:
    """The connection :func:`choose` picks."""
    return choose(name, config, environ).connection


def _checked(path: Path, name: str, spec: Any) -> NamedConnection:
    """The entry, or one that carries its problem: listed, and refused only when picked."""
    try:
        return _entry(path, name, spec)
    except ConfigError as exc:
        url = spec.get("url") if isinstance(spec, dict) else None
        return NamedConnection(
            name, url if isinstance(url, str) else "?", "?", None, {}, path, problem=exc
        )


def _entry(path: Path, name: str, spec: Any) -> NamedConnection:
    where = f"{path}: connections.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(where, "must be a table with url and key_command or key_keyring")
    unknown = set(spec) - {"url", "key_command", "key_keyring", "key_expires_at"}
    if unknown:
        raise ConfigError(
            where,
            f"unknown keys {', '.join(sorted(unknown))} (a key itself "
            "is never kept in this file: use key_command or key_keyring)",
        )
    url = spec.get("url")
    if not isinstance(url, str):
        raise ConfigError(f"{where}.url", "is missing: the SCIM endpoint URL from Loom")
    sources = [s for s in ("key_command", "key_keyring") if s in spec]
    if len(sources) != 1:
        raise ConfigError(where, "needs exactly one of key_command and key_keyring")
    expires = spec.get("key_expires_at")
    if expires is not None and not isinstance(expires, date):
        raise ConfigError(f"{where}.key_expires_at", "must be a date such as 2027-03-31")
    return NamedConnection(name, url, sources[0], expires, spec, path)


def _key_of(name: str, spec: Mapping[str, Any]) -> str:
    where = f"connections.{name}"
    if "key_command" in spec:
        command = spec["key_command"]
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        try:
            done = subprocess.run(  # noqa: S603 (the user's own command, without a shell)
                argv, capture_output=True, text=True, timeout=KEY_COMMAND_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(
                f"{where}.key_command", f"could not run: {type(exc).__name__}"
            ) from None
        if done.returncode != 0:
            raise ConfigError(f"{where}.key_command", f"exited with {done.returncode}")
        return done.stdout.strip()
    service, _, username = str(spec["key_keyring"]).partition("/")
    try:
        import keyring  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            f"{where}.key_keyring", "needs the keyring package: pip install keyring"
        ) from None
    key = keyring.get_password(service, username or name)
    if not key:
        raise ConfigError(
            f"{where}.key_keyring", f"the keyring has no password for {service}/{username or name}"
        )
    return str(key)


def _build(name: str, url: str, key: str, expires: date | None, origins: Origins) -> LoomConnection:
    try:
        return LoomConnection.create(url, key, expires, origins=origins)
    except ConfigError as exc:
        field = {"scimBridgeUrl": "url", "apiKey": "key", "apiKeyExpiresAt": "key_expires_at"}
        raise ConfigError(
            f"connections.{name}.{field.get(exc.field, exc.field)}", exc.reason
        ) from None


__all__ = [
    "ENV_CONFIG",
    "ENV_EXPIRES",
    "Chosen",
    "ConnectionsFile",
    "NamedConnection",
    "choose",
    "default_config_path",
    "load",
    "resolve",
]
