"""The access review in a real browser: headless Chromium loads the page from disk and the
tests check what it shows (the DOM it built, a screenshot, and the layout through
chromedriver's WebDriver protocol, spoken over loopback with httpx).

Skipped when no Chromium is found (set ``LOOM_SCIM_CHROMIUM`` to its path; Debian:
``apt install chromium chromium-driver``), except under ``CI=true``, where it must run.

``python -m tests.test_review_browser docs/review.png`` writes the README's screenshot.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector.cli import run
from loom_scim_connector.sandbox import Sandbox

ENV_CHROMIUM = "LOOM_SCIM_CHROMIUM"
ENV_CHROMEDRIVER = "LOOM_SCIM_CHROMEDRIVER"
EVIL_NAME = '<img src=x onerror="window.__pwned=1">'
WIDTH, HEIGHT = 1100, 1250


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


def _need(tool: str | None, env: str, what: str) -> str:
    if tool is not None and Path(tool).exists():
        return tool
    reason = f"no {what}: set {env} to its path (Debian: apt install chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; under CI=true this test must run")
    pytest.skip(reason)


def _browser_args(profile: str) -> list[str]:
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
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
    ]


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = _need(CHROMIUM, ENV_CHROMIUM, "Chromium")
    with tempfile.TemporaryDirectory(prefix="loom-chromium-") as profile:
        return subprocess.run(  # noqa: S603
            [binary, *_browser_args(profile), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def write_demo_report(folder: Path, sandbox: Sandbox) -> Path:
    """The sandbox's demo data: a sync, two people offboarded (one not found), a roster
    that leaves out one member and marks another terminated; the review of all that."""
    env = {"LOOM_SCIM_BRIDGE_URL": sandbox.url, "LOOM_SCIM_API_KEY": sandbox.token}
    saved = {key: os.environ.get(key) for key in [*env, "LOOM_SCIM_API_KEY_EXPIRES_AT"]}
    os.environ.update(env, LOOM_SCIM_API_KEY_EXPIRES_AT="2027-01-10")
    store = str(folder / "store.sqlite3")
    quiet = io.StringIO()
    try:
        users = sandbox.call("GET", "/Users", query={"count": "100"})["Resources"]
        active = [u for u in users if u.get("active")]
        assert run(["-q", "sync", "users", "--store", store], out=quiet, err=quiet) == 0
        leavers = [active[0]["userName"], active[3]["userName"], "ex.contractor@acme.example"]
        run(
            ["-q", "offboard", *leavers, "--store", store, "--actor", "it-admin"],
            out=quiet,
            err=quiet,
        )
        roster = folder / "roster.csv"
        lines = ["email,name,status"] + [f"{u['userName']},-,active" for u in active[5:-1]]
        lines.append(f"{active[1]['userName']},-,terminated")
        roster.write_text("\n".join(lines) + "\n")
        page = folder / "review.html"
        argv = ["-q", "review", "--store", store, "--html", str(page), "--roster", str(roster)]
        assert run(argv, out=quiet, err=quiet) == 0, quiet.getvalue()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return page


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with Sandbox(seed_users=25, seed=0) as sandbox:
        sandbox.call(
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "mallory@acme.example",
                "name": {"givenName": EVIL_NAME, "familyName": "Doe"},
                "emails": [{"value": "mallory@acme.example", "primary": True}],
                "active": True,
            },
        )
        yield write_demo_report(tmp_path_factory.mktemp("review"), sandbox)


def test_chromium_builds_the_page_we_meant(page: Path) -> None:
    done = chromium("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for section in ("key-expiry", "summary", "chart-roles", "at-risk", "members", "evidence"):
        assert f'id="{section}"' in dom
    assert "Orphaned members at a glance: 4 of" in dom
    assert "<img" not in dom and "&lt;img src=x" in dom  # the server's name stayed text
    assert "it-admin" in dom and "read back active=false" in dom


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _png_pixels(data: bytes) -> bytes:
    """The decompressed image data (filter bytes included): enough to count colours."""
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return zlib.decompress(b"".join(chunks))


def test_the_screenshot_shows_a_page_not_a_blank(page: Path, tmp_path: Path) -> None:
    shot, blank = tmp_path / "review.png", tmp_path / "blank.png"
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>")
    for target, source in ((shot, page), (blank, empty)):
        done = chromium(f"--screenshot={target}", source.as_uri())
        assert done.returncode == 0 and target.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (WIDTH, HEIGHT)
    # A blank page compresses to almost nothing; the report has text, bars and tables.
    assert len(data) > 20 * len(blank.read_bytes())
    assert len(set(_png_pixels(data))) > 64


# -- layout, through WebDriver -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebDriver:
    """Just enough of the W3C WebDriver protocol: a session, a page, a script."""

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
        options = {"binary": browser, "args": _browser_args(profile)}
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

    def close(self) -> None:
        try:
            self._send("DELETE", f"/session/{self.session}")
        finally:
            self.http.close()
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    binary = _need(CHROMIUM, ENV_CHROMIUM, "Chromium")
    driver = _need(CHROMEDRIVER, ENV_CHROMEDRIVER, "chromedriver")
    with tempfile.TemporaryDirectory(prefix="loom-webdriver-") as profile:
        web = WebDriver(driver, binary, profile)
        try:
            yield web
        finally:
            web.close()


LAYOUT = """
const box = (el) => el.getBoundingClientRect();
const bars = [...document.querySelectorAll('rect.bar-managed, rect.bar-unmanaged')].map(
  (r) => ({role: r.dataset.role, kind: r.getAttribute('class'), count: +r.dataset.count,
           width: box(r).width}));
