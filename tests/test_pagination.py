from __future__ import annotations

from collections.abc import Callable

import pytest

from loom_scim_connector import LoomScimClient
from loom_scim_connector.models.scim import ListPage
from loom_scim_connector.pagination import PageCursor, paginate

from .conftest import Script, list_body, scim

Make = Callable[..., tuple[LoomScimClient, Script]]


def ids_of(n0: int, n1: int) -> list[str]:
    return [f"u{i}" for i in range(n0, n1)]


async def collect(client: LoomScimClient, cursor: PageCursor) -> list[str]:
    # The sequential rules (scripted answers come in order): the planned walk is in
    # tests/test_planned_walk.py.
    pages = client.iterate("Users", cursor=cursor, concurrency=1)
    return [r["id"] async for page in pages for r in page]


async def test_short_pages_advance_by_what_was_received(make_client: Make) -> None:
    # The server caps pages at 3 although 5 were asked: nothing may be skipped.
    client, script = make_client(
        scim(200, list_body(ids_of(1, 4), total=7)),
        scim(200, list_body(ids_of(4, 7), total=7)),
        scim(200, list_body(ids_of(7, 8), total=7)),
        page_size=5,
    )
    cursor = PageCursor(page_size=5)
    assert await collect(client, cursor) == ids_of(1, 8)
    starts = [r.url.params["startIndex"] for r in script.requests]
    assert starts == ["1", "4", "7"]
    assert cursor.complete and cursor.stop_reason == "short page"


async def test_missing_total_stops_on_a_short_page(make_client: Make) -> None:
    client, script = make_client(
        scim(200, list_body(ids_of(1, 3))),
        scim(200, list_body(ids_of(3, 4))),
        page_size=2,
    )
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 4)
    assert cursor.complete and cursor.stop_reason == "short page"
    assert len(script.requests) == 2
    assert cursor.signals == ["no totalResults"]


async def test_a_full_last_page_is_followed_by_an_empty_one(make_client: Make) -> None:
    client, script = make_client(
        scim(200, list_body(ids_of(1, 3), total=4)),
        scim(200, list_body(ids_of(3, 5), total=4)),
        scim(200, {"schemas": []}),  # no Resources at all
        page_size=2,
    )
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 5)
    assert cursor.complete and cursor.stop_reason == "empty page"
    assert len(script.requests) == 3


async def test_a_total_lower_than_the_truth_does_not_stop_the_walk(make_client: Make) -> None:
    """Some servers put the page size in totalResults: full pages keep the walk going."""
    client, _ = make_client(
        scim(200, list_body(ids_of(1, 3), total=2)),
        scim(200, list_body(ids_of(3, 5), total=2)),
        scim(200, list_body(ids_of(5, 6), total=-1)),
        page_size=2,
    )
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 6)
    assert cursor.stop_reason == "short page"
    assert any("lower than" in s for s in cursor.signals)
    assert any("negative" in s for s in cursor.signals)


async def test_a_short_first_page_with_no_total_probes_for_a_page_cap(make_client: Make) -> None:
    client, script = make_client(
        scim(200, list_body(ids_of(1, 4))),  # 3 of the 5 asked: the end, or a cap?
        scim(200, list_body(ids_of(4, 7))),  # a cap of 3: keep going
        scim(200, list_body(ids_of(7, 8))),
        page_size=5,
    )
    cursor = PageCursor(page_size=5)
    assert await collect(client, cursor) == ids_of(1, 8)
    assert [r.url.params["startIndex"] for r in script.requests] == ["1", "4", "7"]


async def test_ids_are_deduplicated_across_the_whole_walk(make_client: Make) -> None:
    client, _ = make_client(
        scim(200, list_body(["a", "b"])),
        scim(200, list_body(["c", "d"])),
        scim(200, list_body(["a", "e"])),  # "a" again, two pages later
        scim(200, list_body(["f"])),
        page_size=2,
    )
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ["a", "b", "c", "d", "e", "f"]
    assert cursor.repeated == 1


async def test_server_ignoring_start_index_is_detected(make_client: Make) -> None:
    everything = scim(200, list_body(ids_of(1, 6)))  # no totalResults, all at once
    client, script = make_client(everything, scim(200, list_body(ids_of(1, 6))), page_size=2)
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 6)
    assert "ignores startIndex" in (cursor.stop_reason or "")
    assert len(script.requests) == 2


async def test_ignoring_server_with_a_cap_stops_on_no_new_ids(make_client: Make) -> None:
    # The walk ends; the three users it never saw are only candidates for the host to
    # confirm one by one, never deletions.
    first = list_body(ids_of(1, 3), total=5)
    client, _ = make_client(scim(200, first), scim(200, first), page_size=2)
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 3)
    assert (cursor.stop_reason or "").startswith("no new ids")


def test_the_page_limit_is_not_a_complete_walk() -> None:
    cursor = PageCursor(page_size=1, max_pages=2)
    cursor.accept(ListPage([{"id": "a"}], None))
    cursor.accept(ListPage([{"id": "b"}], None))
    assert cursor.stop_reason == "page limit reached" and not cursor.complete


async def test_empty_list_without_resources(make_client: Make) -> None:
    client, script = make_client(scim(200, {"totalResults": 0}))
    cursor = PageCursor()
    assert await collect(client, cursor) == []
    assert cursor.complete and len(script.requests) == 1


async def test_lowercase_keys_and_string_totals(make_client: Make) -> None:
    body = {"resources": [{"id": "a"}, {"id": "b"}], "totalresults": "2"}
    client, _ = make_client(scim(200, body))
    assert await collect(client, PageCursor()) == ["a", "b"]


async def test_overlap_with_the_previous_page_is_not_yielded_twice() -> None:
    pages = [
        ListPage([{"id": "a"}, {"id": "b"}], 4),
        ListPage([{"id": "b"}, {"id": "c"}], 4),
        ListPage([{"id": "d"}], 4),
    ]

    async def fetch(start: int, count: int) -> ListPage:
        return pages.pop(0)

    got = [r["id"] async for page in paginate(fetch, PageCursor(page_size=2)) for r in page]
    assert got == ["a", "b", "c", "d"]


def test_cursor_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="page_size"):
        PageCursor(page_size=0)
    with pytest.raises(ValueError, match="1-based"):
        PageCursor(start_index=0)


def test_fingerprints_remember_ids_compactly() -> None:
    from loom_scim_connector.pagination import IdFingerprints

    seen = IdFingerprints()
    assert [seen.add(i) for i in ("a", "b", "a", "c", "b")] == [True, True, False, True, False]
    assert seen.count == 3 and "a" in seen and "z" not in seen
    many = IdFingerprints()
    assert all(many.add(f"{n:024x}") for n in range(20_000))
    assert not any(many.add(f"{n:024x}") for n in range(0, 20_000, 7))


def test_each_walk_salts_its_fingerprints() -> None:
    """Two walks fingerprint the same id differently, so a colliding pair of ids does
    not collide walk after walk, whatever PYTHONHASHSEED says."""
    from loom_scim_connector.pagination import IdFingerprints

    first, second = IdFingerprints(), IdFingerprints()
    assert first._fingerprint("u1") != second._fingerprint("u1")
    assert first.add("u1") and "u1" in first and 17 not in first
