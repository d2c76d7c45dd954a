from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


async def test_server_ignoring_start_index_without_a_total_cannot_prove_it_read_all(
    make_client: Make,
) -> None:
    """Everything on page 1 and then again, no totalResults: maybe all, maybe the first
    of many. Nothing the server says can tell, so the walk is not complete."""
    everything = list_body(ids_of(1, 6))
    client, script = make_client(*[scim(200, everything) for _ in range(7)], page_size=2)
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 6)
    assert "ignores startIndex" in (cursor.stop_reason or "")
    assert cursor.ended and not cursor.complete
    assert "no usable totalResults" in (cursor.shortfall() or "")
    # two pages of nothing new; no count=total to try: count omitted, then pages of 1
    asked = [r.url.params.get("count") for r in script.requests]
    assert asked == ["2", "2", "2", None, "1", "1", "1"]
    assert [r.url.params.get("startIndex") for r in script.requests][:3] == ["1", "6", "11"]
    assert [t.split(" ")[0] for t in cursor.tried] == ["count", "pages"]


async def test_ignoring_server_with_a_cap_ends_incomplete_after_trying(make_client: Make) -> None:
    # Page 1 of 5 to every request, however asked: the walk ends short, saying so.
    first = list_body(ids_of(1, 3), total=5)
    client, script = make_client(*[scim(200, first) for _ in range(8)], page_size=2)
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 3)
    assert (cursor.stop_reason or "").startswith("no new ids") and not cursor.complete
    asked = [r.url.params.get("count") for r in script.requests]
    assert asked == ["2", "2", "2", "5", None, "1", "1", "1"]
    verdict = cursor.verdict("Users")
    assert verdict.startswith("read 2 of the 5 Users the server counts")
    assert "count=5 (2 returned, 0 new)" in verdict and "count omitted" in verdict
    assert "pages of 1" in verdict


@pytest.mark.parametrize(
    ("how", "replies"),
    [
        ("a large count", [list_body(ids_of(1, 6), total=5)]),
        ("count omitted", [list_body(ids_of(1, 3), total=5), list_body(ids_of(1, 6), total=5)]),
    ],
)
async def test_an_ignoring_server_read_whole_another_way_is_complete(
    make_client: Make, how: str, replies: list[dict[str, object]]
) -> None:
    first = list_body(ids_of(1, 3), total=5)
    again = [scim(200, first) for _ in range(3)]
    client, script = make_client(*again, *map(ok, replies), page_size=2)
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 6), how
    assert cursor.complete and cursor.received == 5
    assert not script.replies  # nothing more was asked once all 5 were read


def ok(body: dict[str, object]) -> httpx.Response:
    return scim(200, body)


async def test_pages_numbered_by_page_not_by_item_end_incomplete(make_client: Make) -> None:
    """A server that reads startIndex as a page number: page 101 of 100-user pages is
    empty. The walk ended on an empty page with 100 of 250: it knows it is short."""
    page = list_body([f"u{i}" for i in range(1, 101)], total=250)
    empty = list_body([], total=250)
    client, script = make_client(
        scim(200, page), scim(200, empty), scim(200, page), scim(200, page),
        scim(200, list_body([f"u{i}" for i in range(1, 51)], total=250)), scim(200, empty),
    )  # fmt: skip
    cursor = PageCursor(page_size=100)
    assert len(await collect(client, cursor)) == 100
    assert cursor.stop_reason == "empty page" and not cursor.complete
    assert "below the server's totalResults" in (cursor.shortfall() or "")
    assert not script.replies


def test_a_list_that_moved_under_the_walk_is_not_short() -> None:
    """Two users added behind the cursor: two listed users come again on later pages
    (the walk's drift), the two new ones are seen next time. Not a shortfall."""
    cursor = PageCursor(page_size=3)
    cursor.accept(ListPage([{"id": "a"}, {"id": "b"}, {"id": "c"}], 10))
    cursor.accept(ListPage([{"id": "c"}, {"id": "d"}, {"id": "e"}], 11))
    cursor.accept(ListPage([{"id": "e"}, {"id": "f"}, {"id": "g"}], 12))
    cursor.accept(ListPage([{"id": "h"}, {"id": "i"}, {"id": "j"}], 12))
    cursor.accept(ListPage([], 12))
    assert (cursor.received, cursor.drift, cursor.total_results) == (10, 2, 12)
    assert cursor.complete and cursor.shortfall() is None
    # one more missing than the drift explains: short
    cursor.total_results = 13
    assert not cursor.complete


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

    async def fetch(start: int, count: int | None) -> ListPage:
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


@given(st.lists(st.text(max_size=6), max_size=200))
def test_fingerprints_answer_as_a_set_of_the_ids_would(ids: list[str]) -> None:
    """Few buckets, so each holds many fingerprints (kept sorted, searched by halves)."""
    from loom_scim_connector.pagination import IdFingerprints

    class Crowded(IdFingerprints):
        BUCKETS = 4

    seen, expected = Crowded(), set()
    for rid in ids:
        assert seen.add(rid) == (rid not in expected)
        expected.add(rid)
    assert seen.count == len(expected)
    assert all(rid in seen for rid in expected)
    assert all(bucket.tolist() == sorted(bucket) for bucket in seen._buckets.values())


def test_each_walk_salts_its_fingerprints() -> None:
    """Two walks fingerprint the same id differently, so a colliding pair of ids does
    not collide walk after walk, whatever PYTHONHASHSEED says."""
    from loom_scim_connector.pagination import IdFingerprints

    first, second = IdFingerprints(), IdFingerprints()
    assert first._fingerprint("u1") != second._fingerprint("u1")
    assert first.add("u1") and "u1" in first and 17 not in first


async def test_a_count_the_server_refuses_is_noted_and_the_next_way_tried(
    make_client: Make,
) -> None:
    first = list_body(ids_of(1, 3), total=5)
    client, script = make_client(
        *[scim(200, first) for _ in range(3)],
        scim(400, {"detail": "count too large", "scimType": "tooMany"}),
        scim(200, list_body(ids_of(1, 6), total=5)),
        page_size=2,
    )
    cursor = PageCursor(page_size=2)
    assert await collect(client, cursor) == ids_of(1, 6)
    assert cursor.complete
    assert cursor.tried == ["count=5 (refused: HTTP 400)", "count omitted (5 returned, 3 new)"]
    assert not script.replies


async def test_a_bounded_scan_does_not_try_other_ways(make_client: Make) -> None:
    first = list_body(ids_of(1, 3), total=5)
    client, script = make_client(*[scim(200, first) for _ in range(3)], page_size=2)
    cursor = PageCursor(page_size=2, recover=False)
    assert await collect(client, cursor) == ids_of(1, 3)
    assert not cursor.complete and cursor.tried == [] and not script.replies
