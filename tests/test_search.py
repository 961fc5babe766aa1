"""Full-text search (/search/): what a reader typing a Japanese query gets.

The browser tests type real queries into the search page of the bundled build in headless
Chromium and compare the results with the pages' own text, read here with BeautifulSoup: every
page whose searchable text contains the query must be found, every result must contain it (or
a registry name of the same system), and each excerpt's link must land on the item holding the
match. The other tests check the index the build writes and how a page's text is cut.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from helpers import bigram_words, copy_site, soup
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.browser import (
    axe_violations,
    format_violations,
    require_java,
    require_node_file,
)
from support.nu import VNU_JAR, format_nu, nu_errors

from piasite import index, pipeline

# ------------------------------------------------------------------- the pages' own text


def _fold(text: str) -> str:
    """docs/search.md's normalisation, written apart from piasite's to check it."""
    t = "".join(c.lower() for c in unicodedata.normalize("NFKC", text)).replace("―", "ー")
    t = re.sub(r"(?<=[ァ-ヶ])ー+(?![ァ-ヶー])", "", t)
    return "".join(c for c in t if unicodedata.category(c)[0] in "LN")


@cache
def _searchable(site: Path) -> dict[str, dict]:
    """Every searchable part of the built site (URL -> record and folded text)."""
    out = {}
    for path in sorted(site.rglob("index.html")):
        raw = path.read_text(encoding="utf-8")
        if "data-search=" not in raw:
            continue
        rel = path.parent.relative_to(site).as_posix()
        url = "/" if rel == "." else f"/{rel}/"
        for el in soup(path).select("[data-search]"):
            record = json.loads(el["data-search"])
            for ignored in el.select("[data-search-ignore], svg, script, [hidden]"):
                ignored.decompose()
            record["text"] = _fold(record["title"] + el.get_text())
            out[record.get("url") or url] = record
    return out


def _form(word: str) -> str:
    """A query word as searched: folded, without a leading ー (docs/search.md)."""
    return _fold(word).lstrip("ー")


def _containing(site: Path, *words: str) -> set[str]:
    return {u for u, r in _searchable(site).items() if all(_fold(w) in r["text"] for w in words)}


def _expected(site: Path, query: str) -> set[str]:
    """The pages holding every word of `query`, or another registry name of its system."""
    form = soup(site / "search" / "index.html").select_one("#search-form")
    groups = json.loads(form["data-aliases"])
    found = None
    for word in query.split():
        form = _form(word)
        names = {form} | {n for g in groups if form in map(_fold, g) for n in g}
        pages = set().union(*(_containing(site, n) for n in names if _fold(n)))
        found = pages if found is None else found & pages
    return found or set()


def _manifest(site: Path) -> dict:
    return json.loads((site / "pagefind" / "piasite.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------- the built index


def test_build_indexes_every_kind_of_page(built_site: Path) -> None:
    entry = json.loads((built_site / "pagefind" / "pagefind-entry.json").read_text("utf-8"))
    assert list(entry["languages"]) == ["zxx"]  # not segmented: piasite cuts the text itself
    pages = _manifest(built_site)["pages"]
    kinds = sorted(p[1] for p in pages.values())
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "評価書": 5, "システム": 32, "意見募集": 3, "関連資料": 4}
    for page_id in pages:
        assert (built_site / "pagefind" / "text" / f"{page_id}.json").is_file()
    assert sorted(p[0] for p in pages.values()) == sorted(_searchable(built_site))


def test_only_current_versions_and_open_drafts_are_indexed(built_site: Path) -> None:
    urls = {p[0] for p in _manifest(built_site)["pages"].values()}
    assert "/asahikawa/juki/2025-07-01/" in urls  # the open draft
    assert "/asahikawa/juki/2023-12-29/" not in urls  # an older version
    assert "/asahikawa/juki/" not in urls  # the alias of the current version
    assert {"/systems/juki-net/", "/comments/", "/asahikawa/juki/2025-07-01/results/",
            "/asahikawa/juki/2025-07-01/#take-part", "/asahikawa/juki/gaiyo/"} <= urls
    assert not [u for u in urls if "/diff/" in u or u.endswith("/changes/")]
    old = soup(built_site / "asahikawa" / "juki" / "2023-12-29" / "index.html")
    assert old.select("[data-search]") == []


def test_each_record_carries_its_filters(built_site: Path) -> None:
    page = soup(built_site / "yatsushiro" / "juki" / "2025-07-11" / "index.html")
    (record,) = [json.loads(el["data-search"]) for el in page.select("[data-search]")]
    assert record["kind"] == "評価書"
    assert record["filters"]["団体"] == ["八代市"]
    assert record["filters"]["評価書の種類"] == ["重点"]
    assert record["filters"]["状態"] == ["公表中"]
    assert "住民基本台帳ネットワークシステム" in record["filters"]["システム"]
    system = soup(built_site / "systems" / "juki-net" / "index.html").select_one("[data-search]")
    filters = json.loads(system["data-search"])["filters"]
    # 状態 and 評価書の種類 do not apply to a system: choosing them must not hide it.
    assert set(filters) == {"団体", "システム"}
    assert {"八代市", "旭川市"} <= set(filters["団体"])


def test_text_is_cut_at_the_items_and_leaves_out_old_text(built_site: Path) -> None:
    pages = _manifest(built_site)["pages"]
    (page_id,) = [i for i, p in pages.items() if p[0] == "/yatsushiro/juki/2025-07-11/"]
    body = json.loads((built_site / "pagefind" / "text" / f"{page_id}.json").read_text("utf-8"))
    anchors = dict(body["a"])
    assert anchors["cover"] == "表紙"
    assert anchors["I-2-sys-juki-net-1"] == "① システムの名称"
    # The 変更箇所 table (the old wording) and the drawing are not searchable.
    assert not [a for a in anchors if a == "changes" or a.startswith("change-")]
    text = "".join(s[1] for s in body["s"])
    assert "選択肢" not in text  # a select's list of choices is the form's, not the answer
    seg = next(s for s in body["s"] if s[0] >= 0 and body["a"][s[0]][0] == "I-2-sys-juki-net-1")
    assert "住民基本台帳ネットワークシステム" in seg[1]


def test_a_pages_text_is_cut_where_a_reader_lands() -> None:
    page = """<main><nav>目次</nav>
    <article data-search='{"kind": "評価書", "title": "題", "filters": {}}'>
    <section><h2 id="A">Ⅰ 基本</h2><p>概要の文</p>
      <div class="field" id="B"><dt>① 名称</dt><dd>中間<strong>サーバー</strong></dd></div>
      <p>見出しの続き</p></section>
    <p>本文の外</p>
    <details data-search-ignore><summary>選択肢</summary>隠す</details>
    <div hidden>見えない</div><script>var x = "<p>";</script>
    <p class="check" id="C">☑ 点検を行う</p>
    </article><footer>対象外</footer></main>"""
    (record,) = index.records_of(page, "/x/")
    assert record.anchors == [("A", "Ⅰ 基本"), ("B", "① 名称"), ("C", "☑ 点検を行う")]
    placed = [(record.anchors[i][0] if i >= 0 else None, t.strip()) for i, t in record.segments]
    assert placed == [(None, "題"), ("A", "Ⅰ 基本 概要の文"), ("B", "① 名称 中間サーバー"),
                      ("A", "見出しの続き"), (None, "本文の外"), ("C", "☑ 点検を行う")]


def _records_walked(page: str) -> list[index.Record]:
    """`index.records_of` reading the skipped elements token by token, as it did before."""
    passing = index._skipped_end
    index._skipped_end = lambda *a: None
    try:
        return index.records_of(page, "/x/")
    finally:
        index._skipped_end = passing


_REGION = """<main><article data-search='{"kind": "評価書", "title": "題"}'>%s</article>
<p>後ろ</p></main>"""


@pytest.mark.parametrize("inside", [
    "<p>前<span hidden>隠す<br>隠す</span>後</p>",  # a br inside parts the words around it
    "<p>前<span hidden>隠す</span>後</p>",
    "<div data-search-ignore><div>入れ子</div><div id='z'>同じ名前</div></div><p id='y'>次</p>",
    "<div data-search-ignore><!-- </div> --><p>注釈の中の終わり</p></div>本文",
    "<div hidden><script>var s = '</div>';</script></div>本文",
    "<p>前<svg><svg/><text>図</text></svg>後</p><h2 id='h'>見出し</h2>続き",
    "<p>前<SPAN HIDDEN>大文字</Span >後</p>",
    "<section id='s'><h3>項目</h3><details data-search-ignore><summary>選択肢</summary>"
    "<ol><li>一</li><li>二<hr></li></ol></details><dl><dt>ラベル</dt><dd>値</dd></dl></section>",
    "<p>閉じない<span hidden>終わりまで",
])
def test_skipped_elements_passed_at_once_read_as_token_by_token(inside: str) -> None:
    page = _REGION % inside
    assert index.records_of(page, "/x/") == _records_walked(page)


def test_a_skipped_element_is_passed_to_its_own_end_tag() -> None:
    page = "<div hidden><div>入れ子</div><div/>自ら閉じる<br></div>後<div>"
    assert index._skipped_end(page, "div", len("<div hidden>")) == (page.index("後"), True)
    assert index._skipped_end("<p hidden>終わりがない", "p", len("<p hidden>")) is None


def test_a_break_inside_a_skipped_element_still_parts_the_words() -> None:
    (record,) = index.records_of(_REGION % "<p>前<span hidden>隠す<br>隠す</span>後</p>", "/x/")
    assert record.text == "題 前 後"


_TREE = st.recursive(
    st.sampled_from(["語", "別の語 ", " ", "&lt;", "<br>", "<hr/>", "<img alt='x'>"]),
    lambda inner: st.tuples(
        st.sampled_from(["div", "p", "span", "details", "svg", "h2", "dt"]),
        st.sampled_from(["", " hidden", " data-search-ignore", " id='a'", " class='c'"]),
        st.lists(inner, max_size=4)).map(
            lambda t: f"<{t[0]}{t[1]}>{''.join(t[2])}</{t[0]}>"),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TREE, max_size=4))
def test_any_tree_reads_the_same_with_its_skipped_elements_passed_at_once(parts) -> None:
    page = _REGION % "".join(parts)
    assert index.records_of(page, "/x/") == _records_walked(page)


@pytest.mark.parametrize(("text", "folded"), [
    ("ＣＳ", "cs"), ("市町村ＣＳ", "市町村cs"), ("サーバー", "サーバ"), ("サーバ", "サーバ"),
    ("中間サーバー・プラットフォーム", "中間サーバプラットフォーム"), ("ｶﾞﾊﾞﾒﾝﾄ", "ガバメント"),
    ("カ\u3099", "ガ"), ("住基ネット（※）", "住基ネット"), ("サーバ―", "サーバ"),
    ("ユーザー名", "ユーザ名"), ("ユーザーデータ", "ユーザーデータ"), ("① 第２条", "1第2条"),
])
def test_normalise(text: str, folded: str) -> None:
    assert index.normalise(text) == folded == _fold(text)


def _fold_each(text: str) -> str:
    """`index.normalise` as it was written first: every character looked up and kept or
    dropped one by one (a text with a combining mark folds cluster by cluster)."""
    if index._HAS_MARK.search(text):
        return index.normalise(text)
    folded = re.sub(r"(?<=[ァ-ヶ])ー+(?![ァ-ヶー])", "", text.translate(index._FOLD))
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def test_what_normalise_keeps_and_drops_by_runs_is_decided_for_every_character() -> None:
    every = "".join(map(chr, range(0x110000)))
    # A character outside the runs `_MAY_FOLD` finds folds to itself...
    kept = index._MAY_FOLD.sub("", every)
    assert len(kept) > 25_000
    assert [c for c in kept if index._fold_cluster(c) != c] == []
    # ... and `_NOT_LETTER_OR_DIGIT` drops exactly what is not a letter or a digit.
    dropped = set(index._NOT_LETTER_OR_DIGIT.findall(every))
    assert {c for run in dropped for c in run} == {
        c for c in every if unicodedata.category(c)[0] not in "LN"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.sampled_from("ＣＳサーバーｶﾞﾊﾞ―ー・（）①第２条 、。\nAbcΣİ㍻ⅢＡ"), st.characters())))
@example("中間サーバー　（ＣＳ）ユーザー、ｶﾞ")
def test_normalise_by_runs_is_normalise_by_characters(text: str) -> None:
    assert index.normalise(text) == _fold_each(text)


def test_index_words_are_one_per_character_and_prefix_free() -> None:
    words = bigram_words(index.normalise("職員𠮷a"))
    assert len(words) == 4 and words[-1] == bigram_words("a")[0]
    # A character's code never starts another's: a one-character query is a prefix of
    # exactly the bigrams that start with that character.
    one = bigram_words("職")[0]
    assert words[0].startswith(one) and not words[1].startswith(one)
    assert all(w.isascii() and w.isalnum() for w in words)


def test_failed_index_leaves_output_untouched(tmp_path: Path, monkeypatch) -> None:
    site = copy_site(tmp_path / "site")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.html").write_text("前回のビルド", encoding="utf-8")

    def broken(staged: Path, *_: object) -> index.IndexResult:
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
    (tmp_path / "index.html").write_text('<html lang="ja"><body><main><h1>x</h1></main></body>'
                                         "</html>", encoding="utf-8")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")
    result = index.index_site(tmp_path)
    assert [d.code for d in result.diagnostics] == ["E901"]
    assert "Pagefind" in result.diagnostics[0].message


def test_an_extended_pagefind_installed_beside_it_is_not_used(tmp_path: Path, monkeypatch) -> None:
    # pagefind.service prefers pagefind_bin_extended when it is importable (a site that also
    # builds with Hugo has it): piasite keeps to the plain binary it depends on, whose index
    # the tests and the search page are made for.
    import sys
    import types

    fake = types.ModuleType("pagefind_bin_extended")
    fake.get_executable = lambda: Path("/bin/false")
    monkeypatch.setitem(sys.modules, "pagefind_bin_extended", fake)
    monkeypatch.delenv("PAGEFIND_BINARY_PATH", raising=False)
    (tmp_path / "index.html").write_text('<html lang="ja"><body><main data-search=\'{"kind": "x"}\'>'
                                         "<p>中間サーバー</p></main></body></html>", encoding="utf-8")
    assert index.executable().stem == "pagefind"
    assert index.index_site(tmp_path).diagnostics == []
    assert len(_manifest(tmp_path)["pages"]) == 1


def test_a_site_with_nothing_searchable_still_gets_an_index(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<html lang="ja"><body><main><h1>中間サーバー</h1>'
                                         "</main></body></html>", encoding="utf-8")
    assert index.index_site(tmp_path).diagnostics == []
    assert index.entry_ok(tmp_path / "pagefind")
    assert _manifest(tmp_path)["pages"] == {}


def test_empty_entry_file_is_detected(tmp_path: Path) -> None:
    (tmp_path / "pagefind-entry.json").write_text("", encoding="utf-8")
    assert not index.entry_ok(tmp_path)
    (tmp_path / "pagefind-entry.json").write_text('{"languages": {"ja": {}}}', encoding="utf-8")
    assert index.entry_ok(tmp_path)


def test_a_cut_off_index_file_is_detected(tmp_path: Path) -> None:
    from piasite.index import bundle_problem

    (tmp_path / "pagefind-entry.json").write_text('{"languages": {"ja": {}}}', encoding="utf-8")
    (tmp_path / "pagefind.js").write_text("const a=1;export{a};\n", encoding="utf-8")
    import gzip

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


def test_pages_read_by_worker_processes_give_the_same_records(built_site: Path,
                                                              monkeypatch) -> None:
    """A cold build reads every page for its records on every core (index.Collected)."""
    from piasite import processes

    started = []

    class Spy(processes._Pool):
        def __init__(self, *args, **kwargs):
            started.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(processes, "_Pool", Spy)
    monkeypatch.setattr(index, "MIN_PAGES_FOR_WORKERS", 2)
    alone, together = index.Collected(built_site), index.Collected(built_site, jobs=2)
    assert started == [(2,)]
    assert together.found == alone.found and together.records() == alone.records()
    assert len(alone.found) > 40


def test_pages_read_by_worker_processes_go_straight_into_the_records_cache(
        built_site: Path, tmp_path: Path, monkeypatch) -> None:
    """With a records cache, the workers save the records themselves and send back only what
    the index plans with: the build does not hold the site's records (index.Collected)."""
    monkeypatch.setattr(index, "MIN_PAGES_FOR_WORKERS", 2)
    alone = index.Collected(built_site)
    cached = index.Collected(built_site, tmp_path, jobs=2)
    assert cached.fresh == {} and cached.found == alone.found
    records = cached.records()
    assert records == alone.records()
    assert cached.texts(records) == alone.texts(alone.records())
    again = index.Collected(built_site, tmp_path, jobs=2)  # nothing changed: nothing read
    assert again.fresh == {} and again.found == alone.found
    assert again.records() == records


