"""The connection a command talks to, named on stderr before any request.

Every command that talks to a workspace says which one, in one line (its name in the
connections file, or the environment, and its URL; never the key). An explicit
``--connection`` wins over ``LOOM_SCIM_*`` left in the environment, and says so.
"""

from __future__ import annotations

import argparse
import logging

from loom_scim_connector._constants import ENV_URL
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.connections import choose

log = logging.getLogger("loom_scim_connector")


def connect(args: argparse.Namespace) -> LoomConnection:
    """The connection ``--connection``/``--config`` or the environment pick, named."""
    chosen = choose(args.connection, args.config)
    if chosen.ignored is not None:
        log.warning(
            "--connection %s wins over %s (%s), also set: the environment is ignored",
            args.connection,
            ENV_URL,
            chosen.ignored,
        )
    log.info("%s", chosen.describe())
    return chosen.connection
