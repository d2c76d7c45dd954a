"""Models: ``scim`` (the wire, read leniently), ``records`` (outputs), ``inputs`` (strict).

The names below are imported on first use (PEP 562): a sync reads the wire into records
and never builds the actions' input and output models (``inputs``, ``outputs``)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .inputs import (
        CreateGroupInput,
        CreateUserInput,
        FindUserInput,
        GroupIdInput,
        GroupMembersInput,
        RenameGroupInput,
        SetUserRoleInput,
        UpdateUserInput,
        UserIdInput,
    )
    from .outputs import (
        FindUserResult,
        GroupDeletion,
        UserDeletion,
        UserDeprovisioning,
        UserProvisioning,
    )
    from .records import Group, User

__all__ = [
    "CreateGroupInput",
    "CreateUserInput",
    "FindUserInput",
    "FindUserResult",
    "Group",
    "GroupDeletion",
    "GroupIdInput",
    "GroupMembersInput",
    "RenameGroupInput",
    "SetUserRoleInput",
    "UpdateUserInput",
    "User",
    "UserDeletion",
    "UserDeprovisioning",
    "UserIdInput",
    "UserProvisioning",
]
_HOME = {"Group": "records", "User": "records"}
_HOME.update(dict.fromkeys([n for n in __all__ if n.endswith("Input")], "inputs"))
_HOME.update(dict.fromkeys([n for n in __all__ if n not in _HOME], "outputs"))


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
