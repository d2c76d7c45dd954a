"""``--max-changes`` and ``--max-total-changes`` against a group whose record cannot be
read: a group's deletion counts one change per member (each member's access), read from
the group as Loom has it. A server whose group record is not readable as a group (here
its displayName is missing) still lists its members and still deletes it: the plan must
not count such a deletion as one change. Reached with the SDK's client; the SCIM server
is a raw-socket stand-in on loopback (:mod:`tests.drip_server`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from mcp import Client

from loom_scim_connector import LoomConnection
from loom_scim_connector.mcp import Options, build_server
from loom_scim_connector.mcp._budget import ChangeBudget

from .drip_server import ERROR, DripState, serve
from .mcp_wire import CLIENT, data, error

KEY = "tok-budget-0123456789abcdef"
MEMBERS = [f"u{n}" for n in range(6)]


class Groups(DripState):
    """One group, g1, with six members and no displayName; DELETE removes it."""

    group: dict[str, Any] | None = None

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        path = unquote(urlsplit(target).path.removeprefix("/scim/v2"))
        if path != "/Groups/g1":
            return super().answer(method, target, body)
        with self.lock:
            self.log.append(f"{method} {path}")
            if self.group is None:
                return 404, {"schemas": [ERROR], "status": "404", "detail": "not found"}
            if method == "DELETE":
                self.group = None
                return 200, {}
            return 200, self.group


@pytest.fixture
def groups() -> Iterator[tuple[Groups, str]]:
    state = Groups()
    state.group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "members": [{"value": member} for member in MEMBERS],
    }
    with serve(state) as url:
        yield state, url


async def test_an_unreadable_groups_deletion_still_counts_its_members(
    groups: tuple[Groups, str], tmp_path: Path
) -> None:
    state, url = groups
    options = Options(
        {"demo": LoomConnection.create(url, KEY)},
        store=tmp_path / "store.sqlite3",
        max_changes=3,
        budget=ChangeBudget(3),
    )
    async with Client(build_server(options), client_info=CLIENT) as client:
        answer = await client.call_tool("delete-group", {"id": "g1"})
        if not answer.is_error:  # planned: confirm it, as an agent redeeming its own would
            token = data(answer)["confirm"]
            answer = await client.call_tool("delete-group", {"id": "g1", "confirm": token})
        refused = error(answer)
    assert "6 changes, more than 3" in refused["message"], refused
    assert "DELETE /Groups/g1" not in state.log
    assert options.budget.spent == 0
