"""Accessibility beyond the checkers, in headless Chromium (JIS X 8341-3:2016 AA / WCAG 2.2 AA).

axe-core cannot press Tab, narrow the window or switch on Windows' high-contrast mode; these
tests do, on the main page types: keyboard order and visible focus (2.1.1, 2.4.1, 2.4.3,
2.4.7), reflow at 320 CSS px (1.4.10), text spacing (1.4.12), 200% text (1.4.4) and forced
colours (1.4.1 / 1.4.11 without colour).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

HOME = "/"
LONG_VERSION = "/asahikawa/juki/2025-07-01/"
PAST_VERSION = "/midori/juki/2023-08-18/"
CHANGES = "/midori/juki/changes/"
LONG_CHANGES = "/asahikawa/juki/changes/"
DIFF = "/midori/juki/diff/2023-08-18..2025-12-12/"
SYSTEMS = "/systems/"
ACCESSIBILITY = "/accessibility/"
COMPARE = "/compare/"
COMPARE_ITEM = "/compare/zenkoumoku/II-4-itaku-re-7/"
SYSTEM_MENTIONS = "/systems/chukan-server-platform/"
PAGES = [HOME, LONG_VERSION, CHANGES, LONG_CHANGES, DIFF, SYSTEMS, PAST_VERSION, ACCESSIBILITY,
         COMPARE, COMPARE_ITEM, SYSTEM_MENTIONS]

# WCAG 1.4.12's values, as the well-known text-spacing bookmarklet applies them.
TEXT_SPACING_CSS = """
* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
    word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }
"""

# Elements whose box clips text (overflow hidden/clip) yet holds more than it shows.
# .vh is the visually-hidden helper: 1 px on purpose, read by screen readers only.
CLIPPED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.vh, svg')) continue;
    const s = getComputedStyle(el);
    const clips = (v) => v === 'hidden' || v === 'clip';
    if (!clips(s.overflowX) && !clips(s.overflowY)) continue;
    if (!el.textContent.trim()) continue;
    const tall = clips(s.overflowY) && el.scrollHeight > el.clientHeight + 1;
    const wide = clips(s.overflowX) && el.scrollWidth > el.clientWidth + 1;
    if (tall || wide) out.push(el.tagName.toLowerCase() + '.' + el.className + ': ' +
                               el.textContent.trim().slice(0, 40));
  }
  return out;
}"""

# Boxes that scroll sideways inside the page, and whether a keyboard user can reach and
# identify them (focusable, a region with a name).
SCROLLERS_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const s = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(s.overflowX)) continue;
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const named = (el.getAttribute('aria-label') || '').trim() ||
      (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
        .map((id) => (document.getElementById(id) || {}).textContent || '').join('').trim();
    out.push({tag: el.tagName.toLowerCase(), cls: el.className,
              role: el.getAttribute('role'), tabindex: el.getAttribute('tabindex'),
              named: Boolean(named)});
  }
  return out;
}"""

FOCUS_STYLE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {tag: el.tagName.toLowerCase(), text: (el.textContent || '').trim().slice(0, 30),
          outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,
          outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth),
          boxShadow: s.boxShadow, visible: r.width > 0 && r.height > 0};
}"""


@pytest.fixture
def open_page(chromium: Any, site_url: str) -> Iterator[Any]:
    """open_page(url, width=1280, **context options) -> a Playwright page on the built site."""
    contexts = []

    def _open(url: str, width: int = 1280, height: int = 900, **kwargs: Any) -> Any:
        ctx = chromium.new_context(viewport={"width": width, "height": height}, **kwargs)
        contexts.append(ctx)
        page = ctx.new_page()
        response = page.goto(site_url + url, wait_until="load")
        assert response is not None and response.ok, url
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


# --------------------------------------------------------------------------- keyboard


