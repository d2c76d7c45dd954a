"""Single-use confirmation tokens, each bound to exactly one plan.

The first call of a write returns the plan (who, what, and the state just read from
Loom) and a token: ``EXPIRY.NONCE.MAC``, the MAC an HMAC-SHA256, under a key drawn when
the server starts, over the expiry, the nonce and the plan's canonical JSON (sorted
keys, no spaces, UTF-8). The second call carries the token; the server plans again
from a fresh read, and acts only when the token's MAC matches that new plan, has not
expired and was never used. A changed input, a changed account or an edited token all
fail the MAC; nothing is sent to Loom before the check passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loom_scim_connector.errors import InputError

CONFIRM_FIELD = "confirm"
DEFAULT_TTL = 300.0
# The expiry is seconds since the epoch in ASCII digits: str.isdigit() alone also
# accepts "²" and "١٢", and int() refuses text of thousands of digits.
_EXPIRY_DIGITS = 12


def canonical(plan: Mapping[str, Any]) -> str:
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Confirmations:
    """Issues and checks the tokens of one server process."""

    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    used: set[str] = field(default_factory=set)

    def _mac(self, expiry: int, nonce: str, plan: Mapping[str, Any]) -> str:
        message = f"{expiry}.{nonce}.{canonical(plan)}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def issue(self, plan: Mapping[str, Any]) -> tuple[str, str]:
        """A token for ``plan``, and when it expires (ISO 8601, UTC)."""
        expiry = int(self.clock() + self.ttl)
        nonce = secrets.token_urlsafe(12)
        token = f"{expiry}.{nonce}.{self._mac(expiry, nonce, plan)}"
        return token, datetime.fromtimestamp(expiry, UTC).isoformat()

    def redeem(self, tool: str, token: str, plan: Mapping[str, Any]) -> None:
        """Spend ``token`` on ``plan``, or raise :class:`InputError` naming ``confirm``
        (exit class bad_input): nothing may be changed then."""
        expiry_text, _, rest = token.partition(".")
        nonce, _, mac = rest.partition(".")
        well_formed = expiry_text.isascii() and expiry_text.isdigit()
        if not (well_formed and len(expiry_text) <= _EXPIRY_DIGITS and nonce and mac):
            raise _refused(tool, "is not a confirmation token this server issued")
        if nonce in self.used:
            raise _refused(tool, "was already used: each token confirms one call; plan again")
        if not hmac.compare_digest(mac, self._mac(int(expiry_text), nonce, plan)):
            raise _refused(
                tool,
                "does not match this call's plan: the input, the connection or the account "
                "changed since it was planned (or the token was altered); call again "
                "without confirm for a new plan",
            )
        if int(expiry_text) < self.clock():
            raise _refused(tool, "has expired: call again without confirm for a new plan")
        self.used.add(nonce)


def _refused(tool: str, why: str) -> InputError:
    return InputError(tool, {CONFIRM_FIELD: f"{why}; nothing was changed"})
