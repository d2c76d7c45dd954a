"""The Model Context Protocol host: the manifest served as MCP tools (``loom-scim mcp``).

A host like the CLI: it reads the manifest and runs actions and syncs through
:class:`~loom_scim_connector.host.LocalHost`. Tools are generated (:mod:`.tools`),
writes are planned and confirmed (:mod:`._writes`, :mod:`._token`, :mod:`._confirm`),
read tools page over the store (:mod:`._reads`), errors are the CLI's (:mod:`._errors`),
and HTTP sits behind a token of its own (:mod:`._http`). Needs the ``mcp`` extra.
"""

from .server import Options, build_server

__all__ = ["Options", "build_server"]
