"""Models: ``scim`` (the wire, read leniently), ``records`` (outputs), ``inputs`` (strict)."""

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
