"""User actions. Deprovisioning is the reason this connector exists, so every change that
Loom might silently ignore (a role, ``active``) is read back and checked."""

from __future__ import annotations

from typing import Any, Literal

from loom_scim_connector.contract import ActionContext
from loom_scim_connector.errors import ActionError, NotFoundError
from loom_scim_connector.identity import same_email
from loom_scim_connector.models.fieldmap import CORE_USER, create_body, patch_ops
from loom_scim_connector.models.inputs import (
    CreateUserInput,
    FindUserInput,
    SetUserRoleInput,
    UpdateUserInput,
    UserIdInput,
)
from loom_scim_connector.models.outputs import (
    FindUserResult,
    UserDeletion,
    UserDeprovisioning,
    UserProvisioning,
)
from loom_scim_connector.models.records import User

from ._find import find_people
from ._read import gone_by, read_or_none, read_user, user_of
from ._role import TOP_LEVEL, RoleLocation, from_schemas, locate_role, put_role, role_op

ROLE_FIX = (
    "Loom ignores loomMemberRole when the attribute is not mapped for this directory: "
    "map loomMemberRole in the identity provider's SCIM attribute mapping (or set the "
    "role in Loom's member settings), then try again."
)


def _values(inp: CreateUserInput | UpdateUserInput, *names: str) -> dict[str, Any]:
    """The input's values for these record fields (by the record's field name)."""
    return {name: getattr(inp, name) for name in names}


WRITABLE = ("email", "first_name", "last_name", "external_id", "employee_number", "photo_url")


def _create_body(inp: CreateUserInput, where: RoleLocation) -> dict[str, Any]:
    values = {
        "email": inp.email,
        "active": True,
        **_values(inp, "first_name", "last_name", "external_id"),
        **_values(inp, "photo_url", "employee_number"),
    }
    body = create_body(User, values, schema=CORE_USER)
    if inp.role is not None:
        put_role(body, where, inp.role)
    return body


def _catch_up(user: User, inp: CreateUserInput, where: RoleLocation) -> list[dict[str, Any]]:
    """What to change on an existing user so it matches a create request. Reactivating is
    only ever asked for on purpose (``reactivate: true``); the caller decides."""
    wanted = _values(inp, "first_name", "last_name")
    ops = patch_ops(User, {k: v for k, v in wanted.items() if getattr(user, k) != v})
    if inp.role not in (None, "default") and user.role != inp.role:
        ops.append(role_op(where, inp.role))
    return ops


def _check_role(user: User, role: str | None) -> None:
    if role in (None, "default") or user.role == role:
        return
    raise ActionError(
        f"Loom did not apply role {role!r} to user {user.id}: it reads back as {user.role!r}.",
        fix=ROLE_FIX,
    )


def _requested(inp: CreateUserInput | UpdateUserInput) -> dict[str, Any]:
    """The record fields an input asks for, by record field name (None: not asked)."""
    return _values(inp, *WRITABLE)


def _check_fields(user: User, wanted: dict[str, Any]) -> None:
    """Every asked-for field must read back as asked; a missing one is not verified."""
    wrong = []
    for name, value in wanted.items():
        if value is None:
            continue
        got = getattr(user, name)
        same = got == value or (name == "email" and same_email(got, value))
        if not same:
            alias = User.model_fields[name].alias or name
            wrong.append(f"{alias} reads back as {got!r}, not {value!r}")
    if wrong:
        raise ActionError(
            f"user {user.id} was not changed as asked: {'; '.join(wrong)}.",
            fix="The server did not apply (or does not keep) those attributes.",
        )