def test_built_bundle_has_only_what_the_search_page_loads(built_site: Path) -> None:
    bundle = built_site / "pagefind"
    assert (bundle / "pagefind.js").is_file()
    leftovers = sorted(p.name for p in bundle.glob("pagefind-*ui*")) + sorted(
        p.name for p in bundle.glob("pagefind-[hw]*.js"))
    assert leftovers == []


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
        facts: li.querySelector('.search-facts').textContent,
        alias: [...li.querySelectorAll('.search-alias')].map(p => p.textContent),
        sections: [...li.querySelectorAll('.search-sections > li > a')].map(a => a.getAttribute('href')),
        marks: [...li.querySelectorAll('mark')].map(m => m.textContent),
    }))""")


def _urls(results: list[dict]) -> set[str]:
    return {r["url"] for r in results}


def _lands_on_the_match(site: Path, href: str, *words: str) -> bool:
    """The element a section link targets (for a heading, its section) holds a query word."""
    url, anchor = href.split("#")
    page = soup(site / url.strip("/") / "index.html")
    target = page.find(id=anchor)
    if target is None:
        return False
    if re.fullmatch(r"h[1-6]", target.name):
        target = target.parent
    return any(_form(w) in _fold(target.get_text()) for w in words)


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
@pytest.mark.parametrize("query", [
    "職員",  # also inside 教職員
    "クラウド", "パーティション",  # katakana the browser's segmenter cuts elsewhere
    "ガバメントクラウド", "監査", "施錠", "個人情報保護委員会", "電子申請", "USBメモリ",
    "標準準拠システム", "ＣＳ", "eLTAX",
    "ー・プラットフォーム",  # the page's ー after サーバ is a word's final ー, dropped
])
def test_every_page_containing_the_query_and_only_those(page: Any, site_url: str,
                                                        built_site: Path, query: str) -> None:
    results = _search(page, site_url, query)
    assert _urls(results) == _expected(built_site, query)
    assert "件" in page.inner_text("#search-status")
    for r in results:
        if not r["alias"]:
            assert all(_form(query) in _fold(m) or _fold(m) in _form(query) for m in r["marks"])
            for href in r["sections"]:
                assert _lands_on_the_match(built_site, href, query), href


@pytest.mark.browser
def test_a_word_inside_a_longer_word(page: Any, site_url: str, built_site: Path) -> None:
    inside = _containing(built_site, "教職員")
    assert inside and inside <= _urls(_search(page, site_url, "職員"))


@pytest.mark.browser
def test_alias_finds_the_pages_naming_the_system_otherwise_and_says_so(
        page: Any, site_url: str, built_site: Path) -> None:
    results = _search(page, site_url, "住基ネット")
    assert _urls(results) == _expected(built_site, "住基ネット")
    assert "/systems/juki-net/" in _urls(results)
    only_full = [r for r in results if r["url"] not in _containing(built_site, "住基ネット")]
    assert only_full, "every page says 住基ネット; the alias is not exercised"
    for r in only_full:
        assert r["alias"] and r["alias"][0].startswith("住基ネット（住民基本台帳ネットワーク")
        assert r["alias"][0].endswith("）として検索")
    assert not [r for r in results if r not in only_full and r["alias"]]
    assert "別名・正式名称も含めて" in page.inner_text("#search-status")


@pytest.mark.browser
def test_two_words_must_both_be_on_the_page(page: Any, site_url: str, built_site: Path) -> None:
    results = _search(page, site_url, "委託 クラウド")
    assert _urls(results) == _containing(built_site, "委託", "クラウド")
    assert _containing(built_site, "委託") - _urls(results), "no page has 委託 without クラウド"
    for r in results:  # the excerpts show both words
        assert {_fold(m) for m in r["marks"]} >= {"委託", "クラウド"}


@pytest.mark.browser
@pytest.mark.parametrize(("a", "b"), [("ＣＳ", "CS"), ("市町村ＣＳ", "市町村cs"),
                                      ("サーバ", "サーバー"), ("中間サーバ", "中間サーバー"),
                                      ("ｶﾞﾊﾞﾒﾝﾄ", "ガバメント")])
def test_width_case_and_long_vowel_variants_find_the_same(page: Any, site_url: str,
                                                          a: str, b: str) -> None:
    ra, rb = _search(page, site_url, a), _search(page, site_url, b)
    assert ra and _urls(ra) == _urls(rb)


@pytest.mark.browser
def test_a_query_that_matches_nothing_says_so(page: Any, site_url: str) -> None:
    assert _search(page, site_url, "存在しない語句ｘｙｚ") == []
    assert "：0件。" in page.inner_text("#search-status")
    assert page.locator("#search-results-section").is_hidden()
    assert _search(page, site_url, "・「」") == []
    assert "検索できる文字がありません" in page.inner_text("#search-status")


@pytest.mark.browser
def test_a_system_page_is_a_result(page: Any, site_url: str) -> None:
    results = _search(page, site_url, "地方公共団体情報システム機構")
    system = [r for r in results if r["url"] == "/systems/juki-net/"]
    assert system and system[0]["facts"] == "システム"


@pytest.mark.browser
def test_a_public_comment_page_is_a_result(page: Any, site_url: str, built_site: Path) -> None:
    results = _search(page, site_url, "ファクシミリ")
    take_part = [r for r in results if r["url"] == "/asahikawa/juki/2025-07-01/#take-part"]
    assert take_part and take_part[0]["facts"] == "意見募集"
    assert take_part[0]["sections"][0] == "/asahikawa/juki/2025-07-01/#take-part"
    results = _search(page, site_url, "取りまとめ中")
    assert "/asahikawa/juki/2025-07-01/results/" in _urls(results)


@pytest.mark.browser
def test_filter_narrows_results(page: Any, site_url: str, built_site: Path) -> None:
    everything = _search(page, site_url, "委託先")
    asahikawa = _search(page, site_url, "委託先", 団体="旭川市")
    assert _urls(everything) == _containing(built_site, "委託先")
    assert _urls(asahikawa) == {u for u in _urls(everything)
                                if "旭川市" in _searchable(built_site)[u]["filters"].get("団体", ["旭川市"])}
    assert page.locator("#search-filter-1").input_value() == "旭川市"
    # Choosing a filter in the form re-runs the search (keyboard: focus + select).
    page.locator("#search-filter-1").select_option("")
    n = len(everything)
    page.wait_for_function(f"/：{n}件/.test(document.getElementById('search-status').textContent)")
    # The first batch is shown; 次の結果を表示 moves focus to the first newly loaded result.
    assert page.locator("#search-results > li").count() == 2
    assert page.locator("#search-more").inner_text() == f"次の結果を表示（残り{n - 2}件）"
    page.locator("#search-more").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#search-results > li').length === 4")
    assert page.evaluate("document.activeElement.closest('li') === "
                         "document.querySelectorAll('#search-results > li')[2]")


@pytest.mark.browser
def test_a_filter_that_does_not_apply_does_not_hide_a_page(page: Any, site_url: str,
                                                           built_site: Path) -> None:
    results = _urls(_search(page, site_url, "住基ネット", 状態="案"))
    assert "/systems/juki-net/" in results  # a system has no 状態
    assert "/asahikawa/juki/2025-07-01/" in results  # a draft
    assert "/yatsushiro/juki/2025-07-11/" not in results  # in force: hidden by 状態=案
    # Listing by filters alone shows the pages that have the value.
    drafts = _search(page, site_url, "", 状態="案", 種類="評価書")
    assert _urls(drafts) == {"/asahikawa/juki/2025-07-01/", "/okayama/kojin-juminzei/2025-04-01/"}
    listed = _urls(_search(page, site_url, "", 状態="案"))
    assert not [u for u in listed if u.startswith("/systems/")]


@pytest.mark.browser
def test_normalisation_is_the_same_in_the_browser(page: Any, site_url: str) -> None:
    samples = ["ＣＳ", "ｶﾞﾊﾞﾒﾝﾄｸﾗｳﾄﾞ", "サーバー・プラットフォーム", "カ\u3099", "𠮷野家", "①②",
               "ＵＳＢメモリー", "ﾃﾞｰﾀ", "ユーザーデータ", "Ⅲ　第１条（※）", "İstanbul"]
    page.goto(f"{site_url}/search/")
    page.wait_for_selector("body[data-search-ready]")
    js = page.evaluate("async (xs) => { const m = await import('/static/search.js');"
                       " return xs.map((x) => m.norm(x)); }", samples)
    assert js == [index.normalise(s) for s in samples]


@pytest.mark.browser
def test_keyboard_search_announces_count_and_passes_axe(page: Any, site_url: str,
                                                        built_site: Path) -> None:
    page.goto(f"{site_url}/search/")
    page.wait_for_selector("body[data-search-ready]")
    assert page.locator("#search-nojs").is_hidden()
    live = page.locator("#search-status")
    assert live.get_attribute("aria-live") == "polite"
    page.locator("#search-q").focus()
    page.keyboard.type("委託先")
    page.keyboard.press("Enter")
    page.wait_for_function("/件/.test(document.getElementById('search-status').textContent)")
    assert live.inner_text() == f"「委託先」の検索結果：{len(_containing(built_site, '委託先'))}件"
    assert page.evaluate("location.search") == "?q=" + quote("委託先")
    # Tab from the field reaches the button, then the filters: nothing needs a mouse.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    violations = axe_violations(page, None)
    assert not violations, format_violations({page.url: violations})


@pytest.mark.browser
def test_search_page_with_results_is_valid_html(page: Any, site_url: str, tmp_path: Path) -> None:
    java = require_java()
    require_node_file(VNU_JAR)
    results = _search(page, site_url, "住基ネット", 状態="公表中")
    assert results
    shown = tmp_path / "search-with-results.html"
    shown.write_text(page.content(), encoding="utf-8")
    errors = nu_errors([shown], java=java)
    assert not errors, format_nu(errors, root=tmp_path)
    violations = axe_violations(page, None)
    assert not violations, format_violations({page.url: violations})


@pytest.mark.browser
def test_a_delta_index_finds_what_a_cold_build_finds(chromium: Any, tmp_path: Path,
                                                     monkeypatch) -> None:
    """After a small edit only the changed records are indexed (a delta beside the published
    index); a reader must get the same results, in the same order, as from a cold build."""
    from support.browser import serve_directory

    monkeypatch.setattr(index, "DELTA_SHARE", 1.0)
    munis = ("midori", "asahikawa")
    page_ = "content/midori/juki/2025-12-12.md"

    def edit(site: Path) -> None:
        p = site / page_
        p.write_text(p.read_text(encoding="utf-8").replace("市民課長", "戸籍住民課長"),
                     encoding="utf-8")

    sites = {}
    for name in ("delta", "cold"):
        site = copy_site(tmp_path / name, munis)
        if name == "delta":
            assert pipeline.build(site, site / "output", now="2025-11-22").wrote
        edit(site)
        assert pipeline.build(site, site / "output", now="2025-11-22").wrote
        sites[name] = site / "output"
    assert "bundles" in _manifest(sites["delta"]) and "bundles" not in _manifest(sites["cold"])
    queries = [("戸籍住民課長", {}), ("市民課長", {}), ("住基ネット", {}), ("みどり市", {}),
               ("委託", {"団体": "みどり市"}), ("", {"状態": "公表中"})]
    seen: dict[str, list] = {}
    for name, out in sites.items():
        context = chromium.new_context(locale="ja-JP")
        pg = context.new_page()
        with serve_directory(out) as url:
            seen[name] = [[r["url"] for r in _search(pg, url, q, **f)] for q, f in queries]
            seen[name].append(pg.locator("#search-filter-1 option").all_inner_texts())
        context.close()
    assert seen["delta"] == seen["cold"]
    assert seen["delta"][0] == ["/midori/juki/2025-12-12/"]
    assert "/midori/juki/2025-12-12/" not in seen["delta"][1]
    assert "みどり市（9件）" in seen["delta"][-1]
