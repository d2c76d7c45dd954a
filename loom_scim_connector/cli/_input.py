"""An action's --input, read from text, a file or stdin: any problem is one InputError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from loom_scim_connector.errors import (
    InputError,
)


def read_input(spec: str, stdin: TextIO) -> Any:
    """The action input: JSON text, ``@file`` or ``-`` (stdin). Every way it can be bad
    (unreadable, not UTF-8, empty, not JSON, nested too deeply for the parser, a number
    too long to convert) is an :class:`InputError`, never a traceback."""
    if spec == "-":
        source = "stdin"
        try:
            text = stdin.read()
        except UnicodeDecodeError:
            raise InputError("--input", {"(stdin)": "is not UTF-8 text"}) from None
    elif spec.startswith("@"):
        source = f"the file {spec[1:]}"
        try:
            text = Path(spec[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                "--input", {"(file)": f"cannot read {spec[1:]}: {exc.strerror}"}
            ) from None
        except UnicodeDecodeError:
            raise InputError("--input", {"(file)": f"{spec[1:]} is not UTF-8 text"}) from None
    else:
        source = "the --input argument"
        text = spec
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    if not text.strip():
        raise InputError(
            "--input", {"(json)": f"{source} is empty; give the input as a JSON object"}
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(
            "--input", {"(json)": "is nested too deeply ([ or { inside one another)"}
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError("--input", {"(json)": f"not valid JSON: {exc}"}) from None
    except ValueError:  # int() refuses numbers over sys.get_int_max_str_digits() digits
        raise InputError("--input", {"(json)": "has a number with too many digits"}) from None
