"""Where the connections file is by default: light, so the parser can say it in --help."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ._constants import ENV_CONFIG


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "loom-scim" / "connections.toml"
