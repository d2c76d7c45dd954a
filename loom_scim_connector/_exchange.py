"""One HTTP exchange read as SCIM: the innermost layer under the client's retry loop.

What a response means (the JSON body, or the :class:`ApiError` its status maps to) and
what a transport failure means (retryable; may the request have been applied?). The
key is redacted (``_messages.redact``: raw, JSON-escaped, percent-encoded, whole or in
part) from anything a server echoes, before any shortening could cut it. Also the
shapes of an answer: one JSON object (:func:`json_object`), or :class:`Recovered`, what
a write's ``recover`` lookup found in place of sending again.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic_core import from_json

from ._constants import LOOPBACK_HOSTS
from ._messages import redact
from ._status import error_for_status
from ._timeouts import DeadlineExceeded
from ._version import __version__
from .errors import ApiError, DeadlineError, NotTlsError, ProtocolError, TransportError
from .models.scim import is_scim_error, parse_error_body

USER_AGENT = f"loom-scim-connector/{__version__}"
SCIM_JSON = "application/scim+json"
ACCEPT = "application/scim+json, application/json"

Recover = Callable[[], Awaitable[Any]]
"""Look up what an earlier attempt of a write may have created; ``None`` if nothing."""


@dataclass(frozen=True)
class Recovered:
    """A write's answer found by its ``recover`` lookup: an earlier attempt had landed."""

    body: Any


# httpx errors raised before a request left this machine: retrying them cannot duplicate.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(
    method: str, path: str, exc: httpx.RequestError, attempt: int, scrub: Callable[[str], str]
) -> TransportError:
    """Classify a failure with no answer. A host name that does not exist is not retried
    (it will not exist in a second), nor is a TLS handshake answered by something that
    is not TLS (an https:// URL on a plain-HTTP port: it will not learn TLS in a second);
    a refused connection is tried once more, quickly (nothing listens there: a wrong
    port, or a server restarting); the rest (timeouts, resets) go through the whole
    retry policy, an attempt past its total deadline too (:mod:`._timeouts`). So does an
    answer whose body does not decode as its Content-Encoding says (a proxy that mangled
    it): nothing was read, and a write may have been applied."""
    cause = _cause(exc)
    if isinstance(cause, ssl.SSLError) and cause.reason in _NOT_TLS:
        return NotTlsError(method, path, detail=_not_tls(exc), retryable=False, attempts=attempt)
    if isinstance(exc, DeadlineExceeded):
        late = DeadlineError(method, path, detail=str(exc), retryable=True, attempts=attempt)
        late.may_have_applied = True  # sent, or not: nobody knows, so a write looks first
        return late
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, httpx.DecodingError):
        detail = f"the answer's body could not be decoded as its Content-Encoding says ({exc})"
    error = TransportError(method, path, detail=scrub(detail), retryable=True, attempts=attempt)
    if isinstance(cause, socket.gaierror) and cause.errno in _NO_SUCH_HOST:
        error.retryable = False
        error.detail = "the host name does not exist (DNS: no such host)"
    elif isinstance(cause, ConnectionRefusedError):
        error.retry_limit = 2
        error.detail = "connection refused: nothing listens at that address and port"
    error.may_have_applied = not isinstance(exc, _NOT_SENT)
    return error


# OpenSSL's reasons for a handshake whose answer is not TLS at all: a plain-HTTP server's
# "HTTP/1.1 400" read as a TLS record (the name changed across OpenSSL versions).
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)


def _not_tls(exc: httpx.RequestError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised without its request: say it without the address
        return "the server does not speak TLS on that port, so https:// cannot reach it"
    host = f"[{url.host}]" if ":" in url.host else url.host
    where = f"{host}:{url.port or 443}"
    said = f"{where} does not speak TLS (it answered the https:// handshake in plain text)"
    if url.host in LOOPBACK_HOSTS:
        return f"{said}; a local server without TLS is reached with http://{where}"
    return f"{said}; is it the right port, or is a proxy in between not passing TLS through?"


# getaddrinfo's "no such name" answers; EAI_AGAIN (a temporary failure) is retried.
_NO_SUCH_HOST = {
    getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name)
}


def _cause(exc: BaseException) -> BaseException | None:
    """The OS-level error under httpx's and httpcore's wrappers, if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, socket.gaierror | ConnectionRefusedError | ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def read_answer(method: str, path: str, response: httpx.Response, attempt: int, secret: str) -> Any:
    """The JSON body of a 2xx answer (``None`` when empty); raise for anything else."""
    if response.status_code >= 400:
        raise error_from(method, path, response, attempt, secret)
    if response.status_code >= 300:
        raise ProtocolError(
            method,
            path,
            status=response.status_code,
            detail="redirected to another address; configure the final SCIM URL",
            attempts=attempt,
        )
    return json_of(method, path, response, attempt)


def error_from(
    method: str, path: str, response: httpx.Response, attempt: int, secret: str
) -> ApiError:
    # The key is redacted from each text the server sent, whole and decoded from JSON,
    # before it is shortened: every representation of it, and before any cut.
    parsed = parse_error_body(
        response.content,
        response.headers.get("content-type", ""),
        lambda text: redact(text, secret),
    )
    error = error_for_status(
        method,
        path,
        response.status_code,
        scim_type=parsed.scim_type,
        detail=parsed.detail,
        rate_limit=response.headers,
    )
    error.attempts = attempt
    error.scim_body = is_scim_error(response.content)
    # A 5xx may come after the server acted (a gateway that lost its answer): for a DELETE,
    # a 404 on the retry is then our own deletion, not "already gone".
    error.may_have_applied = response.status_code >= 500 and method in ("POST", "PATCH", "DELETE")
    return error


def _parse(response: httpx.Response) -> Any:
    """pydantic-core's parser (Rust) is a third faster than json.loads on a list page;
    a body it refuses goes to json.loads, whose errors say why (nested, not UTF-8...)."""
    try:
        return from_json(response.content, cache_strings="keys")
    except ValueError:
        return response.json()


def json_of(method: str, path: str, response: httpx.Response, attempt: int) -> Any:
    if response.status_code == 204 or not response.content.strip():
        return None
    content_type = response.headers.get("content-type", "").lower()
    try:
        return _parse(response)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad JSON, bytes that are not UTF-8 (UnicodeDecodeError)
        # and integers over int's digit limit; RecursionError, JSON nested too deeply.
        if isinstance(exc, RecursionError):
            detail = "the body's JSON is nested too deeply to read"
        elif isinstance(exc, UnicodeDecodeError):
            detail = "the body is not UTF-8 text"
        elif not isinstance(exc, json.JSONDecodeError):
            detail = "the body has a number with too many digits"
        else:
            shown = content_type.split(";")[0] or "no content type"
            detail = f"the body is not JSON ({shown})"
        raise ProtocolError(
            method, path, status=response.status_code, detail=detail, attempts=attempt
        ) from None


def json_object(method: str, path: str, body: Any) -> dict[str, Any]:
    """An answer that must be one JSON object (a resource, a config); else ProtocolError."""
    if not isinstance(body, dict):
        raise ProtocolError(method, path, status=200, detail="expected a JSON object")
    return body
