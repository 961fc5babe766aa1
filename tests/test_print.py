"""The print stylesheet: a printed assessment reads like the form, on paper, without a screen.

Headless Chromium with print media emulated: what a reader holding the paper would miss
(link targets, closed 選択肢 lists, table columns cut off by a scroll box) must be there, and
what is useless on paper (navigation, skip link, search, footer) must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

VERSION = "/midori/juki/2025-12-12/"
LONG_VERSION = "/asahikawa/juki/2025-07-01/"
CHANGES = "/asahikawa/juki/changes/"
DIFF = "/midori/juki/diff/2023-08-18..2025-12-12/"
A4_WIDTH = 794  # 210 mm at 96 CSS px per inch


@pytest.fixture
def printed(chromium: Any, site_url: str) -> Iterator[Any]:
    """printed(url) -> a page laid out as for printing on A4."""
    contexts = []

    def _open(url: str, media: str = "print") -> Any:
        ctx = chromium.new_context(viewport={"width": A4_WIDTH, "height": 1123})
        contexts.append(ctx)
        page = ctx.new_page()
        assert page.goto(site_url + url, wait_until="load").ok
        page.emulate_media(media=media)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def _visible(page: Any, selector: str) -> list[bool]:
    return page.evaluate("(sel) => [...document.querySelectorAll(sel)]"
                         ".map((el) => el.checkVisibility())", selector)


@pytest.mark.parametrize("url", ["/", VERSION, CHANGES, DIFF])
def test_navigation_and_chrome_are_not_printed(printed, url: str) -> None:
    page = printed(url)
    for sel in ("nav", ".skip-link", ".site-footer"):
        shown = _visible(page, sel)
        assert shown and not any(shown), f"{url}: {sel} is printed"
    assert all(_visible(page, "main h1")), "the content itself is printed"


def test_the_same_page_on_screen_shows_navigation(printed) -> None:
    """Control: the print check above is about print media, not a page without nav."""
    page = printed(VERSION, media="screen")
    assert any(_visible(page, "nav"))


def _after(page: Any, selector: str) -> list[tuple[str, str]]:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].map((a) =>
        [a.getAttribute('href'), getComputedStyle(a, '::after').content])""", selector)


def test_links_print_their_target_after_the_text(printed) -> None:
    page = printed(VERSION)
    links = _after(page, "main a[href^='/']")
    assert links, "the version page links to other pages"
    for href, content in links:
        assert href in content, f"printed link to {href} does not show it: {content}"
    # Root-relative targets are written out as the absolute path the reader can type.
    assert any(c.startswith('"（/') for _, c in links)
    # In-page jumps (#I-1-3) are not written out: the item is on the same paper.
    for _href, content in _after(page, "main a[href^='#']"):
        assert content in ("none", "normal"), content


def test_links_do_not_print_targets_on_screen(printed) -> None:
    page = printed(VERSION, media="screen")
    for _href, content in _after(page, "main a[href^='/']"):
        assert content in ("none", "normal")


def test_closed_choice_lists_are_printed(printed) -> None:
    page = printed(LONG_VERSION)
    closed = page.evaluate("() => document.querySelectorAll('details.choices:not([open])').length")
    assert closed > 10
    shown = _visible(page, "details.choices .choice-list")
    assert shown and all(shown), "every 選択肢 list is on paper"
    screen = printed(LONG_VERSION, media="screen")
    assert not any(_visible(screen, "details.choices .choice-list")), "closed on screen"


def test_diff_folded_items_are_printed(printed) -> None:
    page = printed(DIFF)
    shown = _visible(page, "tr.folded details dl")
    assert shown and all(shown)


@pytest.mark.parametrize("url", [LONG_VERSION, CHANGES, DIFF, "/compare/"])
def test_tables_fit_the_paper(printed, url: str) -> None:
    page = printed(url)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= A4_WIDTH
    clipped = page.evaluate("""() => [...document.querySelectorAll('.table-scroll')]
        .filter((el) => el.scrollWidth > el.clientWidth + 1).length""")
    assert clipped == 0, f"{url}: {clipped} tables cut off on paper"


def test_compare_links_are_not_printed(printed) -> None:
    """「他の団体の同じ項目」 beside every item is a screen aid: on paper it would print a path
    after each item."""
    shown = _visible(printed(LONG_VERSION), "p.cmp")
    assert shown and not any(shown)
    assert any(_visible(printed(LONG_VERSION, media="screen"), "p.cmp"))


def test_items_are_not_split_across_pages(printed) -> None:
    page = printed(LONG_VERSION)
    styles = page.evaluate("""() => ['.field', 'table.changes tr', '.notice', 'h2', 'h3']
        .map((sel) => { const el = document.querySelector(sel); if (!el) return [sel, null];
          const s = getComputedStyle(el); return [sel, s.breakInside, s.breakAfter]; })""")
    by_sel = {sel: rest for sel, *rest in styles}
    assert by_sel[".field"][0] == "avoid"
    assert by_sel["table.changes tr"][0] == "avoid"
    assert by_sel["h2"][1] == "avoid" and by_sel["h3"][1] == "avoid"


def test_print_to_pdf_works(printed) -> None:
    """Chromium's own print path (headless PDF) lays the page out without error."""
    page = printed(VERSION)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_readings_are_printed_with_their_values(printed) -> None:
    """A reading (「（読み取り）」 and why) is on paper next to its value, and so is the list of
    every reading, closed on screen."""
    url = "/okayama/kojin-juminzei/2025-04-01/"
    page = printed(url)
    notes = _visible(page, "main p.reading")
    assert len(notes) == 11 and all(notes)
    listed = _visible(page, "details.readings-list li")
    assert listed and all(listed)
    assert not any(_visible(printed(url, media="screen"), "details.readings-list li"))
