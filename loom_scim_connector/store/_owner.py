"""Who holds a lease, and when: shared by every store (no database code here)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str | None) -> bool:
    """Whether the lease's owner is a process of this machine that no longer exists
    (killed with SIGKILL, say) or has exited and is not yet reaped (a zombie: a killed
    Celery worker's pool processes, whose parent died with them, until init reaps
    them): its lease need not be waited out. Anything uncertain (another machine, a
    process we may not signal) counts as alive."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """Linux's ``/proc/PID/stat`` state ``Z``; elsewhere (no /proc) never."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
