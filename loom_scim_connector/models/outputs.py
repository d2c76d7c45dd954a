"""Action outputs that are not plain records: they say what actually happened."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .records import Record, User


class FindUserResult(Record):
    """Every Loom account that carries the email (its userName or any of its emails,
    by the identity rule), found whatever the server's filters do. ``users``: all of
    them (one person may have two accounts); ``user``: the first. ``searched``: each
    filter tried and what it answered, then the listing read, if it was. ``complete``
    is false when the listing was read only up to its bound and nothing was found
    there: not found in the first N, which never means gone. ``lookAlikes``: accounts
    read on the way whose address only looks like the one asked for (full-width letters,
    a long s, an accent, case folding), as ``address (id N)``: another person to the
    connector, never acted on; said so that a typo is not taken for "gone"."""

    found: bool
    user: User | None = None
    users: list[User] = Field(default_factory=list)
    searched: str = ""
    complete: bool = True
    look_alikes: list[str] = Field(default_factory=list)


class UserProvisioning(Record):
    """What ``create-user`` did. ``created``: a new user. ``existed``: the POST got a 409,
    and the user of that email was found active and brought to the requested names and
    role. ``recovered``: an earlier attempt of this same call had landed (its response was
    lost), and that user was brought to the requested state. ``exists_deactivated``: the
    user of that email exists but is deactivated (offboarded), and was left exactly as is:
    nothing changed, no access restored; pass ``reactivate: true`` to restore access on
    purpose. ``reactivated``: it was deactivated, ``reactivate: true`` was given, so it was
    reactivated (verified) and brought to the requested names and role."""

    id: str
    outcome: Literal["created", "existed", "recovered", "exists_deactivated", "reactivated"]
    user: User


class UserDeprovisioning(Record):
    """``deactivated``: active is now false. ``deleted``: the workspace's deprovisioning
    setting is *delete*, so the user is gone. ``already_gone``: the user did not exist."""

    id: str
    outcome: Literal["deactivated", "deleted", "already_gone"]
    user: User | None = None


class UserDeletion(Record):
    """``deleted``: the id now answers 404. ``tombstoned``: deleted, and the server keeps
    an inactive tombstone (WorkOS: still listed and readable, ``active: false``; ``user``
    is what it reads as). ``already_gone``: the user did not exist."""

    id: str
    outcome: Literal["deleted", "tombstoned", "already_gone"]
    user: User | None = None


class GroupDeletion(Record):
    id: str
    outcome: Literal["deleted", "already_gone"]
