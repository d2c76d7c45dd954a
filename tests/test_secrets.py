"""The API key never shows: not in repr, str, dumps, errors, logs or the CLI."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import random
import re
import sqlite3
import string
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loom_scim_connector import ApiError, LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector._messages import redact
from loom_scim_connector.cli import run
from loom_scim_connector.models.scim import parse_error_body

from .conftest import SECRET, Script, list_body, scim
from .loopback import Loopback

Make = Callable[..., tuple[LoomScimClient, Script]]


def test_connection_repr_str_and_dumps(connection: LoomConnection) -> None:
    for text in (
        repr(connection),
        str(connection),
        connection.model_dump_json(),
        str(connection.model_dump()),
        repr(connection.api_key),
    ):
        assert SECRET not in text


def test_validation_error_of_direct_construction_hides_input() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        LoomConnection.model_validate({"scimBridgeUrl": "http://evil.example", "apiKey": SECRET})
    assert SECRET not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        LoomConnection.model_validate(
            {"scimBridgeUrl": "https://x.example", "apiKey": f"Bearer {SECRET}"}
        )
    assert SECRET not in str(caught.value)


def test_client_repr(make_client: Make) -> None:
    client, _ = make_client()
    assert SECRET not in repr(client)


async def test_the_key_is_sent_as_a_bearer_token(make_client: Make) -> None:
    client, script = make_client(scim(200, list_body([])))
    await client.list_page("Users", 1, 1)
    request = script.requests[0]
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.headers["Accept"] == "application/scim+json, application/json"
    assert request.headers["User-Agent"].startswith("loom-scim-connector/")


async def test_an_echoed_key_is_redacted_from_errors(make_client: Make) -> None:
    client, _ = make_client(scim(401, {"detail": f"token {SECRET} is expired"}))
    with pytest.raises(ApiError) as caught:
        await client.get("Users", "u1")
    assert SECRET not in str(caught.value)
    assert "[REDACTED]" in str(caught.value)


async def test_a_key_echoed_across_the_detail_cut_off_is_not_half_shown(make_client: Make) -> None:
    detail = "x" * (300 - len(SECRET) // 2) + SECRET + " is expired"
    client, _ = make_client(scim(401, {"detail": detail}))
    with pytest.raises(ApiError) as caught:
        await client.get("Users", "u1")
    assert SECRET[: len(SECRET) // 2] not in str(caught.value)


async def test_logs_never_hold_the_key(make_client: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = make_client(
        httpx.ConnectError(f"failed for {SECRET}"),
        scim(429, {"detail": SECRET}),
        scim(200, list_body(["u1"], total=1)),
    )
    await client.list_page("Users", 1, 10)
    assert caplog.records, "the client should have logged its retries"
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert SECRET not in caplog.text


# -- issue 18, case 10: every representation of the key, redacted before any cut ----------

KEY_CHARS = string.ascii_letters + string.digits + "+/=-_.~"
ECHOED = "Ab3+Zk/9QwErTy+UiOp12/34XyZ+q/Lm"  # a key with + and / (base64-like), as Loom's


def _json_escaped(key: str, which: Callable[[int], bool], upper: bool) -> str:
    """``key`` with the characters ``which`` picks as ``\\uXXXX`` (and any other ``/`` as
    ``\\/``), as a .NET server's JSON writer escapes them."""
    out = []
    for i, ch in enumerate(key):
        if which(i):
            code = f"{ord(ch):04x}"
            out.append("\\u" + (code.upper() if upper else code))
        else:
            out.append("\\/" if ch == "/" else ch)
    return "".join(out)


def _percent(key: str, which: Callable[[int], bool], upper: bool) -> str:
    out = []
    for i, ch in enumerate(key):
        code = f"%{ord(ch):02x}"
        out.append((code.upper() if upper else code) if which(i) or not ch.isalnum() else ch)
    return "".join(out)


