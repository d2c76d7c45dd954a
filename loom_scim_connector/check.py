"""``check``: verify a connection with one cheap request and say what to fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from .client import LoomScimClient
from .config import DISCOVERY_PREFIXES, EXPIRY_WARNING_DAYS, LoomConnection
from .errors import ApiError, NotFoundError, ProtocolError, WrongUrlError

ClientFactory = Callable[[LoomConnection], LoomScimClient]
EXPIRY_UNKNOWN = "key expiry unknown"


@dataclass
class CheckReport:
    ok: bool
    base_url: str
    tried: list[str]
    users: int | None = None
    key_days_left: int | None = None
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None
    error: ApiError | None = field(default=None, repr=False)
    capabilities: dict[str, Any] | None = None

    def to_dict(self, warn_days: int = EXPIRY_WARNING_DAYS) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error"}
        data["key_status"] = key_status(self.key_days_left, warn_days)
        return data


def key_status(days_left: int | None, warn_days: int = EXPIRY_WARNING_DAYS) -> str:
    """``unknown``, ``expired``, ``expiring`` (within ``warn_days``) or ``ok``."""
    if days_left is None:
        return "unknown"
    if days_left < 0:
        return "expired"
    return "expiring" if days_left <= warn_days else "ok"


def _expiry_warnings(
    connection: LoomConnection, today: date | None, warn_days: int = EXPIRY_WARNING_DAYS
) -> tuple[int | None, list[str]]:
    days = connection.days_until_expiry(today)
    if days is None:
        return None, [
            f"{EXPIRY_UNKNOWN}: set {connection.origins.expiry} (Loom keys expire one year "
            "after creation; see admin.atlassian.com > Security > Identity providers)"
        ]
    if days < 0:
        return days, [f"the API key expired {-days} days ago: regenerate it in Loom"]
    if days <= warn_days:
        return days, [
            f"the API key expires in {days} days: regenerate it in Loom before then and "
            "update every identity provider that uses it (the old key stops at once)"
        ]
    return days, []


def _known(warnings: list[str]) -> list[str]:
    """On a failure, only warnings that may explain it: not 'expiry unknown'."""
    return [w for w in warnings if not w.startswith(EXPIRY_UNKNOWN)]


async def check_connection(
    connection: LoomConnection,
    client_factory: ClientFactory = LoomScimClient,
    *,
    today: date | None = None,
    warn_days: int = EXPIRY_WARNING_DAYS,
) -> CheckReport:
    """GET ``/Users?count=1`` on the configured URL; on a bare host, try ``/scim/v2`` then
    ``/scim`` and report the one that answered."""
    days, warnings = _expiry_warnings(connection, today, warn_days)
    candidates = connection.candidate_base_urls()
    tried: list[str] = []
    for index, base in enumerate(candidates):
        tried.append(base)
        async with client_factory(connection.with_base_url(base)) as client:
            try:
                page = await client.list_page("Users", 1, 1)
            except (NotFoundError, ProtocolError) as exc:
                if index + 1 < len(candidates):
                    continue
                return CheckReport(False, base, tried, None, days, _known(warnings), str(exc), exc)
            except ApiError as exc:
                return CheckReport(False, base, tried, None, days, _known(warnings), str(exc), exc)
            try:
                capabilities: dict[str, Any] | None = (await client.capabilities()).to_dict()
            except ApiError:  # a hint only: a check that listed users has passed
                capabilities = None
        if len(candidates) > 1:
            warnings.append(f"SCIM answered at {base}: set {connection.origins.url} to it")
        # The server answered, but a key past its expiry date is not OK: it may stop at
        # any moment (the date is the one the admin set for it).
        report = CheckReport(
            key_status(days, warn_days) != "expired",
            base,
            tried,
            page.total_results,
            days,
            warnings,
        )
        report.capabilities = capabilities
        return report
    raise AssertionError("no candidate base URL")  # pragma: no cover


# Bare hosts already resolved in this process: bare URL -> the SCIM base URL that answered.
_DISCOVERED: dict[str, str] = {}


async def discover(
    connection: LoomConnection, client_factory: ClientFactory = LoomScimClient
) -> LoomConnection:
    """The connection with its SCIM base URL: as given, or, for a bare host, the first of
    ``/scim/v2`` and ``/scim`` whose ``/Users`` answers (found once per process)."""
    if not connection.is_bare_host:
        return connection
    known = _DISCOVERED.get(connection.base_url)
    if known is not None:
        return connection.with_base_url(known)
    for base in connection.candidate_base_urls():
        async with client_factory(connection.with_base_url(base)) as client:
            try:
                await client.list_page("Users", 1, 1)
            except (NotFoundError, ProtocolError):
                continue
        _DISCOVERED[connection.base_url] = base
        return connection.with_base_url(base)
    prefixes = " or ".join(DISCOVERY_PREFIXES)
    error = WrongUrlError(
        "GET", "/Users", status=404, detail=f"no SCIM endpoint at {prefixes} on this host"
    )
    error.origins = connection.origins
    raise error
