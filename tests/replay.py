"""Recording and replaying cassettes.

``make test`` replays with ``--record-mode=none``: no server, no network, no sleeping.
``make record`` runs the same tests with ``--record-mode=rewrite`` against a fresh sandbox
per test, or against a real workspace when ``LOOM_SCIM_BRIDGE_URL`` and
``LOOM_SCIM_API_KEY`` are set. Before anything is written, a :class:`Scrubber` replaces
the real base URL (host and workspace id) with :data:`PLACEHOLDER_BASE`, removes the
token everywhere, and, for a real workspace, replaces personal data in responses with
stable placeholders. Request bodies are never rewritten (replay matches on them), so
tests only send values they chose themselves.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox import Sandbox

PLACEHOLDER_BASE = "https://scim.loom.test/scim/v2"
REPLAY_KEY = "replay-key"
REDACTED = "<REDACTED>"
CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = CASSETTES / "recording.json"
DEFAULT_DOMAIN = "acme.example"
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PERSONAL_KEYS = {
    "givenname",
    "familyname",
    "formatted",
    "middlename",
    "nickname",
    "displayname",
    "display",
    "externalid",
    "employeenumber",
    "title",
}
_DROPPED_KEYS = {"phonenumbers", "addresses", "ims", "x509certificates"}

Mode = Literal["replay", "sandbox", "workspace"]


def recording_info() -> dict[str, Any]:
    if RECORDING.exists():
        return dict(json.loads(RECORDING.read_text()))
    return {"target": "sandbox", "email_domain": DEFAULT_DOMAIN}


def vcr_config(scrubber: Scrubber) -> dict[str, Any]:
    """Writes are matched on their body too: a changed PATCH or POST fails replay.
    No ``record_mode`` here: it comes from the command line only.

    The hooks are closures, not bound methods: pytest-recording deep-copies this config,
    and a deep copy of a bound method would copy the scrubber and lose what the scenario
    tells it later (the real base URL and the token)."""

    def before_record_request(request: Any) -> Any:
        return scrubber.request(request)

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        return scrubber.response(response)

    return {
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "filter_headers": [
            ("authorization", f"Bearer {REDACTED}"),
            ("host", None),
            ("user-agent", None),
        ],
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@dataclass
class Scrubber:
    """Rewrites what vcrpy records; one per cassette, so placeholders stay stable in it."""

    real_base: str | None = None
    token: str | None = None
    personal: bool = False
    sent: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)

    def _text(self, text: str) -> str:
        if self.token:
            text = text.replace(self.token, REDACTED)
        if self.real_base:
            text = text.replace(self.real_base, PLACEHOLDER_BASE)
        return text

    def request(self, request: Any) -> Any:
        request.uri = self._text(request.uri)
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            if self.token and self.token in body:
                body = body.replace(self.token, REDACTED)
                request.body = body.encode()
            self._remember(body)
        return request

    def _remember(self, body: str) -> None:
        """Values the test sent itself stay as they are in responses."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                self.sent.add(item)

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        for name in list(headers):
            headers[name] = [self._text(v) for v in headers[name]]
        body = response.get("body", {}).get("string", b"")
        text = body.decode() if isinstance(body, bytes) else body
        text = self._text(text)
        if self.personal and text:
            text = self._personal(text)
        response["body"]["string"] = text.encode()
        return response

    def _alias(self, value: str, kind: str) -> str:
        if value in self.sent:
            return value
        if value not in self.aliases:
            n = sum(1 for v in self.aliases.values() if v.startswith(kind)) + 1
            self.aliases[value] = f"person{n}@example.invalid" if kind == "email" else f"{kind}-{n}"
        return self.aliases[value]

    def _personal(self, text: str) -> str:
        try:
            data = json.loads(text)
        except ValueError:
            return _EMAIL.sub(lambda m: self._alias(m.group(0), "email"), text)
        return json.dumps(self._walk(data))

    def _walk(self, item: Any, key: str = "") -> Any:
        if isinstance(item, dict):
            return {
                k: self._walk(v, k.lower())
                for k, v in item.items()
                if k.lower() not in _DROPPED_KEYS
            }
        if isinstance(item, list):
            return [self._walk(v, key) for v in item]
        if isinstance(item, str):
            if _EMAIL.fullmatch(item):
                return self._alias(item, "email")
            if key in _PERSONAL_KEYS:
                return self._alias(item, key)
            if key == "value" and item.startswith("http"):
                return self._alias(item, "photo")
        return item


@dataclass
class Scenario:
    """What a cassette test runs against: nothing (replay), a sandbox, or a workspace."""

    mode: Mode
    connection: LoomConnection
    sandbox: Sandbox | None
    email_domain: str
    tmp_path: Path

    def email(self, name: str) -> str:
        return f"cassette.{name}@{self.email_domain}"

    def needs_sandbox(self, why: str) -> None:
        """Knobs exist only in the sandbox: a real workspace cannot record this cassette."""
        if self.mode == "workspace":
            pytest.skip(f"recorded against the sandbox only: {why}")

    @property
    def knobs(self) -> Any:
        """The sandbox settings when recording against it; a sink that ignores writes otherwise."""
        return self.sandbox.settings if self.sandbox is not None else _Ignore()

    def policy(self) -> RetryPolicy:
        # Replay and the sandbox never sleep; a real workspace gets the real waits.
        return RetryPolicy() if self.mode == "workspace" else RetryPolicy(sleep=no_wait)

    def host(self, page_size: int = 100) -> LocalHost:
        def factory(conn: LoomConnection) -> LoomScimClient:
            return LoomScimClient(conn, retry=self.policy(), page_size=page_size)

        return LocalHost(
            self.connection, store=self.tmp_path / "replay.sqlite3", client_factory=factory
        )


class _Ignore:
    def __setattr__(self, name: str, value: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return None


@contextmanager
def scenario(record_mode: str, scrubber: Scrubber, tmp_path: Path) -> Iterator[Scenario]:
    info = recording_info()
    if record_mode == "none":
        connection = LoomConnection.create(PLACEHOLDER_BASE, REPLAY_KEY)
        yield Scenario("replay", connection, None, info["email_domain"], tmp_path)
        return
    if os.environ.get("LOOM_SCIM_BRIDGE_URL") and os.environ.get("LOOM_SCIM_API_KEY"):
        connection = LoomConnection.from_env()
        scrubber.real_base = connection.base_url
        scrubber.token = connection.api_key.get_secret_value()
        scrubber.personal = True
        domain = os.environ.get("LOOM_SCIM_RECORD_EMAIL_DOMAIN", DEFAULT_DOMAIN)
        yield Scenario("workspace", connection, None, domain, tmp_path)
        return
    with Sandbox(seed_users=12, seed=11) as sandbox:
        scrubber.real_base = sandbox.url
        scrubber.token = sandbox.token
        connection = LoomConnection.create(sandbox.url, sandbox.token)
        yield Scenario("sandbox", connection, sandbox, DEFAULT_DOMAIN, tmp_path)


def write_recording_info(mode: Mode, email_domain: str) -> None:
    CASSETTES.mkdir(exist_ok=True)
    RECORDING.write_text(
        json.dumps({"target": mode, "email_domain": email_domain}, indent=2) + "\n"
    )
