"""Across municipalities: the systems registry's mentions, the overview of every assessment,
one item side by side, the links from an assessment's items, and the correspondence of items
between editions of a form (piasite/forms/families/, checked by `piasite check`).

Pages are read as a resident reads them: what the page says, and where its links lead.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest
from helpers import REPO_ROOT, copy_site, soup, text

from piasite import compare, pipeline, prefectures, render
from piasite.cache import SitePage
from piasite.compare import BLANK, LOST, STORE, UNKNOWN, EntryStore
from piasite.link import link
from piasite.load import load
from piasite.write import load_pickle

RESUB = "/compare/zenkoumoku/II-4-itaku-re-7/"

# 再委託の有無 of every 委託事項, in document order, as the bundled content writes them:
# content/asahikawa/juki/2025-07-01/ (the draft; the version in force is a reconstruction),
# content/okayama/kojin-juminzei/2025-04-01/index.md l.133–161,
# content/toyonaka/juki/2023-03-15/index.md (平成30年5月 edition).
RESUB_CHOICES = {
    "北海道旭川市": ["再委託しない", "再委託する", "再委託する", "再委託する", "再委託する",
                 "再委託しない", "再委託しない", "再委託する"],
    "岡山県岡山市": ["再委託する", "再委託しない", "再委託する"],
    "大阪府豊中市": ["再委託しない", "再委託する", "再委託しない", "再委託しない", "再委託する",
                 "再委託する"],
}


def _page(site: Path, url: str):
    path = urlsplit(url).path
    file = site / unquote(path).lstrip("/")
    if path.endswith("/"):
        file = file / "index.html"
    assert file.is_file(), f"{url} is not a page of the built site"
    return soup(file)


def _follow(site: Path, href: str):
    """The element a link points at: the page, and the #anchor on it."""
    parts = urlsplit(href)
    page = _page(site, parts.path)
    if not parts.fragment:
        return page
    el = page.find(id=unquote(parts.fragment))
    assert el is not None, f"{href}: no element with that id"
    # An item printed as a heading has its value in the section the heading opens.
    return el.find_parent("section") if el.name in ("h2", "h3", "h4", "h5", "h6") else el


# --- the systems registry -------------------------------------------------------------------


def test_platform_page_lists_every_assessment_that_names_it_with_working_item_links(built_site):
    page = _page(built_site, "/systems/chukan-server-platform/")
    assert "まだ掲載していません" not in text(page.find(id="mentions").find_next("p"))
    groups = page.select("section.mention-group")
    names = [text(g.find("h3")) for g in groups]
    for muni in ("北海道旭川市", "岡山県岡山市", "大阪府豊中市", "熊本県八代市"):
        assert any(n.startswith(muni) for n in names), (muni, names)
    for g in groups:
        items = g.select("ul.mentions > li")
        assert items
        for li in items:
            link = li.find("a")
            assert "/#" in link["href"], link["href"]
            target = _follow(built_site, link["href"])
            # The quoted name is really written in the item the link leads to.
            written = li.find("mark").get_text()
            assert written.replace("･", "・").startswith("中間サーバ")
            assert written in target.get_text(), (link["href"], written)


def test_registry_counts_listing_and_mentioning_assessments_apart(built_site):
    page = _page(built_site, "/systems/")
    head = [text(th) for th in page.find("table").select("thead th")]
    assert head[-2:] == ["一覧に記載", "本文で言及"]
    rows = {text(tr.find("th")): [text(td) for td in tr.find_all("td")]
            for tr in page.select("tbody tr")}
    assert rows["中間サーバー・プラットフォーム"][-2:] == ["0件", "4件"]
    assert rows["ガバメントクラウド"][-1] == "2件"
    # A generic local name is not searched in free text, and the page says so.
    assert rows["宛名管理システム"][-1] == "対象外"


def test_a_longer_unlinked_name_is_not_a_mention_of_the_shorter_one():
    site, _ = load(REPO_ROOT)
    index, _ = link(site)
    found = [slug for _, _, slug in index.find_mentions("中間サーバコネクタを経由して中間サーバーへ")]
    assert found == ["chukan-server"]  # only the second name, not the 中間サーバ in the first
    found = [slug for _, _, slug in
             index.find_mentions("中間サーバー・プラットフォーム上の中間サーバー")]
    assert found == ["chukan-server-platform", "chukan-server"]
    platform = {(m.muni, m.anchor) for m in index.mentions["chukan-server-platform"]}
    server = {(m.muni, m.anchor) for m in index.mentions["chukan-server"]}
    # 旭川市's system 3 is named 中間サーバコネクタ: neither its name nor that system count.
    assert ("asahikawa", "I-2-sys-chukan-connector-1") not in server
    assert all(m.written.startswith("中間サーバ") for m in index.mentions["chukan-server"])
    assert platform and server