const risk = document.querySelector('#at-risk');
const riskRow = document.querySelector('#members tr.risk');
return {
  title: document.title,
  resources: performance.getEntriesByType('resource').map((e) => e.name),
  images: document.images.length,
  scripts: document.scripts.length,
  pwned: window.__pwned === 1,
  bars: bars,
  riskVisible: box(risk).height > 0 && getComputedStyle(risk).display !== 'none',
  riskCount: +risk.dataset.count,
  riskItems: [...risk.querySelectorAll('li b')].map((b) => b.textContent),
  riskCells: document.querySelectorAll('#at-risk rect.cell-risk').length,
  riskRowColour: riskRow && getComputedStyle(riskRow.cells[0]).backgroundColor,
  keyBanner: document.querySelector('#key-expiry').textContent,
  evidenceRows: document.querySelectorAll('#evidence tbody tr').length,
  mallory: [...document.querySelectorAll('#members td')].some(
    (td) => td.textContent.includes('<img src=x')),
  pageWidth: document.documentElement.scrollWidth,
};
"""


def test_the_browser_lays_out_charts_and_highlights(browser: WebDriver, page: Path) -> None:
    browser.open(page.as_uri())
    shown = browser.script(LAYOUT)
    assert shown["title"].startswith("Loom access review, ")
    # Offline and inert: nothing fetched, no image or script, the server's HTML is text.
    assert shown["resources"] == [] and shown["images"] == 0 and shown["scripts"] == 0
    assert shown["pwned"] is False and shown["mallory"] is True
    # The stacked bars: a width for each count, in proportion.
    bars = shown["bars"]
    assert len(bars) >= 6
    per_member = {round(b["width"] / b["count"], 1) for b in bars if b["count"]}
    assert len(per_member) == 1, bars
    assert all(b["width"] == 0 for b in bars if not b["count"])
    # The orphaned members: counted, listed, drawn red, their rows highlighted.
    assert shown["riskVisible"] and shown["riskCount"] == 4 == len(shown["riskItems"])
    assert shown["riskCells"] == 4  # mallory is in no roster
    assert shown["riskRowColour"] == "rgb(253, 236, 236)"
    assert "The SCIM key expires in" in shown["keyBanner"]
    assert shown["evidenceRows"] == 3  # two offboarded, one not found
    assert shown["pageWidth"] <= WIDTH  # no sideways scrolling at this width


if __name__ == "__main__":  # python -m tests.test_review_browser docs/review.png
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/review.png").resolve()
    with tempfile.TemporaryDirectory() as folder, Sandbox(seed_users=25, seed=0) as demo:
        report = write_demo_report(Path(folder), demo)
        done = chromium(f"--screenshot={target}", report.as_uri())
    print(f"{target}: {target.stat().st_size} bytes" if done.returncode == 0 else done.stderr)
