"""Dependencies we declare without importing them, each for a measured reason."""

from __future__ import annotations

import importlib.util


def test_sniffio_is_installed_so_httpcore_does_not_search_for_it_per_request() -> None:
    """httpcore's async pool runs ``import sniffio`` on every lock it takes; without the
    package each request pays for a failed import (a search of sys.path)."""
    assert importlib.util.find_spec("sniffio") is not None