def test_the_connector_is_not_linked_as_the_middle_server(built_site):
    page = _page(built_site, "/asahikawa/juki/2025-07-01/")
    name = page.find(id="I-2-sys-chukan-connector-1")
    assert "中間サーバコネクタ" in text(name)
    assert name.find("a", class_="system-mention") is None


# --- the overview ---------------------------------------------------------------------------


def test_overview_has_a_row_per_assessment_and_tells_absent_from_blank(built_site):
    site, _ = load(REPO_ROOT)
    page = _page(built_site, "/compare/")
    table = page.find("table", class_="overview")
    region = table.find_parent("div")
    assert region["role"] == "region" and region["tabindex"] == "0"
    assert region["aria-labelledby"] == table.caption["id"]
    rows = table.select("tbody tr")
    expected = [(m.full_name, a.name) for m in site.municipalities for a in m.affairs]
    assert [(text(r.find("th")), text(r.find("td"))) for r in rows] == expected
    head = [text(th) for th in table.select("thead th")]
    cells = {text(r.find("th")): dict(zip(head[1:], [text(td) for td in r.find_all("td")],
                                          strict=True)) for r in rows}
    # みどり市 (基礎項目評価書) has no 委託の件数 in its form; 豊中市 wrote no 公表日.
    assert cells["群馬県みどり市"]["委託の件数"] == "様式にない項目"
    assert cells["群馬県みどり市"]["取扱者数（500人以上か）"] == "500人未満"
    assert cells["大阪府豊中市"]["最新の公表版の公表日"].startswith("記載なし")
    assert cells["岡山県岡山市"]["最新の公表版の公表日"] == "公表版なし（案のみ）"
    assert cells["岡山県岡山市"]["重大事故の発生"].startswith("発生あり")
    assert cells["岡山県岡山市"]["システムの数"] == "10件"
    assert cells["熊本県八代市"]["提供・移転の件数"].startswith("提供を行っている（57）件、移転を行っている（16）件")
    # Every value links to the item it comes from, and that item says the same.
    for r in rows:
        for a in r.select("td a[href*='#']"):
            target = _follow(built_site, a["href"])
            if a.get_text().endswith("件") and "システム" in text(target)[:40]:
                continue  # システムの数 is counted by the site, not written
            if a.get_text() in (BLANK, UNKNOWN, LOST):
                # No value: the item itself says it is blank, unknown or lost.
                assert target.select(".blank, .absent"), a["href"]
            else:
                assert a.get_text().split("（")[0] in text(target), a["href"]


