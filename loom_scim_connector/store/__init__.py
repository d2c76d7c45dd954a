"""Where a host keeps records, runs, checkpoints, locks and held deletions.

:class:`Store` is the interface (a typing protocol); :class:`SQLiteStore` is the
reference implementation. The guarantees every implementation gives are written as a
test suite (``tests/store_contract.py``) that any store must pass. The PostgreSQL
store (the ``fleet`` extra) is imported from its own module,
``loom_scim_connector.store.postgres``, never from here: the core install has no psycopg.
"""

from ._owner import now_iso
from .base import (
    Action,
    Binding,
    Encoded,
    Evidence,
    HeldRun,
    LeaseLostError,
    Run,
    RunInfo,
    RunStatus,
    Store,
    StoreError,
    SyncBusyError,
    WorkspaceMismatchError,
    text_of,
)
from .sqlite import SQLiteStore

__all__ = [
    "Action",
    "Binding",
    "Encoded",
    "Evidence",
    "HeldRun",
    "LeaseLostError",
    "Run",
    "RunInfo",
    "RunStatus",
    "SQLiteStore",
    "Store",
    "StoreError",
    "SyncBusyError",
    "WorkspaceMismatchError",
    "now_iso",
    "text_of",
]
