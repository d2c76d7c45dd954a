"""Exit codes and how an error maps to one: the one classification every host shares.

The CLI exits with these; the MCP server (:mod:`loom_scim_connector.mcp`) names the same
class in a tool's error, so a failure means the same thing to a person and to an agent.
"""

from __future__ import annotations

from loom_scim_connector.errors import (
    AuthenticationError,
    ConfigError,
    IncompleteWalkError,
    InputError,
    LoomScimError,
    NotFoundError,
    NotSupportedError,
    NotTlsError,
    PermissionDeniedError,
    UnknownNameError,
    WrongUrlError,
)
from loom_scim_connector.store import StoreError, SyncBusyError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_HELD = 5
EXIT_BUSY = 6
EXIT_NOT_SUPPORTED = 7
EXIT_KEY_EXPIRED = 8
EXIT_KEY_EXPIRING = 9
EXIT_FINDINGS = 10
EXIT_INCOMPLETE = 11
EXIT_INTERRUPTED = 130
HELD_SHOWN = 20

# Each code's class, as a tool error names it (``{"class": "auth", "exitCode": 3}``).
EXIT_CLASSES = {
    EXIT_OK: "ok",
    EXIT_FAILURE: "failure",
    EXIT_BAD_INPUT: "bad_input",
    EXIT_AUTH: "auth",
    EXIT_NOT_FOUND: "not_found",
    EXIT_HELD: "held",
    EXIT_BUSY: "busy",
    EXIT_NOT_SUPPORTED: "not_supported",
    EXIT_KEY_EXPIRED: "key_expired",
    EXIT_KEY_EXPIRING: "key_expiring",
    EXIT_FINDINGS: "findings",
    EXIT_INCOMPLETE: "incomplete",
    EXIT_INTERRUPTED: "interrupted",
}


def exit_code_for(exc: BaseException) -> int:
    if isinstance(
        exc, ConfigError | InputError | UnknownNameError | WrongUrlError | NotTlsError | UsageError
    ):
        return EXIT_BAD_INPUT
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, NotSupportedError):
        return EXIT_NOT_SUPPORTED
    if isinstance(exc, SyncBusyError):
        return EXIT_BUSY
    if isinstance(exc, IncompleteWalkError):
        return EXIT_INCOMPLETE
    if isinstance(exc, StoreError):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


class UsageError(LoomScimError):
    """A command line argparse refused: reported as one line, exit 2."""