def test_overview_csv_has_the_same_rows(built_site):
    raw = (built_site / "compare" / "overview.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    page = _page(built_site, "/compare/")
    assert len(rows) - 1 == len(page.select("table.overview tbody tr"))
    by_muni = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_muni["群馬県みどり市"]["委託の件数"] == "様式にない項目"
    assert by_muni["岡山県岡山市"]["全国地方公共団体コード"] == "331007"


# --- one item side by side ------------------------------------------------------------------


def test_resubcontracting_shows_each_city_with_its_actual_choices(built_site):
    page = _page(built_site, RESUB)
    assert text(page.find("h1")).endswith("⑦ 再委託の有無 ※")
    expected = dict(RESUB_CHOICES)
    for block in page.select("section.compare-col"):
        muni = text(block.find("h3").find("span"))
        values = [text(e.select_one("p.selected")) for e in block.select(".compare-entry")]
        assert values == expected.pop(muni), muni
        for e in block.select(".compare-entry"):
            target = _follow(built_site, e.select_one("p.row-ref a")["href"])
            assert text(target.select_one("p.selected")) == text(e.select_one("p.selected"))
    assert not expected, f"missing: {list(expected)}"


def test_resubcontracting_counts_each_choice_with_who_chose_it(built_site):
    page = _page(built_site, RESUB)
    table = page.find("table", class_="counts")
    assert table.caption and table.find_parent("div")["role"] == "region"
    rows = {text(tr.find("th")): [text(td) for td in tr.find_all("td")]
            for tr in table.select("tbody tr")}
    assert rows["再委託する"][0] == "10件" and rows["再委託しない"][0] == "7件"
    assert "岡山県岡山市 個人住民税に関する課税事務 全項目評価書 （2か所）" in rows["再委託する"][1]
    for a in table.select("a"):
        assert page.find(id=a["href"][1:]) is not None


def test_comparison_json_holds_the_same_entries(built_site):
    data = json.loads((built_site / "compare/zenkoumoku/II-4-itaku-re-7.json").read_text("utf-8"))
    assert data["item"] == "II-4-itaku-re-7" and data["kind"] == "select"
    values = {a["municipality"]["name"]: [e["value"] for e in a["entries"]]
              for a in data["assessments"]}
    assert values["岡山県岡山市"] == ["再委託する", "再委託しない", "再委託する"]
    assert values["大阪府豊中市"][1] == "再委託する"
    assert {c["choice"]: c["entries"] for c in data["choices"]} == {"再委託する": 10, "再委託しない": 7}


def test_a_text_item_is_compared_as_written(built_site):
    page = _page(built_site, "/compare/zenkoumoku/II-6-1/")  # ① 保管場所
    blocks = page.select("section.compare-col")
    assert len(blocks) == 3
    assert page.find("table", class_="counts") is None  # free text is not counted
    toyonaka = next(b for b in blocks if "豊中市" in text(b.find("h3")))
    assert "平成30年5月" in text(toyonaka.select_one("p.status"))


def test_family_page_lists_every_compared_item(built_site):
    page = _page(built_site, "/compare/zenkoumoku/")
    links = [a["href"] for a in page.select("ul.item-list a")]
    assert RESUB in links and "/compare/zenkoumoku/I-1-3/" in links
    assert not any("II-5-teikyo-list" in h for h in links)  # tables are not compared
    for h in links:
        assert (built_site / h.lstrip("/") / "index.html").is_file(), h


def test_every_item_of_a_compared_form_links_to_its_comparison(built_site):
    page = _page(built_site, "/toyonaka/juki/2023-03-15/")
    item = page.find(id="II-juki-4-itaku-chonai-renkei-hoshu-re-7")
    link = item.select_one("p.cmp a")
    assert text(link) == "他の団体の同じ項目" and link["href"] == RESUB
    # A checkbox item and a heading-style item get one as well.
    assert page.find(id="III-juki-4-none").find_next_sibling("p", class_="cmp") is not None
    assert page.select_one("p.cmp")["data-search-ignore"] is not None
    # No comparison exists for a form only one municipality uses: no link either.
    assert not _page(built_site, "/midori/juki/2025-12-12/").select("p.cmp")
    assert not _page(built_site, "/yatsushiro/juki/2025-07-11/").select("p.cmp")


# --- the correspondence between editions -----------------------------------------------------


def test_shipped_correspondence_is_complete():
    site, diags = load(REPO_ROOT)
    assert not [d for d in diags if d.code in ("E121", "E122", "W123")]
    fam = site.families["zenkoumoku"]
    assert fam.canonical == "zenkoumoku-r6-10"
    assert fam.item_for("zenkoumoku-h30-05", "II-4-itaku-re-7") == "II-4-itaku-re-7"
    assert fam.item_for("zenkoumoku-h30-05", "A3") is None


def _zenkoumoku_site(tmp_path: Path, family: str) -> Path:
    site = copy_site(tmp_path / "site", ("okayama", "toyonaka"))
    (site / "forms" / "families").mkdir(parents=True)
    (site / "forms" / "families" / "zenkoumoku.toml").write_text(family, encoding="utf-8")
    return site


def test_an_unknown_item_in_a_site_correspondence_is_an_error_with_its_position(tmp_path):
    site = _zenkoumoku_site(tmp_path, '[family]\ncanonical = "zenkoumoku-r6-10"\n\n'
                            '[map."zenkoumoku-h30-05"]\nA3 = ""\nII-9-9 = "II-6-1"\n'
                            'II-6-1 = "II-6-99"\n')
    result = pipeline.check(site)
    lines = [str(d) for d in result.diagnostics if d.code == "E122"]
    assert lines == [
        "forms/families/zenkoumoku.toml:6:1: error[E122]: 様式「zenkoumoku-h30-05」に値の項目「II-9-9」はありません",
        "forms/families/zenkoumoku.toml:7:1: error[E122]: 基準の様式「zenkoumoku-r6-10」に値の項目「II-6-99」はありません",
    ]
    assert not result.ok


def test_a_correspondence_of_the_wrong_shape_is_diagnosed_by_the_schema(tmp_path):
    site = _zenkoumoku_site(tmp_path, '[family]\ncanonical = 3\ncanonicl = "x"\n\n'
                            '[map]\n"zenkoumoku-h30-05" = "A3"\n')
    lines = [str(d) for d in pipeline.check(site).diagnostics
             if str(d.span.path) == "forms/families/zenkoumoku.toml"]
    assert lines == [
        "forms/families/zenkoumoku.toml:2:1: error[E102]: 「family.canonical」は文字列で書いてください（整数が書かれています）",
        "forms/families/zenkoumoku.toml:3:1: error[E101]: 不明なキー「family.canonicl」です",
        "forms/families/zenkoumoku.toml:6:1: error[E102]: 「map.zenkoumoku-h30-05」は表（テーブル）で書いてください（文字列が書かれています）",
    ]


def test_an_unknown_canonical_form_is_an_error(tmp_path):
    site = _zenkoumoku_site(tmp_path, '[family]\ncanonical = "zenkoumoku-r9-01"\n')
    lines = [str(d) for d in pipeline.check(site).diagnostics if d.code == "E121"]
    assert lines and lines[0].startswith("forms/families/zenkoumoku.toml:2:1: error[E121]:")


def test_an_item_without_counterpart_is_named_by_the_check(tmp_path):
    # Without `A3 = ""` the older edition's 別添３ has no counterpart: W123 says which.
    site = _zenkoumoku_site(tmp_path, '[family]\ncanonical = "zenkoumoku-r6-10"\n')
    warns = [d for d in pipeline.check(site).diagnostics if d.code == "W123"]
    assert len(warns) == 1 and "A3" in warns[0].message


def test_a_site_correspondence_decides_what_is_compared(tmp_path_factory):
    # 豊中市's 再委託の有無 declared as having no counterpart: the comparison then lists it
    # among the assessments whose form lacks the item, and its page no longer links there.
    site = _zenkoumoku_site(tmp_path_factory.mktemp("fam"),
                            '[family]\ncanonical = "zenkoumoku-r6-10"\n\n'
                            '[map."zenkoumoku-h30-05"]\nA3 = ""\n"II-4-itaku-re-7" = ""\n')
    out = site / "output"
    result = pipeline.build(site, out, now="2025-11-22")
    assert result.wrote, [str(d) for d in result.diagnostics if d.severity.value == "error"]
    page = _page(out, RESUB)
    assert [text(b.find("h3").find("span")) for b in page.select("section.compare-col")] == ["岡山県岡山市"]
    assert "大阪府豊中市" in text(page.find("h2", string="この項目が様式にない評価書").find_next("ul"))
    toyonaka = _page(out, "/toyonaka/juki/2023-03-15/")
    assert toyonaka.find(id="II-juki-4-itaku-chonai-renkei-hoshu-re-7").select_one("p.cmp") is None
    shutil.rmtree(out)


def test_item_pages_made_by_worker_processes_are_the_same_bytes(tmp_path, monkeypatch):
    # The comparison item pages, most of the site-wide work, are made by the build's worker
    # processes (pipeline._site_pages); what they make must be what this process makes.
    one = copy_site(tmp_path / "one", ("midori", "yatsushiro", "asahikawa", "okayama", "toyonaka"))
    two = copy_site(tmp_path / "two", ("midori", "yatsushiro", "asahikawa", "okayama", "toyonaka"))
    batches: list[int] = []
    real = pipeline.items_in_workers

    def spy(settings, sent, jobs, *shared):
        batches.append(len(sent))
        return real(settings, sent, jobs, *shared)

    monkeypatch.setattr(pipeline, "items_in_workers", spy)
    assert pipeline.build(one, one / "output", now="2025-11-22", jobs=1).wrote
    assert batches == []
    assert pipeline.build(two, two / "output", now="2025-11-22", jobs=2).wrote
    assert batches and batches[0] > 1

    def files(out: Path) -> dict[str, bytes]:
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file() and "pagefind" not in p.parts}

    made, here = files(two / "output"), files(one / "output")
    assert made == here
    assert sum(k.startswith("compare/") and k.endswith(".json") for k in made) > 50

    def checked(site: Path) -> dict[str, tuple]:
        """The ids and links the link check was given of each item page (the site cache
        keeps them): the workers write the files and send back only these."""
        rows = load_pickle(site / ".piasite-cache" / "site.pickle")[2]
        blobs = EntryStore(site / ".piasite-cache" / STORE)
        pages = {p: SitePage.of_row(row) for p, row in rows.items()}
        return {p: (page.ids, blobs.unpack(page.links)) for p, page in pages.items()
                if p.startswith("compare/")}

    by_workers = checked(two)
    assert by_workers == checked(one)
    assert sum(bool(links) for _, links in by_workers.values()) > 50