@pytest.mark.parametrize("url", PAGES)
def test_skip_link_is_first_and_moves_focus_to_main(open_page, url: str) -> None:
    page = open_page(url)
    page.keyboard.press("Tab")
    first = page.evaluate("() => [document.activeElement.className, "
                          "document.activeElement.getAttribute('href')]")
    assert first == ["skip-link", "#main"], f"{url}: first Tab stop is {first}"
    box = page.evaluate("() => { const r = document.activeElement.getBoundingClientRect();"
                        " return [r.top, r.bottom]; }")
    assert box[0] >= 0 and box[1] <= 900, f"{url}: focused skip link is off screen: {box}"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # The next Tab continues inside main, not back at the header.
    page.keyboard.press("Tab")
    assert page.evaluate("() => Boolean(document.activeElement.closest('main'))"), url


@pytest.mark.parametrize("url", [HOME, LONG_VERSION, CHANGES, DIFF, SYSTEMS, COMPARE, COMPARE_ITEM])
def test_focus_is_always_visible_and_in_document_order(open_page, url: str) -> None:
    """Tab through the page: each stop shows an indicator it does not have unfocused."""
    page = open_page(url)
    assert page.evaluate("() => document.querySelectorAll('[tabindex]:not([tabindex=\"0\"])"
                         ":not([tabindex=\"-1\"])').length") == 0, "positive tabindex"
    page.evaluate("() => { window.__stops = []; }")
    stops = 0
    previous = None
    for _ in range(120):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_STYLE_JS)
        if focused is None:
            break
        page.evaluate("() => window.__stops.push(document.activeElement)")
        assert focused["visible"], f"{url}: focus on an invisible element {focused}"
        has_indicator = (focused["outlineStyle"] != "none" and focused["outlineWidth"] >= 2) \
            or focused["boxShadow"] != "none"
        assert has_indicator, f"{url}: no focus indicator on {focused}"
        if previous is not None:
            # The element we just left, now unfocused, must look different.
            before = page.evaluate("""() => { const el = window.__stops.at(-2);
                const s = getComputedStyle(el);
                return s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor + '|' +
                       s.boxShadow; }""")
            assert before != previous["outline"] + "|" + previous["boxShadow"], (
                f"{url}: focus on {previous['tag']} 「{previous['text']}」 changes nothing")
        previous = focused
        stops += 1
    assert stops >= 5, f"{url}: only {stops} Tab stops"
    in_order = page.evaluate("""() => window.__stops.every((el, i, a) => i === 0 ||
        (a[i - 1].compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING))""")
    assert in_order, f"{url}: Tab order does not follow the reading order"


def _tab_to(page: Any, selector: str, limit: int = 400) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_diff_details_open_and_close_with_enter_and_space(open_page) -> None:
    page = open_page(DIFF)
    _tab_to(page, "tr.folded summary")
    state = "() => document.activeElement.parentElement.open"
    assert page.evaluate(state) is False
    page.keyboard.press("Enter")
    assert page.evaluate(state) is True
    shown = "() => document.activeElement.parentElement.querySelector('dl').checkVisibility()"
    assert page.evaluate(shown) is True, "opened details shows its items"
    page.keyboard.press("Space")
    assert page.evaluate(state) is False
    assert page.evaluate(shown) is False
    page.keyboard.press("Space")
    assert page.evaluate(state) is True


def test_choice_list_opens_with_keyboard(open_page) -> None:
    page = open_page(LONG_VERSION)
    _tab_to(page, "details.choices summary")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.parentElement.open") is True
    assert page.evaluate("() => document.activeElement.parentElement"
                         ".querySelector('.choice-list').checkVisibility()") is True


# --------------------------------------------------------------------------- reflow


@pytest.mark.parametrize("url", PAGES)
def test_reflow_at_320_px_has_no_page_scrolling(open_page, url: str) -> None:
    page = open_page(url, width=320, height=640)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 320, f"{url}: page is {width}px wide at a 320px viewport"
    for s in page.evaluate(SCROLLERS_JS):
        assert s["role"] == "region" and s["tabindex"] == "0" and s["named"], (
            f"{url}: a sideways-scrolling box is not a focusable, labelled region: {s}")


