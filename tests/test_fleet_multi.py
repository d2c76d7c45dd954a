"""The multi-workspace sandbox of ``make fleet-load``: workspaces by path, each with its
own users and token, and the requests in flight it counts per workspace. Loopback only;
no timing: a gate holds requests in flight until the test lets them go."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from loom_scim_connector.sandbox.multi import MultiSandbox


@pytest.fixture(scope="module")
def multi() -> Iterator[MultiSandbox]:
    with MultiSandbox(workspaces=2, users=30) as sandbox:
        yield sandbox


def _get(
    multi: MultiSandbox, n: int, path: str = "/Users", token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {multi.token(n) if token is None else token}"}
    return httpx.get(multi.url(n) + path, headers=headers, timeout=30)


def test_two_workspaces_are_isolated(multi: MultiSandbox) -> None:
    zero, one = _get(multi, 0).json(), _get(multi, 1).json()
    assert zero["totalResults"] == one["totalResults"] == 30
    ids0 = {u["id"] for u in zero["Resources"]}
    ids1 = {u["id"] for u in one["Resources"]}
    assert len(ids0) == 30 and not ids0 & ids1
    assert multi.token(0) != multi.token(1)
    refused = _get(multi, 1, token=multi.token(0))
    assert refused.status_code == 401 and refused.json()["status"] == "401"
    missing = httpx.get(f"{multi.root}/w/7/scim/v2/Users", headers={"Authorization": "Bearer x"})
    assert missing.status_code == 404  # no such workspace

    user = next(iter(ids0))
    assert _get(multi, 0, f"/Users/{user}").json()["id"] == user
    assert _get(multi, 1, f"/Users/{user}").status_code == 404

    changed = httpx.post(
        f"{multi.root}/_multi/w/0/change", json={"rename": 1, "add": 2, "remove": 3}
    ).json()
    assert [len(changed[k]) for k in ("renamed", "added", "removed")] == [1, 2, 3]
    names = httpx.get(f"{multi.root}/_multi/w/0/users").json()
    assert len(names) == 29 and not set(changed["removed"]) & set(names)
    assert _get(multi, 1).json()["totalResults"] == 30  # the other workspace unchanged
    page = _get(multi, 0, "/Users?startIndex=28&count=5").json()
    assert (page["totalResults"], page["itemsPerPage"], page["startIndex"]) == (29, 2, 28)


def test_requests_in_flight_are_counted_per_workspace(multi: MultiSandbox) -> None:
    space = multi.workspaces[0]
    before = multi.stats()[1]["requests"]
    space.gate = threading.Event()
    space.max_in_flight = 0
    threads = [threading.Thread(target=_get, args=(multi, 0)) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while multi.stats()[0]["inFlight"] < 3:
            assert time.monotonic() < deadline, multi.stats()
            time.sleep(0.01)
        stats = httpx.get(f"{multi.root}/_multi/stats").json()
        assert (stats["0"]["inFlight"], stats["0"]["maxInFlight"]) == (3, 3)
        assert stats["1"]["inFlight"] == 0
    finally:
        space.gate.set()
        for thread in threads:
            thread.join(30)
        space.gate = None
    after = multi.stats()
    assert (after[0]["inFlight"], after[0]["maxInFlight"]) == (0, 3)
    assert after[1]["requests"] == before  # nothing counted against the other workspace


def test_a_pooled_client_is_seen_reusing_its_connection(multi: MultiSandbox) -> None:
    before = multi.stats()[1]
    with httpx.Client(headers={"Authorization": f"Bearer {multi.token(1)}"}) as client:
        for start in (1, 11, 21, 1, 11):
            assert client.get(multi.url(1) + f"/Users?startIndex={start}&count=10").is_success
    after = multi.stats()[1]
    assert after["requests"] - before["requests"] == 5
    assert after["connections"] - before["connections"] == 1  # HTTP/1.1 keep-alive


def test_each_workspace_may_have_a_size_of_its_own() -> None:
    """fleet-load's uneven workspaces: one size per workspace."""
    with MultiSandbox(workspaces=3, users=[2, 0, 7]) as uneven:
        assert [_get(uneven, n).json()["totalResults"] for n in range(3)] == [2, 0, 7]
    with pytest.raises(ValueError, match="one size per workspace"):
        MultiSandbox(workspaces=3, users=[2, 7])
