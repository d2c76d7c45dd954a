"""Every write verified by reading back, repaired where SCIM allows, and unsupported
operations classified: what servers other than Loom taught us (django-scim2 ignores
members on POST /Groups, answers 501 for some attributes, and an empty list for an
unsupported filter)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import (
    ActionError,
    LoomConnection,
    LoomScimClient,
    NotSupportedError,
    RetryPolicy,
    no_wait,
)
from loom_scim_connector.cli import EXIT_NOT_SUPPORTED, run
from loom_scim_connector.host import LocalHost

from .conftest import BASE, SECRET, Script, act, errors_of, list_body, scim

GROUP = {"id": "g1", "displayName": "Loom Crew"}


def scripted(connection: LoomConnection, tmp_path: Path, script: Script) -> LocalHost:
    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn, retry=RetryPolicy(sleep=no_wait), transport=httpx.MockTransport(script)
        )

    return LocalHost(connection, store=tmp_path / "s.db", client_factory=factory)


def members(*ids: str) -> list[dict[str, str]]:
    return [{"value": i} for i in ids]


def sent(script: Script, index: int) -> Any:
    return json.loads(script.requests[index].content)


async def test_members_dropped_on_create_are_added_and_verified(
    connection: LoomConnection, tmp_path: Path
) -> None:
    script = Script(
        [
            scim(201, {**GROUP, "members": []}),  # the server ignored members on POST
            scim(200, {**GROUP, "members": []}),  # read back: none
            scim(204),
            scim(200, {**GROUP, "members": members("a", "b")}),
        ]
    )
    host = scripted(connection, tmp_path, script)
    group = await act(host, "create-group", {"displayName": "Loom Crew", "memberIds": ["a", "b"]})
    host.close()
    assert group["memberIds"] == ["a", "b"]
    assert sent(script, 2)["Operations"] == [
        {"op": "add", "path": "members", "value": members("a", "b")}
    ]


async def test_members_that_cannot_be_added_fail_naming_them_and_the_group(
    connection: LoomConnection, tmp_path: Path
) -> None:
    script = Script(
        [
            scim(201, {**GROUP, "members": []}),
            scim(200, {**GROUP, "members": members("a")}),
            scim(204),
            scim(200, {**GROUP, "members": members("a")}),  # still no "b"
        ]
    )
    host = scripted(connection, tmp_path, script)
    with pytest.raises(ActionError) as failed:
        await act(host, "create-group", {"displayName": "Loom Crew", "memberIds": ["a", "b"]})
    host.close()
    message = str(failed.value)
    assert "(id g1)" in message and "does not list b" in message
    assert "delete-group g1" in message


async def test_a_501_is_not_supported_named_and_never_retried(
    connection: LoomConnection, tmp_path: Path
) -> None:
    script = Script([scim(501, {"status": "501", "detail": "Not Implemented"})])
    host = scripted(connection, tmp_path, script)
    with pytest.raises(NotSupportedError) as failed:
        await act(host, "update-user", {"id": "u1", "externalId": "00u1"})
    host.close()
    assert len(script.requests) == 1
    assert "for externalId" in str(failed.value)
    assert "running again will not help" in str(failed.value)
    assert "run again later" not in str(failed.value)


@pytest.mark.parametrize("scim_type", ["invalidFilter", "invalidPath", "mutability"])
async def test_400_with_an_unsupported_scim_type_is_not_supported(
    connection: LoomConnection, tmp_path: Path, scim_type: str
) -> None:
    script = Script([scim(400, {"status": "400", "scimType": scim_type})])
    host = scripted(connection, tmp_path, script)
    with pytest.raises(NotSupportedError):
        await act(host, "rename-group", {"id": "g1", "displayName": "New"})
    host.close()
    assert len(script.requests) == 1


def test_the_cli_exits_7_for_an_unsupported_operation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = Script([scim(501, {"status": "501"})])
    real = httpx.AsyncClient.__init__

    def with_script(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        kwargs["transport"] = httpx.MockTransport(script)
        real(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", with_script)
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", BASE)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", SECRET)
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["action", "update-user", "--input", '{"id": "u1", "externalId": "x"}'],
        out=out,
        err=err,
        stdin=io.StringIO(),
    )
    assert code == EXIT_NOT_SUPPORTED and errors_of(err.getvalue()).count("\n") == 1
    assert "not supported by this server" in err.getvalue()


async def test_after_a_409_an_empty_filter_falls_back_to_a_bounded_scan(
    connection: LoomConnection, tmp_path: Path
) -> None:
    existing = {**GROUP, "members": members("a")}
    script = Script(
        [
            scim(409, {"status": "409", "scimType": "uniqueness"}),
            scim(200, list_body([], total=0)),  # the filter "finds" nothing
            scim(200, {"Resources": [{"id": "g0", "displayName": "Other"}, existing]}),
            scim(200, {"Resources": []}),  # the scan reads on (every match): the end
            scim(200, existing),  # read back
        ]
    )
    host = scripted(connection, tmp_path, script)
    group = await act(host, "create-group", {"displayName": "Loom Crew", "memberIds": ["a"]})
    host.close()
    assert group["id"] == "g1"
    assert "filter" not in script.requests[2].url.params


async def test_a_created_user_whose_role_was_not_applied_is_named(
    connection: LoomConnection, tmp_path: Path
) -> None:
    user = {"id": "u9", "userName": "jane@acme.example", "active": True}
    no_schemas = scim(404, {"status": "404"})  # GET /Schemas: where the role lives is unknown
    script = Script([no_schemas, scim(201, user), scim(200, user)])  # no loomMemberRole here
    host = scripted(connection, tmp_path, script)
    with pytest.raises(ActionError) as failed:
        await act(host, "create-user", {"email": "jane@acme.example", "role": "creator"})
    host.close()
    message = str(failed.value)
    assert "jane@acme.example was created (id u9) and exists now" in message
    assert "delete-user u9" in message


async def test_an_update_the_server_did_not_keep_is_not_verified(
    connection: LoomConnection, tmp_path: Path
) -> None:
    before = {"id": "u1", "userName": "jane@acme.example", "name": {"givenName": "Jane"}}
    script = Script([scim(204), scim(200, before)])  # answered, but nothing changed
    host = scripted(connection, tmp_path, script)
    with pytest.raises(ActionError, match="firstName reads back as 'Jane', not 'Janet'"):
        await act(host, "update-user", {"id": "u1", "firstName": "Janet"})
    host.close()


async def test_a_missing_attribute_counts_as_not_verified(
    connection: LoomConnection, tmp_path: Path
) -> None:
    bare = {"id": "u1", "userName": "jane@acme.example"}  # no externalId in the answer
    script = Script([scim(204), scim(200, bare)])
    host = scripted(connection, tmp_path, script)
    with pytest.raises(ActionError, match="externalId reads back as None"):
        await act(host, "update-user", {"id": "u1", "externalId": "00u1"})
    host.close()


async def test_a_group_still_there_after_delete_is_an_error(
    connection: LoomConnection, tmp_path: Path
) -> None:
    script = Script([scim(204), scim(200, GROUP)])
    host = scripted(connection, tmp_path, script)
    with pytest.raises(ActionError, match="still exists"):
        await act(host, "delete-group", {"id": "g1"})
    host.close()
