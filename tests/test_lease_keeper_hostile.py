"""The lease keeper (fleet/leases.py) against a Redis connection that goes silent: a
network partition, or a failover that leaves the old connection half-open (nothing is
answered, nothing is reset). Every renewal of the worker then blocks on that socket.
Once Redis is reachable again (a new connection works), the keeper must renew again;
a keeper stuck forever on the dead socket lets every slot of its worker lapse under
its live holders for the rest of the worker's life (one more request, or one more large
sync, than the limit), and ``hold`` sees the thread alive and starts no other.

Redis itself is the tests' (tests/redis_server.py); between it and the keeper, a TCP
proxy on loopback that can blackhole the connections open at a given moment (they stay
open, nothing more is forwarded) while forwarding new ones.

redis-py 8 gives every socket a 5 s timeout by default; before 8.0 it gave none, and the
fleet's dependencies (kombu[redis]: redis>=6.4) still install those. The test runs the
keeper under the old default (no timeout unless the caller asks for one), so it holds
only if the keeper bounds its own renewals.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from .redis_server import redis_url

redis = pytest.importorskip("redis")


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.dead: set[int] = set()  # generations blackholed
        self.generation = 0
        self.lock = threading.Lock()

    def blackhole(self) -> None:
        """The connections open now stay open and never carry a byte again."""
        with self.lock:
            self.dead.add(self.generation)
            self.generation += 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                generation = self.generation
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b, generation), daemon=True).start()

    def pump(self, source: socket.socket, sink: socket.socket, generation: int) -> None:
        source.settimeout(0.05)
        while not self.stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                if generation in self.dead:
                    continue  # swallowed: a half-open connection
            try:
                sink.sendall(data)
            except OSError:
                return


@pytest.fixture
def proxy() -> Iterator[tuple[Proxy, str]]:
    url = redis_url()
    parts = urlsplit(url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    running = Proxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        yield running, f"redis://127.0.0.1:{running.port}{parts.path or '/0'}"
    finally:
        running.stop.set()
        thread.join(timeout=5)
        running.listener.close()


def test_a_keeper_whose_redis_connection_went_silent_renews_again_once_redis_answers(
    proxy: tuple[Proxy, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from loom_scim_connector.fleet.leases import ACQUIRE, Keeper

    made = redis.Redis.from_url.__func__

    def before_redis_8(cls: Any, url: str, /, **kwargs: Any) -> Any:
        kwargs.setdefault("socket_timeout", None)
        kwargs.setdefault("socket_connect_timeout", None)
        return made(cls, url, **kwargs)

    monkeypatch.setattr(redis.Redis, "from_url", classmethod(before_redis_8))

    running, via_proxy = proxy
    direct = redis.Redis.from_url(redis_url())
    key = f"hostile1-test:{secrets.token_hex(4)}:slots"
    lease_ms = 900  # renewed every 0.3 s
    try:
        assert direct.register_script(ACQUIRE)(keys=[key], args=[1, lease_ms, "holder"]) == 1
        keeper = Keeper(via_proxy)
        lease = keeper.hold(key, "holder", lease_ms)
        time.sleep(1.0)
        assert direct.zscore(key, "holder") is not None, "not renewed even before the fault"
        running.blackhole()  # the keeper's connection goes silent; new ones work
        time.sleep(1.0)  # the slot may lapse meanwhile: Redis was unreachable
        # Lapsed or not (the key expires with its last lease), the holder is given its
        # slot back by hand, scored 0: a renewal from the keeper moves it up again.
        direct.zadd(key, {"holder": 0})
        deadline = time.monotonic() + 10
        renewed = False
        while time.monotonic() < deadline and not renewed:
            time.sleep(0.1)
            score = direct.zscore(key, "holder")
            renewed = score is not None and score > 0
        keeper.release(lease)
        assert renewed, "the keeper never renewed again: stuck on a connection that went silent"
    finally:
        direct.delete(key)
        direct.close()
