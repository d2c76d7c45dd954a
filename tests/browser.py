"""Headless Chromium for the access review's tests: the binaries (Debian's ``chromium``
and ``chromium-driver``, or ``LOOM_SCIM_CHROMIUM`` / ``LOOM_SCIM_CHROMEDRIVER``), a
one-shot run (``--dump-dom``, ``--screenshot``), and just enough of the W3C WebDriver
protocol, spoken to chromedriver over loopback with httpx, to open a page at a given
viewport, run a script in it and take a screenshot of the whole page.

Missing binaries skip the test, except under ``CI=true``, where it must run. Chromium
reaches for nothing on the network: tests never touch the internet.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ENV_CHROMIUM = "LOOM_SCIM_CHROMIUM"
ENV_CHROMEDRIVER = "LOOM_SCIM_CHROMEDRIVER"


def _find(env: str, *names: str) -> str | None:
    given = os.environ.get(env)
    if given:
        return given
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


CHROMIUM = _find(ENV_CHROMIUM, "chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _find(ENV_CHROMEDRIVER, "chromedriver")


def need(tool: str | None, env: str, what: str) -> str:
    """The tool's path; else skip (fail under CI=true) naming how to get it."""
    if tool is not None and Path(tool).exists():
        return tool
    reason = f"no {what}: set {env} to its path (Debian: apt install chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; under CI=true this test must run")
    pytest.skip(reason)


def browser_args(profile: str, width: int, height: int) -> list[str]:
    return [
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--no-first-run",
        # Nothing of Chromium's own may reach for the network: tests never touch the internet.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ]


def chromium(*args: str, width: int, height: int) -> subprocess.CompletedProcess[str]:
    binary = need(CHROMIUM, ENV_CHROMIUM, "Chromium")
    with tempfile.TemporaryDirectory(prefix="loom-chromium-") as profile:
        return subprocess.run(  # noqa: S603
            [binary, *browser_args(profile, width, height), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_pixels(data: bytes) -> bytes:
    """The decompressed image data (filter bytes included): enough to count colours."""
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return zlib.decompress(b"".join(chunks))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebDriver:
    """Just enough of the W3C WebDriver protocol: a session, a viewport, a page, a
    script, a screenshot."""

    def __init__(self, driver: str, browser: str, profile: str) -> None:
        port = _free_port()
        self.process = subprocess.Popen(  # noqa: S603
            [driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        for _ in range(200):  # chromedriver starts in well under a second
            try:
                self.http.get("/status")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        options = {"binary": browser, "args": browser_args(profile, 1100, 1250)}
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        self.session = self._send("POST", "/session", caps)["sessionId"]

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        reply = self.http.request(method, path, json=body)
        value = reply.json()["value"]
        assert reply.status_code == 200, value
        return value

    def open(self, url: str) -> None:
        self._send("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, source: str) -> Any:
        return self._send(
            "POST", f"/session/{self.session}/execute/sync", {"script": source, "args": []}
        )

    def viewport(self, width: int, height: int) -> tuple[int, int]:
        """Make the page's viewport ``width`` x ``height`` CSS pixels (the window's frame
        added); return the viewport as the page sees it."""
        for _ in range(3):
            frame = self.script(
                "return [window.outerWidth - window.innerWidth,"
                " window.outerHeight - window.innerHeight]"
            )
            rect = {"width": width + frame[0], "height": height + frame[1]}
            self._send("POST", f"/session/{self.session}/window/rect", rect)
            seen = self.script("return [window.innerWidth, window.innerHeight]")
            if seen == [width, height]:
                break
        return int(seen[0]), int(seen[1])

    def screenshot(self) -> bytes:
        """The viewport, as PNG."""
        return base64.b64decode(self._send("GET", f"/session/{self.session}/screenshot"))

    def full_page(self, width: int) -> bytes:
        """The whole page at ``width``, as PNG: the viewport made as tall as the page."""
        height = self.script("return document.documentElement.scrollHeight")
        self.viewport(width, int(height))
        return self.screenshot()

    def close(self) -> None:
        try:
            self._send("DELETE", f"/session/{self.session}")
        finally:
            self.http.close()
            self.process.terminate()
            self.process.wait(timeout=30)


@contextmanager
def webdriver() -> Iterator[WebDriver]:
    binary = need(CHROMIUM, ENV_CHROMIUM, "Chromium")
    driver = need(CHROMEDRIVER, ENV_CHROMEDRIVER, "chromedriver")
    with tempfile.TemporaryDirectory(prefix="loom-webdriver-") as profile:
        web = WebDriver(driver, binary, profile)
        try:
            yield web
        finally:
            web.close()
