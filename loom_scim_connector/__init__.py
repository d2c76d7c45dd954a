"""Loom SCIM connector: provision and deprovision Loom accounts over SCIM 2.0.

The public surface is re-exported here; modules are one role each (see README).
"""

from ._version import __version__
from .check import CheckReport, check_connection
from .client import CreateResult, LoomScimClient
from .config import LoomConnection
from .errors import (
    ActionError,
    ApiError,
    AuthenticationError,
    ConfigError,
    ConflictError,
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

__all__ = [
    "ActionError",
    "ApiError",
    "AuthenticationError",
    "CheckReport",
    "ConfigError",
    "ConflictError",
    "CreateResult",
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