def _mentioning(site: Path) -> list[str]:
    page = _page(site / "output", "/systems/chukan-server-platform/")
    return [text(g.find("h3")) for g in page.select("section.mention-group")
            if g.select("ul.mentions > li")]


def test_entries_go_into_the_store_where_the_assessment_is_built(tmp_path, monkeypatch):
    # A worker adds its assessment's comparison entries, system mentions and outbound links to
    # the build's store and sends the result back without them (240 + 90 + 45 MB at 1,000
    # versions the parent need not hold); the item and system pages still show every
    # assessment's.
    munis = ("midori", "yatsushiro", "asahikawa", "okayama", "toyonaka")
    site = copy_site(tmp_path / "site", munis)
    carried: list[bool] = []
    real = pipeline.SiteSummary.assemble

    def spy(municipalities, summaries, *args):
        summaries = list(summaries)
        carried.extend(bool(s.compare.entries) for s in summaries if s.compare is not None)
        carried.extend(bool(s.blobs) for s in summaries)
        return real(municipalities, summaries, *args)

    monkeypatch.setattr(pipeline.SiteSummary, "assemble", spy)
    real_assessments = pipeline._assessments

    def results(*args):
        got, keys = real_assessments(*args)
        carried.extend(bool(r.blobs) for r in got)  # the links, in the store too
        return got, keys

    monkeypatch.setattr(pipeline, "_assessments", results)
    assert pipeline.build(site, site / "output", now="2025-11-22", jobs=2).wrote
    assert carried and not any(carried)
    page = _page(site / "output", RESUB)
    assert len(page.select("section.compare-col")) >= 2
    names = _mentioning(site)
    for muni in ("北海道旭川市", "岡山県岡山市", "大阪府豊中市", "熊本県八代市"):
        assert any(n.startswith(muni) for n in names), (muni, names)
    # Made again from the summaries the build cache kept (no mentions in them): the same.
    before = (site / "output/systems/chukan-server-platform/index.html").read_bytes()
    (site / ".piasite-cache" / "site.pickle").unlink()
    (site / "output/systems/chukan-server-platform/index.html").unlink()
    res = pipeline.build(site, site / "output", now="2025-11-22", jobs=2)
    assert res.reused == len(munis)  # every assessment from the cache
    assert (site / "output/systems/chukan-server-platform/index.html").read_bytes() == before


