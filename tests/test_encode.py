"""The host encodes each record once: its JSON text, and the dict read back from it,
which must be what ``model_dump(mode="json")`` gives (the fast path is not a new format)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from loom_scim_connector.host.context import encode
from loom_scim_connector.models.records import Group, User

text = st.text(max_size=12)
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))


@given(
    email=text,
    first=st.none() | text,
    active=st.none() | st.booleans(),
    created=st.none() | moments,
    members=st.lists(text, max_size=3),
)
def test_the_encoded_record_is_model_dump_and_its_json(
    email: str, first: str | None, active: bool | None, created: datetime | None, members: list[str]
) -> None:
    user = User(id="u1", email=email, first_name=first, active=active, created_at=created)
    group = Group(id="g1", display_name=email, member_ids=members)
    for record, encoded in zip([user, group], encode([user, group]), strict=True):
        assert encoded == record.model_dump(mode="json", by_alias=True)
        assert encoded.json == record.model_dump_json(by_alias=True)
        assert list(encoded) == list(record.model_dump(mode="json", by_alias=True))
