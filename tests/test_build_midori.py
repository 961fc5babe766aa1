"""Build the bundled site and read the みどり市 pages as a resident would."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import REPO_ROOT, copy_site, soup, text

from piasite import pipeline, render
from piasite.forms import shipped_forms

OUT_PAGES = [
    "index.html", "midori/index.html", "midori/juki/index.html",
    "midori/juki/2025-12-12/index.html", "midori/juki/2023-08-18/index.html",
    "midori/juki/changes/index.html", "404.html", "sitemap.xml", "static/style.css",
]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    site = copy_site(tmp_path_factory.mktemp("build") / "site")
    out = site / "output"
    result = pipeline.build(site, out, now="2025-12-20")
    assert result.wrote, [str(d) for d in result.diagnostics]
    return out


@pytest.fixture(scope="module")
def current(out):
    return soup(out / "midori/juki/2025-12-12/index.html")


def test_every_page_of_the_foundation_exists(out):
    missing = [p for p in OUT_PAGES if not (out / p).is_file()]
    assert not missing


def test_page_title_names_municipality_affair_and_version(out):
    t = soup(out / "midori/juki/2025-12-12/index.html").title.string
    assert "群馬県みどり市" in t and "住民基本台帳に関する事務" in t and "令和7年12月12日公表版" in t
    cur = soup(out / "midori/juki/index.html").title.string
    assert "現行版" in cur and "令和7年12月12日公表版" in cur


def test_breadcrumbs_lead_home(current):
    crumbs = current.select("nav.breadcrumbs a")
    assert [a["href"] for a in crumbs] == ["/", "/midori/", "/midori/juki/"]


def test_every_form_field_appears_in_form_order(current):
    form = shipped_forms()["kiso-r7-05"]
    expected = [n.id for n in form.walk() if n.kind != "cover"]
    ids_in_page = [el["id"] for el in current.select("[id]")]
    positions = [ids_in_page.index(i) for i in expected]
    assert positions == sorted(positions)


def test_selection_shows_value_and_its_choices(current):
    field = current.find(id="II-1-1")
    assert field.dt.get_text(strip=True) == "評価対象の事務の対象人数は何人か"
    assert text(field.select_one(".value")) == "1万人以上10万人未満"
    choices = [text(li) for li in field.select(".choice-list li")]
    assert choices == ["1) 1,000人未満(任意実施)", "2) 1,000人以上1万人未満", "3) 1万人以上10万人未満",
                       "4) 10万人以上30万人未満", "5) 30万人以上"]
    assert [text(li) for li in field.select(".choice-list li.chosen")] == ["3) 1万人以上10万人未満"]


def test_numbered_selection_keeps_its_number(current):
    assert text(current.find(id="IV-11-1").select_one(".value")) == "8) 特定個人情報の漏えい・滅失・毀損リスクへの対策"


def test_checkboxes_read_as_text(current):
    audit = current.find(id="IV-9-1")
    boxes = [(b["aria-label"], b.next_sibling.strip()) for b in audit.select(".box")]
    assert boxes == [("チェックあり", "自己点検"), ("チェックなし", "内部監査"), ("チェックなし", "外部監査")]
    outsourcing = current.find(id="IV-4-none")
    assert outsourcing.select_one(".box")["aria-label"] == "チェックなし"
    assert "委託しない" in text(outsourcing)


def test_dates_as_written_with_machine_readable_time(current):
    published = current.find(id="cover-published").find("time")
    assert (published["datetime"], published.string) == ("2025-12-12", "令和7年12月12日")
    as_of = current.find(id="II-1-2").dd
    assert as_of.time["datetime"] == "2025-11-01" and text(as_of) == "令和7年11月1日 時点"


def test_blank_fields_say_so(current):
    assert "空欄" in text(current.find(id="cover-notes"))
    assert "空欄" in text(current.find(id="I-9-1"))


def test_document_wording_kept_over_form_label(current):
    # 004 l.89 prints 「事務に必要な情報」 where the form says 「必要のない」: keep the document's.
    assert "事務に必要な情報との紐付け" in current.find(id="IV-3-1").dt.get_text()


def test_system_list_and_note(current):
    items = [text(li) for li in current.select("#I-1-3 ol li")]
    assert items[0] == "1. 既存住民基本台帳システム" and items[-1] == "8. 番号連携システム"
    assert "市町村CS部分について記載する" in text(current.find(id="I-1-3"))


def test_all_26_change_rows_in_a_table(current):
    table = current.select_one("table.changes")
    assert table.caption and "26" in table.caption.get_text()
    rows = table.tbody.find_all("tr", recursive=False)
    assert len(rows) == 26
    first = [text(c) for c in rows[0].find_all(["th", "td"])]
    assert first[0] == "平成27年8月25日" and first[4] == "事後"
    last = [text(c) for c in rows[-1].find_all(["th", "td"])]
    assert last[0] == "令和7年12月12日" and last[4] == "事前" and last[5] == "標準化システム移行に伴う変更"
    # the repaired row (source l.123/124) reads with its 項目 in the 項目 column
    row8 = [text(c) for c in rows[7].find_all(["th", "td"])]
    assert row8[1] == "3.個人番号の利用 法令上の根拠 2.住民基本台帳法(住基法)"


def test_change_rows_link_to_their_item(current):
    link = current.select_one("#change-21 a")
    assert link["href"] == "#II-1-2" and current.find(id="II-1-2") is not None


def test_changes_page_groups_by_date(out):
    page = soup(out / "midori/juki/changes/index.html")
    groups = [h.get_text(strip=True) for h in page.select("main section h2")]
    assert groups[0] == "令和7年12月12日の変更" and len(groups) == 8
    assert len(page.select("table.changes tbody tr")) == 26
    assert page.select_one("#change-21 a")["href"] == "/midori/juki/2025-12-12/#II-1-2"


def test_reconstructed_version_says_what_it_is(out):
    page = soup(out / "midori/juki/2023-08-18/index.html")
    notice = text(page.select_one(".notice"))
    assert "変更箇所から復元した参考版であり、公表された原本ではありません" in notice
    assert text(page.find(id="II-1-2").dd) == "令和5年7月1日 時点"
    assert "この版にはない項目" in text(page.find(id="IV-8-2"))
    assert [text(li) for li in page.select("#I-1-3 ol li")][-1] == "7. サービス検索・電子申請機能"
    assert "不明" in text(page.find(id="cover-published"))


def test_current_version_lists_all_versions(current):
    versions = ["".join(li.get_text().split()) for li in current.select("nav.versions > ul")[0].find_all("li")]
    assert versions == ["令和7年12月12日公表版（現行版）", "令和5年8月18日時点の参考版（復元）"]


def _internal_links(out: Path):
    for page in sorted(out.rglob("*.html")):
        for a in soup(page).find_all("a", href=True):
            yield page, a["href"]


def test_every_internal_link_and_anchor_resolves(out):
    broken = []
    ids: dict[Path, set[str]] = {}
    for page, href in _internal_links(out):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue
        if parts.path:
            target = out / parts.path.lstrip("/")
            if parts.path.endswith("/"):
                target = target / "index.html"
        else:
            target = page
        if not target.is_file():
            broken.append((str(page.relative_to(out)), href))
            continue
        if parts.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = {el["id"] for el in soup(target).find_all(id=True)}
            if parts.fragment not in ids[target]:
                broken.append((str(page.relative_to(out)), href))
    assert not broken


def test_sitemap_lists_pages_with_absolute_urls(out):
    xml = (out / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>(.*?)</loc>", xml)
    assert "https://piasite.netlify.app/midori/juki/2025-12-12/" in locs
    assert all(loc.startswith("https://piasite.netlify.app/") for loc in locs)
    assert not any("404" in loc for loc in locs)


def test_a_site_past_the_sitemap_limit_gets_a_sitemap_index(tmp_path, monkeypatch, out):
    # The protocol allows 50,000 URLs a file; past that /sitemap.xml lists sitemaps of as
    # many, which together list every page (here with the limit lowered to 20).
    monkeypatch.setattr(render, "SITEMAP_MAX_URLS", 20)
    site = copy_site(tmp_path / "site")
    big = site / "output"
    assert pipeline.build(site, big, now="2025-12-20").wrote
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    index = ET.parse(big / "sitemap.xml").getroot()
    assert index.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
    parts = [loc.text for loc in index.findall("s:sitemap/s:loc", ns)]
    assert parts[0] == "https://piasite.netlify.app/sitemaps/1.xml"
    listed = []
    for url in parts:
        urlset = ET.parse(big / urlsplit(url).path.lstrip("/")).getroot()
        locs = [loc.text for loc in urlset.findall("s:url/s:loc", ns)]
        assert 0 < len(locs) <= 20
        listed += locs
    whole = ET.parse(out / "sitemap.xml").getroot()  # the same site, one sitemap
    assert listed == [loc.text for loc in whole.findall("s:url/s:loc", ns)]
    assert len(parts) == -(-len(listed) // 20)


def test_no_inline_script_or_style_and_no_external_urls(out):
    for page in out.rglob("*.html"):
        doc = soup(page)
        # only external same-origin scripts (the search page's); never inline code
        assert all(sc.get("src", "").startswith("/") and not sc.string for sc in doc.find_all("script")), page
        assert not doc.find("style"), page
        assert not doc.find(attrs={"style": True}), page
        for el in doc.find_all(["link", "img", "script", "iframe"]):
            if el.name == "link" and el.get("rel") == ["canonical"]:
                continue  # names the page's permanent address; nothing is fetched
            src = el.get("href") or el.get("src") or ""
            assert not src.startswith(("http:", "https:", "//")), (page, src)


def test_fidelity_against_the_source(out):
    tool = REPO_ROOT.parent / "shared" / "tools" / "fidelity.py"
    seed = REPO_ROOT.parent / "shared" / "seeds" / "004_0b4c1ba930e692eb.txt"
    if not tool.is_file():
        pytest.skip("shared/tools/fidelity.py is not beside the checkout")
    proc = subprocess.run(
        [sys.executable, str(tool), "--seed", str(seed), "--html", str(out / "midori/juki"),
         "--source", str(REPO_ROOT / "content/midori/juki")],
        capture_output=True, text=True, check=True)
    m = re.search(r"recall ([\d.]+)%, precision ([\d.]+)%", proc.stdout)
    assert m, proc.stdout
    assert float(m.group(1)) >= 98.0 and float(m.group(2)) >= 99.0, proc.stdout
