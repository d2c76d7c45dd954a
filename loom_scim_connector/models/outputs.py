"""Action outputs that are not plain records: they say what actually happened."""

from __future__ import annotations

from typing import Literal

from .records import Record, User


class FindUserResult(Record):
    found: bool
    user: User | None = None


class UserDeprovisioning(Record):
    """``deactivated``: active is now false. ``deleted``: the workspace's deprovisioning
    setting is *delete*, so the user is gone. ``already_gone``: the user did not exist."""

    id: str
    outcome: Literal["deactivated", "deleted", "already_gone"]
    user: User | None = None


class UserDeletion(Record):
    id: str
    outcome: Literal["deleted", "already_gone"]


class GroupDeletion(Record):
    id: str
    outcome: Literal["deleted", "already_gone"]