# --- a national site: an item's comparison split by prefecture --------------------------------

# What the split site's 再委託の有無 holds per prefecture (JIS X 0401 order): assessments,
# entries, and each choice's count in the form's order — RESUB_CHOICES with 岡山県 twice (岡山市 and its copy).
RESUB_PARTS = [("北海道", 1, 8, {"再委託する": 5, "再委託しない": 3}),
               ("大阪府", 1, 6, {"再委託する": 3, "再委託しない": 3}),
               ("岡山県", 2, 6, {"再委託する": 4, "再委託しない": 2})]


def _split_site(root: Path, munis: tuple[str, ...] = ("asahikawa", "okayama", "toyonaka")
                ) -> Path:
    """Bundled municipalities (the 全項目評価書 of three prefectures), and a second 岡山県
    municipality: a copy of 岡山市 as 倉敷市 (its real code, 332020)."""
    site = copy_site(root, munis)
    shutil.copytree(site / "content/okayama", site / "content/kurashiki")
    toml = site / "content/kurashiki/_municipality.toml"
    toml.write_text(toml.read_text("utf-8").replace('"岡山市"', '"倉敷市"')
                    .replace('"331007"', '"332020"').replace("岡山県岡山市長", "岡山県倉敷市長"),
                    "utf-8")
    return site


