"""The access review in a real browser: headless Chromium loads the page from disk and the
tests check what it shows (the DOM it built, a screenshot, and the layout through
chromedriver's WebDriver protocol, spoken over loopback with httpx).

Skipped when no Chromium is found (set ``LOOM_SCIM_CHROMIUM`` to its path; Debian:
``apt install chromium chromium-driver``), except under ``CI=true``, where it must run.
The browser is driven by :mod:`tests.browser`; the page at a laptop's width, and the
README's screenshot, are tests/test_review_layout.py's.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from loom_scim_connector.cli import run
from loom_scim_connector.sandbox import Sandbox

from .browser import WebDriver, png_pixels, png_size, webdriver
from .browser import chromium as run_chromium

EVIL_NAME = '<img src=x onerror="window.__pwned=1">'
WIDTH, HEIGHT = 1100, 1250


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return run_chromium(*args, width=WIDTH, height=HEIGHT)


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


def test_the_screenshot_shows_a_page_not_a_blank(page: Path, tmp_path: Path) -> None:
    shot, blank = tmp_path / "review.png", tmp_path / "blank.png"
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>")
    for target, source in ((shot, page), (blank, empty)):
        done = chromium(f"--screenshot={target}", source.as_uri())
        assert done.returncode == 0 and target.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    # A blank page compresses to almost nothing; the report has text, bars and tables.
    assert len(data) > 20 * len(blank.read_bytes())
    assert len(set(png_pixels(data))) > 64


# -- layout, through WebDriver -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with webdriver() as web:
        web.viewport(WIDTH, HEIGHT)
        yield web


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