async def _created(ctx: ActionContext[CreateUserInput], user: User) -> UserProvisioning:
    """Verify a user this call created; a failure says the user exists now, with its id."""
    inp = ctx.input
    try:
        if inp.role not in (None, "default") or any(
            getattr(user, name) is None for name, v in _requested(inp).items() if v is not None
        ):
            user = await read_user(ctx.client, user.id)
        _check_fields(user, _requested(inp))
        _check_role(user, inp.role)
    except ActionError as exc:
        raise ActionError(
            f"user {inp.email} was created (id {user.id}) and exists now, but {exc}",
            fix=f"Finish with update-user or set-user-role, or undo with delete-user {user.id}.",
        ) from None
    return UserProvisioning(id=user.id, outcome="created", user=user)


async def create_user(ctx: ActionContext[CreateUserInput]) -> UserProvisioning:
    """Create a user, exactly once: a user that already exists (409, or an earlier
    attempt that landed) is brought to the requested names and role. A *deactivated*
    one is an offboarding, never undone by accident: it is left untouched unless the
    input says ``reactivate: true``. The outcome says which of these happened."""
    inp = ctx.input

    async def existing() -> dict[str, Any] | None:
        """The one account that carries the email (a 409, or an earlier attempt)."""
        search, _ = await find_people(ctx.client, inp.email)
        if len(search.resources) > 1:
            ids = ", ".join(str(raw.get("id")) for raw in search.resources)
            raise ActionError(
                f"{len(search.resources)} accounts carry {inp.email} ({ids}): not "
                "choosing one of them for this user.",
                fix="Merge or remove the duplicate in Loom, then try again.",
            )
        return search.resources[0] if search.resources else None

    where = await _role_location(ctx) if inp.role is not None else TOP_LEVEL
    result = await ctx.client.create(
        "Users", _create_body(inp, where), key=("userName", inp.email), find=existing
    )
    user = user_of(result.resource)
    if result.outcome == "created":
        return await _created(ctx, user)
    if user.active is None:  # the lookup did not say: ask for the user itself
        user = await read_user(ctx.client, user.id)
    # Our POST sends active: true, so a "recovered" user that reads as deactivated was
    # not created by this call: it is an existing, offboarded user like any other.
    if user.active is False and not inp.reactivate:
        ctx.logger.warning(
            "user %s exists but is deactivated: left as is (pass reactivate: true to"
            " restore access)",
            inp.email,
        )
        return UserProvisioning(id=user.id, outcome="exists_deactivated", user=user)
    reactivating = user.active is False
    if reactivating:
        why = "is deactivated and reactivate is true: reactivating it"
    elif result.outcome == "existed":
        why = "already existed"
    else:
        why = "was created by a retried attempt"
    ctx.logger.info("user %s %s; bringing it to the requested state", inp.email, why)
    ops = _catch_up(user, inp, where)
    if reactivating:
        ops += patch_ops(User, {"active": True})
    if ops:
        await ctx.client.patch("Users", user.id, ops)
    user = await read_user(ctx.client, user.id)
    if reactivating and user.active is not True:
        raise ActionError(
            f"user {user.id} still reads back as active={user.active} after reactivating.",
            fix="Check the user in Loom's member list and reactivate it there.",
        )
    _check_role(user, inp.role)
    outcome: Literal["existed", "recovered", "reactivated"] = (
        "reactivated" if reactivating else result.outcome
    )
    return UserProvisioning(id=user.id, outcome=outcome, user=user)


async def _role_location(ctx: ActionContext[CreateUserInput]) -> RoleLocation:
    """Where a new user's role goes: where /Schemas says, else the top level (saying so)."""
    where = await from_schemas(ctx.client)
    if where is None:
        ctx.logger.warning(
            "the server's /Schemas does not say where it keeps loomMemberRole: writing it "
            "at the top level, as Loom documents it"
        )
    return where or TOP_LEVEL


async def get_user(ctx: ActionContext[UserIdInput]) -> User:
    return await read_user(ctx.client, ctx.input.id)


async def find_user(ctx: ActionContext[FindUserInput]) -> FindUserResult:
    """Every account that carries the email, whatever the server's filters do (see
    ``_find``); what was searched is said, and a search cut at its bound is not complete."""
    search, look_alikes = await find_people(ctx.client, ctx.input.email)
    users = [user_of(raw) for raw in search.resources]
    return FindUserResult(
        found=bool(users),
        user=users[0] if users else None,
        users=users,
        searched=search.said(),
        complete=search.complete,
        look_alikes=[] if users else look_alikes,
    )


