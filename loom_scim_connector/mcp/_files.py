"""The files a read tool may open: only under the directories the server was given.

A roster's path comes from the model, and a parse error quotes the line it could not
read: left open, ``reconcile-roster`` would read ``/proc/self/environ`` or a ``.env``
file and hand its lines back to the model. A path is resolved (``..`` and symlinks
followed) and must then lie under a ``--roster-dir``; a relative path is taken from
the first one. A server given none reads no file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from loom_scim_connector.errors import InputError

# The read tools' inputs that name a file: attribute, and the field a call names.
FILE_FIELDS = {"roster": "roster", "role_map": "roleMap"}
Query = TypeVar("Query", bound=BaseModel)


def _inside(given: str, roots: Sequence[Path]) -> tuple[str | None, str]:
    """The resolved path, or ``None`` and why not."""
    if not roots:
        return None, "this server reads no file: start it with --roster-dir DIR"
    try:
        path = Path(given)
        resolved = (path if path.is_absolute() else roots[0] / path).resolve()
    except (OSError, ValueError):
        return None, "is not a usable file path"
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return str(resolved), ""
    where = ", ".join(str(root) for root in roots)
    return None, f"is outside the roster directories ({where}): nothing was read"


def fenced(tool: str, query: Query, roots: Sequence[Path]) -> Query:
    """``query`` with each file it names resolved inside ``roots``, or :class:`InputError`
    naming each field that is not (nothing is opened before this check)."""
    update: dict[str, str] = {}
    problems: dict[str, str] = {}
    for attr, name in FILE_FIELDS.items():
        given = getattr(query, attr, None)
        if not isinstance(given, str):
            continue
        inside, why = _inside(given, roots)
        if inside is None:
            problems[name] = why
        else:
            update[attr] = inside
    if problems:
        raise InputError(tool, problems)
    return query.model_copy(update=update) if update else query
