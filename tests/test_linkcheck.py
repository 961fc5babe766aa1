"""Every internal link and #anchor resolves; a dangling one stops the build (E701)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import pytest
from helpers import REPO_ROOT, copy_site

from piasite import pipeline
from piasite.linkcheck import check_links

PAGE = PurePosixPath


def _html(body: str) -> bytes:
    return f'<!doctype html><html lang="ja"><body>{body}</body></html>'.encode()


def test_links_and_anchors_are_resolved_like_a_browser() -> None:
    files = {
        PAGE("index.html"): _html('<a href="/a/">a</a><a href="a/#x">x</a><a href="#top">top</a>'
                                  '<a href="https://example.org/none">ext</a><a href="mailto:x@example.jp">m</a>'
                                  '<script src="/pagefind/pagefind-ui.js"></script>'),
        PAGE("a/index.html"): _html('<h2 id="x">x</h2><a href="../">up</a><a href="b.json">j</a>'
                                    '<a href="#%E9%A0%85%E7%9B%AE">項目</a><p id="項目">p</p>'),
        PAGE("a/b.json"): b"{}",
    }
    assert check_links(files) == []


def test_every_way_to_write_an_id_or_a_link_is_read() -> None:
    """Case, quotes and entities as HTML allows them; tags with only other attributes (most
    of a page: a class, a scope) are passed over without changing what is found."""
    page = _html(
        '<p class="data-x" scope=row>t</p><DIV ID="Upper">u</DIV><p id=bare>b</p>'
        "<p id='single'>s</p><a name=\"old\">n</a><span name=\"not-an-anchor\">x</span>"
        '<p id="a&amp;b">e</p><td data-label="href">c</td>'
        '<a href="#Upper">1</a><A HREF="#nowhere">0</A><a href=#bare>2</a><a href=\'#single\'>3</a><a href="#old">4</a>'
        '<a href="#a&amp;b">5</a><img SRC="/a/pic.png" alt=""><form action="/a/">f</form>'
        '<a href="#not-an-anchor">6</a><img src="/gone.png" alt="">')
    files = {PAGE("index.html"): page, PAGE("a/index.html"): _html("<p>a</p>"),
             PAGE("a/pic.png"): b"png"}
    text = page.decode()
    nowhere, anchor, gone = (text.index(what) + 1 for what in (
        'HREF="#nowhere"', 'href="#not-an-anchor"', 'src="/gone.png"'))
    assert sorted(str(d) for d in check_links(files)) == sorted([
        f"index.html:1:{nowhere}: error[E701]: ページ「/」のリンク「#nowhere」の「#nowhere」"
        "がリンク先のページにありません",
        f"index.html:1:{anchor}: error[E701]: ページ「/」のリンク「#not-an-anchor」の"
        "「#not-an-anchor」がリンク先のページにありません",
        f"index.html:1:{gone}: error[E701]: ページ「/」のリンク「/gone.png」のリンク先の"
        "ページ・ファイルがありません",
    ])


def test_a_tag_that_recurs_is_placed_where_each_page_has_it() -> None:
    """Tags are read once and remembered (most recur from page to page): the same broken
    link at another place of another page is told at that place, and what was remembered
    is forgotten (the memory is bounded) without changing what is found."""
    from piasite import linkcheck

    files = {PAGE("index.html"): _html('<p id="x">x</p><a href="#gone">g</a>'),
             PAGE("a/index.html"): _html('\n<p>more text first</p>\n  <a href="#gone">g</a>'
                                         '<p id="x">x</p>')}
    # 1:56 is where the first page's href starts, 3:6 where the second's does.
    assert files[PAGE("index.html")].decode().index('href="#gone"') == 55
    want = ["a/index.html:3:6: error[E701]: ページ「/a/」のリンク「#gone」の「#gone」がリンク先のページにありません",
            "index.html:1:56: error[E701]: ページ「/」のリンク「#gone」の「#gone」がリンク先のページにありません"]
    linkcheck._read_tag.cache_clear()
    assert sorted(str(d) for d in check_links(files)) == want
    assert linkcheck._read_tag.cache_info().hits >= 2  # <p id="x"> and <a href="#gone">
    linkcheck._read_tag.cache_clear()
    assert sorted(str(d) for d in check_links(files)) == want
    assert linkcheck._read_tag.cache_info().maxsize == 20_000


def test_a_link_that_resolved_is_not_judged_again_where_it_means_the_same(monkeypatch) -> None:
    """Pages checked one by one with one memory, as the site-wide pages are: a link found to
    resolve (the menus' links repeat on every page) is not judged again, while a broken
    link beside it, and a relative link that means another file on another page, are."""
    from piasite import linkcheck

    files = {PAGE("a/index.html"): _html('<a href="/c/#x">c</a><a href="d/">d</a>'),
             PAGE("b/index.html"): _html('<a href="/c/#x">c</a><a href="/c/#x">again</a>'
                                         '<a href="/c/#y">y</a><a href="d/">d</a>'),
             PAGE("c/index.html"): _html('<p id="x">x</p>'),
             PAGE("a/d/index.html"): _html("<p>d</p>")}
    scans = {p: linkcheck.scan(p, data) for p, data in files.items()}
    names = {str(p): p for p in files}
    judged = []

    def judge(target, frag, ids_of):
        judged.append((str(target), frag))
        return real(target, frag, ids_of)

    real = linkcheck.judge
    monkeypatch.setattr(linkcheck, "judge", judge)
    memo: dict = {}
    found = [str(d) for p in (PAGE("a/index.html"), PAGE("b/index.html"))
             for d in linkcheck.check_scans({p: scans[p]}, names, lambda t: scans[t].ids, "",
                                            ({}, {}), memo=memo)[0]]
    assert judged == [("c/index.html", "x"), ("a/d/index.html", ""), ("c/index.html", "y"),
                      ("None", "")]
    text = files[PAGE("b/index.html")].decode()
    y, d = (text.index(what) + 1 for what in ('href="/c/#y"', 'href="d/"'))
    assert found == [
        f"b/index.html:1:{y}: error[E701]: ページ「/b/」のリンク「/c/#y」の「#y」がリンク先のページにありません",
        f"b/index.html:1:{d}: error[E701]: ページ「/b/」のリンク「d/」のリンク先のページ・ファイルがありません"]


def test_missing_page_and_missing_anchor_are_errors_with_position() -> None:
    files = {
        PAGE("index.html"): _html('<a href="/a/">a</a>\n<a href="/a/#nope">n</a>\n<a href="/gone/">g</a>'),
        PAGE("a/index.html"): _html('<h2 id="x">x</h2><a href="#y">y</a>'),
    }
    got = sorted(str(d) for d in check_links(files))
    assert got == [
        "a/index.html:1:58: error[E701]: ページ「/a/」のリンク「#y」の「#y」がリンク先のページにありません",
        "index.html:2:4: error[E701]: ページ「/」のリンク「/a/#nope」の「#nope」がリンク先のページにありません",
        "index.html:3:4: error[E701]: ページ「/」のリンク「/gone/」のリンク先のページ・ファイルがありません",
    ]


def test_bundled_site_has_no_dangling_link(built_site: Path) -> None:
    site = pipeline.load_checked(REPO_ROOT).site
    assert site is not None
    files = {PAGE(p.relative_to(built_site).as_posix()): p.read_bytes()
             for p in built_site.rglob("*") if p.is_file() and "pagefind" not in p.parts}
    assert sum(p.suffix == ".html" for p in files) > 60
    t0 = time.process_time()
    diags = check_links(files, site.public())
    elapsed = time.process_time() - t0
    assert [str(d) for d in diags] == []
    assert elapsed < 2.0, f"link check took {elapsed:.2f} s of CPU"


def _build(site: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site), "--out", str(out),
         "--now", "2026-01-15"],
        capture_output=True, text=True, encoding="utf-8", cwd=REPO_ROOT)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(tmp_path / "site")


def test_broken_anchor_template_stops_the_build(site: Path, tmp_path: Path) -> None:
    # A valid 変更箇所 `field`, but the template links to an anchor no item page carries.
    tpl = site / "themes/default/templates/changes.html"
    src = tpl.read_text(encoding="utf-8")
    assert '#{{ row.field }}"' in src
    tpl.write_text(src.replace('#{{ row.field }}"', '#item-{{ row.field }}"'), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("前回の出力", encoding="utf-8")
    proc = _build(site, out)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    # Reported at the 変更箇所 row whose link is broken, so staff can find it.
    m = re.search(r"^content/midori/juki/2025-12-12\.changes\.toml:(\d+):1: error\[E701\]: "
                  r"ページ「/midori/juki/changes/」のリンク「/midori/juki/2025-12-12/#item-I-1-3」"
                  r"の「#item-I-1-3」がリンク先のページにありません$", proc.stderr, re.M)
    assert m, proc.stderr
    rows = (site / "content/midori/juki/2025-12-12.changes.toml").read_text(encoding="utf-8").split("\n")
    row = rows[int(m[1]) - 1:]
    assert row[0] == "[[changes]]"
    assert 'field = "I-1-3"' in row[1:[*row[1:], "[[changes]]"].index("[[changes]]") + 1]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_dangling_link_in_body_text_names_the_version_file(site: Path, tmp_path: Path) -> None:
    rev = site / "content/midori/juki/2025-12-12.md"
    rev.write_text(rev.read_text(encoding="utf-8") + "\n[別の項目](#I-9-9) を参照。\n",
                   encoding="utf-8")
    proc = _build(site, tmp_path / "out")
    assert proc.returncode == 1, proc.stderr
    # Reported at the heading of the section the link was written in.
    section = max(i for i, line in enumerate(rev.read_text(encoding="utf-8").split("\n"), 1)
                  if line.startswith("## "))
    assert (f"content/midori/juki/2025-12-12.md:{section}:1: error[E701]: ページ「/midori/juki/2025-12-12/」"
            "のリンク「#I-9-9」の「#I-9-9」がリンク先のページにありません") in proc.stderr.splitlines()
    assert not (tmp_path / "out").exists()


def test_a_published_page_keeps_only_the_links_that_may_reach_a_moved_file() -> None:
    from piasite.linkcheck import Scan, reaching, urls_of

    urls = urls_of({"a/b/index.html", "gone.json"})
    assert urls == {"/a/b/index.html", "/a/b/", "/a/b", "/gone.json"}
    links = ["/a/b/#x", "/a/b", "/a/c/", "#top", "/gone.json", "../a/b/", "/a/%62/",
             "https://example.jp/a/b/", "https://site.example/a/b/#y", "mailto:x@example.jp",
             "//cdn.example/a/b/"]
    sc = Scan(PAGE("p/index.html"), frozenset(), tuple(enumerate(links)), "")
    kept = reaching(sc, urls, "https://site.example")
    assert kept is not None
    # Into a moved page, or not to be told without resolving it (relative, escaped).
    assert [raw for _, raw in kept.links] == [
        "/a/b/#x", "/a/b", "/gone.json", "../a/b/", "/a/%62/", "https://site.example/a/b/#y"]
    assert reaching(sc, urls_of({"other/index.html"}), "https://site.example").links == (
        (5, "../a/b/"), (6, "/a/%62/"))
    assert reaching(Scan(PAGE("q.html"), frozenset(), ((0, "/a/c/"),), ""), urls, "") is None


def test_what_a_page_links_to_is_told_once_and_answers_without_its_links() -> None:
    from piasite.linkcheck import Scan, reach, reaching, urls_of

    links = ((0, "/a/b/#x"), (1, "#top"), (2, "https://site.example/c/"), (3, "mailto:x@example.jp"))
    known = reach(links, "https://site.example")
    assert known.urls() == ["/a/b/", "/c/"] and not known.odd
    assert known.touches({"/c/"}) and not known.touches({"/a/"})
    assert not reach(((0, "#top"),), "").touches({"/", ""})  # no link out: never touches
    assert reach(((0, "../d/"),), "").odd and reach(((0, "/a/%62/"),), "").odd
    sc = Scan(PAGE("p/index.html"), frozenset(), links, "")
    assert reaching(sc, urls_of({"z/index.html"}), "https://site.example", known) is None
    kept = reaching(sc, urls_of({"c/index.html"}), "https://site.example", known)
    assert kept is not None and kept.links == ((2, "https://site.example/c/"),)


def test_site_wide_pages_are_checked_as_they_are_made(site: Path, tmp_path: Path) -> None:
    # The site-wide pages' links are checked as each page is made, so that none is held
    # until the end: the home page, made first, links into the accessibility page, made
    # last (its ids are known only then); that page links back into the home page.
    home = site / "themes/default/templates/home.html"
    added = ('<p><a href="/accessibility/#target">基準</a> <a href="/accessibility/#no-such">'
             '無し</a> <a href="/no-such-page/">無いページ</a></p>')
    home.write_text(home.read_text(encoding="utf-8").replace(
        "<h2>団体ごとの評価書</h2>", f"{added}\n<h2>団体ごとの評価書</h2>"), encoding="utf-8")
    a11y = site / "themes/default/templates/accessibility.html"
    a11y.write_text(a11y.read_text(encoding="utf-8").replace(
        "<h1>アクセシビリティ</h1>", '<h1>アクセシビリティ</h1>\n<p><a href="/#main">本文</a> '
        '<a href="/#no-home">無し</a></p>'), encoding="utf-8")
    out = tmp_path / "out"
    proc = _build(site, out)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    broken = sorted(line for line in proc.stderr.splitlines() if "error[E701]" in line)
    assert [re.sub(r":\d+:\d+:", ":L:C:", line) for line in broken] == [
        "accessibility/index.html:L:C: error[E701]: ページ「/accessibility/」のリンク「/#no-home」"
        "の「#no-home」がリンク先のページにありません",
        "index.html:L:C: error[E701]: ページ「/」のリンク「/accessibility/#no-such」"
        "の「#no-such」がリンク先のページにありません",
        "index.html:L:C: error[E701]: ページ「/」のリンク「/no-such-page/」"
        "のリンク先のページ・ファイルがありません"], proc.stderr
    # Each at the place of its link in the page: the two on the home page on one line, as
    # far apart as their href attributes.
    (row1, col1), (row2, col2) = [tuple(map(int, line.split(":")[1:3])) for line in broken[1:]]
    assert row1 == row2 and col2 - col1 == added.index('href="/no-such-page/"') - added.index(
        'href="/accessibility/#no-such"')
    assert not out.exists()
