"""Issue 20, point 11: the access review at a laptop's width, in real Chromium.

The demo workspace's review (:mod:`tests.review_demo`: long addresses, a nameless member,
three offboardings, a roster, a sign-off block) opened at 1366x768 and 1280x800. Measured
in the page, by script: the page never scrolls sideways and no table is wider than its
box; no word of a table is broken across lines (only ids, emails and request paths,
``.id``, may break anywhere: each word's text range must sit on one line); the sign-off
block is shown, within the width, and on top when scrolled to. And the README's
screenshot, docs/review-page.png, is there and as large as the page it shows now
(``make screenshot`` makes it again).

Skipped without Chromium and chromedriver, except under ``CI=true`` (see tests/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import WebDriver, png_size, webdriver
from .review_demo import LAPTOPS, SCREENSHOT, SHOT_WIDTH, demo_review

MEASURE = """
const page = document.documentElement;
const boxes = [...document.querySelectorAll('.scroll')].map((box) => ({
  id: box.closest('section').id, width: box.clientWidth, content: box.scrollWidth}));
const broken = [];
let words = 0;
for (const cell of document.querySelectorAll('#members td, #evidence td, #sign-off td')) {
  const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    if (node.parentElement.closest('.id')) continue;  // may break anywhere
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.bottom)));
      words += 1;
      if (lines.size > 1) broken.push(cell.closest('section').id + ': ' + word[0]);
    }
  }
}
const cells = [...document.querySelectorAll('#evidence td')].map((td) => td.clientWidth);
const block = document.querySelector('#sign-off');
block.scrollIntoView({block: 'center'});
const r = block.getBoundingClientRect();
const hit = document.elementFromPoint(r.left + r.width / 2, Math.max(r.top, 0) + 10);
return {
  viewport: [window.innerWidth, window.innerHeight],
  pageWidth: page.scrollWidth, bodyWidth: document.body.scrollWidth,
  boxes: boxes, broken: broken, words: words, narrowest: Math.min(...cells),
  signOff: {shown: getComputedStyle(block).display !== 'none' &&
                   getComputedStyle(block).visibility === 'visible',
            left: r.left, right: r.right, width: r.width, height: r.height,
            onTop: block.contains(hit),
            decisions: block.querySelectorAll('input[type=radio]').length,
            rows: block.querySelectorAll('tbody tr').length},
  height: page.scrollHeight,
};
"""


@pytest.fixture(scope="module")
def page() -> Iterator[Path]:
    with demo_review() as review:
        yield review


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with webdriver() as web:
        yield web


def measure(browser: WebDriver, page: Path, width: int, height: int) -> dict[str, Any]:
    assert browser.viewport(width, height) == (width, height)
    browser.open(page.as_uri())
    shown: dict[str, Any] = browser.script(MEASURE)
    return shown


@pytest.mark.parametrize(("width", "height"), LAPTOPS, ids=[f"{w}x{h}" for w, h in LAPTOPS])
def test_the_page_fits_a_laptop_and_breaks_no_word(
    browser: WebDriver, page: Path, width: int, height: int
) -> None:
    shown = measure(browser, page, width, height)
    assert shown["viewport"] == [width, height]
    # No sideways scrolling: not the page, not a table inside its box.
    assert shown["pageWidth"] <= width and shown["bodyWidth"] <= width
    assert {b["id"] for b in shown["boxes"]} == {"members", "evidence"}
    assert [b for b in shown["boxes"] if b["content"] > b["width"]] == []
    # No word broken across lines (ids, emails and paths aside); and words were measured.
    assert shown["broken"] == []
    assert shown["words"] > 200
    assert shown["narrowest"] >= 40  # no column squeezed to a sliver
    # The sign-off block: shown, within the width, not covered; a decision per finding.
    block = shown["signOff"]
    assert block["shown"] and block["onTop"] and block["height"] > 150
    assert block["left"] >= 0 and block["right"] <= width
    assert block["rows"] == 5 and block["decisions"] == 3 * 5


def test_the_readme_screenshot_is_there_and_not_stale(browser: WebDriver, page: Path) -> None:
    """docs/review-page.png is the whole page at the laptop width; its height is the
    page's now within 1% (the page is the same height run after run; a row or two more
    or less, a section added or gone, and it is stale: run ``make screenshot``)."""
    assert SCREENSHOT.is_file(), "no docs/review-page.png: run make screenshot"
    width, height = png_size(SCREENSHOT.read_bytes())
    now = measure(browser, page, SHOT_WIDTH, LAPTOPS[0][1])["height"]
    assert width == SHOT_WIDTH, "docs/review-page.png is stale: run make screenshot"
    assert abs(height - now) <= 0.01 * now, (
        f"docs/review-page.png is {height} px tall, the page {now} px: run make screenshot"
    )
