"""Full-text search (/search/, Pagefind): what a reader typing a Japanese query gets.

The browser tests run real queries over the bundled content in headless Chromium and check
which assessment and which item (URL with #fragment) come first. The other tests check the
bundle a build writes and that only the versions in force and open drafts are indexed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from helpers import copy_site, soup
from support.browser import (
    axe_violations,
    format_violations,
    require_java,
    require_node_file,
)
from support.nu import VNU_JAR, format_nu, nu_errors

from piasite import pipeline

# ------------------------------------------------------------------------- the built bundle


def _indexed_urls(site: Path) -> set[str]:
    """URLs of every page in the Pagefind bundle (fragments are gzipped JSON)."""
    urls = set()
    for frag in (site / "pagefind" / "fragment").glob("*.pf_fragment"):
        raw = gzip.decompress(frag.read_bytes())
        # Pagefind prefixes the JSON with a signature line.
        data = json.loads(raw[raw.index(b"{"):])
        urls.add(data["url"])
    return urls


def test_build_writes_a_valid_pagefind_bundle(built_site: Path) -> None:
    entry = json.loads((built_site / "pagefind" / "pagefind-entry.json").read_text("utf-8"))
    assert entry["languages"]["ja"]["page_count"] == 5
    assert (built_site / "pagefind" / "pagefind.js").stat().st_size > 0


def test_only_current_versions_and_open_drafts_are_indexed(built_site: Path) -> None:
    urls = _indexed_urls(built_site)
    assert "/asahikawa/juki/2025-07-01/" in urls  # the open draft
    assert "/asahikawa/juki/2023-12-29/" not in urls  # an older version
    assert "/asahikawa/juki/" not in urls  # the alias of the current version
    assert all(u.count("/") == 4 for u in urls), urls  # no diff, system or list pages
    old = soup(built_site / "asahikawa" / "juki" / "2023-12-29" / "index.html")
    assert old.select("[data-pagefind-body]") == []


def test_indexed_page_carries_filters_and_aliases(built_site: Path) -> None:
    page = soup(built_site / "yatsushiro" / "juki" / "2025-07-11" / "index.html")
    filters = {el["data-pagefind-filter"] for el in page.select("[data-pagefind-filter]")}
    assert {"団体:八代市", "評価書の種類:重点", "状態:公表中",
            "システム:住民基本台帳ネットワークシステム"} <= filters
    terms = page.select_one("[data-pagefind-index-attrs]")["data-terms"]
    assert "住基ネット" in terms.split() and "中間サーバ" in terms.split()


def test_failed_index_leaves_output_untouched(tmp_path: Path, monkeypatch) -> None:
    site = copy_site(tmp_path / "site")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.html").write_text("前回のビルド", encoding="utf-8")

    from piasite import index

    def broken(staged: Path, indexer: object = None) -> index.IndexResult:
        (staged / "pagefind").mkdir()
        (staged / "pagefind" / "pagefind-entry.json").write_text("", encoding="utf-8")
        return index.IndexResult(0, [pipeline.diagnostics.error(
            "E901", "索引を作れませんでした", index._SPAN)])

    monkeypatch.setattr(pipeline, "index_site", broken)
    result = pipeline.build(site, out)
    assert not result.wrote
    assert [d.code for d in result.diagnostics if d.code == "E901"] == ["E901"]
    assert sorted(p.name for p in out.iterdir()) == ["old.html"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_missing_or_broken_pagefind_binary_is_a_diagnostic(tmp_path: Path, monkeypatch) -> None:
    from piasite.index import index_site

    (tmp_path / "index.html").write_text('<html lang="ja"><body><main><h1>x</h1></main></body>'
                                         "</html>", encoding="utf-8")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")
    result = index_site(tmp_path)
    assert [d.code for d in result.diagnostics] == ["E901"]
    assert "Pagefind" in result.diagnostics[0].message


def test_index_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    # Playwright's sync API (and any async host) keeps a loop running in the main thread.
    import asyncio
    import threading

    from piasite.index import entry_ok, index_site

    (tmp_path / "index.html").write_text('<html lang="ja"><body><main><h1>中間サーバー</h1>'
                                         "</main></body></html>", encoding="utf-8")

    async def inside() -> list:
        return index_site(tmp_path).diagnostics

    # A thread of its own: this test process may already run Playwright's loop in the main thread.
    result: list = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(inside())))
    worker.start()
    worker.join()
    assert result == [[]]
    assert entry_ok(tmp_path / "pagefind")


def test_empty_entry_file_is_detected(tmp_path: Path) -> None:
    from piasite.index import entry_ok

    (tmp_path / "pagefind-entry.json").write_text("", encoding="utf-8")
    assert not entry_ok(tmp_path)
    (tmp_path / "pagefind-entry.json").write_text('{"languages": {"ja": {}}}', encoding="utf-8")
    assert entry_ok(tmp_path)


def test_preview_search_page_says_search_is_unavailable(tmp_path: Path) -> None:
    from piasite.diff import DiffCache

    site = copy_site(tmp_path / "site")
    result = pipeline.load_checked(site)
    assert result.site is not None and result.links is not None
    rendered = pipeline.render_site(site, result.site, None, DiffCache(tmp_path / "c.json"),
                                    result.links, preview=True)
    page = soup_bytes(rendered.files[PurePosixPath("search/index.html")])
    assert "プレビューでは検索を使えません" in page.get_text()
    assert page.select("script") == []


def soup_bytes(data: bytes):
    from bs4 import BeautifulSoup

    return BeautifulSoup(data.decode("utf-8"), "html.parser")


def test_search_page_without_javascript_points_to_the_lists(built_site: Path) -> None:
    page = soup(built_site / "search" / "index.html")
    notice = page.select_one("#search-nojs")
    assert "JavaScript が必要" in notice.get_text()
    assert {a["href"] for a in notice.select("a")} == {"/", "/systems/"}
    assert page.select_one("#search-app").has_attr("hidden")
    nav = [a["href"] for a in soup(built_site / "index.html").select(".site-nav a")]
    assert "/search/" in nav


# ------------------------------------------------------------------------------ in Chromium


def _search(page: Any, site_url: str, q: str = "", **filters: str) -> list[dict]:
    params = urlencode({"q": q, **filters}) if q else urlencode(filters)
    page.goto(f"{site_url}/search/?{params}")
    page.wait_for_selector("body[data-search-ready]", timeout=30_000)
    # Results come a few at a time; load them all with the 次の結果を表示 button.
    while page.locator("#search-more").is_visible():
        n = page.locator("#search-results > li").count()
        page.locator("#search-more").click()
        page.wait_for_function(f"document.querySelectorAll('#search-results > li').length > {n}")
    return page.evaluate("""() => [...document.querySelectorAll('#search-results > li')].map(li => ({
        url: li.querySelector('h3 a').getAttribute('href'),
        sections: [...li.querySelectorAll('.search-sections > li > a')].map(a => a.getAttribute('href')),
        marks: [...li.querySelectorAll('mark')].map(m => m.textContent),
    }))""")


@pytest.fixture()
def page(chromium: Any):
    context = chromium.new_context(locale="ja-JP")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.parametrize(("query", "first_page", "first_section"), [
    # A system: the page that lists it as a system, at the system's own entry.
    ("住基ネット", "/yatsushiro/juki/2025-07-11/", "#I-2-sys-juki-net"),
    # A topic: the 委託 section (特定個人情報ファイルの取扱いの委託) of the first page.
    ("委託先", "/asahikawa/juki/2025-07-01/", "#II-juki-4-"),
    ("中間サーバー", "/toyonaka/juki/2023-03-15/", "#"),
])
def test_query_finds_assessment_and_item(page: Any, site_url: str, query: str,
                                         first_page: str, first_section: str) -> None:
    results = _search(page, site_url, query)
    assert results, f"no results for {query}"
    top = results[0]
    assert top["url"] == first_page
    assert top["sections"][0].startswith(first_page + first_section), top["sections"]
    assert top["marks"], "the excerpt marks the match"
    assert "件" in page.inner_text("#search-status")


@pytest.mark.browser
def test_compound_word_does_not_match_its_parts_apart(page: Any, site_url: str) -> None:
    # Unquoted, Pagefind finds 4 pages for 国税連携 (国税 … 連携 anywhere); one says it.
    results = _search(page, site_url, "国税連携")
    assert [r["url"] for r in results] == ["/okayama/kojin-juminzei/2025-04-01/"]
    assert results[0]["sections"], "the hit links to a section"


@pytest.mark.browser
def test_abbreviation_finds_pages_that_only_use_the_full_name(
        page: Any, site_url: str, built_site: Path) -> None:
    urls = {r["url"] for r in _search(page, site_url, "住基ネット")}
    full = {r["url"] for r in _search(page, site_url, "住民基本台帳ネットワークシステム")}
    assert urls == full and len(urls) == 5
    only_full = []
    for u in urls:
        html = soup(built_site / u.strip("/") / "index.html")
        for el in html.select("[data-terms]"):
            del el["data-terms"]
        if "住基ネット" not in html.select_one("main").get_text():
            only_full.append(u)
    assert only_full, "every page says 住基ネット; the alias is not exercised"


@pytest.mark.browser
@pytest.mark.parametrize(("a", "b"), [("ＣＳ", "CS"), ("市町村ＣＳ", "市町村CS"),
                                      ("サーバ", "サーバー"), ("中間サーバ", "中間サーバー")])
def test_width_and_long_vowel_variants_find_the_same(page: Any, site_url: str,
                                                     a: str, b: str) -> None:
    ra, rb = _search(page, site_url, a), _search(page, site_url, b)
    assert ra and ra == rb


@pytest.mark.browser
def test_long_katakana_word_is_found_where_the_index_cut_it(page: Any, site_url: str,
                                                            built_site: Path) -> None:
    # The browser cuts ガバメントクラウド into five pieces and the index into two (#1237):
    # the search page retries with the index's own words.
    words = json.loads((built_site / "pagefind" / "piasite-words.json").read_text(encoding="utf-8"))
    assert {"ガバメント", "クラウド"} <= set(words) and "ガバメントクラウド" not in words
    results = _search(page, site_url, "ガバメントクラウド")
    assert {r["url"] for r in results} == {"/yatsushiro/juki/2025-07-11/", "/asahikawa/juki/2025-07-01/"}
    assert all(r["sections"] for r in results)


@pytest.mark.browser
def test_filter_narrows_results(page: Any, site_url: str) -> None:
    everything = _search(page, site_url, "委託先")
    asahikawa = _search(page, site_url, "委託先", 団体="旭川市")
    assert len(everything) == 5
    assert [r["url"] for r in asahikawa] == ["/asahikawa/juki/2025-07-01/"]
    assert page.locator("#search-filter-0").input_value() == "旭川市"
    # Choosing a filter in the form re-runs the search (keyboard: focus + select).
    page.locator("#search-filter-0").select_option("")
    page.wait_for_function("/：5件/.test(document.getElementById('search-status').textContent)")
    # The first batch is shown; 次の結果を表示 moves focus to the first newly loaded result.
    assert page.locator("#search-results > li").count() == 2
    assert page.locator("#search-more").inner_text() == "次の結果を表示（残り3件）"
    page.locator("#search-more").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#search-results > li').length === 4")
    assert page.evaluate("document.activeElement.closest('li') === "
                         "document.querySelectorAll('#search-results > li')[2]")
    drafts = _search(page, site_url, "", 状態="案")
    assert {r["url"] for r in drafts} == {"/asahikawa/juki/2025-07-01/",
                                         "/okayama/kojin-juminzei/2025-04-01/"}


@pytest.mark.browser
def test_keyboard_search_announces_count_and_passes_axe(page: Any, site_url: str) -> None:
    page.goto(f"{site_url}/search/")
    page.wait_for_selector("body[data-search-ready]")
    assert page.locator("#search-nojs").is_hidden()
    live = page.locator("#search-status")
    assert live.get_attribute("aria-live") == "polite"
    page.locator("#search-q").focus()
    page.keyboard.type("中間サーバー")
    page.keyboard.press("Enter")
    page.wait_for_function("/件/.test(document.getElementById('search-status').textContent)")
    assert live.inner_text() == "「中間サーバー」の検索結果：5件"
    assert page.evaluate("location.search") == "?q=" + quote("中間サーバー")
    # Tab from the field reaches the button, then the filters: nothing needs a mouse.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    violations = axe_violations(page, None)
    assert not violations, format_violations({page.url: violations})


@pytest.mark.browser
def test_search_page_with_results_is_valid_html(page: Any, site_url: str, tmp_path: Path) -> None:
    java = require_java()
    require_node_file(VNU_JAR)
    results = _search(page, site_url, "委託先", 状態="公表中")
    assert results
    shown = tmp_path / "search-with-results.html"
    shown.write_text(page.content(), encoding="utf-8")
    errors = nu_errors([shown], java=java)
    assert not errors, format_nu(errors, root=tmp_path)
    violations = axe_violations(page, None)
    assert not violations, format_violations({page.url: violations})


def test_a_cut_off_index_file_is_detected(tmp_path: Path) -> None:
    # The service can stop before a file is whole; such a bundle is rebuilt, never published.
    from piasite.index import bundle_problem

    (tmp_path / "pagefind-entry.json").write_text('{"languages": {"ja": {}}}', encoding="utf-8")
    (tmp_path / "pagefind.js").write_text("const a=1;export{a};\n", encoding="utf-8")
    (tmp_path / "wasm.unknown.pagefind").write_bytes(gzip.compress(b"pagefind_dcd" + b"\0" * 64))
    (tmp_path / "index").mkdir()
    chunk = gzip.compress(b"pagefind_dcd" + bytes(range(256)) * 8)
    (tmp_path / "index" / "ja_1.pf_index").write_bytes(chunk)
    assert bundle_problem(tmp_path) == ""
    (tmp_path / "index" / "ja_1.pf_index").write_bytes(chunk[: len(chunk) // 2])
    assert "index/ja_1.pf_index" in bundle_problem(tmp_path)
    (tmp_path / "index" / "ja_1.pf_index").write_bytes(chunk)
    (tmp_path / "pagefind.js").write_text("const a=1;expo", encoding="utf-8")
    assert "pagefind.js" in bundle_problem(tmp_path)


def test_built_bundle_has_only_what_the_search_page_loads(built_site: Path) -> None:
    bundle = built_site / "pagefind"
    assert (bundle / "pagefind.js").is_file()
    leftovers = sorted(p.name for p in bundle.glob("pagefind-*ui*")) + sorted(
        p.name for p in bundle.glob("pagefind-[hw]*.js"))
    assert leftovers == []