@st.composite
def echoes(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(key, a long detail echoing it in one representation, whether the detail is JSON
    text the client decodes once before redacting)."""
    key = draw(st.text(KEY_CHARS, min_size=16, max_size=48))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    kinds = ["raw", "json-all", "json-some", "percent-all", "percent-some", "base64", "base64url"]
    kind = draw(st.sampled_from(kinds))
    upper = draw(st.booleans())
    if kind == "raw":
        shown = key
    elif kind.startswith("base64"):  # an echoed Authorization header, bytes of any offset
        raw = b"x" * draw(st.integers(0, 5)) + f"Bearer {key}".encode()
        encode = base64.urlsafe_b64encode if kind == "base64url" else base64.b64encode
        shown = encode(raw).decode()
    elif kind.startswith("json"):
        shown = _json_escaped(key, lambda i: kind == "json-all" or rng.random() < 0.5, upper)
    else:
        shown = _percent(key, lambda i: kind == "percent-all" or rng.random() < 0.5, upper)
    filler = string.ascii_lowercase + " :,"
    before = "".join(rng.choice(filler) for _ in range(draw(st.integers(0, 1200))))
    after = "".join(rng.choice(filler) for _ in range(draw(st.integers(0, 600))))
    return key, f"{before}token {shown} is invalid{after}", draw(st.booleans())


def leaks(key: str, text: str) -> list[str]:
    """Runs of 8 or more of the key's characters in ``text``, as it is and decoded
    (JSON escapes, percent-encoding) by the standard library, not by the redaction."""
    unescaped = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    forms = {text, unescaped.replace("\\/", "/"), unquote(text), unquote(unescaped)}
    for chunk in re.findall(r"[A-Za-z0-9+/_=-]{12,}", text):  # base64 at any offset
        for offset in range(4):
            part = chunk[offset:].rstrip("=").replace("+", "-").replace("/", "_")
            with contextlib.suppress(ValueError):
                forms.add(base64.urlsafe_b64decode(part[: len(part) // 4 * 4]).decode("latin-1"))
    return [key[i : i + 8] for i in range(len(key) - 7) for form in forms if key[i : i + 8] in form]


@settings(max_examples=150, deadline=None)
@given(echo=echoes(), status=st.sampled_from([400, 401, 409, 500]))
def test_no_representation_of_the_key_reaches_any_sink(
    echo: tuple[str, str, bool], status: int
) -> None:
    key, detail, as_json = echo
    if as_json:  # the detail inside a JSON body, its backslashes escaped once more
        body = ('{"detail": "' + detail.replace("\\", "\\\\") + '"}').encode()
    else:
        body = detail.encode()
    connection = LoomConnection.create("https://scim.example.com/scim/v2", key)

    def server(request: httpx.Request) -> httpx.Response:
        ctype = "application/scim+json" if as_json else "text/plain"
        return httpx.Response(status, content=body, headers={"Content-Type": ctype})

    logger = logging.getLogger("test_secrets.property")
    records: list[logging.LogRecord] = []
    handler = _Keep(records)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    client = LoomScimClient(
        connection,
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(sleep=no_wait, max_attempts=2),
        log=logger,
    )
    try:
        with pytest.raises(ApiError) as caught:
            asyncio.run(client.get("Users", "u1"))
    finally:
        logger.removeHandler(handler)
        asyncio.run(client.aclose())
    error = caught.value
    sinks = [str(error), repr(error), error.detail or "", *(r.getMessage() for r in records)]
    for sink in sinks:
        assert not leaks(key, sink), sink


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_redaction_comes_before_the_cut_for_every_representation() -> None:
    """The detail is shortened to 300 characters: a key echoed across the cut, escaped
    (``\\u002B``, ``\\/``), percent-encoded or raw, shows no part of itself."""
    for shown in (
        ECHOED,
        ECHOED.replace("+", "\\u002B").replace("/", "\\/"),
        ECHOED.replace("+", "%2b").replace("/", "%2F"),
        ECHOED[:20],  # a server that cut the key itself
    ):
        for at in range(270, 300):
            text = "x" * at + shown + " is invalid"
            shortened = parse_error_body(text.encode(), "text/plain", lambda t: redact(t, ECHOED))
            assert shortened.detail is not None
            assert not leaks(ECHOED, shortened.detail), (at, shown)


def test_short_runs_and_other_text_are_left_alone() -> None:
    assert redact("user Ab3+Zk and Lm ok", ECHOED) == "user Ab3+Zk and Lm ok"
    assert redact("", ECHOED) == "" and redact("abc", "") == "abc"
    assert redact(f"a {ECHOED.upper()} b", ECHOED) == "a [REDACTED] b"  # any case


# -- the same through the CLI: stderr, stdout, the runs and evidence tables ---------------


def _echo_server(detail_status: int) -> Callable[[httpx.Request], httpx.Response]:
    escaped = ECHOED.replace("+", "\\u002B").replace("/", "\\/")
    detail = "x" * 280 + f"token {escaped} is not valid for this tenant " + "y" * 650
    user = {"id": "u1", "userName": "leaver@example.com", "active": True}

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" or (
            request.url.path.endswith("/Users") and ("filter" not in request.url.params)
        ):
            body = ('{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "'
                    f'{detail_status}", "detail": "{detail}"}}')  # fmt: skip
            return httpx.Response(
                detail_status, content=body.encode(), headers={"Content-Type": "application/json"}
            )
        if request.url.path.endswith("/Users"):
            return scim(200, list_body([]) | {"Resources": [user], "totalResults": 1})
        return scim(200, user)

    return server


@pytest.mark.parametrize("status", [400, 409])
def test_a_json_escaped_echo_in_a_long_detail_reaches_no_sink_of_the_cli(
    status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .NET-style server echoes the key with ``+`` as ``\\u002B`` and ``/`` as ``\\/``,
    at character 280 of a 1,000-character detail: before, the detail was cut to 300
    before redaction, and the start of the key showed on stderr and in the store."""
    store = tmp_path / "store.sqlite3"
    with Loopback(_echo_server(status)) as server:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", ECHOED)
        outputs = [
            _cli("sync", "users", "--store", str(store)),
            _cli("offboard", "leaver@example.com", "--store", str(store), "--json"),
        ]
    for code, out, err in outputs:
        assert code != 0
        assert "[REDACTED]" in out + err
        assert not leaks(ECHOED, out) and not leaks(ECHOED, err), err
    db = sqlite3.connect(store)
    runs = [r[0] for r in db.execute("SELECT error FROM runs")]
    evidence = [r[0] for r in db.execute("SELECT detail FROM evidence WHERE outcome != 'unknown'")]
    assert runs and evidence
    for text in runs + evidence:
        assert "[REDACTED]" in text and not leaks(ECHOED, text), text


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()
