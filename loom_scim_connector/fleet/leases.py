"""The fleet's lease-based semaphores in Redis, and the one thread that keeps leases alive.

Two bounds use the same semaphore: requests in flight per workspace (:mod:`.politeness`)
and large syncs at once per fleet (:mod:`.fairness`). A slot is a lease token in a sorted
set, scored by its expiry in Redis server time (so worker clocks do not matter). It is
taken with :data:`ACQUIRE` (expired tokens are swept first), given back when its holder is
done, and renewed every third of its lease while it is held, so only a dead holder's slot
lapses.

**Renewed from a thread, never from the holder's event loop.** A sync's event loop is
blocked whenever the store works (SQLite, PostgreSQL) or a CPU-bound page is read; a
renewal scheduled on that loop does not run while it is blocked, and a slot that lapses
under a live holder lets one more request (or one more large sync) start than the limit
allows. So every lease of a worker process is renewed by one daemon thread of that
process (:func:`keeper`), with its own Redis connection: a killed worker's thread dies
with it and its slots lapse within their lease, which is the point of a lease. The
thread is made per process (after a prefork pool's fork), on first use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import redis

ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    return 1
end
return 0
"""
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2]) == 1 then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
end
return 1
"""
# A slot's lease, in seconds: longer than any request's timeout; renewed every third.
SLOT_LEASE = 15.0
# The keeper's own bound on one renewal (connect, send, answer), in seconds: a connection
# gone silent (a partition, a half-open one after a failover) fails it, and the next
# round connects again. redis-py before 8.0 (which the fleet's kombu still allows) waits
# forever by default: the keeper would be stuck, and every slot of its worker lapse.
RENEW_TIMEOUT = SLOT_LEASE / 3


@dataclass(frozen=True)
class Lease:
    """One held slot: the sorted set's ``key``, the holder's ``token``, its lease."""

    key: str
    token: str
    lease_ms: int


@dataclass
class Keeper:
    """Renews every held lease of this process against one Redis, from one thread."""

    url: str
    _held: set[Lease] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Condition = field(init=False)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._wake = threading.Condition(self._lock)

    def hold(self, key: str, token: str, lease_ms: int) -> Lease:
        """Keep ``token``'s slot in ``key`` renewed until :meth:`release`."""
        lease = Lease(key, token, lease_ms)
        with self._lock:
            # Woken only when its wait would be too long for this lease (a shorter lease,
            # or none held): a new slot is fresh, the next round renews it in time.
            if not self._held or lease_ms < min(held.lease_ms for held in self._held):
                self._wake.notify()
            self._held.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="loom-scim-lease-keeper", daemon=True
                )
                self._thread.start()
        return lease

    def release(self, lease: Lease) -> None:
        """Stop renewing (the holder gives the slot back itself)."""
        with self._lock:
            self._held.discard(lease)

    def _run(self) -> None:
        client = redis.Redis.from_url(
            self.url, socket_timeout=RENEW_TIMEOUT, socket_connect_timeout=RENEW_TIMEOUT
        )
        renew = client.register_script(RENEW)
        try:
            while True:
                with self._lock:
                    while not self._held:
                        self._wake.wait()
                    self._wake.wait(min(lease.lease_ms for lease in self._held) / 3000)
                    held = list(self._held)
                for lease in held:
                    try:
                        renew(keys=[lease.key], args=[lease.lease_ms, lease.token])
                    except redis.RedisError:  # Redis away: the lease lapses, nothing worse
                        continue
        finally:
            client.close()


_keepers: dict[tuple[int, str], Keeper] = {}
_keepers_lock = threading.Lock()


def keeper(url: str) -> Keeper:
    """This process's keeper for the Redis at ``url`` (a forked child makes its own)."""
    with _keepers_lock:
        found = _keepers.get((os.getpid(), url))
        if found is None:
            found = _keepers[(os.getpid(), url)] = Keeper(url)
        return found
