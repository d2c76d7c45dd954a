"""``loom-scim`` and ``python -m loom_scim_connector``: the CLI, whose imports and
start-up take a few hundred milliseconds; a Ctrl-C in them is one line and exit 130, as
any other (nothing has been sent yet), never Python's traceback of an import."""

from __future__ import annotations

import sys
from typing import NoReturn


def main() -> NoReturn:
    try:
        from loom_scim_connector.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("loom-scim: interrupted; nothing was sent\n")
        sys.exit(130)  # the CLI's EXIT_INTERRUPTED: its module may be the one cut short
    cli_main()


if __name__ == "__main__":
    main()