@pytest.mark.parametrize("url", [CHANGES, COMPARE])
def test_wide_tables_scroll_inside_a_region_at_320_px(open_page, url: str) -> None:
    page = open_page(url, width=320, height=640)
    scrollers = page.evaluate(SCROLLERS_JS)
    assert scrollers, f"{url}: the wide tables are wider than 320px and scroll in their region"
    region = page.locator(".table-scroll").first
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    # Keyboard scrolling may be animated: wait for it (up to 3 s) instead of reading at once.
    with contextlib.suppress(Exception):
        page.wait_for_function("(el) => el.scrollLeft > 0", arg=region.element_handle(),
                               timeout=3000)
    assert region.evaluate("(el) => el.scrollLeft") > 0, "the region scrolls with the keyboard"


@pytest.mark.parametrize("url", PAGES)
def test_text_spacing_does_not_clip_text(open_page, url: str) -> None:
    page = open_page(url)
    page.add_style_tag(content=TEXT_SPACING_CSS)
    assert page.evaluate(CLIPPED_JS) == [], url
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate(CLIPPED_JS) == [], f"{url} at 320px"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 320, f"{url}: {width}px wide with WCAG text spacing at 320px"


@pytest.mark.parametrize("url", PAGES)
def test_200_percent_text_reflows_without_clipping(open_page, url: str) -> None:
    page = open_page(url, width=640, height=800)
    page.add_style_tag(content="html { font-size: 200% !important; }")
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 32
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 640, f"{url}: {width}px wide at 200% text in 640px"
    assert page.evaluate(CLIPPED_JS) == [], url


def test_clipping_check_can_fail(open_page) -> None:
    """The clipping probe finds a box that hides its text (so a pass above means something)."""
    page = open_page(HOME)
    page.add_style_tag(content="h1 { height: 0.5em; overflow: hidden; }")
    assert any(c.startswith("h1") for c in page.evaluate(CLIPPED_JS))


# --------------------------------------------------------------------------- forced colours


def _styles(page: Any, selector: str) -> list[dict]:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].map((el) => {
        const s = getComputedStyle(el);
        return {line: s.textDecorationLine, style: s.textDecorationStyle,
                border: s.borderBottomStyle, borderLeft: s.borderLeftStyle,
                borderLeftWidth: parseFloat(s.borderLeftWidth),
                borderTop: s.borderTopStyle, bg: s.backgroundColor};
    })""", selector)


def test_forced_colours_keep_diff_marks_distinguishable(open_page) -> None:
    page = open_page(DIFF, color_scheme="dark")
    page.emulate_media(forced_colors="active")
    assert page.evaluate("() => matchMedia('(forced-colors: active)').matches")
    ins, dels = _styles(page, "ins"), _styles(page, "del")
    assert ins and dels, "the diff page marks added and removed text"
    for s in ins + dels:
        assert "underline" in s["line"] or s["border"] != "none", s
    # Added and removed text differ by more than colour: the line itself differs.
    assert {(s["style"], s["border"]) for s in ins}.isdisjoint({(s["style"], s["border"])
                                                                for s in dels})
    legends = _styles(page, ".legend-ins, .legend-del")
    assert legends and all("underline" in s["line"] for s in legends)
    # Screen readers and forced colours both get the words, not the tint.
    assert page.locator("ins .vh, del .vh").count() > 0 or page.evaluate(
        "() => [...document.querySelectorAll('ins, del')].every((el) => "
        "getComputedStyle(el, '::before').content !== 'none')")


def test_forced_colours_keep_notice_boxes_outlined(open_page) -> None:
    page = open_page(PAST_VERSION)
    page.emulate_media(forced_colors="active")
    notices = _styles(page, ".notice")
    assert notices, "the reconstructed version carries a notice"
    for s in notices:
        assert s["borderLeft"] == "solid" and s["borderLeftWidth"] >= 4, s
        assert s["borderTop"] != "none", s
    values = _styles(page, ".value")
    assert values and all(s["borderLeft"] != "none" for s in values)
