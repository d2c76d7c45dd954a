"""Shared fixtures. Tests never touch the internet: they use httpx.MockTransport, the
sandbox on 127.0.0.1, or cassettes replayed with recording off."""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy
from loom_scim_connector.cli import run
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox import Sandbox

from . import replay

# A developer's own connections file must never reach the tests (nor their subprocesses).
os.environ["LOOM_SCIM_CONFIG"] = str(Path(__file__).parent / "no-such-connections.toml")

SECRET = "s3cr3t-Key-0123456789abcdefXYZ"


def errors_of(err: str) -> str:
    """stderr less the line naming the workspace a command talks to (every such command
    prints one first; tests/test_connections.py checks it): what the other tests check."""
    return "".join(line for line in err.splitlines(True) if not line.startswith(WORKSPACE))


WORKSPACE = "loom-scim: workspace "
BASE = "https://scim.example.com/scim/v2"


@dataclass
class Sleeps:
    """An injected sleep that records instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A MockTransport handler that answers from a list, and remembers every request."""

    replies: list[Reply]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)


def scim(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"Content-Type": "application/scim+json", **(headers or {})},
    )


def list_body(ids: list[str], total: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "Resources": [{"id": i, "userName": f"{i}@example.com"} for i in ids],
        **extra,
    }
    if total is not None:
        body["totalResults"] = total
    return body


@pytest.fixture
def connection() -> LoomConnection:
    return LoomConnection.create(BASE, SECRET)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, rand=lambda: 0.0)


@pytest.fixture
def make_client(
    connection: LoomConnection, policy: RetryPolicy
) -> Callable[..., tuple[LoomScimClient, Script]]:
    def make(*replies: Reply, page_size: int = 100) -> tuple[LoomScimClient, Script]:
        script = Script(list(replies))
        client = LoomScimClient(
            connection,
            retry=policy,
            transport=httpx.MockTransport(script),
            page_size=page_size,
        )
        return client, script

    return make


@pytest.fixture(scope="module")
def sandbox_module() -> Iterator[Sandbox]:
    with Sandbox(seed_users=12, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox per test, seeded with 12 users and the three role groups."""
    with Sandbox(seed_users=12, seed=7) as sandbox:
        yield sandbox


async def act(host: LocalHost, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run an action through the host and return its output as the JSON a caller sees."""
    output = await host.run_action(name, payload)
    return dict(output.model_dump(mode="json", by_alias=True))


def sandbox_connection(sandbox: Sandbox) -> LoomConnection:
    return LoomConnection.create(sandbox.url, sandbox.token)


def fast_factory(page_size: int = 100) -> Callable[[LoomConnection], LoomScimClient]:
    """Clients that never sleep between retries."""

    async def no_sleep(_: float) -> None:
        return None

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(conn, retry=RetryPolicy(sleep=no_sleep), page_size=page_size)

    return factory


@pytest.fixture
async def host(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[LocalHost]:
    local = LocalHost(
        sandbox_connection(sandbox),
        store=tmp_path / "store.sqlite3",
        client_factory=fast_factory(5),
    )
    yield local
    local.close()


# -- cassettes (see tests/replay.py) ------------------------------------------------------


@pytest.fixture
def scrubber() -> replay.Scrubber:
    return replay.Scrubber()


@pytest.fixture
def vcr_config(scrubber: replay.Scrubber) -> dict[str, Any]:
    return replay.vcr_config(scrubber)


@pytest.fixture
def scene(record_mode: str, scrubber: replay.Scrubber, tmp_path: Path) -> Iterator[replay.Scenario]:
    with replay.scenario(record_mode, scrubber, tmp_path) as scenario:
        yield scenario


@pytest.fixture(scope="session", autouse=True)
def _note_recording_target(record_mode: str) -> None:
    if record_mode != "none" and os.environ.get("LOOM_SCIM_BRIDGE_URL"):
        domain = os.environ.get("LOOM_SCIM_RECORD_EMAIL_DOMAIN", replay.DEFAULT_DOMAIN)
        replay.write_recording_info("workspace", domain)
    elif record_mode != "none":
        replay.write_recording_info("sandbox", replay.DEFAULT_DOMAIN)


# -- hypothesis profiles (tests/test_properties.py) ----------------------------------------
def _register_hypothesis_profiles() -> None:
    """Chosen by HYPOTHESIS_PROFILE. "default": a fixed set of examples (derandomized,
    so CI is reproducible and writes no example database), in well under a minute.
    "long" (`make properties`): many random examples; failing ones are kept under
    .pytest_cache (ignored by git) and replayed first next time."""
    from hypothesis import settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    settings.register_profile(
        "default", max_examples=100, deadline=None, derandomize=True, print_blob=True
    )
    cache = Path(__file__).resolve().parent.parent / ".pytest_cache" / "hypothesis"
    settings.register_profile(
        "long",
        max_examples=2000,
        deadline=None,
        print_blob=True,
        database=DirectoryBasedExampleDatabase(cache),
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_register_hypothesis_profiles()


def cli(*argv: str) -> tuple[int, str, str]:
    """The CLI run in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    """The CLI pointed at a fresh sandbox by the environment, working in ``tmp_path``."""
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox
