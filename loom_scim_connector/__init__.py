"""Loom SCIM connector: provision and deprovision Loom accounts over SCIM 2.0.

The public surface is re-exported here; modules are one role each (see README).
"""

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .check import CheckReport, check_connection
    from .client import CreateResult, LoomScimClient
    from .config import LoomConnection
    from .errors import (
        ActionError,
        ApiError,
        AuthenticationError,
        ConfigError,
        ConflictError,
        DeadlineError,
        IncompleteSyncError,
        InputError,
        InvalidRequestError,
        LoomScimError,
        NotFoundError,
        NotSupportedError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitedError,
        ServerError,
        TransportError,
        UnknownNameError,
        WrongUrlError,
    )
    from .retry import RetryPolicy, no_wait

# Each public name and the module it lives in: imported on first use (PEP 562), so that
# `loom-scim --version` and other light commands do not pay for httpx and pydantic.
_EXPORTS = {
    "CheckReport": "check",
    "check_connection": "check",
    "CreateResult": "client",
    "LoomScimClient": "client",
    "LoomConnection": "config",
    "ActionError": "errors",
    "ApiError": "errors",
    "AuthenticationError": "errors",
    "ConfigError": "errors",
    "ConflictError": "errors",
    "DeadlineError": "errors",
    "IncompleteSyncError": "errors",
    "InputError": "errors",
    "InvalidRequestError": "errors",
    "LoomScimError": "errors",
    "NotFoundError": "errors",
    "NotSupportedError": "errors",
    "PermissionDeniedError": "errors",
    "ProtocolError": "errors",
    "RateLimitedError": "errors",
    "ServerError": "errors",
    "TransportError": "errors",
    "UnknownNameError": "errors",
    "WrongUrlError": "errors",
    "RetryPolicy": "retry",
    "no_wait": "retry",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ActionError",
    "ApiError",
    "AuthenticationError",
    "CheckReport",
    "ConfigError",
    "ConflictError",
    "CreateResult",
    "DeadlineError",
    "IncompleteSyncError",
    "InputError",
    "InvalidRequestError",
    "LoomConnection",
    "LoomScimClient",
    "LoomScimError",
    "NotFoundError",
    "NotSupportedError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "UnknownNameError",
    "WrongUrlError",
    "__version__",
    "check_connection",
    "no_wait",
]
