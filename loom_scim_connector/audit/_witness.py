"""Who acts and what they sent: the actor's name, and a witness of every HTTP exchange
of a session (``METHOD /path -> status``), for the evidence of offboarding."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.host import LocalHost

NO_REQUEST = "(no request sent)"


def default_actor() -> str:
    """Who is acting, for the evidence, as a colleague would recognise them: the OS
    account's full name when it has one, then ``login@host`` ("Jane Doe (jane@laptop)",
    else "jane@laptop"). No process id: the evidence's time tells runs apart, and
    ``--actor`` names someone else ("jane, ticket IT-42")."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    login = f"{user}@{socket.gethostname()}"
    full = _full_name(user)
    return f"{full} ({login})" if full else login


def _full_name(user: str) -> str | None:
    """The account's full name (the first field of its GECOS), unless it only repeats
    the login ("root") or there is none."""
    try:
        import pwd

        gecos = pwd.getpwnam(user).pw_gecos
    except (ImportError, KeyError):  # Windows; or a login the password database lacks
        return None
    name = " ".join("".join(c for c in gecos.split(",")[0] if c.isprintable()).split())
    return name if name and name.lower() != user.lower() else None


@dataclass
class Witness:
    """An httpx response hook: ``METHOD /path -> status`` for each exchange, the path
    below the bridge URL (a list's filter shown, the only query that says anything)."""

    base_path: str
    lines: list[str] = field(default_factory=list)

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        path = request.url.path.removeprefix(self.base_path) or "/"
        found = request.url.params.get("filter")
        shown = f"{path}?filter={found}" if found else path
        self.lines.append(f"{request.method} {shown} -> {response.status_code}")

    def so_far(self) -> str:
        """The exchanges since the last :meth:`take`, kept for it."""
        return "; ".join(self.lines) or NO_REQUEST

    def take(self) -> str:
        said, self.lines = "; ".join(self.lines), []
        return said or NO_REQUEST


@asynccontextmanager
async def session(host: LocalHost) -> AsyncIterator[tuple[LoomScimClient, Witness]]:
    """A client of the host's session, with a witness on its HTTP exchanges."""
    async with host.session() as client:
        witness = Witness(httpx.URL(host.connection.base_url).path.rstrip("/"))
        client.on_response(witness)
        yield client, witness
