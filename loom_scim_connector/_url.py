"""The SCIM bridge URL as a user gives it, checked and made canonical: one place for
what a base URL may be (a scheme, a host, a port; plain HTTP only on loopback)."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

import httpx

from ._constants import LOOPBACK_HOSTS


def normalize_bridge_url(raw: str) -> str:
    """Check a SCIM bridge URL and return it without trailing slashes.

    Raises ``ValueError`` with a message meant for the admin; the message never repeats
    the URL, which could hold a password in its user-info.
    """
    url = raw.strip()
    if not url:
        raise ValueError("is empty; paste the SCIM endpoint URL shown by Loom")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(
            "contains spaces or control characters; copy the SCIM endpoint URL again from Loom"
        )
    parts = _split(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "must be an absolute URL such as https://scim.example.com/scim/v2 "
            "(the SCIM endpoint shown in Loom under Security > Directory Sync)"
        )
    if "@" in parts.netloc:
        raise ValueError("must not contain a user name or password; put the key in the API key")
    if parts.query or "?" in url:
        raise ValueError("must not contain a query string ('?...')")
    if parts.fragment or "#" in url:
        raise ValueError("must not contain a fragment ('#...')")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("has no host name")
    _check_port(parts)
    if not parts.netloc.startswith("[") and _BAD_HOST_CHAR.search(host):
        raise ValueError(
            "has a host name with characters a host name cannot have "
            "(only letters, digits, '-' and '.')"
        )
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(
            "must use https; plain http is only allowed for a local sandbox "
            "(127.0.0.1, localhost or [::1])"
        )
    # The last word is httpx's, which sends the requests: a URL it cannot parse (a bad
    # IPv4 or IPv6 address, a host that is not a valid international domain name, a URL
    # too long) fails here with a reason, not later with a traceback. Its message is not
    # shown: it may quote the URL.
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        raise ValueError(
            "is not a URL that can be used (its host is not a valid domain name or IP "
            "address, or the URL is too long); copy the SCIM endpoint URL again from Loom"
        ) from None
    return url.rstrip("/")


# ASCII characters a DNS name (or an IPv4 address) never has; non-ASCII letters are left
# to httpx's IDNA check. IPv6 addresses in [brackets] are checked by urlsplit and httpx.
_BAD_HOST_CHAR = re.compile(r"[\x00-\x2c/:-@\[-\^`{-\x7f]")


def _split(url: str) -> SplitResult:
    """``urlsplit``, whose ``ValueError`` (unbalanced or invalid [IPv6] brackets, odd
    Unicode in the host) may quote the URL's user-info: replaced by a reason that does not."""
    try:
        return urlsplit(url)
    except ValueError:
        if "[" in url or "]" in url:
            raise ValueError(
                "has a malformed IPv6 address: write it in brackets, as in "
                "https://[2001:db8::1]/scim/v2 (or use the host name)"
            ) from None
        raise ValueError(
            "is not a valid URL: its host cannot be read; copy the SCIM endpoint URL "
            "again from Loom"
        ) from None


def _check_port(parts: SplitResult) -> None:
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(
            "has an invalid port: the number after the host name's ':' must be from 1 to 65535"
        )
