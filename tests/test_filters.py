from __future__ import annotations

import pytest

from loom_scim_connector import filters


def test_plain_value() -> None:
    assert filters.eq("userName", "jane@example.com") == 'userName eq "jane@example.com"'


def test_quotes_and_backslashes_are_escaped() -> None:
    assert filters.eq("userName", 'a"b\\c') == 'userName eq "a\\"b\\\\c"'


def test_injection_stays_inside_the_string() -> None:
    hostile = 'x" or userName pr or userName eq "y'
    built = filters.eq("userName", hostile)
    # The only unescaped quotes are the two that delimit the value.
    unescaped = [i for i, ch in enumerate(built) if ch == '"' and built[i - 1] != "\\"]
    assert unescaped == [len("userName eq "), len(built) - 1]


def test_control_characters_and_bad_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="control"):
        filters.eq("userName", "a\nb")
    with pytest.raises(ValueError, match="attribute"):
        filters.eq("userName eq 1 or x", "a")
