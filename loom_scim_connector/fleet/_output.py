"""What every ``fleet`` command shares: its exit codes and its one JSON object a line."""

from __future__ import annotations

import json
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_NOT_FOUND = 4
EXIT_HELD = 5


def print_json(out: TextIO, data: Any) -> None:
    out.write(json.dumps(data, default=str) + "\n")
    out.flush()