async def update_user(ctx: ActionContext[UpdateUserInput]) -> User:
    """Change only the given (non-null) fields, with SCIM PATCH."""
    inp = ctx.input
    await ctx.client.patch("Users", inp.id, patch_ops(User, _requested(inp)))
    user = await read_user(ctx.client, inp.id)
    _check_fields(user, _requested(inp))
    return user


async def set_user_role(ctx: ActionContext[SetUserRoleInput]) -> User:
    """Set loomMemberRole where the server keeps it (its /Schemas, else the user's
    record), then read it back there: Loom silently ignores an unmapped role, and a
    role written where Loom does not read it would read back as set."""
    inp = ctx.input
    where = await locate_role(ctx.client, inp.id)
    ctx.logger.info("writing loomMemberRole at %s (%s)", where.path, where.source)
    await ctx.client.patch("Users", inp.id, [role_op(where, inp.role)])
    raw = await ctx.client.get("Users", inp.id)
    if where.read(raw) != inp.role and inp.role != "default":
        raise ActionError(
            f"Loom did not apply role {inp.role!r} to user {inp.id}: {where.path} reads back "
            f"as {where.read(raw)!r}.",
            fix=ROLE_FIX,
        )
    return user_of(raw)


async def deactivate_user(ctx: ActionContext[UserIdInput]) -> UserDeprovisioning:
    """Deprovision: ``active: false``, then verify. What Loom does with it (deactivate or
    delete) is the workspace's Member Deprovisioning setting; the outcome says which."""
    user_id = ctx.input.id
    try:
        await ctx.client.patch("Users", user_id, patch_ops(User, {"active": False}))
    except NotFoundError as exc:
        if gone_by(exc) == "already_gone":
            ctx.logger.info("user %s does not exist: nothing to deprovision", user_id)
        return UserDeprovisioning(id=user_id, outcome=gone_by(exc))
    raw = await read_or_none(ctx.client, "Users", user_id)
    if raw is None:
        return UserDeprovisioning(id=user_id, outcome="deleted")
    user = user_of(raw)
    if user.active is not False:
        raise ActionError(
            f"user {user_id} still reads back as active={user.active} after deprovisioning;"
            " the account may still have access.",
            fix="Check the user in Loom's member list and deactivate it there.",
        )
    return UserDeprovisioning(id=user_id, outcome="deactivated", user=user)


async def reactivate_user(ctx: ActionContext[UserIdInput]) -> User:
    await ctx.client.patch("Users", ctx.input.id, patch_ops(User, {"active": True}))
    user = await read_user(ctx.client, ctx.input.id)
    if user.active is not True:
        raise ActionError(f"user {user.id} still reads back as active={user.active}.")
    return user


async def delete_user(ctx: ActionContext[UserIdInput]) -> UserDeletion:
    """DELETE the user (Loom allows it when deprovisioning is set to delete), then verify:
    gone (404), or, as WorkOS does, an inactive tombstone that stays listed and readable
    (``tombstoned``). A user that still reads as active after DELETE is a failure."""
    user_id = ctx.input.id
    try:
        await ctx.client.delete("Users", user_id)
    except NotFoundError as exc:
        return UserDeletion(id=user_id, outcome=gone_by(exc))
    raw = await read_or_none(ctx.client, "Users", user_id)
    if raw is None:
        return UserDeletion(id=user_id, outcome="deleted")
    user = user_of(raw)
    if user.active is not False:
        raise ActionError(
            f"user {user_id} still exists after DELETE and reads back as active={user.active};"
            " the account may still have access.",
            fix="Check the user in Loom's member list and remove or deactivate it there.",
        )
    return UserDeletion(id=user_id, outcome="tombstoned", user=user)
