"""Bad input gets one clear line and nothing is lost: no traceback without --debug, ever.

Each case runs the real CLI and checks the documented exit code (2 for bad input or
configuration, 1 for an answer that is not SCIM), exactly one ``loom-scim: error:`` line
on stderr, no traceback, the key never echoed, and, for bad input or configuration, that
no request was sent. Nothing here touches the internet: the sandbox runs on 127.0.0.1,
and the ``network`` fixture stands in for every other host.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

from loom_scim_connector import ConfigError, LoomConnection
from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, run
from loom_scim_connector.errors import ProtocolError
from loom_scim_connector.models.scim import parse_error_body
from loom_scim_connector.sandbox import Sandbox

from .conftest import BASE, SECRET, Script, errors_of, scim

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "1" * 100_000
CONTROL = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u009b", "\t", "\n", "\u2028"]
SURROGATES = ["\ud800", "\udfff"]


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*argv: str, stdin: str | TextIO = "") -> Result:
    out, err = io.StringIO(), io.StringIO()
    stream = io.StringIO(stdin) if isinstance(stdin, str) else stdin
    code = run(list(argv), out=out, err=err, stdin=stream)
    return Result(code, out.getvalue(), errors_of(err.getvalue()))


def assert_one_error_line(result: Result, code: int, *needles: str, key: str = SECRET) -> None:
    assert result.code == code, result.err
    assert result.err.startswith("loom-scim: error: "), result.err
    assert result.err.count("\n") == 1 and result.err.endswith("\n"), result.err
    assert "Traceback" not in result.err + result.out
    assert "unexpected" not in result.err
    assert key not in result.err + result.out
    for needle in needles:
        assert needle in result.err


@dataclass
class Network:
    """Every request httpx would send to a real host lands here instead."""

    replies: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    net = Network()

    def reply(request: httpx.Request) -> httpx.Response:
        net.requests.append(request)
        if not net.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return net.replies.pop(0)

    async def handle(_: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        return reply(request)

    def handle_sync(_: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        return reply(request)  # GETs go through httpx's sync client on worker threads

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_sync)
    return net


@pytest.fixture
def remote_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A connection to a (fake) remote workspace, served by the ``network`` fixture."""
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", BASE)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", SECRET)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def sandbox_bi() -> Iterator[Sandbox]:
    with Sandbox(seed_users=3, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def env(sandbox_bi: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox_bi.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox_bi.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    monkeypatch.chdir(tmp_path)
    return sandbox_bi


# -- 1. a non-ASCII API key ---------------------------------------------------------------

NON_ASCII_KEYS = [
    "sk-abcé0123456789",
    "sk-abc€0123456789",
    "sk-“quoted”-0123456",
    "sk-a\u200bb012345",
]


@pytest.mark.parametrize("key", NON_ASCII_KEYS)
@pytest.mark.parametrize(
    "argv",
    [
        ("check",),
        ("sync", "users", "--store", "s.sqlite3"),
        ("action", "get-user", "--input", '{"id": "u1"}'),
    ],
    ids=["check", "sync", "action"],
)
def test_a_non_ascii_key_is_one_line_and_nothing_is_sent(
    key: str,
    argv: tuple[str, ...],
    network: Network,
    remote_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOM_SCIM_API_KEY", key)
    result = cli(*argv)
    assert_one_error_line(result, EXIT_BAD_INPUT, "LOOM_SCIM_API_KEY: ", "not plain ASCII", key=key)
    assert network.requests == []


@pytest.mark.parametrize("key", NON_ASCII_KEYS)
def test_a_non_ascii_key_is_a_config_error_naming_api_key(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.create(BASE, key)
    assert caught.value.field == "apiKey"
    assert "not plain ASCII" in str(caught.value)
    assert key not in str(caught.value) and key not in repr(caught.value)


# -- 2. a bridge URL that urlsplit or httpx cannot use -------------------------------------

BAD_URLS = [
    ("https://scim.example.com:99999/scim/v2", "port"),
    ("https://h.example.com:abc/", "port"),
    ("https://scim.example.com:0/scim/v2", "port"),
    ("https://scim.example.com:-1/scim/v2", "port"),
    ("http://[::1/scim", "malformed IPv6 address"),
    ("https://[zz]/scim/v2", "malformed IPv6 address"),
    ("https://admin:hunter2@[::1/scim", "malformed IPv6 address"),
    ("https://scim example.com/scim/v2", "spaces or control characters"),
    ("https://scim.exa\u0007mple.com/scim/v2", "spaces or control characters"),
    ("https://scim.exa\tmple.com/scim/v2", "spaces or control characters"),
    ("https://scim.example.com/sc\u001bim/v2", "spaces or control characters"),
    ("https://scim\u200b.example.com/scim/v2", "spaces or control characters"),
    ("https://scim%2eexample.com/scim/v2", "host name"),
    ("https://sc!m.example.com/scim/v2", "host name"),
    ("https://999.1.1.1/scim/v2", "valid domain name or IP address"),
    ("https://sc\u2603im.example.com/scim/v2", "valid domain name or IP address"),
    ("https://[v1.fe]/scim/v2", "valid domain name or IP address"),
    ("https://scim.example.com/" + "a" * 70_000, "too long"),
]


@pytest.mark.parametrize(("url", "needle"), BAD_URLS)
def test_an_unusable_bridge_url_is_one_line_and_nothing_is_sent(
    url: str, needle: str, network: Network, remote_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", url)
    for argv in (("check",), ("action", "get-user", "--input", '{"id": "u1"}')):
        result = cli(*argv)
        assert_one_error_line(result, EXIT_BAD_INPUT, "LOOM_SCIM_BRIDGE_URL: ", needle)
        assert "hunter2" not in result.err
    assert network.requests == []


@pytest.mark.parametrize(("url", "needle"), BAD_URLS)
def test_an_unusable_bridge_url_is_a_config_error_naming_the_field(url: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LoomConnection.create(url, SECRET)
    assert caught.value.field == "scimBridgeUrl"
    assert needle in str(caught.value) and "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://scim.example.com:443/scim/v2",
        "https://scim_bridge.example.com/scim/v2",
        "https://exämple.com/scim/v2",
        "http://[::1]:8700/scim/v2",
        "https://[2001:db8::1]/scim/v2",
        "https://scim.example.com/scim/v2.0/ab%20c",
    ],
)
def test_usable_bridge_urls_are_still_accepted(url: str) -> None:
    assert LoomConnection.create(url, SECRET).base_url == url


# -- 3. the CLI's --input -----------------------------------------------------------------


def _input_ways(tmp_path: Path, text: str) -> list[tuple[tuple[str, ...], str]]:
    """The same text as the --input argument, in a file (@file) and on stdin (-)."""
    (tmp_path / "in.json").write_text(text, encoding="utf-8")
    return [
        (("--input", text), ""),
        (("--input", f"@{tmp_path / 'in.json'}"), ""),
        (("--input", "-"), text),
    ]


def test_deeply_nested_input_is_one_line_and_nothing_is_sent(env: Sandbox, tmp_path: Path) -> None:
    before = env.app.requests_served
    for args, stdin in _input_ways(tmp_path, DEEP):
        result = cli("action", "get-user", *args, stdin=stdin)
        assert_one_error_line(result, EXIT_BAD_INPUT, "--input", "nested too deeply")
    nested_in_object = '{"id": ' + DEEP + "}"
    result = cli("action", "get-user", "--input", nested_in_object)
    assert_one_error_line(result, EXIT_BAD_INPUT, "nested too deeply")
    assert env.app.requests_served == before


@pytest.mark.parametrize("text", ["", "   ", "\n", "\ufeff"])
def test_empty_input_says_it_is_empty(env: Sandbox, tmp_path: Path, text: str) -> None:
    before = env.app.requests_served
    for args, stdin in _input_ways(tmp_path, text):
        result = cli("action", "get-user", *args, stdin=stdin)
        assert_one_error_line(result, EXIT_BAD_INPUT, "is empty")
        assert "Expecting value" not in result.err
    assert env.app.requests_served == before


def test_input_that_is_not_utf8_is_one_line(env: Sandbox, tmp_path: Path) -> None:
    before = env.app.requests_served
    (tmp_path / "latin1.json").write_bytes('{"id": "é"}'.encode("latin-1"))
    result = cli("action", "get-user", "--input", f"@{tmp_path / 'latin1.json'}")
    assert_one_error_line(result, EXIT_BAD_INPUT, "not UTF-8")
    stdin = io.TextIOWrapper(io.BytesIO(b'{"id": "\xff"}'), encoding="utf-8")
    result = cli("action", "get-user", "--input", "-", stdin=stdin)
    assert_one_error_line(result, EXIT_BAD_INPUT, "not UTF-8")
    assert env.app.requests_served == before


def test_a_number_with_too_many_digits_is_one_line(env: Sandbox, tmp_path: Path) -> None:
    before = env.app.requests_served
    for args, stdin in _input_ways(tmp_path, '{"id": ' + HUGE_INT + "}"):
        result = cli("action", "get-user", *args, stdin=stdin)
        assert_one_error_line(result, EXIT_BAD_INPUT, "too many digits")
        assert "set_int_max_str_digits" not in result.err
    assert env.app.requests_served == before


def test_a_byte_order_mark_is_not_an_error(env: Sandbox, tmp_path: Path) -> None:
    user_id = env.seeded["all"][0]
    (tmp_path / "bom.json").write_text(json.dumps({"id": user_id}), encoding="utf-8-sig")
    result = cli("action", "get-user", "--input", f"@{tmp_path / 'bom.json'}")
    assert result.code == EXIT_OK, result.err
    assert json.loads(result.out)["id"] == user_id


# -- 4. a server answer that json.loads cannot read ---------------------------------------


def _raw(status: int, body: bytes, ctype: str = "application/scim+json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": ctype})


@pytest.mark.parametrize(
    ("status", "body", "code", "needle"),
    [
        (200, DEEP.encode(), EXIT_FAILURE, "nested too deeply"),
        (
            200,
            b'{"id": "u1", "userName": "a@example.com", "x": ' + DEEP.encode() + b"}",
            EXIT_FAILURE,
            "nested too deeply",
        ),
        (200, b'{"id": "u1", "userName": "\xc3\x28@example.com"}', EXIT_FAILURE, "not UTF-8"),
        (200, b'{"id": "u1", "x": ' + HUGE_INT.encode() + b"}", EXIT_FAILURE, "too many digits"),
        (400, DEEP.encode(), EXIT_FAILURE, "nested too deeply"),
        (404, DEEP.encode(), EXIT_NOT_FOUND, "nested too deeply"),
        (400, b'{"detail": ' + HUGE_INT.encode() + b"}", EXIT_FAILURE, "HTTP 400"),
        (
            400,
            b'{"detail": "bad\\nvalue\\u001b[31m", "scimType": "x\\ny"}',
            EXIT_FAILURE,
            "detail: bad value [31m",
        ),
        (400, b"bad\r\nrequest\n\x1b[0m", EXIT_FAILURE, "detail: bad request [0m"),
    ],
)
def test_an_unreadable_answer_is_one_line_and_not_retried(
    status: int, body: bytes, code: int, needle: str, network: Network, remote_env: None
) -> None:
    network.replies.append(_raw(status, body))
    if status == 404:  # the action then checks that the URL itself is SCIM
        network.replies.append(_raw(200, b'{"Resources": [], "totalResults": 0}'))
    result = cli("action", "get-user", "--input", '{"id": "u1"}')
    assert_one_error_line(result, code, needle)
    assert "\x1b" not in result.err
    assert len(network.requests) == (2 if status == 404 else 1)


def test_an_unreadable_list_page_fails_the_sync_in_one_line(
    network: Network, remote_env: None
) -> None:
    network.replies.append(_raw(200, DEEP.encode()))
    result = cli("sync", "users", "--store", "s.sqlite3")
    assert_one_error_line(result, EXIT_FAILURE, "nested too deeply")
    assert result.out == ""
    assert len(network.requests) == 1


async def test_the_client_raises_protocol_error_for_a_deep_body(make_client: Any) -> None:
    client, script = make_client(_raw(200, DEEP.encode()))
    assert isinstance(script, Script)
    with pytest.raises(ProtocolError) as caught:
        await client.get("Users", "u1")
    assert "nested too deeply" in str(caught.value) and not caught.value.retryable
    assert len(script.requests) == 1
    await client.aclose()


async def test_a_huge_float_is_read_not_raised(make_client: Any) -> None:
    client, _ = make_client(_raw(200, b'{"id": "u1", "userName": "a@example.com", "x": 1e999999}'))
    assert (await client.get("Users", "u1"))["id"] == "u1"
    await client.aclose()


def test_error_bodies_never_raise() -> None:
    assert parse_error_body(DEEP.encode(), "application/json").detail == (
        "an error body nested too deeply to read"
    )
    huge = parse_error_body(b'{"detail": ' + HUGE_INT.encode() + b"}", "application/json")
    assert huge.detail is not None and len(huge.detail) <= 300
    bad_utf8 = parse_error_body(b'{"detail": "caf\xe9"}', "application/json")
    assert bad_utf8.detail == "caf\ufffd"
    lines = parse_error_body(b'{"detail": "a\\n\\n b\\u0000c", "scimType": "t\\r\\n"}', "")
    assert (lines.detail, lines.scim_type) == ("a b c", "t")
    assert scim(400, {"detail": "x"}).status_code == 400


# -- 5. control characters and lone surrogates in action inputs -----------------------------

BAD_CHARS = CONTROL + SURROGATES


def _why(char: str) -> str:
    return "must not contain " + ("invalid Unicode" if char in SURROGATES else "control characters")


@pytest.mark.parametrize("char", BAD_CHARS, ids=[f"U+{ord(c):04X}" for c in BAD_CHARS])
@pytest.mark.parametrize(
    ("action", "payload", "where"),
    [
        ("create-user", {"email": "new@acme.example", "firstName": "Ja{}ne"}, "firstName"),
        ("create-user", {"email": "new@acme.example", "lastName": "Do{}e"}, "lastName"),
        ("create-user", {"email": "ne{}w@acme.example"}, "email"),
        ("create-user", {"email": "new@acme.example", "externalId": "00u{}1"}, "externalId"),
        ("create-user", {"email": "new@acme.example", "employeeNumber": "E{}1"}, "employeeNumber"),
        ("update-user", {"id": "u1", "photoUrl": "https://img.example/{}a.png"}, "photoUrl"),
        ("get-user", {"id": "u{}1"}, "id"),
        ("find-user", {"email": "a{}@acme.example"}, "email"),
        ("create-group", {"displayName": "Sa{}les"}, "displayName"),
        ("create-group", {"displayName": "Sales", "memberIds": ["u{}1"]}, "memberIds.0"),
        ("add-group-members", {"id": "g1", "memberIds": ["u1", "u{}2"]}, "memberIds.1"),
        ("rename-group", {"id": "g1", "displayName": "Sa{}les"}, "displayName"),
    ],
)
def test_control_characters_are_refused_naming_the_field(
    env: Sandbox, char: str, action: str, payload: dict[str, Any], where: str
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value.replace("{}", char) if isinstance(value, str) else value

    text = json.dumps({k: fill(v) for k, v in payload.items()})  # \uXXXX escapes
    before = env.app.requests_served
    result = cli("action", action, "--input", text)
    assert_one_error_line(result, EXIT_BAD_INPUT, f"{where}: {_why(char)}")
    assert env.app.requests_served == before


def test_ordinary_unicode_names_are_still_accepted(env: Sandbox) -> None:
    payload = {"email": "zoe@acme.example", "firstName": " Zoë ", "lastName": "Ōtani 😀"}
    result = cli("action", "create-user", "--input", json.dumps(payload))
    assert result.code == EXIT_OK, result.err
    user = json.loads(result.out)["user"]
    assert (user["firstName"], user["lastName"]) == ("Zoë", "Ōtani 😀")


def test_an_error_naming_a_field_with_a_newline_is_still_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", "https://scim.example.com/scim/v2")
    monkeypatch.setenv("LOOM_SCIM_API_KEY", "k" * 20)
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["action", "get-user", "--input", '{"i\\nd": "x"}'], out=out, err=err, stdin=io.StringIO()
    )
    assert code == 2
    said = errors_of(err.getvalue())
    assert said.count("\n") == 1 and said.startswith("loom-scim: error:")
