"""The reference local host: Nango's dry run, in a SQLite file.

It loads the manifest, builds a client per run, validates action inputs, runs syncs and
actions, and keeps records, runs, checkpoints, leases and held deletions in a
:class:`~loom_scim_connector.store.Store` (SQLite by default).

**Never a false delete.** After a sync returns normally, records of its model it did
not see are *candidates*. Each is marked DELETED only when the sync's ``confirm``
lookup says the server answered 404; one that is still there is saved as seen
("recovered"). Too many candidates at once (:class:`DeletionGuard`) trigger a second
walk and then, if they remain, a **held** run that deletes nothing until a person
releases it. One sync per (connection, model) runs at a time, under a lease in the
store. A sync that raises, is cancelled or loses its lease deletes nothing.
"""

from .context import OnRecord, validate_input
from .local import DEFAULT_STORE, ClientFactory, LocalHost
from .report import SyncReport
from .syncrun import DeletionGuard

__all__ = [
    "DEFAULT_STORE",
    "ClientFactory",
    "DeletionGuard",
    "LocalHost",
    "OnRecord",
    "SyncReport",
    "validate_input",
]