def _counts(table) -> dict[str, list[str]]:
    return {text(tr.find("th")): [text(td) for td in tr.find_all("td")]
            for tr in table.select("tbody tr")}


def test_a_large_comparison_is_split_into_one_page_per_prefecture(tmp_path, monkeypatch):
    # Past ITEM_PAGE_MAX assessments an item's page counts and lists the prefectures; each
    # prefecture's page shows its assessments' entries as an unsplit comparison does.
    monkeypatch.setattr(compare, "ITEM_PAGE_MAX", 3)
    site = _split_site(tmp_path / "site")
    out = site / "output"
    assert pipeline.build(site, out, now="2025-11-22", jobs=1).wrote
    page = _page(out, RESUB)
    assert not page.select("section.compare-col")
    assert "4件の評価書の記載（" in text(page.find("main").find("p"))
    counts = _counts(page.find("table", class_="counts"))
    assert counts == {"再委託する": ["12件", "4件"], "再委託しない": ["8件", "4件"]}
    table = page.find("table", class_="parts")
    assert table.caption and table.find_parent("div")["role"] == "region"
    rows = table.select("tbody tr")
    assert [text(tr.find("th")) for tr in rows] == [p[0] for p in RESUB_PARTS]
    data = json.loads((out / "compare/zenkoumoku/II-4-itaku-re-7.json").read_text("utf-8"))
    assert "assessments" not in data and len(data["parts"]) == 3
    for tr, part, (name, n_assess, n_entries, chosen) in zip(rows, data["parts"], RESUB_PARTS,
                                                             strict=True):
        cells = [text(td) for td in tr.find_all("td")]
        assert cells[:2] == [f"{n_assess}件", f"{n_entries}か所"], name
        assert cells[2] == " ".join(f"{c} {n}件" for c, n in chosen.items()), name
        assert (part["prefecture"]["name"], part["assessments"], part["entries"]) == (
            name, n_assess, n_entries)
        href = tr.find("a")["href"]
        assert part["url"].endswith(href)
        sub = _page(out, href)
        assert text(sub.find("h1")).endswith(f"⑦ 再委託の有無 ※（{name}）")
        blocks = sub.select("section.compare-col")
        assert len(blocks) == n_assess
        for block in blocks:
            muni = text(block.find("h3").find("span"))
            assert muni.startswith(name)
            values = [text(e.select_one("p.selected")) for e in block.select(".compare-entry")]
            assert values == RESUB_CHOICES[muni.replace("倉敷市", "岡山市")], muni
        assert _counts(sub.find("table", class_="counts")).keys() == chosen.keys()
        for a in sub.select("table.counts a"):
            assert sub.find(id=a["href"][1:]) is not None
        # Back to the whole comparison: by the text and by the breadcrumbs.
        assert sub.find("a", string="この項目の比較（全国）")["href"] == RESUB
        assert RESUB in [a["href"] for a in sub.select("nav a")]
        one = _json(out, part["data"])
        assert one["prefecture"]["name"] == name and one["whole"].endswith(
            "/compare/zenkoumoku/II-4-itaku-re-7.json")
        assert sum(len(a["entries"]) for a in one["assessments"]) == n_entries
        assert {c["choice"]: c["entries"] for c in one["choices"] if c["entries"]} == chosen


def _json(out: Path, url: str) -> dict:
    return json.loads((out / urlsplit(url).path.lstrip("/")).read_text("utf-8"))


