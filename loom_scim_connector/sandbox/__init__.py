"""The local Loom SCIM sandbox (needs the ``sandbox`` extra: scim2-server).

scim2-server serves SCIM 2.0; :mod:`.app` adds Loom's behaviour and the test knobs.
"""

from .app import LoomApplication, TokenStore
from .profiles import SandboxSettings
from .server import Sandbox

__all__ = ["LoomApplication", "Sandbox", "SandboxSettings", "TokenStore"]
