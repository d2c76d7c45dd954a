"""Who holds a lease, and when: shared by every store (no database code here)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str | None) -> bool:
    """Whether the lease's owner is a process of this machine that no longer exists
    (killed with SIGKILL, say): its lease need not be waited out. Anything uncertain
    (another machine, a process we may not signal) counts as alive."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