def _built_split_site(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """The split site (`_split_site`, items split past 3 assessments), built once."""
    monkeypatch.setattr(compare, "ITEM_PAGE_MAX", 3)
    site = _split_site(tmp_path / "site")
    out = site / "output"
    assert pipeline.build(site, out, now="2025-11-22", jobs=1).wrote
    return site, out


def test_an_edit_remakes_only_its_own_prefectures_page(tmp_path, monkeypatch):
    site, out = _built_split_site(tmp_path, monkeypatch)
    made: list[str] = []
    real = render.item_file

    def spy(r, spec, view):
        made.append(spec.url)
        return real(r, spec, view)

    monkeypatch.setattr(render, "item_file", spy)
    index = site / "content/kurashiki/kojin-juminzei/2025-04-01/index.md"
    body = index.read_text("utf-8")
    index.write_text(body.replace('has = "再委託しない"', 'has = "再委託する"', 1), "utf-8")
    assert pipeline.build(site, out, now="2025-11-22", jobs=1).wrote
    resub = [u for u in made if u.startswith(RESUB.rstrip("/"))]
    assert sorted(resub) == sorted([RESUB, RESUB.rstrip("/") + ".json",
                                    RESUB + "okayama/", RESUB + "okayama.json"])
    block = _page(out, RESUB + "okayama/").find(id="a-kurashiki-kojin-juminzei")
    assert [text(p) for p in block.select("p.selected")] == ["再委託する"] * 3


def test_an_items_files_are_taken_whole_unless_one_of_them_is_not_as_published(
        tmp_path, monkeypatch):
    # A rebuild does not even plan the files of an item whose entries did not change (a
    # national site has a hundred thousand); one of them gone from output/ is made again.
    site, out = _built_split_site(tmp_path, monkeypatch)
    planned: list[str] = []
    real = render._item_jobs

    def spy(jobs, **kw):
        planned.append(kw["n"].id)
        return real(jobs, **kw)

    monkeypatch.setattr(render, "_item_jobs", spy)
    assert pipeline.build(site, out, now="2025-11-22", jobs=1).unchanged
    assert planned == []
    part = out / "compare/zenkoumoku/II-4-itaku-re-7/okayama/index.html"
    before = part.read_bytes()
    part.unlink()
    result = pipeline.build(site, out, now="2025-11-22", jobs=1)
    assert result.wrote and result.changed == {"compare/zenkoumoku/II-4-itaku-re-7/okayama/index.html"}
    assert planned == ["II-4-itaku-re-7"] and part.read_bytes() == before


def test_a_prefecture_whose_forms_lack_the_item_still_names_them(tmp_path, monkeypatch):
    # 豊中市's edition declared without 再委託の有無: 大阪府 has no entry, and its page lists
    # 豊中市 among the assessments whose form lacks the item. Made by worker processes.
    monkeypatch.setattr(compare, "ITEM_PAGE_MAX", 3)
    site = _split_site(tmp_path / "site")
    (site / "forms" / "families").mkdir(parents=True)
    (site / "forms" / "families" / "zenkoumoku.toml").write_text(
        '[family]\ncanonical = "zenkoumoku-r6-10"\n\n'
        '[map."zenkoumoku-h30-05"]\nA3 = ""\n"II-4-itaku-re-7" = ""\n', encoding="utf-8")
    out = site / "output"
    assert pipeline.build(site, out, now="2025-11-22", jobs=2).wrote
    page = _page(out, RESUB)
    heads = [text(th) for th in page.select("table.parts thead th")]
    assert heads[-1] == "この項目が様式にない評価書"
    rows = _counts(page.find("table", class_="parts"))
    assert rows["大阪府"] == ["0件", "0か所", "—", "1件"] and rows["岡山県"][-1] == "0件"
    osaka = _page(out, RESUB + "osaka/")
    assert not osaka.select("section.compare-col")
    missing = osaka.find("h2", string="この項目が様式にない評価書").find_next("ul")
    assert text(missing).startswith("大阪府豊中市")
    assert _json(out, RESUB.rstrip("/") + "/osaka.json")["not_in_form"][0]["municipality"] == "大阪府豊中市"


def test_split_only_past_one_page_and_across_prefectures(monkeypatch):
    monkeypatch.setattr(compare, "ITEM_PAGE_MAX", 3)

    def at(*prefs):
        return tuple(SimpleNamespace(pref=prefectures.of(code, name)) for code, name in prefs)

    okayama, osaka = ("331007", "岡山県"), ("272035", "大阪府")
    assert compare.split_by_prefecture(at(okayama, osaka, okayama)) == ()  # fits one page
    assert compare.split_by_prefecture(at(*[okayama] * 5)) == ()  # one prefecture: no split
    parts = compare.split_by_prefecture(at(okayama, ("", "どこか"), osaka, okayama))
    # JIS X 0401 order (大阪府 27, 岡山県 33); no code and no prefecture's name: last.
    assert [(p.pref.name, p.members) for p in parts] == [
        ("大阪府", (2,)), ("岡山県", (0, 3)), ("都道府県不明", (1,))]
    # The code decides, not the written name (W205 flags the difference).
    assert prefectures.of("331007", "大阪府").slug == "okayama"


@pytest.fixture(scope="module")
def large_site(tmp_path_factory) -> Path:
    """Every bundled municipality and 倉敷市 (_split_site), built as a large site would be
    (ONE_PAGE_MAX and ITEM_PAGE_MAX lowered to 2): its output folder."""
    site = _split_site(tmp_path_factory.mktemp("large"), ("midori", "yatsushiro", "asahikawa",
                                                          "okayama", "toyonaka"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prefectures, "ONE_PAGE_MAX", 2)
        mp.setattr(compare, "ITEM_PAGE_MAX", 2)
        assert pipeline.build(site, site / "output", now="2025-11-22", jobs=1).wrote
    return site / "output"


LARGE_PREFECTURES = ["北海道", "群馬県", "大阪府", "岡山県", "熊本県"]


def test_a_large_system_page_is_split_into_one_page_per_prefecture(large_site, built_site):
    # Past ONE_PAGE_MAX assessments listing or naming it, a system's page lists the
    # prefectures; each prefecture's page has its assessments' rows and mentions, and
    # together they hold every row and mention of the unsplit page.
    out = large_site
    url = "/systems/juki-net/"
    page = _page(out, url)
    assert page.find(id="mentions") is not None  # where /systems/ links to
    assert not page.select("section.mention-group") and not page.select("table:not(.parts)")
    rows = page.select("table.parts tbody tr")
    assert [text(tr.find("th")) for tr in rows] == LARGE_PREFECTURES
    whole = _page(built_site, url)  # the bundled site, unsplit: the same five and no 倉敷市
    groups, uses = [], []
    for tr in rows:
        name = text(tr.find("th"))
        sub = _page(out, tr.find("a")["href"])
        assert text(sub.find("h1")) == f"住民基本台帳ネットワークシステム（{name}）"
        assert sub.find("a", string="住民基本台帳ネットワークシステムのページ")["href"] == url
        assert sub.find(attrs={"data-search": True}) is None  # the system's page is searched
        mine = [text(g.find("h3")) for g in sub.select("section.mention-group")]
        listed = sub.select("table tbody tr")
        assessments = {tuple(text(td) for td in r.find_all("td")[:2]) for r in listed}
        assert all(n.startswith(name) for n in mine + [m for m, _ in assessments]), name
        assert [text(td) for td in tr.find_all("td")] == [f"{len(assessments)}件",
                                                          f"{len(mine)}件"]
        groups += [g for g in mine if "倉敷市" not in g]
        uses += [text(r) for r in listed if "倉敷市" not in text(r)]
        for a in sub.select("ul.mentions a"):
            _follow(out, a["href"])
    assert sorted(groups) == sorted(text(g.find("h3")) for g in whole.select("section.mention-group"))
    assert sorted(uses) == sorted(text(r) for r in whole.select("table tbody tr"))


def test_a_large_overview_is_split_into_one_page_per_prefecture(large_site, built_site):
    page = _page(large_site, "/compare/")
    assert not page.select("table.overview")
    rows = page.select("table.parts tbody tr")
    assert [text(tr.find("th")) for tr in rows] == LARGE_PREFECTURES
    assert [text(tr.find("td")) for tr in rows] == ["1件", "1件", "1件", "2件", "1件"]
    assert page.find("a", href="/compare/zenkoumoku/") is not None  # the items' comparisons
    # The family's page no longer lists every assessment: the prefectures' pages do.
    family = _page(large_site, "/compare/zenkoumoku/")
    intro = family.find("main").find("p")
    assert "4件の評価書" in text(intro) and intro.find("a")["href"] == "/compare/"
    assert not family.select("main ul:not(.item-list)")
    assert family.select("ul.item-list a")
    listed = []
    for tr in rows:
        name = text(tr.find("th"))
        sub = _page(large_site, tr.find("a")["href"])
        assert text(sub.find("h1")) == f"評価書の比較（{name}）"
        mine = sub.select("table.overview tbody tr")
        assert mine and all(text(r.find("th")).startswith(name) for r in mine)
        listed += [text(r) for r in mine if "倉敷市" not in text(r)]
    # Together the rows of the bundled site's one table, and the CSV stays whole.
    whole = _page(built_site, "/compare/")
    assert sorted(listed) == sorted(text(r) for r in whole.select("table.overview tbody tr"))
    with open(large_site / "compare/overview.csv", encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 6
